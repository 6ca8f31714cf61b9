"""`merge`: one report from the parts each worker of a distributed run wrote."""

from __future__ import annotations

from typing import Any

import click

from simulator import DEFAULT_PARTS, MergeResult, merge
from simulator.cli import ExitStatus, cli
from simulator.cli.summary import _counts, _latency, _rate, _reasons

_EXIT = {
    "ok": ExitStatus.OK,
    "undelivered": ExitStatus.FAILED,
    "unrecorded": ExitStatus.FAILED,
    "threshold": ExitStatus.THRESHOLD,
}


@cli.command(name="merge")
@click.argument("paths", metavar="[PATH]...", nargs=-1)
@click.option("--run", metavar="ID", help="The run to merge, when PATHs hold several.")
@click.option("--report", metavar="FILE", help="Write the JSON report (schema report/v1).")
@click.option("--junit", metavar="FILE", help="Write a JUnit XML report.")
@click.option("--log", metavar="FILE", help="Join the workers' attempt logs into this file.")
@click.option(
    "--dead-letter",
    metavar="FILE",
    help="Join the workers' dead letters into this file (written anew), for `replay`.",
)
@click.option(
    "--threshold",
    "thresholds",
    metavar="THRESHOLD",
    multiple=True,
    help="Fail (exit 99) unless it holds: p99<250ms, success>=99.9%, rate>=950/s.",
)
@click.option("-q", "--quiet", is_flag=True, help="No summary.")
def merge_command(paths: tuple[str, ...], quiet: bool, **params: Any) -> int:
    """Merge the parts of a distributed run (Locust workers) into one report.

    Each PATH is a folder (default: webhook-sim-parts, where WebhookUser writes) or a
    part file <run>.w<N>.json. Counters add up and latency histograms merge exactly, as
    for send --workers. Gather every machine's folder first: a worker that was there
    when the run started but left no part makes the run unaccounted for (exit 1).
    Exit: 0 all delivered, 1 some not (or a part or a record missing), 2 usage error,
    99 threshold failed.

    Example:

    \b
        webhook-sim merge webhook-sim-parts --report run.json --junit run.xml
    """
    result = merge(paths or (DEFAULT_PARTS,), **params)
    if not quiet:
        click.echo("\n".join(merge_lines(result)))
    return _EXIT[result.outcome]


def merge_lines(result: MergeResult) -> list[str]:
    """The merged run in a few lines, as send's summary says a run."""
    s = result.summary
    counts = s["counts"]
    workers = ", ".join(str(p.worker) for p in result.parts)
    lines = [
        f"Merged run {result.run}  parts from workers {workers}  seed {result.parts[0].seed}",
        f"  rate       achieved {_rate(s['send_rate'], '-')}  in {s['duration_s']:.2f}s",
        f"  events     {counts['events']:,} generated  {counts['delivered']:,} delivered  "
        f"{counts['events'] - counts['delivered']:,} not delivered",
        f"  attempts   {counts['attempts']:,} ({counts['retries']:,} retries)  "
        f"status {_counts(s['status_codes'])}",
        f"  errors     {_counts(s['error_kinds'])}",
        *_reasons(s["error_details"]),
        "  latency    " + _latency("service", s["latency_ms"]["service"]),
    ]
    if result.dead_lettered:
        where = f"joined into {result.dead_letter}" if result.dead_letter else "in the folders"
        lines.append(f"  dead letter {result.dead_lettered:,} events {where}")
    lines.extend(f"  records    FAILED: {problem}" for problem in result.problems)
    for check in result.thresholds:
        shown = "no data" if check.actual is None else f"{check.actual:.6g}{check.unit}"
        lines.append(f"  threshold  {check.threshold}  {'ok' if check.ok else 'FAILED'} ({shown})")
    verdict = {
        "ok": "OK",
        "unrecorded": "FAILED: the run is not fully accounted for (see above)",
        "threshold": "FAILED: thresholds not met",
        "undelivered": f"FAILED: {counts['events'] - counts['delivered']:,} events not delivered",
    }
    lines.append("  result     " + verdict[result.outcome])
    return lines

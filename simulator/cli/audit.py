"""`audit`: send the conformance cases to a receiver and print what passed; parsing and
printing only."""

from __future__ import annotations

from typing import Any

import click

from simulator import SCHEMES, AuditResult, audit, audit_cases
from simulator.cli import ExitStatus, cli
from simulator.cli.params import apply, choices, generation_options, pop_generation


def audit_options(func: Any) -> Any:
    return apply(
        [
            click.option("--url", metavar="URL", help="The receiver to audit (required)."),
            click.option(
                "--sign",
                metavar=choices(SCHEMES),
                help="Signature scheme. Default: the event's own (voucherify).",
            ),
            click.option("--secret", help="The receiver's secret (default: $WEBHOOK_SECRET)."),
            click.option(
                "--secret-env", metavar="NAME", help="Read the secret from this variable."
            ),
            click.option(
                "-H",
                "--header",
                "headers",
                metavar="'NAME: VALUE'",
                multiple=True,
                help="Extra header on every request, e.g. 'Authorization: Bearer …'.",
            ),
            click.option(
                "--timeout",
                metavar="DURATION",
                default="10s",
                show_default=True,
                help="How long an answer may take (Voucherify: 10s).",
            ),
            click.option(
                "--only",
                metavar="CASE[,CASE]",
                multiple=True,
                help="Run these cases only (see --list).",
            ),
            click.option("--skip", metavar="CASE[,CASE]", multiple=True, help="Leave these out."),
            click.option("--list", "listing", is_flag=True, help="Print the cases and exit."),
            click.option("--report", metavar="FILE", help="Write a JSON report."),
            click.option("--junit", metavar="FILE", help="Write JUnit XML, one test per case."),
            click.option(
                "--html", metavar="FILE", help="Write a self-contained HTML page of the cases."
            ),
            click.option("--insecure", is_flag=True, help="Do not verify TLS certificates."),
            click.option("--ca-bundle", metavar="FILE", help="Also trust the CAs in this file."),
        ],
        func,
    )


@cli.command(name="audit")
@click.argument("event_names", metavar="[EVENT]...", nargs=-1)
@audit_options
@generation_options
def audit_command(event_names: tuple[str, ...], listing: bool, **params: Any) -> int:
    """Check a webhook receiver: send it forged, tampered, replayed, duplicated,
    out-of-order, unknown and large deliveries, one case at a time, and grade each by
    its answer.

    Every case is built fresh from the generator (--seed repeats it). A hang, a reset
    connection or a 5xx fails the case it answers. Exit: 0 no case failed, 1 some did
    (or a report could not be written), 2 usage error, 130 interrupted.

    Example:

    \b
        webhook-sim audit --url http://127.0.0.1:8000/hooks --secret "$SECRET"
        webhook-sim audit --url "$URL" --sign standard --secret "$WHSEC" --junit audit.xml
    """
    if listing:
        _list()
        return ExitStatus.OK
    if not params["url"]:
        raise click.UsageError("Missing option '--url'.")
    url = params.pop("url")
    result = audit(url, events=event_names, signals=True, **pop_generation(params), **params)
    click.echo("\n".join(table(result)))
    if result.interrupted:
        return ExitStatus.INTERRUPTED
    return ExitStatus.OK if result.ok and not result.record_errors else ExitStatus.FAILED


def _list() -> None:
    cases = audit_cases()
    width = max(len(case.name) for case in cases)
    sent = max(len(case.sent) for case in cases)
    for case in cases:
        expected = case.expected.format(limit="the timeout")
        click.echo(f"{case.name:<{width}}  {case.sent:<{sent}}  pass: {expected}")


_HEAD = ("case", "sent", "expected", "got", "result")


def table(result: AuditResult) -> list[str]:
    """The audit as a table: a row per case, its reason under every FAIL and SKIP."""
    rows = [(c.name, c.sent, c.expected, c.got, c.result.upper()) for c in result.cases]
    widths = [max(len(row[i]) for row in [_HEAD, *rows]) for i in range(len(_HEAD) - 1)]

    def line(row: tuple[str, ...]) -> str:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        return "  ".join([*cells, row[-1]])

    counts = result.counts()
    lines = [
        f"Audit of {result.url}  scheme {result.scheme}  seed {result.seed}",
        "",
        line(_HEAD),
    ]
    for case, row in zip(result.cases, rows, strict=True):
        lines.append(line(row))
        if case.reason:
            lines.append(" " * (widths[0] + 2) + case.reason)
    lines.append("")
    lines.extend(f"records FAILED: {error}" for error in result.record_errors)
    verdict = "OK" if result.ok else "FAILED"
    if result.interrupted:
        verdict = "INTERRUPTED"
    lines.append(
        f"{len(result.cases)} cases: {counts['pass']} passed, {counts['fail']} failed, "
        f"{counts['skip']} skipped  {verdict}"
    )
    return lines

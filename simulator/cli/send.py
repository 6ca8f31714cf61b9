"""`send` and `replay`: deliver webhooks at a rate, then report; nothing here but parsing."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any

import click

from simulator import ARRIVALS, RETRY_SCHEDULES, SCHEMES, Progress, send
from simulator.cli import ExitStatus, cli
from simulator.cli.params import (
    apply,
    choices,
    generation_options,
    lifecycle_option,
    pop_generation,
)
from simulator.cli.summary import progress_line, summary_lines

DEFAULT_DEAD_LETTER = "dead-letter.ndjson"
_EXIT = {
    "ok": ExitStatus.OK,
    "undelivered": ExitStatus.FAILED,
    "forged": ExitStatus.FAILED,
    "unrecorded": ExitStatus.FAILED,
    "threshold": ExitStatus.THRESHOLD,
    "interrupted": ExitStatus.INTERRUPTED,
}
# Options of the command line alone: how it prints, not what the run does.
_DISPLAY = ("quiet", "summary")


def delivery_options(func: Callable) -> Callable:
    """The options `send` and `replay` share: target, pace, signing, failures, records."""
    options = [
        click.option(
            "--url",
            metavar="URL",
            help="Where to POST. Default: a built-in receiver on 127.0.0.1 that verifies "
            "every delivery (signature, duplicates, schema) and fails the run otherwise.",
        ),
        click.option("-n", "--count", metavar="INTEGER", help="How many events."),
        click.option("--duration", metavar="DURATION", help="Send for this long, e.g. 30s, 1m30s."),
        click.option(
            "--rate",
            metavar="RATE",
            help="Events per second (50/s, 3000/m, 10/h) or 'max': as fast as --concurrency "
            "allows. Default: max.",
        ),
        click.option(
            "--ramp", metavar="RAMP", help="Rate moving linearly across --duration: 10/s..500/s."
        ),
        click.option(
            "--stages", metavar="STAGES", help="k6-style stages: 30s:100/s,1m:500/s,30s:0/s."
        ),
        click.option(
            "--arrivals",
            metavar=choices(ARRIVALS),
            default="uniform",
            show_default=True,
            help="Evenly spaced sends, or a Poisson process at the same mean rate.",
        ),
        click.option(
            "--concurrency",
            metavar="INTEGER",
            default="64",
            show_default=True,
            help="Senders at --rate max (closed model).",
        ),
        click.option(
            "--max-in-flight",
            metavar="INTEGER",
            default="512",
            show_default=True,
            help="Requests open at once at a fixed rate; sends beyond wait and count as late.",
        ),
        click.option(
            "--workers",
            metavar="N|auto",
            default="1",
            show_default=True,
            help="Processes sharing the run (auto: one per CPU).",
        ),
        click.option(
            "--sign",
            metavar=choices(SCHEMES),
            help="Signature scheme. Default: the event's own (voucherify).",
        ),
        click.option("--secret", help="Signing secret (default: $WEBHOOK_SECRET)."),
        click.option("--secret-env", metavar="NAME", help="Read the secret from this variable."),
        click.option(
            "-H",
            "--header",
            "headers",
            metavar="'NAME: VALUE'",
            multiple=True,
            help="Extra header 'Name: value' (repeatable). 'Host: name' sets the virtual "
            "host; 'Connection: close' opens a new connection for every request.",
        ),
        click.option(
            "--timeout",
            metavar="DURATION",
            default="10s",
            show_default=True,
            help="An attempt fails without a response within this (Voucherify: 10s).",
        ),
        click.option(
            "--expect-status",
            metavar="STATUSES",
            help="Statuses that mean delivered: 2xx (default), 200,202, 200-204.",
        ),
        click.option(
            "--retries",
            metavar="INTEGER",
            help="Tries after a failed one (default 0; 12 with --retry-schedule voucherify).",
        ),
        click.option(
            "--retry-schedule",
            metavar=choices(RETRY_SCHEDULES),
            default="exponential",
            show_default=True,
            help="exponential: 1s base, 60s cap, full jitter; voucherify: 1, 2, 4 … 1024 min "
            "then 24 h after the first try; none: at once. A Retry-After replaces the wait.",
        ),
        click.option(
            "--retry-time-scale",
            metavar="FLOAT",
            default="1",
            show_default=True,
            help="Multiply every retry wait (e.g. 0.001 runs a day of retries in 90 s).",
        ),
        click.option(
            "--max-retry-after",
            metavar="DURATION",
            default="60s",
            show_default=True,
            help="Longest wait a 429/503's Retry-After can set (after --retry-time-scale); "
            "longer ones are cut to this and counted in the summary.",
        ),
        click.option("--insecure", is_flag=True, help="Do not verify TLS certificates."),
        click.option(
            "--ca-bundle",
            metavar="FILE",
            help="Also trust the CAs in this PEM file.",
        ),
        click.option(
            "--log",
            metavar="FILE",
            help="One NDJSON line per attempt, written every 100 ms and at the end.",
        ),
        click.option("--log-bodies", is_flag=True, help="Put bodies in --log (replayable)."),
        click.option(
            "--dead-letter",
            metavar="FILE",
            default=DEFAULT_DEAD_LETTER,
            show_default=True,
            help="Undelivered events are appended here (created only when needed); "
            "replaying this very file rewrites it instead.",
        ),
        click.option(
            "--grace",
            metavar="DURATION",
            default="5s",
            show_default=True,
            help="On Ctrl-C, wait this long for requests in flight.",
        ),
        click.option("--report", metavar="FILE", help="Write a JSON report."),
        click.option("--junit", metavar="FILE", help="Write a JUnit XML report."),
        click.option(
            "--html",
            metavar="FILE",
            help="Write a self-contained HTML report: figures, thresholds, rates, latency "
            "and statuses over time, percentiles (opens from disk, no network).",
        ),
        click.option(
            "--threshold",
            "thresholds",
            metavar="THRESHOLD",
            multiple=True,
            help="Fail (exit 99) unless it holds: p99<250ms, success>=99.9%, rate>=950/s.",
        ),
        click.option("-q", "--quiet", is_flag=True, help="No live progress line."),
        click.option("--summary/--no-summary", default=True, help="Print the summary at the end."),
    ]
    return apply(options, func)


def fault_options(func: Callable) -> Callable:
    """Faults mixed into a run: extra requests a receiver must take or refuse, and order."""
    share = "RATE"
    options = [
        click.option(
            "--duplicates",
            metavar=share,
            default="0%",
            help="Deliver this share of events twice (e.g. 2%): the same bytes and headers.",
        ),
        click.option(
            "--reorder",
            metavar="WINDOW",
            default="0",
            help="Shuffle events within consecutive windows of this many (with --lifecycle, "
            "a paid may come before its created).",
        ),
        click.option(
            "--tamper",
            metavar=share,
            default="0%",
            help="Before this share of events, the body changed after signing (must be refused).",
        ),
        click.option(
            "--wrong-secret",
            metavar=share,
            default="0%",
            help="Before this share of events, the event signed with another secret.",
        ),
        click.option(
            "--stale",
            metavar=share,
            default="0%",
            help="Before this share of events, the event stamped 10 minutes ago (standard, "
            "stripe).",
        ),
    ]
    return apply(options, func)


@cli.command(name="send")
@click.argument("event_names", metavar="[EVENT]...", nargs=-1)
@delivery_options
@generation_options
@lifecycle_option
@fault_options
def send_command(event_names: tuple[str, ...], **params: Any) -> int:
    """Send freshly generated, signed webhooks at a controlled rate.

    EVENT is a name or a glob ('customer.loyalty.*'); several mix at random.

    Sends start on schedule whatever earlier responses do (open model); latency is
    measured from the planned time. Undelivered events go to the dead-letter file.
    Exit: 0 all delivered, 1 some not (or --log/--dead-letter could not be written: that
    wins over all), 2 usage error, 99 threshold failed, 130 interrupted. Otherwise 130
    wins over 99, and 99 over 1. Faults (--duplicates, --reorder, --tamper,
    --wrong-secret, --stale) mix extra requests into the run, counted apart; a forged one
    that the receiver accepts exits 1 too.

    Example:

    \b
        webhook-sim send --count 20 --rate 10/s
        webhook-sim send customer.order.paid --url https://example.test/hooks \\
            --secret "$SECRET" --duration 1m --rate 50/s --threshold 'p99<250ms'
    """
    generation = pop_generation(params)
    return _deliver(params, events=event_names, **generation)


@cli.command()
@click.argument("file")
@delivery_options
@click.option(
    "--keep-signature",
    is_flag=True,
    help="Resend the recorded signature headers instead of signing again.",
)
@click.option("--skip-bad", is_flag=True, help="Skip lines that hold no body (and count them).")
def replay(file: str, keep_signature: bool, skip_bad: bool, **params: Any) -> int:
    """Send events again, byte for byte, from a file.

    FILE is a dead-letter file, `generate` NDJSON output, a `send --log-bodies` log or a
    receiver `--record` file. Bodies are signed again with the current scheme and secret
    unless --keep-signature. Exit codes as for send: 130 over 99 over 1.

    When FILE is also the --dead-letter file (as for dead-letter.ndjson by default), it
    is read whole first and, once the run is over, replaced at once by the events still
    undelivered, so it never holds an event twice (it is left as it was if the run
    fails). Such a replay must send every event in FILE (no --count or --duration cutting
    it short), and FILE must have no bad lines.

    Example:

    \b
        webhook-sim replay dead-letter.ndjson --url http://127.0.0.1:8080/hooks --rate 5/s
    """
    return _deliver(params, replay=file, keep_signature=keep_signature, skip_bad=skip_bad)


def _deliver(params: dict[str, Any], **source: Any) -> int:
    quiet, show_summary = (params.pop(name) for name in _DISPLAY)
    live = sys.stderr.isatty() and not quiet
    printer = _ProgressPrinter() if live else None
    inspector = _say_inspector if live else None  # a page to open, for whoever watches
    try:
        result = send(on_progress=printer, on_inspector=inspector, **params, **source)
    finally:
        if printer is not None:
            printer.clear()
    if show_summary:
        click.echo("\n".join(summary_lines(result)))
    return _EXIT[result.outcome]


def _say_inspector(url: str) -> None:
    click.echo(
        f"Inspector: {url} (the built-in receiver's live page, while the run lasts)", err=True
    )


class _ProgressPrinter:
    """Redraws one status line on stderr about four times a second."""

    def __init__(self) -> None:
        self._last = 0.0
        self._width = 0

    def __call__(self, progress: Progress) -> None:
        now = time.monotonic()
        if now - self._last < 0.2:  # workers report separately; redraw ~4 times a second
            return
        self._last = now
        line = progress_line(progress)
        pad = " " * max(self._width - len(line), 0)
        self._width = len(line)
        click.echo(f"\r{line}{pad}", nl=False, err=True)

    def clear(self) -> None:
        if self._width:
            click.echo("\r" + " " * self._width + "\r", nl=False, err=True)

"""`send` and `replay`: deliver webhooks at a rate, then report; nothing here but parsing."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
import orjson

from simulator.cli import ExitStatus, cli
from simulator.cli.params import (
    DURATION,
    HEADER,
    RAMP,
    RATE,
    STAGES,
    STATUSES,
    THRESHOLD,
    URL,
    WORKERS,
    factory_options,
    generation_options,
)
from simulator.cli.summary import progress_line, summary_lines
from simulator.errors import RecordError
from simulator.generation.catalog import expand
from simulator.reports.records import check_distinct, check_writable
from simulator.sending.api import SendResult, send
from simulator.sending.config import DEFAULT_DEAD_LETTER, RETRY_SCHEDULES, RetryPolicy, SendConfig
from simulator.sending.engine import Progress
from simulator.sending.schedule import ARRIVALS
from simulator.signing import SCHEMES

DEFAULT_EVENT = "customer.order.created"
VOUCHERIFY_RETRIES = 12
_EXIT = {
    "ok": ExitStatus.OK,
    "undelivered": ExitStatus.FAILED,
    "unrecorded": ExitStatus.FAILED,
    "threshold": ExitStatus.THRESHOLD,
    "interrupted": ExitStatus.INTERRUPTED,
}


def delivery_options(func: Callable) -> Callable:
    """The options `send` and `replay` share: target, pace, signing, failures, records."""
    options = [
        click.option(
            "--url",
            type=URL,
            help="Where to POST. Default: a built-in receiver on 127.0.0.1 that verifies "
            "every delivery (signature, duplicates, schema) and fails the run otherwise.",
        ),
        click.option("-n", "--count", type=click.IntRange(min=1), help="How many events."),
        click.option("--duration", type=DURATION, help="Send for this long, e.g. 30s, 1m30s."),
        click.option(
            "--rate",
            type=RATE,
            help="Events per second (50/s, 3000/m, 10/h) or 'max': as fast as --concurrency "
            "allows. Default: max.",
        ),
        click.option(
            "--ramp", type=RAMP, help="Rate moving linearly across --duration: 10/s..500/s."
        ),
        click.option("--stages", type=STAGES, help="k6-style stages: 30s:100/s,1m:500/s,30s:0/s."),
        click.option(
            "--arrivals",
            type=click.Choice(ARRIVALS),
            default="uniform",
            show_default=True,
            help="Evenly spaced sends, or a Poisson process at the same mean rate.",
        ),
        click.option(
            "--concurrency",
            type=click.IntRange(min=1),
            default=64,
            show_default=True,
            help="Senders at --rate max (closed model).",
        ),
        click.option(
            "--max-in-flight",
            type=click.IntRange(min=1),
            default=512,
            show_default=True,
            help="Requests open at once at a fixed rate; sends beyond wait and count as late.",
        ),
        click.option(
            "--workers",
            type=WORKERS,
            default="1",
            show_default=True,
            help="Processes sharing the run (auto: one per CPU).",
        ),
        click.option(
            "--sign",
            type=click.Choice(SCHEMES),
            help="Signature scheme. Default: the event's own (voucherify).",
        ),
        click.option("--secret", help="Signing secret (default: $WEBHOOK_SECRET)."),
        click.option("--secret-env", metavar="NAME", help="Read the secret from this variable."),
        click.option(
            "-H",
            "--header",
            "headers",
            type=HEADER,
            multiple=True,
            help="Extra header 'Name: value' (repeatable). 'Host: name' sets the virtual "
            "host; 'Connection: close' opens a new connection for every request.",
        ),
        click.option(
            "--timeout",
            type=DURATION,
            default="10s",
            show_default=True,
            help="An attempt fails without a response within this (Voucherify: 10s).",
        ),
        click.option(
            "--expect-status",
            type=STATUSES,
            help="Statuses that mean delivered: 2xx (default), 200,202, 200-204.",
        ),
        click.option(
            "--retries",
            type=click.IntRange(min=0),
            help="Tries after a failed one (default 0; 12 with --retry-schedule voucherify).",
        ),
        click.option(
            "--retry-schedule",
            type=click.Choice(RETRY_SCHEDULES),
            default="exponential",
            show_default=True,
            help="exponential: 1s base, 60s cap, full jitter; voucherify: 1, 2, 4 … 1024 min "
            "then 24 h after the first try; none: at once. A Retry-After replaces the wait.",
        ),
        click.option(
            "--retry-time-scale",
            type=click.FloatRange(min=0),
            default=1.0,
            show_default=True,
            help="Multiply every retry wait (e.g. 0.001 runs a day of retries in 90 s).",
        ),
        click.option(
            "--max-retry-after",
            type=DURATION,
            default="60s",
            show_default=True,
            help="Longest wait a 429/503's Retry-After can set (after --retry-time-scale); "
            "longer ones are cut to this and counted in the summary.",
        ),
        click.option("--insecure", is_flag=True, help="Do not verify TLS certificates."),
        click.option(
            "--ca-bundle",
            type=click.Path(exists=True, dir_okay=False),
            help="Also trust the CAs in this PEM file.",
        ),
        click.option(
            "--log",
            type=click.Path(dir_okay=False),
            help="One NDJSON line per attempt, written every 100 ms and at the end.",
        ),
        click.option("--log-bodies", is_flag=True, help="Put bodies in --log (replayable)."),
        click.option(
            "--dead-letter",
            type=click.Path(dir_okay=False),
            default=DEFAULT_DEAD_LETTER,
            show_default=True,
            help="Undelivered events are appended here (created only when needed); "
            "replaying this very file rewrites it instead.",
        ),
        click.option(
            "--grace",
            type=DURATION,
            default="5s",
            show_default=True,
            help="On Ctrl-C, wait this long for requests in flight.",
        ),
        click.option("--report", type=click.Path(dir_okay=False), help="Write a JSON report."),
        click.option("--junit", type=click.Path(dir_okay=False), help="Write a JUnit XML report."),
        click.option(
            "--threshold",
            "thresholds",
            type=THRESHOLD,
            multiple=True,
            help="Fail (exit 99) unless it holds: p99<250ms, success>=99.9%, rate>=950/s.",
        ),
        click.option("-q", "--quiet", is_flag=True, help="No live progress line."),
        click.option("--summary/--no-summary", default=True, help="Print the summary at the end."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


@cli.command(name="send")
@click.argument("event_names", metavar="[EVENT]...", nargs=-1)
@delivery_options
@generation_options
def send_command(event_names: tuple[str, ...], **params: Any) -> int:
    """Send freshly generated, signed webhooks at a controlled rate.

    EVENT is a name or a glob ('customer.loyalty.*'); several mix at random.

    Sends start on schedule whatever earlier responses do (open model); latency is
    measured from the planned time. Undelivered events go to the dead-letter file.
    Exit: 0 all delivered, 1 some not (or --log/--dead-letter could not be written: that
    wins over all), 2 usage error, 99 threshold failed, 130 interrupted. Otherwise 130
    wins over 99, and 99 over 1.

    Example:

    \b
        webhook-sim send --count 20 --rate 10/s
        webhook-sim send customer.order.paid --url https://example.test/hooks \\
            --secret "$SECRET" --duration 1m --rate 50/s --threshold 'p99<250ms'
    """
    factory = factory_options(params)
    # Globs become names here: the run, its report and its receiver see event names.
    names = expand(event_names or (DEFAULT_EVENT,), factory["templates"])
    config = _config(params, events=names, factory=factory)
    return _deliver(config, params)


@cli.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
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
    if keep_signature and params["sign"] is not None:
        raise click.BadParameter("cannot be combined with --sign", param_hint="'--keep-signature'")
    config = _config(params, replay=file, keep_signature=keep_signature, skip_bad=skip_bad)
    return _deliver(config, params)


def _given(name: str) -> bool:
    source = click.get_current_context().get_parameter_source(name)
    return source is not None and source.name not in ("DEFAULT", "DEFAULT_MAP")


def _check(params: dict[str, Any]) -> None:
    """Rules between options, each reported against the option that breaks it."""

    def bad(option: str, message: str) -> click.BadParameter:
        return click.BadParameter(message, param_hint=f"'{option}'")

    if params["ramp"] is not None:
        if _given("rate"):
            raise bad("--ramp", "cannot be combined with --rate")
        if params["duration"] is None:
            raise bad("--ramp", "needs --duration, e.g. --ramp 10/s..500/s --duration 1m")
    if params["stages"] is not None:
        for other in ("rate", "count", "duration"):
            if _given(other):
                raise bad(
                    "--stages", f"cannot be combined with --{other}: the stages set the length"
                )
    closed = params["rate"] is None and params["ramp"] is None and params["stages"] is None
    if params["arrivals"] == "poisson" and closed:
        raise bad("--arrivals", "poisson needs a rate, e.g. --rate 50/s")
    if params["secret"] is not None and params["secret_env"] is not None:
        raise bad("--secret-env", "cannot be combined with --secret")
    if params["insecure"] and params["ca_bundle"]:
        raise bad("--insecure", "cannot be combined with --ca-bundle")
    if params["log_bodies"] and not params["log"]:
        raise bad("--log-bodies", "needs --log FILE")


def _config(params: dict[str, Any], **source: Any) -> SendConfig:
    _check(params)
    retries = params["retries"]
    if retries is None:
        retries = VOUCHERIFY_RETRIES if params["retry_schedule"] == "voucherify" else 0
    return SendConfig(
        url=params["url"],
        count=params["count"],
        duration=params["duration"],
        rate=params["rate"],
        ramp=params["ramp"],
        stages=params["stages"],
        arrivals=params["arrivals"],
        concurrency=params["concurrency"],
        max_in_flight=params["max_in_flight"],
        workers=params["workers"],
        scheme=params["sign"],
        secret=params["secret"],
        headers=tuple(params["headers"]),
        timeout=params["timeout"],
        expect_status=params["expect_status"],
        retry=RetryPolicy(
            retries=retries,
            schedule=params["retry_schedule"],
            time_scale=params["retry_time_scale"],
            max_retry_after_s=params["max_retry_after"],
        ),
        insecure=params["insecure"],
        ca_bundle=params["ca_bundle"],
        log=params["log"],
        log_bodies=params["log_bodies"],
        dead_letter=params["dead_letter"],
        grace=params["grace"],
        **source,
    )


def _deliver(config: SendConfig, params: dict[str, Any]) -> int:
    outputs = {"--log": params["log"], "--report": params["report"], "--junit": params["junit"]}
    check_distinct({"--dead-letter": params["dead_letter"], **outputs})
    # A replay may read its own dead-letter file (it is rewritten), but no other output.
    check_distinct({"the replayed file": config.replay, **outputs})
    for path in (params["report"], params["junit"]):
        if path:
            check_writable(path)  # send() checks --log and --dead-letter
    live = sys.stderr.isatty() and not params["quiet"]
    printer = _ProgressPrinter() if live else None
    try:
        result = send(
            config,
            thresholds=params["thresholds"],
            on_progress=printer,
            secret_env=params["secret_env"],
        )
    finally:
        if printer is not None:
            printer.clear()
    if params["summary"]:
        click.echo("\n".join(summary_lines(result)))
    _write_reports(result, params)
    return _EXIT[result.outcome]


def _write_reports(result: SendResult, params: dict[str, Any]) -> None:
    outputs = []
    if params["report"]:
        document = orjson.dumps(result.report(), option=orjson.OPT_INDENT_2) + b"\n"
        outputs.append((params["report"], document))
    if params["junit"]:
        outputs.append((params["junit"], result.junit().encode("utf-8")))
    for path, data in outputs:
        try:
            Path(path).write_bytes(data)
        except OSError as exc:
            raise RecordError(f"cannot write '{path}': {exc.strerror}") from None


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

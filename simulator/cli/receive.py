"""`receive`: run the mock receiver until Ctrl-C, one line per request, then a summary."""

from __future__ import annotations

import os
import threading
import time
from typing import Any

import click

from simulator.cli import ExitStatus, cli
from simulator.cli.params import CoreParam
from simulator.errors import RecordError, UsageError
from simulator.receiving.checks import parse_delay, parse_size
from simulator.receiving.receiver import Behaviour, ReceivedRequest, Receiver, ReceiverStats
from simulator.runtime import run_async, stop_on_signals
from simulator.sending.schedule import parse_duration
from simulator.signing import SCHEMES

DURATION = CoreParam("duration", parse_duration)
SIZE = CoreParam("size", parse_size)
DELAY = CoreParam("delay", parse_delay)
# 1xx statuses are interim: a sender waits on for the final answer, so none ever comes.
_FINAL_STATUS = click.IntRange(200, 599)


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind.")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8000,
    show_default=True,
    help="Port to bind; 0 picks a free one.",
)
@click.option("--path", default="/", show_default=True, help="Path webhooks are POSTed to.")
@click.option(
    "--sign",
    "scheme",
    type=click.Choice(SCHEMES),
    default="voucherify",
    show_default=True,
    help="Signature scheme to verify ('none': do not check).",
)
@click.option("--secret", help="Signing secret (default: the variable named by --secret-env).")
@click.option(
    "--secret-env",
    metavar="NAME",
    default="WEBHOOK_SECRET",
    show_default=True,
    help="Environment variable holding the secret.",
)
@click.option(
    "--tolerance",
    type=DURATION,
    default="5m",
    show_default=True,
    help="How old a signed timestamp may be (standard, stripe).",
)
@click.option("--no-schema", is_flag=True, help="Do not validate bodies against the schema.")
@click.option(
    "--record",
    type=click.Path(dir_okay=False),
    help="Append every request (exact body, headers, verdicts) to this NDJSON file.",
)
@click.option(
    "--status",
    type=_FINAL_STATUS,
    default=200,
    show_default=True,
    help="Status of a normal answer.",
)
@click.option(
    "--strict",
    is_flag=True,
    help="Refuse bad requests as a production receiver would: 401 to a signature that is "
    "invalid, missing or stale, 400 to a body that is not JSON, 422 to schema errors "
    "(duplicates still get --status). Default: --status for all, verdicts in the header.",
)
@click.option(
    "--fail-rate",
    type=click.FloatRange(0, 1),
    default=0.0,
    help="Share of requests answered with --fail-status, e.g. 0.2.",
)
@click.option(
    "--fail-status",
    type=_FINAL_STATUS,
    default=503,
    show_default=True,
    help="Status of a failure.",
)
@click.option(
    "--retry-after",
    type=DURATION,
    help="Send Retry-After (whole seconds, rounded up) with each failure; needs --fail-rate "
    "and a --fail-status of 429 or 503.",
)
@click.option(
    "--delay", type=DELAY, help="Wait before answering: 50ms, or a range drawn per request."
)
@click.option(
    "--drop-rate",
    type=click.FloatRange(0, 1),
    default=0.0,
    help="Share of requests whose connection is closed without an answer.",
)
@click.option(
    "--max-body",
    type=SIZE,
    default="1MB",
    show_default=True,
    help="Larger bodies get 413 and are not read.",
)
@click.option(
    "--seed", type=click.IntRange(min=0), help="Seed the misbehaviour so runs repeat exactly."
)
@click.option("-q", "--quiet", is_flag=True, help="No line per request; only the summary.")
@click.pass_context
def receive(ctx: click.Context, quiet: bool, **params: Any) -> int:
    """Receive webhooks: verify signatures, spot duplicates, validate bodies, misbehave.

    Every request is answered with an X-Webhook-Sim-Verdict header and printed as one
    line (use --record for the full request and schema problems). By default every
    request gets --status whatever its verdicts; --strict refuses bad ones (401, 400,
    422). Ctrl-C stops it and prints what it saw; it exits 1 if the --record file could
    not be written (the receiver keeps answering, without recording).

    Example:

    \b
        webhook-sim receive --secret s3cr3t --fail-rate 0.2 --delay 10ms..200ms
        webhook-sim receive --secret s3cr3t --strict --record requests.ndjson
    """
    named = ctx.get_parameter_source("secret_env") is click.core.ParameterSource.COMMANDLINE
    if params["secret"] is not None and named:
        raise click.BadParameter("use either --secret or --secret-env, not both", ctx)
    secret = params["secret"] or os.environ.get(params["secret_env"]) or None
    if secret is None and named:
        # As `send` says it; without --secret-env, the signer names WEBHOOK_SECRET.
        raise UsageError(f"environment variable {params['secret_env']} is not set")
    _check_retry_after(params["retry_after"], params["fail_rate"], params["fail_status"])
    behaviour = Behaviour(
        status=params["status"],
        fail_rate=params["fail_rate"],
        fail_status=params["fail_status"],
        retry_after=params["retry_after"],
        delay=params["delay"] or (0.0, 0.0),
        drop_rate=params["drop_rate"],
        max_body=params["max_body"],
        seed=params["seed"],
        strict=params["strict"],
    )
    receiver = Receiver(
        host=params["host"],
        port=params["port"],
        path=params["path"],
        scheme=params["scheme"],
        secret=secret,
        tolerance=params["tolerance"],
        validate_schema=not params["no_schema"],
        behaviour=behaviour,
        record=params["record"],
        keep_requests=False,
        on_request=None if quiet else _Echo(),
        on_record_error=_report_record_error,
    )

    def ready() -> None:
        schema = "off" if params["no_schema"] else "on"
        strict = ", strict" if params["strict"] else ""
        click.echo(
            f"Listening on {receiver.url} (signature: {receiver.scheme}, schema: {schema}"
            f"{strict}); Ctrl-C to stop"
        )

    interrupted = threading.Event()

    def stop() -> None:
        interrupted.set()
        receiver.request_stop()

    # Up to the summary, SIGINT and SIGTERM only ask the receiver to stop: whenever one
    # arrives (starting, stopping, printing), it cannot become a KeyboardInterrupt.
    with stop_on_signals(stop):
        if not interrupted.is_set():
            run_async(receiver.serve(ready))
        click.echo(summary(receiver.stats))
    # Requested output was lost: the run did not do all it was asked to.
    return ExitStatus.FAILED if receiver.record_error is not None else ExitStatus.OK


def _check_retry_after(retry_after: float | None, fail_rate: float, fail_status: int) -> None:
    """Refuse a --retry-after that would never be sent (Behaviour would, in its field names)."""
    if retry_after is None:
        return
    if not fail_rate:
        raise UsageError("--retry-after needs --fail-rate: Retry-After is sent only on failures")
    if fail_status not in (429, 503):
        raise UsageError(
            f"--retry-after needs --fail-status 429 or 503, not {fail_status}: "
            "Retry-After is sent only with those"
        )


def request_line(request: ReceivedRequest) -> str:
    """One request as a terminal line: time, event, id, verdicts, status."""
    stamp = time.strftime("%H:%M:%S", time.localtime(request.time))
    millis = int(request.time % 1 * 1000)
    status = "dropped" if request.status is None else str(request.status)
    verdicts = request.verdict.replace(";", "")
    event_id = request.event_id or "-"
    if event_id.startswith("sha256:"):
        event_id = event_id[:19]  # a body hash: enough of it to tell bodies apart by eye
    return (
        f"{stamp}.{millis:03d}  {request.event_type or '-'}  {event_id}  "
        f"{verdicts}  status={status}"
    )


class _Echo:
    """Prints each request; stops printing, but keeps receiving, once stdout is closed."""

    def __init__(self) -> None:
        self.closed = False

    def __call__(self, request: ReceivedRequest) -> None:
        if self.closed:
            return
        try:
            click.echo(request_line(request))
        except BrokenPipeError:
            # `webhook-sim receive | head` closed the pipe; a sender must still get answers.
            self.closed = True


def _report_record_error(error: RecordError) -> None:
    click.echo(f"Error: {error}", err=True)


def summary(stats: ReceiverStats) -> str:
    """The closing count of what the receiver saw."""
    sig = stats.signatures
    return (
        f"Received {stats.received}: signatures {sig['valid']} valid, {sig['invalid']} invalid, "
        f"{sig['missing']} missing, {sig['stale']} stale, {sig['unsigned']} unsigned; "
        f"{stats.duplicates} duplicate{'' if stats.duplicates == 1 else 's'}; "
        f"{stats.schema_errors} with schema errors; {stats.not_json} not JSON; "
        f"{stats.dropped} dropped"
    )

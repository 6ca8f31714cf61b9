"""`receive`: run the mock receiver until Ctrl-C, one line per request, then a summary."""

from __future__ import annotations

import sys
import time
from typing import Any

import click

from simulator import SCHEMES, ReceivedRequest, Receiver, ReceiverStats
from simulator.cli import ExitStatus, cli
from simulator.cli.params import choices
from simulator.errors import RecordError


@cli.command()
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Interface to bind. Anything but loopback also shows the inspector page, and its "
    "Resend, to the network.",
)
@click.option(
    "--port",
    metavar="INTEGER",
    default="8000",
    show_default=True,
    help="Port to bind; 0 picks a free one.",
)
@click.option("--path", default="/", show_default=True, help="Path webhooks are POSTed to.")
@click.option(
    "--sign",
    metavar=choices(SCHEMES),
    default="voucherify",
    show_default=True,
    help="Signature scheme to verify ('none': do not check).",
)
@click.option("--secret", help="Signing secret (default: the variable named by --secret-env).")
@click.option(
    "--secret-env",
    metavar="NAME",
    help="Environment variable holding the secret (default: WEBHOOK_SECRET).",
)
@click.option(
    "--tolerance",
    metavar="DURATION",
    default="5m",
    show_default=True,
    help="How old a signed timestamp may be (standard, stripe).",
)
@click.option("--no-schema", is_flag=True, help="Do not validate bodies against the schema.")
@click.option(
    "--record",
    metavar="FILE",
    help="Append every request (exact body, headers, verdicts) to this NDJSON file.",
)
@click.option(
    "--status",
    metavar="STATUS",
    default="200",
    show_default=True,
    help="Status of a normal answer.",
)
@click.option(
    "--strict",
    is_flag=True,
    help="Refuse bad requests as a production receiver would: 401 to a signature that is "
    "invalid, missing or stale, 400 to a body that is not JSON, 422 to schema errors "
    "(duplicates and unknown fields still get --status). Default: --status for all, "
    "verdicts in the header.",
)
@click.option(
    "--fail-rate",
    metavar="FLOAT",
    default="0",
    help="Share of requests answered with --fail-status, e.g. 0.2.",
)
@click.option(
    "--fail-status",
    metavar="STATUS",
    default="503",
    show_default=True,
    help="Status of a failure.",
)
@click.option(
    "--retry-after",
    metavar="DURATION",
    help="Send Retry-After (whole seconds, rounded up) with each failure; needs --fail-rate "
    "and a --fail-status of 429 or 503.",
)
@click.option(
    "--delay",
    metavar="DURATION[..DURATION]",
    help="Wait before answering: 50ms, or a range drawn per request.",
)
@click.option(
    "--drop-rate",
    metavar="FLOAT",
    default="0",
    help="Share of requests whose connection is closed without an answer.",
)
@click.option(
    "--max-body",
    metavar="SIZE",
    default="1MB",
    show_default=True,
    help="Larger bodies get 413 and are not read.",
)
@click.option("--seed", metavar="INTEGER", help="Seed the misbehaviour so runs repeat exactly.")
@click.option(
    "--keep",
    metavar="INTEGER",
    default="1000",
    show_default=True,
    help="Requests the inspector page keeps in memory; it says when older ones are dropped "
    "(--record keeps them all).",
)
@click.option("-q", "--quiet", is_flag=True, help="No line per request; only the summary.")
def receive(quiet: bool, **params: Any) -> int:
    """Receive webhooks: verify signatures, spot duplicates, validate bodies, misbehave.

    Every request is answered with an X-Webhook-Sim-Verdict header and printed as one
    line (use --record for the full request and schema problems). The inspector page
    at GET / (and /_sim/…) shows them live, with their headers, bodies and verdicts.
    By default every request gets --status whatever its verdicts; --strict refuses bad
    ones (401, 400, 422). Ctrl-C stops it and prints what it saw; it exits 1 if the
    --record file could not be written (the receiver keeps answering, without recording).

    Example:

    \b
        webhook-sim receive --secret s3cr3t --fail-rate 0.2 --delay 10ms..200ms
        webhook-sim receive --secret s3cr3t --strict --record requests.ndjson
    """
    receiver = Receiver.from_options(
        **params,
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
        if sys.stderr.isatty():  # a page to open, for whoever watches
            click.echo(f"Inspector: {receiver.page_url} (live page of the requests)", err=True)
        if not receiver.loopback:
            click.echo(
                f"Warning: --host {receiver.host} shows the inspector page, every request's "
                "headers and body, and its Resend to the network",
                err=True,
            )

    receiver.run(ready, lambda: click.echo(summary(receiver.stats)))
    # Requested output was lost: the run did not do all it was asked to.
    return ExitStatus.FAILED if receiver.record_error is not None else ExitStatus.OK


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

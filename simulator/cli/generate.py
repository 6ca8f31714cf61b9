"""`events` and `generate`: list what can be made, and make payloads to a file or stdout."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any, BinaryIO

import click
import orjson

from simulator import Payload, discover, generate
from simulator.cli import cli, stdout_guard
from simulator.cli.params import generation_options, lifecycle_option, pop_generation
from simulator.errors import OverrideError, RecordError, TemplateError

FORMATS = ("ndjson", "json", "pretty")


@cli.command()
@click.option(
    "--templates",
    "template_dirs",
    multiple=True,
    metavar="DIRECTORY",
    help="Also list events of these folders.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(("text", "json")),
    default="text",
    show_default=True,
    help="Grouped lines for people, or a JSON array for tools.",
)
def events(template_dirs: tuple[str, ...], fmt: str) -> None:
    """List the events that can be generated, grouped by what they are about.

    Every EVENT argument of generate and send also takes a glob: 'voucher.*'.

    Example:

        webhook-sim events --format json
    """
    catalog = discover(template_dirs)
    if fmt == "json":
        click.echo(orjson.dumps([_describe(e) for e in catalog.values()]).decode())
        return
    groups: dict[str, list[Any]] = {}
    for event in catalog.values():
        groups.setdefault(event.group if event.source != "user" else "user", []).append(event)
    width = max(len(name) for name in catalog)
    for group, members in groups.items():
        pattern = "user templates" if group == "user" else f"{group}.*"
        click.echo(f"{pattern} ({len(members)})")
        for event in members:
            extra = f"  (--scenario {'|'.join(event.scenarios)})" if event.scenarios else ""
            click.echo(f"  {event.name:<{width}}  {event.delivery:<23}  {event.description}{extra}")


def _describe(event: Any) -> dict[str, Any]:
    """One catalog Event as JSON for tools."""
    return {
        "name": event.name,
        "group": event.group,
        "source": event.source,
        "type": event.type,
        "delivery": event.delivery,
        "description": event.description,
        "envelopes": list(event.envelopes),
        "default_envelope": event.default_envelope,
        "signing": event.signing,
        "scenarios": list(event.scenarios),
    }


@cli.command(name="generate")
@click.argument("event_names", metavar="[EVENT]...", nargs=-1)
@click.option(
    "-n",
    "--count",
    metavar="INTEGER",
    default="1",
    show_default=True,
    help="How many payloads.",
)
@generation_options
@lifecycle_option
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="ndjson",
    show_default=True,
    help="One compact body per line, a JSON array, or indented JSON (an object for -n 1, "
    "else an array).",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, allow_dash=True),
    default="-",
    help="Write here instead of stdout.",
)
def generate_command(
    event_names: tuple[str, ...], count: str, fmt: str, output: str, **params: Any
) -> None:
    """Generate realistic webhook bodies (default event: customer.order.created).

    EVENT is a name or a glob ('voucher.*'; see 'webhook-sim events'). With several
    events, each payload is one of them, drawn at random. With --lifecycle, the payloads
    are chains of one order's events in their order (no EVENT). With --seed and --now the
    output is byte-identical on every run.

    Example:

    \b
        webhook-sim generate customer.order.paid -n 3 --seed 7 --scenario promotion
        webhook-sim generate --lifecycle 'created,updated,paid|canceled' -n 30
    """
    options = pop_generation(params)
    payloads = generate(event_names or None, count, **options)
    total = payloads.count
    if options["seed"] is None:
        seed = payloads.seed
        # Without --now each payload reads the clock as it is built, so no single --now
        # repeats such a run: the seed repeats all but its dates (and names made of them).
        repeat = (
            f"pass --seed {seed} to repeat this output"
            if options["now"] is not None
            else f"--seed {seed} repeats this output but for its dates, which follow the "
            "clock; add --now to fix them too"
        )
        click.echo(f"seed {seed} ({repeat})", err=True)
    run = _Counted(payloads)
    try:
        if output == "-":
            with stdout_guard():
                _write(sys.stdout.buffer, run, fmt, total)
            return
        try:
            with open(output, "wb") as out:
                _write(out, run, fmt, total)
        except OSError as exc:
            raise RecordError(f"cannot write '{output}': {exc.strerror}") from None
    except (OverrideError, TemplateError) as exc:
        if total == 1:
            raise
        # A --set path or a template can fail on some payloads only, after others were
        # written: say which payload, and that the output is partial.
        done = run.done
        written = (
            f"{done} payload{' was' if done == 1 else 's were'} already written before it, "
            "so the output is incomplete"
            if done
            else "nothing was written"
        )
        raise type(exc)(f"payload {done + 1} of {total} (index {done}): {exc}; {written}") from None


class _Counted:
    """A run's payloads, counting those handed on: _write writes each before asking for
    the next, so `done` is how many were written."""

    def __init__(self, payloads: Iterator[Payload]) -> None:
        self._payloads = payloads
        self.done = 0

    def __iter__(self) -> Iterator[Payload]:
        for p in self._payloads:
            yield p
            self.done += 1


def _write(out: BinaryIO, payloads: Any, fmt: str, count: int) -> None:
    if fmt == "ndjson":
        for p in payloads:
            out.write(p.body + b"\n")
        return
    if fmt == "pretty" and count == 1:
        # One payload is an object; several are an array, so the output stays one JSON text.
        for p in payloads:
            out.write(orjson.dumps(p.data, option=orjson.OPT_INDENT_2) + b"\n")
        return
    # The array is written an item at a time, never held whole, so memory stays flat and
    # a reader sees the first payloads at once. "[" waits for the first payload, so a run
    # that fails on it leaves no output rather than a lone "[".
    if fmt == "pretty":
        start, between, end = b"[\n  ", b",\n  ", b"\n]\n"
    else:
        start, between, end = b"[", b",", b"]\n"
    sep = start
    for p in payloads:
        out.write(sep + (_indented(p.data) if fmt == "pretty" else p.body))
        sep = between
    out.write(end if sep is between else b"[]\n")


def _indented(data: Any) -> bytes:
    """`data` as indented JSON for an array item: every line after the first moved right.

    JSON strings hold no raw newline (it is escaped as \\n), so each newline is layout.
    """
    return orjson.dumps(data, option=orjson.OPT_INDENT_2).replace(b"\n", b"\n  ")

"""`validate`: check webhook bodies (JSON or NDJSON, envelope or bare data) against the schema."""

from __future__ import annotations

import difflib
import sys
from collections.abc import Iterator
from typing import Any

import click
import orjson

from simulator import ENVELOPES, supported_events, validate
from simulator.cli import ExitStatus, cli, stdout_guard
from simulator.errors import RecordError, UsageError


def _documents(raw: bytes, source: str) -> Iterator[tuple[str, Any, str | None]]:
    """(where, document, parse error) for a JSON document, a JSON array, or NDJSON lines."""
    try:
        whole = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        not_whole = exc
    else:
        if whole == []:  # valid JSON, so "no JSON found" would be untrue
            raise RecordError(f"no bodies in '{source}' (an empty array)")
        if isinstance(whole, list):
            for i, item in enumerate(whole):
                yield f"item {i + 1}", item, None
        else:
            yield "document", whole, None
        return
    lines = raw.splitlines()
    first = next((line for line in lines if line.strip()), None)
    if first is not None and not _is_json(first):
        # Not one document, and not NDJSON either (whose first body would be a whole
        # line): checking it line by line would report every line of, say, two indented
        # documents run together. The parse error of the whole says where it went wrong.
        raise RecordError(
            f"'{source}' is neither one JSON document nor NDJSON (its first line is not "
            f"JSON either): {_why_not_json(raw, not_whole, 'the input')}"
        )
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            yield f"line {lineno}", orjson.loads(line), None
        except orjson.JSONDecodeError as exc:
            yield f"line {lineno}", None, f"not JSON: {_why_not_json(line, exc)}"


def _is_json(text: bytes) -> bool:
    try:
        orjson.loads(text)
    except orjson.JSONDecodeError:
        return False
    return True


def _why_not_json(line: bytes, exc: orjson.JSONDecodeError, where: str = "the line") -> str:
    try:
        line.decode()
    except UnicodeDecodeError as bad:
        # orjson words this as its internals see it ("str is not valid UTF-8: surrogates
        # not allowed"); the byte and where it is let the user find it.
        return f"not UTF-8 text (byte 0x{line[bad.start]:02x} at offset {bad.start} of {where})"
    return str(exc)


def _event(name: str | None) -> str | None:
    """A supported event, or a one-line usage error naming the closest ones."""
    if name is None or name in supported_events():
        return name
    close = difflib.get_close_matches(name, supported_events(), n=3, cutoff=0.5)
    hint = f" Did you mean: {', '.join(close)}?" if close else ""
    raise click.BadParameter(f"unknown event '{name}'.{hint} See 'webhook-sim events'.")


@cli.command("validate")
@click.argument("source", default="-", metavar="[FILE|-]")
@click.option(
    "--event",
    callback=lambda ctx, param, value: _event(value),
    metavar="EVENT",
    help="Validate as this event (one that 'webhook-sim events' lists) instead of reading "
    "it from the body: bare data names no event, and only an order's implies one.",
)
@click.option(
    "--envelope", type=click.Choice(ENVELOPES), help="Body shape (default: detected per body)."
)
@click.option("-q", "--quiet", is_flag=True, help="Print only the final count.")
def validate_command(source: str, event: str | None, envelope: str | None, quiet: bool) -> int:
    """Check bodies against the project's schema; exit 0 if all are valid.

    Reads one JSON document, a JSON array, or NDJSON (one body per line), from FILE or
    stdin. Every problem is printed with its JSON path, but of many lines in a row that are
    not JSON only the first 5. Exit: 0 all valid, 1 some invalid (or no bodies found, input
    neither JSON nor NDJSON, or binary input), 2 usage error (such as FILE missing or
    unreadable).

    Example:

        webhook-sim generate -n 100 | webhook-sim validate
    """
    try:
        raw = sys.stdin.buffer.read() if source == "-" else open(source, "rb").read()  # noqa: SIM115
    except OSError as exc:
        # A usage error, not exit 1: CI must tell a wrong path from invalid payloads.
        raise UsageError(f"cannot read '{source}': {exc.strerror}") from None
    # JSON text never holds a NUL byte and binary files (images, archives, UTF-16) nearly
    # always have one early, like git's and grep's test: one line, not one per "line".
    nul = raw.find(b"\0", 0, 8192)
    if nul != -1:
        raise RecordError(f"'{source}' is binary (a NUL byte at offset {nul}), not JSON text")
    with stdout_guard():
        checked, invalid = _report(_documents(raw, source), event, envelope, quiet)
    if checked == 0:
        raise RecordError(f"no JSON found in '{source}'")
    return ExitStatus.FAILED if invalid else ExitStatus.OK


# Text that is not NDJSON (a pretty-printed document with a syntax error, a log) fails on
# every line: past this many such lines in a row, the rest of the run is counted, not listed.
_NOT_JSON_LISTED = 5


def _report(documents: Iterator, event: str | None, envelope: str | None, quiet: bool) -> tuple:
    checked = invalid = 0
    in_a_row: list[str] = []  # the current run of lines that are not JSON
    for where, document, error in documents:
        checked += 1
        if error:
            in_a_row.append(where)
        elif in_a_row:
            _unlisted(in_a_row, quiet)
            in_a_row = []
        if len(in_a_row) > _NOT_JSON_LISTED:
            invalid += 1
            continue
        problems = [error] if error else [
            f"{p.path}: {p.message}" for p in validate(document, event=event, envelope=envelope)
        ]  # fmt: skip
        if problems:
            invalid += 1
            if not quiet:
                for problem in problems:
                    click.echo(f"{where}: {problem}")
    _unlisted(in_a_row, quiet)
    if checked:
        click.echo(f"{checked} checked, {checked - invalid} valid, {invalid} invalid")
    return checked, invalid


def _unlisted(in_a_row: list[str], quiet: bool) -> None:
    """One line for the lines that are not JSON past the first few of a run."""
    unlisted = in_a_row[_NOT_JSON_LISTED:]
    if unlisted and not quiet:
        first, last = unlisted[0], unlisted[-1].removeprefix("line ")
        span = first if len(unlisted) == 1 else f"{first.replace('line', 'lines')}-{last}"
        click.echo(f"{span}: not JSON either, not listed")

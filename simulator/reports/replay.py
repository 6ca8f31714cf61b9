"""Replay input: events read back from a dead-letter file, a log or `generate` output."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from simulator.errors import RecordError, UsageError
from simulator.redaction import REDACTED
from simulator.signing import SCHEMES, signature_header_names

# Keys that mark a line as a record (log, dead letter, receiver capture) rather than a body.
_RECORD_KEYS = frozenset(
    {"body", "body_base64", "reason", "attempts", "attempt", "headers", "event_id", "signature"}
)


@dataclass(frozen=True)
class ReplayItem:
    """One event read back from a file: its exact bytes and what is known about it."""

    event: str
    id: str
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)  # as recorded (maybe redacted)
    line: int = 0


@dataclass
class ReplayFile:
    """The events of a replay input in file order, and how many bad lines were skipped."""

    path: str
    items: list[ReplayItem]
    skipped: int = 0


def _event_and_id(data: Any, fallback: str) -> tuple[str, str]:
    if not isinstance(data, dict):
        return "unknown", fallback
    # v2024: the event name is event.type; the root `type` is a distribution's label.
    nested = data.get("event")
    event = nested.get("type") if isinstance(nested, dict) else None
    if not isinstance(event, str):
        event = data.get("type")
    ident = data.get("id")
    return (
        event if isinstance(event, str) else "unknown",
        ident if isinstance(ident, str) else fallback,
    )


def _record_body(record: dict[str, Any]) -> bytes | None:
    text = record.get("body")
    if not isinstance(text, str):
        return None
    if record.get("body_base64") is True:
        try:
            return base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            return None
    return text.encode("utf-8")


def _parse_line(raw: bytes, number: int) -> tuple[ReplayItem, bool] | str:
    """The line's item and whether its file has a line per attempt (a log, a receiver's
    record: retries repeat the event), or why the line is bad."""
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return "not JSON"
    if isinstance(data, list):
        return "a JSON array, not one body (write bodies with 'generate --format ndjson')"
    if not isinstance(data, dict):
        return "not a JSON object"
    if _RECORD_KEYS.isdisjoint(data):
        # A generated body: the line's exact bytes are what is sent.
        event, ident = _event_and_id(data, f"line{number}")
        return ReplayItem(event, ident, raw, line=number), False
    body = _record_body(data)
    if body is None:
        return "no body (a --log written without --log-bodies, or a broken record)"
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        parsed = None
    event, ident = _event_and_id(parsed, f"line{number}")
    # Logs and dead letters name the event and id; receiver records call them event_*.
    for key in ("event", "event_type"):
        if isinstance(data.get(key), str):
            event = data[key]
    for key in ("id", "event_id"):
        if isinstance(data.get(key), str):
            ident = data[key]
    headers = data.get("headers")
    if not isinstance(headers, dict):
        headers = {}
    headers = {str(k): str(v) for k, v in headers.items()}
    return ReplayItem(event, ident, body, headers, number), "attempt" in data or "duplicate" in data


def read_replay(path: str | Path, *, skip_bad: bool = False) -> ReplayFile:
    """Events to send again from a dead-letter file, a `generate` NDJSON file, a log written
    with bodies, or a receiver record file. A delivery log and a record hold one line per
    attempt; each event is taken once, by its id. Raises RecordError naming the file and
    line of a bad line unless `skip_bad`, which counts them instead, and UsageError when
    there is no event to send."""
    items: list[ReplayItem] = []
    seen: set[str] = set()
    skipped = 0
    try:
        with open(path, "rb") as src:
            for number, line in enumerate(src, 1):
                raw = line.rstrip(b"\r\n")
                if not raw.strip():
                    continue
                parsed = _parse_line(raw, number)
                if isinstance(parsed, str):
                    if not skip_bad:
                        raise RecordError(f"{path}, line {number}: {parsed}")
                    skipped += 1
                    continue
                item, per_attempt = parsed
                if per_attempt:
                    if item.id in seen:
                        continue  # a retry of an event already taken from this file
                    seen.add(item.id)
                items.append(item)
    except OSError as exc:
        raise RecordError(f"cannot read '{path}': {exc.strerror}") from None
    if not items:
        why = f"all {skipped:,} of its lines are bad" if skipped else "it holds no event"
        raise UsageError(f"nothing to send: {why} ('{path}')")
    return ReplayFile(str(path), items, skipped)


# Recorded headers that describe the old connection, not the event: never resent.
_TRANSPORT = frozenset(
    {"host", "content-length", "content-type", "user-agent", "accept", "accept-encoding",
     "connection", "keep-alive", "transfer-encoding", "expect"}
)  # fmt: skip
_SIGNATURE_NAMES = frozenset(n.lower() for s in SCHEMES for n in signature_header_names(s))


class ReplaySource:
    """A replay file as the engine's payload source: item `index` in file order.

    With `keep_signature`, every item must carry a recorded, unredacted signature header,
    which is resent as it was (with the other recorded event headers).
    """

    def __init__(self, path: str, *, skip_bad: bool = False, keep_signature: bool = False) -> None:
        replay = read_replay(path, skip_bad=skip_bad)
        self.items, self.skipped = replay.items, replay.skipped
        if keep_signature:
            for item in self.items:
                names = {k.lower() for k, v in item.headers.items() if v != REDACTED}
                if names.isdisjoint(_SIGNATURE_NAMES):
                    raise RecordError(
                        f"{path}, line {item.line}: no recorded signature to keep "
                        "(missing or redacted); drop --keep-signature to sign again"
                    )

    def build(self, index: int) -> ReplayItem:
        return self.items[index]

    @staticmethod
    def recorded_headers(item: ReplayItem) -> dict[str, str]:
        """The headers to resend as they were: event headers, not transport or redacted."""
        return {
            k: v for k, v in item.headers.items() if k.lower() not in _TRANSPORT and v != REDACTED
        }

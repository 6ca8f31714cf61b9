"""Delivery logs, dead-letter files and replay input: NDJSON lines that lose nothing."""

from __future__ import annotations

import base64
import binascii
import contextlib
import errno
import os
import shutil
import tempfile
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from simulator.errors import RecordError
from simulator.signing import SCHEMES, signature_header_names

REDACTED = "[redacted]"
# Headers whose values are credentials whatever they contain.
SENSITIVE_HEADERS = frozenset({"authorization", "cookie", "proxy-authorization", "x-api-key"})
# Keys that mark a line as a record (log, dead letter, receiver capture) rather than a body.
_RECORD_KEYS = frozenset(
    {"body", "body_base64", "reason", "attempts", "attempt", "headers", "event_id", "signature"}
)


def redact(headers: Mapping[str, str], secrets: Sequence[str]) -> dict[str, str]:
    """A copy of `headers` with credentials and every value containing a secret replaced."""
    out = {}
    for name, value in headers.items():
        hidden = name.lower() in SENSITIVE_HEADERS or any(s and s in value for s in secrets)
        out[name] = REDACTED if hidden else value
    return out


def encode_body(body: bytes) -> dict[str, Any]:
    """The body as text when it is UTF-8 (always, for generated JSON), else base64 with a
    flag: the receiver's record convention, so every file `replay` reads agrees."""
    try:
        return {"body": body.decode("utf-8"), "body_base64": False}
    except UnicodeDecodeError:
        return {"body": base64.b64encode(body).decode("ascii"), "body_base64": True}


def iso(epoch: float) -> str:
    """UTC ISO 8601 with milliseconds, e.g. 2024-03-12T14:41:49.128Z."""
    ms = int(epoch * 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000)) + f".{ms % 1000:03d}Z"


class NdjsonWriter:
    """Appends JSON lines to a file that is created on the first line only.

    Lines are buffered in memory and written by flush(), which the engine calls at least
    every 100 ms and at the end; a line is always written whole, never split.
    """

    def __init__(self, path: str | Path, *, append: bool = False) -> None:
        self.path = Path(path)
        self.count = 0
        self._append = append
        self._buffer: list[bytes] = []
        self._file: BinaryIO | None = None

    def write(self, record: Mapping[str, Any]) -> None:
        self._buffer.append(orjson.dumps(record) + b"\n")
        self.count += 1

    def flush(self) -> None:
        if not self._buffer:
            return
        try:
            if self._file is None:
                self._file = open(self.path, "ab" if self._append else "wb")  # noqa: SIM115
            self._file.write(b"".join(self._buffer))
            self._file.flush()
        except OSError as exc:
            raise RecordError(f"cannot write '{self.path}': {exc.strerror}") from None
        self._buffer.clear()

    def close(self) -> None:
        try:
            self.flush()
        finally:
            if self._file is not None:
                self._file.close()
                self._file = None


def check_writable(path: str | Path) -> None:
    """Raise RecordError unless `path` can be written: its folder exists and is writable,
    and the file, if it exists, is a writable file. Creates and changes nothing, so a run
    can check every output before it sends anything."""
    target = Path(path)
    if target.is_dir():
        problem = errno.EISDIR
    elif target.exists():
        problem = 0 if os.access(target, os.W_OK) else errno.EACCES
    else:
        folder = target.absolute().parent
        if not folder.exists():
            problem = errno.ENOENT
        elif not folder.is_dir():
            problem = errno.ENOTDIR
        else:
            problem = 0 if os.access(folder, os.W_OK | os.X_OK) else errno.EACCES
    if problem:
        raise RecordError(f"cannot write '{path}': {os.strerror(problem)}")


@contextlib.contextmanager
def replacing(path: str | Path) -> Iterator[Path]:
    """A new, empty file beside `path` to write instead of it. When the block ends without
    an exception, it replaces `path` atomically (keeping its permissions); otherwise it is
    deleted and `path` is left as it was."""
    target = Path(path)
    try:
        fd, name = tempfile.mkstemp(
            dir=target.absolute().parent, prefix=f".{target.name}.", suffix=".tmp"
        )
        os.close(fd)
    except OSError as exc:
        raise RecordError(f"cannot write '{path}': {exc.strerror}") from None
    temp = Path(name)
    try:
        yield temp
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    try:
        if target.exists():
            shutil.copymode(target, temp)
        os.replace(temp, target)
    except OSError as exc:
        temp.unlink(missing_ok=True)
        raise RecordError(f"cannot write '{path}': {exc.strerror}") from None


def concat_parts(parts: Iterable[str | Path], dest: str | Path, *, append: bool) -> int:
    """Join worker part files into `dest` (created only if a part exists); delete the parts.

    Returns the number of bytes written. Parts hold whole lines, so joining them never
    interleaves two records.
    """
    existing = [Path(p) for p in parts if Path(p).exists()]
    if not existing:
        return 0
    written = 0
    try:
        with open(dest, "ab" if append else "wb") as out:
            for part in existing:
                with open(part, "rb") as src:
                    shutil.copyfileobj(src, out, 1 << 20)
                written += part.stat().st_size
                os.unlink(part)
    except OSError as exc:
        raise RecordError(f"cannot write '{dest}': {exc.strerror}") from None
    return written


def part_path(path: str | Path, worker: int) -> Path:
    """Where worker `worker` writes its share of `path`."""
    return Path(f"{path}.part{worker}")


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
    event = data.get("type")
    if not isinstance(event, str):
        nested = data.get("event")
        event = nested.get("type") if isinstance(nested, dict) else None
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
    """The line's item and whether it is a log line (one per attempt), or why it is bad."""
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
    return ReplayItem(event, ident, body, headers, number), "attempt" in data


def read_replay(path: str | Path, *, skip_bad: bool = False) -> ReplayFile:
    """Events to send again from a dead-letter file, a `generate` NDJSON file, a log written
    with bodies, or a receiver record file. A delivery log holds one line per attempt; each
    event is taken once. Raises RecordError naming the file and line of a bad line unless
    `skip_bad`, which counts them instead."""
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
                        continue  # a retry of an event already taken from this log
                    seen.add(item.id)
                items.append(item)
    except OSError as exc:
        raise RecordError(f"cannot read '{path}': {exc.strerror}") from None
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


class Records:
    """A run's delivery log and dead-letter file, each optional, secrets always redacted.

    Times are epoch seconds. Payloads are anything with `id`, `event` and `body`.
    """

    def __init__(
        self,
        *,
        log: str | Path | None = None,
        log_bodies: bool = False,
        dead_letter: str | Path | None = None,
        append_dead_letter: bool = True,
        secrets: Sequence[str] = (),
        url: str = "",
        scheme: str = "",
    ) -> None:
        self._log = NdjsonWriter(log) if log else None
        self._dead = NdjsonWriter(dead_letter, append=append_dead_letter) if dead_letter else None
        self._bodies = log_bodies
        self._secrets = [s for s in secrets if s]
        self._url, self._scheme = url, scheme
        self.dead_lettered = 0

    def attempt(
        self,
        payload: Any,
        index: int,
        attempt: int,
        *,
        scheduled: float,
        started: float,
        finished: float,
        status: int | None,
        error: str | None,
        headers: Mapping[str, str],
    ) -> None:
        if self._log is None:
            return
        line = {
            "id": payload.id,
            "index": index,
            "event": payload.event,
            "attempt": attempt,
            "scheduled": iso(scheduled),
            "scheduled_epoch": round(scheduled, 6),
            "started": iso(started),
            "started_epoch": round(started, 6),
            "status": status,
            "latency_ms": round((finished - scheduled) * 1000, 3),
            "service_ms": round((finished - started) * 1000, 3),
            "error": error,
            "bytes": len(payload.body),
        }
        if self._bodies:
            line["headers"] = redact(headers, self._secrets)
            line.update(encode_body(payload.body))
        self._log.write(line)

    def dead(
        self,
        payload: Any,
        index: int,
        *,
        reason: str,
        attempts: int,
        status: int | None,
        error: str | None,
        first_attempt: float | None,
        headers: Mapping[str, str],
    ) -> None:
        self.dead_lettered += 1
        if self._dead is None:
            return
        self._dead.write(
            {
                "id": payload.id,
                "index": index,
                "event": payload.event,
                "reason": reason,
                "attempts": attempts,
                "last_status": status,
                "last_error": error,
                "first_attempt_at": None if first_attempt is None else iso(first_attempt),
                "url": self._url,
                "scheme": self._scheme,
                "headers": redact(headers, self._secrets),
                **encode_body(payload.body),
            }
        )

    def flush(self) -> None:
        for writer in (self._log, self._dead):
            if writer is not None:
                writer.flush()

    def close(self) -> None:
        for writer in (self._log, self._dead):
            if writer is not None:
                writer.close()

"""Delivery logs and dead-letter files: NDJSON lines, flushed as they go, that lose nothing."""

from __future__ import annotations

import base64
import contextlib
import errno
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from simulator.errors import OptionError, RecordError, UsageError
from simulator.redaction import redact
from simulator.reports.attempt import Attempt


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
    """Appends JSON lines to a file that is created on the first line, or with `create`
    at close() at the latest: a log must not show an earlier run's lines when this one
    wrote none.

    Lines are buffered in memory and written by flush(), which the engine calls at least
    every 100 ms and at the end, and by write() itself every MAX_BUFFERED lines; a line is
    always written whole. write() never raises: when the file cannot be written, lines it
    had to drop are counted in `lost`, and flush() and close() raise RecordError.
    """

    MAX_BUFFERED = 1024  # an interrupt can dead-letter a million events in one go

    def __init__(self, path: str | Path, *, append: bool = False, create: bool = False) -> None:
        self.path = Path(path)
        self.count = 0
        self.lost = 0
        self._append = append
        self._create = create
        self._buffer: list[bytes] = []
        self._file: BinaryIO | None = None

    def write(self, record: Mapping[str, Any]) -> None:
        self._buffer.append(orjson.dumps(record) + b"\n")
        self.count += 1
        if len(self._buffer) >= self.MAX_BUFFERED:
            try:
                self._write()
            except RecordError:
                self.lost += len(self._buffer)  # memory must stay bounded: they are gone
                self._buffer.clear()

    @property
    def unwritten(self) -> int:
        """Lines given to write() that are not in the file (yet, or ever: `lost`)."""
        return self.lost + len(self._buffer)

    def flush(self) -> None:
        if self._buffer:
            self._write()

    def _write(self) -> None:
        try:
            if self._file is None:
                self._file = open(self.path, "ab" if self._append else "wb")  # noqa: SIM115
                self._append = True  # if it must be opened again, it keeps what it has
            self._file.write(b"".join(self._buffer))
            self._file.flush()
        except OSError as exc:
            self._forget_file()  # a file that failed once is opened again at the next try
            raise RecordError(f"cannot write '{self.path}': {exc.strerror}") from None
        self._buffer.clear()

    def _forget_file(self) -> None:
        if self._file is not None:
            # Closing flushes again, and on a full disk that fails again: nothing more to say.
            with contextlib.suppress(OSError):
                self._file.close()
            self._file = None

    def close(self) -> None:
        """Write what is left and close; RecordError says how many lines are not written."""
        error = None
        try:
            if self._buffer or (self._create and self._file is None):
                self._write()
        except RecordError as exc:
            error = str(exc)
        finally:
            self._create = False  # a second close() must not empty the file again
            self._forget_file()
        if error is None and self.lost:
            error = f"cannot write '{self.path}'"
        if error is not None:
            n = self.unwritten
            raise RecordError(f"{error}; {n:,} line{'s' if n != 1 else ''} not written")


def check_writable(path: str | Path) -> None:
    """Raise RecordError unless `path` can be opened for writing, so a run can check every
    output before it sends anything. Leaves no trace: an existing file is opened for
    appending and closed, a new one is created and removed. Asking the file system is the
    only sure test (permissions say nothing for root, nor for /proc); a pipe that no
    process reads is refused rather than waited on."""
    target = Path(path)
    if target.is_dir():
        raise RecordError(f"cannot write '{path}': {os.strerror(errno.EISDIR)}")
    existed = target.exists()
    flags = os.O_WRONLY | os.O_NONBLOCK | (os.O_APPEND if existed else os.O_CREAT | os.O_EXCL)
    try:
        fd = os.open(target, flags, 0o666)
    except OSError as exc:
        reason = "a pipe that no process reads" if exc.errno == errno.ENXIO else exc.strerror
        raise RecordError(f"cannot write '{path}': {reason}") from None
    os.close(fd)
    if not existed:
        target.unlink()


def check_page(path: str | Path) -> None:
    """An --html page that cannot be written is a usage error, found before the run: the
    page is what the user asked the run for."""
    try:
        check_writable(path)
    except RecordError as exc:
        raise OptionError(("--html",), str(exc)) from None


def write_outputs(outputs: Iterable[tuple[str | None, Callable[[], bytes]]]) -> list[str]:
    """Write each (path, document) whose path is set, the document made only then; what
    could not be written, in words naming the file (the run still has its result)."""
    problems = []
    for path, document in outputs:
        if not path:
            continue
        try:
            Path(path).write_bytes(document())
        except OSError as exc:
            problems.append(str(RecordError(f"cannot write '{path}': {exc.strerror}")))
    return problems


def check_distinct(paths: Mapping[str, str | Path | None]) -> None:
    """Raise UsageError when two of the named paths (e.g. {"--log": …, "--report": …}) are
    one file: each output would overwrite the other. Devices and pipes (/dev/null) are
    not files that can be overwritten, so they may be named twice."""
    seen: dict[str, str] = {}
    for option, path in paths.items():
        if not path or (os.path.exists(path) and not os.path.isfile(path)):
            continue
        key = os.path.realpath(path)
        if key in seen:
            raise UsageError(
                f"{seen[key]} and {option} name the same file '{path}': give each its own"
            )
        seen[key] = option


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


def concat_parts(
    parts: Iterable[str | Path], dest: str | Path, *, append: bool, keep: bool = False
) -> int:
    """Join worker part files into `dest` (created only if a part exists), then delete them
    unless `keep`.

    Returns the number of bytes written. Parts hold whole lines, so joining them never
    interleaves two records. Without `append`, `dest` is written even with no part: it
    must not keep an earlier run's lines.
    """
    existing = [Path(p) for p in parts if Path(p).exists()]
    if not existing and append:
        return 0
    written = 0
    try:
        with open(dest, "ab" if append else "wb") as out:
            for part in existing:
                with open(part, "rb") as src:
                    shutil.copyfileobj(src, out, 1 << 20)
                written += part.stat().st_size
    except OSError as exc:
        # The parts stay until `dest` holds them all: a full disk must not lose them.
        raise RecordError(f"cannot write '{dest}': {exc.strerror}") from None
    if not keep:
        for part in existing:
            part.unlink()
    return written


def part_path(path: str | Path, worker: int) -> Path:
    """Where worker `worker` writes its share of `path`."""
    return Path(f"{path}.part{worker}")


class Records:
    """A run's delivery log and dead-letter file, each optional, secrets always redacted.

    Times written are epoch seconds: an attempt's times, on the sender's own clock, are
    moved by `offset` (that clock's reading at the epoch). Payloads are anything with
    `id`, `event` and `body`.
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
        self._log = NdjsonWriter(log, create=True) if log else None
        self._dead = NdjsonWriter(dead_letter, append=append_dead_letter) if dead_letter else None
        self._bodies = log_bodies
        self._secrets = [s for s in secrets if s]
        self._url, self._scheme = url, scheme
        self.dead_lettered = 0
        self.offset = 0.0

    def attempt(self, attempt: Attempt) -> None:
        """Log one attempt (its times are on the sender's clock: see `offset`)."""
        if self._log is None:
            return
        payload, offset = attempt.payload, self.offset
        scheduled, started = attempt.scheduled + offset, attempt.started + offset
        line = {
            "id": payload.id,
            "index": attempt.index,
            "event": payload.event,
            "attempt": attempt.number,
            "scheduled": iso(scheduled),
            "scheduled_epoch": round(scheduled, 6),
            "started": iso(started),
            "started_epoch": round(started, 6),
            "status": attempt.status,
            "latency_ms": round((attempt.finished - attempt.scheduled) * 1000, 3),
            "service_ms": round((attempt.finished - attempt.started) * 1000, 3),
            "error": attempt.error,
            "error_detail": attempt.detail,
            "bytes": len(payload.body),
        }
        if attempt.injected is not None:
            line["injected"] = attempt.injected
        if self._bodies:
            line["headers"] = redact(attempt.headers, self._secrets)
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
        detail: str | None,
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
                "last_error_detail": detail,
                "first_attempt_at": None if first_attempt is None else iso(first_attempt),
                "url": self._url,
                "scheme": self._scheme,
                "headers": redact(headers, self._secrets),
                **encode_body(payload.body),
            }
        )

    @property
    def dead_unwritten(self) -> int:
        """Dead-letter lines that could not be written (so far)."""
        return self._dead.unwritten if self._dead is not None else 0

    def flush(self) -> None:
        for writer in (self._log, self._dead):
            if writer is not None:
                writer.flush()

    def close(self) -> None:
        """Close both files; RecordError names each that could not be written."""
        problems = []
        for writer in (self._log, self._dead):
            if writer is not None:
                try:
                    writer.close()
                except RecordError as exc:
                    problems.append(str(exc))
        if problems:
            raise RecordError("; ".join(problems))

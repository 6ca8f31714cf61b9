"""The receiver's --record file: one NDJSON line per request, that stops, not fails."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import IO

import orjson

from simulator.errors import RecordError
from simulator.receiving.checks import ReceivedRequest


class RecordFile:
    """Appends each request to `path` as its to_record() line, flushed at once; with no
    path, records nothing.

    When writing fails (a full disk), recording stops and `error` holds the RecordError,
    which is also handed to `on_error`: the receiver keeps answering, since its own disk
    is not the sender's problem.
    """

    def __init__(
        self, path: str | Path | None, on_error: Callable[[RecordError], None] | None = None
    ) -> None:
        self.path = None if path is None else Path(path)
        self.error: RecordError | None = None
        self._on_error = on_error
        self._file: IO[bytes] | None = None

    def open(self) -> None:
        """Open for appending; RecordError when it cannot be."""
        self.error = None
        if self.path is None:
            return
        try:
            self._file = open(self.path, "ab")  # noqa: SIM115 (closed in close)
        except OSError as exc:
            raise RecordError(f"cannot write '{self.path}': {exc.strerror}") from None

    def write(self, received: ReceivedRequest) -> None:
        file = self._file
        if file is None:
            return
        try:
            file.write(orjson.dumps(received.to_record()) + b"\n")
            file.flush()
        except OSError as exc:
            self._file = None
            with contextlib.suppress(OSError):  # what is still buffered is lost either way
                file.close()
            self._failed(exc)

    def close(self) -> None:
        file, self._file = self._file, None
        if file is not None:
            try:
                file.close()
            except OSError as exc:  # a failed close still releases the file
                self._failed(exc)

    def _failed(self, exc: OSError) -> None:
        # Only the first failure is reported: after it there is no file to fail again.
        self.error = RecordError(f"cannot write '{self.path}': {exc.strerror}; recording stopped")
        if self._on_error is not None:
            self._on_error(self.error)

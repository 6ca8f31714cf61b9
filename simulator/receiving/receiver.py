"""The mock receiver: a local HTTP server that verifies, records and misbehaves on demand."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from aiohttp import web

from simulator import runtime
from simulator.errors import DeliveryError, RecordError, UsageError
from simulator.options import choice, naming, refuse, whole
from simulator.receiving.behaviour import DEFAULT_BEHAVIOUR, Behaviour
from simulator.receiving.checks import VERDICT_HEADER, Inspector, ReceivedRequest, ReceiverStats
from simulator.receiving.history import DEFAULT_KEEP, History
from simulator.receiving.page import PREFIX, InspectorPage, is_loopback, page_address
from simulator.receiving.recording import RecordFile
from simulator.sending.schedule import parse_duration
from simulator.signing import SCHEMES, read_secret

__all__ = ["VERDICT_HEADER", "Behaviour", "ReceivedRequest", "Receiver", "ReceiverStats"]

_HELLO = "webhook-sim receiver: POST webhooks to {path}\n"
# In-flight requests get this long to finish on stop; a stalled client must not hold it up.
_SHUTDOWN_TIMEOUT = 1.0


class Receiver:
    """A webhook endpoint on `url` that checks every delivery and answers per `behaviour`.

    `page_url` is its live inspector page (GET / and /_sim/…), showing the last `keep`
    requests. Use it inside a running event loop (`await start()` / `await stop()`), or
    from synchronous code as a context manager, which serves from a background thread:

        with Receiver(secret="s3cr3t") as receiver:
            requests.post(receiver.url, data=body, headers=signed_headers)
            [seen] = receiver.wait_for(1)
            assert seen.signature == "valid"

    When writing `record` fails (a full disk), recording stops and the receiver keeps
    answering: its own disk is not the sender's problem. `record_error` then holds the
    RecordError, which is also handed to `on_record_error` when it happens.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        path: str = "/",
        scheme: str = "voucherify",
        secret: str | None = None,
        tolerance: float = 300.0,
        validate_schema: bool = True,
        behaviour: Behaviour = DEFAULT_BEHAVIOUR,
        record: str | Path | None = None,
        keep_requests: bool = True,
        on_request: Callable[[ReceivedRequest], None] | None = None,
        on_record_error: Callable[[RecordError], None] | None = None,
        clock: Callable[[], float] = time.time,
        keep: int = DEFAULT_KEEP,
    ) -> None:
        if not path.startswith("/"):
            raise UsageError(f"the receiver path must start with '/', got '{path}'")
        if path.startswith(PREFIX):
            raise refuse("--path", f"{PREFIX}… is the inspector page's: POST webhooks elsewhere")
        with naming("--keep"):
            whole(keep, 1, "number")
        self._inspector = Inspector(
            path=path,
            scheme=scheme,
            secret=secret,
            tolerance=tolerance,
            validate_schema=validate_schema,
            behaviour=behaviour,
            clock=clock,
        )
        self.host = host
        self.port = port
        self.path = path
        self.scheme = scheme
        self.behaviour = behaviour
        self.stats: ReceiverStats = self._inspector.stats
        self.requests: list[ReceivedRequest] = []
        self._record = RecordFile(record, on_record_error)
        self._keep = keep_requests
        self.history = History(keep)
        self._page = InspectorPage(self.history, self._about, secret, clock)
        self._on_request = on_request
        self._runner: web.ServerRunner | None = None
        # Counts reports under the lock, so wait_for never sees a count ahead of `requests`.
        self._seen = threading.Condition(threading.Lock())
        self._reported = 0
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop_requested = False
        self._serving: tuple[asyncio.AbstractEventLoop, asyncio.Event] | None = None

    @classmethod
    def from_options(
        cls,
        *,
        host: str = "127.0.0.1",
        port: int | str = 8000,
        path: str = "/",
        sign: str = "voucherify",
        secret: str | None = None,
        secret_env: str | None = None,
        tolerance: float | str = 300.0,
        no_schema: bool = False,
        record: str | Path | None = None,
        environ: Mapping[str, str] | None = None,
        keep_requests: bool = True,
        on_request: Callable[[ReceivedRequest], None] | None = None,
        on_record_error: Callable[[RecordError], None] | None = None,
        keep: int | str = DEFAULT_KEEP,
        **behaviour: Any,
    ) -> Receiver:
        """A receiver from the options of `webhook-sim receive`, by their parameter names,
        as text or as values; `behaviour` holds Behaviour.from_options() keywords. The
        secret is read from $WEBHOOK_SECRET (or $`secret_env`) when none is given."""
        with naming("--port"):
            port = whole(port, 0, "port")
            if port > 65535:
                raise UsageError(f"invalid port {port}: use 0 to 65535 (0: any free port)")
        with naming("--sign"):
            choice(sign, SCHEMES, "signing scheme")
        if isinstance(tolerance, str):
            with naming("--tolerance"):
                tolerance = parse_duration(tolerance)
        with naming("--keep"):
            keep = whole(keep, 1, "number")
        return cls(
            host=host,
            port=port,
            path=path,
            scheme=sign,
            secret=read_secret(secret, secret_env, os.environ if environ is None else environ),
            tolerance=tolerance,
            validate_schema=not no_schema,
            behaviour=Behaviour.from_options(**behaviour),
            record=record,
            keep_requests=keep_requests,
            on_request=on_request,
            on_record_error=on_record_error,
            keep=keep,
        )

    @property
    def url(self) -> str:
        """Where to send webhooks, e.g. http://127.0.0.1:54321/ (the bound port once started)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}{self.path}"

    @property
    def page_url(self) -> str:
        """The live inspector page, e.g. http://127.0.0.1:54321/ (loopback for 0.0.0.0)."""
        return page_address(self.host, self.port)

    @property
    def loopback(self) -> bool:
        """True when only this machine can reach the receiver and its page."""
        return is_loopback(self.host)

    @property
    def record_error(self) -> RecordError | None:
        """Why the record file stopped (None while it records, or without one)."""
        return self._record.error

    def _about(self) -> dict[str, Any]:
        record = self._record.path and str(self._record.path)
        return {"url": self.url, "path": self.path, "scheme": self.scheme, "record": record}

    # -- async use -------------------------------------------------------------

    async def start(self) -> None:
        """Bind and serve from the running loop; port 0 picks a free port."""
        if self._runner is not None:
            raise UsageError("the receiver is already running")
        self._record.open()
        server = web.Server(self._handle, access_log=None)
        runner = web.ServerRunner(server, shutdown_timeout=_SHUTDOWN_TIMEOUT)
        await runner.setup()
        try:
            site = web.TCPSite(runner, self.host, self.port)
            await site.start()
        except OSError as exc:
            await runner.cleanup()
            self._record.close()
            raise DeliveryError(
                f"cannot listen on {self.host}:{self.port}: {_reason(exc)}"
            ) from None
        self._runner = runner
        self.port = runner.addresses[0][1]

    async def stop(self) -> None:
        """Stop serving and close the record file; stopping twice is harmless."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await self._page.close()  # open pages' streams would hold the shutdown
            await runner.cleanup()
        self._record.close()

    async def serve(self, ready: Callable[[], None] | None = None) -> None:
        """Start, call `ready`, and serve until SIGINT or SIGTERM, request_stop() or
        cancellation; then stop.

        The signals are caught from before the receiver binds until it has stopped, then
        handed back to the handlers they had.
        """
        loop = asyncio.get_running_loop()
        stopped = asyncio.Event()
        with runtime.calling(loop, stopped.set):
            self._serving = (loop, stopped)
            if self._stop_requested:
                stopped.set()
            try:
                await self.start()
                if ready is not None:
                    ready()
                await stopped.wait()
            finally:
                self._serving = None
                self._stop_requested = False
                await self.stop()

    def run(
        self, ready: Callable[[], None] | None = None, stopped: Callable[[], None] | None = None
    ) -> None:
        """Serve in this thread until SIGINT, SIGTERM or request_stop(), then stop and
        call `stopped` (to say what was received, say).

        Until `stopped` returns, those signals only ask the receiver to stop: one that
        arrives while it starts, stops or reports never becomes a KeyboardInterrupt.
        """
        with runtime.stop_on_signals(self.request_stop):
            if not self._stop_requested:
                runtime.run_async(self.serve(ready))
            if stopped is not None:
                stopped()

    def request_stop(self) -> None:
        """Make serve() stop and return; safe in a signal handler or from another thread.

        Asked before serve() runs (a Ctrl-C while the caller sets up), the next serve()
        stops as soon as it has started.
        """
        self._stop_requested = True
        serving = self._serving
        if serving is not None:
            loop, stopped = serving
            with contextlib.suppress(RuntimeError):  # the loop closed in the meantime
                loop.call_soon_threadsafe(stopped.set)

    # -- sync use ----------------------------------------------------------------

    def __enter__(self) -> Receiver:
        loop = runtime.new_loop()
        started: list[BaseException | None] = []
        ready = threading.Event()

        def serve() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self.start())
            except BaseException as exc:  # handed to the caller's thread
                started.append(exc)
                ready.set()
                loop.close()
                return
            started.append(None)
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self.stop())
            loop.close()

        thread = threading.Thread(target=serve, name="webhook-sim-receiver", daemon=True)
        thread.start()
        ready.wait()
        if started[0] is not None:
            thread.join()
            raise started[0]
        self._loop, self._thread = loop, thread
        return self

    def __exit__(self, *exc_info: object) -> None:
        loop, thread = self._loop, self._thread
        self._loop = self._thread = None
        if loop is not None and thread is not None:
            loop.call_soon_threadsafe(loop.stop)
            thread.join()

    def wait_for(self, n: int, timeout: float = 5.0) -> list[ReceivedRequest]:
        """Block until `n` requests were received; the first `n` (kept ones) in arrival order.

        Call it from another thread than the receiver's loop (e.g. in the `with` block);
        raises DeliveryError if they do not arrive within `timeout` seconds.
        """
        with self._seen:
            if not self._seen.wait_for(lambda: self._reported >= n, timeout):
                raise DeliveryError(
                    f"expected {n} request{'s' if n != 1 else ''} at {self.url} "
                    f"within {timeout:g}s, got {self._reported}"
                )
        return self.requests[:n]

    # -- serving -----------------------------------------------------------------

    async def _handle(self, request: web.BaseRequest) -> web.StreamResponse:
        if self._page.serves(request.method, request.path):
            return await self._page.handle(request)
        if request.method in ("GET", "HEAD"):
            return web.Response(text=_HELLO.format(path=self.path))
        try:
            body, oversized = await _read(request, self.behaviour.max_body)
        except Exception:  # a reset or a malformed body: most likely nobody is listening
            return web.Response(status=400)
        received, answer = self._inspector.inspect(
            request.method, request.path, request.headers, body, oversized
        )
        self._report(received)
        if answer.delay:
            await asyncio.sleep(answer.delay)
        if answer.status is None:
            if request.transport is not None:
                request.transport.abort()
            return web.Response()  # never written: the connection is gone
        response = web.Response(status=answer.status, headers=answer.headers)
        if oversized:
            # The rest of the body was never read, so the connection cannot be reused.
            response.force_close()
        return response

    def _report(self, received: ReceivedRequest) -> None:
        if self._keep:
            self.requests.append(received)
        self.history.add(received)
        self._record.write(received)
        with self._seen:
            self._reported += 1
            self._seen.notify_all()
        if self._on_request is not None:
            self._on_request(received)


async def _read(request: web.BaseRequest, limit: int) -> tuple[bytes, bool]:
    """The body and False, or b"" and True once it exceeds `limit` (the rest is not read)."""
    length = request.content_length
    if length is not None and length > limit:
        return b"", True
    content = request.content
    if length is not None:
        return await content.read(), False
    chunks = bytearray()
    while chunk := await content.readany():
        chunks += chunk
        if len(chunks) > limit:
            return b"", True
    return bytes(chunks), False


def _reason(exc: OSError) -> str:
    # asyncio wraps bind errors in a long message; the errno says it plainly.
    if exc.errno and not isinstance(exc, socket.gaierror):
        return os.strerror(exc.errno).lower()
    return (exc.strerror or str(exc)).lower()

"""The receiver's live inspector page: GET / and everything under /_sim/.

The page's files ship in simulator/receiving/static/. New requests reach open pages as
server-sent events, in one batch per BATCH_EVERY seconds encoded once for every page, so
that a page watching 1,000 requests a second costs the receiver a few batches, not a
write per request. A page that falls behind is sent a fresh snapshot instead of the
batches it missed.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import re
import time
from collections.abc import Callable
from importlib import resources
from typing import Any

import orjson
from aiohttp import web

from simulator.receiving.checks import ReceivedRequest
from simulator.receiving.history import STATUS_CLASSES, History, row
from simulator.receiving.resend import resend
from simulator.redaction import REDACTED

PREFIX = "/_sim/"
BATCH_EVERY = 0.25  # seconds between two updates of the open pages
HEARTBEAT_EVERY = 15.0  # a comment line that tells a closed page from a quiet receiver
_QUEUED_BATCHES = 8  # per page; one that has more unread is sent a snapshot instead
_STATIC = {
    "inspector.js": "text/javascript",
    "inspector.css": "text/css",
}
_REQUEST = re.compile(r"/_sim/requests/(\d+)(/body|/resend)?\Z")
# A schema problem is "JSON path: message"; the path is $ then .name, [index] or ["key"].
_PATH_PART = re.compile(r'\.([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\]|\[("(?:[^"\\]|\\.)*")\]')


def _static(name: str) -> bytes:
    return resources.files("simulator.receiving").joinpath("static", name).read_bytes()


class _Page:
    """One open page: the batches waiting for it, or a note that it missed some."""

    __slots__ = ("behind", "queue")

    def __init__(self) -> None:
        self.queue: asyncio.Queue[bytes | None] = asyncio.Queue(_QUEUED_BATCHES)
        self.behind = False


class InspectorPage:
    """Serves the page, its live updates, each request's detail and exact bytes, and
    Resend. `about` describes the receiver (url, path, scheme, keep, …) to the page;
    `secret` is never shown, even where a header carries it."""

    def __init__(
        self,
        history: History,
        about: Callable[[], dict[str, Any]],
        secret: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.history = history
        self._about = about
        self._secret = secret
        self._clock = clock
        self._pages: set[_Page] = set()
        self._broadcaster: asyncio.Task[None] | None = None
        self._sent = 0  # the last request number sent to the open pages
        self._sent_second = 0
        self._files: dict[str, bytes] = {}

    @staticmethod
    def serves(method: str, path: str) -> bool:
        """True for the page's own requests: GET or HEAD of /, and anything under /_sim/."""
        return path.startswith(PREFIX) or (path == "/" and method in ("GET", "HEAD"))

    async def handle(self, request: web.BaseRequest) -> web.StreamResponse:
        path, method = request.path, request.method
        if path == "/":
            return self._file("inspector.html", "text/html")
        if path == "/_sim/events" and method == "GET":
            return await self._stream(request)
        if path.startswith("/_sim/static/") and method in ("GET", "HEAD"):
            name = path.removeprefix("/_sim/static/")
            if name in _STATIC:
                return self._file(name, _STATIC[name])
        match = _REQUEST.match(path)
        if match is not None:
            number, action = int(match.group(1)), match.group(2)
            if action == "/resend" and method == "POST":
                return await self._resend(request, number)
            if action != "/resend" and method in ("GET", "HEAD"):
                return self._request(number, download=action == "/body")
        return _json({"error": f"nothing at {method} {path}"}, status=404)

    async def close(self) -> None:
        """End every open page's stream, so that the server can stop at once."""
        for page in self._pages:
            while page.queue.full():  # what it has not read yet no longer matters
                page.queue.get_nowait()
            page.queue.put_nowait(None)
            page.behind = False
        task, self._broadcaster = self._broadcaster, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # -- the page and its files ------------------------------------------------------

    def _file(self, name: str, content_type: str) -> web.Response:
        data = self._files.get(name)
        if data is None:
            data = self._files[name] = _static(name)
        return web.Response(
            body=data,
            content_type=content_type,
            charset="utf-8",
            headers={"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"},
        )

    # -- live updates -----------------------------------------------------------------

    async def _stream(self, request: web.BaseRequest) -> web.StreamResponse:
        response = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream",
                "Cache-Control": "no-store",
                "X-Accel-Buffering": "no",
            }
        )
        await response.prepare(request)
        page = _Page()
        self._pages.add(page)
        if self._broadcaster is None:
            self._broadcaster = asyncio.create_task(self._broadcast())
        try:
            await response.write(self._snapshot())
            while True:
                try:
                    message = await asyncio.wait_for(page.queue.get(), HEARTBEAT_EVERY)
                except asyncio.TimeoutError:
                    message = b": still here\n\n"
                if message is None:
                    break
                await response.write(message)
        except (ConnectionError, asyncio.CancelledError):
            pass  # the page was closed, or the receiver is stopping
        finally:
            self._pages.discard(page)
        return response

    def _snapshot(self) -> bytes:
        history = self.history
        rows = [row(n, r) for n, r in history.since(0)]
        message = {
            "receiver": {**self._about(), "keep": history.keep},
            "now": self._clock(),
            "rows": rows,
            "total": history.total,
            "dropped": history.dropped,
            "classes": STATUS_CLASSES,
            "chart": history.chart(),
        }
        return _event("hello", message)

    async def _broadcast(self) -> None:
        """While pages are open, send each the requests that arrived since the last batch."""
        self._sent = self.history.total  # a new page's snapshot holds all before it
        self._sent_second = 0
        while self._pages:
            await asyncio.sleep(BATCH_EVERY)
            self._publish()
        self._broadcaster = None

    def _publish(self) -> None:
        history = self.history
        fresh = history.total != self._sent
        message = None
        snapshot = None
        for page in list(self._pages):
            if page.behind:
                if page.queue.qsize() > _QUEUED_BATCHES // 2:
                    continue  # still reading what it has
                snapshot = snapshot or self._snapshot()
                page.queue.put_nowait(snapshot)
                page.behind = False
                continue
            if not fresh:
                continue
            if message is None:
                # Only the newest `keep` of them: a page shows no more than that.
                rows = [row(n, r) for n, r in history.since(self._sent, limit=history.keep)]
                chart = history.chart(self._sent_second)
                message = _event(
                    "batch",
                    {
                        "now": self._clock(),
                        "rows": rows,
                        "total": history.total,
                        "dropped": history.dropped,
                        "chart": chart,
                    },
                )
            try:
                page.queue.put_nowait(message)
            except asyncio.QueueFull:
                page.behind = True
        if fresh:
            self._sent = history.total
            chart = history.chart(self._sent_second)
            if chart:
                self._sent_second = chart[-1][0]

    # -- one request ----------------------------------------------------------------

    def _request(self, number: int, *, download: bool) -> web.Response:
        request = self.history.get(number)
        if request is None:
            return _gone(number, self.history)
        if download:
            suffix = "bin" if request.not_json else "json"
            return web.Response(
                body=request.body,
                content_type="application/octet-stream",
                headers={
                    "Content-Disposition": f'attachment; filename="request-{number}.{suffix}"',
                    "Cache-Control": "no-store",
                },
            )
        return _json(self.detail(number, request))

    def detail(self, number: int, request: ReceivedRequest) -> dict[str, Any]:
        """Everything the page shows for one request; the body as text when it is
        UTF-8, else base64 (the record file's convention)."""
        record = request.to_record()
        return {
            **row(number, request),
            # The user's own receiver: signatures and tokens are shown, the secret is not.
            "headers": {
                k: REDACTED if self._secret and self._secret in v else v
                for k, v in record["headers"].items()
            },
            "body": record["body"],
            "body_base64": record["body_base64"],
            "problems": [split_problem(p) for p in request.schema_problems],
        }

    async def _resend(self, request: web.BaseRequest, number: int) -> web.Response:
        # A page on another site must not make this receiver post: only this page's own
        # script sends JSON (a cross-site form cannot) from this origin.
        origin = request.headers.get("Origin")
        if origin is not None and origin != f"{request.scheme}://{request.host}":
            return _json({"error": "Resend only answers the inspector page itself"}, 403)
        if request.content_type != "application/json":
            return _json({"error": 'send JSON: {"url": "http://…"}'}, 415)
        try:
            target = (await request.json()).get("url")
        except (ValueError, AttributeError):
            target = None
        if not isinstance(target, str) or not target.strip():
            return _json({"error": "give the URL to resend to"}, 400)
        original = self.history.get(number)
        if original is None:
            return _gone(number, self.history)
        return _json(await resend(original, target.strip()))


def page_address(host: str, port: int) -> str:
    """The page's URL on `host`; a wildcard bind is reached on loopback."""
    host = {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "::1"}.get(host, host)
    return f"http://{f'[{host}]' if ':' in host else host}:{port}/"


def is_loopback(host: str) -> bool:
    """True for a host only this machine reaches: 127.0.0.0/8, ::1, localhost."""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def split_problem(problem: str) -> dict[str, Any]:
    """A schema problem "$.data.order.amount: message" as its path's parts (names and
    indexes), the path's text and the message; path None when it has no JSON path."""
    parts: list[str | int] = []
    pos = 1
    if problem.startswith("$"):
        while (match := _PATH_PART.match(problem, pos)) is not None:
            name, index, quoted = match.groups()
            parts.append(int(index) if index is not None else name or orjson.loads(quoted))
            pos = match.end()
        if problem.startswith(": ", pos):
            return {"path": parts, "text": problem[:pos], "message": problem[pos + 2 :]}
    return {"path": None, "text": "", "message": problem}


def _event(name: str, data: dict[str, Any]) -> bytes:
    return b"event: " + name.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


def _json(data: dict[str, Any], status: int = 200) -> web.Response:
    return web.Response(
        body=orjson.dumps(data),
        status=status,
        content_type="application/json",
        headers={"Cache-Control": "no-store"},
    )


def _gone(number: int, history: History) -> web.Response:
    if 1 <= number <= history.total:
        why = f"request {number} is no longer kept: only the last {history.keep:,} are"
        return _json({"error": why}, 410)
    return _json({"error": f"no request {number}"}, 404)

"""The send client over real loopback sockets: keep-alive, framing, failures, other servers."""

from __future__ import annotations

import asyncio
import base64
import errno
import http.server
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from aiohttp import web

from simulator.sending import client
from simulator.sending.client import Session, error_detail, error_kind
from simulator.sending.http1 import ResponseError

BODY = b'{"event":"customer.order.created"}'
HEADERS = {"Content-Type": "application/json", "X-Signature": "abc"}


class Scripted:
    """A loopback server that reads each request whole and answers what `answer` returns:
    (bytes to write, close the connection after them). It counts connections and keeps
    every request it read."""

    def __init__(self, answer: Callable[[int, bytes], tuple[bytes, bool]]) -> None:
        self.answer = answer
        self.connections = 0
        self.requests: list[tuple[bytes, bytes]] = []  # (head, body)
        self.server: asyncio.Server | None = None

    async def __aenter__(self) -> str:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self.server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}/hooks"

    async def __aexit__(self, *exc_info: object) -> None:
        self.server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
                body = await reader.readexactly(length)
                self.requests.append((head, body))
                data, close = self.answer(len(self.requests), head)
                writer.write(data)
                await writer.drain()
                if close:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        writer.close()


OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


def _loops():
    yield pytest.param(asyncio.run, id="asyncio")
    try:
        import uvloop
    except ImportError:
        return
    yield pytest.param(uvloop.run, id="uvloop")  # what send runs on when it is installed


@pytest.fixture(params=list(_loops()))
def run(request):
    """Runs a coroutine on a fresh loop: asyncio's, and uvloop's when installed."""
    return request.param


def test_keep_alive_carries_every_request_on_one_connection(run):
    async def main():
        server = Scripted(lambda n, head: (OK, False))
        async with server as url, Session(url, timeout=5) as session:
            results = [await session.post(BODY, HEADERS) for _ in range(5)]
        return server, results

    server, results = run(main())
    assert results == [(200, None, None, None)] * 5
    assert server.connections == 1
    head, body = server.requests[0]
    assert body == BODY
    port = head.split(b"Host: 127.0.0.1:")[1].split(b"\r\n")[0]
    assert head == (
        b"POST /hooks HTTP/1.1\r\nHost: 127.0.0.1:" + port + b"\r\n"
        b"Content-Type: application/json\r\nX-Signature: abc\r\n"
        b"Content-Length: %d\r\n\r\n" % len(BODY)
    )


def test_concurrent_requests_open_one_connection_each(run):
    async def main():
        server = Scripted(lambda n, head: (OK, False))
        async with server as url, Session(url, timeout=5) as session:
            for _ in range(3):
                await asyncio.gather(*(session.post(BODY, HEADERS) for _ in range(8)))
        return server

    server = run(main())
    assert server.connections == 8 and len(server.requests) == 24


def test_connection_close_is_honoured_even_if_the_server_keeps_the_socket_open(run):
    close = b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"

    async def main():
        server = Scripted(lambda n, head: (close, False))
        async with server as url, Session(url, timeout=5) as session:
            results = [await session.post(BODY, HEADERS) for _ in range(3)]
        return server, results

    server, results = run(main())
    assert results == [(200, None, None, None)] * 3
    assert server.connections == 3


def test_an_idle_connection_the_server_dropped_is_not_reused(run):
    async def main():
        # Keep-alive answers, but the server closes each connection once idle (as a
        # receiver with a short keep-alive timeout does).
        server = Scripted(lambda n, head: (OK, True))
        async with server as url, Session(url, timeout=5) as session:
            results = []
            for _ in range(3):
                results.append(await session.post(BODY, HEADERS))
                await asyncio.sleep(0.05)  # the server's FIN arrives while idle
            return server, results

    server, results = run(main())
    assert results == [(200, None, None, None)] * 3
    assert server.connections == 3


def test_a_reused_connection_closed_before_an_answer_sends_once_more_on_a_new_one(run):
    # The server's keep-alive runs out just as the next request goes: it closes the
    # connection without a byte of an answer. On a reused connection that is not a failed
    # attempt but a connection to replace; on a new one it is a reset.
    async def main():
        server = Scripted(lambda n, head: (OK, False) if n != 2 else (b"", True))
        told = []
        async with server as url, Session(url, timeout=5) as session:
            first = await session.post(BODY, HEADERS, lambda *why: told.append(why))
            second = await session.post(BODY, HEADERS, lambda *why: told.append(why))
            server.answer = lambda n, head: (b"", True)
            third = await session.post(BODY, HEADERS, lambda *why: told.append(why))
        return server, [first, second, third], told

    server, results, told = run(main())
    reset = (None, "reset", "the server closed the connection without answering", None)
    assert results == [(200, None, None, None), (200, None, None, None), reset]
    # 1 and 2 on the first connection, 2 again and 3 on the second, 3 again on a third.
    assert len(server.requests) == 5 and server.connections == 3
    # The server may have read what it closed on: the caller hears of each such try.
    again = (
        "reset",
        "the server closed the connection without answering (reused): sent again on a new one",
    )
    assert told == [again, again]


def test_idle_connections_expire(run, monkeypatch):
    monkeypatch.setattr(client, "IDLE_TIMEOUT_S", 0.05)

    async def main():
        server = Scripted(lambda n, head: (OK, False))
        async with server as url, Session(url, timeout=5) as session:
            results = [await session.post(BODY, HEADERS), await session.post(BODY, HEADERS)]
            await asyncio.sleep(0.1)
            results.append(await session.post(BODY, HEADERS))
        return server, results

    server, results = run(main())
    assert results == [(200, None, None, None)] * 3
    assert server.connections == 2


def test_without_keep_alive_every_request_has_its_own_connection(run):
    async def main():
        server = Scripted(lambda n, head: (OK, False))
        async with server as url, Session(url, timeout=5, keep_alive=False) as session:
            headers = {**HEADERS, "Connection": "close"}
            results = [await session.post(BODY, headers) for _ in range(3)]
        return server, results

    server, results = run(main())
    assert results == [(200, None, None, None)] * 3
    assert server.connections == 3
    assert b"\r\nConnection: close\r\n" in server.requests[0][0]


def test_retry_after_is_read_on_429_and_503_only(run):
    answers = {
        1: b"HTTP/1.1 429 Slow Down\r\nRetry-After: 3\r\nContent-Length: 0\r\n\r\n",
        2: b"HTTP/1.1 503 Busy\r\nretry-after: Wed, 21 Oct 2026 07:28:00 GMT\r\n"
        b"Content-Length: 0\r\n\r\n",
        3: b"HTTP/1.1 500 Oops\r\nRetry-After: 3\r\nContent-Length: 0\r\n\r\n",
    }

    async def main():
        server = Scripted(lambda n, head: (answers[n], False))
        async with server as url, Session(url, timeout=5) as session:
            return [await session.post(BODY, HEADERS) for _ in range(3)]

    assert run(main()) == [
        (429, None, None, "3"),
        (503, None, None, "Wed, 21 Oct 2026 07:28:00 GMT"),
        (500, None, None, None),
    ]


def test_garbage_is_a_failed_attempt_and_the_next_one_gets_a_fresh_connection(run):
    async def main():
        server = Scripted(lambda n, head: (b"SSH-2.0-nope\r\n\r\n" if n == 1 else OK, False))
        async with server as url, Session(url, timeout=5) as session:
            results = [await session.post(BODY, HEADERS) for _ in range(2)]
        return server, results

    server, results = run(main())
    garbage = (None, "other", "not an HTTP/1.x status line: 'SSH-2.0-nope'", None)
    assert results == [garbage, (200, None, None, None)]
    assert server.connections == 2


def test_bytes_nobody_asked_for_end_the_connection(run):
    async def main():
        server = Scripted(lambda n, head: (OK + OK if n == 1 else OK, False))
        async with server as url, Session(url, timeout=5) as session:
            results = [await session.post(BODY, HEADERS) for _ in range(2)]
        return server, results

    server, results = run(main())
    assert results == [(200, None, None, None)] * 2
    assert server.connections == 2


def test_a_response_cut_short_is_a_reset(run):
    async def main():
        server = Scripted(lambda n, head: (b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nok", True))
        async with server as url, Session(url, timeout=5) as session:
            return await session.post(BODY, HEADERS)

    cut = "the server closed the connection before its answer ended"
    assert run(main()) == (None, "reset", cut, None)


def test_no_answer_within_the_timeout_is_a_timeout(run):
    async def main():
        server = Scripted(lambda n, head: (b"", False))
        async with server as url, Session(url, timeout=0.2) as session:
            started = time.monotonic()
            result = await session.post(BODY, HEADERS)
            return result, time.monotonic() - started

    result, took = run(main())
    assert result == (None, "timeout", "no answer within the timeout", None)
    assert 0.19 < took < 1.0


def test_a_body_that_stalls_is_a_timeout_that_says_so(run):
    async def main():
        partial = b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nok"
        server = Scripted(lambda n, head: (partial, False))
        async with server as url, Session(url, timeout=0.2) as session:
            return await session.post(BODY, HEADERS)

    assert run(main()) == (None, "timeout", "the answer did not end within the timeout", None)


def test_a_tls_handshake_that_stalls_is_a_timeout_that_says_so(run):
    async def main():
        server = Scripted(lambda n, head: (b"", False))  # accepts, never says a TLS word
        async with server as url:
            url = url.replace("http:", "https:")
            async with Session(url, timeout=0.2, tls=client.ssl_context()) as session:
                return await session.post(BODY, HEADERS)

    assert run(main()) == (
        None,
        "timeout",
        "no connection within the timeout (TCP connect or TLS handshake)",
        None,
    )


def test_a_refused_connection_is_a_connect_error(run):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]

    async def main():
        async with Session(f"http://127.0.0.1:{port}/", timeout=2) as session:
            return await session.post(BODY, HEADERS)

    assert run(main()) == (None, "connect", "connection refused", None)


def test_an_unresolvable_host_is_a_connect_error(run):
    async def main():
        async with Session("http://no-such-host.invalid/", timeout=5) as session:
            return await session.post(BODY, HEADERS)

    status, kind, detail, retry_after = run(main())
    assert (status, kind, retry_after) == (None, "connect", None)
    assert detail.startswith("cannot resolve the host: ")  # then the resolver's own words


def test_a_cancelled_post_closes_its_connection(run):
    async def main():
        server = Scripted(lambda n, head: (b"" if n == 1 else OK, False))
        async with server as url, Session(url, timeout=5) as session:
            task = asyncio.create_task(session.post(BODY, HEADERS))
            while not server.requests:
                await asyncio.sleep(0.01)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert not session._idle
            return await session.post(BODY, HEADERS), server

    result, server = run(main())
    assert result == (200, None, None, None) and server.connections == 2


def test_credentials_and_a_host_header_reach_the_server(run):
    async def main():
        server = Scripted(lambda n, head: (OK, False))
        async with server as url:
            url = url.replace("http://", "http://jack:s%3Acret@")
            async with Session(url, timeout=5) as session:
                await session.post(BODY, {**HEADERS, "Host": "api.example.com"})
        return server

    head = run(main()).requests[0][0]
    assert b"\r\nHost: api.example.com\r\n" in head and head.count(b"Host:") == 1
    assert b"\r\nAuthorization: Basic " + base64.b64encode(b"jack:s:cret") + b"\r\n" in head


def test_error_kinds_of_exceptions():
    assert error_kind(TimeoutError()) == "timeout"
    assert error_kind(asyncio.TimeoutError()) == "timeout"  # a different class before 3.11
    assert error_kind(ConnectionResetError()) == "reset"
    assert error_kind(BrokenPipeError()) == "reset"
    assert error_kind(ConnectionRefusedError(), connecting=True) == "connect"
    assert error_kind(socket.gaierror(), connecting=True) == "connect"
    assert error_kind(ValueError()) == "other"


def _ssl_error(reason: str) -> ssl.SSLError:
    exc = ssl.SSLError(1, f"[SSL: {reason}] ...")
    exc.reason = reason  # as OpenSSL's errors carry it
    return exc


@pytest.mark.parametrize(
    ("exc", "connecting", "detail"),
    [
        (TimeoutError(), True, "no connection within the timeout"),
        (asyncio.TimeoutError(), False, "no answer within the timeout"),
        (ConnectionResetError(errno.ECONNRESET, "Connection reset by peer"), False,
         "connection reset by peer"),
        # asyncio's own words in strerror give way to the system's.
        (ConnectionRefusedError(errno.ECONNREFUSED, "Connect call failed ('::1', 9)"), True,
         "connection refused"),
        (ConnectionResetError("the server closed the connection without answering"), False,
         "the server closed the connection without answering"),
        (ConnectionResetError(), True, "connection reset"),  # asyncio's TLS, mid-handshake
        (socket.gaierror(socket.EAI_NONAME, "Name or service not known"), True,
         "cannot resolve the host: Name or service not known"),
        (_ssl_error("WRONG_VERSION_NUMBER"), True,
         "TLS: WRONG_VERSION_NUMBER (the server may speak plain HTTP: try an http:// URL)"),
        (_ssl_error("TLSV1_ALERT_PROTOCOL_VERSION"), True, "TLS: TLSV1_ALERT_PROTOCOL_VERSION"),
        (ResponseError("bad chunk size 'zz'"), False, "bad chunk size 'zz'"),
        (ValueError("odd"), False, "ValueError: odd"),
        (RuntimeError(), False, "RuntimeError"),
    ],
)  # fmt: skip
def test_error_details_say_what_went_wrong(exc, connecting, detail):
    assert error_detail(exc, connecting) == detail


# -- third-party servers ----------------------------------------------------------------------


def test_aiohttp_web_streams_a_chunked_answer(run):
    async def stream(request: web.Request) -> web.StreamResponse:
        assert await request.read() == BODY
        response = web.StreamResponse(status=202)
        await response.prepare(request)
        for piece in (b"a" * 10, b"b" * 70_000, b"c"):
            await response.write(piece)
        await response.write_eof()
        return response

    async def main():
        app = web.Application()
        app.router.add_post("/hooks", stream)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]
        try:
            async with Session(f"http://127.0.0.1:{port}/hooks", timeout=5) as session:
                results = [await session.post(BODY, HEADERS) for _ in range(3)]
                return results, len(session._idle)
        finally:
            await runner.cleanup()

    results, connections = run(main())
    assert results == [(202, None, None, None)] * 3 and connections == 1


@contextmanager
def _stdlib_server(version: str, tls: ssl.SSLContext | None = None) -> Iterator[str]:
    handler = type("Handler", (_Handler,), {"protocol_version": version})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    if tls is not None:
        # The standard library's TLS sockets close without a close_notify.
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    scheme = "https" if tls else "http"
    try:
        yield f"{scheme}://127.0.0.1:{server.server_address[1]}/hooks"
    finally:
        server.shutdown()
        server.server_close()


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(201 if body == BODY else 400)
        if self.protocol_version == "HTTP/1.1":
            self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.mark.parametrize("version", ["HTTP/1.0", "HTTP/1.1"])
def test_the_standard_librarys_server_in_both_versions(version, run):
    async def main(url):
        async with Session(url, timeout=5) as session:
            return [await session.post(BODY, HEADERS) for _ in range(4)], len(session._idle)

    with _stdlib_server(version) as url:
        results, connections = run(main(url))
    assert results == [(201, None, None, None)] * 4
    # HTTP/1.0 closes after each answer, whose body runs to the close; 1.1 keeps it open.
    assert connections == (0 if version == "HTTP/1.0" else 1)


def test_over_tls_a_body_that_runs_to_a_close_without_close_notify_is_whole(run, self_signed):
    cert, key = self_signed
    server_tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_tls.load_cert_chain(cert, key)

    async def main(url):
        async with Session(url, timeout=5, tls=client.ssl_context(ca_bundle=str(cert))) as session:
            return [await session.post(BODY, HEADERS) for _ in range(3)]

    with _stdlib_server("HTTP/1.0", server_tls) as url:
        assert run(main(url)) == [(201, None, None, None)] * 3


def test_an_untrusted_certificate_is_a_tls_error(run, self_signed):
    cert, key = self_signed
    server_tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_tls.load_cert_chain(cert, key)

    async def main(url, tls=None):
        async with Session(url, timeout=5, tls=tls) as session:
            return await session.post(BODY, HEADERS)

    with _stdlib_server("HTTP/1.1", server_tls) as url:
        untrusted = (None, "tls", "certificate not trusted: self-signed certificate", None)
        elsewhere = url.replace("127.0.0.1", "localhost")
        assert run(main(url)) == untrusted
        assert run(main(elsewhere)) == untrusted  # the chain is checked before the name
        trusting = client.ssl_context(ca_bundle=str(cert))
        assert run(main(elsewhere, trusting)) == (
            None,
            "tls",
            "certificate is for another host: Hostname mismatch, certificate is not valid "
            "for 'localhost'",
            None,
        )

"""The HTTP side of sending: keep-alive connections to the target, one POST per attempt."""

from __future__ import annotations

import asyncio
import collections
import errno
import os
import socket
import ssl
from collections.abc import Callable
from urllib.parse import urlsplit

from simulator import __version__
from simulator.errors import DeliveryError, UsageError
from simulator.redaction import public_url
from simulator.sending.http1 import ResponseError, ResponseReader
from simulator.sending.request import request_head, target

USER_AGENT = f"webhook-simulator/{__version__}"
CONNECT_TIMEOUT_S = 3.0
IDLE_TIMEOUT_S = 60.0  # an idle connection older than this is closed, not reused
_RETRY_AFTER = frozenset({429, 503})
_RESETS = (ConnectionResetError, BrokenPipeError, ConnectionAbortedError)
_RESET_ERRNOS = frozenset({errno.ECONNRESET, errno.EPIPE, errno.ECONNABORTED})


def error_kind(exc: BaseException, connecting: bool = False) -> str:
    """The failure class of an attempt that got no HTTP status."""
    # asyncio.TimeoutError is the builtin TimeoutError only from 3.11.
    if isinstance(exc, (TimeoutError, asyncio.TimeoutError)):
        return "timeout"
    if isinstance(exc, ssl.SSLError):
        return "tls"
    if connecting and isinstance(exc, OSError):
        return "connect"
    if isinstance(exc, _RESETS) or getattr(exc, "errno", None) in _RESET_ERRNOS:
        return "reset"
    return "other"


def error_detail(exc: BaseException, connecting: bool = False) -> str:
    """What went wrong, in a few words, for the records: the kind alone says too little.

    "other" may be a response that is not HTTP, "reset" a server that closed mid-answer,
    "tls" an expired certificate: the reason is what a receiver's developer fixes.
    """
    if isinstance(exc, (TimeoutError, asyncio.TimeoutError)):
        return "no connection within the timeout" if connecting else "no answer within the timeout"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return cert_problem(exc)
    if isinstance(exc, ssl.SSLError):
        return f"TLS: {tls_reason(exc)}"
    if isinstance(exc, ResponseError):
        return str(exc)  # says what in the answer was not HTTP/1.x
    if isinstance(exc, socket.gaierror):
        return f"cannot resolve the host: {exc.strerror or exc}"
    if isinstance(exc, OSError):
        if exc.errno is not None:
            # The system's words: asyncio puts its own ("Connect call failed …") in strerror.
            return os.strerror(exc.errno).lower()
        return str(exc) or _BARE.get(type(exc), type(exc).__name__)
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


# What asyncio's TLS layer raises with no words of its own, mid-handshake.
_BARE: dict[type[OSError], str] = {
    ConnectionResetError: "connection reset",
    ConnectionAbortedError: "connection aborted",
    BrokenPipeError: "broken pipe",
}


# OpenSSL's X509_V_ERR_HOSTNAME_MISMATCH and _IP_ADDRESS_MISMATCH: a valid certificate,
# for another name or address.
_NAME_MISMATCH = frozenset({62, 64})


def cert_problem(exc: ssl.SSLCertVerificationError) -> str:
    """A certificate for another host is not one that is untrusted: each has its own fix."""
    message = exc.verify_message.rstrip(".")
    if exc.verify_code in _NAME_MISMATCH:
        return f"certificate is for another host: {message}"
    return f"certificate not trusted: {message}"


def tls_reason(exc: ssl.SSLError) -> str:
    """OpenSSL's reason code, with a hint where one code has one likely cause."""
    reason = getattr(exc, "reason", None) or str(exc)
    if reason == "WRONG_VERSION_NUMBER":
        return f"{reason} (the server may speak plain HTTP: try an http:// URL)"
    return reason


def ssl_context(insecure: bool = False, ca_bundle: str | None = None) -> ssl.SSLContext:
    """Certificates verified against the system store (plus `ca_bundle`), or not at all.

    Loading the system store takes tens of milliseconds: build this before a run starts.
    """
    if insecure:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    context = ssl.create_default_context()
    if ca_bundle:
        try:
            context.load_verify_locations(cafile=ca_bundle)
        except ssl.SSLError:
            raise UsageError(
                f"invalid --ca-bundle '{ca_bundle}': no PEM certificate in it "
                "(-----BEGIN CERTIFICATE-----)"
            ) from None
        except OSError as exc:
            raise UsageError(f"invalid --ca-bundle '{ca_bundle}': {exc.strerror}") from None
    return context


def tls_for(
    url: str, insecure: bool = False, ca_bundle: str | None = None
) -> ssl.SSLContext | None:
    """ssl_context() for an https URL; None for plain http."""
    return ssl_context(insecure, ca_bundle) if url.startswith("https:") else None


def _closed(reader: ResponseReader) -> str:
    """Why a connection's close failed the request: how much of an answer had come."""
    if not reader.started:
        return "the server closed the connection without answering"
    return "the server closed the connection before its answer ended"


class _Connection(asyncio.Protocol):
    """One keep-alive connection: at most one request on it at a time."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.reader = ResponseReader()
        self.waiter: asyncio.Future[None] | None = None
        self.closed = False
        self.idle_since = 0.0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        waiter = self.waiter
        if waiter is None or waiter.done():
            self.close()  # bytes nobody asked for: the connection can no longer be trusted
            return
        try:
            if self.reader.feed(data):
                waiter.set_result(None)
        except ResponseError as exc:
            self.close()
            waiter.set_exception(exc)

    def eof_received(self) -> bool:
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            if self.reader.feed_eof():
                waiter.set_result(None)
            else:
                waiter.set_exception(ConnectionResetError(_closed(self.reader)))
        self.closed = True
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            # uvloop ends a TLS connection closed without close_notify here, with no
            # eof_received first: for a body that runs to the close, that is its end.
            if exc is None and self.reader.feed_eof():
                waiter.set_result(None)
            else:
                waiter.set_exception(exc or ConnectionResetError(_closed(self.reader)))

    def expire(self) -> None:
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_exception(TimeoutError())
        self.close()

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()


class Session:
    """Keep-alive HTTP/1.1 connections to one URL, POSTing one request per connection at a
    time. The engine bounds how many requests run at once, and so how many connections
    open. Redirects are not followed: a webhook sender treats a 3xx as a failed delivery.
    A connection is only ever the session's while idle: a post that fails or is
    cancelled closes its own. `keep_alive` False closes each connection after its answer.

    Not aiohttp's ClientSession: its per-request machinery (cookies, tracing, redirects,
    header multidicts, timers) costs several times the request itself, and `send`'s
    throughput is what that leaves. asyncio's transports and TLS carry the bytes.
    """

    def __init__(
        self,
        url: str,
        *,
        timeout: float,
        tls: ssl.SSLContext | None = None,
        keep_alive: bool = True,
    ) -> None:
        self._target = target(url)
        self._timeout = timeout
        self._ssl = (tls or ssl_context()) if self._target.tls else None
        self._keep_alive = keep_alive
        # Most recently used last: reuse takes the warmest, expiry the coldest.
        self._idle: collections.deque[_Connection] = collections.deque()
        self._loop = asyncio.get_running_loop()

    async def __aenter__(self) -> Session:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        for connection in self._idle:
            connection.close()
        self._idle.clear()

    async def post(
        self,
        body: bytes,
        headers: dict[str, str],
        resent: Callable[[str, str], None] | None = None,
    ) -> tuple[int | None, str | None, str | None, str | None]:
        """(status, error kind, error detail, Retry-After) of one POST within the timeout,
        connecting included; never raises for a transport failure.

        A request that fails on a reused connection before any byte of an answer goes
        again, once, on a new connection, as browsers do: most often the server's
        keep-alive ran out as it was sent. But the server may have read it first, so
        `resent(kind, detail)` is told of the failed try: the records must show it.
        """
        loop = self._loop
        deadline = loop.time() + self._timeout
        head = request_head(self._target, headers, len(body)) + body
        connection = self._reusable(loop.time())
        reused = connection is not None
        while True:
            try:
                if connection is None:
                    connection = await self._connect(deadline)
                reader = connection.reader
                reader.reset()
                waiter = connection.waiter = loop.create_future()
                connection.transport.write(head)  # type: ignore[union-attr]
                timer = loop.call_at(deadline, connection.expire)
                try:
                    await waiter
                finally:
                    timer.cancel()
                break
            except BaseException as exc:
                if connection is not None:
                    connection.close()
                if not isinstance(exc, Exception):
                    raise  # cancelled: the engine is winding down
                if reused and not reader.started and error_kind(exc) == "reset":
                    if resent is not None:
                        resent("reset", f"{error_detail(exc)} (reused): sent again on a new one")
                    connection, reused = None, False
                    continue
                connecting = connection is None
                kind, detail = error_kind(exc, connecting), error_detail(exc, connecting)
                if kind == "timeout":
                    if not connecting and reader.started:
                        detail = "the answer did not end within the timeout"  # a body stalls
                    elif connecting and self._ssl is not None:
                        # The TLS layer hides which of the two never finished.
                        detail = "no connection within the timeout (TCP connect or TLS handshake)"
                return None, kind, detail, None
        status = reader.status
        retry_after = reader.retry_after if status in _RETRY_AFTER else None
        if self._keep_alive and reader.keep_alive and not reader.leftover and not connection.closed:
            connection.waiter = None
            connection.idle_since = loop.time()
            self._idle.append(connection)
        else:
            connection.close()
        return status, None, None, retry_after

    def _reusable(self, now: float) -> _Connection | None:
        """The most recently used open idle connection, after closing those idle too long:
        a NAT or load balancer may have dropped them without a word."""
        idle = self._idle
        while idle and now - idle[0].idle_since > IDLE_TIMEOUT_S:
            idle.popleft().close()
        while idle:
            connection = idle.pop()
            if not connection.closed:
                return connection
        return None

    async def _connect(self, deadline: float) -> _Connection:
        target = self._target
        opening = self._loop.create_connection(
            _Connection,
            target.host,
            target.port,
            ssl=self._ssl,
            server_hostname=target.host if target.tls else None,
        )
        _, connection = await asyncio.wait_for(opening, deadline - self._loop.time())
        return connection


def check_target(
    url: str,
    timeout: float = CONNECT_TIMEOUT_S,
    tls: ssl.SSLContext | None = None,
    ca_bundle: str | None = None,
) -> None:
    """Resolve the host and open one TCP connection (and, given `tls`, complete a TLS
    handshake on it), or raise DeliveryError saying why: once, before a run, rather than
    once per event. `ca_bundle` is the file `tls` trusts, named in the advice."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    where = f"cannot connect to {public_url(url)}"
    try:
        addresses = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise DeliveryError(f"{where}: cannot resolve host '{host}'") from None
    reason = "no address"
    for family, kind, proto, _, address in addresses:
        with socket.socket(family, kind, proto) as sock:
            sock.settimeout(timeout)
            try:
                sock.connect(address)
            except TimeoutError:
                reason = f"timed out after {timeout:g}s"
                continue
            except OSError as exc:
                reason = (exc.strerror or str(exc)).lower()
                continue
            if tls is not None and parts.scheme == "https":
                _check_tls(sock, tls, host, where, timeout, ca_bundle)
            return
    raise DeliveryError(f"{where}: {reason}")


def _check_tls(
    sock: socket.socket,
    tls: ssl.SSLContext,
    host: str,
    where: str,
    timeout: float,
    ca_bundle: str | None,
) -> None:
    try:
        with tls.wrap_socket(sock, server_hostname=host):
            return
    except ssl.SSLCertVerificationError as exc:
        if exc.verify_code in _NAME_MISMATCH:
            fix = f"use a host name it is for in the URL, not '{host}'"
        elif ca_bundle:
            fix = f"no CA in '{ca_bundle}' or the system's signed it"
        else:
            fix = "give --ca-bundle FILE with the CA that signed it"
        hint = f"{fix}, or --insecure to skip the check"
        raise DeliveryError(f"{where}: TLS {cert_problem(exc)} ({hint})") from None
    except ssl.SSLError as exc:
        raise DeliveryError(f"{where}: TLS handshake failed: {tls_reason(exc)}") from None
    except TimeoutError:
        raise DeliveryError(f"{where}: TLS handshake timed out after {timeout:g}s") from None
    except OSError as exc:
        reason = (exc.strerror or str(exc)).lower()
        raise DeliveryError(f"{where}: TLS handshake failed: {reason}") from None

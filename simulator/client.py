"""The HTTP side of sending: a pooled keep-alive session, one POST per attempt, failure kinds."""

from __future__ import annotations

import asyncio
import errno
import socket
import ssl
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from simulator import __version__
from simulator.errors import DeliveryError
from simulator.sendconfig import public_url

USER_AGENT = f"webhook-simulator/{__version__}"
ERROR_KINDS = ("status", "timeout", "connect", "reset", "tls", "other")
CONNECT_TIMEOUT_S = 3.0
_RETRY_AFTER = frozenset({429, 503})
_RESET_ERRNOS = frozenset({errno.ECONNRESET, errno.EPIPE, errno.ECONNABORTED})


def error_kind(exc: BaseException) -> str:
    """The failure class of an attempt that got no HTTP status."""
    # aiohttp's timeouts subclass asyncio.TimeoutError, which is TimeoutError only from 3.11.
    if isinstance(exc, (TimeoutError, asyncio.TimeoutError)):
        return "timeout"
    if isinstance(exc, (aiohttp.ClientSSLError, ssl.SSLError)):
        return "tls"
    if isinstance(exc, aiohttp.ClientConnectorError):
        return "connect"
    if isinstance(exc, (aiohttp.ServerDisconnectedError, aiohttp.ClientPayloadError)):
        return "reset"
    if isinstance(exc, ConnectionResetError) or getattr(exc, "errno", None) in _RESET_ERRNOS:
        return "reset"
    return "other"


def ssl_context(insecure: bool = False, ca_bundle: str | None = None) -> ssl.SSLContext | bool:
    """Certificates verified against the system store (plus `ca_bundle`), or not at all.

    Loading the system store takes tens of milliseconds: build this before a run starts.
    """
    if insecure:
        return False
    context = ssl.create_default_context()
    if ca_bundle:
        try:
            context.load_verify_locations(cafile=ca_bundle)
        except (OSError, ssl.SSLError) as exc:
            reason = getattr(exc, "strerror", None) or str(exc)
            raise DeliveryError(f"cannot load CA bundle '{ca_bundle}': {reason}") from None
    return context


def open_session(*, limit: int, timeout: float, ssl: ssl.SSLContext | bool = True) -> Any:
    """A keep-alive session with at most `limit` connections; call inside a running loop."""
    connector = aiohttp.TCPConnector(limit=limit, ssl=ssl, keepalive_timeout=60)
    return aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=timeout))


async def post(
    session: Any, url: str, body: bytes, headers: dict[str, str]
) -> tuple[int | None, str | None, str | None]:
    """(status, error kind, Retry-After) of one POST; never raises for a transport failure.

    Redirects are not followed: a webhook sender treats a 3xx as a failed delivery.
    """
    try:
        async with session.post(url, data=body, headers=headers, allow_redirects=False) as answer:
            await answer.read()
            retry_after = (
                answer.headers.get("Retry-After") if answer.status in _RETRY_AFTER else None
            )
            return answer.status, None, retry_after
    except Exception as exc:  # every transport failure is a counted outcome, not a crash
        return None, error_kind(exc), None


def check_target(url: str, timeout: float = CONNECT_TIMEOUT_S) -> None:
    """Resolve the host and open one TCP connection, or raise DeliveryError saying why."""
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
                return
            except TimeoutError:
                reason = f"timed out after {timeout:g}s"
            except OSError as exc:
                reason = (exc.strerror or str(exc)).lower()
    raise DeliveryError(f"{where}: {reason}")

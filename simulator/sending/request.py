"""HTTP/1.1 requests for `send`: where a URL's requests go, and each POST's head."""

from __future__ import annotations

import base64
import contextlib
from dataclasses import dataclass
from urllib.parse import quote, unquote, urlsplit

_UNRESERVED = "/%:@!$&'()*+,;=-._~"


@dataclass(frozen=True)
class Target:
    """Where a URL's requests go, and the start of every request head to it."""

    host: str  # for the socket: no brackets, IDNA-encoded
    port: int
    tls: bool
    line: bytes  # the request line
    host_line: bytes
    auth: bytes  # an Authorization line from user:password in the URL, or nothing


def target(url: str) -> Target:
    """The Target of an absolute http(s) URL (already checked by sendconfig.check_url)."""
    parts = urlsplit(url)
    tls = parts.scheme == "https"
    host = parts.hostname or ""
    # An IP literal stays as it is; a name IDNA refuses is left for the resolver to refuse.
    with contextlib.suppress(UnicodeError):
        host = host.encode("idna").decode("ascii")
    port = parts.port or (443 if tls else 80)
    shown = f"[{host}]" if ":" in host else host
    if parts.port is not None and parts.port != (443 if tls else 80):
        shown = f"{shown}:{parts.port}"
    path = quote(parts.path or "/", safe=_UNRESERVED)
    if parts.query:
        path = f"{path}?{quote(parts.query, safe=_UNRESERVED + '?')}"
    auth = b""
    if parts.username is not None or parts.password is not None:
        # As a browser does: credentials in the URL become Basic authentication.
        pair = f"{unquote(parts.username or '')}:{unquote(parts.password or '')}"
        auth = b"Authorization: Basic %s\r\n" % base64.b64encode(pair.encode())
    line = f"POST {path} HTTP/1.1\r\n".encode("ascii")
    return Target(host, port, tls, line, f"Host: {shown}\r\n".encode("ascii"), auth)


def request_head(target: Target, headers: dict[str, str], length: int) -> bytes:
    """The whole request head for a body of `length` bytes. A Host among `headers` (a
    --header "Host: ...") names the virtual host in place of the URL's."""
    host = target.host_line
    fields = []
    for name, value in headers.items():
        if name.lower() == "host":
            host = b"Host: %s\r\n" % _host_name(value)
        else:
            fields.append(f"{name}: {value}\r\n")
    return b"%s%s%s%sContent-Length: %d\r\n\r\n" % (
        target.line,
        host,
        target.auth,
        "".join(fields).encode(),
        length,
    )


def _host_name(value: str) -> bytes:
    """A Host header's value as sent: IDNA for a name that is not ASCII."""
    if value.isascii():
        return value.encode()
    try:
        return value.encode("idna")
    except UnicodeError:
        return value.encode()  # not a name IDNA knows: sent as typed, for the server to judge

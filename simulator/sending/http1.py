"""HTTP/1.1 on the wire for `send`: request heads out, response framing in (RFC 9112).

A webhook sender needs three things from an answer: its status, its Retry-After, and
where it ends, so that the connection can carry the next request. Bodies are counted and
dropped as they arrive, never kept.
"""

from __future__ import annotations

import base64
import contextlib
from dataclasses import dataclass
from urllib.parse import quote, unquote, urlsplit

MAX_HEAD = 64 * 1024  # a status line and headers larger than this are not a webhook answer
_UNRESERVED = "/%:@!$&'()*+,;=-._~"
_HEX = b"0123456789abcdefABCDEF"


class ResponseError(ValueError):
    """Bytes from the server that are not an HTTP/1.x response."""


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


def _shown(data: bytes) -> str:
    """Server bytes quoted for a reason, as text: 'SSH-2.0-x', with \\xff for what is not
    printable ASCII (Python's b'' notation means nothing to a reader of the report)."""
    return ascii(data.decode("latin-1"))


def _not_http(status_line: bytes) -> ResponseError:
    return ResponseError(f"not an HTTP/1.x status line: {_shown(status_line[:40])}")


def _take_line(buffer: bytes, too_long: str) -> tuple[bytes, bytes] | None:
    """(the first line without its CRLF or LF, the rest), or None until a whole line has
    come; ResponseError(too_long) past 64 KiB without one."""
    end = buffer.find(b"\n")
    if end < 0:
        if len(buffer) > MAX_HEAD:
            raise ResponseError(too_long)
        return None
    return buffer[:end].rstrip(b"\r"), buffer[end + 1 :]


def _blank_line(buffer: bytes) -> tuple[int, int]:
    """(where the head's blank line starts, its length), or (-1, 0): CRLF CRLF, or with
    either line ending in a bare LF."""
    crlf, lf = buffer.find(b"\n\r\n"), buffer.find(b"\n\n")
    if lf < 0 or 0 <= crlf < lf:
        return (crlf, 3) if crlf >= 0 else (-1, 0)
    return lf, 2


class ResponseReader:
    """Frames one response at a time from the bytes a connection receives.

    feed() returns True once the response is complete; status, retry_after and
    keep_alive then describe it. A 1xx interim answer is skipped. Raises ResponseError
    for anything that is not HTTP/1.x, or that cannot be framed.
    """

    __slots__ = (
        "_buffer", "_left", "_state", "body_bytes", "keep_alive", "retry_after",
        "status",
    )  # fmt: skip

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self._buffer = b""
        # head, length, chunk-size, chunk-data, chunk-end, trailer, eof, done
        self._state = "head"
        self._left = 0
        self.status: int | None = None
        self.retry_after: str | None = None
        self.keep_alive = True
        self.body_bytes = 0

    @property
    def started(self) -> bool:
        """Some of the response has arrived."""
        return bool(self._buffer) or self._state != "head"

    @property
    def leftover(self) -> bool:
        """Bytes came after the complete response: nothing was asked that they answer."""
        return bool(self._buffer)

    def feed(self, data: bytes) -> bool:
        # Lines may end in a bare LF as well as CRLF, as lenient clients accept.
        buffer = self._buffer + data if self._buffer else data
        while True:
            state = self._state
            if state == "head":
                end, skip = _blank_line(buffer)
                if end > MAX_HEAD or (end < 0 and len(buffer) > MAX_HEAD):
                    raise ResponseError("response head larger than 64 KiB")
                if end < 0:
                    # Refuse a banner (SSH, SMTP…) at once: such a server may never send
                    # the blank line, and its close would read as a response cut short.
                    if not b"HTTP/".startswith(buffer[:5]):
                        raise _not_http(buffer.split(b"\n", 1)[0].rstrip(b"\r"))
                    break
                head, buffer = buffer[:end], buffer[end + skip :]
                self._read_head(head)
            elif state == "length":
                buffer = self._drop_body(buffer)
                if self._left:
                    break
                self._state = "done"
            elif state == "chunk-size":
                taken = _take_line(buffer, "chunk size line too long")
                if taken is None:
                    break
                line, buffer = taken
                size = line.split(b";", 1)[0].strip()
                if not size or size.strip(_HEX):
                    raise ResponseError(f"bad chunk size {_shown(size[:20])}")
                self._left = int(size, 16)
                self._state = "chunk-data" if self._left else "trailer"
            elif state == "chunk-data":
                buffer = self._drop_body(buffer)
                if self._left:
                    break
                self._state = "chunk-end"
            elif state == "chunk-end":
                if buffer[:1] == b"\n":
                    buffer = buffer[1:]
                elif buffer[:2] == b"\r\n":
                    buffer = buffer[2:]
                elif buffer in (b"", b"\r"):
                    break
                else:
                    raise ResponseError("chunk not followed by CRLF")
                self._state = "chunk-size"
            elif state == "trailer":
                taken = _take_line(buffer, "trailer larger than 64 KiB")
                if taken is None:
                    break
                line, buffer = taken
                if not line:
                    self._state = "done"
            elif state == "eof":
                self.body_bytes += len(buffer)
                buffer = b""
                break
            else:  # done
                break
        self._buffer = buffer
        return self._state == "done"

    def _drop_body(self, buffer: bytes) -> bytes:
        """Count and drop up to the _left bytes of body due; the rest of `buffer`."""
        taken = min(self._left, len(buffer))
        self._left -= taken
        self.body_bytes += taken
        return buffer[taken:]

    def feed_eof(self) -> bool:
        """The server closed the connection: True if that ends the response."""
        if self._state == "eof":
            self._state = "done"
            return True
        return self._state == "done"

    def _read_head(self, head: bytes) -> None:
        lines = head.split(b"\n")
        status_line = lines[0].rstrip(b"\r")
        version, _, rest = status_line.partition(b" ")
        code = rest[:3]
        if version[:7] != b"HTTP/1." or len(version) != 8 or not code.isdigit():
            raise _not_http(status_line)
        status = int(code)
        if status < 100:
            raise ResponseError(f"status {status} out of range")
        fields: list[tuple[bytes, bytes]] = []
        for line in lines[1:]:
            line = line.rstrip(b"\r")
            if line[:1] in (b" ", b"\t") and fields:
                # An obsolete folded line continues the header before it (RFC 9112 5.2).
                name, value = fields[-1]
                fields[-1] = (name, (value + b" " + line.strip()).strip())
                continue
            name, colon, value = line.partition(b":")
            if not colon:
                raise ResponseError(f"header line without a colon: {_shown(line[:40])}")
            fields.append((name.strip().lower(), value.strip()))
        length = chunked = None
        connection = b""
        retry_after = None
        for name, value in fields:
            if name == b"content-length":
                # "5, 5" is one length said twice (RFC 9110 8.6); two lengths are an error.
                values = {v.strip() for v in value.split(b",")}
                if len(values) != 1:
                    raise ResponseError(f"bad Content-Length {_shown(value[:20])}")
                (value,) = values
                if not value.isdigit():
                    raise ResponseError(f"bad Content-Length {_shown(value[:20])}")
                if length is not None and int(value) != length:
                    raise ResponseError(f"two Content-Length headers: {length} and {int(value)}")
                length = int(value)
            elif name == b"transfer-encoding":
                chunked = value.lower().rsplit(b",", 1)[-1].strip() == b"chunked"
            elif name == b"connection":
                connection += b"," + value.lower()
            elif name == b"retry-after":
                retry_after = value.decode("latin-1")
        if 100 <= status < 200:
            if status == 101:
                raise ResponseError("the server switched protocols")
            return  # an interim answer; the real one follows
        tokens = {token.strip() for token in connection.split(b",")}
        if version == b"HTTP/1.0":
            self.keep_alive = b"keep-alive" in tokens
        else:
            self.keep_alive = b"close" not in tokens
        self.status, self.retry_after = status, retry_after
        if status in (204, 304):
            self._state = "done"
        elif chunked is not None:
            if not chunked:  # a coding we cannot frame: the body runs to the close
                self._state, self.keep_alive = "eof", False
            else:
                self._state = "chunk-size"
        elif length is not None:
            self._left = length
            self._state = "length" if length else "done"
        else:
            self._state, self.keep_alive = "eof", False

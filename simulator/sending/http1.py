"""HTTP/1.1 answers for `send`, framed as they arrive (RFC 9112).

A webhook sender needs three things from an answer: its status, its Retry-After, and
where it ends, so that the connection can carry the next request. Bodies are counted and
dropped as they arrive, never kept.
"""

from __future__ import annotations

import httptools

MAX_HEAD = 64 * 1024  # a status line and headers larger than this are not a webhook answer
_TOO_LARGE = "response head larger than 64 KiB"
_HEX = b"0123456789abcdefABCDEF"


class ResponseError(ValueError):
    """Bytes from the server that are not an HTTP/1.x response."""


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
    either line ending in a bare LF, which is where llhttp, given the leniencies below,
    ends a head too."""
    crlf = buffer.find(b"\n\r\n")
    lf = buffer.find(b"\n\n", 0, crlf + 1 if crlf >= 0 else len(buffer))  # (not into a body)
    if lf >= 0:
        return lf, 2
    return (crlf, 3) if crlf >= 0 else (-1, 0)


def _checked_length(head: bytes) -> int | None:
    """The one Content-Length of a head (without its blank line) that llhttp refused,
    or None; ResponseError, in this reader's words, for what is not HTTP/1.x in it."""
    lines = head.split(b"\n")
    status_line = lines[0].rstrip(b"\r")
    version, _, rest = status_line.partition(b" ")
    code = rest[:3]
    if version[:7] != b"HTTP/1." or len(version) != 8 or not code.isdigit() or rest[3:4].strip():
        raise _not_http(status_line)
    length = None
    for line in lines[1:]:
        line = line.rstrip(b"\r")
        if line[:1] in (b" ", b"\t"):
            continue  # an obsolete folded line continues the header before it (RFC 9112 5.2)
        name, colon, value = line.partition(b":")
        if not colon:
            raise ResponseError(f"header line without a colon: {_shown(line[:40])}")
        if name.strip().lower() != b"content-length":
            continue
        # "5, 5" is one length said twice (RFC 9110 8.6); two lengths are an error.
        values = {v.strip() for v in value.split(b",")}
        (said,) = values if len(values) == 1 else (b"",)
        if not said.isdigit() or len(said) > 19:  # (llhttp's lengths are 64-bit)
            raise ResponseError(f"bad Content-Length {_shown(value.strip()[:20])}")
        if length is not None and int(said) != length:
            raise ResponseError(f"two Content-Length headers: {length} and {int(said)}")
        length = int(said)
    return length


def _with_length(head: bytes, length: int) -> bytes:
    """`head` with its Content-Length lines replaced by one that says `length` once."""
    lines = head.split(b"\n")
    lines = [line for line in lines if line.partition(b":")[0].strip().lower() != b"content-length"]
    lines.insert(1, b"Content-Length: %d\r" % length)
    return b"\n".join(lines)


# llhttp's leniencies, each one chosen; the others stay strict.
_LENIENCIES = {
    # A line may end in a bare LF as well as CRLF, as lenient clients accept. A bare CR
    # still does not end one (lenient_optional_lf_after_cr stays off).
    "lenient_optional_cr_before_lf": True,
    # Header values are not checked byte by byte, a space may come before the colon, and an
    # obsolete folded line continues the header before it (RFC 9112 5.2): an answer is read
    # for its status, Retry-After and framing, and refusing it for a stray byte in some
    # other header would fail a delivery the receiver accepted.
    "lenient_headers": True,
    # HTTP/1.2 to 1.9 are read as 1.1 (RFC 9110 2.5). Another major version, which llhttp
    # accepts even when strict (HTTP/2.0, HTTP/0.9), is refused here.
    "lenient_version": True,
    # Transfer-Encoding beside a Content-Length: the coding frames the body (RFC 9112 6.3),
    # and the connection is closed after the answer, as that message "ought to be handled
    # as an error" (llhttp refuses it outright when strict).
    "lenient_chunked_length": True,
}
# Strict on purpose: llhttp's keep-alive rules (lenient_keep_alive off) are RFC 9112
# 9.3's. llhttp is given one head at a time, so that the leniencies for bodies and for
# bytes after a message never come into play.


# What llhttp says of a Content-Length said twice ("5, 5", or two lines that agree).
_SAID_TWICE = ("Duplicate Content-Length", "Invalid character in Content-Length")


class ResponseReader:
    """Frames one response at a time from the bytes a connection receives.

    feed() returns True once the response is complete; status, retry_after and
    keep_alive then describe it, and leftover says bytes came after it. A 1xx interim
    answer is skipped. Raises ResponseError for anything that is not HTTP/1.x, or that
    cannot be framed.

    Each head, once whole, is read by llhttp (httptools): its status line, the syntax of
    its fields, Connection, Content-Length, Transfer-Encoding and Retry-After. The body
    is framed here from what llhttp found, by counting: llhttp's bare-LF leniency misreads
    a chunk-size line that ends in a bare LF when another LF follows (the last chunk,
    `0\\n\\n`, never ends), llhttp does not say where in the bytes it stopped, which
    `leftover` and a refused chunk size's text need, and it cannot be told that the
    connection closed, which ends a body without a length.
    """

    __slots__ = (
        "_buffer", "_coding", "_complete", "_keep", "_left", "_length", "_parser", "_reason",
        "_state", "_status", "body_bytes", "keep_alive", "leftover", "retry_after", "status",
    )  # fmt: skip

    def __init__(self) -> None:
        self._parser: httptools.HttpResponseParser | None = None
        self._complete = self.keep_alive = self._keep = False
        self._status = self._left = 0  # (each set before it is read)
        self.reset()

    def reset(self) -> None:
        if not (self._complete and self.keep_alive):
            # llhttp stopped inside the last answer (it has a body, or was refused), or
            # after a close: the next head needs a new one.
            self._parser = None
        self._buffer = b""
        # head, length, chunk-size, chunk-data, chunk-end, trailer, eof, done
        self._state = "head"
        self._reason = ""  # why llhttp refused this head, once it has been read again
        self._complete = False  # llhttp ended the message: no body followed the head
        self._length: int | None = None  # what llhttp read in the head, with _status, _keep
        self._coding: bool | None = None  # a Transfer-Encoding: True if it ends in chunked
        self.status: int | None = None
        self.retry_after: str | None = None
        self.keep_alive = True
        self.leftover = False
        self.body_bytes = 0

    @property
    def started(self) -> bool:
        """Some of the response has arrived."""
        return bool(self._buffer) or self._state != "head"

    def feed(self, data: bytes) -> bool:
        if self._state == "head":
            self._head(data)
        else:
            self._body(data)
        return self._state == "done"

    def feed_eof(self) -> bool:
        """The server closed the connection: True if that ends the response."""
        if self._state == "eof":
            self._state = "done"
            return True
        return self._state == "done"

    def _head(self, data: bytes) -> None:
        buffer = self._buffer + data if self._buffer else data
        while self._state == "head":  # more than once after an interim answer
            end, skip = _blank_line(buffer)
            if end > MAX_HEAD or (end < 0 and len(buffer) > MAX_HEAD):
                raise ResponseError(_TOO_LARGE)
            if not b"HTTP/1.".startswith(buffer[:7]):
                # Refuse a banner (SSH, SMTP…) at once: such a server may never send the
                # blank line, and its close would read as a response cut short. (llhttp
                # would also take RTSP/1.0, ICE/1.0 and HTTP/2.0 here.)
                raise _not_http(buffer.split(b"\n", 1)[0].rstrip(b"\r"))
            if end < 0:
                self._buffer = buffer
                return
            end += skip
            head, buffer = (buffer, b"") if end == len(buffer) else (buffer[:end], buffer[end:])
            self._buffer = b""
            self._read(head)
        if buffer:
            self._body(buffer)

    def _read(self, head: bytes) -> None:
        """Has llhttp read one whole head, then frames what follows it."""
        parser = self._parser
        if parser is None:
            parser = self._parser = httptools.HttpResponseParser(self)
            parser.set_dangerous_leniencies(**_LENIENCIES)
        self._status, self._complete, refused = -1, False, ""
        try:
            parser.feed_data(head)
        except (httptools.HttpParserError, httptools.HttpParserUpgrade) as exc:
            self._parser, refused = None, str(exc)
        if self._status < 0:  # refused before the head's end (after it: a 101's pause)
            self._refused(head, refused)
            return
        status, length, coding = self._status, self._length, self._coding
        if status < 100:
            raise ResponseError(f"status {status} out of range")
        if status < 200:
            if status == 101:
                raise ResponseError("the server switched protocols")
            # An interim answer; the real one follows. It has no body (RFC 9110 15.2),
            # whatever its head says, and llhttp, which would wait for one, is let go.
            if length is not None or coding is not None:
                self._parser = None
            self._length, self._coding, self.retry_after = None, None, None
            return
        self.status, self.keep_alive = status, self._keep
        if status in (204, 304):
            self._state = "done"
        elif coding:
            self._state = "chunk-size"
            if length is not None:
                self.keep_alive = False  # see lenient_chunked_length
        elif coding is False or length is None:  # the body runs to the close (RFC 9112 6.3)
            self._state, self.keep_alive = "eof", False
        else:
            self._left = length
            self._state = "length" if length else "done"

    def _refused(self, head: bytes, reason: str) -> None:
        """llhttp refused a head: ResponseError saying why, in this reader's words, or,
        if only its Content-Length lines were unusual, the head read again with them
        said once (RFC 9110 8.6 lets a recipient take one length said twice)."""
        end = _blank_line(head)[0]
        length = _checked_length(head[:end])
        if self._reason or length is None or reason not in _SAID_TWICE:
            raise ResponseError(f"malformed response head: {reason}")
        self._reason = reason
        self._length, self._coding, self.retry_after = None, None, None
        self._read(_with_length(head[:end], length) + head[end:])

    def _body(self, data: bytes) -> None:
        buffer = self._buffer + data if self._buffer else data
        while True:
            state = self._state
            if state == "length" or state == "chunk-data":
                count = min(self._left, len(buffer))
                self._left -= count
                self.body_bytes += count
                buffer = buffer[count:]
                if self._left:
                    break
                self._state = "done" if state == "length" else "chunk-end"
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
            else:  # done: nothing was asked that more bytes would answer
                self.leftover = self.leftover or bool(buffer)
                buffer = b""
                break
        self._buffer = buffer

    # -- llhttp's callbacks, as it reads a head --------------------------------------------

    def on_header(self, name: bytes, value: bytes) -> None:
        if len(name) < 11:  # none of the three read here
            return
        name = name.rstrip().lower()  # lenient_headers leaves the spaces before a colon
        if name == b"retry-after":
            self.retry_after = value.strip().decode("latin-1")
        elif name == b"content-length":
            self._length = int(value)  # digits, which llhttp checked (and refuses twice)
        elif name == b"transfer-encoding":
            self._coding = value.lower().rsplit(b",", 1)[-1].strip() == b"chunked"

    def on_headers_complete(self) -> None:
        parser: httptools.HttpResponseParser = self._parser  # type: ignore[assignment]
        self._status = parser.get_status_code()
        self._keep = parser.should_keep_alive()  # (HTTP/1.0 keep-alive, Connection: close)

    def on_message_complete(self) -> None:
        self._complete = True

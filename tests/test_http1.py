"""Response framing, byte by byte (no sockets: see test_client.py)."""

from __future__ import annotations

import pytest

from simulator.sending.http1 import ResponseError, ResponseReader


def _read(*pieces: bytes) -> ResponseReader:
    reader = ResponseReader()
    done = False
    for piece in pieces:
        assert not done, "the response ended before all of its bytes arrived"
        done = reader.feed(piece)
    assert done
    return reader


def _every_split(raw: bytes) -> list[ResponseReader]:
    """The response fed whole, a byte at a time, and cut in two at every position."""
    readers = [_read(raw), _read(*(raw[i : i + 1] for i in range(len(raw))))]
    readers += [_read(raw[:cut], raw[cut:]) for cut in range(1, len(raw))]
    return readers


RESPONSES = {
    "content-length": (
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nServer: x\r\n\r\nhello",
        (200, None, True, 5),
    ),
    "empty": (b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n", (202, None, True, 0)),
    "chunked": (
        b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 7\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n"
        b"4;ext=1\r\nwiki\r\n5\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\nX-Trailer: t\r\n\r\n",
        (503, "7", True, 23),
    ),
    "chunked, hex sizes": (
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: gzip, chunked\r\n\r\n"
        b"1A\r\n" + b"z" * 26 + b"\r\n0\r\n\r\n",
        (200, None, True, 26),
    ),
    "no content": (b"HTTP/1.1 204 No Content\r\nContent-Length: 9\r\n\r\n", (204, None, True, 0)),
    "interim 100 first": (
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok",
        (201, None, True, 2),
    ),
    "connection close": (
        b"HTTP/1.1 429 Too Many\r\nConnection: keep-alive, close\r\nRetry-After: 1\r\n"
        b"Content-Length: 1\r\n\r\nx",
        (429, "1", False, 1),
    ),
    "http/1.0 with keep-alive": (
        b"HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 2\r\n\r\nok",
        (200, None, True, 2),
    ),
    "http/1.0 without keep-alive": (
        b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok",
        (200, None, False, 2),
    ),
    "bare LF line endings": (
        b"HTTP/1.1 200 OK\nContent-Length: 2\n\nok",
        (200, None, True, 2),
    ),
    "bare LF, chunked": (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\n\r\n3\nabc\n2;x\r\nde\r\n0\n\n",
        (200, None, True, 5),
    ),
    "a folded header": (
        b"HTTP/1.1 503 Busy\r\nRetry-After:\r\n  120\r\nX-Note: a\r\n\tb\r\n"
        b"Content-Length: 0\r\n\r\n",
        (503, "120", True, 0),
    ),
    "one length said twice": (
        b"HTTP/1.1 200 OK\r\nContent-Length: 2, 2\r\nContent-Length: 2\r\n\r\nok",
        (200, None, True, 2),
    ),
    "folded-case names and spaces": (
        b"HTTP/1.1 200 OK\r\nCONTENT-LENGTH:   3  \r\n\r\nabc",
        (200, None, True, 3),
    ),
    # What llhttp is let accept, and where this reader frames otherwise than llhttp would.
    "a space before the colon": (
        b"HTTP/1.1 200 OK\r\nContent-Length : 2\r\nX-Odd: \x01\xff\r\n\r\nok",
        (200, None, True, 2),
    ),
    "HTTP/1.9 read as 1.1": (
        b"HTTP/1.9 200 OK\r\nContent-Length: 1\r\n\r\nx",
        (200, None, True, 1),
    ),
    "Transfer-Encoding beside Content-Length: chunked, then closed": (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 9\r\n\r\n"
        b"3\r\nabc\r\n0\r\n\r\n",
        (200, None, False, 3),
    ),
    "interim 100, then chunked": (
        b"HTTP/1.1 100 Continue\r\nRetry-After: 9\r\n\r\nHTTP/1.1 503 Busy\r\nRetry-After: 2\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\n\r\n",
        (503, "2", True, 1),
    ),
    "an interim answer that claims a body has none": (
        b"HTTP/1.1 199 Odd\r\nContent-Length: 2\r\n\r\n"
        b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx",
        (200, None, True, 1),
    ),
}


@pytest.mark.parametrize("name", RESPONSES)
def test_responses_are_framed_however_the_bytes_arrive(name):
    raw, (status, retry_after, keep_alive, body) = RESPONSES[name]
    for reader in _every_split(raw):
        assert (reader.status, reader.retry_after, reader.keep_alive) == (
            status,
            retry_after,
            keep_alive,
        )
        assert reader.body_bytes == body and not reader.leftover


def test_a_body_without_length_runs_to_the_close_and_ends_keep_alive():
    reader = ResponseReader()
    assert not reader.feed(b"HTTP/1.1 200 OK\r\nServer: old\r\n\r\npart one, ")
    assert not reader.feed(b"part two")
    assert reader.feed_eof()
    assert (reader.status, reader.keep_alive, reader.body_bytes) == (200, False, 18)


def test_a_close_before_the_response_ends_is_not_a_response():
    for raw in (
        b"",
        b"HTTP/1.1 200 OK\r\nContent-Le",
        b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nabc",
    ):
        reader = ResponseReader()
        assert not reader.feed(raw)
        assert not reader.feed_eof()


def test_bytes_after_the_response_are_noticed():
    reader = ResponseReader()
    assert reader.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\n")
    assert reader.leftover
    for after in (b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", b"x", b"\r\n"):
        reader = ResponseReader()
        assert reader.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok" + after)
        assert reader.leftover and reader.status == 200 and reader.body_bytes == 2
    reader = ResponseReader()  # after an answer that closes the connection
    assert reader.feed(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nokX")
    assert reader.leftover and not reader.keep_alive
    reader = ResponseReader()  # after a chunked answer
    assert reader.feed(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nX")
    assert reader.leftover


def test_one_reader_frames_answer_after_answer():
    reader = ResponseReader()
    for raw, status, body in [
        (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", 200, 2),
        (b"HTTP/1.1 201 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", 201, 3),
        (b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 202 OK\r\nContent-Length: 1\r\n\r\nx", 202, 1),
        (b"HTTP/1.1 204 No Content\r\n\r\n", 204, 0),
        (b"HTTP/1.1 203 OK\r\nContent-Length: 2, 2\r\n\r\nok", 203, 2),
    ]:
        reader.reset()
        assert reader.feed(raw)
        assert (reader.status, reader.body_bytes, reader.keep_alive) == (status, body, True)
        assert not reader.leftover


def test_a_reader_is_reused_after_reset():
    reader = ResponseReader()
    assert reader.feed(b"HTTP/1.1 500 Oops\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
    reader.reset()
    assert not reader.started
    assert reader.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
    assert (reader.status, reader.keep_alive) == (200, True)


@pytest.mark.parametrize(
    "raw, message",
    [
        (b"SSH-2.0-OpenSSH_9.2\r\n\r\n", "not an HTTP/1.x status line: 'SSH-2.0-OpenSSH_9.2'"),
        (b"HTTP/2 200\r\n\r\n", "not an HTTP/1.x status line: 'HTTP/2 200'"),
        (b"HTTP/1.1 OK\r\n\r\n", "not an HTTP/1.x status line: 'HTTP/1.1 OK'"),
        (b"HTTP/1.1 099 Low\r\n\r\n", "status 99 out of range"),
        (
            b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
            "header line without a colon: 'no colon here'",
        ),
        (b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", "bad Content-Length '-1'"),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
            "two Content-Length headers: 1 and 2",
        ),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 1, 2\r\n\r\n", "bad Content-Length '1, 2'"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 1,\r\n\r\n", "bad Content-Length '1,'"),
        (b"HTTP/1.1 101 Switching\r\nUpgrade: h2c\r\n\r\n", "the server switched protocols"),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0x10\r\n",
            "bad chunk size '0x10'",
        ),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1_0\r\n", "bad chunk size '1_0'"),
        # What llhttp refuses or accepts otherwise than this reader would.
        (b"HTTP/2.0 200 OK\r\n\r\n", "not an HTTP/1.x status line: 'HTTP/2.0 200 OK'"),
        (b"RTSP/1.0 200 OK\r\n\r\n", "not an HTTP/1.x status line: 'RTSP/1.0 200 OK'"),
        (
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/0.9 200 OK\r\n\r\n",
            "not an HTTP/1.x status line: 'HTTP/0.9 200 OK'",
        ),
        (b"HTTP/1.1 1000 OK\r\n\r\n", "not an HTTP/1.x status line: 'HTTP/1.1 1000 OK'"),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n",
            "bad Content-Length '99999999999999999999'",
        ),
        (b"HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\n", "bad Content-Length ''"),
        (b"HTTP/1.1 200 OK\r\nX\x01Y: 1\r\n\r\n", "malformed response head: Invalid header token"),
        (
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 1, 2\r\n\r\n",
            "bad Content-Length '1, 2'",
        ),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n",
            "chunk not followed by CRLF",
        ),
    ],
)
def test_what_is_not_http_is_refused_with_a_reason(raw, message):
    with pytest.raises(ResponseError) as caught:
        ResponseReader().feed(raw)
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        (b"SSH-2.0-OpenSSH_9.2\r\n", "'SSH-2.0-OpenSSH_9.2'"),
        (b"220 mail.example.com ESMTP\r\n", "'220 mail.example.com ESMTP'"),
        (b"ok\n", "'ok'"),
        (b"\x00\xff\x16", "'\\x00\\xff\\x16'"),
    ],
)
def test_a_banner_is_refused_before_any_blank_line(raw, shown):
    # Such a server may wait for us or close: either way the reason is that it is not HTTP.
    with pytest.raises(ResponseError) as whole:
        ResponseReader().feed(raw)
    assert str(whole.value) == f"not an HTTP/1.x status line: {shown}"
    reader = ResponseReader()
    with pytest.raises(ResponseError):  # byte by byte: once the bytes cannot be HTTP
        for byte in raw:
            reader.feed(bytes([byte]))


def test_a_head_over_64_kib_is_refused_however_it_arrives():
    big = b"HTTP/1.1 200 OK\r\n" + b"X: y\r\n" * 12_000
    reader = ResponseReader()
    assert not reader.feed(big[:60_000])
    with pytest.raises(ResponseError, match="response head larger than 64 KiB"):
        reader.feed(big[60_000:])
    with pytest.raises(ResponseError, match="response head larger than 64 KiB"):
        ResponseReader().feed(big + b"\r\n")  # whole, in one read


def test_a_large_body_is_counted_not_kept():
    reader = ResponseReader()
    assert not reader.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 10000000\r\n\r\n")
    for _ in range(99):
        assert not reader.feed(b"x" * 100_000)
    assert reader._buffer == b""
    assert reader.feed(b"x" * 100_000) and reader.body_bytes == 10_000_000


def test_chunk_size_and_trailer_lines_are_refused_past_64_kib():
    chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    with pytest.raises(ResponseError, match="chunk size line too long"):
        ResponseReader().feed(chunked + b"1;" + b"x" * 70_000)
    with pytest.raises(ResponseError, match="trailer larger than 64 KiB"):
        ResponseReader().feed(chunked + b"0\r\nX-T: " + b"y" * 70_000)

"""Request heads: the URL's target and each POST's head, byte for byte."""

from __future__ import annotations

import base64

from simulator.sending.request import request_head, target


def test_targets_are_split_for_the_socket_and_the_request_line():
    t = target("http://127.0.0.1:8080/hooks?a=1&b=x y")
    assert (t.host, t.port, t.tls) == ("127.0.0.1", 8080, False)
    assert t.line == b"POST /hooks?a=1&b=x%20y HTTP/1.1\r\n"
    assert t.host_line == b"Host: 127.0.0.1:8080\r\n" and t.auth == b""
    t = target("https://example.com")
    assert (t.host, t.port, t.tls, t.line) == ("example.com", 443, True, b"POST / HTTP/1.1\r\n")
    assert t.host_line == b"Host: example.com\r\n"
    t = target("http://[::1]:9000/caf\u00e9")
    assert (t.host, t.port) == ("::1", 9000)
    assert t.host_line == b"Host: [::1]:9000\r\n" and t.line == b"POST /caf%C3%A9 HTTP/1.1\r\n"
    t = target("https://b\u00fccher.example:443/")
    assert t.host == "xn--bcher-kva.example" and t.host_line == b"Host: xn--bcher-kva.example\r\n"


def test_credentials_in_the_url_become_basic_authentication():
    t = target("http://user:p%40ss@h.test/x")
    assert t.auth == b"Authorization: Basic " + base64.b64encode(b"user:p@ss") + b"\r\n"
    assert b"user" not in t.line + t.host_line


def test_a_request_head_carries_the_headers_and_the_length():
    t = target("http://h.test:81/in")
    head = request_head(t, {"Content-Type": "application/json", "X-Sig": "v1=ab"}, 42)
    assert head == (
        b"POST /in HTTP/1.1\r\nHost: h.test:81\r\nContent-Type: application/json\r\n"
        b"X-Sig: v1=ab\r\nContent-Length: 42\r\n\r\n"
    )
    head = request_head(t, {"host": "api.example.com", "X-A": "\u00e9"}, 0)
    assert head == (
        b"POST /in HTTP/1.1\r\nHost: api.example.com\r\nX-A: \xc3\xa9\r\nContent-Length: 0\r\n\r\n"
    )
    head = request_head(t, {"Host": "b\u00fccher.example:8443"}, 0)
    assert b"\r\nHost: xn--bcher-kva.example:8443\r\n" in head

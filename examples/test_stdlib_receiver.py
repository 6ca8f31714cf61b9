"""Test a webhook endpoint and a webhook sender written with the standard library only.

    pytest examples/test_stdlib_receiver.py -p simulator.pytest_plugin

(`-p simulator.pytest_plugin` is not needed once webhook-simulator is installed.)
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

SECRET = "test-secret"  # what webhook_factory and webhook_receiver use by default


# -- the code under test: a Voucherify webhook endpoint and a webhook sender ------------


class WebhookEndpoint(BaseHTTPRequestHandler):
    """Accepts a webhook only if its x-voucherify-signature is the HMAC of the body, and
    refuses a body that is not JSON."""

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        expected = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        given = self.headers.get("x-voucherify-signature", "")
        if not hmac.compare_digest(expected, given):
            self.send_response(401)
        else:
            try:
                self.server.events.append(json.loads(body))
                self.send_response(200)
            except ValueError:
                self.send_response(400)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass  # keep test output clean


def send_webhook(url: str, event: dict, secret: str) -> int:
    """POST `event` signed the Voucherify way; the HTTP status of the answer."""
    body = json.dumps(event).encode()
    signature = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    headers = {"Content-Type": "application/json", "x-voucherify-signature": signature}
    return post(url, body, headers)


def post(url: str, body: bytes, headers: dict[str, str]) -> int:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


@pytest.fixture
def endpoint() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), WebhookEndpoint)
    server.events = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


# -- the tests ------------------------------------------------------------------


def test_endpoint_accepts_a_signed_webhook(endpoint, webhook_factory):
    hook = webhook_factory("customer.order.created", scenario="promotion", **{"order.amount": 5000})

    assert post(f"http://127.0.0.1:{endpoint.server_port}/", hook.body, hook.headers) == 200
    [event] = endpoint.events
    assert event["event"]["type"] == "customer.order.created"
    assert event["data"]["order"]["amount"] == 5000


def test_endpoint_rejects_a_tampered_webhook(endpoint, webhook_factory):
    hook = webhook_factory("customer.order.paid")
    tampered = hook.body.replace(b'"amount":', b'"amount":1', 1)

    assert post(f"http://127.0.0.1:{endpoint.server_port}/", tampered, hook.headers) == 401
    assert endpoint.events == []


def test_endpoint_passes_the_audit(endpoint, webhook_audit):
    # Forged, tampered, duplicated, out-of-order, unknown and large deliveries; a case
    # that fails fails this test with its reason.
    webhook_audit(f"http://127.0.0.1:{endpoint.server_port}/")


def test_sender_signs_what_it_sends(webhook_receiver):
    status = send_webhook(webhook_receiver.url, {"id": "evt_1", "type": "order.shipped"}, SECRET)

    assert status == 200
    [request] = webhook_receiver.wait_for(1)
    assert request.signature == "valid"
    assert request.event_type == "order.shipped"


def test_sender_with_the_wrong_secret_is_caught(webhook_receiver):
    send_webhook(webhook_receiver.url, {"id": "evt_2", "type": "order.shipped"}, "not-the-secret")

    [request] = webhook_receiver.wait_for(1)
    assert request.signature == "invalid"

"""The audit against small receivers with one defect each, written here with the standard
library and the reference `standardwebhooks` verifier: each defect is flagged by exactly
the cases that are about it, and no other."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import standardwebhooks

from simulator import audit
from simulator.audit.cases import NAMES
from simulator.pytest_plugin import default_secret

SECRET = default_secret("standard")
HANDLED = ("customer.order.",)  # the event types this receiver's code knows


class Receiver(BaseHTTPRequestHandler):
    """A careful Standard Webhooks receiver; `defect` turns one of its habits bad."""

    defect = ""
    seen: set[str]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        headers = {k.lower(): v for k, v in self.headers.items()}
        if self.defect == "parses-before-verifying":
            try:
                data = json.loads(body)
            except ValueError:
                return self._answer(400)
            body = json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()
        if not self._authentic(body, headers):
            return self._answer(401)
        try:
            data = json.loads(body)
        except ValueError:
            return self._answer(400)
        msg_id = headers["webhook-id"]
        if msg_id in self.seen:
            return self._answer(500 if self.defect == "500-on-duplicate" else 200)
        kind = data.get("event", {}).get("type", data.get("type", ""))
        if not kind.startswith(HANDLED):
            return self._answer(500 if self.defect == "500-on-unknown-event" else 200)
        self.seen.add(msg_id)
        self._answer(200)

    def _authentic(self, body: bytes, headers: dict[str, str]) -> bool:
        if self.defect == "accepts-any-signature":
            # Checks that a signature is there and fresh, never that it is right.
            stamp = headers.get("webhook-timestamp", "0")
            return "webhook-signature" in headers and abs(time.time() - int(stamp)) < 300
        if self.defect == "no-timestamp-check":
            key = base64.b64decode(SECRET.removeprefix("whsec_"))
            signed = f"{headers.get('webhook-id')}.{headers.get('webhook-timestamp')}.".encode()
            expected = base64.b64encode(hmac.digest(key, signed + body, hashlib.sha256)).decode()
            given = headers.get("webhook-signature", "").split()
            return any(hmac.compare_digest(f"v1,{expected}", sig) for sig in given)
        try:
            standardwebhooks.Webhook(SECRET).verify(body, headers)
        except standardwebhooks.WebhookVerificationError:
            return False
        except ValueError:
            # verify() parses the body once the signature holds: JSON it cannot parse
            # is authentic all the same (and refused as such below). Unhandled, this
            # error is the 500 the not-json case catches.
            return True
        return True

    def _answer(self, status: int) -> None:
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def serve() -> Iterator:
    servers = []

    def start(defect: str) -> str:
        handler = type("Handler", (Receiver,), {"defect": defect, "seen": set()})
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_port}/hooks"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


DEFECTS = {
    "": set(),  # the careful receiver passes every case
    "accepts-any-signature": {"wrong-secret", "tampered-body", "reserialized"},
    "500-on-unknown-event": {"unknown-event"},
    "parses-before-verifying": {"reserialized"},
    "no-timestamp-check": {"stale-timestamp", "future-timestamp"},
    "500-on-duplicate": {"duplicate"},
}


@pytest.mark.parametrize(("defect", "flagged"), DEFECTS.items(), ids=[d or "none" for d in DEFECTS])
def test_each_defect_is_flagged_by_exactly_its_cases(serve, defect, flagged):
    result = audit(serve(defect), sign="standard", secret=SECRET, environ={}, seed=5)

    assert [case.name for case in result.cases] == list(NAMES)
    assert {case.name for case in result.failed} == flagged, result.failures()
    assert all(case.result == "pass" for case in result.cases if case.name not in flagged)


def test_a_defect_gets_the_reason_that_names_its_fix(serve):
    result = audit(serve("parses-before-verifying"), sign="standard", secret=SECRET, environ={})
    assert result["reserialized"].reason == (
        "accepted the same JSON re-formatted under the original signature (200): you verify "
        "a re-serialization of the parsed body; verify the raw bytes as received"
    )
    result = audit(serve("500-on-duplicate"), sign="standard", secret=SECRET, environ={},
                   only="duplicate")  # fmt: skip
    [case] = result.cases
    assert [a.status for a in case.answers] == [200, 500]
    assert case.reason.startswith(
        "answered 500 to a second delivery of the same event: your handler failed on it; "
        "acknowledge an event you already have with 2xx"
    )


def test_the_pytest_fixture_fails_a_test_with_each_failed_case(serve, webhook_audit):
    assert webhook_audit(serve(""), sign="standard").ok
    with pytest.raises(pytest.fail.Exception) as failed:
        webhook_audit(serve("no-timestamp-check"), sign="standard")
    lines = str(failed.value).splitlines()
    assert lines[0].startswith("2 audit cases failed at http://127.0.0.1:")
    assert [line.partition(":")[0] for line in lines[1:]] == [
        "stale-timestamp",
        "future-timestamp",
    ]

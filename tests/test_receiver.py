"""The mock receiver over real loopback sockets: verdicts, faults, records and the CLI."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import threading
import time

import aiohttp
import pytest
import requests
from conftest import NOW, ROOT, receiver_with

from simulator.cli import receive as receive_cli
from simulator.cli.receive import request_line
from simulator.errors import DeliveryError, RecordError, SigningError, UsageError
from simulator.generation.payloads import PayloadFactory
from simulator.pytest_plugin import default_secret
from simulator.receiving.checks import Inspector
from simulator.receiving.receiver import VERDICT_HEADER, Behaviour, ReceivedRequest, Receiver
from simulator.signing import SCHEMES, generate_secret, make_signer

TS = 1_710_254_509
SIGNED = tuple(s for s in SCHEMES if s != "none")
# The secrets webhook_receiver verifies with, and _post signs with unless told otherwise.
SECRETS = {s: default_secret(s) for s in SCHEMES}


def each_scheme(schemes: tuple[str, ...], **options) -> pytest.MarkDecorator:
    """Mark: the test runs once per scheme, its webhook_receiver verifying that scheme."""
    return pytest.mark.parametrize(
        "webhook_receiver",
        [{"scheme": scheme, **options} for scheme in schemes],
        indirect=True,
        ids=list(schemes),
    )


def _payload(index: int = 0, **options):
    options.setdefault("seed", 1)
    return PayloadFactory("customer.order.created", now=NOW, **options).build(index)


def _signed(scheme: str, payload, ts: int | None = None, secret: str | None = None):
    signer = make_signer(scheme, SECRETS[scheme] if secret is None else secret)
    headers = signer.headers(
        payload.body,
        msg_id=payload.id,
        timestamp=int(time.time()) if ts is None else ts,
        event_type=payload.event,
    )
    return {"Content-Type": "application/json", **headers}


def _post(receiver: Receiver, payload, scheme: str = "voucherify", **options):
    """POST a payload signed for `scheme`; options go to _signed (ts, secret)."""
    return requests.post(
        receiver.url, data=payload.body, headers=_signed(scheme, payload, **options)
    )


class _Raw:
    """Any body, signed by _post like a generated payload."""

    def __init__(self, body: bytes) -> None:
        self.body = body
        self.id = "msg_raw"
        self.event = "customer.order.created"


def _receiver(scheme: str = "voucherify", **options) -> Receiver:
    """A receiver as webhook_receiver's, not started: for a test that starts it itself."""
    options.setdefault("secret", SECRETS[scheme])
    return Receiver(scheme=scheme, **options)


def _raw(receiver: Receiver, data: bytes) -> bytes:
    """Send raw bytes on a fresh connection; what came back before the server closed it."""
    with socket.create_connection(("127.0.0.1", receiver.port), timeout=5) as sock:
        sock.sendall(data)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
            if b"\r\n\r\n" in b"".join(chunks):
                break
    return b"".join(chunks)


# -- signatures ------------------------------------------------------------------


@each_scheme(SCHEMES)
def test_a_correctly_signed_request_is_valid_for_every_scheme(webhook_receiver):
    receiver, scheme = webhook_receiver, webhook_receiver.scheme
    payload = _payload()
    response = _post(receiver, payload, scheme)
    [seen] = receiver.wait_for(1)

    verdict = "unsigned" if scheme == "none" else "valid"
    assert response.status_code == 200
    assert response.headers[VERDICT_HEADER] == f"signature={verdict}; duplicate=no; schema=ok"
    assert seen.signature == verdict
    assert seen.body == payload.body
    assert seen.event_type == "customer.order.created"
    assert receiver.stats.signatures[verdict] == 1


@each_scheme(SIGNED)
def test_a_tampered_body_or_a_wrong_secret_is_invalid(webhook_receiver):
    receiver, scheme = webhook_receiver, webhook_receiver.scheme
    payload = _payload()
    wrong = generate_secret(scheme, random.Random(8))
    tampered = payload.body.replace(b'"amount":', b'"amount":1', 1)
    requests.post(receiver.url, data=tampered, headers=_signed(scheme, payload))
    _post(receiver, payload, scheme, secret=wrong)
    seen = receiver.wait_for(2)

    assert [r.signature for r in seen] == ["invalid", "invalid"]
    assert receiver.stats.signatures["invalid"] == 2


@each_scheme(SIGNED)
def test_a_request_without_the_signature_header_is_missing(webhook_receiver):
    requests.post(webhook_receiver.url, data=_payload().body)
    [seen] = webhook_receiver.wait_for(1)

    assert seen.signature == "missing"


@each_scheme(("standard", "stripe"), clock=lambda: TS + 301.0, tolerance=300.0)
def test_an_old_timestamp_is_stale_by_the_injected_clock(webhook_receiver):
    receiver, scheme = webhook_receiver, webhook_receiver.scheme
    payload = _payload()
    _post(receiver, payload, scheme, ts=TS)
    _post(receiver, payload, scheme, ts=TS + 1)
    seen = receiver.wait_for(2)

    assert [r.signature for r in seen] == ["stale", "valid"]
    assert seen[0].time == TS + 301.0


def test_a_secret_is_required_for_a_signing_scheme():
    with pytest.raises(SigningError) as caught:
        Receiver(scheme="voucherify")
    assert str(caught.value) == (
        "signing scheme 'voucherify' needs a secret: pass --secret or set WEBHOOK_SECRET"
    )
    Receiver(scheme="none")


# -- duplicates ------------------------------------------------------------------


def test_the_same_body_twice_is_a_duplicate(webhook_receiver):
    receiver = webhook_receiver
    payload = _payload()
    first = _post(receiver, payload)
    again = _post(receiver, payload)
    seen = receiver.wait_for(2)

    assert [r.duplicate for r in seen] == [False, True]
    assert seen[0].event_id == seen[1].event_id == payload.id
    assert first.headers[VERDICT_HEADER].startswith("signature=valid; duplicate=no")
    assert again.headers[VERDICT_HEADER].startswith("signature=valid; duplicate=yes")
    assert receiver.stats.duplicates == 1


@receiver_with(scheme="standard")
def test_standard_deliveries_with_the_same_webhook_id_are_duplicates(webhook_receiver):
    one, two = _payload(0), _payload(1)
    for payload in (one, two):
        headers = make_signer("standard", SECRETS["standard"]).headers(
            payload.body, msg_id="msg_same", timestamp=int(time.time()), event_type="x"
        )
        requests.post(webhook_receiver.url, data=payload.body, headers=headers)
    seen = webhook_receiver.wait_for(2)

    assert [(r.event_id, r.duplicate, r.signature) for r in seen] == [
        ("msg_same", False, "valid"),
        ("msg_same", True, "valid"),
    ]


@receiver_with(behaviour=Behaviour(fail_rate=0.5, seed=3))
def test_a_retry_of_a_failed_delivery_is_not_a_duplicate(webhook_receiver):
    payload = _payload()
    statuses = [_post(webhook_receiver, payload).status_code for _ in range(5)]
    seen = webhook_receiver.wait_for(5)

    accepted = statuses.index(200)
    assert accepted > 0
    assert statuses[:accepted] == [503] * accepted
    assert [r.duplicate for r in seen] == [i > accepted for i in range(5)]


def test_remembered_ids_are_bounded():
    inspector = Inspector(scheme="none", validate_schema=False, remember=2)
    for body in (b"1", b"2", b"3", b"1"):
        request, _ = inspector.inspect("POST", "/", {}, body, False)

    assert request.duplicate is False  # b"1" was forgotten when b"3" came
    assert len(inspector._seen) == 2


# -- schema ----------------------------------------------------------------------


def test_a_generated_payload_has_no_schema_problems(webhook_receiver):
    payload = _payload(scenario="promotion")
    _post(webhook_receiver, payload)
    [seen] = webhook_receiver.wait_for(1)

    assert seen.schema_checked
    assert seen.schema_problems == []
    assert webhook_receiver.stats.schema_errors == 0


def test_a_broken_payload_has_its_problems_reported(webhook_receiver):
    receiver = webhook_receiver
    payload = _payload(overrides={"order.status": "SHIPPED"})
    response = _post(receiver, payload)
    [seen] = receiver.wait_for(1)

    assert "$.data.order.status: 'SHIPPED' is not one of ['CREATED', 'PAID', 'CANCELED', " in (
        "\n".join(seen.schema_problems)
    )
    count = len(seen.schema_problems)
    problems = f"{count} problem{'s' if count > 1 else ''}"
    assert response.headers[VERDICT_HEADER] == f"signature=valid; duplicate=no; schema={problems}"
    assert response.status_code == 200
    assert receiver.stats.schema_errors == 1


def test_schema_validation_can_be_turned_off_and_skips_unknown_events(make_receiver):
    broken = _payload(overrides={"order.status": "SHIPPED"})
    response = _post(make_receiver(validate_schema=False), broken)
    assert response.headers[VERDICT_HEADER].endswith("schema=skipped")

    github = make_receiver(scheme="github")
    body = b'{"action":"opened"}'
    headers = make_signer("github", SECRETS["github"]).headers(
        body, msg_id="d1", timestamp=TS, event_type="pull_request"
    )
    response = requests.post(github.url, data=body, headers=headers)
    [seen] = github.wait_for(1)
    assert response.headers[VERDICT_HEADER] == "signature=valid; duplicate=no; schema=skipped"
    assert (seen.event_type, seen.event_id) == ("pull_request", "d1")


# -- odd requests ----------------------------------------------------------------


def test_non_json_and_empty_bodies_are_answered_and_recorded(tmp_path, make_receiver):
    record = tmp_path / "seen.ndjson"
    receiver = make_receiver(scheme="none", record=record)
    texts = requests.post(receiver.url, data=b"not json at all")
    empty = requests.post(receiver.url, data=b"")
    binary = requests.post(receiver.url, data=b"\xff\x00\xfe")
    seen = receiver.wait_for(3)

    assert [r.status_code for r in (texts, empty, binary)] == [200, 200, 200]
    assert empty.headers[VERDICT_HEADER] == "signature=unsigned; duplicate=no; schema=skipped"
    assert receiver.stats.not_json == 3
    assert [r.event_type for r in seen] == [None, None, None]
    assert seen[1].event_id == "sha256:" + (
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    )
    lines = record.read_bytes().splitlines()
    bodies = [ReceivedRequest.from_record(json.loads(line)).body for line in lines]
    assert bodies == [b"not json at all", b"", b"\xff\x00\xfe"]
    assert [json.loads(line)["body_base64"] for line in lines] == [False, False, True]


@receiver_with(behaviour=Behaviour(max_body=100))
def test_an_oversized_body_gets_413_and_the_receiver_carries_on(webhook_receiver):
    receiver = webhook_receiver
    payload = _payload()
    sized = _post(receiver, payload)
    chunked = requests.post(receiver.url, data=iter([b"x" * 80, b"y" * 80]))
    small = requests.post(receiver.url, data=b"{}")
    seen = receiver.wait_for(3)

    assert [sized.status_code, chunked.status_code, small.status_code] == [413, 413, 200]
    assert [r.signature for r in seen] == ["invalid", "missing", "missing"]
    assert seen[0].body == b""
    assert seen[0].event_id is None
    assert receiver.stats.statuses == {413: 2, 200: 1}


def test_garbled_headers_are_answered_and_recorded(tmp_path, make_receiver):
    record = tmp_path / "seen.ndjson"
    request = (
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
        b"x-voucherify-signature: \xff\xfe not hex\r\n"
        b"Stripe-Signature: t=abc,v1=\r\n\r\n{}"
    )
    receiver = make_receiver(record=record)
    answer = _raw(receiver, request)
    [seen] = receiver.wait_for(1)

    assert answer.startswith(b"HTTP/1.1 200 OK")
    assert seen.signature == "invalid"
    line = json.loads(record.read_bytes())
    assert line["headers"]["x-voucherify-signature"] == "\ufffd\ufffd not hex"


def test_a_client_that_disconnects_mid_body_does_not_stop_the_receiver(webhook_receiver):
    receiver = webhook_receiver
    with socket.create_connection(("127.0.0.1", receiver.port)) as sock:
        sock.sendall(b'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{"id"')
    response = requests.post(receiver.url, data=b"{}")

    assert response.status_code == 200
    assert receiver.stats.received == 1


@receiver_with(path="/hooks")
def test_get_says_hello_and_another_path_gets_404(webhook_receiver):
    receiver = webhook_receiver
    hello = requests.get(receiver.url)
    wrong = requests.post(receiver.url.replace("/hooks", "/other"), data=b"{}")
    [seen] = receiver.wait_for(1)

    assert receiver.url.endswith("/hooks")
    assert hello.status_code == 200
    assert hello.text == "webhook-sim receiver: POST webhooks to /hooks\n"
    assert wrong.status_code == 404
    assert (seen.path, seen.status) == ("/other", 404)


def test_construction_rejects_bad_options():
    with pytest.raises(UsageError, match="must start with '/'"):
        Receiver(scheme="none", path="hooks")
    with pytest.raises(UsageError, match=r"'--fail-rate': invalid fail rate 1\.5: use a numb"):
        Behaviour(fail_rate=1.5)
    with pytest.raises(UsageError, match=r"'--delay': invalid delay \(0\.2, 0\.1\): use seconds"):
        Behaviour(delay=(0.2, 0.1))
    assert Behaviour(delay=0.05).delay == (0.05, 0.05)
    # A 1xx is not a final answer, so a sender would never get one.
    for status in (100, 101, 199, 600):
        with pytest.raises(UsageError, match=r"'--status': invalid status .*: use a final HTTP"):
            Behaviour(status=status)
        with pytest.raises(UsageError, match=r"'--fail-status': invalid fail status .*: use a fin"):
            Behaviour(fail_status=status)
    assert Behaviour(status=302, fail_status=599).status == 302  # 3xx is misbehaviour to try


# -- misbehaviour ----------------------------------------------------------------


def test_failures_answer_503_with_retry_after(make_receiver):
    receiver = make_receiver(scheme="none", behaviour=Behaviour(fail_rate=1, retry_after=1.5))
    response = requests.post(receiver.url, data=b"{}")
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "2"

    too_many = Behaviour(fail_rate=1, fail_status=429, retry_after=0)
    response = requests.post(make_receiver(scheme="none", behaviour=too_many).url, data=b"{}")
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "0"


def test_a_retry_after_that_would_never_be_sent_is_refused():
    with pytest.raises(UsageError, match="'--retry-after': needs --fail-rate: Retry-After is s"):
        Behaviour(retry_after=2)
    with pytest.raises(UsageError, match="'--retry-after': needs --fail-status 429 or 503, not 5"):
        Behaviour(fail_rate=1, fail_status=500, retry_after=2)


@receiver_with(scheme="none", behaviour=Behaviour(drop_rate=1))
def test_a_dropped_request_sees_a_disconnect(webhook_receiver):
    receiver = webhook_receiver
    with pytest.raises(requests.ConnectionError):
        requests.post(receiver.url, data=b"{}")
    [seen] = receiver.wait_for(1)

    assert seen.status is None
    assert receiver.stats.dropped == 1
    assert receiver.stats.statuses == {}


@receiver_with(scheme="none", behaviour=Behaviour(delay=(0.05, 0.06)))
def test_a_delay_holds_the_answer_back(webhook_receiver):
    start = time.perf_counter()
    requests.post(webhook_receiver.url, data=b"{}")
    elapsed = time.perf_counter() - start

    assert 0.05 <= elapsed < 1.0


def test_the_same_seed_misbehaves_the_same_way(make_receiver):
    behaviour = Behaviour(status=202, fail_rate=0.3, drop_rate=0.2, fail_status=429, seed=42)

    def statuses() -> list[int | None]:
        receiver = make_receiver(scheme="none", behaviour=behaviour)
        for i in range(30):
            with contextlib.suppress(requests.ConnectionError):
                requests.post(receiver.url, data=str(i).encode())
        return [r.status for r in receiver.wait_for(30)]

    first = statuses()
    assert first == statuses()
    assert {202, 429, None} <= set(first)


# -- strict answers ----------------------------------------------------------------


@receiver_with(
    scheme="standard", behaviour=Behaviour(status=202, strict=True), clock=lambda: TS + 301.0
)
def test_strict_refuses_bad_signatures_bodies_and_schemas_with_their_status(webhook_receiver):
    receiver = webhook_receiver
    good = _payload()
    broken = _payload(1, overrides={"order.status": "SHIPPED"})
    wrong = generate_secret("standard", random.Random(8))
    answers = [
        _post(receiver, good, "standard", ts=TS + 1, secret=wrong),  # invalid
        requests.post(receiver.url, data=good.body),  # missing
        _post(receiver, good, "standard", ts=TS),  # stale
        _post(receiver, _Raw(b"not json"), "standard", ts=TS + 1),
        _post(receiver, broken, "standard", ts=TS + 1),
        _post(receiver, good, "standard", ts=TS + 1),
        _post(receiver, good, "standard", ts=TS + 1),  # a duplicate is acknowledged
    ]
    seen = receiver.wait_for(7)

    assert [r.status_code for r in answers] == [401, 401, 401, 400, 422, 202, 202]
    assert [r.status for r in seen] == [401, 401, 401, 400, 422, 202, 202]
    assert [r.duplicate for r in seen] == [False] * 6 + [True]
    # The verdicts still say why.
    assert answers[0].headers[VERDICT_HEADER] == "signature=invalid; duplicate=no; schema=ok"
    assert answers[4].headers[VERDICT_HEADER].startswith("signature=valid; duplicate=no; schema=")
    assert receiver.stats.statuses == {401: 3, 400: 1, 422: 1, 202: 2}


@receiver_with(behaviour=Behaviour(strict=True))
def test_strict_checks_the_signature_first_and_remembers_only_accepted_ids(webhook_receiver):
    receiver = webhook_receiver
    payload = _payload()
    bad_and_not_json = requests.post(
        receiver.url, data=b"{", headers=_signed("voucherify", payload)
    )
    refused = _post(receiver, payload, secret="wrong")
    accepted = _post(receiver, payload)
    seen = receiver.wait_for(3)

    assert [bad_and_not_json.status_code, refused.status_code, accepted.status_code] == [
        401,
        401,
        200,
    ]
    assert seen[2].duplicate is False  # a refused delivery was not taken


def test_strict_leaves_unsigned_bodies_and_events_without_a_schema_alone(make_receiver):
    strict = Behaviour(strict=True)
    unsigned = make_receiver(scheme="none", behaviour=strict)
    unknown = requests.post(unsigned.url, data=b'{"type": "ping"}')
    empty = requests.post(unsigned.url, data=b"")
    unchecked = make_receiver(behaviour=strict, validate_schema=False)
    broken = _post(unchecked, _payload(overrides={"order.status": "SHIPPED"}))

    assert unknown.status_code == 200
    assert unknown.headers[VERDICT_HEADER] == "signature=unsigned; duplicate=no; schema=skipped"
    assert empty.status_code == 400  # not JSON
    assert broken.status_code == 200


@receiver_with(behaviour=Behaviour(strict=True, fail_rate=1, max_body=100))
def test_strict_comes_after_drops_size_and_path_but_before_failures(webhook_receiver):
    receiver = webhook_receiver
    oversized = requests.post(receiver.url, data=b"x" * 200)
    elsewhere = requests.post(receiver.url + "other", data=b"x")
    refused = requests.post(receiver.url, data=b"x")
    failed = _post(receiver, _Raw(b"{}"))

    assert [r.status_code for r in (oversized, elsewhere, refused, failed)] == [
        413,
        404,
        401,
        503,
    ]


# -- records, callbacks, waiting, async ---------------------------------------------


def test_the_record_file_has_one_line_per_request_with_the_exact_body(tmp_path, make_receiver):
    record = tmp_path / "seen.ndjson"
    payloads = [_payload(i) for i in range(3)]
    seen: list[ReceivedRequest] = []
    receiver = make_receiver(record=record, on_request=seen.append, keep_requests=False)
    for p in payloads:
        _post(receiver, p)
    receiver.wait_for(3)

    assert receiver.requests == []
    lines = [json.loads(line) for line in record.read_bytes().splitlines()]
    assert [line["body"].encode() for line in lines] == [p.body for p in payloads]
    assert [line["event_id"] for line in lines] == [p.id for p in payloads]
    assert lines[0]["signature"] == "valid"
    assert lines[0]["headers"]["x-voucherify-signature"]
    assert [r.to_record() for r in seen] == lines


@receiver_with(scheme="none")
def test_wait_for_times_out_with_a_clear_message(webhook_receiver):
    with pytest.raises(DeliveryError) as caught:
        webhook_receiver.wait_for(1, timeout=0.05)
    assert str(caught.value) == (
        f"expected 1 request at {webhook_receiver.url} within 0.05s, got 0"
    )


def test_an_unusable_record_file_is_reported(tmp_path):
    receiver = _receiver("none", record=tmp_path / "missing" / "seen.ndjson")
    with pytest.raises(Exception, match="cannot write") as caught:
        receiver.__enter__()
    assert type(caught.value).__name__ == "RecordError"


needs_dev_full = pytest.mark.skipif(
    not os.path.exists("/dev/full"), reason="needs /dev/full, where every write fails"
)


@needs_dev_full
def test_a_record_write_failure_stops_recording_but_not_the_answers(make_receiver):
    errors: list[RecordError] = []
    behaviour = Behaviour(status=202)
    receiver = make_receiver(
        scheme="none", behaviour=behaviour, record="/dev/full", on_record_error=errors.append
    )
    statuses = [requests.post(receiver.url, data=b"{}").status_code for _ in range(2)]
    receiver.wait_for(2)

    assert statuses == [202, 202]
    message = "cannot write '/dev/full': No space left on device; recording stopped"
    assert [str(e) for e in errors] == [message]
    assert receiver.record_error is errors[0]
    assert receiver.stats.received == 2


def test_a_record_file_that_fails_to_close_is_reported_not_raised(tmp_path):
    record = tmp_path / "seen.ndjson"

    async def main() -> Receiver:
        receiver = _receiver("none", record=record)
        await receiver.start()
        # Closing the descriptor behind the file's back makes its close() fail for real,
        # as a last flush to a full disk or a lost network share would.
        os.close(receiver._record._file.fileno())
        await receiver.stop()
        return receiver

    receiver = asyncio.run(main())
    assert str(receiver.record_error) == (
        f"cannot write '{record}': Bad file descriptor; recording stopped"
    )


def test_it_runs_inside_a_running_event_loop():
    payload = _payload()

    async def main() -> tuple[int, str]:
        receiver = _receiver()
        await receiver.start()
        try:
            async with aiohttp.ClientSession() as session:
                headers = _signed("voucherify", payload)
                async with session.post(receiver.url, data=payload.body, headers=headers) as r:
                    return r.status, r.headers[VERDICT_HEADER]
        finally:
            await receiver.stop()
            await receiver.stop()

    assert asyncio.run(main()) == (200, "signature=valid; duplicate=no; schema=ok")


def _interrupt() -> None:
    os.kill(os.getpid(), signal.SIGINT)


def test_serve_hands_the_signals_back_to_the_handlers_it_found():
    def mine(signum, frame):
        caught.append(signum)

    async def main() -> None:
        asyncio.get_running_loop().call_later(0.05, _interrupt)
        await _receiver("none").serve()

    caught: list[int] = []
    previous = {sig: signal.signal(sig, mine) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        asyncio.run(main())
        # asyncio would put back the defaults: a late Ctrl-C would be a KeyboardInterrupt.
        assert [signal.getsignal(sig) for sig in previous] == [mine, mine]
        os.kill(os.getpid(), signal.SIGTERM)
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)

    assert caught == [signal.SIGTERM]


def test_request_stop_ends_serve_even_when_asked_before_it_started():
    receiver = _receiver("none")
    receiver.request_stop()  # e.g. a Ctrl-C while the caller was still setting up
    ready: list[str] = []

    asyncio.run(asyncio.wait_for(receiver.serve(lambda: ready.append(receiver.url)), 5))

    assert ready == [receiver.url]

    async def main() -> None:
        loop = asyncio.get_running_loop()
        # From another thread, as a signal handler or a test would.
        loop.call_later(0.05, threading.Thread(target=receiver.request_stop).start)
        await asyncio.wait_for(receiver.serve(), 5)

    asyncio.run(main())


@receiver_with(scheme="none", behaviour=Behaviour(status=202))
def test_stats_to_dict(webhook_receiver):
    receiver = webhook_receiver
    requests.post(receiver.url, data=b"{}")
    requests.post(receiver.url, data=b"{}")
    receiver.wait_for(2)

    assert receiver.stats.to_dict() == {
        "received": 2,
        "signatures": {"valid": 0, "invalid": 0, "missing": 0, "stale": 0, "unsigned": 2},
        "duplicates": 1,
        "schema_errors": 0,
        "not_json": 0,
        "statuses": {"202": 2},
        "dropped": 0,
    }


# -- the CLI -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--fail-rate", "2"],
            "Error: Invalid value for '--fail-rate': invalid fail rate '2': use a number from 0 "
            "to 1",
        ),
        (
            ["--status", "100"],
            "Error: Invalid value for '--status': invalid status 100: use a final HTTP status, "
            "from 200 to 599",
        ),
        (
            ["--fail-status", "101"],
            "Error: Invalid value for '--fail-status': invalid fail status 101: use a final HTTP "
            "status, from 200 to 599",
        ),
        (
            ["--retry-after", "5s"],
            "Error: Invalid value for '--retry-after': needs --fail-rate: Retry-After is sent "
            "only on failures",
        ),
        (
            ["--retry-after", "5s", "--fail-rate", "0.5", "--fail-status", "500"],
            "Error: Invalid value for '--retry-after': needs --fail-status 429 or 503, not 500: "
            "Retry-After is sent only with those",
        ),
        (
            ["--delay", "soon"],
            "Error: Invalid value for '--delay': invalid duration 'soon': "
            "use e.g. 30s, 250ms, 1m30s",
        ),
        (
            ["--delay", "200ms..10ms"],
            "Error: Invalid value for '--delay': invalid delay '200ms..10ms': "
            "the low end is above the high end",
        ),
        (
            ["--max-body", "1XB"],
            "Error: Invalid value for '--max-body': invalid size '1XB': use e.g. 1MB, 512KB, 65536",
        ),
        (
            ["--sign", "hmac"],
            "Error: Invalid value for '--sign': unknown signing scheme 'hmac': choose one of "
            "voucherify, standard, stripe, github, shopify, none",
        ),
        (
            [],
            "Error: signing scheme 'voucherify' needs a secret: "
            "pass --secret or set WEBHOOK_SECRET",
        ),
        (
            ["--secret", "a", "--secret-env", "MY_SECRET"],
            "Error: Invalid value for '--secret-env': cannot be combined with --secret",
        ),
        (
            ["--sign", "standard", "--secret", "not base64!"],
            "Error: signing scheme 'standard' needs a base64 secret, optionally prefixed "
            "'whsec_' (e.g. whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw); "
            "the given secret is not valid base64",
        ),
    ],
)
def test_cli_rejects_bad_options(invoke, args, message):
    result = invoke("receive", "--port", "0", *args)  # with no $WEBHOOK_SECRET
    assert result.code == 2
    assert result.err.splitlines()[-1] == message


@pytest.mark.parametrize("value", [None, ""])
def test_cli_names_the_secret_variable_it_read(invoke, value):
    result = invoke(
        "receive", "--port", "0", "--secret-env", "NOPE",
        env={"WEBHOOK_SECRET": "s3cr3t", "NOPE": value},  # None: not set at all
    )  # fmt: skip
    assert result.code == 2
    # The words `send --secret-env NOPE` uses.
    assert result.err == "Error: environment variable NOPE is not set\n"


def test_cli_reports_a_port_in_use(invoke):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]

        result = invoke("receive", "--port", str(port), "--secret", "s")
        assert result.code == 1

    assert result.err == f"Error: cannot listen on 127.0.0.1:{port}: address already in use\n"
    assert result.out == ""


def test_cli_help_has_an_example(invoke):
    result = invoke("receive", "--help")
    assert result.code == 0
    assert "Example:\n\n      webhook-sim receive --secret" in result.out
    assert "--strict" in result.out
    assert "401" in " ".join(result.out.split())


def test_cli_a_ctrl_c_while_stopping_still_prints_the_summary_once_and_exits_0(invoke, monkeypatch):
    # `timeout -s INT` signals the process and then its group: two SIGINTs, the second
    # one late. It used to land after the handlers were gone, as "Aborted." and exit 130.
    start, summary = Receiver.start, receive_cli.summary

    async def start_then_interrupt(self):
        await start(self)
        _interrupt()

    def interrupted_summary(stats):
        _interrupt()
        return summary(stats)

    monkeypatch.setattr(Receiver, "start", start_then_interrupt)
    monkeypatch.setattr(receive_cli, "summary", interrupted_summary)

    result = invoke("receive", "--port", "0", "--sign", "none", "--no-schema")
    assert result.code == 0
    assert result.out.startswith("Listening on http://127.0.0.1:")
    assert result.out.splitlines()[1:] == [
        "Received 0: signatures 0 valid, 0 invalid, 0 missing, 0 stale, 0 unsigned; "
        "0 duplicates; 0 with schema errors; 0 not JSON; 0 dropped"
    ]
    assert result.err == ""
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def _serve_then(monkeypatch, client) -> None:
    """Have `receive` run `client(receiver)` in a thread once it listens, then stop."""
    start = Receiver.start

    async def start_then_client(self):
        await start(self)

        def run_client() -> None:
            try:
                client(self)
            finally:
                self.request_stop()

        threading.Thread(target=run_client).start()

    monkeypatch.setattr(Receiver, "start", start_then_client)


def test_cli_strict_refuses_what_the_default_accepts(invoke, monkeypatch):
    answers: list[int] = []
    _serve_then(
        monkeypatch,
        lambda receiver: answers.append(requests.post(receiver.url, data=b"nope").status_code),
    )

    strict = invoke("receive", "--port", "0", "--sign", "none", "--no-schema", "--strict")
    default = invoke("receive", "--port", "0", "--sign", "none", "--no-schema")

    assert (strict.code, default.code) == (0, 0)
    assert answers == [400, 200]
    assert "(signature: none, schema: off, strict); Ctrl-C to stop\n" in strict.out
    assert "(signature: none, schema: off); Ctrl-C to stop\n" in default.out


@needs_dev_full
def test_cli_a_record_write_failure_is_one_line_then_the_summary_and_exit_1(invoke, monkeypatch):
    answers: list[int] = []
    _serve_then(
        monkeypatch,
        lambda receiver: answers.extend(
            requests.post(receiver.url, data=b"{}").status_code for _ in range(2)
        ),
    )

    args = ["receive", "--port", "0", "--sign", "none", "--no-schema", "-q"]
    result = invoke(*args, "--record", "/dev/full")
    assert result.code == 1

    assert answers == [200, 200]
    assert result.err == (
        "Error: cannot write '/dev/full': No space left on device; recording stopped\n"
    )
    assert result.out.splitlines()[-1].startswith("Received 2: ")


def _read_line(stream, timeout: float = 10.0) -> str:
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.append(stream.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    assert lines, "no output from the receiver"
    return lines[0]


def test_cli_end_to_end_until_ctrl_c(tmp_path):
    record = tmp_path / "seen.ndjson"
    payload = _payload()
    process = subprocess.Popen(
        [sys.executable, "-m", "simulator", "receive", "--port", "0", "--secret", "s3cr3t",
         "--record", str(record)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        first = _read_line(process.stdout)
        url = re.fullmatch(
            r"Listening on (\S+) \(signature: voucherify, schema: on\); Ctrl-C to stop\n", first
        )
        assert url, first
        headers = make_signer("voucherify", "s3cr3t").headers(
            payload.body, msg_id=payload.id, timestamp=TS, event_type=payload.event
        )
        assert requests.post(url.group(1), data=payload.body, headers=headers).status_code == 200
        line = _read_line(process.stdout)
        assert line.endswith(
            f"  customer.order.created  {payload.id}  "
            "signature=valid duplicate=no schema=ok  status=200\n"
        )
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=10)
    finally:
        process.kill()
    assert process.returncode == 0, err
    assert out == (
        "Received 1: signatures 1 valid, 0 invalid, 0 missing, 0 stale, 0 unsigned; "
        "0 duplicates; 0 with schema errors; 0 not JSON; 0 dropped\n"
    )
    assert err == ""
    assert json.loads(record.read_bytes())["body"].encode() == payload.body


def test_cli_request_line_shortens_body_hashes_and_shows_drops():
    request = ReceivedRequest(
        time=0.25, method="POST", path="/", headers={}, body=b"x", event_type=None,
        event_id="sha256:" + "ab" * 32, signature="missing", duplicate=True,
        schema_problems=[], status=None,
    )  # fmt: skip

    line = request_line(request)

    assert line.endswith(
        ".250  -  sha256:abababababab  signature=missing duplicate=yes schema=skipped  "
        "status=dropped"
    )

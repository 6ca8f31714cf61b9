"""The delivery engine and the send API, against real sockets on 127.0.0.1."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import random
import socket
import ssl
import threading
import time
from pathlib import Path

import orjson
import pytest
import standardwebhooks
import stripe
from aiohttp import web
from conftest import make_self_signed

from simulator.errors import DeliveryError, OverrideError, RecordError, UsageError
from simulator.generation.options import GenerationOptions
from simulator.generation.payloads import PayloadFactory
from simulator.receiving.receiver import Behaviour, Receiver
from simulator.redaction import REDACTED, public_url
from simulator.reports.thresholds import parse_threshold
from simulator.runtime import run_async
from simulator.sending import api as sending
from simulator.sending.api import send
from simulator.sending.client import check_target
from simulator.sending.config import SendConfig
from simulator.sending.engine import Engine
from simulator.sending.parsing import check_url, parse_header, parse_retry_after, parse_statuses
from simulator.sending.retry import VOUCHERIFY_OFFSETS_S, RetryPolicy
from simulator.sending.schedule import Stage
from simulator.sending.workers import WorkerPool
from simulator.signing import SCHEMES, generate_secret, make_signer

NOW = "2024-03-12T14:41:49.128Z"
FACTORY = {"seed": 7, "now": NOW}
GEN = GenerationOptions.from_options(**FACTORY)
SECRET = "s3cr3t-value-for-tests"


def _send(url: str | None, **options):
    for name, value in FACTORY.items():
        options.setdefault(name, value)
    options.setdefault("secret", SECRET)
    return send(signals=False, **{"url": url, **options})


@pytest.fixture
def receiver():
    with Receiver(secret=SECRET) as r:
        yield r


@contextlib.contextmanager
def _looping(start):
    """A loop in a thread that first awaits `start()`: (port, coroutine function to stop)."""
    loop = asyncio.new_event_loop()
    started = threading.Event()
    box = {}

    def run():
        box["port"], box["stop"] = loop.run_until_complete(start())
        started.set()
        loop.run_forever()
        loop.run_until_complete(box["stop"]())

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    started.wait()
    try:
        yield box["port"]
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join()


@contextlib.contextmanager
def serve(handler, tls=None):
    """A tiny aiohttp server on 127.0.0.1 for behaviours the Receiver does not have."""

    async def start():
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", handler)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=tls)
        await site.start()
        return runner.addresses[0][1], runner.cleanup

    with _looping(start) as port:
        yield f"{'https' if tls else 'http'}://127.0.0.1:{port}/hooks"


@contextlib.contextmanager
def _raw_server(answer):
    """A server on 127.0.0.1 whose answers are the bytes `answer(reader, writer)` writes,
    HTTP or not: for answers no HTTP server library would send."""

    async def handle(reader, writer):
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            await answer(reader, writer)  # the pre-flight check connects and says nothing

    async def start():
        server = await asyncio.start_server(handle, "127.0.0.1", 0)

        async def stop():
            server.close()
            await server.wait_closed()

        return server.sockets[0].getsockname()[1], stop

    with _looping(start) as port:
        yield f"http://127.0.0.1:{port}/hooks"


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# -- parsing -----------------------------------------------------------------------


def test_parse_statuses():
    assert parse_statuses("2xx") == frozenset(range(200, 300))
    assert parse_statuses("200, 202") == {200, 202}
    assert parse_statuses("200-202,204") == {200, 201, 202, 204}
    with pytest.raises(UsageError, match=r"invalid status list 'ok': use e.g. 2xx"):
        parse_statuses("ok")


def test_urls_and_headers():
    assert check_url("https://h.test:8443/x") == "https://h.test:8443/x"
    for bad in ("ftp://h/", "http:///x", "localhost:80", "http://h:99999/"):
        with pytest.raises(UsageError, match="invalid URL"):
            check_url(bad)
    assert public_url("https://user:pw@h.test:8443/x?q=1") == "https://h.test:8443/x?q=[redacted]"
    assert public_url("http://h.test/x?token=s3cr3t&v=2") == (
        "http://h.test/x?token=[redacted]&v=[redacted]"
    )
    assert public_url("http://[::1]:80/x") == "http://[::1]:80/x"
    assert parse_header("X-Team:  payments ") == ("X-Team", "payments")
    with pytest.raises(UsageError, match=r"invalid header 'X-Team payments'"):
        parse_header("X-Team payments")
    assert parse_header("Host: api.example.com") == ("Host", "api.example.com")
    assert parse_header("Connection: Close") == ("Connection", "Close")
    with pytest.raises(UsageError) as caught:
        parse_header("Connection: keep-alive")
    assert str(caught.value) == (
        "invalid header 'Connection: keep-alive': only 'Connection: close' (a new connection "
        "for every request) can be asked for"
    )
    for framing in ("Content-Length: 5", "transfer-encoding: chunked"):
        name = framing.split(":")[0]
        with pytest.raises(UsageError) as caught:
            parse_header(framing)
        assert str(caught.value) == f"invalid header '{framing}': the sender sets {name} itself"


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("X-Foo: bar\nbaz", "X-Foo: bar\\nbaz"),
        ("X-Foo: bar\r\nX-Evil: 1", "X-Foo: bar\\r\\nX-Evil: 1"),
        ("X-Foo: a\x00b", "X-Foo: a\\x00b"),
        ("X-F\x7foo: bar", "X-F\\x7foo: bar"),
    ],
)
def test_headers_with_control_characters_are_usage_errors(text, shown):
    message = (
        f"invalid header '{shown}': a header cannot contain control characters such as CR or LF"
    )
    with pytest.raises(UsageError) as caught:
        parse_header(text)
    assert str(caught.value) == message
    name, _, value = text.partition(":")
    with pytest.raises(UsageError) as caught:
        SendConfig(headers=((name, value.strip()),))
    assert str(caught.value) == f"Invalid value for '-H' / '--header': {message}"
    assert parse_header("X-Tab: a\tb") == ("X-Tab", "a\tb")  # tab is allowed in a value


def test_retry_policies():
    rng = random.Random(1)
    exponential = RetryPolicy(retries=5)
    delays = [exponential.delay(n, 0.0, rng) for n in range(1, 10)]
    assert all(0 <= d <= min(60.0, 2 ** (n - 1)) for n, d in enumerate(delays, 1))
    voucherify = RetryPolicy(retries=12, schedule="voucherify", time_scale=0.001)
    assert voucherify.delay(1, 0.0, rng) == pytest.approx(0.06)
    assert voucherify.delay(3, 0.1, rng) == pytest.approx(0.14)
    assert voucherify.delay(12, 0.0, rng) == pytest.approx(86.4)
    assert VOUCHERIFY_OFFSETS_S[:3] == (60.0, 120.0, 240.0) and len(VOUCHERIFY_OFFSETS_S) == 12
    assert RetryPolicy(schedule="none").delay(4, 0.0, rng) == 0.0
    assert voucherify.retry_after_wait(30.0) == pytest.approx((0.03, 0.03))  # scaled too


def test_a_retry_after_is_scaled_then_capped():
    policy = RetryPolicy(retries=1, time_scale=0.5, max_retry_after_s=60.0)
    assert policy.retry_after_wait(100.0) == (50.0, 50.0)
    assert policy.retry_after_wait(86_400.0) == (60.0, 43_200.0)
    with pytest.raises(UsageError, match="invalid max Retry-After -1"):
        RetryPolicy(max_retry_after_s=-1)


def test_retry_after_reads_seconds_and_dates():
    assert parse_retry_after("7", 0.0) == 7.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:10 GMT", 1445412480.0) == 10.0
    assert parse_retry_after("soon", 0.0) is None
    assert parse_retry_after(None, 0.0) is None


def test_conflicting_plans_are_usage_errors():
    with pytest.raises(UsageError) as caught:
        SendConfig(url="http://127.0.0.1:1/", ramp=(1.0, 5.0))
    assert str(caught.value) == (
        "Invalid value for '--ramp': needs --duration, e.g. --ramp 10/s..500/s --duration 1m"
    )
    with pytest.raises(UsageError) as caught:
        SendConfig(url="http://127.0.0.1:1/", rate=5.0, ramp=(1.0, 5.0), duration=1.0)
    assert str(caught.value) == "Invalid value for '--ramp': cannot be combined with --rate"


def test_options_may_be_the_command_lines_text():
    config = SendConfig.from_options(
        rate="3000/m", duration="1m30s", timeout="2s", grace="500ms", workers="auto",
        expect_status="200,202", headers={"X-Team": "payments"}, events="customer.order.paid",
    )  # fmt: skip
    assert (config.rate, config.duration, config.timeout, config.grace) == (50.0, 90.0, 2.0, 0.5)
    assert config.workers == (os.cpu_count() or 1)
    assert config.expect_status == {200, 202} and config.events == ("customer.order.paid",)
    assert config.headers == (("X-Team", "payments"),)
    text = SendConfig.from_options
    assert text(headers=["X-Team: payments"]).headers == (("X-Team", "payments"),)
    assert text(rate="max").closed
    assert text(ramp="10/s..500/s", duration="30s").ramp == (10.0, 500.0)
    assert text(stages="1s:5/s,2s:0/s").stages == (Stage(1.0, 5.0), Stage(2.0, 0.0))
    assert text(stages=[(1.0, 5.0)]).stages == (Stage(1.0, 5.0),)
    assert text(rate="50/s", environ={}) == text(rate=50.0, environ={})


def test_send_takes_text_options_and_names_an_unknown_one():
    result = send(count=5, rate="50/s", timeout="5s", environ={}, signals=False, dead_letter=None,
                  thresholds=["success>=100%"])  # fmt: skip
    assert result.outcome == "ok" and result.stats.delivered == 5
    assert result.config.rate == 50.0 and result.thresholds[0].ok
    with pytest.raises(UsageError) as caught:
        send(count=5, x=1)
    assert str(caught.value) == "unknown option 'x'"
    with pytest.raises(UsageError) as caught:
        send(count=5, rate="fast")
    assert str(caught.value) == (
        "Invalid value for '--rate': invalid rate 'fast': use e.g. 50/s, 3000/m, max"
    )
    with pytest.raises(UsageError) as caught:
        send(workers="lots")
    assert str(caught.value) == (
        "Invalid value for '--workers': invalid workers 'lots': use a number of at least 1, or auto"
    )


# -- delivery ------------------------------------------------------------------------


@pytest.mark.parametrize("scheme", SCHEMES)
def test_every_scheme_is_verified_by_the_receiver(scheme):
    secret = generate_secret(scheme, random.Random(3))
    with Receiver(scheme=scheme, secret=secret) as receiver:
        result = _send(receiver.url, count=4, sign=scheme, secret=secret)
        received = receiver.wait_for(4)
    verdict = "unsigned" if scheme == "none" else "valid"
    assert receiver.stats.signatures[verdict] == 4
    assert result.outcome == "ok" and result.stats.delivered == 4
    for request in received:
        assert request.headers["Content-Type"] == "application/json"
        assert request.headers["User-Agent"].startswith("webhook-simulator/")
        if scheme == "standard":
            standardwebhooks.Webhook(secret).verify(request.body, request.headers)
        if scheme == "stripe":
            header = request.headers["Stripe-Signature"]
            stripe.WebhookSignature.verify_header(request.body.decode(), header, secret, 300)


def test_bodies_are_the_factory_bytes_with_the_target_url(receiver):
    _send(receiver.url, count=3, headers=(("X-Team", "payments"),))
    received = sorted(receiver.wait_for(3), key=lambda r: r.body)
    factory = PayloadFactory(target_url=receiver.url, **FACTORY)
    assert [r.body for r in received] == sorted(factory.build(i).body for i in range(3))
    assert orjson.loads(received[0].body)["source"]["target_url"] == receiver.url
    assert all(r.headers["X-Team"] == "payments" for r in received)


def test_rate_is_kept_and_counts_are_exact(tmp_path):
    log = tmp_path / "log.ndjson"
    with Receiver(secret=SECRET, validate_schema=False, keep_requests=False) as receiver:
        result = _send(receiver.url, rate=200.0, duration=2.0, dead_letter=None, log=str(log))
    assert result.stats.events == 400 == result.stats.delivered == receiver.stats.received
    starts = sorted(orjson.loads(line)["started_epoch"] for line in log.read_bytes().splitlines())
    assert 399 / (starts[-1] - starts[0]) == pytest.approx(200, rel=0.03)
    # The report's send rate is that very number: the first and last actual starts.
    assert result.summary["send_rate"] == pytest.approx(399 / (starts[-1] - starts[0]), rel=1e-4)
    # The report's rate also counts the last response's latency, so it is looser.
    assert result.summary["achieved_rate"] == pytest.approx(200, rel=0.1)


def test_count_and_duration_bound_the_run(receiver):
    assert _send(receiver.url, count=7).stats.events == 7
    assert _send(receiver.url, rate=20.0, duration=0.5).stats.events == 10
    assert _send(receiver.url).stats.events == 1


def test_retries_follow_503_and_retry_after_until_delivered(tmp_path):
    behaviour = Behaviour(fail_rate=0.5, fail_status=503, retry_after=1, seed=5)
    with Receiver(secret=SECRET, behaviour=behaviour) as receiver:
        started = time.monotonic()
        result = _send(
            receiver.url,
            count=20,
            retry=RetryPolicy(retries=15, time_scale=0.001),
            dead_letter=str(tmp_path / "dl.ndjson"),
        )
    assert time.monotonic() - started < 2
    assert result.stats.delivered == 20 and result.outcome == "ok"
    assert result.stats.retries > 0 and result.stats.status_codes[503] == result.stats.retries
    assert receiver.stats.duplicates == 0
    assert not (tmp_path / "dl.ndjson").exists()


@pytest.mark.parametrize("scheme", ["standard", "stripe"])
def test_retries_sign_again_with_a_new_timestamp_and_the_same_id(scheme):
    secret = generate_secret(scheme, random.Random(4))
    seen = []

    async def flaky(request):
        seen.append((dict(request.headers), await request.read()))
        return web.Response(status=503 if len(seen) == 1 else 200)

    ticks = iter(range(0, 10_000, 100))
    config = SendConfig(
        scheme=scheme,
        secret=secret,
        generation=GEN,
        retry=RetryPolicy(retries=1, schedule="none"),
        dead_letter=None,
    )
    with serve(flaky) as url:
        engine = Engine(
            dataclasses.replace(config, url=url), wall=lambda: 1_700_000_000.0 + next(ticks)
        )
        result = run_async(engine.run())
    assert result.stats.delivered == 1 and result.stats.attempts == 2
    (first, body), (second, again) = seen
    assert body == again
    signer = make_signer(scheme, secret)
    if scheme == "standard":
        assert first["webhook-id"] == second["webhook-id"]
        stamps = [int(h["webhook-timestamp"]) for h in (first, second)]
    else:
        stamps = [int(h["Stripe-Signature"].split(",")[0][2:]) for h in (first, second)]
    assert stamps[1] > stamps[0]
    for headers, stamp in zip((first, second), stamps, strict=True):
        assert signer.verify(body, headers, now=stamp).value == "valid"


def test_a_slow_answer_is_a_timeout_and_is_dead_lettered(tmp_path):
    dead = tmp_path / "dl.ndjson"
    with Receiver(secret=SECRET, behaviour=Behaviour(delay=(0.5, 0.5))) as receiver:
        result = _send(receiver.url, count=2, timeout=0.2, dead_letter=str(dead))
    assert result.stats.error_kinds == {"timeout": 2}
    assert result.outcome == "undelivered" and result.dead_lettered == 2
    records = [orjson.loads(line) for line in dead.read_bytes().splitlines()]
    assert {(r["reason"], r["last_error"], r["attempts"]) for r in records} == {
        ("failed", "timeout", 1)
    }


def test_a_dropped_connection_is_a_reset():
    with Receiver(secret=SECRET, behaviour=Behaviour(drop_rate=1.0)) as receiver:
        result = _send(receiver.url, count=1, dead_letter=None)
    assert result.stats.error_kinds == {"reset": 1}


def test_expect_status_decides_success(receiver):
    result = _send(receiver.url, count=2, expect_status=frozenset({202}), dead_letter=None)
    assert result.stats.error_kinds == {"status": 2} and result.stats.status_codes == {200: 2}


def test_dead_letters_keep_exact_bodies_and_redact_secrets_then_replay(tmp_path):
    dead = tmp_path / "dl.ndjson"
    headers = (("Authorization", "Bearer tok"), ("X-Echo", f"key={SECRET}"))
    with Receiver(secret=SECRET, behaviour=Behaviour(status=500)) as failing:
        result = _send(failing.url, count=3, headers=headers, dead_letter=str(dead))
        factory = PayloadFactory(target_url=failing.url, **FACTORY)
    assert result.dead_lettered == 3 and result.dead_letter == str(dead)
    records = sorted((orjson.loads(line) for line in dead.read_bytes().splitlines()),
                     key=lambda r: r["index"])  # fmt: skip
    assert [r["body"].encode() for r in records] == [factory.build(i).body for i in range(3)]
    first = records[0]
    assert (first["reason"], first["attempts"], first["last_status"]) == ("failed", 1, 500)
    assert first["headers"]["Authorization"] == REDACTED == first["headers"]["X-Echo"]
    assert first["headers"]["x-voucherify-signature"] != REDACTED
    assert SECRET not in dead.read_text()

    with Receiver(secret=SECRET) as healthy:
        replayed = _send(healthy.url, replay=str(dead), dead_letter=None)
        received = healthy.wait_for(3)
    assert replayed.outcome == "ok" and healthy.stats.signatures["valid"] == 3
    assert sorted(r.body for r in received) == sorted(factory.build(i).body for i in range(3))


def test_a_replay_rewrites_its_own_dead_letter_file_from_workers_or_not_at_all(tmp_path):
    dead = tmp_path / "dl.ndjson"
    with Receiver(secret=SECRET, behaviour=Behaviour(status=500)) as failing:
        _send(failing.url, count=4, dead_letter=str(dead))
        dead.chmod(0o640)
        before = dead.read_bytes()
        result = _send(failing.url, replay=str(dead), dead_letter=str(dead), workers=2)
        assert result.dead_lettered == 4 and result.rewrote_dead_letter
        assert result.report()["run"]["dead_letter"] == {
            "path": str(dead), "events": 4, "unwritten": 0, "rewritten": True,
        }  # fmt: skip
        again = dead.read_bytes()
        assert sorted(again.splitlines()) != sorted(before.splitlines())  # new attempts
        assert sorted(orjson.loads(line)["body"] for line in again.splitlines()) == sorted(
            orjson.loads(line)["body"] for line in before.splitlines()
        )
        assert dead.stat().st_mode & 0o777 == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dl.ndjson"]


def test_a_failed_replay_leaves_its_dead_letter_file_as_it_was(tmp_path, monkeypatch):
    dead = tmp_path / "dl.ndjson"
    dead.write_bytes(PayloadFactory(**FACTORY).build(0).body + b"\n")

    def broken_run(config, on_progress, signals):
        Path(config.dead_letter).write_bytes(b"half a line")
        raise DeliveryError("worker 1 stopped unexpectedly (exit code -9)")

    monkeypatch.setattr(sending, "_run", broken_run)
    with Receiver(secret=SECRET) as receiver, pytest.raises(DeliveryError):
        _send(receiver.url, replay=str(dead), dead_letter=str(dead))
    assert dead.read_bytes() == PayloadFactory(**FACTORY).build(0).body + b"\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dl.ndjson"]


def test_replay_sends_generate_output_byte_for_byte(tmp_path, receiver):
    path = tmp_path / "gen.ndjson"
    bodies = [PayloadFactory(**FACTORY).build(i).body for i in range(5)]
    path.write_bytes(b"".join(b + b"\n" for b in bodies))
    result = _send(receiver.url, replay=str(path), rate=100.0)
    assert result.stats.delivered == 5
    assert sorted(r.body for r in receiver.wait_for(5)) == sorted(bodies)


def test_replaying_a_receiver_record_sends_each_event_once(tmp_path):
    # The record holds every delivery the receiver got, retries included.
    record = tmp_path / "received.ndjson"
    flaky = Behaviour(fail_rate=0.5, seed=2)
    with Receiver(secret=SECRET, behaviour=flaky, record=record) as receiver:
        first = _send(receiver.url, count=10, retry=RetryPolicy(retries=20, schedule="none"))
    assert first.stats.retries > 0
    assert len(record.read_bytes().splitlines()) == first.stats.attempts > 10
    again = _send(None, replay=str(record), dead_letter=None)
    assert again.stats.events == again.stats.delivered == 10
    assert again.receiver["duplicates"] == 0 and again.outcome == "ok"


def test_replay_keeps_recorded_signatures_when_asked(tmp_path):
    record = tmp_path / "record.ndjson"
    with Receiver(secret=SECRET, record=record) as first:
        _send(first.url, count=2)
        sent = {r.body: r.headers["x-voucherify-signature"] for r in first.wait_for(2)}
    with Receiver(secret="another-secret") as second:
        _send(second.url, replay=str(record), keep_signature=True, secret="another-secret")
        again = {r.body: r.headers["x-voucherify-signature"] for r in second.wait_for(2)}
    assert again == sent
    assert second.stats.signatures["invalid"] == 2  # the old secret's signatures, as recorded


def test_keep_signature_needs_unredacted_signatures(tmp_path):
    path = tmp_path / "gen.ndjson"
    path.write_bytes(PayloadFactory(**FACTORY).build(0).body + b"\n")
    config = SendConfig(url="http://127.0.0.1:1/", replay=str(path), keep_signature=True)
    with pytest.raises(RecordError, match=r"line 1: no recorded signature to keep"):
        Engine(config)


def test_log_has_one_line_per_attempt_and_no_secret(tmp_path):
    log = tmp_path / "log.ndjson"
    behaviour = Behaviour(fail_rate=0.5, seed=2)
    with Receiver(secret=SECRET, behaviour=behaviour) as receiver:
        result = _send(
            receiver.url,
            count=10,
            log=str(log),
            log_bodies=True,
            retry=RetryPolicy(retries=20, schedule="none"),
            headers=(("X-Api-Key", SECRET),),
        )
    lines = [orjson.loads(line) for line in log.read_bytes().splitlines()]
    assert len(lines) == result.stats.attempts > 10
    assert {line["attempt"] for line in lines} > {1}
    line = lines[0]
    assert set(line) >= {"id", "index", "event", "attempt", "scheduled", "scheduled_epoch",
                         "started", "started_epoch", "status", "latency_ms", "service_ms",
                         "error", "error_detail", "bytes", "body", "headers"}  # fmt: skip
    assert line["latency_ms"] >= line["service_ms"]
    assert SECRET not in log.read_text()


@pytest.mark.parametrize("workers", [1, 2])
def test_a_run_without_attempts_leaves_an_empty_log_not_an_old_one(tmp_path, receiver, workers):
    log = tmp_path / "log.ndjson"
    log.write_bytes(b'{"an":"earlier run"}\n')
    config = SendConfig(
        url=receiver.url, secret=SECRET, generation=GEN, count=5, rate=10.0, log=str(log),
        dead_letter=str(tmp_path / "dl.ndjson"), workers=workers,
    ).resolve(random.Random(1))  # fmt: skip
    if workers == 1:
        engine = Engine(config)
        engine.stop()  # before the first send: no attempt at all
        result = run_async(engine.run())
        assert result.stats.attempts == 0
    else:
        pool = WorkerPool(config)
        pool.stop()
        assert sum(r.stats.attempts for r in pool.run()) == 0
    assert log.read_bytes() == b""
    assert len((tmp_path / "dl.ndjson").read_bytes().splitlines()) == 5  # nothing lost


def test_records_say_why_an_attempt_without_a_status_failed(tmp_path):
    # An answer that is not HTTP: its kind is "other", and only the detail says what.
    async def not_http(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n")
        await writer.drain()
        writer.close()

    log, dead = tmp_path / "log.ndjson", tmp_path / "dl.ndjson"
    with _raw_server(not_http) as url:
        result = _send(url, count=2, log=str(log), dead_letter=str(dead))
    assert result.stats.error_kinds == {"other": 2}
    attempts = [orjson.loads(line) for line in log.read_bytes().splitlines()]
    letters = [orjson.loads(line) for line in dead.read_bytes().splitlines()]
    reason = "bad Content-Length 'x'"
    assert [(a["error"], a["error_detail"]) for a in attempts] == [("other", reason)] * 2
    assert [(d["last_error"], d["last_error_detail"]) for d in letters] == [("other", reason)] * 2


def test_a_try_the_client_sent_again_is_an_attempt_in_the_records(tmp_path):
    # The server reads the second request on a connection, then closes without a word:
    # the client sends it again on a new connection, and the server has now seen it twice.
    seen = []

    async def answer_once_per_connection(reader, writer):
        for turn in range(2):
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
            seen.append(await reader.readexactly(length))
            if turn == 0:
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
                await writer.drain()
        writer.close()

    log = tmp_path / "log.ndjson"
    with _raw_server(answer_once_per_connection) as url:
        result = _send(url, count=2, rate="max", concurrency=1, log=str(log), dead_letter=None)
    lines = [orjson.loads(line) for line in log.read_bytes().splitlines()]
    assert len(seen) == len(lines) == result.stats.attempts == 3
    assert result.stats.delivered == 2 and result.stats.error_kinds == {"reset": 1}
    # Nothing scheduled the resend: not a retry, no schedule lag, never late.
    assert (result.stats.retries, result.stats.resends, result.stats.late) == (0, 1, 0)
    assert result.stats.schedule_lag.count == 2 and result.stats.latency_service.count == 3
    again = "the server closed the connection without answering (reused): sent again on a new one"
    tries = [(x["index"], x["attempt"], x["status"], x["error_detail"]) for x in lines]
    assert tries == [(0, 1, 200, None), (1, 1, None, again), (1, 2, 200, None)]
    assert seen[1] == seen[2]  # the same event, byte for byte


def test_a_resend_takes_nothing_from_the_retries(tmp_path):
    # Event 0: 200. Event 1: its reused connection closes unanswered, its resend gets 500,
    # and its one retry (--retries 1) gets 200.
    answers = iter([b"200 OK", None, b"500 Oops", b"200 OK"])

    async def scripted(reader, writer):
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            await reader.readexactly(
                int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
            )
            status = next(answers)
            if status is None:
                break
            writer.write(b"HTTP/1.1 " + status + b"\r\nContent-Length: 0\r\n\r\n")
            await writer.drain()
        writer.close()

    with _raw_server(scripted) as url:
        result = _send(
            url, count=2, rate="max", concurrency=1, dead_letter=None,
            retry=RetryPolicy(retries=1, schedule="none"),
        )  # fmt: skip
    stats = result.stats
    assert (stats.delivered, stats.attempts, stats.retries, stats.resends) == (2, 4, 1, 1)
    assert result.summary["send_rate"] is not None and result.summary["counts"]["resends"] == 1


def test_a_delivered_attempt_has_no_error_detail(tmp_path, receiver):
    log = tmp_path / "log.ndjson"
    _send(receiver.url, count=1, log=str(log))
    (line,) = [orjson.loads(line) for line in log.read_bytes().splitlines()]
    assert (line["status"], line["error"], line["error_detail"]) == (200, None, None)


def test_thresholds_are_checked_against_the_summary(receiver):
    result = _send(
        receiver.url,
        count=3,
        thresholds=[parse_threshold("p99<0.001ms"), parse_threshold("success>=100%")],
    )
    assert [r.ok for r in result.thresholds] == [False, True]
    assert result.outcome == "threshold"
    assert result.report()["run"]["url"] == receiver.url


def test_unreachable_target_is_one_clear_error():
    port = _closed_port()
    with pytest.raises(DeliveryError) as caught:
        check_target(f"http://user:pw@127.0.0.1:{port}/x")
    assert str(caught.value) == f"cannot connect to http://127.0.0.1:{port}/x: connection refused"


def test_a_missing_secret_fails_before_any_io():
    with pytest.raises(UsageError, match="signing scheme 'voucherify' needs a secret"):
        send(url=f"http://127.0.0.1:{_closed_port()}/", environ={}, signals=False)


def test_the_default_target_is_a_verifying_receiver():
    result = send(count=5, rate=50.0, environ={}, signals=False, dead_letter=None)
    assert result.outcome == "ok"
    assert result.receiver["received"] == 5
    assert result.receiver["signatures"]["valid"] == 5
    assert result.receiver["duplicates"] == result.receiver["schema_errors"] == 0


def _stopped_run(delay: float, stop_after: float, dead, **config):
    """An Engine run against a receiver answering after `delay` s, stopped after
    `stop_after` s: (the receiver's url, the RunResult, the dead-letter records)."""
    with Receiver(secret=SECRET, behaviour=Behaviour(delay=(delay, delay))) as slow:
        options = {"secret": SECRET, "generation": GEN, "dead_letter": str(dead)}
        engine = Engine(SendConfig(url=slow.url, **{**options, **config}))

        async def main():
            asyncio.get_running_loop().call_later(stop_after, engine.stop)
            return await engine.run()

        result = run_async(main())
    records = [orjson.loads(line) for line in dead.read_bytes().splitlines()]
    return slow.url, result, records


def test_an_event_stopped_while_waiting_for_a_retry_failed_as_its_last_attempt(tmp_path):
    busy = Behaviour(fail_rate=1.0, fail_status=503, retry_after=60)
    with Receiver(secret=SECRET, behaviour=busy) as receiver:
        config = SendConfig(
            url=receiver.url, secret=SECRET, generation=GEN, count=3, rate=100.0,
            retry=RetryPolicy(retries=5), dead_letter=str(tmp_path / "dl.ndjson"),
        )  # fmt: skip
        engine = Engine(config)

        async def main():
            asyncio.get_running_loop().call_later(0.3, engine.stop)
            return await engine.run()

        result = run_async(main())
    stats = result.stats
    assert stats.error_kinds == {"status": 3}  # attempts
    assert stats.by_event_type["customer.order.created"].error_kinds == {"status": 3}  # events


def test_stop_dead_letters_everything_not_delivered(tmp_path):
    _, result, records = _stopped_run(
        0.5, 0.2, tmp_path / "dl.ndjson", count=50, rate=100.0, grace=0.1
    )
    assert result.interrupted and result.stats.interrupted
    assert (
        result.stats.delivered + result.dead_lettered == 50 == len(records) + result.stats.delivered
    )
    assert {r["reason"] for r in records} == {"interrupted"}
    assert result.not_sent > 0 and len({r["id"] for r in records}) == len(records)
    # The events never sent are the run's events too: unfinished, not delivered.
    stats = result.stats
    assert stats.events == 50 and stats.not_sent == result.not_sent
    assert stats.events - stats.delivered - stats.failed >= result.not_sent
    assert result.planned_not_sent == 0
    # Requests still out when the grace ran out may have reached the server: they are
    # attempts in the records, cut short, and their events say so.
    cut = [r for r in records if r["attempts"]]
    assert cut and stats.error_kinds == {"interrupted": len(cut)}
    assert stats.attempts == stats.delivered + len(cut)
    assert {(r["last_error"], r["last_error_detail"]) for r in cut} == {
        ("interrupted", "the run stopped before an answer came")
    }


def test_stop_at_rate_max_dead_letters_prebuilt_and_unbuilt_events(tmp_path):
    # The closed model builds payloads ahead (PREBUILD at a time): those built but not
    # sent when the run stops are dead-lettered with the never-built ones, unchanged.
    url, result, records = _stopped_run(
        0.3, 0.15, tmp_path / "dl.ndjson", count=60, rate=None, concurrency=3, grace=0.05
    )
    assert result.interrupted and result.stats.delivered == 0  # every answer came too late
    assert result.dead_lettered == len(records) == 60
    assert result.not_sent == 57  # three were in flight; the rest, prebuilt or not, unsent
    factory = PayloadFactory(**FACTORY, target_url=url)
    assert [r["body"].encode() for r in records[3:]] == [
        factory.build(i).body for i in range(3, 60)
    ]
    assert result.stats.events == 60 and result.stats.not_sent == 57


def test_stop_in_a_duration_run_dead_letters_only_what_was_generated(tmp_path):
    _, result, records = _stopped_run(
        0.5, 0.2, tmp_path / "dl.ndjson", duration=30.0, rate=100.0, grace=0.1
    )
    stats = result.stats
    assert result.interrupted and result.not_sent == 0 and stats.not_sent == 0
    assert 0 < stats.events < 100  # about 0.2 s of 100/s, not the 3,000 planned
    assert len(records) == result.dead_lettered == stats.events - stats.delivered > 0
    assert {r["reason"] for r in records} == {"interrupted"}
    assert result.planned_not_sent == 3000 - stats.events


def test_workers_split_the_run_and_merge_exactly(tmp_path):
    with Receiver(secret=SECRET) as receiver:
        result = _send(receiver.url, count=40, rate=200.0, workers=2, log=str(tmp_path / "log"))
        received = receiver.wait_for(40)
    assert len({r.event_id for r in received}) == 40
    assert result.stats.events == result.stats.delivered == 40
    assert result.stats.latency_corrected.count == 40
    assert len((tmp_path / "log").read_bytes().splitlines()) == 40
    assert not list(tmp_path.glob("log.part*"))


def test_progress_is_reported_while_the_run_goes(receiver):
    seen = []
    _send(receiver.url, rate=20.0, duration=0.7, on_progress=seen.append)
    assert len(seen) >= 2
    assert seen[-1].sent >= seen[0].sent and seen[-1].elapsed > seen[0].elapsed
    assert seen[-1].delivered > 0 and seen[-1].errors == 0
    last = seen[-1]
    assert last.rate == pytest.approx(last.sent / last.elapsed)  # requests out per second


def test_tls_is_verified_unless_told_otherwise(self_signed, tmp_path):
    cert, key = self_signed
    other, _ = make_self_signed(tmp_path / "other")
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(cert, key)

    async def ok(request):
        await request.read()
        return web.Response()

    with serve(ok, tls) as url:
        # Checked once, before the run: an untrusted certificate would fail every event.
        with pytest.raises(DeliveryError) as untrusted:
            _send(url, count=1, dead_letter=None)
        elsewhere = url.replace("127.0.0.1", "localhost")
        with pytest.raises(DeliveryError) as mismatch:
            _send(elsewhere, count=1, dead_letter=None, ca_bundle=str(cert))
        with pytest.raises(DeliveryError) as not_that_ca:
            _send(url, count=1, dead_letter=None, ca_bundle=str(other))
        trusted = _send(url, count=1, ca_bundle=str(cert))
        insecure = _send(url, count=1, insecure=True)
    named, named_key = make_self_signed(tmp_path / "named", "DNS:localhost")
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(named, named_key)
    with serve(ok, tls) as url_by_address, pytest.raises(DeliveryError) as address:
        _send(url_by_address, count=1, dead_letter=None, ca_bundle=str(named))
    skip = "or --insecure to skip the check)"
    assert str(address.value) == (
        f"cannot connect to {url_by_address}: TLS certificate is for another host: IP address "
        "mismatch, certificate is not valid for '127.0.0.1' (use a host name it is for in "
        f"the URL, not '127.0.0.1', {skip}"
    )
    assert str(untrusted.value) == (
        f"cannot connect to {url}: TLS certificate not trusted: self-signed certificate "
        f"(give --ca-bundle FILE with the CA that signed it, {skip}"
    )
    assert str(not_that_ca.value) == (
        f"cannot connect to {url}: TLS certificate not trusted: self-signed certificate "
        f"(no CA in '{other}' or the system's signed it, {skip}"
    )
    assert str(mismatch.value) == (
        f"cannot connect to {elsewhere}: TLS certificate is for another host: Hostname "
        "mismatch, certificate is not valid for 'localhost' (use a host name it is for in "
        f"the URL, not 'localhost', {skip}"
    )
    assert trusted.stats.delivered == insecure.stats.delivered == 1


def test_the_check_before_a_run_waits_as_long_as_an_attempt_may(tmp_path):
    async def silent(reader, writer):  # accepts, never says a TLS word
        await reader.read()

    with _raw_server(silent) as url:
        started = time.monotonic()
        with pytest.raises(DeliveryError) as caught:
            _send(url.replace("http:", "https:"), count=1, timeout=0.3, dead_letter=None)
        took = time.monotonic() - started
    assert str(caught.value).endswith(": TLS handshake timed out after 0.3s")
    assert took < 2.0  # --timeout, not a fixed 3 s


def test_connection_close_asks_for_a_new_connection_per_request():
    peers = []

    async def ok(request):
        await request.read()
        peers.append((request.transport.get_extra_info("peername"), request.headers))
        return web.Response()

    with serve(ok) as url:
        _send(url, count=3, concurrency=1, rate="max")
        kept = {peer for peer, _ in peers}
        peers.clear()
        _send(url, count=3, concurrency=1, rate="max", headers=["Connection: close"])
        fresh = {peer for peer, _ in peers}
    assert len(kept) == 1 and len(fresh) == 3
    assert all(headers["Connection"] == "close" for _, headers in peers)


def test_a_worker_error_reaches_the_caller_as_the_same_error(receiver):
    with pytest.raises(OverrideError, match="no_such_field"):
        _send(receiver.url, count=4, workers=2, overrides={"no_such_field.deeper": 1})


def test_records_that_cannot_be_written_fail_before_sending(tmp_path, receiver):
    with pytest.raises(RecordError, match=r"cannot write '.*log\.ndjson': No such file"):
        _send(receiver.url, count=2, log=str(tmp_path / "missing" / "log.ndjson"))
    assert receiver.stats.received == 0


def test_no_more_workers_than_events(receiver):
    result = _send(receiver.url, count=1, workers=2)
    assert result.config.workers == 1 and result.stats.delivered == 1

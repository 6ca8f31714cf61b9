"""One event's attempts over real sockets on 127.0.0.1: signed, POSTed, retried, resent on
a new connection, recorded in the log and dead-lettered."""

from __future__ import annotations

import asyncio
import dataclasses
import random
import time

import orjson
import pytest
import standardwebhooks
import stripe
from aiohttp import web
from conftest import DISTINCT_SECRET, receiver_with
from runs import FACTORY, GEN, raw_server, send_to, serve

from simulator.generation.payloads import PayloadFactory
from simulator.receiving.receiver import Behaviour
from simulator.redaction import REDACTED
from simulator.runtime import run_async
from simulator.sending.config import SendConfig
from simulator.sending.engine import Engine
from simulator.sending.retry import RetryPolicy
from simulator.signing import SCHEMES, generate_secret, make_signer

SCHEME_SECRETS = {scheme: generate_secret(scheme, random.Random(3)) for scheme in SCHEMES}


# -- signing ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "webhook_receiver",
    [{"scheme": scheme, "secret": SCHEME_SECRETS[scheme]} for scheme in SCHEMES],
    indirect=True,
    ids=SCHEMES,
)
def test_every_scheme_is_verified_by_the_receiver(webhook_receiver):
    scheme = webhook_receiver.scheme
    secret = SCHEME_SECRETS[scheme]
    result = send_to(webhook_receiver.url, count=4, sign=scheme, secret=secret)
    received = webhook_receiver.wait_for(4)
    verdict = "unsigned" if scheme == "none" else "valid"
    assert webhook_receiver.stats.signatures[verdict] == 4
    assert result.outcome == "ok" and result.stats.delivered == 4
    for request in received:
        assert request.headers["Content-Type"] == "application/json"
        assert request.headers["User-Agent"].startswith("webhook-simulator/")
        if scheme == "standard":
            standardwebhooks.Webhook(secret).verify(request.body, request.headers)
        if scheme == "stripe":
            header = request.headers["Stripe-Signature"]
            stripe.WebhookSignature.verify_header(request.body.decode(), header, secret, 300)


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


# -- answers, retries and resends ------------------------------------------------------


@receiver_with(behaviour=Behaviour(fail_rate=0.5, fail_status=503, retry_after=1, seed=5))
def test_retries_follow_503_and_retry_after_until_delivered(tmp_path, webhook_receiver):
    started = time.monotonic()
    result = send_to(
        webhook_receiver.url,
        count=20,
        retry=RetryPolicy(retries=15, time_scale=0.001),
        dead_letter=str(tmp_path / "dl.ndjson"),
    )
    assert time.monotonic() - started < 2
    assert result.stats.delivered == 20 and result.outcome == "ok"
    assert result.stats.retries > 0 and result.stats.status_codes[503] == result.stats.retries
    assert webhook_receiver.stats.duplicates == 0
    assert not (tmp_path / "dl.ndjson").exists()


@receiver_with(behaviour=Behaviour(delay=(0.5, 0.5)))
def test_a_slow_answer_is_a_timeout_and_is_dead_lettered(tmp_path, webhook_receiver):
    dead = tmp_path / "dl.ndjson"
    result = send_to(webhook_receiver.url, count=2, timeout=0.2, dead_letter=str(dead))
    assert result.stats.error_kinds == {"timeout": 2}
    assert result.outcome == "undelivered" and result.dead_lettered == 2
    records = [orjson.loads(line) for line in dead.read_bytes().splitlines()]
    assert {(r["reason"], r["last_error"], r["attempts"]) for r in records} == {
        ("failed", "timeout", 1)
    }


@receiver_with(behaviour=Behaviour(drop_rate=1.0))
def test_a_dropped_connection_is_a_reset(webhook_receiver):
    result = send_to(webhook_receiver.url, count=1, dead_letter=None)
    assert result.stats.error_kinds == {"reset": 1}


def test_expect_status_decides_success(webhook_receiver):
    url = webhook_receiver.url
    result = send_to(url, count=2, expect_status=frozenset({202}), dead_letter=None)
    assert result.stats.error_kinds == {"status": 2} and result.stats.status_codes == {200: 2}


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
    with raw_server(answer_once_per_connection) as url:
        result = send_to(url, count=2, rate="max", concurrency=1, log=str(log), dead_letter=None)
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

    with raw_server(scripted) as url:
        result = send_to(
            url, count=2, rate="max", concurrency=1, dead_letter=None,
            retry=RetryPolicy(retries=1, schedule="none"),
        )  # fmt: skip
    stats = result.stats
    assert (stats.delivered, stats.attempts, stats.retries, stats.resends) == (2, 4, 1, 1)
    assert result.summary["send_rate"] is not None and result.summary["counts"]["resends"] == 1


def test_connection_close_asks_for_a_new_connection_per_request():
    peers = []

    async def ok(request):
        await request.read()
        peers.append((request.transport.get_extra_info("peername"), request.headers))
        return web.Response()

    with serve(ok) as url:
        send_to(url, count=3, concurrency=1, rate="max")
        kept = {peer for peer, _ in peers}
        peers.clear()
        send_to(url, count=3, concurrency=1, rate="max", headers=["Connection: close"])
        fresh = {peer for peer, _ in peers}
    assert len(kept) == 1 and len(fresh) == 3
    assert all(headers["Connection"] == "close" for _, headers in peers)


# -- the log and the dead letters ------------------------------------------------------


@receiver_with(secret=DISTINCT_SECRET, behaviour=Behaviour(fail_rate=0.5, seed=2))
def test_log_has_one_line_per_attempt_and_no_secret(tmp_path, webhook_receiver):
    log = tmp_path / "log.ndjson"
    result = send_to(
        webhook_receiver.url,
        count=10,
        log=str(log),
        log_bodies=True,
        retry=RetryPolicy(retries=20, schedule="none"),
        headers=(("X-Api-Key", DISTINCT_SECRET),),
        secret=DISTINCT_SECRET,
    )
    lines = [orjson.loads(line) for line in log.read_bytes().splitlines()]
    assert len(lines) == result.stats.attempts > 10
    assert {line["attempt"] for line in lines} > {1}
    line = lines[0]
    assert set(line) >= {"id", "index", "event", "attempt", "scheduled", "scheduled_epoch",
                         "started", "started_epoch", "status", "latency_ms", "service_ms",
                         "error", "error_detail", "bytes", "body", "headers"}  # fmt: skip
    assert line["latency_ms"] >= line["service_ms"]
    assert DISTINCT_SECRET not in log.read_text()


def test_a_delivered_attempt_has_no_error_detail(tmp_path, webhook_receiver):
    log = tmp_path / "log.ndjson"
    send_to(webhook_receiver.url, count=1, log=str(log))
    (line,) = [orjson.loads(line) for line in log.read_bytes().splitlines()]
    assert (line["status"], line["error"], line["error_detail"]) == (200, None, None)


def test_records_say_why_an_attempt_without_a_status_failed(tmp_path):
    # An answer that is not HTTP: its kind is "other", and only the detail says what.
    async def not_http(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n")
        await writer.drain()
        writer.close()

    log, dead = tmp_path / "log.ndjson", tmp_path / "dl.ndjson"
    with raw_server(not_http) as url:
        result = send_to(url, count=2, log=str(log), dead_letter=str(dead))
    assert result.stats.error_kinds == {"other": 2}
    attempts = [orjson.loads(line) for line in log.read_bytes().splitlines()]
    letters = [orjson.loads(line) for line in dead.read_bytes().splitlines()]
    reason = "bad Content-Length 'x'"
    assert [(a["error"], a["error_detail"]) for a in attempts] == [("other", reason)] * 2
    assert [(d["last_error"], d["last_error_detail"]) for d in letters] == [("other", reason)] * 2


def test_dead_letters_keep_exact_bodies_and_redact_secrets_then_replay(tmp_path, make_receiver):
    dead = tmp_path / "dl.ndjson"
    secret = DISTINCT_SECRET
    headers = (("Authorization", "Bearer tok"), ("X-Echo", f"key={secret}"))
    failing = make_receiver(secret=secret, behaviour=Behaviour(status=500))
    result = send_to(failing.url, count=3, headers=headers, dead_letter=str(dead), secret=secret)
    factory = PayloadFactory(target_url=failing.url, **FACTORY)
    assert result.dead_lettered == 3 and result.dead_letter == str(dead)
    records = sorted((orjson.loads(line) for line in dead.read_bytes().splitlines()),
                     key=lambda r: r["index"])  # fmt: skip
    assert [r["body"].encode() for r in records] == [factory.build(i).body for i in range(3)]
    first = records[0]
    assert (first["reason"], first["attempts"], first["last_status"]) == ("failed", 1, 500)
    assert first["headers"]["Authorization"] == REDACTED == first["headers"]["X-Echo"]
    assert first["headers"]["x-voucherify-signature"] != REDACTED
    assert secret not in dead.read_text()

    healthy = make_receiver(secret=secret)
    replayed = send_to(healthy.url, replay=str(dead), dead_letter=None, secret=secret)
    received = healthy.wait_for(3)
    assert replayed.outcome == "ok" and healthy.stats.signatures["valid"] == 3
    assert sorted(r.body for r in received) == sorted(factory.build(i).body for i in range(3))

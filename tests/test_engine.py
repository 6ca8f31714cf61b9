"""The engine and the send API over real sockets on 127.0.0.1: pacing and counts, the
checks before a run, stopping, workers and replays."""

from __future__ import annotations

import asyncio
import random
import ssl
import time
from pathlib import Path

import orjson
import pytest
from aiohttp import web
from conftest import SECRET, closed_port, make_self_signed, receiver_with
from runs import FACTORY, GEN, raw_server, send_to, serve

from simulator.errors import DeliveryError, OverrideError, RecordError
from simulator.generation.payloads import PayloadFactory
from simulator.receiving.receiver import Behaviour, Receiver
from simulator.reports.thresholds import parse_threshold
from simulator.runtime import run_async
from simulator.sending import api as sending
from simulator.sending.api import send
from simulator.sending.client import check_target
from simulator.sending.config import SendConfig
from simulator.sending.engine import Engine
from simulator.sending.retry import RetryPolicy
from simulator.sending.workers import WorkerPool

# -- a run -----------------------------------------------------------------------------


def test_bodies_are_the_factory_bytes_with_the_target_url(webhook_receiver):
    send_to(webhook_receiver.url, count=3, headers=(("X-Team", "payments"),))
    received = sorted(webhook_receiver.wait_for(3), key=lambda r: r.body)
    factory = PayloadFactory(target_url=webhook_receiver.url, **FACTORY)
    assert [r.body for r in received] == sorted(factory.build(i).body for i in range(3))
    assert orjson.loads(received[0].body)["source"]["target_url"] == webhook_receiver.url
    assert all(r.headers["X-Team"] == "payments" for r in received)


@receiver_with(validate_schema=False, keep_requests=False)
def test_rate_is_kept_and_counts_are_exact(tmp_path, webhook_receiver):
    log = tmp_path / "log.ndjson"
    url = webhook_receiver.url
    result = send_to(url, rate=200.0, duration=2.0, dead_letter=None, log=str(log))
    assert result.stats.events == 400 == result.stats.delivered == webhook_receiver.stats.received
    starts = sorted(orjson.loads(line)["started_epoch"] for line in log.read_bytes().splitlines())
    assert 399 / (starts[-1] - starts[0]) == pytest.approx(200, rel=0.03)
    # The report's send rate is that very number: the first and last actual starts.
    assert result.summary["send_rate"] == pytest.approx(399 / (starts[-1] - starts[0]), rel=1e-4)
    # The report's rate also counts the last response's latency, so it is looser.
    assert result.summary["achieved_rate"] == pytest.approx(200, rel=0.1)


def test_count_and_duration_bound_the_run(webhook_receiver):
    assert send_to(webhook_receiver.url, count=7).stats.events == 7
    assert send_to(webhook_receiver.url, rate=20.0, duration=0.5).stats.events == 10
    assert send_to(webhook_receiver.url).stats.events == 1


def test_progress_is_reported_while_the_run_goes(webhook_receiver):
    seen = []
    send_to(webhook_receiver.url, rate=20.0, duration=0.7, on_progress=seen.append)
    assert len(seen) >= 2
    assert seen[-1].sent >= seen[0].sent and seen[-1].elapsed > seen[0].elapsed
    assert seen[-1].delivered > 0 and seen[-1].errors == 0
    last = seen[-1]
    assert last.rate == pytest.approx(last.sent / last.elapsed)  # requests out per second


def test_thresholds_are_checked_against_the_summary(webhook_receiver):
    result = send_to(
        webhook_receiver.url,
        count=3,
        thresholds=[parse_threshold("p99<0.001ms"), parse_threshold("success>=100%")],
    )
    assert [r.ok for r in result.thresholds] == [False, True]
    assert result.outcome == "threshold"
    assert result.report()["run"]["url"] == webhook_receiver.url


def test_the_default_target_is_a_verifying_receiver():
    result = send(count=5, rate=50.0, environ={}, signals=False, dead_letter=None)
    assert result.outcome == "ok"
    assert result.receiver["received"] == 5
    assert result.receiver["signatures"]["valid"] == 5
    assert result.receiver["duplicates"] == result.receiver["schema_errors"] == 0


# -- before the first send -------------------------------------------------------------


def test_unreachable_target_is_one_clear_error():
    port = closed_port()
    with pytest.raises(DeliveryError) as caught:
        check_target(f"http://user:pw@127.0.0.1:{port}/x")
    assert str(caught.value) == f"cannot connect to http://127.0.0.1:{port}/x: connection refused"


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
            send_to(url, count=1, dead_letter=None)
        elsewhere = url.replace("127.0.0.1", "localhost")
        with pytest.raises(DeliveryError) as mismatch:
            send_to(elsewhere, count=1, dead_letter=None, ca_bundle=str(cert))
        with pytest.raises(DeliveryError) as not_that_ca:
            send_to(url, count=1, dead_letter=None, ca_bundle=str(other))
        trusted = send_to(url, count=1, ca_bundle=str(cert))
        insecure = send_to(url, count=1, insecure=True)
    named, named_key = make_self_signed(tmp_path / "named", "DNS:localhost")
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(named, named_key)
    with serve(ok, tls) as url_by_address, pytest.raises(DeliveryError) as address:
        send_to(url_by_address, count=1, dead_letter=None, ca_bundle=str(named))
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

    with raw_server(silent) as url:
        started = time.monotonic()
        with pytest.raises(DeliveryError) as caught:
            send_to(url.replace("http:", "https:"), count=1, timeout=0.3, dead_letter=None)
        took = time.monotonic() - started
    assert str(caught.value).endswith(": TLS handshake timed out after 0.3s")
    assert took < 2.0  # --timeout, not a fixed 3 s


def test_records_that_cannot_be_written_fail_before_sending(tmp_path, webhook_receiver):
    with pytest.raises(RecordError, match=r"cannot write '.*log\.ndjson': No such file"):
        send_to(webhook_receiver.url, count=2, log=str(tmp_path / "missing" / "log.ndjson"))
    assert webhook_receiver.stats.received == 0


# -- stopping --------------------------------------------------------------------------


def _stopped_run(slow: Receiver, stop_after: float, dead, **config):
    """An Engine run against `slow`, stopped after `stop_after` s: (the receiver's url,
    the RunResult, the dead-letter records)."""
    options = {"secret": SECRET, "generation": GEN, "dead_letter": str(dead)}
    engine = Engine(SendConfig(url=slow.url, **{**options, **config}))

    async def main():
        asyncio.get_running_loop().call_later(stop_after, engine.stop)
        return await engine.run()

    result = run_async(main())
    records = [orjson.loads(line) for line in dead.read_bytes().splitlines()]
    return slow.url, result, records


@receiver_with(behaviour=Behaviour(fail_rate=1.0, fail_status=503, retry_after=60))
def test_an_event_stopped_while_waiting_for_a_retry_failed_as_its_last_attempt(
    tmp_path, webhook_receiver
):
    config = SendConfig(
        url=webhook_receiver.url, secret=SECRET, generation=GEN, count=3, rate=100.0,
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


@receiver_with(behaviour=Behaviour(delay=(0.5, 0.5)))
def test_stop_dead_letters_everything_not_delivered(tmp_path, webhook_receiver):
    _, result, records = _stopped_run(
        webhook_receiver, 0.2, tmp_path / "dl.ndjson", count=50, rate=100.0, grace=0.1
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


@receiver_with(behaviour=Behaviour(delay=(0.3, 0.3)))
def test_stop_at_rate_max_dead_letters_prebuilt_and_unbuilt_events(tmp_path, webhook_receiver):
    # The closed model builds payloads ahead (PREBUILD at a time): those built but not
    # sent when the run stops are dead-lettered with the never-built ones, unchanged.
    url, result, records = _stopped_run(
        webhook_receiver, 0.15, tmp_path / "dl.ndjson", count=60, rate=None, concurrency=3,
        grace=0.05,
    )  # fmt: skip
    assert result.interrupted and result.stats.delivered == 0  # every answer came too late
    assert result.dead_lettered == len(records) == 60
    assert result.not_sent == 57  # three were in flight; the rest, prebuilt or not, unsent
    factory = PayloadFactory(**FACTORY, target_url=url)
    assert [r["body"].encode() for r in records[3:]] == [
        factory.build(i).body for i in range(3, 60)
    ]
    assert result.stats.events == 60 and result.stats.not_sent == 57


@receiver_with(behaviour=Behaviour(delay=(0.5, 0.5)))
def test_stop_in_a_duration_run_dead_letters_only_what_was_generated(tmp_path, webhook_receiver):
    _, result, records = _stopped_run(
        webhook_receiver, 0.2, tmp_path / "dl.ndjson", duration=30.0, rate=100.0, grace=0.1
    )
    stats = result.stats
    assert result.interrupted and result.not_sent == 0 and stats.not_sent == 0
    assert 0 < stats.events < 100  # about 0.2 s of 100/s, not the 3,000 planned
    assert len(records) == result.dead_lettered == stats.events - stats.delivered > 0
    assert {r["reason"] for r in records} == {"interrupted"}
    assert result.planned_not_sent == 3000 - stats.events


# -- workers ---------------------------------------------------------------------------


def test_workers_split_the_run_and_merge_exactly(tmp_path, webhook_receiver):
    url, log = webhook_receiver.url, str(tmp_path / "log")
    result = send_to(url, count=40, rate=200.0, workers=2, log=log)
    received = webhook_receiver.wait_for(40)
    assert len({r.event_id for r in received}) == 40
    assert result.stats.events == result.stats.delivered == 40
    assert result.stats.latency_corrected.count == 40
    assert len((tmp_path / "log").read_bytes().splitlines()) == 40
    assert not list(tmp_path.glob("log.part*"))


@pytest.mark.parametrize("workers", [1, 2])
def test_a_run_without_attempts_leaves_an_empty_log_not_an_old_one(
    tmp_path, webhook_receiver, workers
):
    log = tmp_path / "log.ndjson"
    log.write_bytes(b'{"an":"earlier run"}\n')
    config = SendConfig(
        url=webhook_receiver.url, secret=SECRET, generation=GEN, count=5, rate=10.0, log=str(log),
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


def test_a_worker_error_reaches_the_caller_as_the_same_error(webhook_receiver):
    with pytest.raises(OverrideError, match="no_such_field"):
        send_to(webhook_receiver.url, count=4, workers=2, overrides={"no_such_field.deeper": 1})


def test_no_more_workers_than_events(webhook_receiver):
    result = send_to(webhook_receiver.url, count=1, workers=2)
    assert result.config.workers == 1 and result.stats.delivered == 1


# -- replay ----------------------------------------------------------------------------


def test_replay_sends_generate_output_byte_for_byte(tmp_path, webhook_receiver):
    path = tmp_path / "gen.ndjson"
    bodies = [PayloadFactory(**FACTORY).build(i).body for i in range(5)]
    path.write_bytes(b"".join(b + b"\n" for b in bodies))
    result = send_to(webhook_receiver.url, replay=str(path), rate=100.0)
    assert result.stats.delivered == 5
    assert sorted(r.body for r in webhook_receiver.wait_for(5)) == sorted(bodies)


def test_replaying_a_receiver_record_sends_each_event_once(tmp_path, make_receiver):
    # The record holds every delivery the receiver got, retries included.
    record = tmp_path / "received.ndjson"
    flaky = make_receiver(behaviour=Behaviour(fail_rate=0.5, seed=2), record=record)
    first = send_to(flaky.url, count=10, retry=RetryPolicy(retries=20, schedule="none"))
    assert first.stats.retries > 0
    assert len(record.read_bytes().splitlines()) == first.stats.attempts > 10
    again = send_to(None, replay=str(record), dead_letter=None)
    assert again.stats.events == again.stats.delivered == 10
    assert again.receiver["duplicates"] == 0 and again.outcome == "ok"


def test_replay_keeps_recorded_signatures_when_asked(tmp_path, make_receiver):
    record = tmp_path / "record.ndjson"
    first = make_receiver(record=record)
    send_to(first.url, count=2)
    sent = {r.body: r.headers["x-voucherify-signature"] for r in first.wait_for(2)}
    second = make_receiver(secret="another-secret")
    send_to(second.url, replay=str(record), keep_signature=True, secret="another-secret")
    again = {r.body: r.headers["x-voucherify-signature"] for r in second.wait_for(2)}
    assert again == sent
    assert second.stats.signatures["invalid"] == 2  # the old secret's signatures, as recorded


def test_keep_signature_needs_unredacted_signatures(tmp_path):
    path = tmp_path / "gen.ndjson"
    path.write_bytes(PayloadFactory(**FACTORY).build(0).body + b"\n")
    config = SendConfig(url="http://127.0.0.1:1/", replay=str(path), keep_signature=True)
    with pytest.raises(RecordError, match=r"line 1: no recorded signature to keep"):
        Engine(config)


@receiver_with(behaviour=Behaviour(status=500))
def test_a_replay_rewrites_its_own_dead_letter_file_from_workers_or_not_at_all(
    tmp_path, webhook_receiver
):
    dead = tmp_path / "dl.ndjson"
    failing = webhook_receiver
    send_to(failing.url, count=4, dead_letter=str(dead))
    dead.chmod(0o640)
    before = dead.read_bytes()
    result = send_to(failing.url, replay=str(dead), dead_letter=str(dead), workers=2)
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


def test_a_failed_replay_leaves_its_dead_letter_file_as_it_was(
    tmp_path, monkeypatch, webhook_receiver
):
    dead = tmp_path / "dl.ndjson"
    dead.write_bytes(PayloadFactory(**FACTORY).build(0).body + b"\n")

    def broken_run(config, on_progress, signals):
        Path(config.dead_letter).write_bytes(b"half a line")
        raise DeliveryError("worker 1 stopped unexpectedly (exit code -9)")

    monkeypatch.setattr(sending, "_run", broken_run)
    with pytest.raises(DeliveryError):
        send_to(webhook_receiver.url, replay=str(dead), dead_letter=str(dead))
    assert dead.read_bytes() == PayloadFactory(**FACTORY).build(0).body + b"\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dl.ndjson"]

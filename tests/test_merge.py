"""A distributed run's books without Locust: event indexes partitioned by worker and slot,
each process's share (send's own payloads, signing and attempts over real HTTP), the
parts it leaves, and `webhook-sim merge` joining them into one report."""

from __future__ import annotations

import asyncio
import json
import random
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from conftest import NOW, SECRET

from simulator import PayloadFactory, merge, send
from simulator.errors import UsageError
from simulator.generation.payloads import Payload
from simulator.integrations.partition import (
    MAX_SEQUENCE,
    MAX_SLOTS,
    MAX_WORKERS,
    Slots,
    event_index,
    split_index,
)
from simulator.integrations.shares import RunIdentity, Share, user_config
from simulator.reports.attempt import Attempt
from simulator.reports.parts import read_part, write_part
from simulator.reports.stats import RunStats
from simulator.sending.client import Session


def test_event_indexes_of_workers_slots_and_sequences_never_meet():
    seen = set()
    for worker in (0, 1, MAX_WORKERS - 1):
        for slot in (0, 1, MAX_SLOTS - 1):
            for sequence in (0, 1, MAX_SEQUENCE - 1):
                index = event_index(worker, slot, sequence)
                assert split_index(index) == (worker, slot, sequence)
                assert index < 2**56  # templates shift an index left by up to 8 bits
                seen.add(index)
    assert len(seen) == 27
    for bad in ((MAX_WORKERS, 0, 0), (0, MAX_SLOTS, 0), (0, 0, MAX_SEQUENCE), (-1, 0, 0)):
        with pytest.raises(UsageError):
            event_index(*bad)


def test_a_slot_handed_back_goes_on_from_where_its_last_user_stopped():
    slots = Slots()
    assert [slots.take(), slots.take(), slots.take()] == [(0, 0), (1, 0), (2, 0)]
    slots.give(1, 40)
    slots.give(0, 7)
    assert slots.lent == 1
    assert slots.take() == (0, 7)  # the lowest free slot first, with its count
    assert slots.take() == (1, 40)
    assert slots.take() == (3, 0)


class _Pace:
    """What attempts need of an engine, for one event at a time: never stopping."""

    stopping = False

    async def nap(self, delay: float) -> bool:
        await asyncio.sleep(delay)
        return False

    async def take_slot(self) -> None:
        pass

    def give_slot(self) -> None:
        pass


def _share_sends(share: Share, url: str, sends: list[tuple[int, int]]) -> list[Payload]:
    """Send the (slot, sequence) events of `sends` through `share` to `url`, over HTTP."""
    kit = share.kit("Shop", {"events": ["customer.order.created", "customer.order.paid"],
                             "secret": SECRET, "now": NOW}, url)  # fmt: skip

    async def run() -> list[Payload]:
        payloads = []
        async with Session(url, timeout=5.0) as session:
            for slot, sequence in sends:
                event = share.event(kit, slot, sequence)
                await kit.attempts.deliver(session, event, share.now(), _Pace(), False)
                payloads.append(event.payload)
        return payloads

    return asyncio.run(run())


def test_shares_of_two_workers_send_unique_events_and_merge_exactly(
    tmp_path, webhook_receiver, invoke
):
    sends = [(0, 0), (0, 1), (1, 0), (0, 2)]
    payloads, shares = [], []
    for worker in (0, 1):
        identity = RunIdentity("run-1", worker, (0, 1), seed=7, out=tmp_path, log=True)
        share = Share(identity)
        payloads += _share_sends(share, webhook_receiver.url, sends)
        share.finish()
        shares.append(share)
    received = webhook_receiver.wait_for(8)
    assert {r.signature for r in received} == {"valid"}
    assert len({r.event_id for r in received}) == 8
    # Payload n is the generator's payload n, whichever worker builds it.
    events = ["customer.order.created", "customer.order.paid"]
    factory = PayloadFactory(events, seed=7, now=NOW, target_url=webhook_receiver.url)
    for payload in payloads:
        assert payload.body == factory.build(payload.index).body

    merged = invoke("merge", str(tmp_path), "--report", str(tmp_path / "run.json"),
                    "--log", str(tmp_path / "all.ndjson"))  # fmt: skip
    assert merged.code == 0, merged.out + merged.err
    assert "Merged run run-1  parts from workers 0, 1  seed 7" in merged.out
    report = json.loads((tmp_path / "run.json").read_text())
    whole = RunStats()
    for share in shares:
        whole.merge(share.stats)
    assert report["counts"]["delivered"] == report["counts"]["attempts"] == 8
    assert report["latency_ms"]["service"]["p99"] == whole.latency_service.percentile(99) / 1000
    assert report["run"]["events"] == ["customer.order.created", "customer.order.paid"]
    logged = [json.loads(line) for line in (tmp_path / "all.ndjson").read_text().splitlines()]
    assert sorted(line["index"] for line in logged) == sorted(p.index for p in payloads)
    assert len(list(tmp_path.glob("run-1.w*.Shop.log.ndjson"))) == 2  # the parts stay


def _stats(latencies_us: list[int], *, failed: int = 0) -> RunStats:
    stats = RunStats(started_at=1000.0, finished_at=1010.0)
    payload = Payload("customer.order.paid", 0, "whs_1", b"{}")
    for n, latency in enumerate(latencies_us):
        ok = n >= failed
        stats.record_event(payload.event)
        stats.record_attempt(Attempt(payload, n, 1, 1000.0 + n, 1000.0 + n,
                                     1000.0 + n + latency / 1e6, 200 if ok else 503,
                                     None if ok else "status", None, {}))  # fmt: skip
        stats.record_outcome(payload.event, delivered=ok, error=None if ok else "status")
    return stats


def _part(folder: Path, worker: int, stats: RunStats, *, run: str = "r", workers=(0, 1)) -> Path:
    return write_part(folder, {"engine": "locust", "run": run, "worker": worker,
                               "workers": list(workers), "seed": 3, "users": {},
                               "record_errors": [], "stats": stats.to_dict()})  # fmt: skip


def test_the_merged_histograms_are_those_of_every_attempt_in_one(tmp_path):
    rng = random.Random(5)
    shares = [[rng.randrange(50, 2_000_000) for _ in range(500)] for _ in range(3)]
    for worker, latencies in enumerate(shares):
        _part(tmp_path, worker, _stats(latencies), workers=(0, 1, 2))
    everything = _stats([value for latencies in shares for value in latencies])
    result = merge([tmp_path], thresholds=["p99<10s"])
    assert result.stats.latency_service == everything.latency_service
    assert result.stats.latency_corrected == everything.latency_corrected
    assert result.summary["counts"]["attempts"] == 1500
    assert read_part(tmp_path / "r.w1.json").stats.latency_service.count == 500
    assert result.outcome == "ok"


def test_a_missing_part_leaves_the_run_unaccounted_for(tmp_path, invoke):
    _part(tmp_path, 0, _stats([100, 200]), workers=(0, 1, 2))
    _part(tmp_path, 2, _stats([300]), workers=(0, 1, 2))
    result = invoke("merge", str(tmp_path), "--junit", str(tmp_path / "run.xml"),
                    "--report", str(tmp_path / "run.json"))  # fmt: skip
    assert result.code == 1
    assert "records    FAILED: worker 1 left no part" in result.out
    assert json.loads((tmp_path / "run.json").read_text())["run"]["missing_workers"] == [1]
    failures = ET.parse(tmp_path / "run.xml").getroot().iter("failure")
    assert [f.get("type") for f in failures] == ["unrecorded"]


def test_undelivered_events_and_failed_thresholds_set_the_exit_code(tmp_path, invoke):
    _part(tmp_path, 0, _stats([100, 200, 300], failed=1), workers=(0,))
    undelivered = invoke("merge", str(tmp_path))
    assert undelivered.code == 1
    assert "FAILED: 1 events not delivered" in undelivered.out
    threshold = invoke("merge", str(tmp_path), "--threshold", "success>=99%", "-q")
    assert (threshold.code, threshold.out) == (99, "")


@pytest.mark.parametrize(
    ("make", "args", "code", "says"),
    [
        (lambda d: None, [], 2, "no part files in"),
        (lambda d: (_part(d, 0, RunStats(), run="a"), _part(d, 0, RunStats(), run="b")), [], 2,
         "hold parts of 2 runs: a (1 parts), b (1 parts); choose one with --run"),
        (lambda d: _part(d, 0, RunStats(), run="a"), ["--run", "b"], 2, "no part files of run 'b'"),
        (lambda d: (d / "x.w0.json").write_text("[]"), [], 1, "is not a part file"),
        (lambda d: None, ["--threshold", "p99<"], 2, "Invalid value for '--threshold'"),
    ],
)  # fmt: skip
def test_bad_input_is_one_line_and_an_exit_code(tmp_path, invoke, make, args, code, says):
    make(tmp_path)
    result = invoke("merge", str(tmp_path), *args)
    assert result.code == code, result.out + result.err
    assert says in result.err
    assert "Traceback" not in result.err


def test_two_parts_of_one_worker_are_refused(tmp_path, invoke):
    part = _part(tmp_path / "a", 0, RunStats(), run="r")
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / part.name).write_bytes(part.read_bytes())
    result = invoke("merge", str(tmp_path / "a"), str(tmp_path / "b"))
    assert result.code == 2
    assert "two parts of worker 0 of run r" in result.err


def test_the_merged_report_has_the_shape_of_sends(tmp_path, webhook_receiver):
    sent = send(url=webhook_receiver.url, count=2, secret=SECRET, seed=1, signals=False,
                report=str(tmp_path / "send.json"), dead_letter=None)  # fmt: skip
    assert sent.outcome == "ok"
    _part(tmp_path / "parts", 0, _stats([100]), workers=(0,))
    merged = merge([tmp_path / "parts"]).report()
    report = json.loads((tmp_path / "send.json").read_text())
    assert merged.keys() == report.keys()
    assert set(report["run"]) <= set(merged["run"])


def test_a_user_class_option_error_names_the_attribute():
    with pytest.raises(UsageError, match=r"^invalid value for retry_schedule: unknown retry"):
        user_config({"retry_schedule": "sometimes", "secret": SECRET}, "http://127.0.0.1:9/")
    with pytest.raises(UsageError, match=r"^invalid value for overrides: "):
        user_config({"overrides": ["no-equals-sign"]}, None)

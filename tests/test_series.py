"""A run over time (reports/series.py): per-interval counts and percentiles that merge
exactly across workers, in memory that stays flat however long the run."""

from __future__ import annotations

import random
import tracemalloc

from simulator import send
from simulator.reports.attempt import Attempt
from simulator.reports.histogram import Histogram
from simulator.reports.series import MAX_INTERVALS, Series


def _attempt(scheduled: float, started: float, finished: float, **fields) -> Attempt:
    fields.setdefault("status", 200)
    return Attempt(
        None, 0, 1, scheduled, started, finished, fields.pop("status"),
        fields.pop("error", None), None, {}, **fields,
    )  # fmt: skip


def _attempts(seconds: int, per_second: int, seed: int = 1) -> list[Attempt]:
    rng = random.Random(seed)
    out = []
    for i in range(seconds * per_second):
        due = i / per_second
        started = due + rng.choice((0.0, 0.0, 0.0, 0.02))  # some sends start late
        status = rng.choice((200, 200, 200, 503, None))
        out.append(
            _attempt(
                due, started, started + rng.uniform(0.001, 0.05), status=status,
                error=None if status == 200 else ("status" if status else "reset"),
                retry=rng.random() < 0.1,
            )
        )  # fmt: skip
    return out


def test_each_interval_has_its_own_percentiles_within_the_resolution():
    series = Series()
    attempts = _attempts(3, 200)
    for attempt in attempts:
        series.record(attempt)
    document = series.document()

    assert [row["t"] for row in document["intervals"]] == [0.0, 1.0, 2.0, 3.0]
    for row in document["intervals"][:3]:
        t = row["t"]
        mine = [a for a in attempts if t <= a.started < t + 1]
        exact = Histogram()
        for a in mine:
            exact.record(round((a.finished - a.scheduled) * 1_000_000))
        assert row["attempts"] == len(mine)
        assert row["retries"] == sum(a.retry for a in mine)
        assert row["sends"] == sum(not a.retry for a in mine)
        assert row["statuses"] == {
            str(s): sum(a.status == s for a in mine)
            for s in (200, 503)
            if any(a.status == s for a in mine)
        }
        assert row["errors"]["reset"] == sum(a.error == "reset" for a in mine)
        for got, want in zip(row["corrected_ms"], exact.percentiles([50, 90, 99]), strict=True):
            assert abs(got * 1000 - want) <= want / 64 + 1  # 128 sub-buckets: within 1/64
    # Planned counts first attempts by when they were due: late ones still count there.
    firsts = [a for a in attempts if not a.retry]
    assert document["intervals"][0]["planned"] == sum(a.scheduled < 1 for a in firsts)
    assert sum(row["planned"] for row in document["intervals"]) == len(firsts)


def test_an_hour_long_run_coarsens_its_intervals_and_memory_stays_flat():
    series = Series(origin=1000.0)
    tracemalloc.start()
    try:
        for i in range(3600 * 20):  # an hour at 20/s
            due = 1000.0 + i / 20
            series.record(_attempt(due, due + 0.001, due + 0.004 + (i % 13) / 1000))
        memory, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert series.step == 8.0  # 1 s, doubled until an hour fits in MAX_INTERVALS
    assert len(series.intervals) <= MAX_INTERVALS
    assert memory < 12_000_000  # two 8 KB histograms per interval at most, and no more
    document = series.document()
    assert sum(row["sends"] for row in document["intervals"]) == 3600 * 20
    assert document["intervals"][0]["sends"] == 8 * 20
    assert abs(document["intervals"][0]["corrected_ms"][0] - 10) <= 10 / 64  # ms, p50


def test_workers_series_merge_exactly_even_at_different_steps():
    attempts = _attempts(20, 50, seed=3)
    whole, first, second = Series(), Series(), Series()
    for i, attempt in enumerate(attempts):
        whole.record(attempt)
        (first if i % 2 else second).record(attempt)
    first.merge(second)
    assert first == whole

    long = Series()
    for attempt in _attempts(700, 1, seed=4):  # past MAX_INTERVALS: 2 s intervals
        long.record(attempt)
    short = Series()
    for attempt in attempts:
        short.record(attempt)
    short.merge(long)
    assert short.step == 2.0
    total = sum(r["attempts"] for r in short.document()["intervals"])
    assert total == len(attempts) + 700
    assert Series.from_dict(short.to_dict()) == short


def test_a_run_with_two_workers_has_one_series(tmp_path):
    result = send(
        count=60,
        rate="60/s",
        workers=2,
        dead_letter=str(tmp_path / "dead"),
        html=str(tmp_path / "report.html"),
        signals=False,
    )
    document = result.document()
    rows = document["series"]["intervals"]
    assert sum(row["sends"] for row in rows) == 60
    assert sum(row["planned"] for row in rows) == 60
    assert [row["t"] for row in rows] == [float(i) for i in range(len(rows))]
    assert 1 <= len(rows) <= 3
    assert abs(document["series"]["start"] - document["started_at"]) < 1.0
    assert document["latency_distribution"]["percentiles"][-1] == 100

"""Rate, duration and stage parsing, and the exact send offsets of every kind of schedule."""

from __future__ import annotations

import inspect
import itertools
import math
import random
import tracemalloc
from collections import Counter, deque

import pytest

from simulator.errors import UsageError
from simulator.sending.schedule import (
    Schedule,
    Stage,
    build_schedule,
    parse_duration,
    parse_ramp,
    parse_rate,
    parse_stages,
)

DURATION_HINT = "use e.g. 30s, 250ms, 1m30s"
RATE_HINT = "use e.g. 50/s, 3000/m, max"
STAGES_EXAMPLE = "30s:100/s,1m:500/s,30s:0/s"


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30s", 30.0),
        ("250ms", 0.25),
        ("500us", 0.0005),
        ("1m", 60.0),
        ("1h", 3600.0),
        ("1m30s", 90.0),
        ("1h2m3s", 3723.0),
        ("2.5s", 2.5),
        ("90", 90.0),
        ("0.5", 0.5),
        (" 1m 30s ", 90.0),
        ("10S", 10.0),
    ],
)
def test_parse_duration_accepts(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    "text",
    ["", "0", "0s", "0ms", "-5s", "abc", "30x", "s", "1m-30s", "inf", "nan", "1e3", "9" * 400],
)
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_duration(text)
    assert str(caught.value) == f"invalid duration '{text}': {DURATION_HINT}"


@pytest.mark.parametrize(
    ("text", "rate"),
    [
        ("50/s", 50.0),
        ("50", 50.0),
        ("3000/m", 50.0),
        ("10/h", 10 / 3600),
        ("0.5/s", 0.5),
        (" 50 / s ", 50.0),
        ("max", None),
        ("MAX", None),
    ],
)
def test_parse_rate_accepts(text: str, rate: float | None) -> None:
    assert parse_rate(text) == rate


@pytest.mark.parametrize("text", ["0/s", "0", "-5/s", "fast", "50/d", "", "50/", "/s", "maximum"])
def test_parse_rate_rejects(text: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_rate(text)
    assert str(caught.value) == f"invalid rate '{text}': {RATE_HINT}"


def test_parse_ramp_steps_to_the_start_rate_then_ramps() -> None:
    assert parse_ramp("10/s..500/s", 10.0) == [Stage(0.0, 10.0), Stage(10.0, 500.0)]
    assert parse_ramp("0/s..60/m", 5.0) == [Stage(0.0, 0.0), Stage(5.0, 1.0)]


@pytest.mark.parametrize(
    "text", ["10/s", "10/s..", "..500/s", "max..500/s", "0/s..0/s", "10/s..500/s..900/s", "a..b"]
)
def test_parse_ramp_rejects(text: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_ramp(text, 10.0)
    assert str(caught.value) == f"invalid ramp '{text}': use e.g. 10/s..500/s"


def test_parse_ramp_rejects_a_bad_duration() -> None:
    with pytest.raises(UsageError, match=r"^invalid ramp duration 0\.0: use e\.g\. 30s$"):
        parse_ramp("10/s..500/s", 0.0)


def test_parse_stages() -> None:
    assert parse_stages(STAGES_EXAMPLE) == [Stage(30, 100), Stage(60, 500), Stage(30, 0)]
    assert parse_stages(" 1m30s : 3000/m ") == [Stage(90, 50)]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", f"invalid stages '': use e.g. {STAGES_EXAMPLE}"),
        ("30s", f"invalid stage '30s': use e.g. {STAGES_EXAMPLE}"),
        ("30s:fast", f"invalid stage '30s:fast': use e.g. {STAGES_EXAMPLE}"),
        ("30s:max", f"invalid stage '30s:max': use e.g. {STAGES_EXAMPLE}"),
        ("0s:10/s", f"invalid stage '0s:10/s': use e.g. {STAGES_EXAMPLE}"),
        ("30s:-1/s", f"invalid stage '30s:-1/s': use e.g. {STAGES_EXAMPLE}"),
        ("30s:100/s,", f"invalid stage '': use e.g. {STAGES_EXAMPLE}"),
        ("30s:0/s,1m:0/s", f"stages '30s:0/s,1m:0/s' never send: use e.g. {STAGES_EXAMPLE}"),
    ],
)
def test_parse_stages_rejects(text: str, message: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_stages(text)
    assert str(caught.value) == message


def test_uniform_offsets_are_exactly_k_over_rate() -> None:
    schedule = build_schedule(rate=50.0, duration=1.0)
    # k / 50 is the double nearest to k * 0.02; k * 0.02 itself rounds twice (0.02 has no
    # exact double), so it is the product that is off by an ulp, not the schedule.
    assert list(schedule.offsets()) == [k / 50 for k in range(50)]
    assert all(math.isclose(t, k * 0.02, rel_tol=1e-15) for k, t in enumerate(schedule.offsets()))
    assert schedule.total == 50
    assert not schedule.closed


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"rate": 50.0, "count": 7}, [k / 50 for k in range(7)]),
        ({"rate": 50.0, "count": 100, "duration": 0.1}, [k / 50 for k in range(5)]),
        ({"rate": 50.0, "count": 3, "duration": 10.0}, [0.0, 0.02, 0.04]),
        ({"rate": 3.0, "duration": 1.0}, [0.0, 1 / 3, 2 / 3]),
        ({"rate": 50.0}, [0.0]),
    ],
)
def test_count_and_duration_cut_offs(kwargs: dict, expected: list[float]) -> None:
    schedule = build_schedule(**kwargs)
    assert list(schedule.offsets()) == expected
    assert schedule.total == len(expected)


@pytest.mark.parametrize(
    ("rate", "duration"), [(7.0, 0.3), (0.5, 3.0), (1000.0, 0.001), (3.0, 1.0), (333.3, 2.7)]
)
def test_total_matches_the_offsets_generated(rate: float, duration: float) -> None:
    schedule = build_schedule(rate=rate, duration=duration)
    assert schedule.total == len(list(schedule.offsets()))


def test_poisson_is_reproducible_from_a_seeded_rng() -> None:
    first = build_schedule(rate=100.0, count=500, arrivals="poisson", rng=random.Random(7))
    again = build_schedule(rate=100.0, count=500, arrivals="poisson", rng=random.Random(7))
    other = build_schedule(rate=100.0, count=500, arrivals="poisson", rng=random.Random(8))
    offsets = list(first.offsets())
    assert offsets == list(first.offsets()) == list(again.offsets())
    assert offsets != list(other.offsets())
    gaps = random.Random(7)
    assert offsets == list(itertools.accumulate(gaps.expovariate(100.0) for _ in range(500)))
    assert first.total == 500


def test_poisson_mean_rate_is_within_two_percent() -> None:
    schedule = build_schedule(rate=200.0, count=100_000, arrivals="poisson", rng=random.Random(1))
    offsets = list(schedule.offsets())
    assert len(offsets) == 100_000
    assert offsets == sorted(offsets)
    assert abs(len(offsets) / offsets[-1] - 200.0) / 200.0 < 0.02


def test_poisson_stops_at_duration() -> None:
    schedule = build_schedule(rate=100.0, duration=2.0, arrivals="poisson", rng=random.Random(3))
    offsets = list(schedule.offsets())
    assert offsets and offsets[-1] < 2.0 and schedule.total is None


def test_ramp_sends_the_integral_of_its_rate() -> None:
    schedule = build_schedule(stages=parse_ramp("10/s..500/s", 10.0))
    offsets = list(schedule.offsets())
    # The integral of 10 + 49 t over 10 s is 100 + 2450 = 2550: sends k = 0 .. 2549.
    assert schedule.total == len(offsets) == 2550
    assert offsets[0] == 0.0 and offsets[-1] < 10.0
    assert all(b > a for a, b in itertools.pairwise(offsets))
    for k, t in enumerate(offsets):
        assert math.isclose(10 * t + 24.5 * t * t, k, rel_tol=1e-9, abs_tol=1e-9)


def test_ramp_from_start_rate_equals_parse_ramp() -> None:
    ramp = build_schedule(rate=500.0, start_rate=10.0, duration=10.0)
    assert list(ramp.offsets()) == list(
        build_schedule(stages=parse_ramp("10/s..500/s", 10)).offsets()
    )


def test_stages_start_at_zero_and_end_with_a_zero_stage() -> None:
    schedule = build_schedule(stages=parse_stages("10s:100/s,10s:0/s"))
    offsets = list(schedule.offsets())
    # 500 sends ramping up over 10 s, 500 ramping down: the integral is 5 t^2 and then
    # 500 + 100 s - 5 s^2, so send 125 is at exactly 5 s and send 875 at exactly 15 s.
    assert schedule.total == len(offsets) == 1000
    assert offsets[0] == 0.0 and offsets[125] == 5.0 and offsets[500] == 10.0
    assert offsets[875] == 15.0
    assert offsets[-1] < 20.0
    assert all(b > a for a, b in itertools.pairwise(offsets))


def test_three_stage_profile() -> None:
    schedule = build_schedule(stages=parse_stages(STAGES_EXAMPLE))
    offsets = list(schedule.offsets())
    assert schedule.total == len(offsets) == 1500 + 18000 + 7500
    assert offsets == sorted(offsets) and offsets[-1] < 120.0
    assert schedule.duration == 120.0


def test_a_zero_rate_stretch_sends_nothing_until_the_rate_rises() -> None:
    schedule = build_schedule(stages=parse_stages("10s:0/s,10s:100/s"))
    offsets = list(schedule.offsets())
    assert offsets[0] == 10.0 and len(offsets) == 500
    # Up to 10/s over 1 s (5 sends), a step down to 0/s held for 5 s, a step up to 10/s
    # held for 1 s (10 sends). Send 5 falls due at 1 s but waits for the rate to rise.
    stages = [Stage(1, 10), Stage(0, 0), Stage(5, 0), Stage(0, 10), Stage(1, 10)]
    middle = list(build_schedule(stages=stages).offsets())
    assert len(middle) == 15
    assert all(t < 1.0 or t >= 6.0 for t in middle)
    assert middle[5] == 6.0


def test_stages_are_cut_by_count_and_duration() -> None:
    stages = parse_stages("10s:100/s")
    assert len(list(build_schedule(stages=stages, count=10).offsets())) == 10
    capped = build_schedule(stages=stages, duration=5.0)
    offsets = list(capped.offsets())
    assert capped.total == len(offsets) == 125 and offsets[-1] < 5.0


def test_poisson_stages_follow_the_rate() -> None:
    stages = parse_stages("100s:1000/s")
    schedule = build_schedule(stages=stages, arrivals="poisson", rng=random.Random(11))
    offsets = list(schedule.offsets())
    assert offsets == list(schedule.offsets())
    assert offsets == sorted(offsets) and offsets[-1] < 100.0
    # The integral is 50,000, a quarter of it in the first half.
    assert abs(len(offsets) - 50_000) < 1_000
    first_half = sum(t < 50.0 for t in offsets)
    assert abs(first_half / len(offsets) - 0.25) < 0.01


@pytest.mark.parametrize(
    "kwargs",
    [
        {"rate": 97.0, "duration": 3.0},
        {"rate": 50.0, "count": 100},
        {"rate": 80.0, "duration": 2.0, "arrivals": "poisson", "rng": random.Random(5)},
        {"stages": [Stage(2, 100), Stage(1, 0)]},
        {"stages": [Stage(2, 100)], "arrivals": "poisson", "rng": random.Random(9)},
        {"count": 10},
    ],
)
def test_shards_together_send_exactly_one_processs_schedule(kwargs: dict) -> None:
    schedule = build_schedule(**kwargs)
    whole = Counter(enumerate(schedule.offsets()))
    shards = [list(build_schedule(**kwargs).shard(w, 3)) for w in range(3)]
    assert Counter(itertools.chain.from_iterable(shards)) == whole
    for worker, shard in enumerate(shards):
        assert all(index % 3 == worker for index, _ in shard)
    indexes = [index for shard in shards for index, _ in shard]
    assert len(indexes) == len(set(indexes)) == len(whole)


@pytest.mark.parametrize(("worker", "workers"), [(3, 3), (-1, 3), (0, 0)])
def test_shard_rejects_bad_workers(worker: int, workers: int) -> None:
    with pytest.raises(UsageError, match=rf"^invalid worker {worker} of {workers}: use e\.g\."):
        list(build_schedule(rate=1.0).shard(worker, workers))


def test_max_rate_is_a_closed_schedule() -> None:
    counted = build_schedule(count=5)
    assert counted.closed and counted.total == 5
    assert list(counted.offsets()) == [0.0] * 5
    timed = build_schedule(duration=10.0)
    assert timed.closed and timed.total is None and timed.duration == 10.0
    assert list(itertools.islice(timed.offsets(), 1000)) == [0.0] * 1000
    assert list(build_schedule().offsets()) == [0.0]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"rate": 5.0, "count": 0}, "invalid count 0: use a whole number of at least 1, e.g. 1000"),
        ({"count": -1}, "invalid count -1: use a whole number of at least 1, e.g. 1000"),
        ({"rate": 5.0, "duration": 0.0}, f"invalid duration 0.0: {DURATION_HINT}"),
        ({"rate": 5.0, "duration": -1.0}, f"invalid duration -1.0: {DURATION_HINT}"),
        ({"rate": 5.0, "arrivals": "burst"}, "invalid arrivals 'burst': use uniform or poisson"),
        ({"rate": 0.0}, f"invalid rate 0.0: {RATE_HINT}"),
        ({"rate": 5.0, "stages": [Stage(1, 1)]}, "give a rate or stages, not both: use e.g. 50/s"),
        ({"arrivals": "poisson"}, "poisson arrivals and ramps need a rate, not max: use e.g. 50/s"),
        ({"rate": 5.0, "start_rate": 1.0}, "a ramp needs a finite duration: use e.g. 10/s..500/s"),
        ({"stages": [Stage(10, 0)]}, f"these stages never send: use e.g. {STAGES_EXAMPLE}"),
        ({"stages": [Stage(-1, 5)]}, "invalid stage duration -1: use e.g. 30s"),
    ],
)
def test_build_schedule_rejects(kwargs: dict, message: str) -> None:
    with pytest.raises(UsageError) as caught:
        build_schedule(**kwargs)
    assert str(caught.value).startswith(message)


def test_offsets_of_an_endless_schedule_are_generated_not_stored() -> None:
    schedule = build_schedule(rate=1000.0, duration=math.inf)
    assert isinstance(schedule, Schedule) and schedule.total is None
    offsets = schedule.offsets()
    assert inspect.isgenerator(offsets)
    assert inspect.isgenerator(schedule.shard(0, 2))
    tracemalloc.start()
    try:
        (last,) = deque(itertools.islice(offsets, 1_000_000), maxlen=1)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert last == 999_999 / 1000.0
    assert peak < 64 * 1024

"""Rates, durations and open-model send schedules, planned lazily one offset at a time."""

from __future__ import annotations

import itertools
import math
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass

from simulator.errors import UsageError

ARRIVALS = ("uniform", "poisson")

_NUMBER = r"(?:\d+(?:\.\d*)?|\.\d+)"
_DURATION_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
# "ms" must be tried before "m" so that "250ms" is not read as 250 minutes and a stray "s".
_DURATION_PART = re.compile(rf"({_NUMBER})(us|ms|s|m|h)")
_DURATION = re.compile(rf"(?:{_NUMBER}(?:us|ms|s|m|h))+")
_RATE_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0}
_RATE = re.compile(rf"({_NUMBER})(?:/(s|m|h))?")

_DURATION_HINT = "use e.g. 30s, 250ms, 1m30s"
_RATE_HINT = "use e.g. 50/s, 3000/m, max"
_STAGES_EXAMPLE = "30s:100/s,1m:500/s,30s:0/s"


def parse_duration(text: str) -> float:
    """Seconds in "30s", "250ms", "1m30s", "2.5s", "1h" or a bare "90" (seconds); above zero."""
    raw = re.sub(r"\s+", "", text).lower()
    if re.fullmatch(_NUMBER, raw):
        seconds = float(raw)
    elif _DURATION.fullmatch(raw):
        seconds = sum(float(n) * _DURATION_UNITS[u] for n, u in _DURATION_PART.findall(raw))
    else:
        seconds = math.nan
    if not (math.isfinite(seconds) and seconds > 0):
        raise UsageError(f"invalid duration '{text}': {_DURATION_HINT}")
    return seconds


def _rate_value(text: str) -> float | None:
    """Events per second in "50/s", "3000/m", "10/h" or a bare "50"; None if unreadable."""
    match = _RATE.fullmatch(re.sub(r"\s+", "", text).lower())
    if match is None:
        return None
    value = float(match.group(1)) / _RATE_UNITS[match.group(2) or "s"]
    return value if math.isfinite(value) else None


def parse_rate(text: str) -> float | None:
    """Events per second in "50/s", "50", "3000/m", "10/h", "0.5/s"; None for "max"."""
    if text.strip().lower() == "max":
        return None
    value = _rate_value(text)
    if value is None or value <= 0:
        raise UsageError(f"invalid rate '{text}': {_RATE_HINT}")
    return value


@dataclass(frozen=True)
class Stage:
    """One k6-style stage: the rate moves linearly from the previous target to `target`.

    `duration` is in seconds and `target` in events per second. A stage of zero duration is
    a step: the rate jumps to `target` at that instant.
    """

    duration: float
    target: float


def parse_ramp(text: str, duration: float) -> list[Stage]:
    """Stages for "10/s..500/s": a step to 10/s at the start, then a linear ramp to 500/s."""
    parts = text.split("..")
    start, end = (_rate_value(p) for p in parts) if len(parts) == 2 else (None, None)
    if start is None or end is None or start < 0 or end < 0 or not (start or end):
        raise UsageError(f"invalid ramp '{text}': use e.g. 10/s..500/s")
    if not (math.isfinite(duration) and duration > 0):
        raise UsageError(f"invalid ramp duration {duration!r}: use e.g. 30s")
    return [Stage(0.0, start), Stage(duration, end)]


def parse_stages(text: str) -> list[Stage]:
    """Stages in "30s:100/s,1m:500/s,30s:0/s".

    As in k6, the rate is 0/s when the run starts and ramps to the first target over the
    first stage; a stage whose target equals the previous one holds the rate steady.
    """
    if not text.strip():
        raise UsageError(f"invalid stages '{text}': use e.g. {_STAGES_EXAMPLE}")
    stages = []
    for part in text.split(","):
        duration, sep, rate = part.partition(":")
        target = _rate_value(rate) if sep else None
        if target is None:
            raise UsageError(f"invalid stage '{part.strip()}': use e.g. {_STAGES_EXAMPLE}")
        try:
            stages.append(Stage(parse_duration(duration), target))
        except UsageError:
            raise UsageError(
                f"invalid stage '{part.strip()}': use e.g. {_STAGES_EXAMPLE}"
            ) from None
    if not any(s.target > 0 for s in stages):
        raise UsageError(f"stages '{text}' never send: use e.g. {_STAGES_EXAMPLE}")
    return stages


# One linear piece of the rate: (start time, length, start rate, end rate, integral at start,
# integral at end). The integral of the rate is the expected number of sends so far.
_Segment = tuple[float, float, float, float, float, float]


def _segments(stages: list[Stage], start_rate: float) -> list[_Segment]:
    segments, t, rate, area = [], 0.0, start_rate, 0.0
    for stage in stages:
        gained = (rate + stage.target) / 2 * stage.duration
        segments.append((t, stage.duration, rate, stage.target, area, area + gained))
        t, rate, area = t + stage.duration, stage.target, area + gained
    return segments


def _integral_at(segments: list[_Segment], t: float) -> float:
    for t0, d, a, b, area0, area1 in segments:
        if t < t0 + d:
            s = max(t - t0, 0.0)
            return min(area0 + a * s + (b - a) / (2 * d) * s * s, area1)
    return segments[-1][5]


def _invert(segments: list[_Segment], targets: Iterator[float]) -> Iterator[float]:
    """For each non-decreasing y, the last time t at which the rate's integral is still y.

    Taking the last such time means a send never lands inside a stretch at 0/s: it waits
    for the rate to rise again.
    """
    pieces = iter(segments)
    t0, d, a, b, area0, area1 = next(pieces)
    previous = 0.0
    for y in targets:
        while y >= area1:
            piece = next(pieces, None)
            if piece is None:
                return
            t0, d, a, b, area0, area1 = piece
        c = y - area0
        if a == b:
            s = c / a
        else:
            # Root of a*s + (b-a)/(2d)*s^2 = c, in the form that does not cancel when
            # the slope is small or negative.
            slope = (b - a) / d
            root = math.sqrt(max(a * a + 2 * slope * c, 0.0))
            s = 2 * c / (a + root) if a + root > 0 else 0.0
        previous = max(previous, t0 + min(s, d))
        yield previous


class Schedule:
    """The planned send times of a run, in seconds from its start, generated on demand.

    `closed` is True for rate "max": every offset is 0.0 and the sender goes as fast as its
    concurrency allows. `total` is the number of sends when known in advance. `duration`
    is the time after which nothing is planned (for a closed schedule bounded by time, the
    offsets never end and the sender stops when `duration` has elapsed). `rate` is the
    constant target rate, None for max and for ramps and stages.
    """

    def __init__(
        self,
        *,
        closed: bool,
        arrivals: str,
        count: int | None,
        duration: float | None,
        rate: float | None = None,
        segments: list[_Segment] | None = None,
        rng_state: object = None,
    ) -> None:
        self.closed = closed
        self.arrivals = arrivals
        self.rate = rate
        self.duration = duration
        self._count = count
        self._end = math.inf if duration is None else duration
        # Arithmetic's forms of the optional ones: rate 0 and cap 0 are never used so.
        self._rate = rate or 0.0
        self._segments = segments or []
        self._staged = segments is not None
        self._rng_state = rng_state
        self._cap = 0.0 if segments is None else _integral_at(segments, self._end)
        self.total = self._total()

    def _total(self) -> int | None:
        count = self._count
        if self.closed or self.arrivals == "poisson":
            return count if self.duration is None else None
        if self._staged:
            planned = math.ceil(self._cap)
        elif math.isinf(self._end):
            return count
        else:
            # Count the k with k/rate < end exactly as offsets() will, rounding included.
            rate = self._rate
            planned = math.ceil(self._end * rate)
            while planned > 0 and (planned - 1) / rate >= self._end:
                planned -= 1
            while planned / rate < self._end:
                planned += 1
        return planned if count is None else min(count, planned)

    def _rng(self) -> random.Random:
        rng = random.Random()
        rng.setstate(self._rng_state)  # type: ignore[arg-type]  # from Random.getstate()
        return rng

    def _constant_uniform(self, start: int, step: int) -> Iterator[tuple[int, float]]:
        limit = math.inf if self._count is None else self._count
        for k in itertools.count(start, step):
            t = k / self._rate
            if k >= limit or t >= self._end:
                return
            yield k, t

    def offsets(self) -> Iterator[float]:
        """The send offsets in order (non-decreasing); the same ones every time."""
        if self.closed:
            times = () if self._count is None else (self._count,)
            yield from itertools.repeat(0.0, *times)
            return
        if not self._staged and self.arrivals == "uniform":
            yield from (t for _, t in self._constant_uniform(0, 1))
            return
        stream = self._piecewise() if self._staged else self._poisson()
        yield from stream if self._count is None else itertools.islice(stream, self._count)

    def _poisson(self) -> Iterator[float]:
        rng, rate, end, t = self._rng(), self._rate, self._end, 0.0
        while True:
            t += rng.expovariate(rate)
            if t >= end:
                return
            yield t

    def _piecewise(self) -> Iterator[float]:
        cap = self._cap
        targets: Iterator[float]
        if self.arrivals == "uniform":
            # The k-th send (k = 0, 1, ...) is where k sends are expected so far.
            targets = itertools.takewhile(lambda k: k < cap, itertools.count(0.0))
        else:
            # Unit-rate Poisson arrivals on the integrated-rate axis, mapped back to time,
            # form a Poisson process whose rate follows the stages.
            targets = itertools.takewhile(lambda u: u < cap, self._unit_arrivals())
        return _invert(self._segments, targets)

    def _unit_arrivals(self) -> Iterator[float]:
        rng, u = self._rng(), 0.0
        while True:
            u += rng.expovariate(1.0)
            yield u

    def shard(self, worker: int, workers: int) -> Iterator[tuple[int, float]]:
        """(global index, offset) of the sends with index % workers == worker.

        Every worker plans the whole schedule and keeps its share, so N workers together
        send exactly what one process would, each send under a unique index.
        """
        if not (isinstance(workers, int) and workers >= 1 and 0 <= worker < workers):
            raise UsageError(f"invalid worker {worker} of {workers}: use e.g. worker 0 of 4")
        if not self.closed and not self._staged and self.arrivals == "uniform":
            yield from self._constant_uniform(worker, workers)
            return
        yield from itertools.islice(enumerate(self.offsets()), worker, None, workers)


def _snapshot(rng: random.Random | None) -> object:
    rng = rng or random.Random()
    try:
        return rng.getstate()
    except NotImplementedError:  # SystemRandom has no state; seed a replayable one from it
        return random.Random(rng.getrandbits(64)).getstate()


def build_schedule(
    *,
    rate: float | None = None,
    count: int | None = None,
    duration: float | None = None,
    stages: list[Stage] | None = None,
    start_rate: float | None = None,
    arrivals: str = "uniform",
    rng: random.Random | None = None,
) -> Schedule:
    """Plan a run: a constant `rate` (None = max, a closed model), or piecewise-linear `stages`.

    The run stops after `count` sends or at `duration` seconds, whichever comes first; with
    neither it sends once (stages end with their last stage). `start_rate` is the rate at
    the start of the first stage (default 0/s, as in k6); given with `rate` and `duration`
    alone it makes a linear ramp from `start_rate` to `rate`. Poisson arrivals draw from
    `rng`, whose state is captured so the schedule replays identically.
    """
    if arrivals not in ARRIVALS:
        raise UsageError(f"invalid arrivals '{arrivals}': use uniform or poisson")
    if count is not None and (not isinstance(count, int) or count < 1):
        raise UsageError(f"invalid count {count!r}: use a whole number of at least 1, e.g. 1000")
    if duration is not None and not duration > 0:
        raise UsageError(f"invalid duration {duration!r}: use e.g. 30s, 250ms, 1m30s")
    if start_rate is not None and not (math.isfinite(start_rate) and start_rate >= 0):
        raise UsageError(f"invalid start rate {start_rate!r}: use e.g. 10/s")
    if stages is not None and rate is not None:
        raise UsageError(f"give a rate or stages, not both: use e.g. 50/s or {_STAGES_EXAMPLE}")
    if stages is None and rate is None:
        if arrivals == "poisson" or start_rate is not None:
            raise UsageError("poisson arrivals and ramps need a rate, not max: use e.g. 50/s")
        return Schedule(
            closed=True, arrivals=arrivals, duration=duration, count=_default(count, duration)
        )
    if stages is None:
        assert rate is not None  # stages or rate: one of them is given here
        if not (math.isfinite(rate) and rate > 0):
            raise UsageError(f"invalid rate {rate!r}: {_RATE_HINT}")
        if start_rate is None:
            return Schedule(
                closed=False,
                arrivals=arrivals,
                rate=rate,
                duration=duration,
                count=_default(count, duration),
                rng_state=_snapshot(rng) if arrivals == "poisson" else None,
            )
        if duration is None or math.isinf(duration):
            raise UsageError("a ramp needs a finite duration: use e.g. 10/s..500/s over 30s")
        stages = [Stage(duration, rate)]
    return _staged(stages, start_rate or 0.0, count, duration, arrivals, rng)


def _default(count: int | None, duration: float | None) -> int | None:
    return 1 if count is None and duration is None else count


def _staged(
    stages: list[Stage],
    start_rate: float,
    count: int | None,
    duration: float | None,
    arrivals: str,
    rng: random.Random | None,
) -> Schedule:
    for stage in stages:
        if not (math.isfinite(stage.duration) and stage.duration >= 0):
            raise UsageError(f"invalid stage duration {stage.duration!r}: use e.g. 30s")
        if not (math.isfinite(stage.target) and stage.target >= 0):
            raise UsageError(f"invalid stage target {stage.target!r}: use e.g. 100/s or 0/s")
    segments = _segments(stages, start_rate) if stages else []
    end = sum(s.duration for s in stages)
    if not segments or segments[-1][5] <= 0 or end <= 0:
        raise UsageError(f"these stages never send: use e.g. {_STAGES_EXAMPLE}")
    return Schedule(
        closed=False,
        arrivals=arrivals,
        duration=end if duration is None else min(duration, end),
        count=count,
        segments=segments,
        rng_state=_snapshot(rng) if arrivals == "poisson" else None,
    )

"""A run over time: per-interval sends, statuses, errors and latency histograms.

Each interval holds two small HDR-style histograms (about 1.6 % resolution, 8 KB each),
so percentiles per interval merge exactly across workers. Intervals start at one second
and double, pairs merging, whenever a run outgrows MAX_INTERVALS: a one-hour run ends
with 8-second intervals, and memory stays flat however long a run is.
"""

from __future__ import annotations

import operator
from array import array
from typing import Any

from simulator.reports.attempt import Attempt
from simulator.reports.histogram import MAX_VALUE_US, bucket_count, ranked

MAX_INTERVALS = 600
SUB_BITS = 7  # 128 sub-buckets per power of two: values within 1/64 of their bucket's top
_BUCKETS = bucket_count(SUB_BITS)
PERCENTILES = (50, 90, 99)


class Interval:
    """What happened in one interval. planned counts first attempts due in it (by their
    scheduled time), sends those that started in it; everything else counts attempts
    that started in it, and the histograms their latencies in microseconds."""

    __slots__ = (
        "attempts", "corrected", "errors", "max_corrected", "max_service", "planned",
        "resends", "retries", "sends", "service", "statuses",
    )  # fmt: skip

    def __init__(self) -> None:
        self.planned = self.sends = self.attempts = self.retries = self.resends = 0
        self.statuses: dict[int, int] = {}
        self.errors: dict[str, int] = {}
        self.corrected = array("I", bytes(4 * _BUCKETS))
        self.service = array("I", bytes(4 * _BUCKETS))
        self.max_corrected = self.max_service = 0

    def merge(self, other: Interval) -> None:
        for name in ("planned", "sends", "attempts", "retries", "resends"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for status, n in other.statuses.items():
            self.statuses[status] = self.statuses.get(status, 0) + n
        for error, n in other.errors.items():
            self.errors[error] = self.errors.get(error, 0) + n
        self.corrected = array("I", map(operator.add, self.corrected, other.corrected))
        self.service = array("I", map(operator.add, self.service, other.service))
        self.max_corrected = max(self.max_corrected, other.max_corrected)
        self.max_service = max(self.max_service, other.max_service)

    def percentiles_ms(self, which: str) -> list[float] | None:
        """p50, p90, p99 of the corrected or service latency in ms; None with no attempt."""
        counts = self.corrected if which == "corrected" else self.service
        most = self.max_corrected if which == "corrected" else self.max_service
        if not self.attempts:
            return None
        values = ranked(counts, self.attempts, most, PERCENTILES, SUB_BITS)
        return [round(v / 1000, 3) for v in values]

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {name: getattr(self, name) for name in _COUNTS}
        data["statuses"] = {str(k): v for k, v in self.statuses.items()}
        data["errors"] = dict(self.errors)
        data["corrected"] = {str(i): n for i, n in enumerate(self.corrected) if n}
        data["service"] = {str(i): n for i, n in enumerate(self.service) if n}
        data["max_corrected"], data["max_service"] = self.max_corrected, self.max_service
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Interval:
        interval = cls()
        for name in _COUNTS:
            setattr(interval, name, data[name])
        interval.statuses = {int(k): v for k, v in data["statuses"].items()}
        interval.errors = dict(data["errors"])
        for index, n in data["corrected"].items():
            interval.corrected[int(index)] = n
        for index, n in data["service"].items():
            interval.service[int(index)] = n
        interval.max_corrected, interval.max_service = data["max_corrected"], data["max_service"]
        return interval


_COUNTS = ("planned", "sends", "attempts", "retries", "resends")


class Series:
    """Intervals of `step` seconds from `origin` (a time on the recorder's clock; the
    engine sets it to its start, then moves it to the wall clock so that workers merge).
    Never reads a clock."""

    def __init__(self, origin: float = 0.0, step: float = 1.0) -> None:
        self.origin = origin
        self.step = step
        self.intervals: dict[int, Interval] = {}
        # The interval the last attempt went to, and its index.
        self._index: int | None = None
        self._current: Interval | None = None

    def _interval(self, at: float) -> Interval:
        index = int((at - self.origin) // self.step)
        if index == self._index and self._current is not None:
            return self._current  # most attempts land where the one before did
        index = max(index, 0)
        while index >= MAX_INTERVALS:
            self._coarsen()
            index = int((at - self.origin) // self.step)
        interval = self.intervals.get(index)
        if interval is None:
            interval = self.intervals[index] = Interval()
        self._index, self._current = index, interval
        return interval

    def record(self, attempt: Attempt) -> None:
        """Count one attempt, as RunStats.record_attempt does. This is the hot path of
        every send: the common case (the same interval as the last attempt) is inlined."""
        started, scheduled = attempt.started, attempt.scheduled
        index = int((started - self.origin) // self.step)
        interval = self._current if index == self._index else self._interval(started)
        assert interval is not None
        interval.attempts += 1
        if attempt.resend:
            interval.resends += 1
        elif attempt.retry:
            interval.retries += 1
        else:
            interval.sends += 1
            if int((scheduled - self.origin) // self.step) == index:
                interval.planned += 1
            else:  # a late send: planned in an earlier interval
                self._interval(scheduled).planned += 1
                interval = self._interval(started)
        statuses, errors = interval.statuses, interval.errors
        if attempt.status is not None:
            statuses[attempt.status] = statuses.get(attempt.status, 0) + 1
        if attempt.error is not None:
            errors[attempt.error] = errors.get(attempt.error, 0) + 1
        # Microseconds and their bucket (bucket_index) inlined: a call costs more here.
        finished = attempt.finished
        corrected = round((finished - scheduled) * 1_000_000)
        service = round((finished - started) * 1_000_000)
        if corrected < 128:
            corrected = max(corrected, 0)
            interval.corrected[corrected] += 1
        else:
            corrected = min(corrected, MAX_VALUE_US)
            shift = corrected.bit_length() - 7
            interval.corrected[(shift << 6) + (corrected >> shift)] += 1
        if service < 128:
            service = max(service, 0)
            interval.service[service] += 1
        else:
            service = min(service, MAX_VALUE_US)
            shift = service.bit_length() - 7
            interval.service[(shift << 6) + (service >> shift)] += 1
        if corrected > interval.max_corrected:
            interval.max_corrected = corrected
        if service > interval.max_service:
            interval.max_service = service

    def _coarsen(self) -> None:
        """Double the step: intervals 2k and 2k+1 become interval k."""
        merged: dict[int, Interval] = {}
        for index in sorted(self.intervals):
            interval = self.intervals[index]
            into = merged.get(index // 2)
            if into is None:
                merged[index // 2] = interval
            else:
                into.merge(interval)
        self.intervals = merged
        self.step *= 2
        self._index = None

    def merge(self, other: Series) -> None:
        """Add another worker's series; both are aligned on their origins (the run's
        start, shared by its workers) at the coarser of the two steps."""
        other = other.copy()
        while self.step < other.step:
            self._coarsen()
        while other.step < self.step:
            other._coarsen()
        if not self.intervals:
            self.origin = other.origin
        shift = round((other.origin - self.origin) / self.step)
        for index, interval in other.intervals.items():
            at = self.origin + (index + shift + 0.5) * self.step
            self._interval(at).merge(interval)

    def copy(self) -> Series:
        return Series.from_dict(self.to_dict())

    def __eq__(self, other: object) -> bool:  # defining it also makes series unhashable
        return isinstance(other, Series) and self.to_dict() == other.to_dict()

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe form for crossing process boundaries (non-empty buckets only)."""
        return {
            "origin": self.origin,
            "step": self.step,
            "intervals": {str(i): v.to_dict() for i, v in self.intervals.items()},
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Series:
        series = cls(data["origin"], data["step"])
        series.intervals = {int(i): Interval.from_dict(v) for i, v in data["intervals"].items()}
        series._index = None
        return series

    def document(self) -> dict[str, Any]:
        """The series for a report: every interval from the first to the last, empty ones
        included, each {t (seconds from start), planned, sends, attempts, retries,
        resends, statuses, errors, corrected_ms, service_ms ([p50, p90, p99] or null)}."""
        rows = []
        if self.intervals:
            for index in range(min(self.intervals), max(self.intervals) + 1):
                interval = self.intervals.get(index) or Interval()
                rows.append(
                    {
                        "t": index * self.step,
                        **{name: getattr(interval, name) for name in _COUNTS},
                        "statuses": {str(k): v for k, v in sorted(interval.statuses.items())},
                        "errors": dict(sorted(interval.errors.items())),
                        "corrected_ms": interval.percentiles_ms("corrected"),
                        "service_ms": interval.percentiles_ms("service"),
                    }
                )
        return {
            "start": self.origin,
            "step_s": self.step,
            "percentiles": list(PERCENTILES),
            "intervals": rows,
        }

"""HDR-style latency histograms: integer microseconds, constant memory, exact merges."""

from __future__ import annotations

import operator
from collections.abc import Iterable
from typing import Any

# 2048 linear sub-buckets per power of two: bucket width is at most 1/1024 of the values in
# it, which keeps the relative error under 0.1% (three significant digits), as HDR does.
_SUB_BITS = 11
MAX_VALUE_US = (1 << 37) - 1  # about 38 hours; larger values are recorded as this


def bucket_count(sub_bits: int) -> int:
    """How many buckets a layout of 2**sub_bits linear sub-buckets has up to MAX_VALUE_US."""
    return ((MAX_VALUE_US.bit_length() - sub_bits) << (sub_bits - 1)) + (1 << sub_bits)


def bucket_index(value_us: int, sub_bits: int) -> int:
    """The bucket of a value (0..MAX_VALUE_US) in a layout of 2**sub_bits sub-buckets."""
    if value_us < 1 << sub_bits:
        return value_us
    shift = value_us.bit_length() - sub_bits
    return (shift << (sub_bits - 1)) + (value_us >> shift)


def highest_equivalent(index: int, sub_bits: int = _SUB_BITS) -> int:
    """The largest value that bucket `index` holds."""
    if index < 1 << sub_bits:
        return index
    shift = (index >> (sub_bits - 1)) - 1
    return ((index - (shift << (sub_bits - 1)) + 1) << shift) - 1


def ranked(
    counts: Iterable[int], count: int, most: int, ps: Iterable[float], sub_bits: int = _SUB_BITS
) -> list[int]:
    """The values at percentiles `ps` (0..100) of `count` values counted per bucket in
    `counts`, the largest being `most`: one pass over the buckets."""
    ps = list(ps)
    if any(not 0 <= p <= 100 for p in ps):
        raise ValueError(f"percentiles must be within 0..100, got {ps}")
    if not count:
        return [0] * len(ps)
    # Rank as HDR does: round half up, and at least the first value.
    ranks = [max(int(p * count / 100 + 0.5), 1) for p in ps]
    order = sorted(range(len(ps)), key=ranks.__getitem__)
    result, pending, seen = [0] * len(ps), 0, 0
    for index, n in enumerate(counts):
        if not n:
            continue
        seen += n
        while pending < len(order) and seen >= ranks[order[pending]]:
            result[order[pending]] = min(highest_equivalent(index, sub_bits), most)
            pending += 1
        if pending == len(order):
            break
    return result


class Histogram:
    """Log-linear histogram of integer microseconds with constant memory and exact merges."""

    __slots__ = ("_counts", "_min", "count", "max", "total")

    def __init__(self) -> None:
        self._counts = [0] * bucket_count(_SUB_BITS)
        self.count = 0
        self.total = 0  # sum of recorded values, so the mean is exact
        self._min = MAX_VALUE_US
        self.max = 0

    def record(self, value_us: int) -> None:
        """Count one value in microseconds (an int; negative values are a caller bug)."""
        # Literals rather than the module constants: this is the hot path of every send.
        if value_us < 2048:
            if value_us < 0:
                raise ValueError(f"cannot record a negative value: {value_us} us")
            self._counts[value_us] += 1
        else:
            if value_us > 137_438_953_471:
                value_us = 137_438_953_471  # MAX_VALUE_US
            shift = value_us.bit_length() - 11
            self._counts[(shift << 10) + (value_us >> shift)] += 1
        self.count += 1
        self.total += value_us
        if value_us < self._min:
            self._min = value_us
        if value_us > self.max:
            self.max = value_us

    @property
    def min(self) -> int:
        return self._min if self.count else 0

    @property
    def mean(self) -> float:
        return self.total / self.count if self.count else 0.0

    def percentile(self, p: float) -> int:
        """The value at percentile p (0..100): its bucket's highest value, at most max."""
        return self.percentiles([p])[0]

    def percentiles(self, ps: Iterable[float]) -> list[int]:
        """percentile() for each of ps, in one pass over the buckets."""
        return ranked(self._counts, self.count, self.max, ps)

    def merge(self, other: Histogram) -> None:
        """Add other's counts to this histogram: the same as having recorded them here."""
        self._counts = list(map(operator.add, self._counts, other._counts))
        self.count += other.count
        self.total += other.total
        self._min = min(self._min, other._min)
        self.max = max(self.max, other.max)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe form holding only the non-empty buckets."""
        buckets = {str(i): n for i, n in enumerate(self._counts) if n}
        return {
            "sub_buckets": 1 << _SUB_BITS,
            "count": self.count,
            "sum": self.total,
            "min": self.min,
            "max": self.max,
            "buckets": buckets,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Histogram:
        if data.get("sub_buckets") != 1 << _SUB_BITS:
            raise ValueError(f"histogram layout {data.get('sub_buckets')!r} is not 2048")
        hist = cls()
        for index, n in data["buckets"].items():
            hist._counts[int(index)] = n
        hist.count, hist.total, hist.max = data["count"], data["sum"], data["max"]
        hist._min = data["min"] if hist.count else MAX_VALUE_US
        return hist

    def __eq__(self, other: object) -> bool:  # defining it also makes histograms unhashable
        return isinstance(other, Histogram) and self._key() == other._key()

    def _key(self) -> tuple[Any, ...]:
        return self.count, self.total, self.min, self.max, self._counts

"""Pass/fail thresholds on a run's report: "p99<250ms", "success>=99.9%", "rate>=950/s"."""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from simulator.errors import UsageError

_OPS = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge, "==": operator.eq}
_THRESHOLD = re.compile(
    r"(p50|p90|p95|p99\.9|p99|max|mean|min|success|rate|errors|failed|late|retries)"
    r"(<=|>=|==|<|>)((?:\d+(?:\.\d*)?|\.\d+))(ms|us|s|%|/s|/m|/h)?"
)
_THRESHOLD_HINT = "use e.g. p99<250ms, success>=99.9%, rate>=950/s"
# Per metric: the unit results are reported in, and the factor from each accepted suffix
# to it. Latencies are the default, and a bare number is milliseconds, as in k6.
_Units = tuple[str, dict[str | None, float]]
_LATENCY_UNITS: _Units = ("ms", {None: 1.0, "ms": 1.0, "s": 1000.0, "us": 0.001})
_UNITS: dict[str, _Units] = {
    "success": ("%", {"%": 1.0}),
    "rate": ("/s", {None: 1.0, "/s": 1.0, "/m": 1 / 60, "/h": 1 / 3600}),
    **{name: ("", {None: 1.0}) for name in ("errors", "failed", "late", "retries")},
}


def _count(name: str) -> Callable[[dict[str, Any]], float | None]:
    return lambda summary: summary["counts"][name]


_METRICS: dict[str, Callable[[dict[str, Any]], float | None]] = {
    "success": lambda s: None if s["success_ratio"] is None else s["success_ratio"] * 100,
    "rate": lambda s: s["send_rate"],
    "errors": lambda s: sum(s["error_kinds"].values()),
    **{name: _count(name) for name in ("failed", "late", "retries")},
}


@dataclass(frozen=True)
class ThresholdResult:
    """One threshold's verdict; actual is None when the run gave the metric no data."""

    threshold: str
    ok: bool
    actual: float | None
    unit: str


@dataclass(frozen=True)
class Threshold:
    """A pass/fail criterion on the report: latencies are the corrected ones, in ms; rate
    is the achieved send rate (send_rate)."""

    text: str
    metric: str
    op: str
    limit: float
    unit: str

    def actual(self, summary: dict[str, Any]) -> float | None:
        read = _METRICS.get(self.metric)
        value = read(summary) if read else summary["latency_ms"]["corrected"][self.metric]
        # Rounded so that 0.999 * 100 compares equal to a limit of 99.9.
        return None if value is None else round(float(value), 9)

    def check(self, summary: dict[str, Any]) -> ThresholdResult:
        actual = self.actual(summary)
        ok = actual is not None and _OPS[self.op](actual, self.limit)
        return ThresholdResult(self.text, ok, actual, self.unit)


def parse_threshold(text: str) -> Threshold:
    """A threshold such as "p99<250ms", "success>=99.9%", "rate>=950/s", "errors<10"."""
    compact = re.sub(r"\s+", "", text).lower()
    match = _THRESHOLD.fullmatch(compact)
    unit, factors = _UNITS.get(match.group(1), _LATENCY_UNITS) if match else ("", {})
    if match is None or match.group(4) not in factors:
        raise UsageError(f"invalid threshold '{text}': {_THRESHOLD_HINT}")
    metric, op, number, suffix = match.groups()
    limit = round(float(number) * factors[suffix], 9)
    if metric == "success" and limit > 100:
        raise UsageError(f"invalid threshold '{text}': success is at most 100%")
    return Threshold(compact, metric, op, limit, unit)

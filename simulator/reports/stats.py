"""Run counters and histograms, merged across workers, and the report document they make."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from simulator.reports.attempt import Attempt
from simulator.reports.histogram import Histogram
from simulator.reports.series import Series

# A send that starts more than this after its planned time counts as late. asyncio wakes
# timers with millisecond granularity, so a tighter bound would flag ordinary timer jitter
# rather than a sender that cannot keep up.
LATE_AFTER_S = 0.010
# Distinct error details a run counts; a server answering garbage could make each one
# new (its bytes are in the text), so the rest are counted under one entry.
MAX_ERROR_DETAILS = 20
OTHER_DETAILS = "(other reasons)"
# An injected kind that marks an event's own attempt (sent out of order), which counts
# as any attempt does; every other kind is an extra request, counted apart.
OWN_ATTEMPT_KIND = "reorder"
INJECTED_KEYS = ("sent", "accepted", "refused", "no_answer")


def _us(seconds: float) -> int:
    return max(round(seconds * 1_000_000), 0)


@dataclass
class EventTypeStats:
    """Outcomes for one event type; error_kinds counts why its failed events failed (their
    last attempt's error kind; "interrupted" when the run stopped them before one failed),
    and not_sent those of its events that were never tried (the run was stopped first)."""

    events: int = 0
    delivered: int = 0
    failed: int = 0
    error_kinds: Counter[str] = field(default_factory=Counter)
    not_sent: int = 0


@dataclass
class RunStats:
    """Counters and histograms of a send run; merge() combines workers' runs exactly.

    events were generated; attempts are HTTP tries (retries counts those after the first,
    resends those the client made again at once on a new connection, see record_attempt);
    delivered and failed count events by final outcome, so events - delivered - failed are
    unfinished: still in flight, or never tried (not_sent: asked for, then the run was
    stopped before their turn). status_codes, error_kinds and error_details (why attempts
    without a status failed, in words, at most MAX_ERROR_DETAILS distinct) count attempts.
    Times are seconds on the caller's clock: this class never reads a clock. target_rate
    is the whole run's target in events/s (None for max), not one worker's share.
    first_send and last_send are the actual starts of the earliest and latest first
    attempts.
    """

    events: int = 0
    attempts: int = 0
    delivered: int = 0
    failed: int = 0
    late: int = 0
    retries: int = 0
    resends: int = 0
    not_sent: int = 0
    status_codes: Counter[int] = field(default_factory=Counter)
    error_kinds: Counter[str] = field(default_factory=Counter)
    error_details: Counter[str] = field(default_factory=Counter)
    by_event_type: dict[str, EventTypeStats] = field(default_factory=dict)
    latency_corrected: Histogram = field(default_factory=Histogram)
    latency_service: Histogram = field(default_factory=Histogram)
    schedule_lag: Histogram = field(default_factory=Histogram)
    started_at: float | None = None
    finished_at: float | None = None
    target_rate: float | None = None
    interrupted: bool = False
    late_after_s: float = LATE_AFTER_S
    first_send: float | None = None
    last_send: float | None = None
    retry_after_waits: int = 0
    retry_after_capped: int = 0
    retry_after_longest_s: float | None = None
    # The run over time: kept only for an --html report, its only reader (it costs
    # about a microsecond and a half per attempt).
    series: Series | None = None
    injected: dict[str, Counter[str]] = field(default_factory=dict)

    def _type(self, event_type: str) -> EventTypeStats:
        counters = self.by_event_type.get(event_type)
        if counters is None:  # not setdefault: that would build one for every event
            counters = self.by_event_type[event_type] = EventTypeStats()
        return counters

    def record_event(self, event_type: str) -> None:
        """One event generated and about to be sent."""
        self.events += 1
        self._type(event_type).events += 1

    def record_not_sent(self, event_type: str) -> None:
        """One event generated but never tried: the run was stopped first. It stays
        unfinished: neither delivered nor failed."""
        self.events += 1
        self.not_sent += 1
        counters = self._type(event_type)
        counters.events += 1
        counters.not_sent += 1

    def record_attempt(self, attempt: Attempt) -> None:
        """One HTTP attempt. Latency counted from `scheduled` includes any time spent
        waiting for the sender (coordinated omission corrected, as in wrk2); latency from
        `started` is the service time alone. For a retry, `scheduled` is when it was due.
        A resend (the client trying again at once on a new connection) is neither a retry
        nor a send: nothing scheduled it, so it has no lag and is never late."""
        kind = attempt.injected
        if kind is not None:
            self._count_injected(kind, attempt.status)
            if kind != OWN_ATTEMPT_KIND:
                return  # a duplicate or a forged request: not one of the run's attempts
        scheduled, started, finished = attempt.scheduled, attempt.started, attempt.finished
        self.attempts += 1
        if attempt.resend:
            self.resends += 1
        elif attempt.retry:
            self.retries += 1
        else:
            if self.first_send is None or started < self.first_send:
                self.first_send = started
            if self.last_send is None or started > self.last_send:
                self.last_send = started
        if attempt.status is not None:
            self.status_codes[attempt.status] += 1
        if attempt.error is not None:
            self.error_kinds[attempt.error] += 1
        if attempt.detail is not None:
            self._count_detail(attempt.detail, 1)
        if not attempt.resend:
            lag = started - scheduled
            self.late += lag > self.late_after_s
            self.schedule_lag.record(_us(lag))
        self.latency_service.record(_us(finished - started))
        self.latency_corrected.record(_us(finished - scheduled))
        if self.series is not None:
            self.series.record(attempt)

    def _count_injected(self, kind: str, status: int | None) -> None:
        counts = self.injected.get(kind)
        if counts is None:
            counts = self.injected[kind] = Counter()
        counts["sent"] += 1
        if status is None:
            counts["no_answer"] += 1
        else:
            counts["accepted" if 200 <= status < 300 else "refused"] += 1

    def record_retry_after(self, asked_s: float, capped: bool) -> None:
        """A retry timed by the server's Retry-After of `asked_s` seconds (scaled)."""
        self.retry_after_waits += 1
        self.retry_after_capped += capped
        if self.retry_after_longest_s is None or asked_s > self.retry_after_longest_s:
            self.retry_after_longest_s = asked_s

    def _count_detail(self, detail: str, n: int) -> None:
        details = self.error_details
        if detail not in details and len(details) >= MAX_ERROR_DETAILS:
            detail = OTHER_DETAILS
        details[detail] += n

    def record_outcome(self, event_type: str, *, delivered: bool, error: str | None = None) -> None:
        """An event's final outcome after its last attempt; `error` says why it failed."""
        counters = self._type(event_type)
        if delivered:
            self.delivered += 1
            counters.delivered += 1
        else:
            self.failed += 1
            counters.failed += 1
            counters.error_kinds[error or "unknown"] += 1

    def begin(self, t0: float, offset: float) -> None:
        """The run starts at `t0` on the sender's clock, which reads `offset` at the epoch."""
        self.started_at = t0 + offset
        if self.series is not None:
            self.series.origin = t0

    def on_the_wall(self, offset: float) -> None:
        """Move send times from the sender's clock to the wall's (workers merge on it)."""
        if self.series is not None:
            self.series.origin += offset
        if self.first_send is not None and self.last_send is not None:
            self.first_send += offset
            self.last_send += offset

    def merge(self, other: RunStats) -> None:
        """Add other's counts and histograms to these; the run's span covers both."""
        for name in COUNTERS:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.retry_after_waits += other.retry_after_waits
        self.retry_after_capped += other.retry_after_capped
        longest = [
            t for t in (self.retry_after_longest_s, other.retry_after_longest_s) if t is not None
        ]
        self.retry_after_longest_s = max(longest, default=None)
        self.status_codes.update(other.status_codes)
        self.error_kinds.update(other.error_kinds)
        for kind, counts in other.injected.items():
            self.injected.setdefault(kind, Counter()).update(counts)
        for detail, n in other.error_details.items():
            self._count_detail(detail, n)
        for event_type, theirs in other.by_event_type.items():
            ours = self._type(event_type)
            ours.events += theirs.events
            ours.delivered += theirs.delivered
            ours.failed += theirs.failed
            ours.error_kinds.update(theirs.error_kinds)
            ours.not_sent += theirs.not_sent
        self.latency_corrected.merge(other.latency_corrected)
        self.latency_service.merge(other.latency_service)
        self.schedule_lag.merge(other.schedule_lag)
        if other.series is not None:
            if self.series is None:
                self.series = Series()
            self.series.merge(other.series)
        starts = [t for t in (self.started_at, other.started_at) if t is not None]
        ends = [t for t in (self.finished_at, other.finished_at) if t is not None]
        self.started_at = min(starts, default=None)
        self.finished_at = max(ends, default=None)
        firsts = [t for t in (self.first_send, other.first_send) if t is not None]
        lasts = [t for t in (self.last_send, other.last_send) if t is not None]
        self.first_send = min(firsts, default=None)
        self.last_send = max(lasts, default=None)
        if self.target_rate is None:
            self.target_rate = other.target_rate
        self.interrupted = self.interrupted or other.interrupted

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe form for crossing process boundaries."""
        data = {name: getattr(self, name) for name in _PLAIN_FIELDS}
        data["status_codes"] = {str(code): n for code, n in self.status_codes.items()}
        data["error_kinds"] = dict(self.error_kinds)
        data["error_details"] = dict(self.error_details)
        data["injected"] = {kind: dict(counts) for kind, counts in self.injected.items()}
        data["by_event_type"] = {
            name: {**vars(c), "error_kinds": dict(c.error_kinds)}
            for name, c in self.by_event_type.items()
        }
        for name in _HISTOGRAMS:
            data[name] = getattr(self, name).to_dict()
        data["series"] = None if self.series is None else self.series.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunStats:
        stats = cls(**{name: data[name] for name in _PLAIN_FIELDS})
        stats.status_codes = Counter({int(code): n for code, n in data["status_codes"].items()})
        stats.error_kinds = Counter(data["error_kinds"])
        stats.error_details = Counter(data["error_details"])
        stats.injected = {kind: Counter(c) for kind, c in data.get("injected", {}).items()}
        for name, c in data["by_event_type"].items():
            stats.by_event_type[name] = EventTypeStats(
                c["events"], c["delivered"], c["failed"], Counter(c["error_kinds"]), c["not_sent"]
            )
        for name in _HISTOGRAMS:
            setattr(stats, name, Histogram.from_dict(data[name]))
        if data.get("series") is not None:
            stats.series = Series.from_dict(data["series"])
        return stats


COUNTERS = (
    "events", "attempts", "delivered", "failed", "late", "retries", "resends", "not_sent"
)  # fmt: skip
_SCALARS = (
    "started_at",
    "finished_at",
    "target_rate",
    "interrupted",
    "late_after_s",
    "first_send",
    "last_send",
    "retry_after_waits",
    "retry_after_capped",
    "retry_after_longest_s",
)
_PLAIN_FIELDS = (*COUNTERS, *_SCALARS)
_HISTOGRAMS = ("latency_corrected", "latency_service", "schedule_lag")

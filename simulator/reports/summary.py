"""The report document of a run's stats (schema report/v1), and its latency distribution."""

from __future__ import annotations

from typing import Any

from simulator.reports.histogram import Histogram
from simulator.reports.stats import COUNTERS, INJECTED_KEYS, RunStats

SCHEMA = "webhook-simulator/report/v1"

_LATENCY_KEYS = ("min", "mean", "p50", "p90", "p95", "p99", "p99.9", "max")
_PERCENTILES = {"p50": 50, "p90": 90, "p95": 95, "p99": 99, "p99.9": 99.9}


def _in_ms(hist: Histogram, keys: tuple[str, ...]) -> dict[str, float | None]:
    if not hist.count:
        return dict.fromkeys(keys)
    wanted = [key for key in keys if key in _PERCENTILES]
    values: dict[str, float] = dict(
        zip(wanted, hist.percentiles(_PERCENTILES[k] for k in wanted), strict=True)
    )
    values.update(min=hist.min, mean=hist.mean, max=hist.max)
    return {key: round(values[key] / 1000, 3) for key in keys}


# Where the HDR percentile plot samples the whole run's histograms: ever closer to 100.
DISTRIBUTION = (
    0, 10, 20, 30, 40, 50, 60, 70, 75, 80, 85, 90, 92.5, 95, 96, 97, 97.5, 98, 98.5, 99, 99.25,
    99.5, 99.75, 99.9, 99.95, 99.99, 99.995, 99.999, 100,
)  # fmt: skip


def latency_distribution(stats: RunStats) -> dict[str, Any]:
    """The whole run's latency at each of DISTRIBUTION's percentiles, in ms, for an HDR
    percentile plot: {percentiles, corrected_ms, service_ms} (empty lists when nothing
    was sent)."""
    if not stats.latency_corrected.count:
        return {"percentiles": [], "corrected_ms": [], "service_ms": []}
    values = {
        name: [v / 1000 for v in getattr(stats, f"latency_{name}").percentiles(DISTRIBUTION)]
        for name in ("corrected", "service")
    }
    return {
        "percentiles": list(DISTRIBUTION),
        "corrected_ms": values["corrected"],
        "service_ms": values["service"],
    }


def summarize(stats: RunStats) -> dict[str, Any]:
    """The run's report document. Schema "webhook-simulator/report/v1", every key always set:

    schema: "webhook-simulator/report/v1"
    started_at, finished_at: the caller's clock readings, or null
    duration_s: finished_at - started_at (0 when either is missing)
    interrupted: true when the run was stopped before its schedule ended; its events that
        were never tried are then counted as unfinished (counts.not_sent)
    target_rate: planned events/s, null for max and for ramps and stages (the run's
        options give those)
    send_rate: the achieved send rate, (sends - 1) / (last send's start - first send's
        start), where sends are first attempts (retries and resends aside) and starts are
        actual, not planned: n sends paced exactly at r/s report r/s. Null for fewer than
        2 sends.
        The "rate" threshold and the summary's "achieved" read this.
    achieved_rate: events completed (delivered + failed) per second of duration_s, which
        also holds the wait for the last responses
    attempt_rate: HTTP attempts (retries included) per second of duration_s
    counts: {events, attempts, delivered, failed, unfinished, not_sent, retries, resends,
        late}: unfinished = events - delivered - failed; not_sent, the part of them never
        tried; resends, tries sent again at once on a new connection when a reused one
        failed before any answer (not retries: they take nothing from --retries)
    success_ratio: delivered / (delivered + failed), null when nothing completed (so an
        interrupted run's unfinished events are not in it: see counts and interrupted)
    status_codes: {"<HTTP status>": attempts}
    error_kinds: {"timeout" | "connect" | "reset" | "status" | ...: attempts}
    error_details: {"<why, in words>": attempts}, most frequent first, for attempts that
        got no status ("connection refused", "no answer within the timeout"): at most 20,
        the rest under "(other reasons)"
    latency_ms: {corrected, service}, each {min, mean, p50, p90, p95, p99, p99.9, max}
        in ms (null when nothing was sent); corrected counts from the planned send time,
        service from the actual one
    schedule_lag_ms: {p50, p99, max}: how late sends started (null when nothing was sent)
    late_after_ms: the lag above which a send counts as late
    retry_after: {waits, capped, longest_s}: retries whose wait a 429/503's Retry-After
        set, how many of those the --max-retry-after cap cut short, and the longest wait
        asked for in seconds (after --retry-time-scale; null when none)
    event_types: {"<event type>": {events, delivered, failed, not_sent, error_kinds}}
    injected: {"duplicate" | "reorder" | "tamper" | "wrong-secret" | "stale": {sent,
        accepted, refused, no_answer}}: requests sent for a fault (send --duplicates …),
        by the answer: accepted is a 2xx, refused any other status. "reorder" counts
        events whose own first attempt went at another event's time; the other kinds
        are extra requests, in none of the counts above. Empty without faults.
    """
    duration = 0.0
    if stats.started_at is not None and stats.finished_at is not None:
        duration = max(stats.finished_at - stats.started_at, 0.0)
    completed = stats.delivered + stats.failed
    sends = stats.attempts - stats.retries - stats.resends
    send_rate = None
    if sends >= 2 and stats.first_send is not None and stats.last_send is not None:
        span = stats.last_send - stats.first_send
        send_rate = (sends - 1) / span if span > 0 else None
    return {
        "schema": SCHEMA,
        "started_at": stats.started_at,
        "finished_at": stats.finished_at,
        "duration_s": duration,
        "interrupted": stats.interrupted,
        "target_rate": stats.target_rate,
        "send_rate": send_rate,
        "achieved_rate": completed / duration if duration else 0.0,
        "attempt_rate": stats.attempts / duration if duration else 0.0,
        "counts": {
            **{name: getattr(stats, name) for name in COUNTERS},
            "unfinished": max(stats.events - completed, 0),
        },
        "success_ratio": stats.delivered / completed if completed else None,
        "status_codes": {str(code): n for code, n in sorted(stats.status_codes.items())},
        "error_kinds": dict(stats.error_kinds.most_common()),
        "error_details": dict(stats.error_details.most_common()),
        "latency_ms": {
            "corrected": _in_ms(stats.latency_corrected, _LATENCY_KEYS),
            "service": _in_ms(stats.latency_service, _LATENCY_KEYS),
        },
        "schedule_lag_ms": _in_ms(stats.schedule_lag, ("p50", "p99", "max")),
        "late_after_ms": stats.late_after_s * 1000,
        "retry_after": {
            "waits": stats.retry_after_waits,
            "capped": stats.retry_after_capped,
            "longest_s": stats.retry_after_longest_s,
        },
        "event_types": {
            name: {**vars(c), "error_kinds": dict(c.error_kinds.most_common())}
            for name, c in sorted(stats.by_event_type.items())
        },
        "injected": {
            kind: {key: counts[key] for key in INJECTED_KEYS}
            for kind, counts in sorted(stats.injected.items())
        },
    }

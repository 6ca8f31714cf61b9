"""What a run reports: live progress, one engine's result, and the whole run's result."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from simulator.redaction import public_url
from simulator.reports.html import html_report
from simulator.reports.junit import junit_xml
from simulator.reports.series import Series
from simulator.reports.stats import RunStats
from simulator.reports.summary import latency_distribution
from simulator.reports.thresholds import ThresholdResult
from simulator.sending.config import SendConfig
from simulator.sending.faults import DUPLICATE, FORGED


@dataclass(frozen=True)
class Progress:
    """A live snapshot of a run; `rate` is requests sent per second so far, so that it
    moves with `sent` even while every event waits for a retry."""

    elapsed: float
    sent: int
    delivered: int
    failed: int
    errors: int
    rate: float
    p99_ms: float | None
    worker: int = 0

    @classmethod
    def of(cls, stats: RunStats, elapsed: float, worker: int = 0) -> Progress:
        """A snapshot of `stats`, `elapsed` seconds into the run."""
        hist = stats.latency_corrected
        return cls(
            elapsed=elapsed,
            sent=stats.attempts,
            delivered=stats.delivered,
            failed=stats.failed,
            errors=sum(stats.error_kinds.values()),
            rate=stats.attempts / elapsed if elapsed > 0 else 0.0,
            p99_ms=hist.percentile(99) / 1000 if hist.count else None,
            worker=worker,
        )


@dataclass
class RunResult:
    """What one engine did. dead_lettered counts failed, interrupted and never-sent events;
    not_sent those that were asked for but never tried (count mode or a replay, after an
    interrupt). planned_not_sent counts the planned sends of a --duration run that an
    interrupt left unmade (None when the plan's length is not known in advance).
    record_error is set when a record file could not be written: the run stops there."""

    stats: RunStats
    interrupted: bool
    dead_lettered: int
    not_sent: int
    worker: int = 0
    skipped: int = 0  # bad replay lines passed over
    planned_not_sent: int | None = 0
    record_error: str | None = None  # why --log or --dead-letter could not be written
    dead_unwritten: int = 0  # dead-letter lines that are not in the file

    def to_dict(self) -> dict[str, Any]:
        return {**vars(self), "stats": self.stats.to_dict()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunResult:
        return cls(**{**data, "stats": RunStats.from_dict(data["stats"])})


@dataclass
class SendResult:
    """A finished run: merged stats, the report, and where undelivered events went.

    dead_lettered counts every event not delivered (failed, interrupted, never sent);
    delivered + dead_lettered == the events the run generated. not_sent counts the events
    asked for but never tried (a count or a replay, interrupted); planned_not_sent the
    sends an interrupted --duration run did not make, which were never generated (None
    when its plan had no fixed length: rate max, Poisson arrivals). record_errors say why
    --log or --dead-letter could not be written (the run stopped there), and
    dead_unwritten counts the dead-letter lines that are not in the file.
    """

    config: SendConfig
    stats: RunStats
    summary: dict[str, Any]
    interrupted: bool
    dead_lettered: int
    not_sent: int
    skipped: int = 0
    receiver: dict[str, Any] | None = None
    thresholds: list[ThresholdResult] = field(default_factory=list)
    planned_not_sent: int | None = 0
    rewrote_dead_letter: bool = False  # a replay of the dead-letter file itself
    record_errors: list[str] = field(default_factory=list)
    dead_unwritten: int = 0

    @property
    def generated(self) -> int:
        """Events made (or read) for the run: delivered, failed, unfinished or never sent."""
        return self.stats.events

    @property
    def delivered_all(self) -> bool:
        return self.dead_lettered == 0 and self.stats.failed == 0

    @property
    def receiver_ok(self) -> bool:
        """The built-in receiver (when used) saw only valid, unique, schema-valid JSON,
        but for the forged requests and duplicates the run sent on purpose."""
        if self.receiver is None:
            return True
        r, injected = self.receiver, self.summary.get("injected", {})
        bad = sum(
            n for verdict, n in r["signatures"].items() if verdict not in ("valid", "unsigned")
        )
        bad -= sum(injected.get(kind, {}).get("sent", 0) for kind in FORGED)
        duplicates = r["duplicates"] - injected.get(DUPLICATE, {}).get("sent", 0)
        return not (bad > 0 or duplicates > 0 or r["schema_errors"] or r["not_json"])

    @property
    def forged_accepted(self) -> dict[str, int]:
        """Forged requests the receiver answered 2xx, by kind: each fails the run."""
        injected = self.summary.get("injected", {})
        return {kind: injected[kind]["accepted"] for kind in FORGED
                if injected.get(kind, {}).get("accepted")}  # fmt: skip

    @property
    def outcome(self) -> str:
        """One of unrecorded (a record file could not be written, which also stops the
        run), interrupted, threshold (one failed), forged (the receiver accepted a forged
        request), undelivered, ok: in that precedence."""
        if self.record_errors:
            return "unrecorded"
        if self.interrupted:
            return "interrupted"
        if not all(r.ok for r in self.thresholds):
            return "threshold"
        if self.forged_accepted:
            return "forged"
        if not (self.delivered_all and self.receiver_ok):
            return "undelivered"
        return "ok"

    @property
    def target(self) -> str:
        """The URL sent to, fit to print: no credentials, query values redacted."""
        return public_url(self.config.url or "")

    @property
    def dead_letter(self) -> str | None:
        """The dead-letter file, when this run wrote to it."""
        if self.dead_lettered or self.rewrote_dead_letter:
            return self.config.dead_letter
        return None

    def report(self) -> dict[str, Any]:
        """The report document (summary.summarize, schema report/v1) plus a "run" section."""
        config = self.config
        return {
            **self.summary,
            "run": {
                "seed": config.seed,
                "url": self.target,
                "scheme": config.scheme,
                "events": [config.replay] if config.replay else list(config.events),
                "replay": config.replay is not None,
                "options": config.describe(),
                "receiver": self.receiver,
                "generated": self.generated,
                "not_sent": self.not_sent,
                "planned_not_sent": self.planned_not_sent,
                "skipped_lines": self.skipped,
                "dead_letter": {
                    "path": self.dead_letter,
                    "events": self.dead_lettered,
                    "unwritten": self.dead_unwritten,
                    "rewritten": self.rewrote_dead_letter,
                },
                "log": config.log,
                "record_errors": self.record_errors,
            },
            "thresholds": [vars(r) for r in self.thresholds],
        }

    def junit(self) -> str:
        return junit_xml(self.summary, self.thresholds)

    def document(self) -> dict[str, Any]:
        """report() with the run over time ("series": per-interval rates, statuses,
        errors and latency percentiles) and the whole run's latency percentiles
        ("latency_distribution"): what the HTML report draws. The series is kept only
        for a run given html= (--html): per-interval counting costs every attempt, so a
        run that draws nothing has no intervals."""
        return {
            **self.report(),
            "title": "webhook-sim " + ("replay" if self.config.replay else "send"),
            "outcome": self.outcome,
            "series": (self.stats.series or Series()).document(),
            "latency_distribution": latency_distribution(self.stats),
        }

    def html(self) -> str:
        """The self-contained HTML report of document()."""
        return html_report(self.document())

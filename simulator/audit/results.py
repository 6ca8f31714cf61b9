"""What an audit found: one CaseResult per case, and the AuditResult that holds them with
its report document and JUnit XML."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from simulator.reports.html import html_report
from simulator.reports.junit import suite_xml

SCHEMA = "webhook-simulator/audit/v1"
PASS, FAIL, SKIP = "pass", "fail", "skip"


@dataclass(frozen=True)
class Answer:
    """The receiver's answer to one request: a status, or no status and the error kind
    and reason (as `send` words them); `seconds` from sending to the answer's end."""

    status: int | None
    error: str | None
    detail: str | None
    seconds: float

    @property
    def text(self) -> str:
        """e.g. "401 (3 ms)", "timeout (10 s)"."""
        return f"{self.status if self.status is not None else self.error} ({took(self.seconds)})"

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "error": self.error,
            "error_detail": self.detail,
            "ms": round(self.seconds * 1000, 3),
        }


@dataclass(frozen=True)
class CaseResult:
    """One case: what was sent and expected, the answers, and PASS/FAIL/SKIP with the
    reason (for FAIL and SKIP: what happened, and what to do about it)."""

    name: str
    sent: str
    expected: str
    result: str
    reason: str = ""
    answers: tuple[Answer, ...] = ()
    measured: str = ""  # what a case graded from other answers found (slow-answer)

    @property
    def got(self) -> str:
        """The answers, e.g. "200 (4 ms), 200 (3 ms)"; "-" when none was sent."""
        if self.measured:
            return self.measured
        return ", ".join(answer.text for answer in self.answers) or "-"

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "sent": self.sent,
            "expected": self.expected,
            "result": self.result,
            "reason": self.reason,
            "answers": [answer.to_dict() for answer in self.answers],
            "measured": self.measured or None,
        }


@dataclass
class AuditResult:
    """A finished audit. `ok` when no case failed (skipped ones do not count against it);
    `interrupted` when it was stopped before every case ran (those are skipped).
    `result["duplicate"]` is one case's result."""

    url: str
    scheme: str
    seed: int
    timeout: float
    cases: list[CaseResult] = field(default_factory=list)
    started_at: float | None = None
    finished_at: float | None = None
    interrupted: bool = False
    record_errors: list[str] = field(default_factory=list)  # --report/--junit not written

    @property
    def ok(self) -> bool:
        return not self.failed

    @property
    def failed(self) -> list[CaseResult]:
        return [case for case in self.cases if case.result == FAIL]

    def counts(self) -> dict[str, int]:
        return {kind: sum(c.result == kind for c in self.cases) for kind in (PASS, FAIL, SKIP)}

    def __getitem__(self, name: str) -> CaseResult:
        for case in self.cases:
            if case.name == name:
                return case
        raise KeyError(name)

    def failures(self) -> str:
        """The failed cases, one line each with its reason: an assertion's message."""
        lines = [f"{case.name}: {case.reason}" for case in self.failed]
        head = f"{len(lines)} audit case{'s' if len(lines) != 1 else ''} failed at {self.url}"
        return "\n".join([head, *lines])

    def report(self) -> dict[str, Any]:
        """The report document, schema "webhook-simulator/audit/v1"."""
        return {
            "schema": SCHEMA,
            "url": self.url,
            "scheme": self.scheme,
            "seed": self.seed,
            "timeout_s": self.timeout,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "interrupted": self.interrupted,
            "ok": self.ok,
            "counts": self.counts(),
            "cases": [case.to_dict() for case in self.cases],
        }

    def html(self) -> str:
        """The audit as one self-contained HTML page: the outcome and a row per case."""
        counts = self.counts()
        rows = [[c.name, c.result.upper(), c.sent, c.expected, c.got, c.reason or "-"]
                for c in self.cases]  # fmt: skip
        return html_report(
            {
                "title": "webhook-simulator audit",
                "started_at": self.started_at,
                "outcome": "ok" if self.ok else f"{counts[FAIL]} failed",
                "run": {
                    "url": self.url,
                    "scheme": self.scheme,
                    "seed": self.seed,
                    "options": {"timeout_s": self.timeout, **counts},
                },
                "sections": [
                    {
                        "title": "Cases",
                        "columns": ["case", "result", "sent", "expected", "got", "reason"],
                        "rows": rows,
                    }
                ],
            }
        )

    def junit(self) -> str:
        """JUnit XML: one test case per audit case, failed or skipped with its reason."""
        rows = [
            (
                "webhook-simulator.audit",
                case.name,
                case.result,
                case.reason if case.result != PASS else None,
            )
            for case in self.cases
        ]
        elapsed = (self.finished_at or 0.0) - (self.started_at or 0.0)
        properties = {"url": self.url, "scheme": self.scheme, "seed": str(self.seed)}
        return suite_xml("webhook-simulator.audit", rows, elapsed, properties)


def took(seconds: float) -> str:
    """An answer time in words: "4 ms", "10.0 s"."""
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    return f"{seconds:.1f} s"


def limit_text(seconds: float) -> str:
    """A time limit in words: "10 s", "500 ms"."""
    return f"{seconds * 1000:g} ms" if seconds < 1 else f"{seconds:g} s"

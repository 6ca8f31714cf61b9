"""One report from the parts a distributed run left: exact merges of every worker's
counters and HDR histograms, its records joined, thresholds checked."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from simulator.errors import RecordError
from simulator.options import naming
from simulator.reports.junit import junit_xml
from simulator.reports.parts import DEFAULT_PARTS, Part, find_parts
from simulator.reports.records import check_distinct, check_writable, concat_parts
from simulator.reports.stats import RunStats
from simulator.reports.summary import summarize
from simulator.reports.thresholds import Threshold, ThresholdResult, parse_threshold


@dataclass
class MergeResult:
    """A merged run: its parts, merged stats and report document, and what is missing.

    missing lists the workers that were there when the run started but left no part:
    their events are in no count, so the run is not accounted for (outcome
    "unrecorded"). dead_lettered counts the events the workers dead-lettered, and
    dead_unwritten those of them they could not write down.
    """

    run: str
    parts: list[Part]
    stats: RunStats
    summary: dict[str, Any]
    missing: list[int]
    thresholds: list[ThresholdResult] = field(default_factory=list)
    record_errors: list[str] = field(default_factory=list)
    log: str | None = None
    dead_letter: str | None = None

    @property
    def dead_lettered(self) -> int:
        return sum(u.get("dead_lettered", 0) for p in self.parts for u in p.users.values())

    @property
    def dead_unwritten(self) -> int:
        return sum(u.get("dead_unwritten", 0) for p in self.parts for u in p.users.values())

    @property
    def outcome(self) -> str:
        """unrecorded (a part is missing, or records were not written), threshold,
        undelivered or ok, in that precedence: send's outcomes, less interrupted."""
        if self.missing or self.record_errors:
            return "unrecorded"
        if not all(r.ok for r in self.thresholds):
            return "threshold"
        if self.stats.failed or self.dead_lettered or self.stats.delivered < self.stats.events:
            return "undelivered"
        return "ok"

    def report(self) -> dict[str, Any]:
        """The report document: report/v1 as send writes it (summary.summarize, a "run"
        section with send's keys, thresholds), the run section adding the workers."""
        users = {name: u for p in self.parts for name, u in p.users.items()}
        events = sorted({e for u in users.values() for e in u.get("events", ())})
        schemes = sorted({u["scheme"] for u in users.values() if u.get("scheme")})
        urls = sorted({u["url"] for u in users.values() if u.get("url")})
        first = self.parts[0]
        return {
            **self.summary,
            "run": {
                "id": self.run,
                "engine": first.engine,
                "seed": first.seed,
                "url": urls[0] if len(urls) == 1 else urls,
                "scheme": schemes[0] if len(schemes) == 1 else schemes,
                "events": events,
                "replay": False,
                "options": {name: u.get("options") for name, u in users.items()},
                "receiver": None,
                "generated": self.stats.events,
                "not_sent": self.stats.not_sent,
                "planned_not_sent": None,
                "skipped_lines": 0,
                "dead_letter": {
                    "path": self.dead_letter,
                    "events": self.dead_lettered,
                    "unwritten": self.dead_unwritten,
                    "rewritten": False,
                },
                "log": self.log,
                "record_errors": self.record_errors,
                "workers": [_worker(p) for p in self.parts],
                "missing_workers": self.missing,
            },
            "thresholds": [vars(r) for r in self.thresholds],
        }

    @property
    def problems(self) -> list[str]:
        """What of the run is in no count: missing parts, records not written."""
        missing = [
            f"worker {w} left no part: its events are in no count (copy its output folder "
            "beside the others)"
            for w in self.missing
        ]
        return missing + self.record_errors

    def junit(self) -> str:
        return junit_xml(self.summary, self.thresholds, unrecorded=self.problems)


def merge(
    paths: Sequence[str | Path] = (DEFAULT_PARTS,),
    *,
    run: str | None = None,
    report: str | None = None,
    junit: str | None = None,
    log: str | None = None,
    dead_letter: str | None = None,
    thresholds: Sequence[str | Threshold] = (),
) -> MergeResult:
    """Merge the parts of one run found in `paths` (folders or part files) into one
    report; write it to `report` (JSON) and `junit`, and join the workers' logs and
    dead letters into `log` and `dead_letter` (written anew; the parts stay). Raises
    UsageError for bad input (no parts, parts of several runs without `run`, a bad
    threshold) in the command line's words, RecordError for a file it cannot read or
    write. A missing part or a record a worker could not write is no error: the result
    says so (missing, record_errors) and its outcome is "unrecorded".
    """
    with naming("--threshold"):
        checks = [parse_threshold(t) if isinstance(t, str) else t for t in thresholds]
    check_distinct({"--report": report, "--junit": junit, "--log": log,
                    "--dead-letter": dead_letter})  # fmt: skip
    for path in (report, junit, log, dead_letter):
        if path:
            check_writable(path)
    parts = find_parts(list(paths), run)
    stats = RunStats()
    for part in parts:
        stats.merge(part.stats)
    summary = summarize(stats)
    expected = sorted({w for p in parts for w in p.workers})
    result = MergeResult(
        run=parts[0].run,
        parts=parts,
        stats=stats,
        summary=summary,
        missing=[w for w in expected if w not in {p.worker for p in parts}],
        thresholds=[t.check(summary) for t in checks],
        record_errors=[f"worker {p.worker}: {e}" for p in parts for e in p.record_errors],
        log=log,
        dead_letter=dead_letter,
    )
    for dest, kind in ((log, "log"), (dead_letter, "dead_letter")):
        if dest:
            _join(parts, kind, dest)
    _write(result, report, junit)
    return result


def _worker(part: Part) -> dict[str, Any]:
    stats = part.stats
    return {
        "worker": part.worker,
        "part": str(part.path),
        "events": stats.events,
        "attempts": stats.attempts,
        "delivered": stats.delivered,
        "failed": stats.failed,
    }


def _join(parts: list[Part], kind: str, dest: str) -> None:
    """Join every worker's `kind` records into `dest`, in worker order, keeping the parts.
    A file a worker never created (no line to write) adds nothing."""
    files = [f for p in parts for user in p.users if (f := p.record(user, kind)) is not None]
    concat_parts(files, dest, append=False, keep=True)


def _write(result: MergeResult, report: str | None, junit: str | None) -> None:
    outputs = []
    if report:
        outputs.append((report, orjson.dumps(result.report(), option=orjson.OPT_INDENT_2) + b"\n"))
    if junit:
        outputs.append((junit, result.junit().encode("utf-8")))
    for path, data in outputs:
        try:
            Path(path).write_bytes(data)
        except OSError as exc:
            raise RecordError(f"cannot write '{path}': {exc.strerror}") from None

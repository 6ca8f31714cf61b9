"""What each process of a distributed run leaves behind: one part file per worker, holding
its counters and histograms, and naming its delivery log and dead-letter files.

A part is written once, when the worker's test stops, and replaces any earlier file of
that name whole, so a reader never meets half a part. Parts are named
`<run>.w<worker>.json`, beside their record files `<run>.w<worker>.<user>.log.ndjson`
and `<run>.w<worker>.<user>.dead-letter.ndjson`, all in one output folder per machine.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from simulator.errors import RecordError, UsageError
from simulator.reports.records import replacing
from simulator.reports.stats import RunStats

PART_SCHEMA = "webhook-simulator/part/v1"
DEFAULT_PARTS = "webhook-sim-parts"
_PART_NAME = re.compile(r"(?P<run>[A-Za-z0-9_.-]+?)\.w(?P<worker>\d+)\.json")


def part_name(run: str, worker: int) -> str:
    return f"{run}.w{worker}.json"


def record_name(run: str, worker: int, user: str, kind: str) -> str:
    """A worker's record file for one user class: kind is "log" or "dead-letter"."""
    return f"{run}.w{worker}.{user}.{kind}.ndjson"


def write_part(folder: str | Path, document: dict[str, Any]) -> Path:
    """Write a part document (see Part) into `folder`, created if need be; RecordError
    if it cannot be written."""
    target = Path(folder) / part_name(document["run"], document["worker"])
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RecordError(f"cannot write '{target}': {exc.strerror}") from None
    data = orjson.dumps({"schema": PART_SCHEMA, **document}, option=orjson.OPT_INDENT_2)
    with replacing(target) as temp:
        try:
            temp.write_bytes(data + b"\n")
        except OSError as exc:
            raise RecordError(f"cannot write '{target}': {exc.strerror}") from None
    return target


@dataclass(frozen=True)
class Part:
    """One worker's share of a run, as read back.

    run: the run's id, drawn when the run started; worker: this process's index;
    workers: the indexes every worker of the run had when it started (so that a missing
    part is noticed); seed: the run's seed; users: {user class: {url, scheme, events,
    options, log, dead_letter, dead_lettered, dead_unwritten}}, the record files named
    relative to the part; record_errors: why a record file could not be written;
    stats: the worker's RunStats.
    """

    path: Path
    run: str
    worker: int
    workers: tuple[int, ...]
    seed: int | None
    engine: str
    users: dict[str, dict[str, Any]]
    record_errors: tuple[str, ...]
    stats: RunStats

    def record(self, user: str, kind: str) -> Path | None:
        """The path of one user class's log or dead_letter file, or None without one."""
        name = self.users[user].get(kind)
        return None if name is None else self.path.parent / name


def read_part(path: str | Path) -> Part:
    """Read one part file; RecordError naming the file when it is not one."""
    source = Path(path)
    try:
        data = orjson.loads(source.read_bytes())
    except OSError as exc:
        raise RecordError(f"cannot read '{path}': {exc.strerror}") from None
    except orjson.JSONDecodeError as exc:
        raise RecordError(f"'{path}' is not a part file: {exc}") from None
    if not isinstance(data, dict) or data.get("schema") != PART_SCHEMA:
        raise RecordError(f"'{path}' is not a part file (no schema {PART_SCHEMA!r})")
    try:
        return Part(
            path=source,
            run=str(data["run"]),
            worker=int(data["worker"]),
            workers=tuple(int(w) for w in data.get("workers") or ()),
            seed=data.get("seed"),
            engine=str(data.get("engine", "")),
            users={str(name): dict(user) for name, user in data["users"].items()},
            record_errors=tuple(data.get("record_errors") or ()),
            stats=RunStats.from_dict(data["stats"]),
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        problem = f"{type(exc).__name__}: {exc}"
        raise RecordError(f"'{path}' is not a valid part file: {problem}") from None


def find_parts(paths: list[str | Path], run: str | None = None) -> list[Part]:
    """The parts of one run among `paths` (part files, or folders searched for
    `<run>.w<N>.json`), in worker order. Without `run`, the paths must hold parts of one
    run only; UsageError lists the runs found otherwise, and when there are none."""
    found: list[Path] = []
    for given in paths:
        path = Path(given)
        if path.is_dir():
            found.extend(p for p in sorted(path.iterdir()) if _PART_NAME.fullmatch(p.name))
        elif path.exists():
            found.append(path)
        else:
            raise UsageError(f"cannot read '{given}': no such file or folder")
    if run is not None:
        found = [p for p in found if _run_of(p) in (run, None)]
    parts = [read_part(p) for p in found]
    if run is not None:
        parts = [p for p in parts if p.run == run]
    where = ", ".join(f"'{p}'" for p in paths)
    runs = sorted({p.run for p in parts})
    if not parts:
        wanted = f" of run '{run}'" if run is not None else ""
        raise UsageError(f"no part files{wanted} in {where}: each worker writes <run>.w<N>.json")
    if len(runs) > 1:
        counts = ", ".join(f"{r} ({sum(p.run == r for p in parts)} parts)" for r in runs)
        raise UsageError(f"{where} hold parts of {len(runs)} runs: {counts}; choose one with --run")
    by_worker: dict[int, Part] = {}
    for part in parts:
        if part.worker in by_worker:
            first = by_worker[part.worker].path
            raise UsageError(
                f"two parts of worker {part.worker} of run {part.run}: '{first}' and "
                f"'{part.path}': give each file once"
            )
        by_worker[part.worker] = part
    return [by_worker[w] for w in sorted(by_worker)]


def _run_of(path: Path) -> str | None:
    match = _PART_NAME.fullmatch(path.name)
    return match.group("run") if match else None

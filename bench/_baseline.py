"""Today's code beside the change, in the same run (used by bench_send.py).

A git ref is exported with `git archive` to a temporary tree. Each measurement of a tree
runs in child processes that import `simulator` from that tree alone (PYTHONPATH and
working directory both point there), so that this tree and the baseline are measured
the same way, one right after the other:

- send_rate: the send CLI at --rate max, as a user runs it (its JSON report);
- client_rate: send's own HTTP client POSTing one static body, with its CPU time;
- client_instructions: the same client's instructions per request, under valgrind;
- parse_us: one response framed by each tree's ResponseReader, in this process,
  alternating rounds.

    python bench/_baseline.py client URL SECONDS START_AT   # one client process (internal)
    python bench/_baseline.py count URL REQUESTS            # the same, for a count
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

from trees import export

# The last commit before llhttp (httptools) framed send's responses.
BASELINE_REF = "c49ab12"
SECRET = "bench-secret"
CONCURRENCY = 64


@contextmanager
def exported(ref: str) -> Iterator[Path]:
    """A temporary tree holding the project as it is at `ref` (trees.export)."""
    with tempfile.TemporaryDirectory(prefix="bench-baseline-") as tmp:
        yield Path(export(ref, tmp))


def _env(tree: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(tree)}


def send_rate(tree: Path, url: str, seconds: float, workers: int) -> dict[str, Any]:
    """The JSON report of `send --rate max` for `seconds`, run from `tree`."""
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        command = [
            sys.executable, "-m", "simulator", "send", "--url", url, "--secret", SECRET,
            "--duration", f"{seconds:g}s", "--rate", "max", "--workers", str(workers),
            "--concurrency", str(CONCURRENCY), "--seed", "1", "--quiet", "--no-summary",
            "--dead-letter", os.devnull, "--report", str(report),
        ]  # fmt: skip
        result = subprocess.run(command, cwd=tree, env=_env(tree), capture_output=True, text=True)
        if not report.exists():
            raise RuntimeError(f"send from {tree} failed: {result.stderr.strip()[-500:]}")
        return json.loads(report.read_text())


def client_rate(
    tree: Path, url: str, body: bytes, seconds: float, processes: int
) -> tuple[float, float]:
    """(requests/s, client CPU µs per request) of `processes` processes, each running
    send's own client from `tree` with CONCURRENCY tasks POSTing `body`."""
    start_at = time.time() + 2.0  # after every process has imported the client
    command = [sys.executable, __file__, "client", url, str(seconds), str(start_at)]
    children = [
        subprocess.Popen(
            command, cwd=tree, env=_env(tree), stdin=subprocess.PIPE, stdout=subprocess.PIPE
        )
        for _ in range(processes)
    ]
    results = [json.loads(child.communicate(body)[0]) for child in children]
    done = sum(result["done"] for result in results)
    cpu = sum(result["cpu_s"] for result in results)
    return done / seconds, cpu / max(done, 1) * 1e6


def client_instructions(tree: Path, url: str, body: bytes) -> float | None:
    """Instructions per request of send's own client from `tree` (one process, valgrind
    counting): a figure that, unlike time, a busy machine does not move. None without
    valgrind."""
    if shutil.which("valgrind") is None:
        return None
    counts = []
    for requests in (1000, 5000):  # the difference leaves out start-up and imports
        command = [
            "valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null",
            sys.executable, __file__, "count", url, str(requests),
        ]  # fmt: skip
        run = subprocess.run(
            command, cwd=tree, env=_env(tree), input=body, capture_output=True, check=True
        )
        found = re.search(rb"I\s+refs:\s+([\d,]+)", run.stderr)
        if found is None:
            raise RuntimeError(f"no count from valgrind: {run.stderr[-300:]!r}")
        counts.append(int(found[1].replace(b",", b"")))
    return (counts[1] - counts[0]) / 4000


def _client(url: str, seconds: float = 0.0, start_at: float = 0.0, requests: int = 0) -> None:
    """One client process, for `seconds` from `start_at`, or for `requests` requests:
    prints {"done": requests answered 200, "cpu_s": CPU seconds}."""
    from simulator.sending.client import Session  # the tree's, by PYTHONPATH

    body = sys.stdin.buffer.read()
    headers = {"Content-Type": "application/json"}

    async def main() -> tuple[int, float]:
        done = sent = 0
        async with Session(url, timeout=10) as session:
            await asyncio.sleep(max(start_at - time.time(), 0))
            cpu = time.process_time()
            end = time.monotonic() + seconds

            async def task() -> None:
                nonlocal done, sent
                while sent < requests if requests else time.monotonic() < end:
                    sent += 1
                    ok = (await session.post(body, headers))[0] == 200
                    done += ok  # not `done += (await ...)`: that reads done first

            await asyncio.gather(*(task() for _ in range(CONCURRENCY)))
            return done, time.process_time() - cpu

    try:
        import uvloop

        done, cpu = uvloop.run(main())
    except ImportError:
        done, cpu = asyncio.run(main())
    print(json.dumps({"done": done, "cpu_s": cpu}))


def load_module(tree: Path, path: str, name: str) -> ModuleType:
    """The module at `path` in `tree`, loaded under `name` beside this process's own."""
    spec = importlib.util.spec_from_file_location(name, tree / path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


def parse_us(
    readers: dict[str, type], answer: bytes, rounds: int = 30
) -> dict[str, tuple[float, float]]:
    """(best, median) µs to reset a reader and frame `answer`, per reader class; the
    readers alternate round by round, so that a busy minute slows them all."""
    times: dict[str, list[float]] = {name: [] for name in readers}
    count = 2000
    for _ in range(rounds):
        for name, reader_class in readers.items():
            reader = reader_class()
            reset, feed = reader.reset, reader.feed
            start = time.perf_counter()
            for _ in range(count):
                reset()
                if not feed(answer):
                    raise RuntimeError(f"{name} did not frame {answer[:40]!r}")
            times[name].append((time.perf_counter() - start) / count * 1e6)
    return {name: (min(t), statistics.median(t)) for name, t in times.items()}


if __name__ == "__main__":
    if sys.argv[1:2] == ["client"] and len(sys.argv) == 5:
        _client(sys.argv[2], float(sys.argv[3]), float(sys.argv[4]))
    elif sys.argv[1:2] == ["count"] and len(sys.argv) == 4:
        _client(sys.argv[2], requests=int(sys.argv[3]))
    else:
        raise SystemExit(__doc__)

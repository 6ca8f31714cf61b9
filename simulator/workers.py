"""Running engines: on a fresh loop in this process, or in worker processes sharing a run."""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import queue as queues
import signal
import threading
import time
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from simulator import errors
from simulator.deliver import Engine, Progress, RunResult
from simulator.errors import DeliveryError, SimulatorError
from simulator.record import concat_parts, part_path
from simulator.sendconfig import SendConfig

# Time between "every worker is ready" and the common start: enough for each to wake up.
START_DELAY_S = 0.2
T = TypeVar("T")
_ERRORS = {
    cls.__name__: cls
    for cls in vars(errors).values()
    if isinstance(cls, type) and issubclass(cls, SimulatorError)
}


def run_async(main: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine on a fresh loop: uvloop's when installed, asyncio's otherwise."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    return uvloop.run(main)


async def run_engine(
    engine: Engine,
    *,
    start_at: float | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    signals: bool = True,
) -> RunResult:
    """engine.run(), with SIGINT and SIGTERM calling engine.stop() while it runs."""
    loop = asyncio.get_running_loop()
    caught = (signal.SIGINT, signal.SIGTERM)
    signals = signals and threading.current_thread() is threading.main_thread()
    if signals:
        for sig in caught:
            loop.add_signal_handler(sig, engine.stop)
    try:
        return await engine.run(start_at=start_at, on_progress=on_progress)
    finally:
        if signals:
            for sig in caught:
                loop.remove_signal_handler(sig)


def _error(exc: SimulatorError) -> tuple[str, str, bool]:
    return type(exc).__name__, str(exc), isinstance(exc, errors.UsageError)


def _rebuild(name: str, message: str, usage: bool) -> SimulatorError:
    cls = _ERRORS.get(name, errors.UsageError if usage else SimulatorError)
    try:
        return cls(message)
    except TypeError:  # an error class with its own constructor arguments
        return (errors.UsageError if usage else SimulatorError)(message)


def _worker(
    config: SendConfig,
    worker: int,
    workers: int,
    messages: Any,
    go: Any,
    start_at: Any,
    progress: bool,
) -> None:
    """A worker process: build its engine, report ready, start at the common time, report."""
    stopped: list[int] = []

    def early_stop(signum: int, frame: object) -> None:
        stopped.append(signum)

    # Until the engine's loop takes over, a Ctrl-C only marks the run as stopped.
    signal.signal(signal.SIGINT, early_stop)
    signal.signal(signal.SIGTERM, early_stop)
    try:
        engine = Engine(config, worker=worker, workers=workers, parts=True)
        messages.put(("ready", worker, None))
        while not go.wait(0.05):
            pass
        if stopped:
            engine.stop()

        def report(snapshot: Progress) -> None:
            messages.put(("progress", worker, vars(snapshot)))

        result = run_async(
            run_engine(engine, start_at=start_at.value, on_progress=report if progress else None)
        )
    except SimulatorError as exc:
        messages.put(("error", worker, _error(exc)))
        return
    messages.put(("result", worker, result.to_dict()))


def combine(snapshots: list[Progress]) -> Progress:
    """One progress line for all workers; p99 is the slowest worker's."""
    p99s = [s.p99_ms for s in snapshots if s.p99_ms is not None]
    return Progress(
        elapsed=max(s.elapsed for s in snapshots),
        sent=sum(s.sent for s in snapshots),
        delivered=sum(s.delivered for s in snapshots),
        failed=sum(s.failed for s in snapshots),
        errors=sum(s.errors for s in snapshots),
        rate=sum(s.rate for s in snapshots),
        p99_ms=max(p99s) if p99s else None,
    )


class WorkerPool:
    """Runs `config.workers` engine processes (spawned) and gathers their results.

    Every worker plans the whole schedule and keeps the events whose index falls to it, so
    each event is sent exactly once. Logs and dead letters go to per-worker part files,
    which are joined into the final files at the end: whole lines, never interleaved.
    """

    def __init__(self, config: SendConfig) -> None:
        self.config = config
        self._processes: list[Any] = []
        self._stopping = False

    def stop(self) -> None:
        """Ask every worker to wind down (safe to call from a signal handler)."""
        self._stopping = True
        for process in self._processes:
            if process.pid is not None and process.is_alive():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(process.pid, signal.SIGINT)

    def run(self, on_progress: Callable[[Progress], None] | None = None) -> list[RunResult]:
        config, n = self.config, self.config.workers
        finals = [p for p in (config.log, config.dead_letter) if p]
        for path in finals:
            for w in range(n):
                part_path(path, w).unlink(missing_ok=True)  # left over from a killed run
        ctx = multiprocessing.get_context("spawn")
        messages, go, start_at = ctx.Queue(), ctx.Event(), ctx.Value("d", 0.0)
        self._processes = [
            ctx.Process(
                target=_worker,
                args=(config, w, n, messages, go, start_at, on_progress is not None),
                name=f"webhook-sim-worker-{w}",
            )
            for w in range(n)
        ]
        for process in self._processes:
            process.start()
        if self._stopping:
            self.stop()
        try:
            results = self._gather(messages, go, start_at, on_progress)
        finally:
            for process in self._processes:
                process.join(timeout=5)
                if process.is_alive():
                    process.terminate()
                    process.join()
            if config.log:
                concat_parts([part_path(config.log, w) for w in range(n)], config.log, append=False)
            if config.dead_letter:
                parts = [part_path(config.dead_letter, w) for w in range(n)]
                concat_parts(parts, config.dead_letter, append=True)
        return results

    def _gather(
        self, messages: Any, go: Any, start_at: Any, on_progress: Callable | None
    ) -> list[RunResult]:
        n = self.config.workers
        ready = 0
        results: dict[int, RunResult] = {}
        latest: dict[int, Progress] = {}
        while len(results) < n:
            try:
                kind, worker, payload = messages.get(timeout=0.2)
            except queues.Empty:
                for w, process in enumerate(self._processes):
                    if w not in results and not process.is_alive() and messages.empty():
                        raise DeliveryError(
                            f"worker {w} stopped unexpectedly (exit code {process.exitcode})"
                        ) from None
                continue
            if kind == "ready":
                ready += 1
                if ready == n:
                    start_at.value = time.time() + START_DELAY_S
                    go.set()
            elif kind == "progress":
                latest[worker] = Progress(**payload)
                if on_progress is not None:
                    on_progress(combine(list(latest.values())))
            elif kind == "result":
                results[worker] = RunResult.from_dict(payload)
            else:
                for process in self._processes:
                    process.terminate()
                raise _rebuild(*payload)
        return [results[w] for w in range(n)]

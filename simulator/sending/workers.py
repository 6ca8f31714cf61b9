"""Running engines: on a fresh loop in this process, or in worker processes sharing a run."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import multiprocessing
import os
import queue as queues
import signal
import time
from collections.abc import Callable
from typing import Any

from simulator import errors, runtime
from simulator.errors import DeliveryError, RecordError, SimulatorError
from simulator.reports.records import concat_parts, part_path
from simulator.sending.config import SendConfig
from simulator.sending.engine import Engine, Progress, RunResult

# Time between "every worker is ready" and the common start: enough for each to wake up.
START_DELAY_S = 0.2
RUN_GC_THRESHOLDS = (100_000, 20, 100)
_ERRORS = {
    cls.__name__: cls
    for cls in vars(errors).values()
    if isinstance(cls, type) and issubclass(cls, SimulatorError)
}


async def run_engine(
    engine: Engine,
    *,
    start_at: float | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    signals: bool = True,
) -> RunResult:
    """engine.run(), with SIGINT and SIGTERM calling engine.stop() while it runs."""
    loop = asyncio.get_running_loop()
    with runtime.calling(loop, engine.stop) if signals else contextlib.nullcontext():
        return await engine.run(start_at=start_at, on_progress=on_progress)


def _error(exc: SimulatorError) -> tuple[str, str, bool]:
    return type(exc).__name__, str(exc), isinstance(exc, errors.UsageError)


def _rebuild(name: str, message: str, usage: bool) -> SimulatorError:
    cls = _ERRORS.get(name, errors.UsageError if usage else SimulatorError)
    try:
        return cls(message)
    except TypeError:  # an error class with its own constructor arguments
        return (errors.UsageError if usage else SimulatorError)(message)


class StopLatch:
    """Remembers a stop request and passes it to the engine once there is one.

    Installed as the SIGINT/SIGTERM handler while an engine is built and started, so a
    Ctrl-C at any moment ends the run cleanly instead of raising KeyboardInterrupt.
    """

    def __init__(self) -> None:
        self.stopped = False
        self._engine: Engine | None = None

    def __call__(self, *_: object) -> None:
        self.stopped = True
        if self._engine is not None:
            self._engine.stop()

    def attach(self, engine: Engine) -> Engine:
        self._engine = engine
        if self.stopped:
            engine.stop()
        return engine


def run_here(
    config: SendConfig,
    on_progress: Callable[[Progress], None] | None = None,
    *,
    signals: bool = True,
    worker: int = 0,
    workers: int = 1,
    parts: bool = False,
    start_at: Callable[[], float | None] = lambda: None,
    before_start: Callable[[], None] = lambda: None,
    latch: StopLatch | None = None,
) -> RunResult:
    """Build an engine and run it in this process; with `signals`, Ctrl-C stops it cleanly."""
    latch = latch or StopLatch()
    with runtime.stop_on_signals(latch) if signals else contextlib.nullcontext():
        engine = latch.attach(Engine(config, worker=worker, workers=workers, parts=parts))
        # What is alive now (modules, templates, value pools) lives for the whole run, and
        # a collection walking it stalls every send for tens of milliseconds: freeze it,
        # and collect the young generation rarely (garbage is mostly freed by refcount).
        gc.collect()
        gc.freeze()
        thresholds = gc.get_threshold()
        gc.set_threshold(*RUN_GC_THRESHOLDS)
        try:
            before_start()
            return runtime.run_async(
                run_engine(engine, start_at=start_at(), on_progress=on_progress, signals=signals)
            )
        finally:
            gc.set_threshold(*thresholds)
            gc.unfreeze()


def _worker(
    config: SendConfig,
    worker: int,
    workers: int,
    messages: Any,
    go: Any,
    start_at: Any,
    stop_all: Any,
    progress: bool,
) -> None:
    """A worker process: build its engine, report ready, start at the common time, report."""
    latch = StopLatch()
    # The pool may ask again after this worker's run (when another worker fails): a signal
    # must never raise KeyboardInterrupt here, least of all while the exit flushes the queue.
    # Signals are still blocked (see WorkerPool.run), so this is in place before any arrives.
    for sig in runtime.CAUGHT:
        signal.signal(sig, latch)

    def ready() -> None:
        messages.put(("ready", worker, None))
        while not go.wait(0.05):
            pass
        if stop_all.is_set():  # asked before this process could hear a signal
            latch()

    def report(snapshot: Progress) -> None:
        messages.put(("progress", worker, vars(snapshot)))

    try:
        result = run_here(
            config,
            report if progress else None,
            worker=worker,
            workers=workers,
            parts=True,
            start_at=lambda: start_at.value,
            before_start=ready,
            latch=latch,
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
        self._stop_all: Any = None

    def stop(self) -> None:
        """Ask every worker to wind down (safe to call from a signal handler)."""
        self._stopping = True
        if self._stop_all is not None:
            self._stop_all.set()
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
        self._stop_all = ctx.Event()
        self._processes = [
            ctx.Process(
                target=_worker,
                args=(
                    config,
                    w,
                    n,
                    messages,
                    go,
                    start_at,
                    self._stop_all,
                    on_progress is not None,
                ),
                name=f"webhook-sim-worker-{w}",
            )
            for w in range(n)
        ]
        # Children inherit the blocked mask across exec, so a Ctrl-C that reaches them while
        # they start up waits until their handler is in place. The parent's is delivered
        # between two starts; the workers started after it see stop_all and stop at once.
        for process in self._processes:
            with runtime.blocked():
                process.start()
        if self._stopping:
            self.stop()
        try:
            results = self._gather(messages, go, start_at, on_progress)
        except BaseException:
            self.stop()  # one worker failed: the others wind down and dead-letter their rest
            raise
        finally:
            for process in self._processes:
                process.join(timeout=5)
                if process.is_alive():
                    process.terminate()
                    process.join()
            joined = self._join_parts()
        if joined is not None:
            results[0].record_error = "; ".join(filter(None, (results[0].record_error, joined)))
        return results

    def _join_parts(self) -> str | None:
        """Join the workers' record files into the files asked for; why not, if it fails."""
        config, n = self.config, self.config.workers
        problems = []
        for path, append in ((config.log, False), (config.dead_letter, True)):
            if path:
                try:
                    concat_parts([part_path(path, w) for w in range(n)], path, append=append)
                except RecordError as exc:
                    problems.append(f"{exc} (the workers' parts are kept in {path}.partN)")
        return "; ".join(problems) or None

    def _gather(
        self, messages: Any, go: Any, start_at: Any, on_progress: Callable | None
    ) -> list[RunResult]:
        n = self.config.workers
        ready = 0
        results: dict[int, RunResult] = {}
        latest: dict[int, Progress] = {}
        done: set[int] = set()
        failure: SimulatorError | None = None
        while len(done) < n:
            try:
                kind, worker, payload = messages.get(timeout=0.2)
            except queues.Empty:
                kind = worker = payload = None
                for w, process in enumerate(self._processes):
                    if w not in done and not process.is_alive() and messages.empty():
                        done.add(w)
                        code = process.exitcode
                        failure = failure or DeliveryError(
                            f"worker {w} stopped unexpectedly (exit code {code})"
                        )
                        self.stop()
            if kind == "ready":
                ready += 1
            elif kind == "progress":
                latest[worker] = Progress(**payload)
                if on_progress is not None:
                    on_progress(combine(list(latest.values())))
            elif kind == "result":
                results[worker] = RunResult.from_dict(payload)
                done.add(worker)
            elif kind == "error":
                # The others wind down and dead-letter their share before this is raised.
                failure = failure or _rebuild(*payload)
                done.add(worker)
                self.stop()
            if not go.is_set() and ready + len(done) >= n:
                start_at.value = time.time() + START_DELAY_S
                go.set()
        if failure is not None:
            raise failure
        return [results[w] for w in range(n)]

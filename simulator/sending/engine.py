"""The async delivery engine: open-model pacing, bounded concurrency, signing, retries, records."""

from __future__ import annotations

import asyncio
import collections
import itertools
import random
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from simulator.errors import OverrideError, RecordError, TemplateError, UsageError
from simulator.generation.payloads import PayloadFactory
from simulator.redaction import public_url
from simulator.reports.records import Records, part_path
from simulator.reports.replay import ReplaySource
from simulator.reports.series import Series
from simulator.reports.stats import RunStats
from simulator.seeds import derive_seed
from simulator.sending.attempts import Attempts, Event
from simulator.sending.client import Session, tls_for
from simulator.sending.config import SendConfig
from simulator.sending.faults import Faults
from simulator.sending.results import Progress, RunResult
from simulator.signing import make_signer

WARM_UP_BUILDS = 64
PREBUILD = 16  # payloads the closed model (--rate max) builds at a time


class Engine:
    """Sends one share (worker of workers) of a run and returns its RunResult.

    Open model: each send starts at its planned time whatever earlier responses do, at most
    max_in_flight at once; a send held up by that bound or by the CPU still goes, counted
    late, its latency measured from the planned time. Rate "max" is a closed model of
    `concurrency` senders. stop() ends the run early: no new sends, `grace` seconds for
    the requests in flight, then every unfinished event goes to the dead-letter file. When
    the run's events are known up front (a count, or a replay), so do those never sent;
    a --duration run only counts the sends it did not make: they were never generated.
    """

    def __init__(
        self,
        config: SendConfig,
        *,
        worker: int = 0,
        workers: int = 1,
        parts: bool = False,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ) -> None:
        if config.url is None:
            raise UsageError("the engine needs a url (send() starts a receiver when none is given)")
        self._url: str = config.url
        self.config = config
        self.worker, self.workers = worker, workers
        self._clock, self._wall = clock, wall
        self.scheme = config.scheme or "voucherify"
        self._keep = config.keep_signature and config.replay is not None
        # Resending recorded signatures needs no secret; signing anew does.
        signer = None if self._keep else make_signer(self.scheme, config.secret)
        self._source: Any
        self._skipped = 0
        if config.replay is not None:
            replay = ReplaySource(
                config.replay, skip_bad=config.skip_bad, keep_signature=self._keep
            )
            self._source, self._skipped = replay, replay.skipped
            self.schedule = config.schedule(count=len(replay.items))
        else:
            # Credentials in the URL stay out of bodies, like every other output.
            target = public_url(config.url)
            self._source = PayloadFactory(config.events, config.generation, target_url=target)
            self.schedule = config.schedule()
            # Early builds compile the templates and partials they meet and fill value
            # pools: tens of milliseconds that would make the first sends late.
            try:
                for index in range(WARM_UP_BUILDS):
                    self._source.build(index)
            except (TemplateError, OverrideError):
                # The run may never send that payload: if it does, it fails there, named.
                pass
        self._tls = tls_for(config.url, config.insecure, config.ca_bundle)
        self._extra = dict(config.headers)
        series = Series() if config.html else None
        self.stats = RunStats(target_rate=self.schedule.rate, series=series)
        log, dead = config.log, config.dead_letter
        self._records = Records(
            log=part_path(log, worker) if parts and log else log,
            log_bodies=config.log_bodies,
            dead_letter=part_path(dead, worker) if parts and dead else dead,
            append_dead_letter=not parts,
            secrets=[config.secret or ""],
            url=public_url(config.url),
            scheme=self.scheme,
        )
        self._faults = None
        if config.faults.any:  # never with a replay (SendConfig refuses it)
            self._faults = Faults(config.faults, config.seed or 0, self.scheme)
        self._attempts = Attempts(
            config,
            self.stats,
            self._records,
            signer,
            closed=self.schedule.closed,
            clock=clock,
            wall=wall,
            rng=rng or random.Random(derive_seed(config.seed or 0, "retry", worker)),
            faults=self._faults,
            total=self.schedule.total,
        )
        self._stopping = False
        self._stop_future: asyncio.Future[None] | None = None
        self._pacer: asyncio.Task[None] | None = None
        # Running tasks → the index a send task was launched for (None for closed senders).
        self._tasks: dict[asyncio.Task[Any], int | None] = {}
        self._unstarted: list[int] = []
        self._slots = asyncio.Semaphore(config.max_in_flight)
        self._held: tuple[int, float] | None = None
        self._ready: collections.deque[tuple[int, Any]] = collections.deque()  # prebuilt
        self._fatal: BaseException | None = None
        self._record_error: str | None = None
        self._t0 = 0.0
        self._wall0 = 0.0

    # -- control -----------------------------------------------------------------

    def stop(self) -> None:
        """Stop scheduling and wind down (call from the engine's loop; idempotent)."""
        if self._stopping:
            return
        self._stopping = True
        self.stats.interrupted = True
        if self._stop_future is not None and not self._stop_future.done():
            self._stop_future.set_result(None)
        if self._pacer is not None:
            self._pacer.cancel()

    def progress(self) -> Progress:
        return Progress.of(self.stats, max(self._clock() - self._t0, 0.0), self.worker)

    async def run(
        self,
        *,
        start_at: float | None = None,
        on_progress: Callable[[Progress], None] | None = None,
        progress_every: float = 0.25,
    ) -> RunResult:
        """Send this share of the schedule, starting at wall-clock `start_at` (default now)."""
        self._stop_future = asyncio.get_running_loop().create_future()
        if self._stopping:
            self._stop_future.set_result(None)
        shard = self.schedule.shard(self.worker, self.workers)
        if self._faults is not None:
            shard = self._faults.reorder(shard, self.schedule.total)
        closed, config = self.schedule.closed, self.config
        # A --header "Connection: close" asks for a new connection for every request.
        keep_alive = all(name.lower() != "connection" for name in self._extra)
        async with Session(
            self._url, timeout=config.timeout, tls=self._tls, keep_alive=keep_alive
        ) as session:
            # The clock starts once everything is in place, so the first sends are on time.
            now_wall, now = self._wall(), self._clock()
            self._wall0 = self._records.offset = now_wall - now
            self._t0 = now + max((start_at or now_wall) - now_wall, 0.0)
            self.stats.begin(self._t0, self._wall0)
            ticker = asyncio.create_task(self._tick(on_progress, progress_every))
            try:
                drive = self._drive_closed if closed else self._drive_open
                driver = asyncio.create_task(drive(session, shard))
                await asyncio.wait((driver, self._stop_future), return_when=asyncio.FIRST_COMPLETED)
                if self._stopping:
                    await self._wind_down()
                await driver
            finally:
                ticker.cancel()
            self.stats.finished_at = self._wall()
        self.stats.on_the_wall(self._wall0)
        not_sent, planned = 0, 0  # type: tuple[int, int | None]
        if self._stopping and self._fatal is None:
            if self._counted:
                not_sent = self._dead_letter_rest(shard)
            else:
                planned = self._planned_not_sent()
        elif self._fatal is not None:
            # Built before the payload that failed: generated, so kept, not dropped.
            self._dead_letter_unsent(self._ready)
        try:
            self._records.close()
        except RecordError as exc:
            self._record_error = str(exc)  # its words count the lines lost
        if self._fatal is not None:
            raise self._fatal
        records = self._records
        return RunResult(
            self.stats,
            self._stopping,
            records.dead_lettered,
            not_sent,
            self.worker,
            self._skipped,
            planned,
            self._record_error,
            records.dead_unwritten,
        )

    # -- scheduling --------------------------------------------------------------

    async def _drive_open(self, session: Any, shard: Iterator[tuple[int, float]]) -> None:
        pacer = self._pacer = asyncio.create_task(self._pace(session, shard))
        # stop() may cancel the pacer before its first step; what it never took from the
        # shard is still there for the dead-letter pass.
        await asyncio.wait((pacer,))
        failure = None if pacer.cancelled() else pacer.exception()
        if failure is not None:
            raise failure
        while self._tasks:
            await asyncio.wait(set(self._tasks))

    async def _pace(self, session: Any, shard: Iterator[tuple[int, float]]) -> None:
        t0, clock, slots = self._t0, self._clock, self._slots
        for item in shard:
            try:
                # Sleep only until the next due time; every send that fell due meanwhile
                # then goes out without sleeping again.
                delay = t0 + item[1] - clock()
                if delay > 0:
                    await asyncio.sleep(delay)
                await slots.acquire()
            except asyncio.CancelledError:
                self._held = item
                return
            if self._stopping:
                slots.release()
                self._held = item
                return
            task = asyncio.create_task(self._deliver(session, item[0], t0 + item[1], True))
            self._tasks[task] = item[0]
            task.add_done_callback(self._task_done)

    async def _drive_closed(self, session: Any, shard: Iterator[tuple[int, float]]) -> None:
        await self.nap(self._t0 - self._clock())
        duration = self.schedule.duration
        deadline = None if duration is None else self._t0 + duration
        senders = [
            asyncio.create_task(self._closed_sender(session, shard, deadline))
            for _ in range(self.config.concurrency)
        ]
        for sender in senders:
            self._tasks[sender] = None
            sender.add_done_callback(self._task_done)
        await asyncio.gather(*senders)

    async def _closed_sender(
        self, session: Any, shard: Iterator[tuple[int, float]], deadline: float | None
    ) -> None:
        ready, clock = self._ready, self._clock
        while not self._stopping:
            if deadline is not None and clock() >= deadline:
                return
            if not ready and not self._prebuild(shard):
                return
            index, payload = ready.popleft()
            # Due when taken, after any prebuild: building the batch is not schedule lag.
            await self._deliver(session, index, clock(), False, payload)

    def _prebuild(self, shard: Iterator[tuple[int, float]]) -> bool:
        """Build the closed model's next PREBUILD payloads back to back; False when done.

        Built one at a time between requests, a payload costs half as much again: aiohttp
        has pushed generation's code and data out of the CPU caches each time.
        """
        index = None
        try:
            for index, _ in itertools.islice(shard, PREBUILD):
                self._ready.append((index, self._source.build(index)))
        except Exception as exc:  # a broken template: end the run, then raise it
            self._fail(exc, index)
        return bool(self._ready) and not self._stopping

    def _fail(self, exc: Exception, index: int | None) -> None:
        """End the run on an error that would fail the events after it alike (a broken
        template, a --set path some payloads lack) or a bug; run() raises it."""
        if self._fatal is None:
            if isinstance(exc, (TemplateError, OverrideError)) and index is not None:
                # Payloads before it went out: the one that failed is what to look at.
                exc = type(exc)(f"payload index {index}: {exc}; the run stopped there")
            self._fatal = exc
        self.stop()

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        index = self._tasks.pop(task)
        if task.cancelled() and index is not None:
            # Cancelled before its first step: nothing was built or sent, and its slot is
            # still taken. It is dead-lettered with the never-sent events.
            self._slots.release()
            self._unstarted.append(index)

    async def _wind_down(self) -> None:
        if self._tasks:
            _, pending = await asyncio.wait(set(self._tasks), timeout=self.config.grace)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending)

    # -- what an event's attempts need of the pace (attempts.Pace) --------------------

    @property
    def stopping(self) -> bool:
        return self._stopping

    async def nap(self, delay: float) -> bool:
        """Wait `delay` seconds unless stopped first; True if stopped."""
        if delay > 0 and not self._stopping and self._stop_future is not None:
            await asyncio.wait((self._stop_future,), timeout=delay)
        return self._stopping

    async def take_slot(self) -> None:
        await self._slots.acquire()

    def give_slot(self) -> None:
        self._slots.release()

    # -- one event ---------------------------------------------------------------

    async def _deliver(
        self, session: Session, index: int, due: float, slotted: bool, payload: Any = None
    ) -> None:
        try:
            event = Event(self._source.build(index) if payload is None else payload, index)
        except Exception as exc:  # a broken template: end the run, then raise it
            if slotted:
                self.give_slot()
            return self._fail(exc, index)
        try:
            await self._attempts.deliver(session, event, due, self, slotted)
        except Exception as exc:  # a bug: end the run, then raise it
            self._fail(exc, index)

    @property
    def _counted(self) -> bool:
        """The run's events are known up front: a replay, or a count (no duration or stages
        bounding it), so that ones never sent are still the run's events."""
        if self.schedule.total is None:
            return False
        config = self.config
        return config.replay is not None or (config.duration is None and config.stages is None)

    def _dead_letter_rest(self, shard: Iterator[tuple[int, float]]) -> int:
        """Generate and dead-letter the events that were asked for but never tried."""
        held = [(index, None) for index in self._unstarted]
        if self._held:
            held.append((self._held[0], None))
        rest = itertools.chain(self._ready, held, ((index, None) for index, _ in shard))
        return self._dead_letter_unsent(rest)

    def _dead_letter_unsent(self, items: Iterable[tuple[int, Any]]) -> int:
        """Dead-letter (index, payload or None to build it) pairs that were never tried."""
        count = 0
        for index, payload in items:
            event = Event(self._source.build(index) if payload is None else payload, index)
            self.stats.record_not_sent(event.payload.event)
            self._attempts.dead_letter(event, "interrupted")
            count += 1
        return count

    def _planned_not_sent(self) -> int | None:
        """This share's planned sends that were never made (and so never generated)."""
        total = self.schedule.total
        if total is None:
            return None  # a closed or Poisson run bounded by time: no fixed plan
        share = len(range(self.worker, total, self.workers))
        return max(share - self.stats.events, 0)

    # -- plumbing ----------------------------------------------------------------

    async def _tick(self, on_progress: Callable[[Progress], None] | None, every: float) -> None:
        # Records are flushed at least every 100 ms, so a crash loses at most that much.
        next_report = self._clock()
        while True:
            await asyncio.sleep(0.1)
            try:
                self._records.flush()
            except RecordError as exc:
                # Nothing more can be recorded, so nothing more is sent; the run still
                # ends with its summary and report, which say what was lost.
                self._record_error = str(exc)
                self.stop()
            if on_progress is not None and self._clock() >= next_report:
                next_report += every
                on_progress(self.progress())

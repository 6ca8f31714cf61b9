"""One event's way to the target: sign each attempt, POST it, retry per the policy, record
every attempt, and finish the event delivered or dead-lettered."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from typing import Any, Protocol

from simulator.reports.attempt import Attempt
from simulator.reports.records import Records
from simulator.reports.replay import ReplaySource
from simulator.reports.stats import RunStats
from simulator.sending.client import USER_AGENT
from simulator.sending.config import SendConfig
from simulator.sending.faults import REORDER, STALE, STALE_S, TAMPER, Faults, Tampered, tamper
from simulator.sending.parsing import parse_retry_after, status_expected
from simulator.signing import Signer


class Poster(Protocol):
    """What an event's attempts need of a connection to the target: client.Session, or
    another engine's client (integrations/locust.py)."""

    async def post(
        self,
        body: bytes,
        headers: dict[str, str],
        resent: Callable[[str, str], None] | None = None,
    ) -> tuple[int | None, str | None, str | None, str | None]: ...


class Pace(Protocol):
    """What an event's attempts need of the engine that paces them."""

    @property
    def stopping(self) -> bool: ...

    async def nap(self, delay: float) -> bool: ...

    async def take_slot(self) -> None: ...

    def give_slot(self) -> None: ...


class Event:
    """One event on its way: its payload and the outcome of its last attempt."""

    __slots__ = (
        "attempts", "detail", "done", "error", "first", "headers", "index", "payload",
        "resends", "status",
    )  # fmt: skip

    def __init__(self, payload: Any, index: int) -> None:
        self.payload = payload
        self.index = index
        self.attempts = 0
        # Tries the client made again at once on a new connection: not retries, so they
        # take nothing from --retries.
        self.resends = 0
        self.status: int | None = None
        self.error: str | None = None
        self.detail: str | None = None  # what the error was, in words, when no status came
        self.headers: dict[str, str] | None = None
        self.first: float | None = None
        self.done = False


class Attempts:
    """Delivers events one attempt at a time and keeps the books: stats and records.

    `signer` None resends the headers recorded with a replayed event instead of signing.
    `closed` (rate max) holds no slot while an event waits for its retry: there is no
    bound on requests open at once to keep, only senders.
    """

    def __init__(
        self,
        config: SendConfig,
        stats: RunStats,
        records: Records,
        signer: Signer | None,
        *,
        closed: bool,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
        rng: random.Random,
        faults: Faults | None = None,
        total: int | None = None,
    ) -> None:
        self.stats = stats
        self.records = records
        self._signer = signer
        self._closed = closed
        self._clock, self._wall, self._rng = clock, wall, rng
        self._retry = config.retry
        self._retries = config.retry.limit
        self._expect = config.expect_status
        self._base = {"Content-Type": "application/json", "User-Agent": USER_AGENT}
        self._extra = dict(config.headers)
        self._faults, self._total = faults, total  # total: the run's events, when known

    async def deliver(
        self, session: Poster, event: Event, due: float, pace: Pace, slotted: bool
    ) -> None:
        """Try `event` (due at `due`) until delivered, out of retries or stopped. Holds a
        slot of `pace` while a request is out when `slotted`; raises what no later event
        would escape either (a bug), after finishing this one as failed."""
        faults = self._faults
        try:
            self.stats.record_event(event.payload.event)
            if faults is not None:
                due = await self._forge(session, event, due, faults)
            while True:
                ok, retry_after = await self._attempt(session, event, due)
                if faults is not None and (
                    event.attempts - event.resends == 1 and faults.duplicated(event.index)
                ):
                    await self._duplicate(session, event)
                if ok:
                    return self.finish(event, None)
                if pace.stopping:
                    return self.finish(event, "interrupted")
                tries = event.attempts - event.resends
                if tries > self._retries:
                    return self.finish(event, "failed")
                now = self._clock()
                if retry_after is None:
                    delay = self._retry.delay(tries, now - (event.first or now), self._rng)
                else:
                    delay, asked = self._retry.retry_after_wait(retry_after)
                    self.stats.record_retry_after(asked, capped=delay < asked)
                due = now + delay
                if slotted:
                    slotted = False
                    pace.give_slot()
                if await pace.nap(delay):
                    return self.finish(event, "interrupted")
                if not self._closed:
                    await pace.take_slot()
                    slotted = True
                if pace.stopping:
                    return self.finish(event, "interrupted")
        except asyncio.CancelledError:
            if not event.done:
                self.finish(event, "interrupted")
        except Exception:
            if not event.done:
                self.finish(event, "failed")
            raise
        finally:
            if slotted:
                pace.give_slot()

    def headers(self, payload: Any, timestamp: int) -> dict[str, str]:
        if self._signer is None:
            signed = ReplaySource.recorded_headers(payload)
        else:
            signed = self._signer.headers(
                payload.body, msg_id=payload.id, timestamp=timestamp, event_type=payload.event
            )
        # --header comes last, so a run can send a deliberately wrong signature.
        return {**self._base, **signed, **self._extra}

    async def _attempt(
        self, session: Poster, event: Event, due: float
    ) -> tuple[bool, float | None]:
        payload = event.payload
        event.attempts += 1
        wall = self._wall()
        headers = event.headers = self.headers(payload, int(wall))
        started = self._clock()
        if event.first is None:
            event.first = started

        resend = False

        def resent(error: str, detail: str) -> None:
            # The client sent it again on a new connection: the failed try is an attempt
            # of its own, which the server may have received.
            nonlocal started, resend
            now = self._clock()
            self._record(event, due, started, now, None, error, detail, resend)
            event.attempts += 1
            event.resends += 1
            started, resend = now, True

        try:
            status, error, detail, retry_after = await session.post(payload.body, headers, resent)
        except asyncio.CancelledError:
            # Stopped with the request out (after --grace): the server may have it, so the
            # records show the attempt, cut short.
            event.error, event.detail = "interrupted", "the run stopped before an answer came"
            now = self._clock()
            self._record(event, due, started, now, None, event.error, event.detail, resend)
            raise
        finished = self._clock()
        ok = error is None and status is not None and status_expected(status, self._expect)
        if error is None and not ok:
            error = "status"
        event.status, event.error, event.detail = status, error, detail
        self._record(event, due, started, finished, status, error, detail, resend)
        return ok, parse_retry_after(retry_after, wall)

    async def _forge(self, session: Poster, event: Event, due: float, faults: Faults) -> float:
        """Send the forged requests event `index` gets, before its first attempt; when
        its first attempt is due: at once, if they took longer than its schedule left."""
        kinds = faults.forged(event.index)
        if not kinds:
            return due
        payload, wall = event.payload, int(self._wall())
        for kind in kinds:
            shown, body = payload, payload.body
            if kind == TAMPER:
                body = tamper(body)
                shown = Tampered(payload, body)
                headers = self.headers(payload, wall)
            elif kind == STALE:
                headers = self.headers(payload, wall - STALE_S)
            else:
                assert faults.other is not None
                signed = faults.other.headers(
                    body, msg_id=payload.id, timestamp=wall, event_type=payload.event
                )
                headers = {**self._base, **signed, **self._extra}
            await self._inject(session, event, kind, shown, body, headers)
        return max(due, self._clock())

    async def _duplicate(self, session: Poster, event: Event) -> None:
        """The event's first request again, the same bytes and headers: a redelivery."""
        headers = event.headers or {}
        await self._inject(session, event, "duplicate", event.payload, event.payload.body, headers)

    async def _inject(
        self, session: Poster, event: Event, kind: str, shown: Any, body: bytes,
        headers: dict[str, str],
    ) -> None:  # fmt: skip
        started = self._clock()
        status, error, detail, _ = await session.post(body, headers)
        if error is None and status is not None and not 200 <= status < 300:
            error = "status"
        attempt = Attempt(
            shown, event.index, 0, started, started, self._clock(), status, error, detail,
            headers, injected=kind,
        )  # fmt: skip
        self.stats.record_attempt(attempt)
        self.records.attempt(attempt)

    def _record(
        self,
        event: Event,
        due: float,
        started: float,
        finished: float,
        status: int | None,
        error: str | None,
        detail: str | None,
        resend: bool,
    ) -> None:
        attempt = Attempt(
            event.payload,
            event.index,
            event.attempts,
            due,
            started,
            finished,
            status,
            error,
            detail,
            event.headers or {},
            retry=event.attempts - event.resends > 1,
            resend=resend,
            injected=None if self._faults is None else self._moved(event),
        )
        self.stats.record_attempt(attempt)
        self.records.attempt(attempt)

    def _moved(self, event: Event) -> str | None:
        """REORDER for the first attempt of an event sent at another event's time."""
        faults = self._faults
        assert faults is not None
        if event.attempts != 1 or not faults.moved(event.index, self._total):
            return None
        return REORDER

    def finish(self, event: Event, reason: str | None) -> None:
        """Count the event delivered (reason None), or failed or interrupted and
        dead-lettered with its last attempt's outcome."""
        event.done = True
        name = event.payload.event
        if reason is None:
            self.stats.record_outcome(name, delivered=True)
            return
        # An event stopped while it waited for a retry failed as its last attempt did.
        error = (event.error or "interrupted") if reason == "interrupted" else event.error
        self.stats.record_outcome(name, delivered=False, error=error)
        self.dead_letter(event, reason)

    def dead_letter(self, event: Event, reason: str) -> None:
        payload = event.payload
        self.records.dead(
            payload,
            event.index,
            reason=reason,
            attempts=event.attempts,
            status=event.status,
            error=event.error,
            detail=event.detail,
            first_attempt=None if event.first is None else event.first + self.records.offset,
            headers=event.headers or self.headers(payload, int(self._wall())),
        )

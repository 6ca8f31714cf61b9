"""Faults mixed into a send run: duplicate deliveries, events out of order, and forged
requests (a tampered body, another secret, a stale timestamp) that a receiver must refuse.

Which event gets which fault is a function of the seed and the event's index, so a run
repeats with its seed whichever worker sends what. A forged request goes just before its
event's first attempt (with the event's own id, so that a receiver that takes it would
then see the genuine one as a duplicate); a duplicate, the same bytes and headers, just
after it. Neither is one of the run's events: they are counted apart, per kind.
"""

from __future__ import annotations

import functools
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from simulator.errors import UsageError
from simulator.seeds import derive_seed, mix64
from simulator.signing import Signer, generate_secret, make_signer

DUPLICATE, REORDER, TAMPER, WRONG_SECRET, STALE = (
    "duplicate", "reorder", "tamper", "wrong-secret", "stale",
)  # fmt: skip
FORGED = (TAMPER, WRONG_SECRET, STALE)  # a receiver that accepts one fails the run
KINDS = (DUPLICATE, REORDER, *FORGED)
TIMESTAMPED = ("standard", "stripe")
STALE_S = 600  # 10 minutes old: twice the 5-minute tolerance receivers use
_AMOUNT = re.compile(rb'"(?:total_amount|amount|price)":(\d+)')
_NUMBER = re.compile(rb":(\d+)[,}\]]")
_SCALE = float(1 << 64)


def parse_share(text: str) -> float:
    """A share of events from "2%", "0.5%" or a fraction "0.02"; 0 to 100 %."""
    value = text.strip()
    try:
        number = float(value[:-1]) / 100 if value.endswith("%") else float(value)
    except ValueError:
        raise UsageError(f"invalid rate '{text}': use a percentage, e.g. 2% or 0.5%") from None
    check_share(number, text)
    return number


def check_share(number: float, shown: object) -> float:
    if not 0.0 <= number <= 1.0:
        raise UsageError(f"invalid rate '{shown}': use 0% to 100% (a fraction from 0 to 1)")
    return number


def tamper(body: bytes) -> bytes:
    """`body` with one amount raised by 100 (another number, when it has no amount; a
    space before its end, when it has no number): still JSON, no longer what was signed."""
    found = _AMOUNT.search(body) or _NUMBER.search(body)
    if found is None:
        return body[:-1] + b" " + body[-1:]
    start, end = found.span(1)
    return body[:start] + str(int(body[start:end]) + 100).encode() + body[end:]


@dataclass(frozen=True)
class FaultRates:
    """Shares of events (0 to 1) that get each injected request, and the reorder window
    (events shuffled within consecutive windows of this many; 0 or 1: in order)."""

    duplicates: float = 0.0
    tamper: float = 0.0
    wrong_secret: float = 0.0
    stale: float = 0.0
    reorder: int = 0

    @property
    def any(self) -> bool:
        return bool(self.duplicates or self.forged or self.reorder > 1)

    @property
    def forged(self) -> bool:
        return bool(self.tamper or self.wrong_secret or self.stale)


class Tampered:
    """A payload whose body was changed after signing: what the records show of it."""

    __slots__ = ("body", "event", "id", "index")

    def __init__(self, payload: Any, body: bytes) -> None:
        self.id, self.event, self.index, self.body = payload.id, payload.event, payload.index, body


class Faults:
    """A run's fault plan: which events get which injected request, and the order events
    go in. Every decision hashes (seed, kind, event index): no state, nothing drawn twice."""

    def __init__(self, rates: FaultRates, seed: int, scheme: str) -> None:
        self._salts = {kind: derive_seed(seed, "fault", kind) for kind in KINDS}
        forged = ((STALE, rates.stale), (WRONG_SECRET, rates.wrong_secret), (TAMPER, rates.tamper))
        self._limits = [(kind, rate * _SCALE) for kind, rate in forged if rate]
        self._duplicate = rates.duplicates * _SCALE
        self._window = rates.reorder if rates.reorder > 1 else 0
        self.other: Signer | None = None
        if rates.wrong_secret and scheme != "none":
            wrong = random.Random(derive_seed(seed, "fault", "secret"))
            self.other = make_signer(scheme, generate_secret(scheme, wrong))

    def forged(self, index: int) -> list[str]:
        """The forged requests to send before event `index`, in order."""
        salts = self._salts
        return [kind for kind, limit in self._limits if mix64(salts[kind] ^ index) < limit]

    def duplicated(self, index: int) -> bool:
        return bool(self._duplicate) and mix64(self._salts[DUPLICATE] ^ index) < self._duplicate

    def reorder(
        self, shard: Iterator[tuple[int, float]], total: int | None
    ) -> Iterator[tuple[int, float]]:
        """The shard's sends, each carrying the event of a shuffled slot: every event of a
        window of `reorder` consecutive ones goes at one of that window's times."""
        if not self._window:
            yield from shard
            return
        for slot, due in shard:
            yield self._permuted(slot, total)[slot % self._window], due

    def moved(self, index: int, total: int | None) -> bool:
        """Event `index` goes at another event's time (reorder)."""
        return bool(self._window) and self._permuted(index, total)[index % self._window] != index

    def _permuted(self, slot: int, total: int | None) -> tuple[int, ...]:
        start = slot - slot % self._window
        end = start + self._window if total is None else min(start + self._window, total)
        return _window(self._salts[REORDER], start, end)


@functools.lru_cache(maxsize=256)
def _window(salt: int, start: int, end: int) -> tuple[int, ...]:
    """Events start..end-1 in the order they go: a shuffle drawn from the window alone.
    Cached: the pacer and the events in flight ask about the same few windows."""
    order = list(range(start, end))
    random.Random(mix64(salt ^ start)).shuffle(order)
    return tuple(order)

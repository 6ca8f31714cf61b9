"""Order lifecycles: chains of customer.order.* events that follow one order.

`--lifecycle created,updated,paid|canceled` makes every run of three payloads one order's
story: payload n is step n % 3 of chain n // 3, and `paid|canceled` is drawn once per
chain. A chain's shared values come from a stream seeded by (seed, chain), so payload n
stays a function of the seed and n alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from simulator.errors import UsageError

PREFIX = "customer.order."
STEPS = ("created", "updated", "paid", "canceled")


@dataclass(frozen=True)
class Lifecycle:
    """The steps of each chain; a step with several names draws one of them per chain."""

    steps: tuple[tuple[str, ...], ...]

    @property
    def length(self) -> int:
        return len(self.steps)

    @property
    def names(self) -> tuple[str, ...]:
        """Every event the chains can hold, in order of first appearance."""
        return tuple(dict.fromkeys(name for step in self.steps for name in step))

    @property
    def text(self) -> str:
        """As the command line writes it: created,paid|canceled."""
        return ",".join("|".join(n.removeprefix(PREFIX) for n in step) for step in self.steps)

    def position(self, index: int) -> tuple[int, int]:
        """(chain, step) of payload `index`."""
        return divmod(index, len(self.steps))


def parse_lifecycle(value: str | Sequence[str | Sequence[str]]) -> Lifecycle:
    """A Lifecycle from "created,updated,paid|canceled" (short or full event names), or
    from a list of steps. An order is created once and first, paid at most once, and
    only updated after it may have been canceled."""
    if isinstance(value, str):
        raw: list[list[str]] = [part.split("|") for part in value.split(",")]
    else:
        raw = [[step] if isinstance(step, str) else list(step) for step in value]
    steps = tuple(tuple(_full(name) for name in step) for step in raw)
    if not steps:
        raise UsageError("empty lifecycle: give steps, e.g. created,paid")
    for number, step in enumerate(steps):
        if len(set(step)) != len(step):
            raise UsageError(f"step {number + 1} names an event twice: {'|'.join(step)}")
        short = {name.removeprefix(PREFIX) for name in step}
        if "created" in short and number > 0:
            raise UsageError("'created' can only be the first step: an order is created once")
        earlier = {n.removeprefix(PREFIX) for s in steps[:number] for n in s}
        if "paid" in short and "paid" in earlier:
            raise UsageError("'paid' appears in two steps: an order is paid once")
        if "canceled" in earlier and short - {"updated"}:
            raise UsageError("after 'canceled' only 'updated' can follow")
    return Lifecycle(steps)


def _full(name: str) -> str:
    short = name.strip().removeprefix(PREFIX)
    if short not in STEPS:
        shown = name.strip() or "(empty)"
        raise UsageError(
            f"unknown lifecycle step '{shown}': use {', '.join(STEPS)}, joined by ',' "
            "(in order) and '|' (one of), e.g. created,updated,paid|canceled"
        )
    return PREFIX + short

"""The event catalog: event name → template, context builder, scenarios and defaults.

Events are found by folder: every `templates/<source>/<event>.json.j2` is a built-in
event of that source, every `<event>.json.j2` in a user folder is a user event (or
overrides the built-in template of the same name). Names starting with `_` are partials.
"""

from __future__ import annotations

import difflib
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from simulator.errors import UnknownEventError
from simulator.generation.builders.orders import order_event
from simulator.generation.builders.spec import SCENARIO_CHOICES, EventSpec
from simulator.generation.builders.user import user_event
from simulator.generation.render import BUILTIN_TEMPLATES, SUFFIX
from simulator.generation.world import World

Builder = Callable[[World, str, int, random.Random, int, EventSpec], dict]
ENVELOPES = ("v2024", "v2018", "none")


@dataclass(frozen=True)
class Event:
    name: str
    source: str
    builder: Builder
    scenarios: tuple[str, ...]
    envelopes: tuple[str, ...]
    default_envelope: str
    signing: str
    description: str

    @property
    def template(self) -> str:
        return self.name + SUFFIX


_ORDER_TRIGGERS = {
    "customer.order.created": "Order creation",
    "customer.order.updated": "Order update",
    "customer.order.paid": "Order has been paid",
    "customer.order.canceled": "Order cancelled",
}
BUILTIN_BUILDERS: dict[str, tuple[Builder, str]] = {
    name: (order_event, f'distribution, cart trigger "{trigger}"')
    for name, trigger in _ORDER_TRIGGERS.items()
}


def _names_in(folder: Path) -> list[str]:
    return sorted(
        p.name[: -len(SUFFIX)] for p in folder.glob("*" + SUFFIX) if not p.name.startswith("_")
    )


def discover(user_dirs: Sequence[str | Path] = ()) -> dict[str, Event]:
    """All events: built-in ones per source folder, then those the user folders add."""
    events: dict[str, Event] = {}
    for folder in sorted(p for p in BUILTIN_TEMPLATES.iterdir() if p.is_dir()):
        for name in _names_in(folder):
            builder, description = BUILTIN_BUILDERS.get(name, (user_event, "built-in template"))
            events[name] = Event(
                name=name,
                source=folder.name,
                builder=builder,
                scenarios=SCENARIO_CHOICES if builder is order_event else (),
                envelopes=ENVELOPES,
                default_envelope="v2024",
                signing=folder.name,
                description=description,
            )
    for user_dir in user_dirs:
        folder = Path(user_dir)
        for name in _names_in(folder):
            if name not in events:
                events[name] = Event(
                    name=name,
                    source="user",
                    builder=user_event,
                    scenarios=(),
                    envelopes=ENVELOPES,
                    default_envelope="none",
                    signing="voucherify",
                    description=f"user template in {folder}",
                )
    return events


def lookup(events: dict[str, Event], name: str) -> Event:
    try:
        return events[name]
    except KeyError:
        close = difflib.get_close_matches(name, list(events), n=3, cutoff=0.5)
        raise UnknownEventError(name, close) from None

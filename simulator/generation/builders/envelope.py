"""The values every envelope carries: sendout and event ids, the source distribution, times."""

from __future__ import annotations

import random

from simulator.generation.builders.spec import EventSpec
from simulator.generation.values import between, iso_ms
from simulator.generation.world import World


def webhook(
    world: World, event: str, index: int, rng: random.Random, now_ms: int,
    context: dict, spec: EventSpec,
) -> dict:  # fmt: skip
    """The envelope's own values: sendout and event ids, source distribution, times."""
    entity = context.get("customer") or {}
    scenario = "promotion" if context.get("promotion_tier") else (
        "send-code" if context.get("voucher") else "plain")  # fmt: skip
    return {
        "id": world.ids.hex("whs_", index, rng),
        "project_id": world.project_id,
        "created_at": iso_ms(now_ms),
        # The name the user typed for the distribution's webhook; the event name is a
        # sensible stand-in, and --set type=... changes it.
        "type": event,
        # Voucherify always sends the URL it posts to; without one, a placeholder.
        "source": world.distribution(scenario, spec.target_url or "https://example.com/webhooks"),
        "event_id": world.ids.hex("evcus_", index, rng),
        "event_type": event,
        "event_created_at": iso_ms(now_ms - between(rng, 1, 40)),
        "entity_id": entity.get("id"),
        "group_id": world.ids.hex("v-", index, rng),
        "event_source": world.event_source,
    }

"""The values every envelope carries: sendout and event ids, who sent it, times."""

from __future__ import annotations

import random
from typing import TYPE_CHECKING

from simulator.generation.builders.spec import EventSpec
from simulator.generation.values import between, iso_ms
from simulator.generation.world import World

if TYPE_CHECKING:
    from simulator.generation.catalog import Event

PLACEHOLDER_URL = "https://example.com/webhooks"


def webhook(
    world: World, event: Event, index: int, rng: random.Random, now_ms: int,
    context: dict, spec: EventSpec,
) -> dict:  # fmt: skip
    """The envelope's own values: sendout and event ids, its source, times (catalog FACTS).

    A builder may set `entity_id` (what the event is about; else the customer),
    `event_source` (who caused it; else the shop's backend through its API key) and
    `event_at` (when the event happened, epoch ms; else shortly before `now_ms`).
    """
    # Voucherify always sends the URL it posts to; without one, a placeholder.
    url = spec.target_url or PLACEHOLDER_URL
    delivery = event.delivery
    if delivery not in ("distribution", "project"):  # either: drawn per payload
        delivery = "project" if rng.random() < 0.5 else "distribution"
    if delivery == "project":
        source, source_kind, kind = world.project_webhook(url), "project_webhook", event.type
    else:
        scenario = "promotion" if context.get("promotion_tier") else (
            "send-code" if context.get("voucher") else "plain")  # fmt: skip
        # The name the user typed for the distribution's webhook (--label), never the
        # event name by default: receivers must dispatch on event.type (labels.py).
        label = spec.label
        kind = world.label(event.name, scenario) if label is None else label
        source, source_kind = world.distribution(scenario, url), "distribution"
    # A builder that dates what led to the event sets `event_at` so the event follows it.
    event_at = context.get("event_at")
    if event_at is None:
        event_at = now_ms - between(rng, 1, 40)
    entity_id = context.get("entity_id")
    if entity_id is None:
        entity_id = (context.get("customer") or {}).get("id")
    return {
        "id": world.ids.hex("whs_", index, rng),
        "project_id": world.project_id,
        "created_at": iso_ms(now_ms),
        "type": kind,
        "source": source,
        "source_kind": source_kind,
        "event_id": world.ids.hex(event.id_prefix, index, rng),
        "event_type": event.type,
        "event_created_at": iso_ms(event_at),
        "entity_id": entity_id,
        "group_id": world.ids.hex("v-", index, rng),
        "event_source": context.get("event_source") or world.event_source,
    }

"""Pending loyalty points: voucher.loyalty_card.pending_points.{added,updated,activated,
canceled} and their customer.voucher.loyalty_card.* twins.

A paid order earns points that wait (`activates_at`) before they count. The card's
`loyalty_card.pending_points` is what waits; the balance object says what changed
(`points`) and what waits now (`total`). Activated points join the card's points and
balance (cards.add_points); canceled ones are gone.
"""

from __future__ import annotations

import random

from simulator.generation import cards, programs
from simulator.generation.builders.balances import transaction
from simulator.generation.builders.orders import simple_order
from simulator.generation.builders.spec import EventSpec
from simulator.generation.builders.vouchers import campaign_of
from simulator.generation.values import below, between, iso_ms
from simulator.generation.world import CUSTOMER_SLOTS, World


def pending_event(
    world: World, event: str, index: int, rng: random.Random, now_ms: int, spec: EventSpec
) -> dict:
    action = event.rsplit(".", 1)[1]
    slot = below(rng, CUSTOMER_SLOTS)
    customer = world.customer(slot)
    program = below(rng, programs.LOYALTY_SLOTS)
    card = cards.with_state(cards.card(world, "loyalty", program, slot, now_ms), rng, now_ms)
    paid = now_ms - between(rng, 1, 10) * programs.DAY
    order, _ = simple_order(world, index, rng, customer, paid - 60_000, paid)
    rule = programs.earning_rules(world, program, now_ms)[0]
    every = rule["loyalty"]["order"]["total_amount"]
    points = max(1, order["total_amount"] // every["every"] * every["points"])
    # What waits besides this order's points: before the change and after it, the card
    # holds `waiting` plus this order's points when they wait (added, updated).
    waiting = between(rng, 0, 50) * 10
    change = {"added": points, "canceled": -points, "activated": -points}.get(action, 0)
    if action == "updated":  # the order changed: its points went from `earlier` to `points`
        change = points - max(1, points - between(rng, 1, 20))
    pending_after = waiting + (points if action in ("added", "updated") else 0)
    tiers = programs.loyalty_tiers(world, program, now_ms)
    tier = next(
        t for t in reversed(tiers) if t["points"]["from"] <= card["loyalty_card"]["balance"]
    )
    group = world.ids.hex("v-", index | programs.FRESH, rng)
    earned = {
        "id": world.ids.hex("evcus_", index | programs.FRESH, rng),
        "type": "customer.order.paid",
        "group_id": group,
        "entity_id": customer["id"],
        "created_at": iso_ms(paid),
        "category": "EFFECT",
        "event_source": {
            "channel": "API",
            "api_key": {"name": world.event_source["name"], "app_id": world.event_source["app_id"]},
        },
    }
    record = {
        "id": world.ids.hex("lopp_", index, rng),
        "voucher_id": card["id"],
        "campaign_id": card["campaign_id"],
        "customer_id": customer["id"],
        "order_id": order["id"],
        "points": points,
        "activates_at": iso_ms(paid + between(rng, 1, 14) * programs.DAY)[:10],
        "details": {
            "holder_loyalty_tier": {"id": tier["id"], "name": tier["name"]},
            "event": earned,
            "earning_rule": {"id": rule["id"], "source": {"banner": rule["source"]["banner"]}},
            "order": {"id": order["id"], "source_id": order["source_id"]},
        },
        "created_at": iso_ms(paid + between(rng, 100, 2000)),
    }
    when = now_ms - between(rng, 5, 900)
    if action == "updated":
        record["updated_at"] = iso_ms(when)
    voucher = {**card, "updated_at": iso_ms(when)}
    context: dict = {
        "customer": customer,
        "campaign": campaign_of(world, card, now_ms),
        "order": order,
        "pending_points": record,
        "redemption": None,
        "entity_id": customer["id"] if event.startswith("customer.") else card["id"],
        "event_source": world.internal if action == "activated" else world.event_source,
    }
    if action == "activated":
        voucher, balance = cards.add_points(voucher, points)
        balance["operation_type"] = "AUTOMATIC"
        context["balance"] = balance
        details = {
            "balance": balance,
            "order": record["details"]["order"],
            "event": {"id": earned["id"], "type": earned["type"]},
            "earning_rule": record["details"]["earning_rule"],
            "pending_points": record,
        }
        context["transaction"] = transaction(
            world, index, rng, voucher, "PENDING_POINTS_ACTIVATION", when, details
        )
    voucher["loyalty_card"] = {**voucher["loyalty_card"], "pending_points": pending_after}
    context["voucher"] = voucher
    context["voucher_pending_points_balance"] = {
        "points": points if action == "activated" else change,
        "total": pending_after,
        "related_object": {"type": "voucher", "id": card["id"]},
        "operation_type": "AUTOMATIC" if action in ("added", "activated") else "MANUAL",
    }
    return context

"""Gift card credits and loyalty points: voucher.gift.{balance_added,transaction.created},
customer.voucher.gift.balance_added, voucher.loyalty_card.{points_added,points_expired,
transaction.created} and customer.voucher.loyalty_card.{points_added,points_expired}.

Each shows one customer's card (the same card wherever it appears) with the card's
state after the change; the change adds up (cards.add_credits, cards.add_points).
"""

from __future__ import annotations

import random

from simulator.generation import cards, programs
from simulator.generation.builders.orders import simple_order
from simulator.generation.builders.spec import EventSpec
from simulator.generation.builders.vouchers import campaign_of
from simulator.generation.values import below, between, iso_ms
from simulator.generation.world import CUSTOMER_SLOTS, World

_REASONS = (None, None, "Refund", "Goodwill", "Promotion", "Correction")
_SOURCES = ("voucherify-web-ui", "API")


def card_of(world: World, kind: str, rng: random.Random, now_ms: int) -> tuple[dict, dict]:
    """(customer, their card in one of the run's `kind` programs, in a state of its own)."""
    slot = below(rng, CUSTOMER_SLOTS)
    slots = programs.GIFT_SLOTS if kind == "gift" else programs.LOYALTY_SLOTS
    card = cards.card(world, kind, below(rng, slots), slot, now_ms)
    return world.customer(slot), cards.with_state(card, rng, now_ms)


def transaction(
    world: World,
    index: int,
    rng: random.Random,
    voucher: dict,
    kind: str,
    when: int,
    details: dict | None,
    source: str | None = None,
) -> dict:
    manual = source != "Automation"
    return {
        "id": world.ids.hex("vtx_", index, rng),
        "source_id": None,
        "voucher_id": voucher["id"],
        "campaign_id": voucher["campaign_id"],
        "source": source or _SOURCES[below(rng, 2)],
        "reason": _REASONS[below(rng, len(_REASONS))] if manual else None,
        "type": kind,
        "details": details,
        "related_transaction_id": None,
        "created_at": iso_ms(when),
    }


def gift_event(
    world: World, event: str, index: int, rng: random.Random, now_ms: int, spec: EventSpec
) -> dict:
    """Context for voucher.gift.{balance_added,transaction.created} and
    customer.voucher.gift.balance_added: credits added to (or taken off) a gift card."""
    customer, before = card_of(world, "gift", rng, now_ms)
    amount = round(between(rng, 5, 100) * 100 * world.market.price_factor)
    kind = "CREDITS_ADDITION"
    if event.endswith("transaction.created") and rng.random() < 0.3:
        amount, kind = -min(amount, before["gift"]["balance"]), "CREDITS_REMOVAL"
    voucher, balance = cards.add_credits(before, amount)
    balance["operation_type"] = "MANUAL"
    when = now_ms - between(rng, 5, 900)
    voucher["updated_at"] = iso_ms(when)
    context = {
        "customer": customer,
        "holder": customer,
        "voucher": voucher,
        "campaign": campaign_of(world, voucher, now_ms),
        "balance": balance,
        "transaction": transaction(world, index, rng, voucher, kind, when, {"balance": balance}),
        "order": None,
        "redemption": None,
        "rollback": None,
        "entity_id": customer["id"] if event.startswith("customer.") else voucher["id"],
        "event_source": world.portal_user,
    }
    return context


def points_event(
    world: World, event: str, index: int, rng: random.Random, now_ms: int, spec: EventSpec
) -> dict:
    """Context for voucher.loyalty_card.points_{added,expired} and their customer.* twins."""
    customer, before = card_of(world, "loyalty", rng, now_ms)
    when = now_ms - between(rng, 5, 900)
    context: dict = {"customer": customer, "event_source": world.portal_user}
    if event.endswith("points_expired"):
        points = -min(before["loyalty_card"]["balance"], between(rng, 1, 20) * 10)
        voucher, balance = cards.add_points(before, points)
        expired = -points
        context["points"] = expired
        context["buckets"] = [
            {
                "id": world.ids.alnum("lopb_", index, rng),
                "voucher_id": voucher["id"],
                "campaign_id": voucher["campaign_id"],
                "bucket": {"total_points": expired},
                "status": "ACTIVE",
                "expires_at": iso_ms(now_ms - programs.DAY)[:10],
                "created_at": iso_ms(programs.days_ago(rng, now_ms, 30, 365)),
                "updated_at": iso_ms(when),
            }
        ]
        kind, source = "POINTS_EXPIRATION", "Automation"
        context["event_source"] = world.internal
    else:
        voucher, balance = cards.add_points(before, between(rng, 1, 50) * 10)
        balance["operation_type"] = "MANUAL"
        kind, source = "POINTS_ADDITION", None
    voucher["updated_at"] = iso_ms(when)
    details = {"balance": balance}
    context.update(
        voucher=voucher,
        campaign=campaign_of(world, voucher, now_ms),
        balance=balance,
        transaction=transaction(world, index, rng, voucher, kind, when, details, source),
        entity_id=customer["id"] if event.startswith("customer.") else voucher["id"],
    )
    return context


def earned(
    world: World,
    index: int,
    rng: random.Random,
    customer: dict,
    program: int,
    before: dict,
    now_ms: int,
) -> tuple[int, dict, dict, dict, dict]:
    """A paid order and the points it earned the customer's card `before` by the
    program's earning rule (points per amount spent): (paid at, order, rule, card,
    balance)."""
    paid = now_ms - between(rng, 500, 5000)
    order, _ = simple_order(world, index, rng, customer, paid - 60_000, now_ms)
    rule = programs.earning_rules(world, program, now_ms)[0]
    every = rule["loyalty"]["order"]["total_amount"]
    points = order["total_amount"] // every["every"] * every["points"]
    voucher, balance = cards.add_points(before, points)
    return paid, order, rule, voucher, balance


def accrual_event(
    world: World, event: str, index: int, rng: random.Random, now_ms: int, spec: EventSpec
) -> dict:
    """Context for voucher.loyalty_card.transaction.created: points a paid order earned by
    the program's earning rule (points per amount spent)."""
    slot = below(rng, CUSTOMER_SLOTS)
    customer = world.customer(slot)
    program = below(rng, programs.LOYALTY_SLOTS)
    card = cards.card(world, "loyalty", program, slot, now_ms)
    before = cards.with_state(card, rng, now_ms)
    paid, order, rule, voucher, balance = earned(
        world, index, rng, customer, program, before, now_ms
    )
    voucher["updated_at"] = iso_ms(now_ms - between(rng, 5, 400))
    tiers = programs.loyalty_tiers(world, program, now_ms)
    tier = next(
        t for t in reversed(tiers) if t["points"]["from"] <= voucher["loyalty_card"]["points"]
    )
    event_id = world.ids.hex("evcus_", index | programs.FRESH, rng)
    customer_event = {
        "id": event_id,
        "type": "customer.order.paid",
        "category": "EFFECT",
        "entity_id": customer["id"],
        "created_at": iso_ms(paid),
        "group_id": world.ids.hex("v-", index | programs.FRESH, rng),
    }
    details = {
        "balance": balance,
        "order": {"id": order["id"], "source_id": order["source_id"]},
        "event": {"id": event_id, "type": "customer.order.paid"},
        "earning_rule": {"id": rule["id"], "source": {"banner": rule["source"]["banner"]}},
    }
    when = programs.parse_instant(voucher["updated_at"])
    return {
        "transaction": transaction(
            world, index, rng, voucher, "POINTS_ACCRUAL", when, details, "Automation"
        ),
        "voucher": voucher,
        "campaign": campaign_of(world, voucher, now_ms),
        "holder": customer,
        "holder_loyalty_tier": tier,
        "balance": balance,
        "order": order,
        "event": customer_event,
        "earning_rule": rule,
        "segment": None,
        "loyalty_tier": None,
        "redemption": None,
        "rollback": None,
        "reward": None,
        "custom_event": None,
        "source_voucher": None,
        "destination_voucher": None,
        "entity_id": voucher["id"],
        "event_source": world.internal,
    }

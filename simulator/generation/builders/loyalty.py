"""Loyalty programs as customers meet them: customer.loyalty.tier.{joined,upgraded,
downgraded,prolonged,left}, customer.rewarded(.loyalty_points) and
customer.reward_redemptions.{created,pending,completed}.

Tiers are the program's own (programs.loyalty_tiers): an upgrade goes one tier up, a
downgrade one down. Points a paid order earns follow the program's earning rule;
a reward costs the points of its assignment, taken off the customer's card.
"""

from __future__ import annotations

import random

from simulator.generation import cards, programs
from simulator.generation.builders.balances import earned
from simulator.generation.builders.spec import EventSpec
from simulator.generation.builders.vouchers import campaign_of, publication
from simulator.generation.values import below, between, iso_ms
from simulator.generation.world import CUSTOMER_SLOTS, World


def tier_event(
    world: World, event: str, index: int, rng: random.Random, now_ms: int, spec: EventSpec
) -> dict:
    """Context for customer.loyalty.tier.*: the customer, the program, the tier(s)."""
    action = event.rsplit(".", 1)[1]
    program = below(rng, programs.LOYALTY_SLOTS)
    tiers = programs.loyalty_tiers(world, program, now_ms)
    context: dict = {
        "customer": world.customer(below(rng, CUSTOMER_SLOTS)),
        "campaign": programs.program(world, "loyalty", program, now_ms),
        "created_at": iso_ms(now_ms - between(rng, 5, 900)),
        "event_source": world.internal,
    }
    if action in ("upgraded", "downgraded"):
        low = below(rng, len(tiers) - 1)
        pair = (tiers[low], tiers[low + 1])
        if action == "downgraded":
            pair = pair[::-1]
        context["loyalty_tier_from"], context["loyalty_tier_to"] = pair
    else:
        # Joining starts at the bottom tier more often than not.
        context["loyalty_tier"] = tiers[0 if rng.random() < 0.6 else below(rng, len(tiers))]
    return context


def _card(world: World, rng: random.Random, now_ms: int) -> tuple[int, int, dict]:
    """(customer slot, program slot, the customer's loyalty card in a state of its own)."""
    slot = below(rng, CUSTOMER_SLOTS)
    program = below(rng, programs.LOYALTY_SLOTS)
    card = cards.card(world, "loyalty", program, slot, now_ms)
    return slot, program, cards.with_state(card, rng, now_ms)


def points_rewarded(
    world: World, event: str, index: int, rng: random.Random, now_ms: int, spec: EventSpec
) -> dict:
    """Context for customer.rewarded.loyalty_points: a paid order earned points."""
    slot, program, before = _card(world, rng, now_ms)
    customer = world.customer(slot)
    paid, order, rule, voucher, balance = earned(
        world, index, rng, customer, program, before, now_ms
    )
    balance["operation_type"] = "AUTOMATIC"
    voucher["updated_at"] = iso_ms(now_ms - between(rng, 5, 400))
    order = {
        **order,
        "updated_at": iso_ms(paid),
        "customer": {
            "id": customer["id"],
            "address": None,
            "summary": None,
            "loyalty": None,
            "referrals": None,
            "object": "customer",
        },
    }
    return {
        "customer": customer,
        "holder": customer,
        "voucher": voucher,
        "campaign": campaign_of(world, voucher, now_ms),
        "loyalty_tier": None,
        "earning_rule": rule,
        "balance": balance,
        "order": order,
        "event": {
            "id": world.ids.hex("evcus_", index | programs.FRESH, rng),
            "type": "customer.order.paid",
            "category": "EFFECT",
            "entity_id": customer["id"],
            "created_at": iso_ms(paid),
            "group_id": world.ids.hex("v-", index | programs.FRESH, rng),
        },
        "event_source": world.internal,
    }


def _reward(world: World, rng: random.Random, program: int, now_ms: int) -> dict:
    options = programs.rewards(world, program, now_ms)
    return options[below(rng, len(options))]


def rewarded(
    world: World, event: str, index: int, rng: random.Random, now_ms: int, spec: EventSpec
) -> dict:
    """Context for customer.rewarded: the customer spent points of their card on a reward."""
    slot, program, before = _card(world, rng, now_ms)
    customer = world.customer(slot)
    # The spec has a rewarded redemption's reward name its product: a material reward.
    reward = next(r for r in programs.rewards(world, program, now_ms) if r["product"])
    cost = reward["assignment"]["parameters"]["loyalty"]["points"]
    if before["loyalty_card"]["balance"] < cost:  # a customer buys what they can afford
        before, _ = cards.add_points(before, cost)
    voucher = cards.spend_points(before, cost)
    when = now_ms - between(rng, 50, 900)
    voucher["updated_at"] = iso_ms(when)
    summary = {
        "id": reward["id"],
        "name": reward["name"],
        "type": "CAMPAIGN",
        "assignment_id": reward["assignment_id"],
        "product": reward["product"],
    }
    redemption = {
        "id": world.ids.hex("r_", index, rng),
        "customer_id": customer["id"],
        "tracking_id": customer["tracking_id"],
        "date": iso_ms(when),
        "amount": cost,
        "reward": {
            **summary,
            "customer": customer,
            "created_at": reward["created_at"],
            "updated_at": None,
            "parameters": reward["parameters"],
            "type": reward["type"],
        },
        "customer": customer,
        "result": "SUCCESS",
        "status": "SUCCEEDED",
        "voucher": voucher,
        "metadata": {},
        "object": "redemption",
    }
    return {
        "customer": customer,
        "holder": customer,
        "voucher": voucher,
        "campaign": campaign_of(world, voucher, now_ms),
        "redemption": redemption,
        "reward": summary,
        "referral_tier": None,
        "balance": None,
        "custom_event": None,
        "customer_event": None,
    }


def reward_redemption(
    world: World, event: str, index: int, rng: random.Random, now_ms: int, spec: EventSpec
) -> dict:
    """Context for customer.reward_redemptions.{created,pending,completed}: the steps of a
    reward bought with points; a completed coupon reward is published to the customer."""
    state = "COMPLETED" if event.endswith("completed") else "PENDING"
    slot, program, voucher = _card(world, rng, now_ms)
    customer = world.customer(slot)
    reward = _reward(world, rng, program, now_ms)
    redemption_id = world.ids.hex("r_", index, rng)
    summary: dict = {
        "id": reward["id"],
        "name": reward["name"],
        "type": "CAMPAIGN",
        "assignment_id": reward["assignment_id"],
    }
    context: dict = {
        "customer": customer,
        "holder": customer,
        "voucher": voucher,
        "campaign": campaign_of(world, voucher, now_ms),
        "reward": summary,
        "reward_assignment": reward["assignment"],
        "source": {"id": redemption_id, "type": "redemption"},
        "balance": None,
        "publication": None,
    }
    if reward["product"]:
        summary["product"] = reward["product"]
    elif state == "COMPLETED":
        _, coupon, published = publication(world, index, rng, now_ms, slot, coupon=True)
        summary["voucher"] = coupon
        context["publication"] = published
    context["reward_redemption"] = {
        "id": world.ids.alnum("rewr_", index, rng),
        "state": state,
        "created_at": iso_ms(now_ms - between(rng, 50, 900)),
        "updated_at": None,
        "voucher_id": voucher["id"],
        "campaign_id": voucher["campaign_id"],
        "customer_id": customer["id"],
        "reward_assignment_id": reward["assignment_id"],
        "source_id": redemption_id,
        "source_type": "redemption",
    }
    return context

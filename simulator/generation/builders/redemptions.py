"""redemption.{succeeded,failed,rollback.succeeded,rollback.failed} and
customer.redemption.{succeeded,rollback.succeeded}.

A redemption applies a coupon code (one of the run's, or one published to the customer)
or a promotion tier to an order, with the amounts FACTS.md gives (builders/orders.py
computes them). A rollback gives the discount back: the order is canceled and the code
can be used once more.
"""

from __future__ import annotations

import random

from simulator.generation import cards, programs
from simulator.generation.builders.orders import simple_order
from simulator.generation.builders.spec import EventSpec
from simulator.generation.builders.vouchers import campaign_of, new_coupon
from simulator.generation.values import Entity, below, between, iso_ms
from simulator.generation.world import CAMPAIGN_SLOTS, CUSTOMER_SLOTS, World

_FAILURES = (
    ("no_applicable_redeemables", "No applicable redeemables", False),
    ("quantity_exceeded", "Quantity exceeded", True),
    ("voucher_disabled", "Voucher is disabled", True),
    ("customer_rules_violated", "Customer does not match validation rules", True),
)
_REASONS = ("Order canceled", "Fraud prevention", "Customer returned the goods")


def redemption_event(
    world: World, event: str, index: int, rng: random.Random, now_ms: int, spec: EventSpec
) -> dict:
    customer = world.customer(below(rng, CUSTOMER_SLOTS))
    rollback = ".rollback." in event
    when = now_ms - between(rng, 5, 900)
    redeemed_at = when - (between(rng, 1, 30) * programs.DAY if rollback else 0)
    context: dict = {
        "customer": customer,
        "holder": None,
        "promotion_tier": None,
        "promotion_stack": None,
        "created_at": iso_ms(now_ms - between(rng, 1, 4)),
        "event_source": world.event_source,
        "entity_id": customer["id"],
    }
    if event == "redemption.failed":
        return _failed(world, index, rng, customer, when, context, now_ms)
    kind = below(rng, 4)  # 0, 1: a code of the run's; 2: one published to them; 3: a tier
    if kind == 3:
        campaign = world.campaign("promotion", below(rng, CAMPAIGN_SLOTS), now_ms)
        voucher = None
        context["promotion_tier"] = campaign["tier"]
    else:
        voucher = (
            cards.any_coupon(world, rng, now_ms)
            if kind < 2
            else {**new_coupon(world, index, rng, redeemed_at), "holder_id": customer["id"]}
        )
        campaign = campaign_of(world, voucher, now_ms)
        voucher = cards.with_state(voucher, rng, redeemed_at + 5, redeemed=0)
        voucher["redemption"]["redeemed_quantity"] = 1
        # Shown two or three times in the payload: an Entity renders once (read-only now).
        voucher = Entity(voucher)
        context["holder"] = customer if voucher.get("holder_id") else None
    order, found = simple_order(
        world, index, rng, customer, redeemed_at - 80, redeemed_at, offer=campaign
    )
    order = Entity(order)
    redemption = {
        "id": found["id"] if found else world.ids.hex("r_", index, rng),
        "customer_id": customer["id"],
        "tracking_id": customer["tracking_id"],
        "date": iso_ms(redeemed_at),
        "amount": order.get("total_discount_amount", 0),
        "order": order,
        "customer": customer,
        "result": "SUCCESS",
        "status": "SUCCEEDED",
        "voucher": voucher,
        "metadata": {},
        "object": "redemption",
    }
    if voucher is None:
        del redemption["voucher"]
    context.update(order=order, campaign=campaign, voucher=voucher, redemption=redemption)
    if rollback:
        _rolled_back(world, index, rng, event, context, when)
    return context


def _failed(
    world: World,
    index: int,
    rng: random.Random,
    customer: dict,
    when: int,
    context: dict,
    now_ms: int,
) -> dict:
    code, message, with_voucher = _FAILURES[below(rng, len(_FAILURES))]
    voucher = None
    if with_voucher:
        voucher = cards.with_state(cards.any_coupon(world, rng, now_ms), rng, now_ms)
    context.update(
        order=None,
        voucher=voucher,
        campaign=campaign_of(world, voucher, now_ms) if voucher else None,
        redemption={
            "id": world.ids.hex("rf_", index, rng),
            "date": iso_ms(when),
            "result": "FAILURE",
            "status": "FAILED",
            "customer": customer,
            "metadata": {},
            "customer_id": customer["id"],
            "tracking_id": customer["tracking_id"],
            "failure_code": code,
            "failure_message": message,
            "object": "redemption",
        },
    )
    return context


def _rolled_back(
    world: World, index: int, rng: random.Random, event: str, context: dict, when: int
) -> None:
    """Add the rollback: the order canceled and the voucher's use given back, or a failure."""
    redemption, voucher = context["redemption"], context["voucher"]
    rollback = {
        "id": world.ids.hex("rr_", index, rng),
        "date": iso_ms(when),
        "customer": context["customer"],
        "metadata": None,
        "redemption": redemption["id"],
        "customer_id": redemption["customer_id"],
        "tracking_id": redemption["tracking_id"],
        "object": "redemption_rollback",
    }
    if voucher is not None:
        rollback["voucher"] = voucher
    if event == "redemption.rollback.failed":
        rollback.update(
            id=world.ids.hex("rrf_", index, rng),
            result="FAILURE",
            status="FAILED",
            failure_code="already_rolled_back",
            failure_message="Already rolled back",
        )
        redemption["status"] = "ROLLED_BACK"
        context["order"] = None
    else:
        canceled = Entity(redemption["order"], status="CANCELED", updated_at=iso_ms(when))
        if rng.random() < 0.75:  # the reason is the caller's to give, or not
            rollback["reason"] = _REASONS[below(rng, len(_REASONS))]
        rollback.update(
            order=canceled,
            result="SUCCESS",
            status="SUCCEEDED",
            amount=-redemption["amount"],
        )
        redemption["status"] = "ROLLED_BACK"
        context["order"] = canceled
        if voucher is not None:
            given_back = {**voucher["redemption"], "redeemed_quantity": 0}
            context["voucher"] = rollback["voucher"] = Entity(
                voucher, redemption=given_back, updated_at=iso_ms(when)
            )
    context["redemption_rollback"] = rollback

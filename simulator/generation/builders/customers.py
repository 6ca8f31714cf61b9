"""customer.{created,updated,deleted}, customer.segment.{entered,left},
customer.custom_event and customer.holder.assignment.{created,deleted}.

The profile (address, birthdate, sign-up date) of one of the run's customers is built
once, so it is the same in every event; its summary and loyalty numbers are the
customer's state at the event, and they add up (redemptions, orders, points). A created
customer is new: its own id, name, email and source_id, never seen again.
"""

from __future__ import annotations

import random
from typing import Any

from simulator.generation import programs
from simulator.generation.builders.spec import EventSpec
from simulator.generation.builders.vouchers import campaign_of
from simulator.generation.cards import card
from simulator.generation.values import Entity, below, between, iso_ms
from simulator.generation.world import CUSTOMER_SLOTS, World
from simulator.seeds import derive_seed

DAY = programs.DAY
_SCHEMAS = ("sign_up", "newsletter_subscribed", "review_written", "app_installed")


def profile(world: World, slot: int, now_ms: int) -> dict:
    """Customer `slot` with what its profile adds: address, birthdate, sign-up date."""

    def make() -> dict:
        rng = random.Random(derive_seed(world.seed, "profile", slot))
        return _profile(world, world.customer(slot), now_ms, rng)

    return world.memo(("profile", slot), make)


def _profile(world: World, customer: dict, now_ms: int, rng: random.Random) -> dict:
    created = now_ms - between(rng, 30, 900) * DAY - below(rng, DAY)
    born = between(rng, 18 * 365, 75 * 365)
    # A profile leaves out what the shop never gave (an email, a description).
    known = {key: value for key, value in customer.items() if value is not None}
    return Entity(
        known,
        address=customer["address"],  # the same (or null) in every event that shows it
        birthdate=iso_ms(now_ms - born * DAY)[:10],
        system_metadata={},
        created_at=iso_ms(created),
    )


# A customer just created has done nothing yet.
_NEW = {
    "summary": {
        "redemptions": {
            "total_redeemed": 0, "total_failed": 0, "total_succeeded": 0,
            "total_rolled_back": 0, "total_rollback_failed": 0, "total_rollback_succeeded": 0,
            "gift": {"redeemed_amount": 0, "amount_to_go": 0},
            "loyalty_card": {"redeemed_points": 0, "points_to_go": 0},
        },
        "orders": {"total_amount": 0, "total_count": 0, "average_amount": 0,
                   "last_order_amount": 0},
    },
    "loyalty": {"points": 0, "referred_customers": 0, "campaigns": {}},
    "referrals": {"total": 0, "campaigns": []},
}  # fmt: skip


def with_summary(world: World, customer: dict, rng: random.Random, now_ms: int) -> dict:
    """The profile with the customer's redemption, order and loyalty totals at the event."""
    orders = below(rng, 12)
    average = round(between(rng, 1500, 9000) * world.market.price_factor) if orders else 0
    succeeded, failed = below(rng, orders + 1), below(rng, 2)
    rolled_back = below(rng, 2) if succeeded else 0
    program = below(rng, programs.LOYALTY_SLOTS)
    points = orders * between(rng, 0, 60)
    loyalty_campaigns = {}
    if points:
        campaign = programs.program(world, "loyalty", program, now_ms)
        tiers = programs.loyalty_tiers(world, program, now_ms)
        tier = next(t for t in reversed(tiers) if t["points"]["from"] <= points)
        loyalty_campaigns[campaign["name"]] = {
            "points": points,
            "loyalty_tier": tier["id"],
            "referred_customers": 0,
        }
    summary: dict[str, Any] = {
        "redemptions": {
            "total_redeemed": succeeded + failed,
            "total_failed": failed,
            "total_succeeded": succeeded,
            "total_rolled_back": rolled_back,
            "total_rollback_failed": 0,
            "total_rollback_succeeded": rolled_back,
            "gift": {"redeemed_amount": 0, "amount_to_go": 0},
            "loyalty_card": {"redeemed_points": 0, "points_to_go": points},
        },
        "orders": {
            "total_amount": average * orders,
            "total_count": orders,
            "average_amount": average,
            "last_order_amount": average,
        },
    }
    if orders:
        summary["orders"]["last_order_date"] = iso_ms(programs.days_ago(rng, now_ms, 1, 60))
    return {
        **customer,
        "summary": summary,
        "loyalty": {"points": points, "referred_customers": 0, "campaigns": loyalty_campaigns},
        "referrals": {"total": 0, "campaigns": []},
    }


def customer_event(
    world: World, event: str, index: int, rng: random.Random, now_ms: int, spec: EventSpec
) -> dict:
    """Context for customer.{created,updated,deleted} and customer.segment.{entered,left}."""
    action = event.removeprefix("customer.")
    if action == "created":
        # Not kept: a new customer a run creates is never seen again.
        new = _profile(world, world.new_customer(index, rng), now_ms, rng)
        customer = {**new, "created_at": iso_ms(now_ms - between(rng, 50, 2000)), **_NEW}
    else:
        customer = profile(world, below(rng, CUSTOMER_SLOTS), now_ms)
        customer = with_summary(world, customer, rng, now_ms)
    context: dict = {"customer": customer, "event_source": world.event_source}
    if action in ("updated", "deleted"):
        customer["updated_at"] = iso_ms(now_ms - between(rng, 5, 900))
    if action == "deleted":
        # Voucherify frees a deleted customer's source_id for reuse (official example).
        customer["source_id"] = f"{customer['source_id']}_deleted{customer['updated_at']}"
    elif action.startswith("segment."):
        context["segment"] = programs.segment(world, below(rng, programs.SEGMENT_SLOTS))
        context["event_source"] = world.internal
    return context


def custom_event(
    world: World, event: str, index: int, rng: random.Random, now_ms: int, spec: EventSpec
) -> dict:
    """Context for customer.custom_event: an event the shop tracks, of a schema it defined."""
    customer = world.customer(below(rng, CUSTOMER_SLOTS))
    n = below(rng, len(_SCHEMAS))
    schema = world.memo(
        ("event-schema", n),
        lambda: {"id": world.ids.alnum("ms_", n, random.Random(n)), "name": _SCHEMAS[n]},
    )
    return {
        "event": {
            "id": world.ids.hex("event_", index, rng),
            "type": schema["name"],
            "customer": {"id": customer["id"]},
            "referral": None,
            "loyalty": None,
            "metadata": {"source": ("web", "mobile", "API")[below(rng, 3)]},
            "created_at": iso_ms(now_ms - between(rng, 5, 900)),
        },
        "event_schema": schema,
        "customer": customer,
        "referral": None,
        "loyalty": None,
    }


def holder_event(
    world: World, event: str, index: int, rng: random.Random, now_ms: int, spec: EventSpec
) -> dict:
    """Context for customer.holder.assignment.{created,deleted}: a customer joins (or leaves)
    the holders of a friend's referral code, as its REFEREE (the spec's only campaign
    type for holders is REFERRAL_PROGRAM)."""
    slot = below(rng, CUSTOMER_SLOTS)
    referrer = (slot + 1 + below(rng, CUSTOMER_SLOTS - 1)) % CUSTOMER_SLOTS
    voucher = card(world, "referral", below(rng, programs.REFERRAL_SLOTS), referrer, now_ms)
    customer = world.customer(slot)
    campaign = campaign_of(world, voucher, now_ms)
    created = now_ms - between(rng, 50, 2000)
    if event.endswith(".deleted"):
        created = now_ms - between(rng, 1, 90) * DAY
    return {
        "holder": {
            "id": world.ids.hex("rh_", index, rng),
            "created_at": iso_ms(created),
            "redeemable_id": voucher["id"],
            "redeemable_object": "voucher",
            "campaign_id": campaign["id"],
            "campaign_type": campaign["campaign_type"],
            "voucher_type": voucher["type"],
            "publication_id": None,
            "customer_id": customer["id"],
            "holder_role": "REFEREE",
        },
        "voucher": voucher,
        "campaign": campaign,
        "customer": customer,
    }

"""campaign.*: campaigns created, updated, switched on and off, deleted; their vouchers
generated; their promotion and loyalty tiers created, changed and deleted.

A marketer does these in the dashboard (USER_PORTAL), now and then through the API. A
`created` event shows a new campaign or tier (its own id, never seen again); the other
events show one of the run's campaigns and tiers, as it is now.
"""

from __future__ import annotations

import random

from simulator.generation import programs
from simulator.generation.builders.spec import EventSpec
from simulator.generation.values import below, between, iso_ms
from simulator.generation.world import CAMPAIGN_SLOTS, World

_SECOND = 1000


def campaign_event(
    world: World, event: str, index: int, rng: random.Random, now_ms: int, spec: EventSpec
) -> dict:
    """Context for campaign.{created,updated,enabled,disabled,deleted} and
    campaign.vouchers.generation.completed."""
    action = event.removeprefix("campaign.")
    if action == "created":
        campaign = _new_campaign(world, index, rng, now_ms)
    else:
        campaign = {**any_campaign(world, rng, now_ms)}
        if action != "vouchers.generation.completed":
            campaign["updated_at"] = iso_ms(now_ms - between(rng, 5, 900))
        campaign["active"] = action != "disabled"
    context = {"campaign": campaign, "entity_id": campaign["id"], "event_source": _who(world, rng)}
    if action == "deleted":
        context["deleted_at"] = iso_ms(now_ms - between(rng, 5, 900))
    elif action == "vouchers.generation.completed":
        context["count"] = campaign["vouchers_count"]
        context["completed_at"] = iso_ms(now_ms - between(rng, 5, 900))
        context["event_source"] = world.internal
    return context


def any_campaign(world: World, rng: random.Random, now_ms: int) -> dict:
    """One of the run's campaigns, of any kind, that generates codes or not."""
    kind = programs.KINDS[below(rng, len(programs.KINDS))]
    return campaign_of(world, kind, rng, now_ms)


def campaign_of(world: World, kind: str, rng: random.Random, now_ms: int) -> dict:
    if kind in ("coupons", "promotion"):
        return world.campaign(kind, below(rng, CAMPAIGN_SLOTS), now_ms)
    slots = {"gift": programs.GIFT_SLOTS, "loyalty": programs.LOYALTY_SLOTS}
    slot = below(rng, slots.get(kind, programs.REFERRAL_SLOTS))
    return programs.program(world, kind, slot, now_ms)


def _new_campaign(world: World, index: int, rng: random.Random, now_ms: int) -> dict:
    """A campaign made a moment ago, like one of the run's (its kind's shape and names)."""
    model = any_campaign(world, rng, now_ms)
    campaign = {
        **model,
        "id": world.ids.alnum("camp_", programs.FRESH | index, rng),
        "name": f"{model['name']}-{index + 13}",  # the event's own: a name names one campaign
        "created_at": iso_ms(now_ms - between(rng, 50, 2 * _SECOND)),
        "vouchers_count": 0,
        "creation_status": "DONE" if model["kind"] == "promotion" else "IN_PROGRESS",
        "vouchers_generation_status": "DONE" if model["kind"] == "promotion" else "IN_PROGRESS",
    }
    del campaign["updated_at"]  # never updated yet: Voucherify leaves the key out
    return campaign


def loyalty_tier_event(
    world: World, event: str, index: int, rng: random.Random, now_ms: int, spec: EventSpec
) -> dict:
    """Context for campaign.loyalty_tier.{created,updated,deleted}."""
    slot = below(rng, programs.LOYALTY_SLOTS)
    campaign = programs.program(world, "loyalty", slot, now_ms)
    tiers = programs.loyalty_tiers(world, slot, now_ms)
    tier: dict = tiers[below(rng, len(tiers))]
    if event.endswith(".created"):
        top = tiers[-1]["points"]["from"]
        points = {"from": top + 1000 * (1 + below(rng, 4))}
        tier = {
            **tier,
            "id": world.ids.hex("ltr_", programs.FRESH | index, rng),
            "name": f"{tier['name']} {index % 1000 + 2}",
            "created_at": iso_ms(now_ms - between(rng, 50, 2 * _SECOND)),
            "config": {"points": points},
            "points": points,
        }
    elif event.endswith(".updated"):
        tier = {**tier, "updated_at": iso_ms(now_ms - between(rng, 5, 900))}
    return {
        "campaign": campaign,
        "loyalty_tier": tier,
        "entity_id": tier["id"],
        "event_source": _who(world, rng),
    }


def promotion_tier_event(
    world: World, event: str, index: int, rng: random.Random, now_ms: int, spec: EventSpec
) -> dict:
    """Context for campaign.promotion_tier.{created,updated,enabled,disabled,deleted}."""
    slot = below(rng, CAMPAIGN_SLOTS)
    campaign = world.campaign("promotion", slot, now_ms)
    tier = {**programs.promotion_tier(world, slot, now_ms)}
    action = event.rsplit(".", 1)[1]
    if action == "created":
        tier["id"] = world.ids.alnum("promo_", programs.FRESH | index, rng)
        tier["created_at"] = iso_ms(now_ms - between(rng, 50, 2 * _SECOND))
        tier["hierarchy"] = 2 + below(rng, 3)
        del tier["updated_at"]
        tier["summary"] = _summary(rng, 0, world.market.price_factor)
    else:
        tier["updated_at"] = iso_ms(now_ms - between(rng, 5, 900))
        tier["active"] = action != "disabled"
        tier["summary"] = _summary(rng, between(rng, 0, 400), world.market.price_factor)
    return {
        "campaign": campaign,
        "promotion_tier": tier,
        "entity_id": tier["id"],
        "event_source": _who(world, rng),
    }


def _summary(rng: random.Random, redeemed: int, price_factor: float) -> dict:
    """A tier's redemption totals: orders' amounts, of which the discounts are a part."""
    total = round(redeemed * between(rng, 2000, 9000) * price_factor)
    return {
        "redemptions": {"total_redeemed": redeemed},
        "orders": {"total_amount": total, "total_discount_amount": total // between(rng, 5, 12)},
    }


def _who(world: World, rng: random.Random) -> dict:
    """A marketer in the dashboard, or now and then the API."""
    return world.portal_user if rng.random() < 0.8 else world.event_source

"""The run's campaigns as the campaign, voucher and loyalty events show them.

Order events know two kinds of campaign (World.campaign): coupons and promotions. The
other events also see gift card, loyalty and referral programs, with their loyalty
tiers, earning rules and rewards, and the run's segments, validation rules and
categories. Each is built once per slot from the run's seed and kept, so one that
recurs is the same in every event; what changes from event to event (balances, counts,
`updated_at`, `active`) is the builders' to set on a copy.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING

from simulator.generation import codes
from simulator.generation.values import (
    Entity,
    alnum_tail,
    format_money,
    iso_ms,
    parse_instant,
)
from simulator.seeds import derive_seed

if TYPE_CHECKING:
    from simulator.generation.world import World

DAY = 86_400_000
GIFT_SLOTS = 3
LOYALTY_SLOTS = 3
REFERRAL_SLOTS = 2
SEGMENT_SLOTS = 8
RULE_SLOTS = 6
CATEGORY_SLOTS = 4
KINDS = ("coupons", "promotion", "gift", "loyalty", "referral")
CAMPAIGN_TYPES = {
    "coupons": "DISCOUNT_COUPONS",
    "promotion": "PROMOTION",
    "gift": "GIFT_VOUCHERS",
    "loyalty": "LOYALTY_PROGRAM",
    "referral": "REFERRAL_PROGRAM",
}
VOUCHER_TYPES = {
    "coupons": "DISCOUNT_VOUCHER",
    "gift": "GIFT_VOUCHER",
    "loyalty": "LOYALTY_CARD",
    "referral": "DISCOUNT_VOUCHER",
}
# Campaign ids of the programs start here: World.campaign numbers coupons and
# promotions 0..2 * CAMPAIGN_SLOTS, and ids are unique per (prefix, number).
_PROGRAM_IDS = {"gift": 1000, "loyalty": 2000, "referral": 3000}
FRESH = 1 << 48  # numbers at and above it belong to one event (index | FRESH): no clash
_CODE_KEYS = {"gift": 1, "loyalty": 2, "referral": 3}  # coupon campaigns' are their slots (< 32)

_GIFT_NAMES = ("Gift Card", "E-Gift", "Store Credit", "Holiday Gift Card")
_LOYALTY_NAMES = ("Rewards Club", "Loyalty Program", "Members Club", "VIP Points")
_TIER_NAMES = (("Bronze", "Silver", "Gold", "Platinum"), ("Member", "Plus", "Premium", "Elite"))
_REFERRAL_NAMES = ("Refer a Friend", "Invite & Earn", "Friends Get More")
_SEGMENTS = (
    "New Customers",
    "Returning Customers",
    "VIP",
    "Newsletter Subscribers",
    "Cart Abandoners",
    "Big Spenders",
    "Inactive 90 Days",
    "Mobile App Users",
)
_CATEGORIES = ("Seasonal", "Always On", "Retention", "Acquisition")


def _rng(world: World, *parts: object) -> random.Random:
    return random.Random(derive_seed(world.seed, "programs", *parts))


def days_ago(rng: random.Random, now_ms: int, low_days: int, high_days: int) -> int:
    """A moment `low_days` to `high_days` days before `now_ms`, at any time of day."""
    return now_ms - rng.randint(low_days, high_days) * DAY - rng.randint(0, DAY - 1)


def category(world: World, slot: int, now_ms: int) -> dict:
    def make() -> dict:
        rng = _rng(world, "category", slot)
        return Entity(
            id=world.ids.hex("cat_", slot, rng),
            name=_CATEGORIES[slot % len(_CATEGORIES)],
            hierarchy=slot + 1,
            created_at=iso_ms(days_ago(rng, now_ms, 200, 400)),
        )

    return world.memo(("category", slot), make)


def segment(world: World, slot: int) -> dict:
    def make() -> dict:
        rng = _rng(world, "segment", slot)
        return Entity(id=world.ids.alnum("seg_", slot, rng), name=_SEGMENTS[slot % len(_SEGMENTS)])

    return world.memo(("segment", slot), make)


def program(world: World, kind: str, slot: int, now_ms: int) -> dict:
    """A gift card, loyalty or referral program: the campaign, in all its attributes."""

    def make() -> dict:
        rng = _rng(world, kind, slot)
        created = days_ago(rng, now_ms, 60, 400)
        year = 1970 + created // 31_556_952_000
        name = {
            "gift": f"{_GIFT_NAMES[slot % len(_GIFT_NAMES)]} {year}",
            "loyalty": _LOYALTY_NAMES[slot % len(_LOYALTY_NAMES)],
            "referral": _REFERRAL_NAMES[slot % len(_REFERRAL_NAMES)],
        }[kind]
        voucher: dict = {
            "type": VOUCHER_TYPES[kind],
            "discount": None,
            "gift": None,
            "loyalty_card": None,
            "redemption": {"quantity": None, "redeemed_quantity": 0},
            "code_config": codes.program_config(kind, slot),
            "is_referral_code": kind == "referral",
        }
        campaign: dict = {
            "id": world.ids.alnum("camp_", _PROGRAM_IDS[kind] + slot, rng),
            "name": name,
            "kind": kind,
            "code_key": _CODE_KEYS[kind] << 5 | slot,  # under 256, apart from the coupons'
            "description": None,
            "auto_join": kind == "loyalty" and rng.random() < 0.5,
            "join_once": kind != "gift",
        }
        if kind == "gift":
            amount = round(rng.choice((2500, 5000, 10000)) * world.market.price_factor)
            voucher["gift"] = {"amount": amount, "effect": "APPLY_TO_ORDER"}
            campaign["description"] = f"{format_money(amount, world.market.currency)} gift card"
        elif kind == "loyalty":
            voucher["loyalty_card"] = {
                "points": 0,
                "expiration_rules": {"period_type": "MONTH", "period_value": rng.choice((6, 12))},
            }
            campaign["loyalty_tiers_expiration"] = {
                "qualification_type": "BALANCE",
                "start_date": {"type": "IMMEDIATE"},
                "expiration_date": {
                    "type": "CUSTOM",
                    "extend": "P1Y",
                    "rounding": {"type": "MONTH", "strategy": "END"},
                },
            }
        else:
            off = round(rng.choice((500, 1000, 1500)) * world.market.price_factor)
            voucher["discount"] = {"type": "AMOUNT", "amount_off": off, "effect": "APPLY_TO_ORDER"}
            campaign["referral_program"] = {"conversion_event_type": "redemption"}
        # What does not apply to the kind is left out: the spec has no null there.
        campaign["voucher"] = {key: value for key, value in voucher.items() if value is not None}
        return Entity(full_campaign(world, campaign, rng, created))

    return world.memo((kind, slot), make)


def full_campaign(world: World, campaign: dict, rng: random.Random, created: int) -> dict:
    """`campaign` with every attribute the Campaign object has (the spec's order)."""
    kind = campaign["kind"]
    return {
        "campaign_type": CAMPAIGN_TYPES[kind],
        # As in the official examples: a promotion's tiers are set up by hand (STATIC);
        # every campaign with codes makes more when it needs them (AUTO_UPDATE).
        "type": "STATIC" if kind == "promotion" else "AUTO_UPDATE",
        "is_referral_code": kind == "referral",
        "use_voucher_metadata_schema": kind != "promotion",
        "vouchers_count": 0 if kind == "promotion" else rng.randint(20, 5000),
        "description": None,
        "start_date": None,
        "expiration_date": None,
        "active": True,
        "metadata": {},
        "created_at": iso_ms(created),
        "updated_at": iso_ms(created + rng.randint(60_000, 20 * DAY)),
        "category": None,
        "category_id": None,
        "categories": [],
        "creation_status": "DONE",
        "vouchers_generation_status": "DONE",
        "protected": False,
        **campaign,
    }


def loyalty_tiers(world: World, program_slot: int, now_ms: int) -> list[Entity]:
    """A loyalty program's tiers, lowest first; the top one has no upper bound."""

    def make() -> list[Entity]:
        campaign = program(world, "loyalty", program_slot, now_ms)
        rng = _rng(world, "tiers", program_slot)
        names = _TIER_NAMES[program_slot % len(_TIER_NAMES)][: rng.randint(3, 4)]
        created = days_ago(rng, now_ms, 30, 60)
        step = rng.choice((100, 250, 500))
        tiers = []
        for n, name in enumerate(names):
            points = (
                {"from": n * step}
                if n == len(names) - 1
                else {"from": n * step, "to": (n + 1) * step - 1}
            )
            tiers.append(
                Entity(
                    id=world.ids.hex("ltr_", program_slot << 4 | n, rng),
                    name=name,
                    campaign_id=campaign["id"],
                    metadata={},
                    created_at=iso_ms(created),
                    updated_at=None,
                    earning_rules={},
                    rewards={},
                    config={"points": points},
                    points=points,
                )
            )
        return tiers

    return world.memo(("tiers", program_slot), make)


def promotion_tier(world: World, slot: int, now_ms: int) -> dict:
    """A promotion campaign's tier (World.campaign) with every attribute it has."""

    def make() -> dict:
        campaign = world.campaign("promotion", slot, now_ms)
        tier = campaign["tier"]
        rng = _rng(world, "promotion-tier", slot)
        discount = campaign["discount"]
        return Entity(
            tier,
            created_at=campaign["created_at"],
            action={"discount": discount},
            metadata={},
            hierarchy=1,
            campaign={
                "id": campaign["id"],
                "start_date": None,
                "expiration_date": None,
                "active": True,
                "object": "campaign",
            },
            active=True,
            validation_rule_assignments=None,
            category_id=None,
            categories=[],
            updated_at=iso_ms(rng.randint(0, DAY) + now_ms - 2 * DAY),
        )

    return world.memo(("promotion-tier", slot), make)


def slug(text: str) -> str:
    return "".join(ch if ch.isalnum() else "-" for ch in text).strip("-")


def token(rng: random.Random, width: int) -> str:
    """Random alphanumerics: the tail of an id that need not be unique by itself."""
    return alnum_tail(rng, width)


def earning_rules(world: World, program_slot: int, now_ms: int) -> list[Entity]:
    """A loyalty program's earning rules: points per amount spent on a paid order, and
    a fixed number for joining a segment."""

    def make() -> list[Entity]:
        campaign = program(world, "loyalty", program_slot, now_ms)
        rng = _rng(world, "earning-rules", program_slot)
        created = iso_ms(programs_created(campaign) + rng.randint(1000, DAY))
        every = round(rng.choice((100, 500, 1000)) * world.market.price_factor)
        rules = []
        for n, (event, banner, loyalty) in enumerate(
            (
                (
                    "order.paid",
                    "Points for every order",
                    {
                        "type": "PROPORTIONAL",
                        "calculation_type": "ORDER_TOTAL_AMOUNT",
                        "order": {
                            "total_amount": {"every": every, "points": rng.choice((1, 5, 10))}
                        },
                    },
                ),
                ("customer.segment.entered", "Welcome points", {"type": "FIXED", "points": 100}),
            )
        ):
            rules.append(
                Entity(
                    id=world.ids.alnum("ern_", program_slot << 4 | n, rng),
                    created_at=created,
                    updated_at=None,
                    validation_rule_id=None,
                    loyalty=loyalty,
                    event=event,
                    source={
                        "banner": banner,
                        "object_id": campaign["id"],
                        "object_type": "campaign",
                    },
                    active=True,
                    automation_id=world.ids.alnum("auto_", program_slot << 4 | n, rng),
                    metadata={},
                    campaign_id=campaign["id"],
                    parameters={"event": event, "banner": banner, "loyalty": loyalty},
                )
            )
        return rules

    return world.memo(("earning-rules", program_slot), make)


_REWARDS = (("Free shipping", 200), ("10% off coupon", 500), ("Tote bag", 1000))


def rewards(world: World, program_slot: int, now_ms: int) -> list[Entity]:
    """A loyalty program's rewards and what each costs in points (its assignment)."""

    def make() -> list[Entity]:
        campaign = program(world, "loyalty", program_slot, now_ms)
        rng = _rng(world, "rewards", program_slot)
        created = programs_created(campaign) + rng.randint(1000, DAY)
        found = []
        for n, (name, points) in enumerate(_REWARDS):
            material = name == "Tote bag"
            product = world.product(rng.randrange(240)) if material else None
            reward = Entity(
                id=world.ids.alnum("rew_", program_slot << 4 | n, rng),
                name=name,
                type="MATERIAL" if material else "CAMPAIGN",
                created_at=iso_ms(created),
                updated_at=None,
                parameters=(
                    {"product": {"id": product["id"], "sku_id": product["sku_id"]}}
                    if product
                    else {"campaign": {"id": campaign["id"], "type": "DISCOUNT_COUPONS"}}
                ),
                product=(
                    {key: product[key] for key in ("id", "source_id", "name")} if product else None
                ),
                assignment=Entity(
                    id=world.ids.alnum("rewa_", program_slot << 4 | n, rng),
                    reward_id=None,
                    related_object_id=campaign["id"],
                    related_object_type="campaign",
                    parameters={"loyalty": {"points": points}},
                    created_at=iso_ms(created + 60_000),
                    updated_at=None,
                ),
            )
            reward["assignment"]["reward_id"] = reward["id"]
            reward["assignment_id"] = reward["assignment"]["id"]
            found.append(reward)
        return found

    return world.memo(("rewards", program_slot), make)


def programs_created(campaign: dict) -> int:
    """When a program's campaign was created, in epoch milliseconds."""
    return parse_instant(campaign["created_at"])

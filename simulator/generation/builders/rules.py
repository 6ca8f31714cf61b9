"""bus_val_rule.*: business validation rules created, updated, deleted, and assigned to
(or taken off) a campaign, a voucher, a promotion tier or an earning rule.

The run has a few rules, each built once: a minimum order, a customer segment, a
basket size, products the discount applies to. A marketer edits them in the dashboard.
"""

from __future__ import annotations

import random

from simulator.generation import cards, programs
from simulator.generation.builders.spec import EventSpec
from simulator.generation.builders.vouchers import campaign_of
from simulator.generation.values import Entity, below, between, format_money, iso_ms
from simulator.generation.world import CAMPAIGN_SLOTS, PRODUCT_SLOTS, World
from simulator.seeds import derive_seed

_CONTEXTS = (
    "global",
    "campaign.discount_coupons",
    "campaign.promotion",
    "campaign.discount_coupons.discount.percent.apply_to_items",
)
# What the spec lets a rule be assigned to (BusValRuleAssignment.related_object_type).
_TARGETS = ("campaign", "voucher", "earning_rule")


def rule(world: World, slot: int, now_ms: int) -> dict:
    """Validation rule `slot` of the run (programs.RULE_SLOTS of them)."""

    def make() -> dict:
        rng = random.Random(derive_seed(world.seed, "rule", slot))
        created = programs.days_ago(rng, now_ms, 20, 200)
        minimum = round(rng.choice((2500, 5000, 9900)) * world.market.price_factor)
        over = f"Orders over {format_money(minimum, world.market.currency)}"
        conditions = (
            ("order.amount", {"$more_than": [minimum]}, over),
            (
                "customer.segment",
                {"$is": [programs.segment(world, slot)["id"]]},
                f"{programs.segment(world, slot)['name']} only",
            ),
            ("order.items.count", {"$more_than": [rng.randint(1, 3)]}, "Minimum basket"),
        )
        name, condition, title = conditions[slot % len(conditions)]
        included = []
        if slot % 2:
            product = world.product(below(rng, PRODUCT_SLOTS))
            included.append(
                {
                    "id": product["id"],
                    "effect": "APPLY_TO_EVERY",
                    "object": "product",
                    "strict": False,
                }
            )
        found = {
            "id": "val_" + programs.token(rng, 12),
            "name": title,
            "type": "expression",
            "error": {"message": f"{title}: this code does not apply"},
            "rules": {"1": {"name": name, "rules": {}, "conditions": condition}, "logic": "1"},
            "applicable_to": {"excluded": [], "included": included, "included_all": False},
            "context_type": _CONTEXTS[slot % len(_CONTEXTS)],
            "created_at": iso_ms(created),
            "updated_at": iso_ms(created + between(rng, 60_000, 5 * programs.DAY)),
        }
        return Entity(found)

    return world.memo(("rule", slot), make)


def rule_event(
    world: World, event: str, index: int, rng: random.Random, now_ms: int, spec: EventSpec
) -> dict:
    """Context for bus_val_rule.{created,updated,deleted}."""
    found = rule(world, below(rng, programs.RULE_SLOTS), now_ms)
    if event.endswith(".created"):
        found = {
            **found,
            "id": "val_" + programs.token(rng, 12),
            "created_at": iso_ms(now_ms - between(rng, 50, 2000)),
        }
        del found["updated_at"]
    else:
        found = {**found, "updated_at": iso_ms(now_ms - between(rng, 5, 900))}
    return {"rule": found, "entity_id": found["id"], "event_source": world.portal_user}


def assignment_event(
    world: World, event: str, index: int, rng: random.Random, now_ms: int, spec: EventSpec
) -> dict:
    """Context for bus_val_rule.assignment.{created,deleted}: the rule, the assignment and
    what it is assigned to (with its campaign)."""
    found = rule(world, below(rng, programs.RULE_SLOTS), now_ms)
    target = _TARGETS[below(rng, len(_TARGETS))]
    context: dict = {
        "rule": found,
        "voucher": None,
        "distribution": None,
        "earning_rule": None,
        "promotion_tier": None,
    }
    slot = below(rng, CAMPAIGN_SLOTS)
    if target == "voucher":
        voucher = cards.any_coupon(world, rng, now_ms)
        context["voucher"] = voucher
        context["campaign"] = campaign_of(world, voucher, now_ms)
        related = voucher["id"]
    elif target == "earning_rule":
        program = below(rng, programs.LOYALTY_SLOTS)
        earning = programs.earning_rules(world, program, now_ms)[0]
        context["earning_rule"] = earning
        context["campaign"] = programs.program(world, "loyalty", program, now_ms)
        related = earning["id"]
    else:
        context["campaign"] = world.campaign("coupons", slot, now_ms)
        related = context["campaign"]["id"]
    created = now_ms - between(rng, 50, 2000)
    if event.endswith(".deleted"):
        created = now_ms - between(rng, 1, 60) * programs.DAY
    assignment = {
        "id": "asgm_" + programs.token(rng, 16),
        "rule_id": found["id"],
        "related_object_id": related,
        "related_object_type": target,
        "created_at": iso_ms(created),
    }
    if event.endswith(".deleted"):
        assignment["updated_at"] = iso_ms(now_ms - between(rng, 5, 900))
    context.update(
        assignment=assignment, entity_id=assignment["id"], event_source=world.portal_user
    )
    return context

"""customer.order.*: orders, their lines, discounts, redemptions and publications (FACTS.md)."""

from __future__ import annotations

import random

from simulator.generation import cards
from simulator.generation.builders.spec import SCENARIOS, EventSpec
from simulator.generation.values import below, between, iso_ms, weighted
from simulator.generation.world import (
    CAMPAIGN_SLOTS,
    CUSTOMER_SLOTS,
    PRODUCT_SLOTS,
    SHIPPING,
    World,
)

# How often "mixed" draws each distribution purpose (cumulative weights).
_MIXED_WEIGHTS = (0.4, 0.7, 1.0)

ORDER_STATUS = {
    "customer.order.created": "CREATED",
    "customer.order.paid": "PAID",
    "customer.order.canceled": "CANCELED",
}
# customer.order.updated fires on any change, so any status is possible.
_UPDATED_STATUSES = ("CREATED", "PAID", "FULFILLED", "CANCELED")
_CARDS = ("Visa", "Mastercard", "Amex", "PayPal", "Other")
_LINES = (1, 2, 3, 4)
_LINES_WEIGHTS = (0.45, 0.75, 0.9, 1.0)  # cumulative: 1 line 45 %, 2 lines 30 %, …
_QUANTITIES = (1, 2, 3, 4)
_QUANTITY_WEIGHTS = (0.6, 0.85, 0.95, 1.0)
_MINUTE = 60_000
_DAY = 86_400_000


def order_event(
    world: World, event: str, index: int, rng: random.Random, now_ms: int, spec: EventSpec
) -> dict:
    """Context for customer.order.{created,updated,paid,canceled} (FACTS.md rules)."""
    scenario = spec.scenario
    if scenario == "mixed":
        scenario = weighted(rng, SCENARIOS, _MIXED_WEIGHTS)
    customer = world.customer(below(rng, CUSTOMER_SLOTS))
    referrer = None
    if rng.random() < spec.referrer_rate:
        referrer = world.customer(below(rng, CUSTOMER_SLOTS))
        if referrer["id"] == customer["id"]:
            referrer = None

    status = ORDER_STATUS.get(event) or _UPDATED_STATUSES[below(rng, 4)]
    if event == "customer.order.created":
        created, updated = now_ms - between(rng, 5, 1500), None
    else:
        created = now_ms - between(rng, _MINUTE, 3 * _DAY)
        updated = max(created + 1, now_ms - between(rng, 5, 1500))

    order = _order(world, index, rng, created, updated, status)
    context = {
        "customer": customer,
        "referrer": referrer,
        "order": order,
        "redemption": None,
        "campaign": None,
        "promotion_tier": None,
        "voucher": None,
    }
    if scenario == "promotion":
        campaign = world.campaign("promotion", below(rng, CAMPAIGN_SLOTS), now_ms)
        context["campaign"] = campaign
        context["promotion_tier"] = campaign["tier"]
    elif scenario == "send-code":
        campaign = world.campaign("coupons", below(rng, CAMPAIGN_SLOTS), now_ms)
        context["campaign"] = campaign
        context["voucher"] = _published_voucher(world, index, rng, campaign, now_ms)

    if rng.random() < spec.redemption_rate:
        # A promotion distribution's own tier is what the order most likely redeemed.
        offer = context["campaign"] if scenario == "promotion" else None
        context["redemption"] = _redeem(world, index, rng, order, offer, created, now_ms)
    return context


def _order(
    world: World, index: int, rng: random.Random, created: int, updated: int | None, status: str
) -> dict:
    lines = weighted(rng, _LINES, _LINES_WEIGHTS)
    slots: list[int] = []
    while len(slots) < lines:  # distinct products: an order lists each product once
        slot = below(rng, PRODUCT_SLOTS)
        if slot not in slots:
            slots.append(slot)
    products = [world.product(slot) for slot in slots]
    if rng.random() < 0.3:
        products.append(SHIPPING)
    # Line ids appear once an order has been stored and touched again.
    with_ids = updated is not None
    items = []
    for j, product in enumerate(products):
        quantity = 1 if product is SHIPPING else weighted(rng, _QUANTITIES, _QUANTITY_WEIGHTS)
        line = world.line(product, quantity)
        if with_ids:
            line = {**line, "id": world.ids.hex("ordli_", index << 4 | j, rng)}
        items.append(line)
    amount = sum(item["amount"] for item in items)
    metadata = {"card": [_CARDS[below(rng, len(_CARDS))]], "region": world.market.order_region,
                "currency": world.market.currency}  # fmt: skip
    if rng.random() < 0.3:
        metadata["channel"] = ("web", "mobile", "pos")[below(rng, 3)]
    return {
        "id": world.ids.alnum("ord_", index, rng),
        # Half the shops send their own order number; the docs example sends none.
        "source_id": f"ORD-{100000 + index}" if rng.random() < 0.5 else None,
        "created_at": iso_ms(created),
        "updated_at": None if updated is None else iso_ms(updated),
        "status": status,
        "amount": amount,
        "discounted": False,
        "discount_amount": 0,
        "items_discount_amount": 0,
        "total_discount_amount": 0,
        "total_amount": amount,
        "items": items,
        "metadata": metadata,
    }


def _published_voucher(
    world: World, index: int, rng: random.Random, campaign: dict, now_ms: int
) -> dict:
    # Generated as the distribution publishes it (the campaign is AUTO_UPDATE).
    voucher = cards.event_voucher(world, campaign, index, cards.PUBLISHED, now_ms)
    return {
        "id": voucher["id"],
        "code": voucher["code"],
        "created_at": iso_ms(now_ms - between(rng, 1, 400)),
        "publication_id": world.ids.alnum("pub_", index, rng, length=32),
    }


def _redeem(
    world: World,
    index: int,
    rng: random.Random,
    order: dict,
    offer: dict | None,
    created: int,
    now_ms: int,
) -> dict:
    """Apply one discount to the order and return the redemption that granted it."""
    if offer is None:
        offer = world.campaign("coupons", below(rng, CAMPAIGN_SLOTS), now_ms)
    discount = offer["discount"]
    items = order["items"]
    goods = [j for j, item in enumerate(items) if item["amount"] > 0]
    if discount["effect"] == "APPLY_TO_ITEMS" and goods:
        j = max(goods, key=lambda k: items[k]["amount"])
        off = _discount_of(discount, items[j]["amount"])
        # Lines may be shared between orders (World.line): replace, never modify.
        items[j] = {**items[j], "discount_amount": off, "subtotal_amount": items[j]["amount"] - off}
        order["items_discount_amount"] = off
    else:
        order["discount_amount"] = _discount_of(discount, order["amount"])
    order["discounted"] = True
    total = order["discount_amount"] + order["items_discount_amount"]
    order["total_discount_amount"] = total
    order["total_amount"] = order["amount"] - total

    is_voucher = offer["kind"] != "promotion"
    redemption = {
        "id": world.ids.hex("r_", index, rng),
        "date": iso_ms(min(now_ms, created + between(rng, 1, 900))),
        "channel_id": world.app_id,
        "related_object_type": "voucher" if is_voucher else "promotion_tier",
        "related_object_parent_id": offer["id"],
        "campaign": offer,
        "code": None,
    }
    if is_voucher:
        voucher = cards.event_voucher(world, offer, index, cards.REDEEMED, created)
        redemption["related_object_id"], redemption["code"] = voucher["id"], voucher["code"]
        redemption["voucher_created_at"] = voucher["created_at"]
    else:
        redemption["related_object_id"] = offer["tier"]["id"]
    return redemption


def _discount_of(discount: dict, base: int) -> int:
    if discount["type"] == "PERCENT":
        return base * discount["percent_off"] // 100
    return min(base, discount["amount_off"])


def simple_order(
    world: World,
    index: int,
    rng: random.Random,
    customer: dict,
    created: int,
    now_ms: int,
    status: str = "PAID",
    offer: dict | None = None,
) -> tuple[dict, dict | None]:
    """(order, redemption): an order as SimpleOrder shows it, with amounts as FACTS.md
    has them, and, given an `offer` (a campaign), the redemption of its discount."""
    order = _order(world, index, rng, created, max(created + 1, now_ms - 1000), status)
    redemption = _redeem(world, index, rng, order, offer, created, now_ms) if offer else None
    items = []
    for item in order["items"]:
        line = {"object": "order_item", "product_id": item["product"]["id"]}
        if item["product"]["sku_id"]:
            line["sku_id"] = item["product"]["sku_id"]
        line.update(quantity=item["quantity"], amount=item["amount"], price=item["price"])
        if item["discount_amount"]:
            line["discount_amount"] = line["applied_discount_amount"] = item["discount_amount"]
        line["subtotal_amount"] = item["subtotal_amount"]
        items.append(line)
    simple = {
        "id": order["id"],
        "source_id": order["source_id"],
        "status": status,
        "customer_id": customer["id"],
        "referrer_id": None,
        "amount": order["amount"],
    }
    if order["discounted"]:
        for key in ("discount_amount", "items_discount_amount", "total_discount_amount"):
            if order[key]:
                simple[key] = simple[key.replace("discount", "applied_discount")] = order[key]
    simple.update(total_amount=order["total_amount"], items=items, metadata=order["metadata"],
                  created_at=order["created_at"])  # fmt: skip
    return simple, redemption


# -- order lifecycles (generation/lifecycle.py) ---------------------------------------

_STEP_GAP = (_MINUTE, 6 * 60 * _MINUTE)  # between two events of one order


def lifecycle_event(
    world: World,
    steps: tuple[tuple[str, ...], ...],
    chain: int,
    step: int,
    rng: random.Random,
    now_ms: int,
    spec: EventSpec,
) -> tuple[str, dict, int]:
    """(event, context, event time) of step `step` of order chain `chain`.

    `rng` is seeded by the chain alone, so every step draws the same order, customer,
    lines and discount; only the status, updated_at and line ids (once the order has
    been touched again) move on. Steps are apart by 1 minute to 6 hours and the last one
    happens at `now_ms`, so every step's time is later than the one before.
    """
    path = [alternatives[below(rng, len(alternatives))] for alternatives in steps]
    offsets = [0]
    for _ in steps[1:]:
        offsets.append(offsets[-1] + between(rng, *_STEP_GAP))
    base = now_ms - offsets[-1]
    context = order_event(world, "customer.order.created", chain, rng, base, spec)
    status = "CREATED"
    for name in path[: step + 1]:
        status = ORDER_STATUS.get(name, status)  # an update keeps the status it finds
    event, at = path[step], base + offsets[step]
    order = {**context["order"], "status": status}
    if event != "customer.order.created":
        order["updated_at"] = iso_ms(at)
        order["items"] = [
            {**line, "id": world.ids.hex("ordli_", chain << 4 | j, rng)}
            for j, line in enumerate(order["items"])
        ]
    context["order"] = order
    return event, context, at

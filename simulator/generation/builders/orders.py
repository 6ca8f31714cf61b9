"""customer.order.*: orders, their lines, discounts, redemptions and publications (FACTS.md)."""

from __future__ import annotations

import random
from typing import Any

from simulator.generation import cards, discounts
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
# How often an order with a redemption stacks more redeemables on it (1 or 2 more).
_STACKED = 0.2
# Shops ship for free above this many catalogue units of goods; below it, a quarter do.
_FREE_SHIPPING_FROM = 10000
_SHIPPING_FEES = (499, 699, 999)


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
    # Causal time: the order is stored (created_at) and redeemed at checkout, the change
    # that fires the event (updated_at) follows, then the event (event.created_at), then
    # the sendout (the envelope's created_at, `now_ms`).
    event_at = now_ms - between(rng, 1, 40)
    if event == "customer.order.created":
        created, updated = event_at - between(rng, 5, 1500), None
    else:
        created = event_at - between(rng, _MINUTE, 3 * _DAY)
        updated = event_at - between(rng, 0, 1500)

    order = _order(world, index, rng, created, updated, status)
    context: dict[str, Any] = {
        "customer": customer,
        "referrer": referrer,
        "order": order,
        "redemption": None,
        "campaign": None,
        "promotion_tier": None,
        "voucher": None,
        "event_at": event_at,
    }
    if scenario == "promotion":
        campaign = world.campaign("promotion", below(rng, CAMPAIGN_SLOTS), now_ms)
        context["campaign"] = campaign
        context["promotion_tier"] = campaign["tier"]
    elif scenario == "send-code":
        campaign = world.campaign("coupons", below(rng, CAMPAIGN_SLOTS), now_ms)
        context["campaign"] = campaign
        # The distribution publishes when the order event fires: after the order's change.
        trigger = created if updated is None else updated
        context["voucher"] = _published_voucher(world, index, rng, campaign, trigger, now_ms)

    if rng.random() < spec.redemption_rate:
        # A promotion distribution's own tier is what the order most likely redeemed.
        offer = context["campaign"] if scenario == "promotion" else None
        context["redemption"] = _redeem(
            world, index, rng, order, offer, created, now_ms, until=event_at
        )
        if context["redemption"] and status == "CANCELED" and updated is not None:
            rollback_id = world.ids.hex("rr_", index, rng)
            context["redemption"] = _rolled_back(
                context["redemption"], rollback_id, updated - between(rng, 1, 100)
            )
    return context


def _rolled_back(redemption: dict, rollback_id: str, at: int) -> dict:
    """The redemption of a canceled order, rolled back at `at`, just before the order's
    update. The docs neither say that canceling an order rolls its redemption back nor
    the reverse; what they show is the other way round: a rollback (mode WITH_ORDER, the
    default) cancels the order, and the official customer.redemption.rollback.succeeded
    example has the order CANCELED, updated milliseconds after the rollback's date. So a
    canceled order that was redeemed is one whose redemption was rolled back: its
    `order.redemptions` entry gains the spec's `rollback_id` and `rollback_date`
    (OrderRedemptions). The redemption object itself keeps status SUCCEEDED and the
    order its amounts, as in that official example (whose canceled order still shows
    the redemption SUCCEEDED)."""
    return {**redemption, "rollback_id": rollback_id, "rollback_date": iso_ms(at)}


def _order(
    world: World,
    index: int,
    rng: random.Random,
    created: int,
    updated: int | None,
    status: str,
    paid_shipping: bool = False,
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
    items: list[dict] = []
    amount = 0
    for j, product in enumerate(products):
        if product is SHIPPING:  # the last line: `amount` is what the goods cost
            line = _shipping(world, rng, amount, paid_shipping)
        else:
            line = world.line(product, weighted(rng, _QUANTITIES, _QUANTITY_WEIGHTS))
        if with_ids:
            line = {**line, "id": world.ids.hex("ordli_", index << 4 | j, rng)}
        items.append(line)
        amount += line["amount"]
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


def _shipping(world: World, rng: random.Random, goods: int, paid: bool = False) -> dict:
    """The shipping line: free above a basket size or at some shops, else a fee."""
    factor = world.market.price_factor
    if not paid and (goods >= _FREE_SHIPPING_FROM * factor or rng.random() < 0.25):
        return world.line(SHIPPING, 1)
    return world.line(SHIPPING, 1, shipping_fee(world, rng))


def shipping_fee(world: World, rng: random.Random) -> int:
    return discounts.money(_SHIPPING_FEES[below(rng, len(_SHIPPING_FEES))], world.market)


def _published_voucher(
    world: World, index: int, rng: random.Random, campaign: dict, trigger: int, now_ms: int
) -> dict:
    # Generated as the distribution publishes it (the campaign is AUTO_UPDATE).
    voucher = cards.event_voucher(world, campaign, index, cards.PUBLISHED, now_ms)
    return {
        "id": voucher["id"],
        "code": voucher["code"],
        "created_at": iso_ms(trigger + between(rng, 1, max(1, now_ms - trigger))),
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
    stack: bool = True,
    until: int | None = None,
) -> dict | None:
    """Apply the offer's discount, and sometimes more stacked on it, to the order; return
    the redemption that granted them (None when none took anything off), dated at
    checkout: after `created`, by `until` (the event's time; else `now_ms`).

    Stacked redeemables make one parent redemption: the order's `redemptions` holds it
    with its children's ids under `stacked`, and it is the event's `redemption`.
    """
    latest = now_ms if until is None else until
    if offer is None:
        offer = world.campaign("coupons", below(rng, CAMPAIGN_SLOTS), now_ms)
    offers = [offer]
    if stack and rng.random() < _STACKED:
        for _ in range(between(rng, 1, 2)):
            kind = "promotion" if rng.random() < 0.5 else "coupons"
            more = world.campaign(kind, below(rng, CAMPAIGN_SLOTS), now_ms)
            if all(more["id"] != other["id"] for other in offers):
                offers.append(more)

    def line(product_id: str, quantity: int) -> dict:
        if product_id == discounts.SHIPPING_ID:
            added = world.line(SHIPPING, quantity, shipping_fee(world, rng))
        else:
            added = world.line(world.product_by_id(product_id), quantity)
        if order["updated_at"] is not None:  # lines of a stored order have ids
            added = {**added, "id": world.ids.hex("ordli_", index << 4 | len(order["items"]), rng)}
        return added

    order["items"] = list(order["items"])  # never the caller's list
    applied = []
    for k, offer in enumerate(offers):
        if discounts.apply(order, offer["discount"], line):
            applied.append((k, offer))
        discounts.settle(order)
    if not applied:
        return None

    date = iso_ms(created + between(rng, 1, max(1, min(900, latest - created))))
    children = [_child(world, index, k, rng, offer, date, created) for k, offer in applied]
    if len(children) == 1:
        return children[0]
    return {
        "id": world.ids.hex("r_", index | 7 << 56, rng),  # children have 0..2 there
        "date": date,
        "channel_id": world.app_id,
        "related_object_type": "redemption",
        "stacked": [child["id"] for child in children],
    }


def _child(
    world: World, index: int, k: int, rng: random.Random, offer: dict, date: str, created: int
) -> dict:
    """The redemption of one voucher or promotion tier, the `k`th stacked on event `index`'s
    order (created at `created`)."""
    is_voucher = offer["kind"] != "promotion"
    redemption = {
        "id": world.ids.hex("r_", index | k << 56, rng),
        "date": date,
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
    # A redemption event shows one voucher or tier, which takes something off: shipping
    # is paid, so free shipping has something to take.
    updated = max(created + 1, now_ms - 1000)
    order = _order(world, index, rng, created, updated, status, paid_shipping=offer is not None)
    redemption = None
    if offer:
        redemption = _redeem(world, index, rng, order, offer, created, now_ms, stack=False)
    items = []
    for item in order["items"]:
        line = {"object": "order_item", "product_id": item["product"]["id"]}
        if item["product"]["sku_id"]:
            line["sku_id"] = item["product"]["sku_id"]
        if "source_id" in item:
            line.update(source_id=item["source_id"], related_object=item["related_object"])
        line["quantity"] = item["quantity"]
        if item["discount_quantity"]:
            line["discount_quantity"] = item["discount_quantity"]
        line.update(amount=item["amount"], price=item["price"])
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
    rollback_id = world.ids.hex("rr_", chain, rng)  # drawn by every step: ids stay put
    status = "CREATED"
    for name in path[: step + 1]:
        status = ORDER_STATUS.get(name, status)  # an update keeps the status it finds
    event, at = path[step], base + offsets[step]
    order = {**context["order"], "status": status}
    if event != "customer.order.created":
        # The step's change, then its event, then the sendout at `at` (order_event's order).
        context["event_at"] = at - between(rng, 1, 40)
        order["updated_at"] = iso_ms(context["event_at"] - between(rng, 0, 1500))
        order["items"] = [
            {**line, "id": world.ids.hex("ordli_", chain << 4 | j, rng)}
            for j, line in enumerate(order["items"])
        ]
    context["order"] = order
    if status == "CANCELED" and context["redemption"] is not None:
        # Rolled back when the order was canceled: before that step's change, which
        # follows its sendout time by at most 1540 ms (above).
        canceled = base + offsets[path.index("customer.order.canceled")] - 1541
        context["redemption"] = _rolled_back(context["redemption"], rollback_id, canceled)
    return event, context, at

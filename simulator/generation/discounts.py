"""Voucherify's discount model: the discount a campaign grants, and what it does to an order.

Kinds, as the spec's Discount* schemas and the official examples have them:
- AMOUNT and PERCENT, off the order (APPLY_TO_ORDER) or off every line of goods
  (APPLY_TO_ITEMS), so an item discount can fall on several lines;
- FIXED on items: each unit of a line costs `fixed_amount` (lines dearer than that);
- UNIT: `unit_off` units of `unit_type` for free. ADD_NEW_ITEMS adds them to the order
  (the official redemption.succeeded example: a second mug, quantity 2,
  discount_quantity 1); ADD_MISSING_ITEMS discounts units the order has and adds the
  ones it lacks. Free shipping is a UNIT discount of the shipping product.

Several redeemables can stack on one order: each applies to what the ones before left
(FACTS.md; the API's "Redeem Stackable Discounts": discount_amount = previous discount
+ applied discount). One that would take nothing off is skipped, as under the
stacking rule `redeemables_no_effect_rule: SKIP`.

Rounding: a percent discount is rounded to the nearest minor unit, halves up. The
official customer.redemption.succeeded example takes 10 % of 11499 as 1150 (not 1149),
and Voucherify's SDK helpers round the same way (voucherify-python-sdk
utils.round_money: round(value, 2); the Java SDK: setScale(2, HALF_UP)).
"""

from __future__ import annotations

import random
from collections.abc import Callable

from simulator.generation.values import Market, format_money

SHIPPING_ID = "prod_5h1pp1ng"
_PERCENTS = (5, 10, 15, 20, 25, 30)
_AMOUNTS = (500, 1000, 1500, 2000)
# Below every catalogue price (the cheapest item starts at 600): a fixed price always
# takes something off a fresh line.
_FIXED = (299, 399, 499)


def percent_of(base: int, percent: int) -> int:
    """`percent` % of `base` minor units, to the nearest unit, halves up."""
    return (base * percent + 50) // 100


def money(units: int, market: Market) -> int:
    """`units` catalogue units in the market's minor units (whole hundreds of yen)."""
    amount = round(units * market.price_factor)
    return max(100, round(amount / 100) * 100) if market.currency == "JPY" else amount


def draw(rng: random.Random, market: Market, product: Callable[[], dict]) -> tuple[dict, str]:
    """(discount, what a shopper reads about it): a campaign's discount, of every kind.

    `product` gives the product a UNIT discount grants (drawn from the same `rng`).
    """
    roll = rng.random()
    effect = "APPLY_TO_ITEMS" if rng.random() < 0.4 else "APPLY_TO_ORDER"
    where = "selected items" if effect == "APPLY_TO_ITEMS" else "your order"
    currency = market.currency
    if roll < 0.45:
        percent = _PERCENTS[int(rng.random() * len(_PERCENTS))]
        discount: dict = {"type": "PERCENT", "percent_off": percent, "effect": effect}
        if effect == "APPLY_TO_ORDER" and rng.random() < 0.3:
            discount["amount_limit"] = money(3000, market)  # as the official examples
        return discount, f"{percent}% off {where}"
    if roll < 0.7:
        amount = money(_AMOUNTS[int(rng.random() * len(_AMOUNTS))], market)
        text = f"{format_money(amount, currency)} off {where}"
        return {"type": "AMOUNT", "amount_off": amount, "effect": effect}, text
    if roll < 0.8:
        fixed = money(_FIXED[int(rng.random() * len(_FIXED))], market)
        text = f"Selected items for {format_money(fixed, currency)}"
        return {"type": "FIXED", "fixed_amount": fixed, "effect": "APPLY_TO_ITEMS"}, text
    if roll < 0.9:
        free = {
            "type": "UNIT",
            "unit_off": 1,
            "unit_type": SHIPPING_ID,
            "effect": "ADD_MISSING_ITEMS",
        }
        return free, "Free shipping"
    gift = product()
    effect = "ADD_NEW_ITEMS" if rng.random() < 0.7 else "ADD_MISSING_ITEMS"
    discount = {"type": "UNIT", "unit_off": 1, "unit_type": gift["id"], "effect": effect}
    return discount, f"Free {gift['name']}"


def apply(order: dict, discount: dict, line: Callable[[str, int], dict]) -> int:
    """Apply `discount` to `order` after the discounts already on it; the amount it took.

    Lines may be shared between orders (World.line): they are replaced, never changed.
    `line(product_id, quantity)` gives a fresh, undiscounted line (UNIT discounts add
    them). The order's amount and totals are left to `settle`.
    """
    items = order["items"]
    kind = discount["type"]
    # What the order still costs: no discount takes more (an order-level one before
    # this may have taken part of what the lines cost).
    left = order["amount"] - order["discount_amount"] - order["items_discount_amount"]
    if kind == "UNIT":
        return _units(items, discount, line, left)
    if discount["effect"] == "APPLY_TO_ORDER":
        if kind == "PERCENT":
            off = percent_of(left, discount["percent_off"])
            off = min(off, discount.get("amount_limit", off))
        else:
            off = min(left, discount["amount_off"])
        order["discount_amount"] += off
        return off
    taken = 0
    for j, item in enumerate(items):
        if item["product"]["id"] == SHIPPING_ID:
            continue
        line_left = item["subtotal_amount"]
        if kind == "PERCENT":
            off = percent_of(line_left, discount["percent_off"])
        elif kind == "AMOUNT":
            off = min(line_left, discount["amount_off"])
        else:  # FIXED: every unit of the line at the fixed price
            off = max(0, line_left - discount["fixed_amount"] * item["quantity"])
        off = min(off, left - taken)
        if off:
            items[j] = _discounted(item, off)
            taken += off
    return taken


def _units(items: list, discount: dict, line: Callable[[str, int], dict], left: int) -> int:
    product_id, units = discount["unit_type"], discount["unit_off"]
    j = next((k for k, item in enumerate(items) if item["product"]["id"] == product_id), None)
    if j is None:  # missing or new: the free units come as a line of their own
        items.append(line(product_id, units))
        j = len(items) - 1
        left += items[j]["amount"]
    elif discount["effect"] == "ADD_NEW_ITEMS":
        item = items[j]
        added = item["price"] * units
        left += added
        items[j] = {**item, "quantity": item["quantity"] + units,
                    "amount": item["amount"] + added,
                    "subtotal_amount": item["subtotal_amount"] + added}  # fmt: skip
    item = items[j]
    free = min(units, item["quantity"] - item["discount_quantity"])
    off = min(free * item["price"], item["subtotal_amount"], left)
    if off:
        items[j] = _discounted(item, off, free)
    return off


def _discounted(item: dict, off: int, units: int = 0) -> dict:
    return {
        **item,
        "discount_amount": item["discount_amount"] + off,
        "discount_quantity": item["discount_quantity"] + units,
        "subtotal_amount": item["subtotal_amount"] - off,
    }


def settle(order: dict) -> None:
    """The order's amount and totals from its lines and its order-level discount."""
    items = order["items"]
    order["amount"] = sum(item["amount"] for item in items)
    order["items_discount_amount"] = sum(item["discount_amount"] for item in items)
    total = order["discount_amount"] + order["items_discount_amount"]
    order["total_discount_amount"] = total
    order["total_amount"] = order["amount"] - total
    order["discounted"] = total > 0

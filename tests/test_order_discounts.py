"""customer.order.* show Voucherify's whole discount model: stacked redemptions, unit
discounts that add an item, fixed prices, item discounts on several lines, paid and
free shipping, percent discounts rounded to the nearest minor unit; and every amount
still adds up as FACTS.md says. Checked over 10,000 payloads in four locales."""

from __future__ import annotations

from collections import Counter
from functools import cache

from conftest import NOW, ORDER_EVENTS

from simulator.generation.payloads import generate

SHIPPING_ID = "prod_5h1pp1ng"

# A seed per locale: each run has its own 24 campaigns, so together they hold every kind.
RUNS = (("en_US", 21), ("de_DE", 22), ("ja_JP", 23), ("pt_BR", 24))


@cache
def _sample() -> tuple[dict, ...]:
    return tuple(p.data for locale, seed in RUNS for p in _run(locale, seed))


def _run(locale: str, seed: int):  # a Batch
    return generate(ORDER_EVENTS, count=2500, seed=seed, now=NOW, locale=locale, envelope="none")


def _redeemed() -> list[tuple[dict, dict, dict]]:
    """(data, order, redemption) of every redeemed order."""
    return [(d, d["order"], d["redemption"]) for d in _sample() if d["redemption"]]


def _single_voucher_discounts() -> list[tuple[dict, dict]]:
    """(order, discount) of orders that redeemed one voucher, whose discount shows."""
    return [
        (order, r["voucher"]["discount"])
        for _, order, r in _redeemed()
        if r["related_object_type"] == "voucher"
    ]


def test_every_amount_adds_up_as_facts_says() -> None:
    assert len(_sample()) >= 10_000
    for data in _sample():
        order = data["order"]
        for item in order["items"]:
            assert item["amount"] == item["price"] * item["quantity"]
            discount = item.get("discount_amount", 0)
            assert discount == item.get("applied_discount_amount", 0) >= 0
            assert item["subtotal_amount"] == item["amount"] - discount >= 0
            assert item.get("discount_quantity", 0) <= item["quantity"]
        items_discount = sum(item.get("discount_amount", 0) for item in order["items"])
        total = order.get("discount_amount", 0) + items_discount
        assert order["amount"] == sum(item["amount"] for item in order["items"])
        assert order.get("items_discount_amount", 0) == items_discount
        assert order.get("total_discount_amount", 0) == total
        assert order["total_amount"] == order["amount"] - total >= 0
        if data["redemption"]:
            assert order["applied_discount_amount"] == order["discount_amount"]
            assert order["items_applied_discount_amount"] == items_discount
            assert order["total_applied_discount_amount"] == total
            assert data["redemption"]["amount"] == total > 0


def test_several_vouchers_and_tiers_stack_on_one_order() -> None:
    stacked = Counter()
    for _, order, redemption in _redeemed():
        (entry,) = order["redemptions"].values()
        assert list(order["redemptions"]) == [redemption["id"]]
        if redemption["related_object_type"] != "redemption":
            assert "stacked" not in entry
            continue
        # The parent redemption: the order lists its children, the event shows it.
        assert entry["related_object_type"] == "redemption"
        assert entry["related_object_id"] == redemption["related_object_id"] == redemption["id"]
        children = entry["stacked"]
        assert 2 <= len(children) == len(set(children)) and redemption["id"] not in children
        assert all(child.startswith("r_") for child in children)
        assert "voucher" not in redemption and "promotion_tier" not in redemption
        stacked[len(children)] += 1
    assert stacked[2] > 100 and stacked[3] > 100, stacked


def test_a_unit_discount_adds_the_free_item() -> None:
    added = 0
    for order, discount in _single_voucher_discounts():
        if discount["type"] != "UNIT":
            continue
        (line,) = [i for i in order["items"] if i.get("discount_quantity")]
        assert line["discount_quantity"] == discount["unit_off"]
        assert line["discount_amount"] == line["price"] * discount["unit_off"] > 0
        if discount["effect"] == "ADD_NEW_ITEMS":
            added += 1
            # As the official redemption.succeeded example: the free unit is on the line.
            assert line["quantity"] >= discount["unit_off"]
            assert order["total_amount"] == order["amount"] - line["discount_amount"]
    assert added > 50


def test_a_fixed_price_sets_what_each_unit_costs() -> None:
    fixed = 0
    for order, discount in _single_voucher_discounts():
        if discount["type"] != "FIXED":
            continue
        fixed += 1
        price = discount["fixed_amount"]
        for item in order["items"]:
            if item["product_id"] != SHIPPING_ID:
                assert item["subtotal_amount"] == min(item["amount"], price * item["quantity"])
    assert fixed > 100


def test_item_discounts_fall_on_several_lines() -> None:
    several = sum(
        1
        for _, order, _ in _redeemed()
        if sum(1 for item in order["items"] if item.get("discount_amount")) >= 2
    )
    assert several > 500


def test_shipping_is_sometimes_paid_and_free_shipping_takes_its_fee() -> None:
    lines = Counter()
    for data in _sample():
        for item in data["order"]["items"]:
            if item["product_id"] == SHIPPING_ID:
                lines["paid" if item["price"] else "free"] += 1
    assert lines["paid"] > 1000 and lines["free"] > 1000, lines
    waived = 0
    for order, discount in _single_voucher_discounts():
        if discount["type"] == "UNIT" and discount["unit_type"] == SHIPPING_ID:
            (line,) = [i for i in order["items"] if i["product_id"] == SHIPPING_ID]
            assert line["price"] > 0 and line["subtotal_amount"] == 0
            waived += 1
    assert waived > 50


def test_percent_discounts_round_to_the_nearest_minor_unit() -> None:
    # As the official customer.redemption.succeeded example, where 10 % of 11499 is 1150.
    checked = Counter()
    for order, discount in _single_voucher_discounts():
        if discount["type"] != "PERCENT":
            continue
        percent = discount["percent_off"]
        if discount["effect"] == "APPLY_TO_ORDER":
            exact = order["amount"] * percent / 100
            nearest = int(exact + 0.5)
            expected = min(nearest, discount.get("amount_limit", nearest))
            assert order["discount_amount"] == expected
            checked["order"] += 1
            checked["rounded up"] += expected > int(exact)
        else:
            for item in order["items"]:
                if item["product_id"] != SHIPPING_ID:
                    assert item["discount_amount"] == int(item["amount"] * percent / 100 + 0.5)
                    checked["line"] += 1
    assert checked["order"] > 300 and checked["line"] > 200 and checked["rounded up"] > 50


def test_the_rounding_rule_matches_the_official_example() -> None:
    from simulator.generation.discounts import percent_of

    assert percent_of(11499, 10) == 1150  # customer.redemption.succeeded
    assert percent_of(11450, 1) == 115 and percent_of(11449, 1) == 114  # halves up

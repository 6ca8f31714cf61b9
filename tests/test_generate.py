"""Payload generation: official examples, determinism, uniqueness and FACTS.md invariants."""

from __future__ import annotations

import json
import re
import unicodedata
from collections import Counter

import pytest
from conftest import NOW, ORDER_EVENTS, VOUCHERIFY

from simulator.errors import OverrideError, UnknownEventError, UsageError
from simulator.generation.payloads import PayloadFactory, generate, render_context

TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
ID_SHAPES = {
    "cust_": r"cust_[A-Za-z0-9]{24}",
    "ord_": r"ord_[A-Za-z0-9]{24}",
    "camp_": r"camp_[A-Za-z0-9]{24}",
    "promo_": r"promo_[A-Za-z0-9]{24}",
    "v_": r"v_[A-Za-z0-9]{32}",
    "pub_": r"pub_[A-Za-z0-9]{32}",
    "prod_": r"prod_([0-9a-f]{18}|5h1pp1ng)",
    "ordli_": r"ordli_[0-9a-f]{18}",
    "r_": r"r_[0-9a-f]{18}",
    "whs_": r"whs_[0-9a-f]{18}",
    "evcus_": r"evcus_[0-9a-f]{18}",
    "distr_": r"distr_[A-Za-z0-9]{26}",
    "proj_": r"proj_[A-Za-z0-9]{8,12}",
    "v-": r"v-[0-9a-f]{18}",
}


# Every event's official example renders from its context fixture: tests/test_catalog.py.


def test_jack_webhook_buys_a_star_thermal_bottle() -> None:
    context = json.loads((VOUCHERIFY / "contexts" / "customer.order.created.json").read_text())
    data = json.loads(render_context("customer.order.created", context))
    assert data["customer"]["name"] == "Jack Webhook"
    assert data["order"]["items"][0]["product"] == {"name": "Star Thermal Bottle", "price": 2500}


@pytest.mark.parametrize("envelope", ["v2024", "v2018", "none"])
def test_seed_and_clock_make_output_byte_identical(envelope: str) -> None:
    def run() -> list[bytes]:
        payloads = generate(ORDER_EVENTS, count=300, seed=42, now=NOW, envelope=envelope)
        return [p.body for p in payloads]

    first = run()
    assert first == run()
    assert len(set(first)) == 300


def test_a_payload_depends_only_on_seed_and_index() -> None:
    # Workers build interleaved indexes: payload i must not depend on what came before.
    factory = PayloadFactory(ORDER_EVENTS, seed=3, now=NOW)
    in_order = [factory.build(i).body for i in range(40)]
    fresh = PayloadFactory(ORDER_EVENTS, seed=3, now=NOW)
    backwards = [fresh.build(i).body for i in reversed(range(40))]
    assert in_order == list(reversed(backwards))


def test_another_seed_gives_other_payloads() -> None:
    a = [p.body for p in generate(count=50, seed=1, now=NOW)]
    b = [p.body for p in generate(count=50, seed=2, now=NOW)]
    assert not set(a) & set(b)


def _ids(value: object, found: list[str]) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            if (key == "id" or key.endswith("_id")) and isinstance(item, str):
                found.append(item)
            _ids(item, found)
    elif isinstance(value, list):
        for item in value:
            _ids(item, found)


def test_ids_have_the_documented_shapes_and_per_event_ids_are_unique() -> None:
    per_event = Counter()
    shapes = Counter()
    for p in generate(ORDER_EVENTS, count=5000, seed=9, now=NOW):
        envelope = p.data
        data = envelope["data"]
        per_event.update(
            [
                envelope["id"],
                envelope["event"]["id"],
                envelope["event"]["group_id"],
                data["order"]["id"],
            ]
        )
        per_event.update(item["id"] for item in data["order"]["items"] if "id" in item)
        if data.get("voucher"):
            per_event.update(
                [data["voucher"]["id"], data["voucher"]["code"], data["publication"]["id"]]
            )
        if data["redemption"]:
            per_event[data["redemption"]["id"]] += 1
        found: list[str] = [envelope["project_id"], envelope["source"]["id"]]
        _ids(envelope, found)
        for value in found:
            prefix = next((pre for pre in ID_SHAPES if value.startswith(pre)), None)
            if prefix:
                assert re.fullmatch(ID_SHAPES[prefix], value), value
                shapes[prefix] += 1
    duplicates = [value for value, n in per_event.items() if n > 1]
    assert duplicates == []
    assert set(shapes) == set(ID_SHAPES), set(ID_SHAPES) - set(shapes)


def _check_order(envelope: dict, event: str) -> None:
    data = envelope["data"]
    order, customer = data["order"], data["customer"]
    items = order["items"]
    for item in items:
        assert item["amount"] == item["price"] * item["quantity"]
        assert item["subtotal_amount"] == item["amount"] - item.get("applied_discount_amount", 0)
        assert item.get("discount_amount", 0) == item.get("applied_discount_amount", 0)
        assert all(isinstance(item[k], int) for k in ("amount", "price", "quantity"))
    assert order["amount"] == sum(item["amount"] for item in items)
    items_discount = sum(item.get("discount_amount", 0) for item in items)
    total_discount = order.get("total_discount_amount", 0)
    assert order.get("items_discount_amount", 0) == items_discount
    assert total_discount == order.get("discount_amount", 0) + items_discount
    assert order["total_amount"] == order["amount"] - total_discount >= 0
    if "discount_amount" in order:
        assert order["applied_discount_amount"] == order["discount_amount"]
        assert order["items_applied_discount_amount"] == order["items_discount_amount"]
        assert order["total_applied_discount_amount"] == total_discount
    if data["redemption"]:
        assert data["redemption"]["amount"] == total_discount > 0
        assert list(order["redemptions"]) == [data["redemption"]["id"]]
    else:
        assert "discount_amount" not in order and "redemptions" not in order

    cid = customer["id"]
    assert order["customer"]["id"] == order["customer_id"] == cid == envelope["event"]["entity_id"]
    if data["referrer"]:
        assert order["referrer_id"] == order["referrer"]["id"] == data["referrer"]["id"] != cid
    else:
        assert order["referrer_id"] is None and "referrer" not in order

    assert TIMESTAMP.match(order["created_at"])
    if event == "customer.order.created":
        assert order["updated_at"] is None and order["status"] == "CREATED"
    else:
        assert TIMESTAMP.match(order["updated_at"])
        assert order["created_at"] <= order["updated_at"]
    expected_status = {"customer.order.paid": "PAID", "customer.order.canceled": "CANCELED"}
    if event in expected_status:
        assert order["status"] == expected_status[event]
    assert order["created_at"] <= envelope["created_at"]
    # The root type is the distribution's label (--label), never the event name.
    assert envelope["event"]["type"] == event != envelope["type"]


@pytest.mark.parametrize("event", ORDER_EVENTS)
def test_every_payload_obeys_the_order_invariants(event: str) -> None:
    for p in generate(event, count=800, seed=11, now=NOW):
        _check_order(p.data, event)


def test_mixed_runs_show_the_variety_a_receiver_must_handle() -> None:
    seen = Counter()
    for p in generate(ORDER_EVENTS, count=2000, seed=5, now=NOW):
        data = p.data["data"]
        order = data["order"]
        seen[
            "promotion"
            if "promotion_tier" in data
            else "send-code"
            if "voucher" in data
            else "plain"
        ] += 1
        seen["referrer"] += data["referrer"] is not None
        seen["null email"] += data["customer"]["email"] is None
        seen["shipping"] += any(i["product_id"] == "prod_5h1pp1ng" for i in order["items"])
        seen["order discount"] += order.get("discount_amount", 0) > 0
        seen["item discount"] += order.get("items_discount_amount", 0) > 0
        seen[f"{len(order['items'])} lines"] += 1
        seen[order["status"]] += 1
        seen["sku"] += any("sku_id" in i for i in order["items"])
    kinds = ("plain", "promotion", "send-code", "referrer", "null email", "shipping",
             "order discount", "item discount", "sku", "PAID", "CANCELED", "FULFILLED")  # fmt: skip
    for kind in kinds:
        assert seen[kind] > 20, (kind, seen)
    assert seen["1 lines"] and seen["4 lines"]


@pytest.mark.parametrize(
    ("scenario", "present", "absent"),
    [
        ("plain", set(), {"campaign", "promotion_tier", "voucher", "publication"}),
        ("promotion", {"campaign", "promotion_tier"}, {"voucher", "publication"}),
        ("send-code", {"campaign", "voucher", "publication"}, {"promotion_tier"}),
    ],
)
def test_scenarios_add_what_the_distribution_purpose_adds(scenario, present, absent) -> None:
    for p in generate(count=100, seed=1, now=NOW, scenario=scenario, envelope="none"):
        keys = set(p.data)
        assert {"customer", "referrer", "order", "redemption"} <= keys
        assert present <= keys and not absent & keys
        if scenario == "send-code":
            d = p.data
            assert d["voucher"]["campaign_id"] == d["campaign"]["id"]
            assert d["publication"]["vouchers_id"] == [d["voucher"]["id"]]
            assert d["voucher"]["code"].startswith(
                d["campaign"]["voucher"]["code_config"]["prefix"]
            )
        if scenario == "promotion":
            assert p.data["promotion_tier"]["campaign"]["id"] == p.data["campaign"]["id"]


def test_envelopes() -> None:
    (v2024,) = generate(count=1, seed=1, now=NOW, target_url="https://shop.test/hooks")
    assert list(v2024.data) == ["id", "project_id", "created_at", "type", "data", "source", "event"]
    assert v2024.data["source"] == {
        "id": v2024.data["source"]["id"],
        "object": "distribution",
        "target_url": "https://shop.test/hooks",
    }
    assert v2024.id == v2024.data["id"]
    (v2018,) = generate(count=1, seed=1, now=NOW, envelope="v2018")
    assert v2018.data["object"] == "event" and v2018.data["type"] == "customer.order.created"
    assert set(v2018.data) == {"id", "object", "webhook_id", "project_id", "created_at", "type",
                               "data", "metadata"}  # fmt: skip
    (bare,) = generate(count=1, seed=1, now=NOW, envelope="none")
    assert bare.data == v2024.data["data"] | {"order": bare.data["order"]}
    assert bare.data["order"] == v2024.data["data"]["order"]


def test_bodies_are_compact_json() -> None:
    for p in generate(ORDER_EVENTS, count=50, seed=2, now=NOW):
        assert p.body == json.dumps(p.data, separators=(",", ":"), ensure_ascii=False).encode()


@pytest.mark.parametrize(
    ("locale", "currency", "region"),
    [
        ("en_US", "USD", "US"),
        ("de_DE", "EUR", "DE"),
        ("ja_JP", "JPY", "JP"),
        ("pl_PL", "PLN", "PL"),
    ],
)
def test_currency_and_region_follow_the_locale(locale: str, currency: str, region: str) -> None:
    for p in generate(count=100, seed=4, now=NOW, locale=locale, envelope="none"):
        meta = p.data["order"]["metadata"]
        assert (meta["currency"], meta["region"]) == (currency, region)
        if currency == "JPY":
            assert all(i["price"] % 100 == 0 for i in p.data["order"]["items"])


@pytest.mark.parametrize("locale", ["en_US", "de_DE", "pl_PL", "fr_FR", "ja_JP"])
def test_an_email_is_made_of_the_customers_own_name(locale: str) -> None:
    customers = {
        c["id"]: c
        for p in generate(count=300, seed=5, now=NOW, locale=locale, envelope="none")
        for c in [p.data["customer"]]
        if c["email"]
    }
    assert len(customers) > 100
    for c in customers.values():
        local = c["email"].split("@")[0]
        # first.last, first_last, flast or firstl, then the customer's own number,
        # which its source_id ends with too: no two customers share either.
        found = re.fullmatch(r"([a-z]+)([._]?)([a-z]+)([0-9]{4})", local)
        assert found, c
        assert c["source_id"].endswith("-" + found[4]), c
        if locale != "ja_JP":  # kanji have no letters: their reading makes the email
            letters = unicodedata.normalize("NFKD", c["name"].lower().replace("ß", "ss"))
            letters = re.sub("[^a-z]", "", letters.replace("ł", "l"))
            mine = found[1] + found[3]
            assert (
                mine == letters
                or (found[2] == "" and letters.startswith(mine))  # firstl
                or (found[2] == "" and mine[0] == letters[0] and letters.endswith(mine[1:]))
            ), c


def test_set_overrides_paths_inside_data_and_at_the_root() -> None:
    (p,) = generate(
        count=1, seed=1, now=NOW,
        overrides=["order.amount=5000", "type=order-created", "order.items[0].quantity=7",
                   "customer.name=Ada"],
    )  # fmt: skip
    assert p.data["data"]["order"]["amount"] == 5000
    assert p.data["type"] == "order-created"
    assert p.data["data"]["order"]["items"][0]["quantity"] == 7
    assert p.data["data"]["customer"]["name"] == "Ada"
    assert json.loads(p.body) == p.data


def test_set_from_python_takes_values_as_they_are() -> None:
    (p,) = generate(count=1, seed=1, now=NOW, overrides={"order.metadata": {"gift": True}})
    assert p.data["data"]["order"]["metadata"] == {"gift": True}


def test_set_on_a_missing_path_is_an_error_unless_asked_to_create() -> None:
    with pytest.raises(OverrideError) as exc:
        list(generate(count=1, seed=1, now=NOW, overrides=["order.gift.wrap=true"]))
    assert str(exc.value) == (
        "--set order.gift.wrap=true: path 'data.order.gift' does not exist in the payload "
        "(use --set-new to create it)"
    )
    (p,) = generate(count=1, seed=1, now=NOW, overrides=["order.gift.wrap=true"], set_new=True)
    assert p.data["data"]["order"]["gift"] == {"wrap": True}


def test_unknown_names_are_usage_errors_with_suggestions() -> None:
    with pytest.raises(UnknownEventError) as exc:
        PayloadFactory("customer.order.payed")
    assert "Did you mean: customer.order.paid" in str(exc.value)
    with pytest.raises(UsageError, match="unknown scenario 'promo'"):
        PayloadFactory(scenario="promo")
    with pytest.raises(UsageError, match="unknown locale 'xx_XX'"):
        PayloadFactory(locale="xx_XX")
    with pytest.raises(UsageError, match="unknown envelope 'v1'"):
        PayloadFactory(envelope="v1")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"now": "0001-01-01T00:00:00Z"}, "invalid time '0001-01-01T00:00:00Z': use an instant"),
        ({"now": -1}, "invalid time '-1': use an instant from 1970-01-01T00:00:00Z"),
        ({"seed": -1}, "invalid seed -1: use a whole number, 0 or more"),
    ],
)
def test_values_no_payload_could_have_are_usage_errors(options, message) -> None:
    with pytest.raises(UsageError, match=re.escape(message)):
        PayloadFactory(**options).build(0)


def test_payloads_are_numbered_from_0() -> None:
    with pytest.raises(UsageError, match="invalid payload index -1: payloads are numbered from 0"):
        PayloadFactory(seed=1, now=NOW).build(-1)


def test_an_int_now_is_epoch_milliseconds() -> None:
    (p,) = generate(count=1, seed=1, now=1_710_254_509_128, envelope="v2024")
    assert p.data["created_at"] == NOW


def test_without_a_seed_a_random_one_is_chosen_and_reported() -> None:
    a, b = PayloadFactory(now=NOW), PayloadFactory(now=NOW)
    assert a.seed != b.seed
    again = PayloadFactory(seed=a.seed, now=NOW)
    assert again.build(0).body == a.build(0).body

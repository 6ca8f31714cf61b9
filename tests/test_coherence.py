"""One coherent world per run: whatever recurs keeps its attributes in every event, and
amounts, balances and points add up as Voucherify's do."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterator
from functools import cache

import orjson
import pytest
from conftest import NOW

from simulator.generation.catalog import builtin
from simulator.generation.payloads import PayloadFactory, generate

ALL = sorted(builtin())
# What an object of each kind keeps wherever it appears; the rest is its state at the
# event (balances, counts, updated_at, active).
KEPT = {
    "cust_": ("name", "email", "source_id", "metadata"),
    "v_": ("code", "campaign", "campaign_id", "type", "holder_id", "is_referral_code",
           "created_at", "referrer_id"),
    "camp_": ("name", "campaign_type", "type", "created_at", "auto_join", "join_once",
              "description", "category_id", "is_referral_code"),
    "promo_": ("name", "banner", "campaign_id", "created_at", "hierarchy"),
    "ltr_": ("name", "campaign_id", "points", "created_at", "config"),
    "prod_": ("name", "price", "source_id"),
    "seg_": ("name",),
    "val_": ("name", "rules", "created_at", "context_type"),
    "ern_": ("campaign_id", "event", "created_at", "automation_id"),
    "rew_": ("name", "assignment_id"),
}  # fmt: skip
PER_EVENT = ("whs_", "vtx_", "r_", "rf_", "rr_", "rrf_", "lopp_", "lopb_", "pub_", "rewr_",
             "rh_", "ord_", "event_")  # fmt: skip


def _objects(value: object, event: str) -> Iterator[dict]:
    if isinstance(value, dict):
        # {id, type} points at an object (a balance's related_object): it is no copy of it.
        if isinstance(value.get("id"), str) and value.keys() != {"id", "type"}:
            yield value
        for item in value.values():
            yield from _objects(item, event)
    elif isinstance(value, list):
        for item in value:
            yield from _objects(item, event)


@cache
def _run(count: int, seed: int, locale: str) -> tuple[tuple[str, dict], ...]:
    return tuple(
        (p.event, p.data) for p in generate(ALL, count=count, seed=seed, now=NOW, locale=locale)
    )


@pytest.mark.parametrize("locale", ["en_US", "ja_JP"])
def test_what_recurs_keeps_its_attributes_in_every_event(locale: str) -> None:
    seen: dict[tuple[str, str], tuple[object, str]] = {}
    recurring: Counter = Counter()
    for event, body in _run(3000, 21, locale):
        for obj in _objects(body["data"], event):
            prefix = next((p for p in KEPT if obj["id"].startswith(p)), None)
            if prefix is None:
                continue
            recurring[obj["id"]] += 1
            for key in KEPT[prefix]:
                if key not in obj or (key == "campaign" and not isinstance(obj[key], str)):
                    continue
                value = obj[key]
                if event == "customer.deleted" and key == "source_id":
                    # A deleted customer's source_id is freed: renamed with a suffix.
                    value = re.sub(r"_deleted\d{4}-.*$", "", value)
                first = seen.setdefault((obj["id"], key), (value, event))
                assert first[0] == value, (obj["id"], key, first, (value, event))
    # The world recurs: most kinds are met many times over, across events.
    kinds = Counter(p for i, n in recurring.items() if n > 1 for p in KEPT if i.startswith(p))
    assert {"cust_", "v_", "camp_", "promo_", "ltr_", "prod_", "seg_", "val_", "ern_", "rew_"} <= {
        k for k, n in kinds.items() if n >= 2}  # fmt: skip


def test_ids_of_one_event_are_never_reused() -> None:
    counts: Counter = Counter()
    for _, body in _run(3000, 21, "en_US"):
        counts[body["id"]] += 1
        counts[body["event"]["id"]] += 1
        for obj in _objects(body["data"], ""):
            if obj["id"].startswith(PER_EVENT):
                counts[obj["id"], id(obj)] += 0  # one object may recur inside an event
        ids = {o["id"] for o in _objects(body["data"], "") if o["id"].startswith(PER_EVENT)}
        counts.update(ids)
    assert [i for i, n in counts.items() if n > 1] == []


def test_every_event_is_reproducible_and_depends_only_on_seed_and_index() -> None:
    forwards = PayloadFactory(ALL, seed=8, now=NOW)
    bodies = [forwards.build(i).body for i in range(300)]
    backwards = PayloadFactory(ALL, seed=8, now=NOW)
    assert bodies == [backwards.build(i).body for i in reversed(range(300))][::-1]
    assert len(set(bodies)) == 300
    assert len({forwards.build(i).event for i in range(300)}) > 60


def test_what_the_world_forgets_comes_back_the_same() -> None:
    # Cards are kept in a bounded cache and rebuilt when they come back: a world that
    # keeps 8 of them must make the same run as one that keeps them all.
    forgetful = PayloadFactory(ALL, seed=8, now=NOW)
    forgetful.world.recall_limit = 8
    keeping = PayloadFactory(ALL, seed=8, now=NOW)
    keeping.world.recall_limit = 1 << 30
    for i in range(2000):
        assert forgetful.build(i).body == keeping.build(i).body, i
    assert len(forgetful.world._recalled) == 8
    assert len(keeping.world._recalled) > 500


def test_a_card_rebuilt_later_in_a_run_keeps_its_dates() -> None:
    # Without --now every payload reads the clock: a card forgotten and rebuilt an hour
    # into the run must still show the dates it was first built with.
    clock = iter(range(1_700_000_000_000, 1_800_000_000_000, 3_600_000))
    factory = PayloadFactory(["voucher.loyalty_card.*", "customer.voucher.gift.*"], seed=3)
    factory.world.recall_limit = 2
    factory._clock = lambda: next(clock)  # the clock moves an hour per payload
    seen: dict[str, tuple[str, str]] = {}
    met_again = 0
    for i in range(1500):
        body = factory.build(i).body
        for obj in _objects(orjson.loads(body)["data"], ""):
            if obj["id"].startswith("v_") and "created_at" in obj and "code" in obj:
                kept = (obj["code"], obj["created_at"])
                met_again += obj["id"] in seen
                assert seen.setdefault(obj["id"], kept) == kept, obj["id"]
    assert met_again > 20


# ------------------------------------------------------------------------ arithmetic


def _events(name: str, count: int = 300) -> Iterator[dict]:
    for p in generate(name, count=count, seed=4, now=NOW, envelope="none"):
        yield p.data


def _check_order(order: dict) -> None:
    """FACTS.md: item amounts, the order's amount, discounts and total."""
    for item in order["items"]:
        assert item["amount"] == item["price"] * item["quantity"]
        assert item["subtotal_amount"] == item["amount"] - item.get("discount_amount", 0)
    assert order["amount"] == sum(item["amount"] for item in order["items"])
    discount = order.get("discount_amount", 0) + order.get("items_discount_amount", 0)
    assert order.get("total_discount_amount", 0) == discount
    assert order["total_amount"] == order["amount"] - discount
    assert order.get("items_discount_amount", 0) == sum(
        item.get("discount_amount", 0) for item in order["items"])  # fmt: skip


@pytest.mark.parametrize("event", ["voucher.gift.balance_added", "voucher.gift.transaction.created",
                                   "customer.voucher.gift.balance_added"])  # fmt: skip
def test_gift_credits_add_up(event: str) -> None:
    for data in _events(event):
        gift, balance = data["voucher"]["gift"], data["balance"]
        assert gift["amount"] == balance["total"] and gift["balance"] == balance["balance"]
        assert gift["balance"] - balance["amount"] >= 0  # what it held before
        if "redemption" in data["voucher"]:
            spent = data["voucher"]["redemption"]["redeemed_amount"]
            assert gift["balance"] == gift["amount"] - spent
        assert data["transaction"]["details"]["balance"] == balance


@pytest.mark.parametrize("event", ["voucher.loyalty_card.points_added",
                                   "customer.voucher.loyalty_card.points_added",
                                   "voucher.loyalty_card.points_expired",
                                   "customer.voucher.loyalty_card.points_expired"])  # fmt: skip
def test_loyalty_points_add_up(event: str) -> None:
    for data in _events(event):
        # An expiry's balance is its transaction's: the event carries no balance of its own.
        balance = data.get("balance") or data["transaction"]["details"]["balance"]
        card, spent = (
            data["voucher"]["loyalty_card"],
            data["voucher"]["redemption"]["redeemed_points"],
        )
        assert card["points"] == balance["total"] and card["balance"] == balance["balance"]
        assert card["balance"] == card["points"] - spent >= 0
        if event.endswith("expired"):
            assert balance["points"] == -data["points"] < 0
            assert sum(b["bucket"]["total_points"] for b in data["buckets"]) == data["points"]
        else:
            assert balance["points"] > 0
        assert data["transaction"]["details"]["balance"] == balance


def test_a_paid_order_earns_the_points_of_its_earning_rule() -> None:
    for event in ("customer.rewarded.loyalty_points", "voucher.loyalty_card.transaction.created"):
        for data in _events(event, 150):
            _check_order(data["order"])
            rule = data["earning_rule"]["loyalty"]["order"]["total_amount"]
            earned = data["order"]["total_amount"] // rule["every"] * rule["points"]
            assert data["balance"]["points"] == earned
            assert data["voucher"]["loyalty_card"]["points"] == data["balance"]["total"]


@pytest.mark.parametrize("action", ["added", "updated", "activated", "canceled"])
def test_pending_points_add_up(action: str) -> None:
    for prefix in ("voucher", "customer.voucher"):
        for data in _events(f"{prefix}.loyalty_card.pending_points.{action}", 100):
            waiting = data["voucher"]["loyalty_card"]["pending_points"]
            if "voucher_pending_points_balance" in data:
                assert waiting == data["voucher_pending_points_balance"]["total"] >= 0
            else:  # voucher.*.activated shows the card's balance: the points it gained
                assert data["balance"]["points"] == data["pending_points"]["points"]
                assert data["voucher"]["loyalty_card"]["points"] == data["balance"]["total"]
            assert data["pending_points"]["order_id"] == data["order"]["id"]
            _check_order(data["order"])


def test_a_reward_costs_its_points() -> None:
    for data in _events("customer.rewarded"):
        card, redemption = data["voucher"], data["redemption"]
        left = card["loyalty_card"]["points"] - card["redemption"]["redeemed_points"]
        assert card["loyalty_card"]["balance"] == left >= 0
        assert redemption["amount"] > 0 and redemption["voucher"] == card


@pytest.mark.parametrize("event", ["redemption.succeeded", "customer.redemption.succeeded",
                                   "redemption.rollback.succeeded"])  # fmt: skip
def test_a_redemption_discounts_its_order_as_facts_says(event: str) -> None:
    for data in _events(event):
        order = data["redemption"]["order"]
        _check_order(order)
        assert data["redemption"]["amount"] == order.get("total_discount_amount", 0) > 0
        if event.startswith("redemption.rollback"):
            assert data["order"]["status"] == "CANCELED"
            assert data["redemption_rollback"]["redemption"] == data["redemption"]["id"]


def test_tiers_move_one_step_the_right_way() -> None:
    for event, sign in (
        ("customer.loyalty.tier.upgraded", 1),
        ("customer.loyalty.tier.downgraded", -1),
    ):
        for data in _events(event, 100):
            low, high = data["loyalty_tier_from"]["points"], data["loyalty_tier_to"]["points"]
            assert (high["from"] - low["from"]) * sign > 0
            assert data["loyalty_tier_from"]["campaign_id"] == data["campaign"]["id"]


def test_a_customer_profile_adds_up() -> None:
    totals = defaultdict(int)
    for event in ("customer.updated", "customer.segment.entered"):
        for data in _events(event, 200):
            summary = data["customer"]["summary"]
            redemptions, orders = summary["redemptions"], summary["orders"]
            assert redemptions["total_redeemed"] == (
                redemptions["total_succeeded"] + redemptions["total_failed"]
            )
            assert orders["total_amount"] == orders["average_amount"] * orders["total_count"]
            totals[orders["total_count"] > 0] += 1
    assert totals[True] and totals[False]

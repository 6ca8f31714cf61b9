"""Campaigns, vouchers and their codes over a large mixed sample of one seed: campaign
types as the official examples have them, codes as a campaign's code_config makes them
and unique in the run, vouchers created apart, names that identify one object each."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Iterator
from functools import cache

import pytest
from conftest import FIXTURES, NOW

from simulator.errors import SimulatorError
from simulator.generation.catalog import builtin
from simulator.generation.codes import NUMBERS, CodeSpace, config
from simulator.generation.payloads import PayloadFactory, generate
from simulator.generation.values import parse_instant
from simulator.integrations.partition import MAX_SEQUENCE, MAX_SLOTS, MAX_WORKERS, event_index
from simulator.schema import validate

SEED = 29
# (events, locale, count): every event at random, and the order events on their own,
# in several markets; all with one seed, as a receiver meets one seed run after run.
RUNS = (
    ("all", "en_US", 3500),
    ("all", "ja_JP", 3500),
    ("customer.order.*", "de_DE", 3000),
)


@cache
def _sample() -> tuple[tuple[str, list[dict]], ...]:
    """(locale, every object of the payload's data) of each payload of the runs."""
    out = []
    for events, locale, count in RUNS:
        names = sorted(builtin()) if events == "all" else events
        for p in generate(names, count=count, seed=SEED, now=NOW, locale=locale, envelope="none"):
            out.append((locale, list(_objects(p.data))))
    assert len(out) >= 10_000
    return tuple(out)


def _objects(value: object) -> Iterator[dict]:
    if isinstance(value, dict):
        yield value
        for item in value.values():
            yield from _objects(item)
    elif isinstance(value, list):
        for item in value:
            yield from _objects(item)


def _campaigns(objects: list[dict]) -> Iterator[dict]:
    for obj in objects:
        if str(obj.get("id", "")).startswith("camp_") and "campaign_type" in obj:
            yield obj


def _vouchers(objects: list[dict]) -> Iterator[tuple[str, str, str | None, str | None]]:
    """(id, code, campaign id, created_at) of every voucher the payload shows."""
    for obj in objects:
        vid = obj.get("id")
        if isinstance(vid, str) and vid.startswith("v_") and isinstance(obj.get("code"), str):
            yield vid, obj["code"], obj.get("campaign_id"), obj.get("created_at")
        elif obj.get("related_object_type") == "voucher" and isinstance(obj.get("code"), str):
            yield obj["related_object_id"], obj["code"], obj["related_object_parent_id"], None


def test_campaign_types_are_those_of_the_official_examples() -> None:
    official: dict[str, set[str]] = defaultdict(set)
    for path in (FIXTURES / "voucherify" / "official-data").glob("*.json"):
        for campaign in _campaigns(list(_objects(json.loads(path.read_text())))):
            official[campaign["campaign_type"]].add(campaign["type"])
    # What the examples show: promotions are STATIC, every kind with codes AUTO_UPDATE.
    assert official["PROMOTION"] == {"STATIC"}
    assert official["DISCOUNT_COUPONS"] == official["LOYALTY_PROGRAM"] == {"AUTO_UPDATE"}
    generated: dict[str, set[str]] = defaultdict(set)
    for _, data in _sample():
        for campaign in _campaigns(data):
            generated[campaign["campaign_type"]].add(campaign["type"])
    assert set(generated) == set(official)
    assert {kind: generated[kind] for kind in official} == dict(official)


def _code_pattern(config: dict) -> re.Pattern:
    assert config["length"] == config["pattern"].count("#") > 0
    charset = "[" + re.escape(config["charset"]) + "]"
    core = "".join(charset if ch == "#" else re.escape(ch) for ch in config["pattern"])
    return re.compile(re.escape(config["prefix"]) + core + re.escape(config["postfix"]))


def test_codes_are_made_as_their_campaigns_code_config_says() -> None:
    configs: dict[str, dict] = {}
    for _, data in _sample():
        for campaign in _campaigns(data):
            if "code_config" in campaign.get("voucher", {}):
                config = campaign["voucher"]["code_config"]
                assert configs.setdefault(campaign["id"], config) == config
                assert config["charset"] in (
                    "0123456789",  # Voucherify's generator's charsets: numbers, alphabetic,
                    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",  # alphanumeric
                    "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
                )
    patterns = {camp: _code_pattern(config) for camp, config in configs.items()}
    checked = set()
    for _, data in _sample():
        for vid, code, campaign_id, _ in _vouchers(data):
            assert campaign_id in patterns, (vid, campaign_id)
            assert patterns[campaign_id].fullmatch(code), (code, configs[campaign_id])
            config = configs[campaign_id]
            core = code[len(config["prefix"]) : len(code) - len(config["postfix"])]
            assert core.replace("-", "") not in vid, (code, vid)  # not a slice of its id
            checked.add(vid)
    assert len(checked) > 2000
    # Campaigns differ in what their codes look like.
    shapes = {(c["charset"], c["pattern"], c["prefix"] == "") for c in configs.values()}
    assert len(shapes) >= 4 and len({c["prefix"] for c in configs.values()}) >= 10


def test_a_code_space_is_a_bijection_onto_the_codes_its_config_describes() -> None:
    space = CodeSpace(config("{A}-", "#-##", NUMBERS, postfix="-}"), salt=5)
    codes = [space.code(n) for n in range(space.size)]
    assert space.size == len(set(codes)) == 1000
    assert all(re.fullmatch(r"\{A\}-\d-\d\d-\}", code) for code in codes), codes[:3]
    assert codes[:2] != ["{A}-0-00-}", "{A}-0-01-}"]  # not counted out in order
    with pytest.raises(SimulatorError, match="ran out at 1000"):
        space.code(1000)


def test_every_event_builds_at_the_highest_indexes_locust_workers_hand_out() -> None:
    """Codes wrap round their campaign's space there, for every event that makes one
    (a new coupon as much as an order's redeemed or published code)."""
    last = event_index(MAX_WORKERS - 1, MAX_SLOTS - 1, MAX_SEQUENCE - 1)
    factory = PayloadFactory(sorted(builtin()), seed=SEED, now=NOW)
    codes = set()
    for index in range(last - 300, last + 1):
        payload = factory.build(index)
        data = json.loads(payload.body)
        assert validate(data) == [], (index, payload.event)
        codes.update(code for _, code, _, _ in _vouchers(list(_objects(data))))
    assert len(codes) > 100


def test_a_code_belongs_to_one_voucher_across_runs_of_a_seed() -> None:
    """No two vouchers share a code, and a voucher keeps its code, in every run of the
    seed whatever events and locale it makes."""
    ids_of: dict[str, set[str]] = defaultdict(set)
    codes_of: dict[str, set[str]] = defaultdict(set)
    for _, data in _sample():
        for vid, code, _, _ in _vouchers(data):
            ids_of[code].add(vid)
            codes_of[vid].add(code)
    assert len(codes_of) > 2000
    assert {code: ids for code, ids in ids_of.items() if len(ids) > 1} == {}
    assert {vid: codes for vid, codes in codes_of.items() if len(codes) > 1} == {}


def test_vouchers_of_a_campaign_are_created_apart_after_it() -> None:
    """Vouchers share a created_at only when one generation made them together: the
    campaign's bulk generation, in the seconds after the campaign was created. The others
    were made one by one, after it."""
    created_of: dict[tuple[str, str], int] = {}
    moments: dict[tuple[str, str], dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for locale, data in _sample():
        for campaign in _campaigns(data):
            created_of[locale, campaign["id"]] = parse_instant(campaign["created_at"])
        for vid, _, campaign_id, created in _vouchers(data):
            if campaign_id is None:
                continue
            if created is None:  # an order's redemption: its voucher is shown beside it
                created = next(o["created_at"] for o in data if o.get("id") == vid and "code" in o)
            moments[locale, campaign_id][created].add(vid)
    busy = 0
    for key, by_moment in moments.items():
        campaign_created = created_of[key]
        vouchers = sum(len(ids) for ids in by_moment.values())
        busy += vouchers >= 20
        for moment, ids in by_moment.items():
            assert parse_instant(moment) >= campaign_created, (key, moment)
            # With one --now, the codes events make on demand are all made in its last
            # seconds, and some share a millisecond: those aside.
            if len(ids) >= 3 and parse_instant(NOW) - parse_instant(moment) > 60_000:
                assert parse_instant(moment) - campaign_created <= 2000, (key, moment, len(ids))
        if vouchers >= 20:
            assert len(by_moment) >= 3, key
    assert busy >= 20


def test_a_name_names_one_campaign_and_one_product() -> None:
    campaigns: dict[tuple[str, str], set[str]] = defaultdict(set)
    products: dict[tuple[str, str], set[str]] = defaultdict(set)
    for locale, data in _sample():
        for campaign in _campaigns(data):
            campaigns[locale, campaign["name"]].add(campaign["id"])
        for obj in data:
            product = obj.get("product")
            if isinstance(product, dict) and product.get("name") and obj.get("product_id"):
                products[locale, product["name"]].add(obj["product_id"])
            if str(obj.get("id", "")).startswith("prod_") and obj.get("name"):
                products[locale, obj["name"]].add(obj["id"])
    assert len(campaigns) > 60 and len(products) > 600
    assert {name: ids for name, ids in campaigns.items() if len(ids) > 1} == {}
    assert {name: ids for name, ids in products.items() if len(ids) > 1} == {}

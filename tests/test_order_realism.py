"""Order events as a receiver meets them in production, over a large seeded sample: the
root `type` is the distribution's label (dispatch on event.type), redemptions name the
customer by a hashed tracking id, time runs forwards, and the smaller identities."""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import datetime

import pytest
from conftest import NOW

from simulator import generate
from simulator.reports.replay import read_replay

LOCALES = ("en_US", "de_DE", "ja_JP", "pl_PL", "pt_BR")
PER_LOCALE = 2_000  # 10,000 payloads: every check below runs over all of them
MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")  # the official examples'
TRACK = re.compile(r"^track_[A-Za-z0-9+/]{22}==$")  # track_8RFQINPxgc+pykybVOUEXQ==
APP_ID = re.compile(r"^[0-9a-z]{8}-[0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{12}$")


@pytest.fixture(scope="module")
def sample() -> list[dict]:
    """10,000 customer.order.* payloads (v2024 envelope), 2,000 per locale."""
    out = []
    for seed, locale in enumerate(LOCALES):
        out += [p.data for p in generate("customer.order.*", PER_LOCALE, seed=seed, now=NOW,
                                         locale=locale)]  # fmt: skip
    return out


def _ms(text: str) -> int:
    assert MS.match(text), text
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)


def test_the_root_type_is_the_distributions_label_not_the_event(sample):
    labels: dict[tuple, set] = defaultdict(set)
    for payload in sample:
        assert payload["source"]["object"] == "distribution"
        assert payload["type"] != payload["event"]["type"], payload["type"]
        labels[payload["project_id"], payload["source"]["id"], payload["event"]["type"]].add(
            payload["type"]
        )
    # One label per distribution and trigger for the whole run, and they vary.
    assert all(len(found) == 1 for found in labels.values())
    assert len({label for found in labels.values() for label in found}) > 20
    # Some users leave the name empty, as the docs' sample output shows.
    assert "" in {label for found in labels.values() for label in found}


def test_label_option_sets_distribution_payloads_only():
    made = list(generate(["customer.order.paid", "voucher.published"], 200, seed=1, now=NOW,
                         label="order paid → CRM"))  # fmt: skip
    kinds = {p.event for p in made}
    assert kinds == {"customer.order.paid", "voucher.published"}
    for p in made:
        # Project webhooks carry the event name at the root (the docs' voucher.published).
        expected = "order paid → CRM" if p.event == "customer.order.paid" else p.event
        assert p.data["type"] == expected
        assert p.data["event"]["type"] == p.event
    empty = next(iter(generate("customer.order.created", 1, seed=1, now=NOW, label="")))
    assert empty.data["type"] == ""


def test_label_option_on_the_command_line(invoke):
    result = invoke("generate", "customer.order.created", "-n", "2", "--seed", "3",
                    "--now", NOW, "--label", "Order-created")  # fmt: skip
    assert result.code == 0, result.err
    assert result.out.count('"type":"Order-created"') == 2


def test_redemption_tracking_id_is_a_hash_stable_per_customer(sample):
    by_customer: dict[str, set] = defaultdict(set)
    seen = 0
    for payload in sample:
        redemption = payload["data"]["redemption"]
        if redemption is None:
            continue
        seen += 1
        customer = payload["data"]["customer"]
        assert TRACK.match(redemption["tracking_id"]), redemption["tracking_id"]
        by_customer[customer["id"]].add(redemption["tracking_id"])
    assert seen > 2000
    assert all(len(found) == 1 for found in by_customer.values())
    # Distinct customers, distinct hashes.
    assert len({next(iter(t)) for t in by_customer.values()}) == len(by_customer)


def test_redemption_events_carry_the_same_tracking_id_as_order_events():
    made = list(generate(["customer.order.paid", "redemption.succeeded"], 3000, seed=5,
                         now=NOW, scenario="plain"))  # fmt: skip
    by_customer: dict[str, set] = defaultdict(set)
    for p in made:
        redemption = p.data["data"].get("redemption")
        if redemption and "tracking_id" in redemption:
            assert TRACK.match(redemption["tracking_id"])
            by_customer[redemption["customer_id"]].add(redemption["tracking_id"])
    assert len(by_customer) > 500
    assert all(len(found) == 1 for found in by_customer.values())


def _check_causal(payload: dict, chain: bool = False) -> None:
    data, order = payload["data"], payload["data"]["order"]
    sent, event_at = _ms(payload["created_at"]), _ms(payload["event"]["created_at"])
    created = _ms(order["created_at"])
    changed = created if order["updated_at"] is None else _ms(order["updated_at"])
    assert created <= changed <= event_at <= sent
    for campaign in filter(None, [data.get("campaign")]):
        assert _ms(campaign["created_at"]) <= created
        assert _ms(campaign["updated_at"]) <= sent
    redemption = data["redemption"]
    if redemption is not None:
        assert created <= _ms(redemption["created_at"]) <= event_at
        for entry in order["redemptions"].values():
            assert created <= _ms(entry["date"]) <= event_at
        if "voucher" in redemption:
            assert _ms(redemption["voucher"]["created_at"]) <= _ms(redemption["created_at"])
    publication = data.get("publication")
    if publication is not None:
        # The distribution publishes because of the order's change (a chain's creation),
        # before sending.
        assert (created if chain else changed) <= _ms(publication["created_at"]) <= sent
        assert _ms(data["voucher"]["created_at"]) <= _ms(publication["created_at"])


def test_time_runs_forwards_in_every_order_event(sample):
    for payload in sample:
        _check_causal(payload)


def test_time_runs_forwards_through_a_lifecycle():
    for locale in ("en_US", "ja_JP"):
        made = list(generate(count=3000, lifecycle="created,updated,paid|canceled", seed=4,
                             now=NOW, locale=locale))  # fmt: skip
        for n in range(0, len(made), 3):
            chain = [p.data for p in made[n : n + 3]]
            for payload in chain:
                _check_causal(payload, chain=True)
            sent = [_ms(p["created_at"]) for p in chain]
            assert sent == sorted(sent) and len(set(sent)) == 3


def test_app_id_has_the_official_shape(sample):
    ids = set()
    for payload in sample:
        api_key = payload["event"]["event_source"]["api_key"]
        assert APP_ID.match(api_key["app_id"]), api_key["app_id"]
        ids.add(api_key["app_id"])
    assert len(ids) == len(LOCALES)  # one API key per run


def test_replay_names_generated_bodies_by_event_type_not_by_label(tmp_path):
    made = list(generate("customer.order.paid", 3, seed=2, now=NOW, label="Order-paid"))
    path = tmp_path / "gen.ndjson"
    path.write_bytes(b"\n".join(p.body for p in made) + b"\n")
    assert [i.event for i in read_replay(path).items] == ["customer.order.paid"] * 3


ADDRESS_KEYS = {"city", "state", "line_1", "line_2", "country", "postal_code"}


def test_some_customers_have_an_address_the_same_in_every_object_showing_them(sample):
    by_customer: dict[str, set] = defaultdict(set)
    for payload in sample:
        data = payload["data"]
        address = data["order"]["customer"]["address"]
        assert address is None or set(address) == ADDRESS_KEYS
        by_customer[data["customer"]["id"]].add(repr(address))
        publication = data.get("publication")
        if publication is not None:
            assert publication["customer"]["address"] == address
    assert all(len(found) == 1 for found in by_customer.values())
    with_address = sum("None" not in found for found in by_customer.values())
    assert 0.3 < with_address / len(by_customer) < 0.8
    # The full customer objects (customer.* events) show the same address, or null.
    for locale in ("en_US", "de_DE"):
        made = list(generate(["customer.order.paid", "customer.updated"], 3000, seed=8,
                             now=NOW, locale=locale))  # fmt: skip
        seen: dict[str, set] = defaultdict(set)
        kinds: dict[str, set] = defaultdict(set)
        for p in made:
            data = p.data["data"]
            customer = data["customer"] if p.event == "customer.updated" else data["order"][
                "customer"]  # fmt: skip
            seen[customer["id"]].add(repr(customer["address"]))
            kinds[customer["id"]].add(p.event)
        both = [seen[cid] for cid, events in kinds.items() if len(events) == 2]
        assert len(both) > 50
        assert all(len(found) == 1 for found in both)
        assert {"None" in found for found in both} == {True, False}


def _rollbacks(payload: dict) -> list[dict]:
    order = payload["data"]["order"]
    return [e for e in order.get("redemptions", {}).values() if "rollback_id" in e]


def test_a_canceled_redeemed_order_shows_its_redemption_rolled_back(sample):
    canceled = 0
    for payload in sample:
        order, redemption = payload["data"]["order"], payload["data"]["redemption"]
        if redemption is None or order["status"] != "CANCELED":
            assert _rollbacks(payload) == []
            continue
        canceled += 1
        [entry] = _rollbacks(payload)
        assert re.match(r"^rr_[0-9a-f]{18}$", entry["rollback_id"])
        # Rolled back when the order was canceled: after the redemption, before the update.
        assert _ms(entry["date"]) < _ms(entry["rollback_date"]) <= _ms(order["updated_at"])
    assert canceled > 500


def test_a_canceled_chain_keeps_its_rollback_in_later_updates():
    made = list(generate(count=3000, lifecycle="created,canceled,updated", seed=6, now=NOW))
    rolled = 0
    for n in range(0, len(made), 3):
        chain = [p.data for p in made[n : n + 3]]
        if chain[0]["data"]["redemption"] is None:
            continue
        rolled += 1
        assert _rollbacks(chain[0]) == []
        assert _rollbacks(chain[1]) == _rollbacks(chain[2]) != []
        [entry] = _rollbacks(chain[1])
        assert _ms(entry["rollback_date"]) <= _ms(chain[1]["data"]["order"]["updated_at"])
    assert rolled > 200


ENGLISH_ITEMS = (
    "Bottle", "Mug", "Tote Bag", "Notebook", "Backpack", "Scarf", "Candle", "Lamp",
    "Headphones", "Sneakers", "T-Shirt", "Hoodie", "Wallet", "Sunglasses", "Water Filter",
    "Cutting Board", "Yoga Mat", "Watch",
)  # fmt: skip


def test_product_names_follow_the_locale_where_faker_names_colours(sample):
    names: dict[str, set] = defaultdict(set)
    for n, payload in enumerate(sample):
        for item in payload["data"]["order"]["items"]:
            if item["product_id"] != "prod_5h1pp1ng":
                names[LOCALES[n // PER_LOCALE]].add(item["product"]["name"])
    for locale, found in names.items():
        english = {name for name in found if name.endswith(ENGLISH_ITEMS)}
        # Faker names colours in German and Portuguese, not in Japanese or Polish.
        assert english == (set() if locale in ("de_DE", "pt_BR") else found), locale
    assert any(not name.isascii() for name in names["de_DE"] | names["pt_BR"])

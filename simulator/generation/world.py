"""The run's stable cast: customers, products and campaigns that events draw from.

A shop sees the same customers and products again and again, so these are entities
with stable ids, built once per slot from the run's seed and cached. Their number is
bounded, so memory stays flat however many events a run makes. The most numerous, the
cards each customer holds in each program (tens of thousands), are kept in a bounded
cache instead (World.recall) and rebuilt the same when they come back.
"""

from __future__ import annotations

import random
import uuid
from collections import OrderedDict
from collections.abc import Callable
from functools import cached_property
from typing import Any, TypeVar

from simulator.generation import codes, discounts
from simulator.generation.identities import Person, identity, tracking_id
from simulator.generation.identities import address as _address
from simulator.generation.identities import person as _person
from simulator.generation.labels import make_label
from simulator.generation.product_names import local_name
from simulator.generation.programs import FRESH, days_ago, full_campaign
from simulator.generation.values import (
    Entity,
    IdMinter,
    SeededFaker,
    base62,
    below,
    iso_ms,
    market,
)
from simulator.seeds import derive_seed

T = TypeVar("T")

CUSTOMER_SLOTS = 5000
PRODUCT_SLOTS = 240
CAMPAIGN_SLOTS = 12
# How many rebuildable entities World.recall keeps: a few MB. All the cards of 5,000
# customers in 8 programs would take about 150 MB, and a million-event run meets most.
RECALL_LIMIT = 4096
# Coprime with CUSTOMER_SLOTS, so slot -> slot * step mod CUSTOMER_SLOTS is a bijection.
_NUMBER_STEP = 2713

_ADJECTIVES = (
    "Star", "Classic", "Eco", "Urban", "Nordic", "Summit", "Coastal", "Everyday", "Pro",
    "Vintage", "Cloud", "Aurora", "Trail", "Studio", "Atlas", "Velvet", "Harbor", "Zen",
)  # fmt: skip
_MATERIALS = (
    "Thermal", "Ceramic", "Bamboo", "Steel", "Linen", "Cotton", "Leather", "Glass",
    "Wool", "Cork", "Canvas", "Copper", "Oak", "Recycled", "Merino", "Silk",
)  # fmt: skip
# (item, lowest price, highest price) in catalogue units (cents of a dollar-like currency)
_ITEMS = (
    ("Bottle", 1500, 4500), ("Mug", 900, 2900), ("Tote Bag", 1200, 3900),
    ("Notebook", 600, 2400), ("Backpack", 4900, 14900), ("Scarf", 1900, 6900),
    ("Candle", 1100, 3600), ("Lamp", 3900, 12900), ("Headphones", 5900, 24900),
    ("Sneakers", 6900, 17900), ("T-Shirt", 1500, 4500), ("Hoodie", 3900, 8900),
    ("Wallet", 2400, 7900), ("Sunglasses", 2900, 15900), ("Water Filter", 1900, 5900),
    ("Cutting Board", 2200, 6400), ("Yoga Mat", 2500, 8900), ("Watch", 9900, 39900),
)  # fmt: skip
_CHANNELS = ("Website", "Mobile App", "Referral", "Social Media", "In Store", "Newsletter")
_SEASONS = ("Spring", "Summer", "Autumn", "Winter", "Black-Friday", "Holiday", "Welcome")
_ADDRESS_RATE = 0.55

SHIPPING = Entity(id="prod_5h1pp1ng", name="Shipping", price=None, sku_id=None)


class World:
    """Customers, products and campaigns for one seed and locale."""

    def __init__(self, seed: int, locale: str) -> None:
        self.seed = seed
        self.locale = locale
        self.market = market(locale)
        self.fakes = SeededFaker(locale, seed)
        self._number_offset = self._rng("customer-number").randrange(CUSTOMER_SLOTS)
        self._tracking_key = derive_seed(seed, "tracking").to_bytes(8, "big")
        self.ids = IdMinter(seed)
        self._customers: dict[int, dict] = {}
        self._products: dict[int, dict] = {}
        self._products_by_id: dict[str, dict] = {}
        self._campaigns: dict[tuple[str, int], dict] = {}
        self._distributions: dict[tuple[str, str], dict] = {}
        self._webhooks: dict[str, dict] = {}
        self._memo: dict[object, Any] = {}
        self._recalled: OrderedDict[object, Any] = OrderedDict()
        self.recall_limit = RECALL_LIMIT
        self._anchor_ms: int | None = None
        self._lines: dict[tuple[str, int, int | None], dict] = {}

    def _rng(self, *parts: object) -> random.Random:
        return random.Random(derive_seed(self.seed, *parts))

    @cached_property
    def project_id(self) -> str:
        return "proj_" + base62(self._rng("project").getrandbits(48), 8)

    @cached_property
    def app_id(self) -> str:
        """The API key's application id that events of this run come from: a UUID, the
        8-4-4-4-12 lower-case shape of the official examples' app_id."""
        return str(uuid.UUID(int=self._rng("app").getrandbits(128), version=4))

    def label(self, event: str, scenario: str) -> str:
        """The name the user gave the webhook of the distribution that sends `event` for
        `scenario` (its purpose): drawn once per run, the root `type` of its payloads."""
        return self.memo(("label", event, scenario), lambda: make_label(
            self._rng("label", event, scenario), event))  # fmt: skip

    @cached_property
    def event_source(self) -> dict:
        """Who causes most events: the shop backend, through its API key."""
        return Entity(channel="API", name="Shop backend", app_id=self.app_id)

    @cached_property
    def portal_user(self) -> dict:
        """Who causes the events of what a marketer sets up in the dashboard."""
        user = "user_" + base62(self._rng("portal-user").getrandbits(128), 24)
        return Entity(channel="USER_PORTAL", user_id=user)

    @cached_property
    def internal(self) -> dict:
        """Voucherify itself: tier changes, points that expire, scheduled jobs."""
        return Entity(channel="INTERNAL")

    def project_webhook(self, target_url: str) -> dict:
        """The project settings webhook that posts to `target_url`."""
        found = self._webhooks.get(target_url)
        if found is None:
            rng = self._rng("project-webhook")
            found = self._webhooks[target_url] = Entity(
                id="wh_" + base62(rng.getrandbits(144), 24), target_url=target_url
            )
        return found

    def distribution(self, scenario: str, target_url: str) -> dict:
        """One distribution per purpose (and target), as a project would configure it."""
        key = (scenario, target_url)
        found = self._distributions.get(key)
        if found is None:
            rng = self._rng("distribution", scenario)
            found = self._distributions[key] = Entity(
                id="distr_" + base62(rng.getrandbits(160), 26), target_url=target_url
            )
        return found

    def customer(self, slot: int) -> dict:
        found = self._customers.get(slot)
        if found is not None:
            return found
        # A bijection of the slots onto 4-digit numbers: the customer's own number.
        number = 1000 + (slot * _NUMBER_STEP + self._number_offset) % CUSTOMER_SLOTS
        person = self.fakes.at("identity", slot, _person)
        customer = self._make_customer(
            slot, self._rng("customer", slot), number, person,
            lambda: self.fakes.at("address", slot, _address),
        )  # fmt: skip
        self._customers[slot] = customer
        return customer

    def new_customer(self, index: int, rng: random.Random) -> dict:
        """A customer that event `index` creates (drawing from the event's `rng`): not one
        of the slots, not kept. Its number follows the slots' (1000 + CUSTOMER_SLOTS
        onwards), so it shares no email or source_id with any customer of the run. Its
        name comes from the run's pool of names, first and last drawn apart: no Faker
        call per event."""
        first, last = self._pooled(below(rng, 512)), self._pooled(below(rng, 512))
        person = (first[0], last[1], first[2], last[3], last[4])
        return self._make_customer(
            FRESH | index, rng, 1000 + CUSTOMER_SLOTS + index, person,
            lambda: self.pooled_address(below(rng, 512)),
        )  # fmt: skip

    def pooled_address(self, k: int) -> dict:
        """Address `k` of the run's pool of 512: for customers made per event."""
        return self.memo(("address", k), lambda: self.fakes.at("address-pool", k, _address))

    def _pooled(self, k: int) -> Person:
        return self.memo(("person", k), lambda: self.fakes.at("person", k, _person))

    def _make_customer(
        self,
        id_number: int,
        rng: random.Random,
        number: int,
        person: Person,
        address: Callable[[], dict],
    ) -> dict:
        variant = rng.randrange(2048)  # the draw the identity took before: ids stay put
        name, email, source_id = identity(person, number, variant, self.locale == "ja_JP")
        roll = rng.random()
        if roll < 0.35:
            metadata = {"region": self.market.customer_region, "sign-up": "true"}
        elif roll < 0.75:
            metadata = {"acquisition_channel": rng.choice(_CHANNELS)}
        else:
            metadata = {}
        customer = {
            "id": self.ids.alnum("cust_", id_number, rng),
            "name": name,
            # Voucherify sends null when the shop never gave it one, as in the docs example.
            "email": None if rng.random() < 0.2 else email,
            "source_id": source_id,
            "metadata": metadata,
            # Redemptions name the customer by a hash of the source_id (the spec; every
            # official redemption shows track_…): stable, as the customer is.
            "tracking_id": tracking_id(self._tracking_key, source_id),
            # Shops send an address with some customers only; Voucherify shows null.
            "address": address() if rng.random() < _ADDRESS_RATE else None,
        }
        return Entity(customer)

    def product_by_id(self, product_id: str) -> dict:
        """A product the run has made (a UNIT discount names the one it grants by id)."""
        return self._products_by_id[product_id]

    def product(self, slot: int) -> dict:
        found = self._products.get(slot)
        if found is not None:
            return found
        rng = self._rng("product", slot)
        # A name names one product: each slot has its own (adjective, material, item).
        names = self._product_names
        combo, kind = divmod(names[slot], len(_ITEMS))
        item, low, high = _ITEMS[kind]
        adjective, material = (
            _ADJECTIVES[combo % len(_ADJECTIVES)],
            _MATERIALS[combo // len(_ADJECTIVES)],
        )
        handle = name = f"{adjective} {material} {item}"
        # The slot's rank among those selling the same item picks its local colour.
        rank = sum(c % len(_ITEMS) == kind for c in names[:slot])
        name = local_name(self.fakes, self.locale, kind, rank) or name
        dollars = rng.randint(low, high) * self.market.price_factor
        # Shops price at .99 or at whole units; JPY has no minor unit at all.
        if self.market.currency == "JPY":
            price = max(100, round(dollars / 100) * 100)
        elif rng.random() < 0.5:
            price = int(dollars // 100) * 100 + 99
        else:
            price = round(dollars / 100) * 100
        product = {
            "id": self.ids.hex("prod_", slot, rng),
            "name": name,
            "price": price,
            "sku_id": self.ids.hex("sku_", slot, rng) if rng.random() < 0.3 else None,
        }
        # The shop's own handle for it (Voucherify's source_id): unique, as the slot is.
        product["source_id"] = f"{handle.lower().replace(' ', '-')}-{slot + 1}"
        product = self._products[slot] = Entity(product)
        self._products_by_id[product["id"]] = product
        return product

    @cached_property
    def _product_names(self) -> list[int]:
        """Distinct (item, adjective, material) combinations, one per product slot."""
        combos = len(_ITEMS) * len(_ADJECTIVES) * len(_MATERIALS)
        return self._rng("product-names").sample(range(combos), PRODUCT_SLOTS)

    def line(self, product: dict, quantity: int, price: int | None = None) -> dict:
        """An undiscounted order line; the same product, quantity and price give the same
        object (`price` is the shop's for this order, for a product the catalogue does
        not price: shipping).

        Shared lines render once per run (the `entity` filter caches by object), and
        the number of them is bounded by products x quantities. Treat them as read-only.
        """
        key = (product["id"], quantity, price)
        found = self._lines.get(key)
        if found is None:
            if price is None:
                price = product["price"] or 0
            found = self._lines[key] = Entity(
                {
                    "id": None,
                    "product": product,
                    "quantity": quantity,
                    "price": price,
                    "amount": price * quantity,
                    "discount_amount": 0,
                    "discount_quantity": 0,
                    "subtotal_amount": price * quantity,
                    # The shop's own id of what the line sells, as real lines carry it.
                    **_line_source(product),
                }
            )
        return found

    def campaign(self, kind: str, slot: int, now_ms: int) -> dict:
        """A promotion campaign (with one tier) or a coupon campaign; `kind` says which."""
        key = (kind, slot)
        found = self._campaigns.get(key)
        if found is not None:
            return found
        rng = self._rng("campaign", kind, slot)
        # At least 5 days old: before any order that redeems it or that its distribution
        # answers (orders are at most 3 days old, lifecycles add up to 18 hours).
        created = days_ago(rng, now_ms, 5, 90)
        year = 1970 + created // 31_556_952_000
        discount, offer_text = discounts.draw(
            rng, self.market, lambda: self.product(rng.randrange(PRODUCT_SLOTS))
        )
        number = slot + 1 + CAMPAIGN_SLOTS * (kind == "promotion")
        campaign: dict[str, Any] = {
            "id": self.ids.alnum("camp_", slot * 2 + (kind == "promotion"), rng),
            # Promotions are numbered after the coupon campaigns: a name names one campaign.
            "name": f"{rng.choice(_SEASONS)}-{year}-{number}",
            "kind": kind,
            "discount": discount,
            "created_at": iso_ms(created),
            "updated_at": iso_ms(created + rng.randint(60_000, 86_400_000)),
            "auto_join": rng.random() < 0.3,
            "join_once": rng.random() < 0.5,
        }
        if kind == "promotion":
            campaign["tier"] = Entity(
                {
                    "id": self.ids.alnum("promo_", slot, rng),
                    "campaign_id": campaign["id"],
                    "name": offer_text,
                    "banner": offer_text,
                }
            )
        else:
            season = campaign["name"].rsplit("-", 2)[0]
            campaign["code_config"] = codes.coupon_config(season, slot, rng)
            campaign["code_key"] = slot  # its codes' and vouchers' numbering (cards.py)
            campaign["voucher"] = {
                "type": "DISCOUNT_VOUCHER",
                "discount": discount,
                "redemption": {"quantity": None, "redeemed_quantity": 0},
                "code_config": campaign["code_config"],
                "is_referral_code": False,
            }
        # The attributes only the campaign events show, drawn after those orders use.
        campaign = self._campaigns[key] = Entity(full_campaign(self, campaign, rng, created))
        return campaign

    def memo(self, key: object, make: Callable[[], T]) -> T:
        """What `make` builds for `key`, built once per run (programs.py's entities)."""
        found = self._memo.get(key)
        if found is None:
            found = self._memo[key] = make()
        return found

    def recall(self, key: object, make: Callable[[], T]) -> T:
        """memo() for the numerous: the `recall_limit` most recently used are kept, and
        one that comes back after that is built again. So `make` must build the same
        thing every time: from the seed and the anchor (anchor_ms), not an event's clock.
        """
        recalled = self._recalled
        found = recalled.get(key)
        if found is None:
            found = recalled[key] = make()
            if len(recalled) > self.recall_limit:
                recalled.popitem(last=False)
        else:
            recalled.move_to_end(key)
        return found

    def anchor_ms(self, now_ms: int) -> int:
        """The run's fixed "now" for what recall() rebuilds: the first clock reading the
        world was given. An event's own clock moves on; a card rebuilt an hour into a run
        must keep the dates it was first built with."""
        if self._anchor_ms is None:
            self._anchor_ms = now_ms
        return self._anchor_ms


def _line_source(product: dict) -> dict:
    """source_id and related_object of a line: the SKU's handle when it sells a SKU."""
    handle = product.get("source_id")
    if handle is None:  # shipping: the official example's line has neither
        return {}
    if product["sku_id"]:
        return {"source_id": f"{handle}-{product['sku_id'][-4:]}", "related_object": "sku"}
    return {"source_id": handle, "related_object": "product"}

"""The run's stable cast: customers, products and campaigns that events draw from.

A shop sees the same customers and products again and again, so these are entities
with stable ids, built once per slot from the run's seed and cached. Their number is
bounded, so memory stays flat however many events a run makes.
"""

from __future__ import annotations

import random
import re
import unicodedata
from collections.abc import Callable
from functools import cached_property
from typing import Any, TypeVar

from faker import Faker

from simulator.generation import codes
from simulator.generation.programs import FRESH, full_campaign
from simulator.generation.values import (
    Entity,
    IdMinter,
    SeededFaker,
    base62,
    below,
    format_money,
    iso_ms,
    market,
)
from simulator.seeds import derive_seed

T = TypeVar("T")

CUSTOMER_SLOTS = 5000
PRODUCT_SLOTS = 240
CAMPAIGN_SLOTS = 12
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

SHIPPING = Entity(id="prod_5h1pp1ng", name="Shipping", price=None, sku_id=None)


# Letters that Unicode does not decompose into a Latin letter and a mark: without this,
# Michał's email would be micha.… and Geißler's geiler.
_FOLD = str.maketrans(
    {"ł": "l", "Ł": "L", "ß": "ss", "æ": "ae", "Æ": "Ae", "ø": "o", "Ø": "O", "đ": "d",
     "Đ": "D", "œ": "oe", "Œ": "Oe", "þ": "th", "Þ": "Th", "ı": "i"}
)  # fmt: skip


def _ascii(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text.translate(_FOLD)).encode("ascii", "ignore")
    return re.sub(r"[^a-z]", "", folded.decode().lower())


def _consonants(word: str, n: int) -> str:
    return re.sub("[aeiou]", "", word)[:n] or word[:n]


Person = tuple[str, str, str, str, str]  # first, last, their Latin readings, email domain


def _person(fake: Faker) -> Person:
    """A name as Faker gives it, with what an email can be made of."""
    if fake.locales[0] == "ja_JP":
        # Kanji have no letters to fold: the romanized reading of the same name has.
        (first, _, first_latin), (last, _, last_latin) = (
            fake.first_name_pair(),
            fake.last_name_pair(),
        )
    else:
        first, last = fake.first_name(), fake.last_name()
        first_latin, last_latin = first, last
    return first, last, first_latin, last_latin, fake.free_email_domain()


def _identity(person: Person, number: int, variant: int, japanese: bool) -> tuple[str, str, str]:
    """A name with an email and a shop-side source_id that plausibly belong to it.

    `number` is the customer's own (World.customer): it ends the email's local part
    and the source_id, and names are letters only, so two customers never share either,
    even when Faker gives them the same name (ja_JP has 51 x 50 of them).
    """
    first, last, first_latin, last_latin, domain = person
    name = f"{last} {first}" if japanese else f"{first} {last}"
    a, b = _ascii(first_latin), _ascii(last_latin)
    if a and b:
        local = (f"{a}.{b}", f"{a}_{b}", f"{a[0]}{b}", f"{a}{b[0]}")[variant % 4]
        # Like the docs' "jck-wbhk": the consonants of each name, a few of them.
        source_id = f"{_consonants(a, 3)}-{_consonants(b, 4)}-{number}"
    else:
        local, source_id = "customer", f"cust-{number}"
    return name, f"{local}{number}@{domain}", source_id


class World:
    """Customers, products and campaigns for one seed and locale."""

    def __init__(self, seed: int, locale: str) -> None:
        self.seed = seed
        self.locale = locale
        self.market = market(locale)
        self.fakes = SeededFaker(locale, seed)
        self._number_offset = self._rng("customer-number").randrange(CUSTOMER_SLOTS)
        self.ids = IdMinter(seed)
        self._customers: dict[int, dict] = {}
        self._products: dict[int, dict] = {}
        self._campaigns: dict[tuple[str, int], dict] = {}
        self._distributions: dict[tuple[str, str], dict] = {}
        self._webhooks: dict[str, dict] = {}
        self._memo: dict[object, Any] = {}
        self._lines: dict[tuple[str, int], dict] = {}

    def _rng(self, *parts: object) -> random.Random:
        return random.Random(derive_seed(self.seed, *parts))

    @cached_property
    def project_id(self) -> str:
        return "proj_" + base62(self._rng("project").getrandbits(48), 8)

    @cached_property
    def app_id(self) -> str:
        """The API key's application id that events of this run come from."""
        return "app_" + base62(self._rng("app").getrandbits(128), 22)

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
        customer = self._make_customer(slot, self._rng("customer", slot), number, person)
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
        return self._make_customer(FRESH | index, rng, 1000 + CUSTOMER_SLOTS + index, person)

    def _pooled(self, k: int) -> Person:
        return self.memo(("person", k), lambda: self.fakes.at("person", k, _person))

    def _make_customer(
        self, id_number: int, rng: random.Random, number: int, person: Person
    ) -> dict:
        variant = rng.randrange(2048)  # the draw the identity took before: ids stay put
        name, email, source_id = _identity(person, number, variant, self.locale == "ja_JP")
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
        }
        return Entity(customer)

    def product(self, slot: int) -> dict:
        found = self._products.get(slot)
        if found is not None:
            return found
        rng = self._rng("product", slot)
        # A name names one product: each slot has its own (adjective, material, item).
        combo = self._product_names[slot]
        item, low, high = _ITEMS[combo % len(_ITEMS)]
        combo //= len(_ITEMS)
        adjective, material = (
            _ADJECTIVES[combo % len(_ADJECTIVES)],
            _MATERIALS[combo // len(_ADJECTIVES)],
        )
        name = f"{adjective} {material} {item}"
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
        product["source_id"] = f"{name.lower().replace(' ', '-')}-{slot + 1}"
        product = self._products[slot] = Entity(product)
        return product

    @cached_property
    def _product_names(self) -> list[int]:
        """Distinct (item, adjective, material) combinations, one per product slot."""
        combos = len(_ITEMS) * len(_ADJECTIVES) * len(_MATERIALS)
        return self._rng("product-names").sample(range(combos), PRODUCT_SLOTS)

    def line(self, product: dict, quantity: int) -> dict:
        """An undiscounted order line; the same product and quantity give the same object.

        Shared lines render once per run (the `entity` filter caches by object), and
        the number of them is bounded by products x quantities. Treat them as read-only.
        """
        key = (product["id"], quantity)
        found = self._lines.get(key)
        if found is None:
            price = product["price"] or 0
            found = self._lines[key] = Entity(
                {
                    "id": None,
                    "product": product,
                    "quantity": quantity,
                    "price": price,
                    "amount": price * quantity,
                    "discount_amount": 0,
                    "subtotal_amount": price * quantity,
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
        created = now_ms - rng.randint(2, 90) * 86_400_000 - rng.randint(0, 86_399_999)
        year = 1970 + created // 31_556_952_000
        discount = self._discount(rng)
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
                    "name": _offer_text(discount, self.market.currency),
                    "banner": _offer_text(discount, self.market.currency),
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

    def _discount(self, rng: random.Random) -> dict:
        effect = "APPLY_TO_ITEMS" if rng.random() < 0.4 else "APPLY_TO_ORDER"
        if rng.random() < 0.6:
            return {"type": "PERCENT", "percent_off": rng.choice((5, 10, 15, 20, 25, 30)),
                    "effect": effect}  # fmt: skip
        amount = round(rng.choice((500, 1000, 1500, 2000)) * self.market.price_factor)
        return {"type": "AMOUNT", "amount_off": amount, "effect": effect}


def _offer_text(discount: dict, currency: str) -> str:
    where = "selected items" if discount["effect"] == "APPLY_TO_ITEMS" else "your order"
    if discount["type"] == "PERCENT":
        return f"{discount['percent_off']}% off {where}"
    return f"{format_money(discount['amount_off'], currency)} off {where}"

"""The primitives payloads are made of: unique ids, timestamps, money, and seeded Faker values."""

from __future__ import annotations

import bisect
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from hashlib import blake2b
from typing import Any, TypeVar

from faker import Faker

from simulator.errors import UsageError
from simulator.seeds import derive_seed, mix64

_MASK64 = (1 << 64) - 1
T = TypeVar("T")
_ALNUM = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
# Two base-62 digits at a time: a 64-bit number becomes 11 characters in 6 lookups.
_PAIRS = [a + b for a in _ALNUM for b in _ALNUM]


class Entity(dict):
    """A dict that stays the same for a whole run: a customer, a product, a campaign.

    Templates render an Entity's JSON once and reuse it (render.entity); per-event
    values are plain dicts and are rendered every time. Treat an Entity as read-only.
    """

    # The underscore keeps it out of templates: the sandbox refuses such attributes, and
    # it holds the environment, which a user template must never reach.
    __slots__ = ("_rendered",)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # (environment, {kind: JSON text}) of its renderings, one per partial that shows
        # it: kept on the object, the cache lives exactly as long as the entity does.
        self._rendered: tuple | None = None


def base62(n: int, width: int) -> str:
    """`n` in base 62, left-padded with '0' to `width` characters (the low digits if longer)."""
    pairs = _PAIRS
    out = ""
    while n and len(out) < width:
        n, r = divmod(n, 3844)
        out = pairs[r] + out
    return out[-width:].rjust(width, "0")


def _base62_64(n: int) -> str:
    """A 64-bit `n` as exactly 11 base-62 digits: base62(n, 11) unrolled, twice as fast.

    62**11 > 2**64, so the sixth pair's first digit is always '0' and is dropped.
    """
    pairs = _PAIRS
    n, a = divmod(n, 3844)
    n, b = divmod(n, 3844)
    n, c = divmod(n, 3844)
    n, d = divmod(n, 3844)
    n, e = divmod(n, 3844)
    return (pairs[n] + pairs[e] + pairs[d] + pairs[c] + pairs[b] + pairs[a])[1:]


# Random tails only need to look random, not to be exact base 62: mapping bytes through a
# table is ~5x faster than dividing. The slight bias towards the first 8 letters is
# invisible in an id.
_BYTE_TO_ALNUM = bytes(ord(_ALNUM[b % 62]) for b in range(256))


def alnum_tail(rng: random.Random, width: int) -> str:
    return rng.randbytes(width).translate(_BYTE_TO_ALNUM).decode()


class IdMinter:
    """Mints Voucherify-shaped ids that are unique per (kind, index) within a seed.

    Shapes (FACTS.md): 24 alphanumerics for cust_/ord_/camp_/promo_, 32 for v_/pub_,
    18 lower-case hex for prod_/sku_/ordli_/r_/rr_/whs_/evcus_, distr_ + 26, v- + 18 hex.
    The first 11 (alnum) or 16 (hex) characters carry the unique part; the rest is drawn
    from the event's own random stream so ids do not look sequential.
    """

    __slots__ = ("_salts", "_seed")

    def __init__(self, seed: int) -> None:
        self._seed = seed
        self._salts: dict[str, int] = {}

    def _unique(self, prefix: str, index: int) -> int:
        # Each prefix has its own salt so cust_ and ord_ with the same index differ.
        salt = self._salts.get(prefix)
        if salt is None:
            salt = self._salts[prefix] = derive_seed(self._seed, "id", prefix)
        return mix64(salt ^ index)

    def alnum(self, prefix: str, index: int, rng: random.Random, length: int = 24) -> str:
        return prefix + _base62_64(self._unique(prefix, index)) + alnum_tail(rng, length - 11)

    def keyed(self, prefix: str, index: int, length: int = 24) -> str:
        """An id whose tail, too, is a function of `index`: the same id whichever event
        mints it, in every run of the seed (a voucher, whose code is `index`'s as well)."""
        head = self._unique(prefix, index)
        tail = blake2b(head.to_bytes(8, "little"), digest_size=length - 11).digest()
        return prefix + _base62_64(head) + tail.translate(_BYTE_TO_ALNUM).decode()

    def hex(self, prefix: str, index: int, rng: random.Random, length: int = 18) -> str:
        head = self._unique(prefix, index)
        if length == 18:  # every built-in hex id: a table beats a nested format spec
            return f"{prefix}{head:016x}{_HEX2[rng.getrandbits(8)]}"
        return f"{prefix}{head:016x}{rng.getrandbits(4 * (length - 16)):0{length - 16}x}"


_HEX2 = [f"{i:02x}" for i in range(256)]


# Cheaper draws for the per-event hot path: random.Random's choice/randrange/choices go
# through _randbelow and cost several times more. Float bias at these sizes is nil.
def below(rng: random.Random, n: int) -> int:
    """A uniform integer in [0, n)."""
    return int(rng.random() * n)


def between(rng: random.Random, low: int, high: int) -> int:
    """A uniform integer in [low, high]."""
    return low + int(rng.random() * (high - low + 1))


def weighted(rng: random.Random, values: tuple, cumulative: tuple[float, ...]) -> Any:
    """values[i] with probability given by `cumulative` (from itertools.accumulate)."""
    return values[bisect.bisect(cumulative, rng.random() * cumulative[-1])]


_ISO_SECONDS: dict[int, str] = {}


def iso_ms(epoch_ms: int) -> str:
    """Voucherify's timestamp form: ISO 8601 UTC with milliseconds and Z."""
    seconds, ms = divmod(epoch_ms, 1000)
    prefix = _ISO_SECONDS.get(seconds)
    if prefix is None:
        # Events of a run share few distinct seconds: format each once (bounded cache).
        # The moments of cards and codes are spread over months, and miss it: their day
        # is formatted once, their time of day with table lookups.
        if len(_ISO_SECONDS) > 4096:
            _ISO_SECONDS.clear()
        day, second = divmod(seconds, 86_400)
        date = _ISO_DAYS.get(day)
        if date is None:
            if len(_ISO_DAYS) > 4096:
                _ISO_DAYS.clear()
            date = _ISO_DAYS[day] = datetime.fromtimestamp(day * 86_400, timezone.utc).strftime(
                "%Y-%m-%dT"
            )
        hour, second = divmod(second, 3600)
        minute, second = divmod(second, 60)
        prefix = _ISO_SECONDS[seconds] = f"{date}{_TWO[hour]}:{_TWO[minute]}:{_TWO[second]}"
    return prefix + _MS_SUFFIX[ms]


_ISO_DAYS: dict[int, str] = {}
_TWO = [f"{n:02d}" for n in range(60)]


_MS_SUFFIX = [f".{ms:03d}Z" for ms in range(1000)]


def parse_instant(text: str) -> int:
    """An ISO 8601 instant (`2024-03-12T14:41:49.128Z`, offsets allowed) as epoch ms."""
    try:
        d = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise UsageError(
            f"invalid time '{text}': use ISO 8601, e.g. 2024-03-12T14:41:49.128Z"
        ) from None
    if d.tzinfo is None:
        d = d.replace(tzinfo=timezone.utc)
    return round(d.timestamp() * 1000)


@dataclass(frozen=True)
class Market:
    """What a locale implies for money and regions."""

    currency: str
    order_region: str
    customer_region: str
    # Prices are drawn in "catalogue units" and multiplied by this to get minor units,
    # so a yen catalogue is not a hundred times cheaper than a dollar one.
    price_factor: float


MARKETS: dict[str, Market] = {
    "en_US": Market("USD", "US", "NA", 1.0),
    "en_CA": Market("CAD", "CA", "NA", 1.3),
    "en_GB": Market("GBP", "UK", "EMEA", 0.8),
    "en_AU": Market("AUD", "AU", "APAC", 1.5),
    "de_DE": Market("EUR", "DE", "EMEA", 0.9),
    "fr_FR": Market("EUR", "FR", "EMEA", 0.9),
    "es_ES": Market("EUR", "ES", "EMEA", 0.9),
    "it_IT": Market("EUR", "IT", "EMEA", 0.9),
    "nl_NL": Market("EUR", "NL", "EMEA", 0.9),
    "pl_PL": Market("PLN", "PL", "EMEA", 4.0),
    "pt_BR": Market("BRL", "BR", "LATAM", 5.0),
    # JPY has no minor unit: amounts are whole yen, roughly 150 per dollar.
    "ja_JP": Market("JPY", "JP", "APAC", 1.5),
}
LOCALES = tuple(MARKETS)


def market(locale: str) -> Market:
    try:
        return MARKETS[locale]
    except KeyError:
        raise UsageError(f"unknown locale '{locale}': choose one of {', '.join(LOCALES)}") from None


def format_money(minor: int, currency: str) -> str:
    """Minor units as a human amount: 1500 USD -> '15.00 USD'; JPY has no minor unit."""
    if currency == "JPY":
        return f"{minor} {currency}"
    return f"{minor / 100:.2f} {currency}"


class SeededFaker:
    """One Faker for a locale, seeded afresh for every value it makes.

    Value `slot` of a field is always the same for a given seed and locale, whichever
    order slots are first asked for in, so output does not depend on how many payloads
    a run makes or how they are split between worker processes. Callers cache what
    they keep (World caches its customers), so no value is made twice.
    """

    def __init__(self, locale: str, seed: int) -> None:
        market(locale)  # validates
        self.faker = Faker(locale, use_weighting=False)
        self._seed = seed

    def at(self, field: str, slot: object, make: Callable[[Faker], T]) -> T:
        self.faker.seed_instance(derive_seed(self._seed, field, slot))
        return make(self.faker)

"""The run's vouchers: coupon codes, gift cards, loyalty cards and referral codes.

A voucher is built once per slot and kept: its id, code, campaign, holder and dates
are the same in every event that shows it. Its state (redemptions, balance, points,
`updated_at`, `active`) belongs to one event: `with_state` gives a copy that holds it,
and its numbers add up as Voucherify's do (FACTS below).

FACTS, from the official examples: a gift card's `gift.amount` is every credit it was
given and `gift.balance` what is left, `amount - redemption.redeemed_amount`; a loyalty
card's `loyalty_card.points` is every point it earned and `balance` what is left,
`points - redemption.redeemed_points`. Adding credits or points raises both by the
amount added; a balance object shows `total` (the new amount or points), `balance` (the
new balance) and `amount` or `points` (the change).
"""

from __future__ import annotations

import random

from simulator.generation import programs
from simulator.generation.codes import CodeSpace
from simulator.generation.values import Entity, iso_ms, parse_instant
from simulator.generation.world import CAMPAIGN_SLOTS, World
from simulator.seeds import derive_seed, mix64

DAY = programs.DAY
COUPONS_PER_CAMPAIGN = 400
ASSETS = "https://dl.voucherify.io/api/v1/assets"
# A voucher is code number n of its campaign (codes.py), and its id is minted from the
# campaign and n alone: the same voucher has the same id and code in every event and every
# run of the seed. A coupon campaign's first COUPONS_PER_CAMPAIGN numbers are the run's
# coupons, then three per event index: a code made for the event, the code an order's
# distribution publishes, and the code an order redeems. A program's are its customers' slots.
# A campaign's code_key is under 256 and n under 2**56: the id minter's key fits 64 bits.
FOR_EVENT, PUBLISHED, REDEEMED = 0, 1, 2
_SHARE = 1 / (1 << 53)


def created_ms(world: World, campaign: dict) -> int:
    """When a campaign was created, in epoch ms (parsed once per campaign)."""
    key = ("created-ms", campaign["id"])
    return world.memo(key, lambda: parse_instant(campaign["created_at"]))


def _rng(world: World, *parts: object) -> random.Random:
    return random.Random(derive_seed(world.seed, "cards", *parts))


def coupon(world: World, campaign_slot: int, n: int, now_ms: int) -> dict:
    """Code `n` of one of the run's coupon campaigns."""
    now_ms = world.anchor_ms(now_ms)
    return world.recall(
        ("coupon", campaign_slot, n),
        lambda: _voucher(
            world,
            world.campaign("coupons", campaign_slot, now_ms),
            n,
            None,
            now_ms,
        ),
    )


def any_coupon(world: World, rng: random.Random, now_ms: int) -> dict:
    slot, n = int(rng.random() * CAMPAIGN_SLOTS), int(rng.random() * COUPONS_PER_CAMPAIGN)
    return coupon(world, slot, n, now_ms)


def card(world: World, kind: str, program_slot: int, customer_slot: int, now_ms: int) -> dict:
    """The gift card, loyalty card or referral code a customer holds in a program."""
    now_ms = world.anchor_ms(now_ms)

    def make() -> dict:
        campaign = programs.program(world, kind, program_slot, now_ms)
        holder = world.customer(customer_slot)
        return _voucher(world, campaign, customer_slot, holder, now_ms)

    return world.recall((kind, program_slot, customer_slot), make)


class _Series:
    """How a campaign's codes were made: their code space, the moment of its bulk
    generation and the share of its codes that one made."""

    __slots__ = ("batch", "generated", "salt", "space")

    def __init__(self, world: World, campaign: dict) -> None:
        self.salt = derive_seed(world.seed, "codes", campaign["code_key"])
        self.space = CodeSpace(campaign["voucher"]["code_config"], self.salt)
        rng = _rng(world, "code-times", campaign["code_key"])
        # Voucherify generates a campaign's first codes in bulk as it creates the campaign,
        # and stamps them all with one moment: the official examples' REFAPI-mk3 and
        # REFAPI-1L8 share theirs, 343 ms after their campaign. An AUTO_UPDATE campaign
        # makes the rest when they are needed (a publication, a customer joining), each
        # at its own moment, as SPRING-2024-tPz was three weeks after its campaign.
        self.generated = created_ms(world, campaign) + rng.randint(250, 1500)
        self.batch = rng.uniform(0.15, 0.5)


def _series(world: World, campaign: dict) -> _Series:
    return world.memo(("series", campaign["id"]), lambda: _Series(world, campaign))


def _made(series: _Series, key: int, latest_ms: int) -> int:
    """When voucher `key` was made: in the bulk generation, or after it by `latest_ms`."""
    share = (mix64(series.salt ^ key) >> 11) * _SHARE
    if share < series.batch or latest_ms <= series.generated:
        return series.generated
    return (
        series.generated
        + 1
        + int((share - series.batch) / (1 - series.batch) * (latest_ms - series.generated))
    )


def _event_number(series: _Series, index: int, which: int) -> int:
    """The number of the code of a coupon campaign that event `index` uses (`which`)."""
    # Every campaign's space holds 10^12 codes or more: exactly one per event for a run's
    # first 3 x 10^11 events. Indexes that Locust's workers share out reach 2^56
    # (integrations/partition.py): they wrap round the space, where two events collide
    # only if their indexes differ by a multiple of its size.
    # (A key keeps n below 2^56, under the campaign's code_key.)
    span = min(series.space.size, 1 << 56) - COUPONS_PER_CAMPAIGN
    return COUPONS_PER_CAMPAIGN + (3 * index + which) % span


def event_voucher(world: World, campaign: dict, index: int, which: int, latest_ms: int) -> dict:
    """The id, code and creation of a code of coupon `campaign` that event `index` uses
    (`which`: PUBLISHED or REDEEMED), made by `latest_ms` (kept to the campaign's life)."""
    series = _series(world, campaign)
    n = _event_number(series, index, which)
    key = campaign["code_key"] << 56 | n
    return {
        "id": world.ids.keyed("v_", key, 32),
        "code": series.space.code(n),
        "created_at": iso_ms(_made(series, key, latest_ms)),
    }


def _voucher(world: World, campaign: dict, n: int, holder: dict | None, now_ms: int) -> dict:
    kind = campaign["kind"]
    key = campaign["code_key"] << 56 | n
    rng = _rng(world, key)
    config = campaign["voucher"]
    series = _series(world, campaign)
    vid = world.ids.keyed("v_", key, 32)
    code = series.space.code(n)
    # Made before any event can use it: a rollback's redemption reaches back 30 days.
    created = _made(series, key, now_ms - 31 * DAY)
    voucher = {
        "id": vid,
        "code": code,
        "campaign": campaign["name"],
        "campaign_id": campaign["id"],
        "category": campaign["category"],
        "category_id": campaign["category_id"],
        "categories": campaign["categories"],
        "type": config["type"],
        "discount": config.get("discount"),
        "gift": None,
        "loyalty_card": None,
        "start_date": None,
        "expiration_date": None,
        "validity_timeframe": None,
        "validity_day_of_week": None,
        "validity_hours": None,
        "active": True,
        "additional_info": None,
        "metadata": {},
        "assets": {
            "qr": {"id": _uuid(rng), "url": f"{ASSETS}/qr/{_token(rng)}"},
            "barcode": {"id": _uuid(rng), "url": f"{ASSETS}/barcode/{_token(rng)}"},
        },
        "is_referral_code": kind == "referral",
        "created_at": iso_ms(created),
        "updated_at": iso_ms(min(now_ms - 1, created + rng.randint(1000, 30 * DAY))),
        "redemption": {
            "quantity": 1 if kind == "coupons" and rng.random() < 0.6 else None,
            "redeemed_quantity": 0,
            "object": "list",
            "url": f"/v1/vouchers/{code}/redemptions?page=1&limit=10",
        },
        "publish": {
            "object": "list",
            "count": 1 if holder else 0,
            "url": f"/v1/vouchers/{code}/publications?page=1&limit=10",
        },
        "kind": kind,
    }
    if holder:  # a code nobody holds has neither key
        voucher["holder_id"] = holder["id"]
    if kind == "referral" and holder:
        voucher["referrer_id"] = holder["id"]
    if kind == "gift":
        voucher["gift"] = {**config["gift"], "balance": config["gift"]["amount"]}
    if kind == "loyalty":
        voucher["loyalty_card"] = {"points": 0, "balance": 0}
    return Entity(voucher)


def fresh(world: World, campaign: dict, index: int, created_ms: int) -> dict:
    """A voucher of `campaign` made for event `index` at `created_ms`: never redeemed."""
    series = _series(world, campaign)
    voucher = _voucher(
        world, campaign, _event_number(series, index, FOR_EVENT), None, created_ms + 1
    )
    # Made on demand as the event needs it, and never before its campaign.
    created = max(created_ms, series.generated)
    return {**voucher, "created_at": iso_ms(created), "updated_at": None}


def with_state(voucher: dict, rng: random.Random, now_ms: int, redeemed: int | None = None) -> dict:
    """A copy of `voucher` as one event shows it: redemptions so far, balance, updated_at."""
    state = {**voucher, "updated_at": iso_ms(now_ms - int(rng.random() * 900) - 5)}
    quantity = voucher["redemption"]["quantity"]
    if redeemed is None:
        redeemed = int(rng.random() * (quantity + 1 if quantity else 6))
    redemption = {**voucher["redemption"], "redeemed_quantity": redeemed}
    if voucher["kind"] == "gift":
        gift = voucher["gift"]
        spent = min(gift["amount"], redeemed * gift["amount"] // 5)
        redemption["redeemed_amount"] = spent
        state["gift"] = {**gift, "balance": gift["amount"] - spent}
    elif voucher["kind"] == "loyalty":
        points = redeemed * 100 + int(rng.random() * 2000)
        redemption["redeemed_points"] = redeemed * 100
        state["loyalty_card"] = {"points": points, "balance": points - redeemed * 100}
    state["redemption"] = redemption
    return state


def _uuid(rng: random.Random) -> str:
    """A version 4 UUID from the event's random stream (uuid.UUID is 5x slower)."""
    h = f"{rng.getrandbits(128) & _UUID_MASK | _UUID_V4:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


_UUID_MASK = ~(0xF000 << 64 | 0xC000 << 48) & (1 << 128) - 1
_UUID_V4 = 0x4000 << 64 | 0x8000 << 48


def _token(rng: random.Random) -> str:
    return programs.token(rng, 32)


def add_credits(state: dict, amount: int) -> tuple[dict, dict]:
    """(gift card after, balance object): `amount` credits added (negative: removed)."""
    gift = state["gift"]
    after = {
        **state,
        "gift": {**gift, "amount": gift["amount"] + amount, "balance": gift["balance"] + amount},
    }
    balance = {
        "type": "gift_voucher",
        "total": after["gift"]["amount"],
        "amount": amount,
        "balance": after["gift"]["balance"],
        "object": "balance",
        "related_object": {"id": state["id"], "type": "voucher"},
    }
    return after, balance


def add_points(state: dict, points: int) -> tuple[dict, dict]:
    """(loyalty card after, balance object): `points` earned, or expired if negative."""
    card = state["loyalty_card"]
    after = {
        **state,
        "loyalty_card": {
            **card,
            "points": card["points"] + points,
            "balance": card["balance"] + points,
        },
    }
    balance = {
        "type": "loyalty_card",
        "total": after["loyalty_card"]["points"],
        "points": points,
        "balance": after["loyalty_card"]["balance"],
        "object": "balance",
        "related_object": {"id": state["id"], "type": "voucher"},
    }
    return after, balance


def spend_points(state: dict, points: int) -> dict:
    """The loyalty card after a reward bought with `points`: its balance goes down and its
    redeemed points up by as much; the points it earned stay."""
    card, redemption = state["loyalty_card"], state["redemption"]
    return {
        **state,
        "loyalty_card": {**card, "balance": card["balance"] - points},
        "redemption": {
            **redemption,
            "redeemed_quantity": redemption["redeemed_quantity"] + 1,
            "redeemed_points": redemption["redeemed_points"] + points,
        },
    }

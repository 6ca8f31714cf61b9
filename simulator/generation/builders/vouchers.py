"""voucher.{created,updated,enabled,disabled,deleted,published}, publication.succeeded,
customer.publication.succeeded and distribution.manual_distribution_schedule.

A created voucher, and a coupon published to a customer, is new: its own code, made
a moment before. Gift cards, loyalty cards and referral codes are published to the
customer who holds them, so a customer's card is the same wherever it appears.
"""

from __future__ import annotations

import random

from simulator.generation import cards, programs
from simulator.generation.builders.envelope import PLACEHOLDER_URL
from simulator.generation.builders.spec import EventSpec
from simulator.generation.values import below, between, iso_ms
from simulator.generation.world import CAMPAIGN_SLOTS, CUSTOMER_SLOTS, World

_HELD = ("gift", "loyalty", "referral")
_SLOTS = {
    "gift": programs.GIFT_SLOTS,
    "loyalty": programs.LOYALTY_SLOTS,
    "referral": programs.REFERRAL_SLOTS,
}
_CHANNELS = ("API", "voucherify-web-ui", "Automation")


def voucher_event(
    world: World, event: str, index: int, rng: random.Random, now_ms: int, spec: EventSpec
) -> dict:
    """Context for voucher.{created,updated,enabled,disabled,deleted}."""
    action = event.removeprefix("voucher.")
    if action == "created":
        voucher = new_coupon(world, index, rng, now_ms)
        voucher = {**voucher, "updated_at": None}
    else:
        voucher = cards.with_state(any_voucher(world, rng, now_ms), rng, now_ms)
        voucher["active"] = action != "disabled"
    return {
        "voucher": voucher,
        "campaign": campaign_of(world, voucher, now_ms),
        "entity_id": voucher["id"],
        "event_source": world.portal_user if rng.random() < 0.6 else world.event_source,
    }


def any_voucher(world: World, rng: random.Random, now_ms: int) -> dict:
    """One of the run's vouchers: a coupon code or a customer's card, half and half."""
    if rng.random() < 0.5:
        return cards.any_coupon(world, rng, now_ms)
    return held(world, _HELD[below(rng, 3)], below(rng, CUSTOMER_SLOTS), rng, now_ms)


def held(world: World, kind: str, customer_slot: int, rng: random.Random, now_ms: int) -> dict:
    """The card (or referral code) a customer holds in one of the run's `kind` programs."""
    return cards.card(world, kind, below(rng, _SLOTS[kind]), customer_slot, now_ms)


def campaign_of(world: World, voucher: dict, now_ms: int) -> dict:
    """The run's campaign a voucher belongs to."""
    key = ("campaign-of", voucher["campaign_id"])
    return world.memo(key, lambda: _find(world, voucher, now_ms))


def _find(world: World, voucher: dict, now_ms: int) -> dict:
    kind = voucher["kind"]
    slots = CAMPAIGN_SLOTS if kind == "coupons" else _SLOTS[kind]
    for slot in range(slots):
        campaign = (
            world.campaign(kind, slot, now_ms)
            if kind == "coupons"
            else programs.program(world, kind, slot, now_ms)
        )
        if campaign["id"] == voucher["campaign_id"]:
            return campaign
    raise LookupError(voucher["campaign_id"])


def new_coupon(world: World, index: int, rng: random.Random, now_ms: int) -> dict:
    """A code of one of the run's coupon campaigns, made a moment ago for this event."""
    campaign = world.campaign("coupons", below(rng, CAMPAIGN_SLOTS), now_ms)
    return cards.fresh(world, campaign, index, now_ms - between(rng, 200, 5000))


def publication(
    world: World, index: int, rng: random.Random, now_ms: int, slot: int, coupon: bool = False
) -> tuple[dict, dict, dict]:
    """(campaign, voucher, publication): a voucher published to customer `slot` just now,
    a new coupon (always, with `coupon`) or one of the customer's cards."""
    customer = world.customer(slot)
    created = now_ms - between(rng, 5, 900)
    if coupon or rng.random() < 0.5:
        voucher = new_coupon(world, index, rng, now_ms)
        voucher = {
            **voucher,
            "holder_id": customer["id"],
            "updated_at": iso_ms(created),
            "publish": {**voucher["publish"], "count": 1},
        }
    else:
        voucher = cards.with_state(
            held(world, _HELD[below(rng, 3)], slot, rng, now_ms), rng, now_ms
        )
    channel = _CHANNELS[below(rng, 3)]
    published = {
        "id": world.ids.alnum("pub_", index, rng, length=32),
        "created_at": iso_ms(created),
        "customer_id": customer["id"],
        "tracking_id": customer["source_id"],
        "metadata": {},
        "channel": channel,
        "source_id": None,
        "result": "SUCCESS",
        "customer": customer,
        "vouchers_id": [voucher["id"]],
        "voucher": voucher,
    }
    return campaign_of(world, voucher, now_ms), voucher, published


def publication_event(
    world: World, event: str, index: int, rng: random.Random, now_ms: int, spec: EventSpec
) -> dict:
    """Context for voucher.published, publication.succeeded, customer.publication.succeeded."""
    slot = below(rng, CUSTOMER_SLOTS)
    customer = world.customer(slot)
    campaign, voucher, published = publication(world, index, rng, now_ms, slot)
    context = {
        "customer": customer,
        "campaign": campaign,
        "voucher": voucher,
        "publication": published,
        "entity_id": voucher["id"] if event == "voucher.published" else customer["id"],
    }
    if event == "publication.succeeded":
        context["entity_id"] = published["id"]
        context["vouchers"] = [voucher]
        context["user"] = {"id": world.portal_user["user_id"]}
        context["event_source"] = world.portal_user
        published["channel"] = "voucherify-web-ui"
        del published["voucher"]
    elif event == "voucher.published":
        context["created_at"] = iso_ms(now_ms - between(rng, 1, 40))
        del published["voucher"]
    return context


def manual_distribution_event(
    world: World, event: str, index: int, rng: random.Random, now_ms: int, spec: EventSpec
) -> dict:
    """Context for distribution.manual_distribution_schedule: a marketer's one-off send."""
    slot = below(rng, CUSTOMER_SLOTS)
    customer = world.customer(slot)
    campaign, voucher, published = publication(world, index, rng, now_ms, slot)
    # The distribution that sends this webhook: the envelope's source (builders/envelope).
    distribution = world.distribution("send-code", spec.target_url or PLACEHOLDER_URL)
    published["channel"] = "Dashboard"
    published["metadata"] = {
        "source_type": "distribution",
        "source_id": distribution["id"],
        "distribution_id": distribution["id"],
    }
    del published["voucher"]
    return {
        "distribution": {
            "id": distribution["id"],
            "created_at": iso_ms(now_ms - between(rng, 60_000, 3_600_000)),
            "updated_at": None,
            "status": "TO SEND",
            "consents": {"disabled": True},
            "set_live_at": None,
            "distribution_channels": ["webhook"],
        },
        "campaign": campaign,
        "voucher": voucher,
        "customer": customer,
        "publication": published,
        "event_source": world.portal_user,
    }

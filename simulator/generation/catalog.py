"""The event catalog: every Voucherify event, how it is built, delivered and described.

Built-in events are the rows of VOUCHERIFY below, one per webhook of the official spec
(fixtures/voucherify/OpenAPIWebhooks.json); each has its template in
`templates/voucherify/<event>.json.j2`. Every `<event>.json.j2` in a user folder is a
user event, or overrides the built-in template of the same name. Names starting with `_`
are partials.

FACTS, from the docs pages "Project settings webhooks" and "Distribution webhooks"
(v2024-01-01), which list the events each kind of webhook covers:
- Project webhooks (Project settings > Webhooks) send redemption.*, publication.succeeded,
  voucher.*, campaign.* (their promotion and loyalty tiers included), bus_val_rule.* and
  customer.created, .deleted, .rewarded and .rewarded.loyalty_points. Their envelope's
  `source` is `{"id": "wh_…", "object": "webhook", "target_url": …}` and `type` is the
  event type (docs example: voucher.published, event id evvou_…, channel USER_PORTAL).
- Distributions (Engagement > Distributions, a Webhook channel) send the customer.*
  activity events: orders, segments, loyalty tiers, loyalty points and pending points,
  gift credits, redemptions and their rollbacks, publications, rewards, custom events,
  and manual_distribution_schedule. Their `source` is the distribution
  (`distr_…`, object "distribution") and `type` is the name the user gave the webhook.
- customer.rewarded and customer.rewarded.loyalty_points are on both lists: each payload
  is drawn from either. customer.updated, customer.holder.assignment.* and
  customer.reward_redemptions.created/.pending are on neither list; we send the first
  two as project webhooks (the page says a profile change is a project event, and a
  holder assignment is kept like a validation rule assignment) and the last two as
  distributions, like their sibling reward_redemptions.completed.
- The spec names the business validation rule events bus_val_rule.*, but their examples,
  and the project webhook docs, name the type business_validation_rule.*: that is the
  type the envelope carries. The manual distribution event's type is
  manual_distribution_schedule.
- Event ids start with `ev` and three letters of what the event is about: evcus_
  (customer.*, the docs' distribution examples), evvou_ (voucher.*) and evred_
  (redemption.*) are documented; evcam_, evpub_, evbus_ and evdis_ follow that pattern.
"""

from __future__ import annotations

import difflib
import fnmatch
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from simulator.errors import UnknownEventError
from simulator.generation.builders.balances import accrual_event, gift_event, points_event
from simulator.generation.builders.campaigns import (
    campaign_event,
    loyalty_tier_event,
    promotion_tier_event,
)
from simulator.generation.builders.customers import custom_event, customer_event, holder_event
from simulator.generation.builders.loyalty import (
    points_rewarded,
    reward_redemption,
    rewarded,
    tier_event,
)
from simulator.generation.builders.orders import order_event
from simulator.generation.builders.pending import pending_event
from simulator.generation.builders.redemptions import redemption_event
from simulator.generation.builders.rules import assignment_event, rule_event
from simulator.generation.builders.spec import SCENARIO_CHOICES, EventSpec
from simulator.generation.builders.user import user_event
from simulator.generation.builders.vouchers import (
    manual_distribution_event,
    publication_event,
    voucher_event,
)
from simulator.generation.render import SUFFIX
from simulator.generation.world import World

Builder = Callable[[World, str, int, random.Random, int, EventSpec], dict]
ENVELOPES = ("v2024", "v2018", "none")
DISTRIBUTION, PROJECT, EITHER = "distribution", "project", "distribution or project"
_GLOB = frozenset("*?[")


@dataclass(frozen=True)
class Event:
    name: str
    source: str
    builder: Builder
    scenarios: tuple[str, ...]
    envelopes: tuple[str, ...]
    default_envelope: str
    signing: str
    description: str
    delivery: str = DISTRIBUTION  # who sends it: a distribution, a project webhook, either
    wire_type: str = ""  # the type the envelope carries, when it is not the name

    @property
    def template(self) -> str:
        return self.name + SUFFIX

    @property
    def group(self) -> str:
        return self.name.split(".", 1)[0]

    @property
    def type(self) -> str:
        return self.wire_type or self.name

    @property
    def id_prefix(self) -> str:
        """The event id's prefix: `ev` and three letters of the group (evcus_, evvou_)."""
        return "ev" + self.group[:3] + "_"


# name: (builder, delivery, description: the spec's summary of the webhook)
VOUCHERIFY: dict[str, tuple[Builder, str, str]] = {
    "customer.order.created": (order_event, DISTRIBUTION, "Order created"),
    "customer.order.updated": (order_event, DISTRIBUTION, "Order updated"),
    "customer.order.paid": (order_event, DISTRIBUTION, "Order paid"),
    "customer.order.canceled": (order_event, DISTRIBUTION, "Order canceled"),
    "campaign.created": (campaign_event, PROJECT, "Created"),
    "campaign.vouchers.generation.completed": (
        campaign_event, PROJECT, "Vouchers generation completed"),
    "campaign.disabled": (campaign_event, PROJECT, "Disabled"),
    "campaign.enabled": (campaign_event, PROJECT, "Enabled"),
    "campaign.updated": (campaign_event, PROJECT, "Updated"),
    "campaign.deleted": (campaign_event, PROJECT, "Deleted"),
    "campaign.loyalty_tier.created": (loyalty_tier_event, PROJECT, "Loyalty_tier created"),
    "campaign.loyalty_tier.deleted": (loyalty_tier_event, PROJECT, "Loyalty_tier deleted"),
    "campaign.loyalty_tier.updated": (loyalty_tier_event, PROJECT, "Loyalty_tier updated"),
    "campaign.promotion_tier.created": (promotion_tier_event, PROJECT, "Promotion_tier created"),
    "campaign.promotion_tier.disabled": (promotion_tier_event, PROJECT, "Promotion_tier disabled"),
    "campaign.promotion_tier.enabled": (promotion_tier_event, PROJECT, "Promotion_tier enabled"),
    "campaign.promotion_tier.updated": (promotion_tier_event, PROJECT, "Promotion_tier updated"),
    "campaign.promotion_tier.deleted": (promotion_tier_event, PROJECT, "Promotion_tier deleted"),
    "voucher.created": (voucher_event, PROJECT, "Created"),
    "voucher.disabled": (voucher_event, PROJECT, "Disabled"),
    "voucher.enabled": (voucher_event, PROJECT, "Enabled"),
    "voucher.updated": (voucher_event, PROJECT, "Updated"),
    "voucher.deleted": (voucher_event, PROJECT, "Deleted"),
    "voucher.published": (publication_event, PROJECT, "Published"),
    "publication.succeeded": (publication_event, PROJECT, "Succeeded"),
    "customer.publication.succeeded": (publication_event, DISTRIBUTION, "Publication succeeded"),
    "distribution.manual_distribution_schedule": (
        manual_distribution_event, DISTRIBUTION, "Manual_distribution_schedule"),
    "redemption.succeeded": (redemption_event, PROJECT, "Succeeded"),
    "redemption.failed": (redemption_event, PROJECT, "Failed"),
    "redemption.rollback.succeeded": (redemption_event, PROJECT, "Rollback succeeded"),
    "redemption.rollback.failed": (redemption_event, PROJECT, "Rollback failed"),
    "customer.created": (customer_event, PROJECT, "Created"),
    "customer.updated": (customer_event, PROJECT, "Updated"),
    "customer.deleted": (customer_event, PROJECT, "Deleted"),
    "customer.redemption.succeeded": (redemption_event, DISTRIBUTION, "Redemption succeeded"),
    "customer.redemption.rollback.succeeded": (
        redemption_event, DISTRIBUTION, "Redemption rollback succeeded"),
    "customer.rewarded": (rewarded, EITHER, "Rewarded"),
    "customer.rewarded.loyalty_points": (points_rewarded, EITHER, "Rewarded loyalty_points"),
    "customer.reward_redemptions.created": (
        reward_redemption, DISTRIBUTION, "Reward_redemptions created"),
    "customer.reward_redemptions.pending": (
        reward_redemption, DISTRIBUTION, "Reward_redemptions pending"),
    "customer.reward_redemptions.completed": (
        reward_redemption, DISTRIBUTION, "Reward_redemptions completed"),
    "customer.voucher.loyalty_card.pending_points.activated": (
        pending_event, DISTRIBUTION, "Voucher loyalty_card pending_points activated"),
    "customer.voucher.loyalty_card.pending_points.added": (
        pending_event, DISTRIBUTION, "Voucher loyalty_card pending_points added"),
    "customer.voucher.loyalty_card.pending_points.canceled": (
        pending_event, DISTRIBUTION, "Voucher loyalty_card pending_points canceled"),
    "customer.voucher.loyalty_card.pending_points.updated": (
        pending_event, DISTRIBUTION, "Voucher loyalty_card pending_points updated"),
    "customer.voucher.loyalty_card.points_added": (
        points_event, DISTRIBUTION, "Voucher loyalty_card points_added"),
    "customer.voucher.loyalty_card.points_expired": (
        points_event, DISTRIBUTION, "Voucher loyalty_card points_expired"),
    "customer.voucher.gift.balance_added": (
        gift_event, DISTRIBUTION, "Voucher gift balance_added"),
    "customer.segment.entered": (customer_event, DISTRIBUTION, "Segment entered"),
    "customer.segment.left": (customer_event, DISTRIBUTION, "Segment left"),
    "customer.loyalty.tier.joined": (tier_event, DISTRIBUTION, "Loyalty tier joined"),
    "customer.loyalty.tier.upgraded": (tier_event, DISTRIBUTION, "Loyalty tier upgraded"),
    "customer.loyalty.tier.downgraded": (tier_event, DISTRIBUTION, "Loyalty tier downgraded"),
    "customer.loyalty.tier.prolonged": (tier_event, DISTRIBUTION, "Loyalty tier prolonged"),
    "customer.loyalty.tier.left": (tier_event, DISTRIBUTION, "Loyalty tier left"),
    "customer.holder.assignment.created": (holder_event, PROJECT, "Holder assignment created"),
    "customer.holder.assignment.deleted": (holder_event, PROJECT, "Holder assignment deleted"),
    "customer.custom_event": (custom_event, DISTRIBUTION, "Custom_event"),
    "voucher.loyalty_card.transaction.created": (
        accrual_event, PROJECT, "Loyalty_card transaction created"),
    "voucher.loyalty_card.pending_points.activated": (
        pending_event, PROJECT, "Loyalty_card pending_points activated"),
    "voucher.loyalty_card.pending_points.added": (
        pending_event, PROJECT, "Loyalty_card pending_points added"),
    "voucher.loyalty_card.pending_points.canceled": (
        pending_event, PROJECT, "Loyalty_card pending_points canceled"),
    "voucher.loyalty_card.pending_points.updated": (
        pending_event, PROJECT, "Loyalty_card pending_points updated"),
    "voucher.loyalty_card.points_added": (points_event, PROJECT, "Loyalty_card points_added"),
    "voucher.loyalty_card.points_expired": (points_event, PROJECT, "Loyalty_card points_expired"),
    "voucher.gift.transaction.created": (gift_event, PROJECT, "Gift transaction created"),
    "voucher.gift.balance_added": (gift_event, PROJECT, "Gift balance_added"),
    "bus_val_rule.created": (rule_event, PROJECT, "Created"),
    "bus_val_rule.updated": (rule_event, PROJECT, "Updated"),
    "bus_val_rule.assignment.created": (assignment_event, PROJECT, "Assignment created"),
    "bus_val_rule.assignment.deleted": (assignment_event, PROJECT, "Assignment deleted"),
    "bus_val_rule.deleted": (rule_event, PROJECT, "Deleted"),
}  # fmt: skip
WIRE_TYPES = {
    **{
        f"bus_val_rule.{action}": f"business_validation_rule.{action}"
        for action in ("created", "updated", "deleted", "assignment.created", "assignment.deleted")
    },
    "distribution.manual_distribution_schedule": "manual_distribution_schedule",
}


def _names_in(folder: Path) -> list[str]:
    return sorted(
        p.name[: -len(SUFFIX)] for p in folder.glob("*" + SUFFIX) if not p.name.startswith("_")
    )


def builtin() -> dict[str, Event]:
    """The Voucherify events, by name."""
    return {
        name: Event(
            name=name,
            source="voucherify",
            builder=builder,
            scenarios=SCENARIO_CHOICES if builder is order_event else (),
            envelopes=ENVELOPES,
            default_envelope="v2024",
            signing="voucherify",
            description=description,
            delivery=delivery,
            wire_type=WIRE_TYPES.get(name, ""),
        )
        for name, (builder, delivery, description) in sorted(VOUCHERIFY.items())
    }


def discover(user_dirs: Sequence[str | Path] = ()) -> dict[str, Event]:
    """All events: the built-in ones, then those the user folders add."""
    events = builtin()
    for user_dir in user_dirs:
        folder = Path(user_dir)
        for name in _names_in(folder):
            if name not in events:
                events[name] = Event(
                    name=name,
                    source="user",
                    builder=user_event,
                    scenarios=(),
                    envelopes=ENVELOPES,
                    default_envelope="none",
                    signing="voucherify",
                    description=f"user template in {folder}",
                )
    return events


def lookup(events: dict[str, Event], name: str) -> Event:
    try:
        return events[name]
    except KeyError:
        close = difflib.get_close_matches(name, list(events), n=3, cutoff=0.5)
        raise UnknownEventError(name, close) from None


def select(events: dict[str, Event], patterns: Sequence[str]) -> list[Event]:
    """The events that names or globs (`voucher.*`, `customer.loyalty.*`) pick, in order.

    A glob lists its matches by name; an event picked twice counts once.
    """
    chosen: dict[str, Event] = {}
    for pattern in patterns:
        if _GLOB.isdisjoint(pattern):
            event = lookup(events, pattern)
            chosen.setdefault(event.name, event)
            continue
        matches = sorted(name for name in events if fnmatch.fnmatchcase(name, pattern))
        if not matches:
            raise UnknownEventError(pattern, [], glob=True)
        for name in matches:
            chosen.setdefault(name, events[name])
    return list(chosen.values())


def expand(patterns: Sequence[str], user_dirs: Sequence[str | Path] = ()) -> tuple[str, ...]:
    """Event names for names or globs: what a command that takes events passes on."""
    return tuple(event.name for event in select(discover(user_dirs), patterns))

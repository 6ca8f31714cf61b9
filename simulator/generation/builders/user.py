"""Context for a user's own template: a customer, a product, the time, id and money helpers."""

from __future__ import annotations

import random

from simulator.generation.builders.spec import EventSpec
from simulator.generation.values import iso_ms
from simulator.generation.world import CUSTOMER_SLOTS, World


def user_event(
    world: World, event: str, index: int, rng: random.Random, now_ms: int, spec: EventSpec
) -> dict:
    """Context for a user-defined event: a customer, the time, and id/money helpers."""

    def alnum_id(prefix: str, length: int = 24, n: int = 0) -> str:
        return world.ids.alnum(prefix, index << 8 | n, rng, length)

    def hex_id(prefix: str, length: int = 18, n: int = 0) -> str:
        return world.ids.hex(prefix, index << 8 | n, rng, length)

    return {
        "customer": world.customer(rng.randrange(CUSTOMER_SLOTS)),
        "index": index,
        "now": iso_ms(now_ms),
        "now_ms": now_ms,
        "ts": iso_ms,
        "rng": rng,
        "alnum_id": alnum_id,
        "hex_id": hex_id,
        "currency": world.market.currency,
        "product": world.product(rng.randrange(64)),
    }

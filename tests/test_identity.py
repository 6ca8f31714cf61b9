"""A customer is one person everywhere: one id, name, email and source_id, shared with no one.

In Voucherify a source_id identifies one customer in a project, and receivers key on it
(and on the email): two customers sharing either would merge two people in a receiver.
"""

from __future__ import annotations

from collections import defaultdict

import pytest
from conftest import ORDER_EVENTS

from simulator.generation.payloads import generate
from simulator.generation.world import CUSTOMER_SLOTS, World

NOW = "2024-03-12T14:41:49.128Z"
LOCALES = ("en_US", "de_DE", "pl_PL", "ja_JP")


def _customers(data: dict) -> list[dict]:
    """Every full customer object a payload's data carries."""
    found = [data["customer"], data.get("referrer")]
    if data.get("redemption"):
        found.append(data["redemption"]["customer"])
    if data.get("publication"):
        found.append(data["publication"]["customer"])
    return [c for c in found if c]


def test_customers_keep_their_identity_and_share_it_with_no_one() -> None:
    attribute: dict[tuple[str, str, str], object] = {}  # (locale, id, field) -> value
    ids_by: dict[tuple[str, str, object], set[str]] = defaultdict(set)  # (locale, field, value)
    customers: set[tuple[str, str]] = set()
    for locale in LOCALES:
        for p in generate(ORDER_EVENTS, count=2500, seed=11, locale=locale, now=NOW):
            for customer in _customers(p.data["data"]):
                customers.add((locale, customer["id"]))
                # publication.customer has no email: each field is checked where present.
                for field in ("name", "email", "source_id"):
                    if field not in customer:
                        continue
                    value = customer[field]
                    assert attribute.setdefault((locale, customer["id"], field), value) == value
                    if field != "name" and value is not None:
                        ids_by[(locale, field, value)].add(customer["id"])
    shared = {key: ids for key, ids in ids_by.items() if len(ids) > 1}
    assert shared == {}
    # Enough customers returned for the check to mean something.
    assert len(customers) > 4 * 2000
    assert sum(field == "email" for _, field, _ in ids_by) > 4 * 1500


@pytest.mark.parametrize("locale", LOCALES)
def test_every_customer_slot_has_its_own_email_and_source_id(locale: str) -> None:
    # By construction, not by luck: all of a world's customers, not just those drawn.
    world = World(seed=11, locale=locale)
    customers = [world.customer(slot) for slot in range(CUSTOMER_SLOTS)]
    assert len({c["id"] for c in customers}) == CUSTOMER_SLOTS
    assert len({c["source_id"] for c in customers}) == CUSTOMER_SLOTS
    emails = [c["email"] for c in customers if c["email"] is not None]
    assert len(set(emails)) == len(emails) > CUSTOMER_SLOTS * 0.7
    # The same slot in another world built in another order is the same customer.
    again = World(seed=11, locale=locale)
    assert [again.customer(s) for s in reversed(range(0, CUSTOMER_SLOTS, 97))] == [
        customers[s] for s in reversed(range(0, CUSTOMER_SLOTS, 97))
    ]

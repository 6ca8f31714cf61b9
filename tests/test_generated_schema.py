"""Generated payloads pass the schema: ten thousand orders across every axis a user can
turn, and 500 of every other event."""

from __future__ import annotations

import itertools

import pytest
from conftest import NOW, ORDER_EVENTS

from simulator.generation.catalog import builtin
from simulator.generation.payloads import generate
from simulator.schema import validate

LOCALES = ("en_US", "de_DE", "ja_JP")
SCENARIOS = ("plain", "promotion", "send-code", "mixed")
ENVELOPES = ("v2024", "v2018", "none")
PER_COMBINATION = 70  # 4 events x 3 envelopes x 3 locales x 4 scenarios x 70 = 10,080


@pytest.mark.parametrize(("event", "envelope"), list(itertools.product(ORDER_EVENTS, ENVELOPES)))
def test_generated_payloads_validate(event: str, envelope: str) -> None:
    checked = 0
    for seed, (locale, scenario) in enumerate(itertools.product(LOCALES, SCENARIOS)):
        for p in generate(event, count=PER_COMBINATION, seed=seed, locale=locale,
                          scenario=scenario, envelope=envelope):  # fmt: skip
            problems = validate(p.data, event=event, envelope=envelope)
            assert problems == [], (locale, scenario, p.index, problems[:3])
            checked += 1
    assert checked == len(LOCALES) * len(SCENARIOS) * PER_COMBINATION


@pytest.mark.parametrize("event", sorted(set(builtin()) - set(ORDER_EVENTS)))
def test_500_payloads_of_every_event_pass_its_schema(event: str) -> None:
    # In the envelope each event comes in, from one run: the world recurs as in use.
    failures = [
        (p.index, problems[:3])
        for p in generate(event, count=500, seed=17, now=NOW, locale="de_DE")
        if (problems := validate(p.data))
    ]
    assert failures == []
    for envelope in ("v2018", "none"):  # and the other bodies, a sample
        for p in generate(event, count=20, seed=17, envelope=envelope):
            assert validate(p.data, event=event, envelope=envelope) == []


@pytest.mark.parametrize(
    ("override", "path"),
    [
        ("order.amount=1999.5", "$.data.order.amount"),
        ('order.amount="2500"', "$.data.order.amount"),
        ("order.status=SHIPPED", "$.data.order.status"),
        ("order.items[0].object=line", "$.data.order.items[0].object"),
        ("customer.object=client", "$.data.customer.object"),
        ("order.created_at=yesterday", "$.data.order.created_at"),
    ],
)
def test_mutations_of_generated_payloads_are_rejected(override: str, path: str) -> None:
    (p,) = generate("customer.order.created", count=1, seed=1, overrides=[override])
    assert path in {problem.path for problem in validate(p.data)}

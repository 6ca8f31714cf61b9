"""Ten thousand generated payloads, across every axis a user can turn, pass the schema."""

from __future__ import annotations

import itertools

import pytest
from conftest import ORDER_EVENTS

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


def test_the_compiled_schema_agrees_with_jsonschema() -> None:
    # validate() answers "valid" from a schema compiled to Python once it is used often;
    # it must accept and reject exactly what jsonschema does.
    from simulator import schema

    payloads = [p.data for p in generate(ORDER_EVENTS, count=400, seed=21)]
    mutations = [
        ("order", "amount", 10.5),
        ("order", "status", "SHIPPED"),
        ("customer", "object", "client"),
        ("order", "items", "none"),
        ("order", "object", "cart"),
    ]
    for i, payload in enumerate(payloads):
        event = payload["event"]["type"]
        compiled = schema._compiled(event, "v2024")
        compiled(payload)  # raises if it rejects a valid payload
        section, key, value = mutations[i % len(mutations)]
        payload["data"][section][key] = value
        full = list(schema._validator(event, "v2024").iter_errors(payload))
        assert full, (section, key, value)
        with pytest.raises(schema.fastjsonschema.JsonSchemaException):
            compiled(payload)

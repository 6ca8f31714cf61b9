"""The catalog: every webhook of the official spec, described from it, and each event's
templates reproduce the spec's own example from the values of its context fixture."""

from __future__ import annotations

import json

import pytest
from conftest import ROOT, VOUCHERIFY

from simulator.errors import UnknownEventError
from simulator.generation.catalog import builtin, discover, select
from simulator.generation.payloads import render_context

SPEC = json.loads((VOUCHERIFY / "OpenAPIWebhooks.json").read_text())
CATALOG = builtin()
CONTEXTS = sorted(p.name.removesuffix(".json") for p in (VOUCHERIFY / "contexts").glob("*.json"))


def _unique_keys(pairs: list[tuple[str, object]]) -> dict:
    keys = [key for key, _ in pairs]
    assert len(keys) == len(set(keys)), f"duplicate keys: {keys}"
    return dict(pairs)


@pytest.mark.parametrize("event", CONTEXTS)
def test_the_official_example_renders_from_its_values(event: str) -> None:
    context = json.loads((VOUCHERIFY / "contexts" / f"{event}.json").read_text())
    expected = json.loads((VOUCHERIFY / "official-data" / f"{event}.data.json").read_text())
    rendered = render_context(event, context)
    assert json.loads(rendered, object_pairs_hook=_unique_keys) == expected


def test_built_in_templates_take_every_value_from_their_builder() -> None:
    # PayloadFactory reseeds Faker for a template only if user folders are in use.
    folder = ROOT / "templates" / "voucherify"
    assert [p.name for p in folder.glob("*.j2") if "fake" in p.read_text()] == []


def test_every_catalog_event_has_a_context_fixture() -> None:
    assert sorted(CATALOG) == CONTEXTS


def test_descriptions_are_the_specs_summaries() -> None:
    for key, webhook in SPEC["webhooks"].items():
        name = key.removeprefix("EVENTS.").lower()
        if name in CATALOG:
            assert CATALOG[name].description == webhook["post"]["summary"], name


def test_a_glob_selects_by_name_and_an_event_counts_once() -> None:
    events = discover()
    picked = [e.name for e in select(events, ["customer.order.paid", "customer.order.*"])]
    assert picked[0] == "customer.order.paid"
    assert sorted(picked) == sorted(set(picked))
    assert len(picked) == 4
    with pytest.raises(UnknownEventError, match="no event matches"):
        select(events, ["nothing.*"])


def test_globs_work_wherever_an_event_is_named() -> None:
    from simulator.audit.config import AuditConfig
    from simulator.generation.payloads import PayloadFactory
    from simulator.sending.config import SendConfig

    loyalty = tuple(sorted(n for n in CATALOG if n.startswith("customer.loyalty.")))
    assert len(loyalty) == 5
    assert tuple(e.name for e in PayloadFactory("customer.loyalty.*", seed=1).events) == loyalty
    assert SendConfig.from_options(events=["customer.loyalty.*"], count=1).events == loyalty
    audit = AuditConfig.from_options(url="http://127.0.0.1:9/", events="customer.loyalty.*",
                                     secret="s")  # fmt: skip
    assert audit.events == loyalty


def test_set_overrides_a_field_of_any_event() -> None:
    from simulator.generation.payloads import generate

    (p,) = generate("voucher.created", count=1, seed=2, overrides=["voucher.code=SPRING-1"])
    assert p.data["data"]["voucher"]["code"] == "SPRING-1"
    (p,) = generate("bus_val_rule.created", count=1, seed=2, overrides={"rule.name": "Min 50"})
    assert p.data["data"]["rule"]["name"] == "Min 50"

"""The schemas accept every event's official example and reject broken payloads."""

from __future__ import annotations

import copy
import datetime
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT, VOUCHERIFY

from simulator import schema
from simulator.errors import SchemaError, UsageError
from simulator.generation.catalog import builtin
from simulator.schema import Problem, detect_envelope, infer_event, supported_events, validate

OFFICIAL = VOUCHERIFY / "official-data"
EVENTS = [
    "customer.order.canceled",
    "customer.order.created",
    "customer.order.paid",
    "customer.order.updated",
]
CATALOG = builtin()
SUPPORTED = f"'webhook-sim events' lists the {len(CATALOG)} supported"
DRAFT = "https://json-schema.org/draft/2020-12/schema"
STATUSES = "['CREATED', 'PAID', 'CANCELED', 'FULFILLED']"


def official(name: str) -> dict[str, Any]:
    return json.loads((OFFICIAL / f"{name}.data.json").read_text(encoding="utf-8"))


def v2024(event: str, data: object) -> dict[str, Any]:
    found = CATALOG.get(event)
    project = found is not None and found.delivery == "project"
    source = ("wh_j56Vfy47Vx9YOX7QYD1fzHnc", "webhook") if project else (
        "distr_Nk3QdJtQ6kG7aXbW9Yz2Lm4PqR", "distribution")  # fmt: skip
    return {
        "id": "whs_0e0b5b6bb2c9a1f3d4",
        "project_id": "proj_f1r5Tpr0J",
        "created_at": "2024-03-12T14:41:49.512Z",
        "type": "Order created - notify",
        "data": data,
        "source": {
            "id": source[0],
            "object": source[1],
            "target_url": "https://example.com/hooks/voucherify",
        },
        "event": {
            "id": found.id_prefix + "0e0b5b6b9a33f1c2d5" if found else "evcus_0e0b5b6b9a33f1c2d5",
            "type": found.type if found else event,
            "created_at": "2024-03-12T14:41:49.444Z",
            "entity_id": "cust_IdgAFZxYwwHctOk9pPuMu308",
            "group_id": "v-0e0b5b6b9a0c4e8f21",
            "event_source": {"channel": "API", "api_key": {"name": "Default", "app_id": "a1b2"}},
        },
    }


def v2018(event: str, data: object) -> dict[str, Any]:
    return {
        "id": "evt_0e0b5b6b9a33f1c2d5",
        "object": "event",
        "webhook_id": "wh_0e0b5b6b9a0c4e8f21",
        "project_id": "proj_f1r5Tpr0J",
        "created_at": "2024-03-12T14:41:49.512Z",
        "type": CATALOG[event].type if event in CATALOG else event,
        "data": data,
        "metadata": {"source": "API"},
    }


@pytest.fixture
def created() -> dict[str, Any]:
    return official("customer.order.created")


# ------------------------------------------------------------ official examples pass


def test_supported_events() -> None:
    assert supported_events() == sorted(CATALOG)


@pytest.mark.parametrize("event", sorted(CATALOG))
def test_official_example_is_valid_bare_data(event: str) -> None:
    data = official(event)
    assert validate(data, event=event, envelope="none") == []
    if event in EVENTS:  # bare data names no event: an order's implies it
        assert validate(data) == []


@pytest.mark.parametrize("event", sorted(CATALOG))
def test_official_example_is_valid_in_v2024_envelope(event: str) -> None:
    payload = v2024(event, official(event))
    assert validate(payload, event=event, envelope="v2024") == []
    assert validate(payload) == []


@pytest.mark.parametrize("event", sorted(CATALOG))
def test_official_example_is_valid_in_v2018_envelope(event: str) -> None:
    assert validate(v2018(event, official(event))) == []


@pytest.mark.parametrize(
    ("source", "keys"),
    [
        # "Send and publish unique codes from campaign" distributions.
        ("distribution.manual_distribution_schedule", ("campaign", "voucher", "publication")),
        # "Notify customers about promotion" distributions.
        ("campaign.promotion_tier.created", ("campaign", "promotion_tier")),
    ],
)
def test_distribution_purpose_extras_are_valid(
    created: dict[str, Any], source: str, keys: tuple[str, ...]
) -> None:
    extras = official(source)
    created.update({key: extras[key] for key in keys})
    assert validate(created, event="customer.order.created") == []


def test_redemption_may_be_a_rolled_back_redemption(created: dict[str, Any]) -> None:
    created["redemption"] = {"id": "r_0e0b5b6b9a33f1c2d5", "object": "redemption"}
    created["redemption"]["status"] = "ROLLED_BACK"
    assert validate(created) == []
    created["redemption"]["status"] = "REVERSED"
    assert validate(created) == [
        Problem(
            "$.redemption.status", "'REVERSED' is not one of ['SUCCEEDED', 'FAILED', 'ROLLED_BACK']"
        )
    ]


def test_items_may_carry_a_sku(created: dict[str, Any]) -> None:
    item = created["order"]["items"][0]
    item["sku_id"] = "sku_0b1621b319d248b79f"
    item["sku"] = {"id": "sku_0b1621b319d248b79f", "sku": "Blue 0.5 l", "price": 2500}
    assert validate(created) == []
    item["sku"]["price"] = 25.0001
    item["sku"]["colour"] = "blue"
    assert validate(created) == [
        Problem("$.order.items[0].sku.colour", "additional property 'colour' is not allowed"),
        Problem("$.order.items[0].sku.price", "25.0001 is not of type 'integer'"),
    ]


def test_a_rule_event_is_named_by_the_type_its_envelope_carries() -> None:
    payload = v2024("bus_val_rule.created", official("bus_val_rule.created"))
    assert payload["event"]["type"] == "business_validation_rule.created"
    assert infer_event(payload, "v2024") == "bus_val_rule.created"
    assert validate(payload) == []
    legacy = v2018("distribution.manual_distribution_schedule",
                   official("distribution.manual_distribution_schedule"))  # fmt: skip
    assert legacy["type"] == "manual_distribution_schedule"
    assert validate(legacy) == []


def test_a_project_webhook_comes_from_a_webhook_not_a_distribution() -> None:
    payload = v2024("voucher.created", official("voucher.created"))
    payload["source"].update(id="distr_Nk3QdJtQ6kG7aXbW9Yz2Lm4PqR", object="distribution")
    assert validate(payload) == [
        Problem("$.source.id", "'distr_Nk3QdJtQ6kG7aXbW9Yz2Lm4PqR' does not match '^wh_'"),
        Problem("$.source.object", "'webhook' was expected"),
    ]


def test_bare_data_of_an_event_other_than_an_order_needs_its_name() -> None:
    data = official("voucher.created")
    assert validate(data) == [
        Problem(
            "$",
            "bare data that is no order names no event: pass the event to check it against "
            "('webhook-sim events' lists them)",
        )
    ]
    assert validate(data, event="voucher.created") == []


@pytest.mark.parametrize(
    ("event", "path", "value", "message"),
    [
        ("voucher.gift.balance_added", ("balance", "amount"), "100",
         "'100' is not of type 'integer'"),
        ("redemption.succeeded", ("redemption", "status"), "DONE",
         "'DONE' is not one of ['SUCCEEDED', 'FAILED', 'ROLLED BACK', 'ROLLED_BACK', None]"),
        ("customer.loyalty.tier.joined", ("loyalty_tier", "points"), None,
         "'points' is a required property"),
        ("customer.segment.entered", ("segment", "id"), None, "'id' is a required property"),
    ],
)  # fmt: skip
def test_broken_payloads_of_other_events_are_rejected(
    event: str, path: tuple[str, ...], value: object, message: str
) -> None:
    data = official(event)
    if value is None:
        del data[path[0]][path[1]]
    else:
        data[path[0]][path[1]] = value
    assert validate(data, event=event) == [Problem(f"$.{'.'.join(path)}", message)]


# ------------------------------------------------------------------ mutations fail


def test_amount_as_string_is_rejected(created: dict[str, Any]) -> None:
    created["order"]["items"][0]["amount"] = "2500"
    assert validate(created) == [
        Problem("$.order.items[0].amount", "'2500' is not of type 'integer'")
    ]
    assert validate(v2024("customer.order.created", created)) == [
        Problem("$.data.order.items[0].amount", "'2500' is not of type 'integer'")
    ]


def test_fractional_amount_is_rejected(created: dict[str, Any]) -> None:
    created["order"]["amount"] = 2500.5
    created["order"]["total_amount"] = 2500.5
    assert validate(created, event="customer.order.created") == [
        Problem("$.order.amount", "2500.5 is not of type 'integer'"),
        Problem("$.order.total_amount", "2500.5 is not of type 'integer'"),
    ]


def test_unknown_order_status_is_rejected() -> None:
    data = official("customer.order.updated")
    data["order"]["status"] = "SHIPPED"
    assert validate(data, event="customer.order.updated") == [
        Problem("$.order.status", f"'SHIPPED' is not one of {STATUSES}")
    ]
    # Without an event the status cannot pick one; every complaint is still about it.
    assert {p.path for p in validate(data)} == {"$.order.status"}


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (("order",), "$.order"),
        (("customer",), "$.customer"),
        (("redemption",), "$.redemption"),
        (("order", "id"), "$.order.id"),
        (("order", "customer_id"), "$.order.customer_id"),
        (("order", "status"), "$.order.status"),
        (("order", "items", 1, "object"), "$.order.items[1].object"),
    ],
)
def test_missing_required_key_is_rejected(
    created: dict[str, Any], path: tuple[str | int, ...], expected: str
) -> None:
    parent: Any = created
    for key in path[:-1]:
        parent = parent[key]
    del parent[path[-1]]
    message = f"{path[-1]!r} is a required property"
    assert validate(created, event="customer.order.created") == [Problem(expected, message)]


def test_status_must_match_the_event(created: dict[str, Any]) -> None:
    created["order"]["status"] = "PAID"
    assert validate(created, event="customer.order.created") == [
        Problem("$.order.status", "'CREATED' was expected")
    ]
    assert validate(v2024("customer.order.created", created)) == [
        Problem("$.data.order.status", "'CREATED' was expected")
    ]


def test_updated_at_must_match_the_event(created: dict[str, Any]) -> None:
    created["order"]["updated_at"] = "2024-03-12T15:06:18.866Z"
    assert validate(created, event="customer.order.created") == [
        Problem("$.order.updated_at", "'2024-03-12T15:06:18.866Z' is not of type 'null'")
    ]
    paid = official("customer.order.paid")
    paid["order"]["updated_at"] = None
    assert validate(paid, event="customer.order.paid") == [
        Problem("$.order.updated_at", "None is not of type 'string'")
    ]


def test_timestamp_without_milliseconds_is_rejected(created: dict[str, Any]) -> None:
    created["order"]["created_at"] = "2024-03-12T14:41:49Z"
    problems = validate(created)
    assert [p.path for p in problems] == ["$.order.created_at"]
    assert problems[0].message.startswith("'2024-03-12T14:41:49Z' does not match '^[0-9]{4}-")


def test_unknown_order_key_is_rejected(created: dict[str, Any]) -> None:
    created["order"]["coupon"] = "SUMMER"
    created["order"]["gift card"] = "GC-1"
    assert validate(created) == [
        Problem("$.order.coupon", "additional property 'coupon' is not allowed"),
        Problem('$.order["gift card"]', "additional property 'gift card' is not allowed"),
    ]


def test_nullable_object_of_wrong_type_is_rejected(created: dict[str, Any]) -> None:
    created["referrer"] = "cust_IdgAFZxYwwHctOk9pPuMu308"
    assert validate(created) == [
        Problem("$.referrer", "'cust_IdgAFZxYwwHctOk9pPuMu308' is not of type 'null' or 'object'")
    ]


def test_all_problems_are_returned_sorted_by_path(created: dict[str, Any]) -> None:
    items = created["order"]["items"] = [copy.deepcopy(i) for i in created["order"]["items"] * 6]
    items[10]["quantity"] = "1"
    items[2]["quantity"] = "1"
    created["order"]["object"] = "cart"
    created["customer"]["metadata"] = []
    created["order"]["amount"] = None
    assert validate(created) == [
        Problem("$.customer.metadata", "[] is not of type 'object'"),
        Problem("$.order.amount", "None is not of type 'integer'"),
        Problem("$.order.items[2].quantity", "'1' is not of type 'integer'"),
        Problem("$.order.items[10].quantity", "'1' is not of type 'integer'"),
        Problem("$.order.object", "'cart' is not one of ['order']"),
    ]


def test_envelope_fields_are_checked(created: dict[str, Any]) -> None:
    payload = v2024("customer.order.created", created)
    payload["source"]["object"] = "webhook"
    payload["event"]["id"] = "evt_1"
    payload["extra"] = True
    assert validate(payload) == [
        Problem("$.event.id", "'evt_1' does not match '^ev[a-z]{3}_'"),
        Problem("$.extra", "additional property 'extra' is not allowed"),
        Problem("$.source.object", "'distribution' was expected"),
    ]


def test_unknown_event_type_in_v2024_envelope(created: dict[str, Any]) -> None:
    payload = v2024("customer.order.shipped", created)
    assert validate(payload) == [
        Problem(
            "$.event.type",
            "unsupported event type 'customer.order.shipped' "
            f"(did you mean 'customer.order.paid'? {SUPPORTED})",
        )
    ]


def test_unknown_event_type_in_v2018_envelope(created: dict[str, Any]) -> None:
    assert validate(v2018("voucher.shipped", created)) == [
        Problem(
            "$.type",
            "unsupported event type 'voucher.shipped' "
            f"(did you mean 'voucher.published'? {SUPPORTED})",
        )
    ]


def test_unknown_event_argument(created: dict[str, Any]) -> None:
    assert validate(created, event="order.created") == [
        Problem(
            "$",
            f"unsupported event type 'order.created' (did you mean 'voucher.created'? {SUPPORTED})",
        )
    ]


def test_event_argument_must_agree_with_envelope(created: dict[str, Any]) -> None:
    payload = v2024("customer.order.created", created)
    assert validate(payload, event="customer.order.paid") == [
        Problem("$.data.order.status", "'PAID' was expected"),
        Problem("$.data.order.updated_at", "None is not of type 'string'"),
        Problem("$.event.type", "'customer.order.paid' was expected"),
    ]


def test_non_object_payload() -> None:
    assert validate([]) == [Problem("$", "[] is not of type 'object'")]


def test_a_value_that_is_not_json_is_named_where_it_is(created: dict[str, Any]) -> None:
    created["order"]["created_at"] = datetime.datetime(2024, 3, 12, 14, 41, 49)
    [problem] = validate(created)
    assert problem.path == "$.order.created_at"
    assert problem.message.startswith(
        "datetime.datetime(2024, 3, 12, 14, 41, 49) is not a JSON value ("
    )


def test_unknown_envelope_argument_is_a_usage_error(created: dict[str, Any]) -> None:
    with pytest.raises(UsageError, match="unknown envelope 'v2019'"):
        validate(created, envelope="v2019")


# ----------------------------------------------------------------------- inference


@pytest.mark.parametrize(
    ("status", "updated_at", "event"),
    [
        ("CREATED", None, "customer.order.created"),
        ("CREATED", "2024-03-12T15:06:18.866Z", "customer.order.updated"),
        ("PAID", "2024-03-12T15:06:18.866Z", "customer.order.paid"),
        ("CANCELED", "2024-03-12T15:06:18.866Z", "customer.order.canceled"),
        ("FULFILLED", "2024-03-12T15:06:18.866Z", "customer.order.updated"),
    ],
)
def test_event_inferred_from_bare_data(
    created: dict[str, Any], status: str, updated_at: str | None, event: str
) -> None:
    created["order"].update(status=status, updated_at=updated_at)
    assert infer_event(created, "none") == event
    assert validate(created) == []


def test_event_read_from_envelopes(created: dict[str, Any]) -> None:
    assert infer_event(v2024("customer.order.paid", created), "v2024") == "customer.order.paid"
    assert infer_event(v2018("customer.order.paid", created), "v2018") == "customer.order.paid"


def test_envelope_detection(created: dict[str, Any]) -> None:
    assert detect_envelope(v2024("customer.order.created", created)) == "v2024"
    assert detect_envelope(v2018("customer.order.created", created)) == "v2018"
    assert detect_envelope(created) == "none"
    assert detect_envelope(["not", "an", "object"]) == "none"


# ------------------------------------------------------------------ schema files


@pytest.fixture
def schema_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    def forget() -> None:
        for cached in (schema._events, schema._validator):
            cached.cache_clear()

    monkeypatch.setattr(schema, "SCHEMA_DIR", tmp_path)
    forget()
    yield tmp_path
    forget()


def test_missing_schema_files_raise_schema_error(schema_dir: Path, created: dict[str, Any]) -> None:
    with pytest.raises(SchemaError, match="no schemas found"):
        validate(created)


def test_corrupt_schema_file_raises_schema_error(schema_dir: Path, created: dict[str, Any]) -> None:
    (schema_dir / "customer.order.created.data.json").write_text("{", encoding="utf-8")
    with pytest.raises(SchemaError, match=r"cannot load schema customer\.order\.created\.data"):
        validate(created)


def test_schema_of_another_draft_raises_schema_error(
    schema_dir: Path, created: dict[str, Any]
) -> None:
    (schema_dir / "customer.order.created.data.json").write_text('{"type": "object"}', "utf-8")
    with pytest.raises(SchemaError, match="is not a draft 2020-12 JSON Schema"):
        validate(created)


def test_dangling_ref_raises_schema_error(schema_dir: Path, created: dict[str, Any]) -> None:
    broken = {"$schema": DRAFT, "$ref": "#/$defs/EventCustomerOrderCreatedData", "$defs": {}}
    (schema_dir / "customer.order.created.data.json").write_text(json.dumps(broken), "utf-8")
    with pytest.raises(SchemaError, match="refers to a missing \\$defs entry"):
        validate(created)


def test_schema_that_breaks_in_use_raises_schema_error(
    schema_dir: Path, created: dict[str, Any]
) -> None:
    broken = {"$schema": DRAFT, "type": "strnig"}
    (schema_dir / "customer.order.created.data.json").write_text(json.dumps(broken), "utf-8")
    with pytest.raises(
        SchemaError, match=r"the customer\.order\.created schema \(none\) is corrupt"
    ):
        validate(created)


def test_remote_refs_are_never_fetched(schema_dir: Path, created: dict[str, Any]) -> None:
    remote = {"$schema": DRAFT, "$ref": "https://json-schema.example/order.json"}
    (schema_dir / "customer.order.created.data.json").write_text(json.dumps(remote), "utf-8")
    with pytest.raises(SchemaError, match=r"schema \(none\) is corrupt: .*order\.json"):
        validate(created)


# Each keyword's failure in jsonschema's words, as validate() has always reported them.
@pytest.mark.parametrize(
    ("keyword", "value", "message"),
    [
        # A union's types in the schema's order (jsonschema-rs sorts them its own way).
        ({"type": ["string", "null", "integer"]}, 1.5,
         "1.5 is not of type 'string', 'null', 'integer'"),
        ({"type": "integer"}, True, "True is not of type 'integer'"),
        ({"enum": ["a", None, 2]}, "b", "'b' is not one of ['a', None, 2]"),
        ({"const": {"k": [1]}}, {"k": [2]}, "{'k': [1]} was expected"),
        ({"pattern": "^cust_"}, "prod_1", "'prod_1' does not match '^cust_'"),
        ({"minimum": 0}, -1, "-1 is less than the minimum of 0"),
        ({"maximum": 10.5}, 11, "11 is greater than the maximum of 10.5"),
        ({"exclusiveMinimum": 0}, 0, "0 is less than or equal to the minimum of 0"),
        ({"exclusiveMaximum": 0}, 0, "0 is greater than or equal to the maximum of 0"),
        ({"multipleOf": 3}, 4, "4 is not a multiple of 3"),
        ({"minLength": 1}, "", "'' should be non-empty"),
        ({"minLength": 3}, "ab", "'ab' is too short"),
        ({"maxLength": 0}, "a", "'a' is expected to be empty"),
        ({"maxLength": 2}, "abc", "'abc' is too long"),
        ({"minItems": 1}, [], "[] should be non-empty"),
        ({"minItems": 2}, [1], "[1] is too short"),
        ({"maxItems": 0}, [1], "[1] is expected to be empty"),
        ({"maxItems": 1}, [1, 2], "[1, 2] is too long"),
        ({"minProperties": 1}, {}, "{} should be non-empty"),
        ({"minProperties": 2}, {"a": 1}, "{'a': 1} does not have enough properties"),
        ({"maxProperties": 0}, {"a": 1}, "{'a': 1} is expected to be empty"),
        ({"maxProperties": 1}, {"a": 1, "b": 2}, "{'a': 1, 'b': 2} has too many properties"),
        ({"uniqueItems": True}, [1, 1], "[1, 1] has non-unique elements"),
        ({"not": {"type": "string"}}, "s", "'s' should not be valid under {'type': 'string'}"),
        (
            {"oneOf": [{"type": "integer"}, {"minimum": 0}, {"type": "string"},
                       {"$ref": "#/$defs/n"}],
             "$defs": {"n": {"type": "number"}}},
            5,
            "5 is valid under each of {'minimum': 0}, {'$ref': '#/$defs/n'}, {'type': 'integer'}",
        ),
    ],
)  # fmt: skip
def test_each_keyword_is_worded_as_jsonschema_words_it(
    schema_dir: Path, keyword: dict[str, Any], value: object, message: str
) -> None:
    path = schema_dir / "customer.order.created.data.json"
    path.write_text(json.dumps({"$schema": DRAFT, **keyword}), "utf-8")
    found = validate(value, event="customer.order.created", envelope="none")
    assert found == [Problem("$", message)]


def test_committed_schemas_are_up_to_date() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "build_schemas.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert (result.returncode, result.stderr) == (0, "")

"""Build simulator/schemas/*.json for the order events from the Voucherify webhook spec.

Usage: python scripts/build_schemas.py [--check]

The spec is OpenAPI 3.1 in name but written with OpenAPI 3.0 habits (`nullable`,
`example`), and a literal conversion rejects the spec's own examples. This script
converts the `$ref` closure of each event's data schema to a standalone JSON Schema
(draft 2020-12, components under `$defs`), applies the small list of fixes in PATCHES,
adds the per-event constraints, and writes one schema for the bare `data` object plus
one per envelope version. Output is sorted and indented so reruns are byte-identical;
`--check` exits 1 if the committed files differ from what would be written.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "fixtures" / "voucherify" / "OpenAPIWebhooks.json"
OUT = ROOT / "simulator" / "schemas"
DRAFT = "https://json-schema.org/draft/2020-12/schema"

EVENTS = [
    "customer.order.created",
    "customer.order.updated",
    "customer.order.paid",
    "customer.order.canceled",
]
ORDER_STATUSES = ["CREATED", "PAID", "CANCELED", "FULFILLED"]

# What the spec calls date-time is UTC with milliseconds and `Z` in the order examples
# (2024-03-12T14:41:49.128Z). Some official examples, orders included
# (customer.rewarded.loyalty_points), carry microseconds instead, so 6 digits pass too.
# A pattern checks the shape without turning on format checking.
TIMESTAMP = (
    r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"
    r"T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]\.[0-9]{3}([0-9]{3})?Z$"
)

# Order fields in integer minor units; build() fails if the spec stops saying integer.
MONEY = [
    "amount",
    "initial_amount",
    "discount_amount",
    "items_discount_amount",
    "total_discount_amount",
    "total_amount",
    "applied_discount_amount",
    "items_applied_discount_amount",
    "total_applied_discount_amount",
]
ITEM_MONEY = ["amount", "price", "subtotal_amount", "discount_amount", "applied_discount_amount"]

Schema = dict[str, Any]
Patch = Callable[[Schema, Schema], None]  # (node to fix, all components)


# ---------------------------------------------------------------- fixes to the spec
# Each fix edits one node of the raw OpenAPI components before conversion and leaves a
# `$comment` saying why. A pointer is "Component/key/key..." inside components.schemas.
# Everything else in the spec (closed objects, required lists, enums) is kept as is.


def nullable(node: Schema, _: Schema) -> None:
    node["nullable"] = True


def unrequire(*names: str) -> Patch:
    def patch(node: Schema, _: Schema) -> None:
        node["required"] = [n for n in node["required"] if n not in names]

    return patch


def one_of_to_any_of(node: Schema, _: Schema) -> None:
    # {id, object} is a subset of the full customer, so a full customer matches both
    # oneOf branches and fails; either branch is fine.
    node["anyOf"] = node.pop("oneOf")


def merge_all_of(node: Schema, components: Schema) -> None:
    # OrderCalculated is an allOf of OrderCalculatedBase and a {customer, referrer}
    # object, both with additionalProperties false: each rejects the other's keys, so
    # no order passes. One closed object with the union of the properties keeps the
    # intent (and the strictness).
    base, extra = node.pop("allOf")
    node.update(
        {**copy.deepcopy(components[base["$ref"].rsplit("/", 1)[1]]), "title": node["title"]}
    )
    node["properties"].update(extra["properties"])


def add_item_product_sku(node: Schema, _: Schema) -> None:
    # Items in the examples carry `product` (and, for SKUs, `sku`) summaries. The spec
    # defines OrderItemProduct / OrderItemSku but never references them from the item.
    node["properties"]["product"] = {"$ref": "#/components/schemas/OrderItemProduct"}
    node["properties"]["sku"] = {"$ref": "#/components/schemas/OrderItemSku"}


def add_rolled_back(node: Schema, _: Schema) -> None:
    node["enum"] = [*node["enum"], "ROLLED_BACK"]


def integer(node: Schema, _: Schema) -> None:
    node["type"] = "integer"


# Not nullable in the spec, yet null in these official examples (and often others).
NULLABLE = {
    "EventCustomerOrder/properties/referrer": "customer.order.*",
    "EventCustomerOrder/properties/redemption": "customer.order.*",
    "SimpleCustomer/properties/email": "customer.order.*",
    "SimpleCustomer/properties/name": "customer.holder.assignment.*",
    "SimpleCustomer/properties/source_id": "customer.holder.assignment.created",
    "SimpleCampaign/properties/category": "distribution.manual_distribution_schedule",
    "SimpleCampaign/properties/description": "campaign.loyalty_tier.*",
    "SimpleCampaign/properties/start_date": "distribution.manual_distribution_schedule",
    "SimpleCampaign/properties/expiration_date": "distribution.manual_distribution_schedule",
    "SimpleCampaignVoucher/properties/discount": "campaign.loyalty_tier.*",
    "SimpleCampaignVoucher/properties/gift": "distribution.manual_distribution_schedule",
    "SimpleCampaignVoucher/properties/loyalty_card": "distribution.manual_distribution_schedule",
    "SimpleVoucher/properties/start_date": "distribution.manual_distribution_schedule",
    "SimpleVoucher/properties/expiration_date": "distribution.manual_distribution_schedule",
    "Voucher/properties/category_id": "customer.rewarded",
    # "A `null` value means unlimited", says its own description.
    "Voucher/properties/redemption/properties/quantity": "customer.rewarded",
}

PATCHES: list[tuple[str, Patch, str]] = [
    *(
        (pointer, nullable, f"null in official example {where}")
        for pointer, where in NULLABLE.items()
    ),
    ("OrderCalculated/allOf/1/properties/customer", one_of_to_any_of, "oneOf matched twice"),
    ("OrderCalculated/allOf/1/properties/referrer", one_of_to_any_of, "oneOf matched twice"),
    # After the two above, which point into the allOf this replaces.
    ("OrderCalculated", merge_all_of, "allOf of two closed objects merged into one"),
    ("OrderItemCalculated", add_item_product_sku, "items carry product / sku"),
    ("OrderItemProduct/properties/price", integer, "minor units, as its description says"),
    ("OrderItemSku/properties/price", integer, "minor units, as its description says"),
    ("RedemptionInternal/properties/status", add_rolled_back, "rolled-back redemptions"),
    (
        "SimpleCampaignVoucher/properties/redemption",
        unrequire("redeemed_quantity"),
        "absent in official example customer.voucher.loyalty_card.points_expired",
    ),
    (
        "CodeConfigRequiredLengthCharsetPattern",
        unrequire("prefix", "postfix"),
        "absent in official example customer.voucher.loyalty_card.points_expired",
    ),
    (
        "Gift",
        unrequire("balance"),
        "absent in official example customer.voucher.gift.balance_added",
    ),
    (
        "ReferralProgram/properties/referee_reward/properties/amount",
        integer,
        "a string in the spec, 300 in official example redemption.rollback.*",
    ),
]


def apply_patches(components: dict[str, Schema]) -> None:
    for pointer, patch, why in PATCHES:
        node: Any = components
        for key in pointer.split("/"):
            node = node[int(key)] if isinstance(node, list) else node[key]
        patch(node, components)
        node["$comment"] = "; ".join(filter(None, [node.get("$comment"), f"patched: {why}"]))


# ------------------------------------------------------------------------ conversion


def convert(node: Any) -> Any:
    """OpenAPI 3.0 habits to JSON Schema 2020-12: refs, `nullable`, `example`, date-time."""
    if isinstance(node, list):
        return [convert(v) for v in node]
    if not isinstance(node, dict):
        return node
    # `example` is OpenAPI-only (and one is not even a valid date); drop it.
    out = {k: convert(v) for k, v in node.items() if k not in ("example", "nullable")}
    if "$ref" in out:
        out["$ref"] = out["$ref"].replace("#/components/schemas/", "#/$defs/")
    if out.get("format") == "date-time":
        out["pattern"] = TIMESTAMP
    if node.get("nullable") is True:
        if isinstance(out.get("type"), str) and "allOf" not in out and "$ref" not in out:
            out["type"] = [out["type"], "null"]
            if "enum" in out:
                out["enum"] = [*out["enum"], None]
        else:
            comment = {"$comment": out.pop("$comment")} if "$comment" in out else {}
            out = {"anyOf": [{"type": "null"}, out], **comment}
    return out


def ref_closure(components: dict[str, Schema], roots: list[str]) -> list[str]:
    seen: set[str] = set()
    todo = list(roots)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        todo.extend(_refs(components[name]))
    return sorted(seen)


def _refs(node: Any) -> list[str]:
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    if not isinstance(node, dict):
        return []
    found = [r for v in node.values() for r in _refs(v)]
    ref = node.get("$ref")
    if isinstance(ref, str):
        found.append(ref.rsplit("/", 1)[1])
    return found


# ------------------------------------------------------------------------- per event


def timestamp() -> Schema:
    return {"type": "string", "pattern": TIMESTAMP}


def event_data(event: str, component: str) -> Schema:
    """The event's data schema: the spec's component plus what the event implies."""
    status: Schema = (
        {"enum": ORDER_STATUSES}
        if event == "customer.order.updated"
        else {"const": event.rsplit(".", 1)[1].upper()}
    )
    # Paying, canceling or updating an order updates it; only a new one has null.
    updated_at = {"type": "null"} if event == "customer.order.created" else timestamp()
    return {
        "title": f"{event} data",
        "$ref": f"#/$defs/{component}",
        "properties": {
            "order": {
                "required": ["status", "updated_at"],
                "properties": {"status": status, "updated_at": updated_at},
            }
        },
    }


def closed(properties: Schema) -> Schema:
    """An object with exactly these keys: envelopes are the simulator's own output."""
    return {
        "type": "object",
        "additionalProperties": False,
        "required": list(properties),
        "properties": properties,
    }


def envelope_v2024(event: str, data: Schema) -> Schema:
    envelope = closed(
        {
            "id": {"type": "string", "pattern": "^whs_"},
            "project_id": {"type": "string", "pattern": "^proj_"},
            "created_at": timestamp(),
            # The name the user typed for the distribution, not the event name.
            "type": {"type": "string"},
            "data": data,
            "source": closed(
                {
                    "id": {"type": "string", "pattern": "^distr_"},
                    "object": {"const": "distribution"},
                    "target_url": {"type": "string"},
                }
            ),
            "event": closed(
                {
                    "id": {"type": "string", "pattern": "^evcus_"},
                    "type": {"const": event},
                    "created_at": timestamp(),
                    "entity_id": {"type": "string"},
                    "group_id": {"type": "string", "pattern": "^v-"},
                    # Besides channel it holds api_key or user, depending on the channel.
                    "event_source": {
                        "type": "object",
                        "required": ["channel"],
                        "properties": {"channel": {"type": "string"}},
                    },
                }
            ),
        }
    )
    return {"title": f"{event} webhook, v2024-01-01 envelope", **envelope}


def envelope_v2018(event: str, data: Schema) -> Schema:
    envelope = closed(
        {
            "id": {"type": "string"},
            "object": {"const": "event"},
            "webhook_id": {"type": "string"},
            "project_id": {"type": "string", "pattern": "^proj_"},
            "created_at": timestamp(),
            "type": {"const": event},
            "data": data,
            "metadata": {"type": "object"},
        }
    )
    return {"title": f"{event} webhook, legacy v2018-08-01 envelope", **envelope}


def check_money(defs: dict[str, Schema]) -> None:
    order = defs["OrderCalculated"]["properties"]
    item = defs["OrderItemCalculated"]["properties"]
    bad = [f"order.{f}" for f in MONEY if order[f].get("type") != "integer"]
    bad += [f"item.{f}" for f in ITEM_MONEY if item[f].get("type") != "integer"]
    if bad:
        raise SystemExit(f"money fields are not integers in the spec: {', '.join(bad)}")


def build(spec: Schema) -> dict[str, Schema]:
    """File name -> schema, for every file this script owns."""
    components = copy.deepcopy(spec["components"]["schemas"])
    apply_patches(components)
    files: dict[str, Schema] = {}
    for event in EVENTS:
        webhook = spec["webhooks"]["EVENTS." + event.upper()]
        body = webhook["post"]["requestBody"]["content"]["application/json"]["schema"]
        component = body["$ref"].rsplit("/", 1)[1]
        defs = {n: convert(components[n]) for n in ref_closure(components, [component])}
        check_money(defs)
        data = event_data(event, component)
        for suffix, schema in (
            ("data", data),
            ("v2024", envelope_v2024(event, data)),
            ("v2018", envelope_v2018(event, data)),
        ):
            files[f"{event}.{suffix}.json"] = {"$schema": DRAFT, **schema, "$defs": defs}
    return files


def check_metaschema(files: dict[str, Schema]) -> None:
    """Fail the build on a file that is not valid JSON Schema 2020-12 or does not compile.

    Compiling checks the file against the metaschema and resolves every `$ref`, as
    validate() will when it first uses the file.
    """
    import jsonschema_rs

    for name, schema in files.items():
        try:
            jsonschema_rs.Draft202012Validator(schema, validate_formats=False, offline=True)
        except jsonschema_rs.ValidationError as exc:
            where = "".join(f"/{part}" for part in exc.instance_path) or "/"
            message = f"{name}: not valid JSON Schema 2020-12 at {where}: {exc.message}"
            raise SystemExit(message) from exc


def render(schema: Schema) -> str:
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check", action="store_true", help="exit 1 if the files on disk are not up to date"
    )
    args = parser.parse_args(argv)
    schemas = build(json.loads(SPEC.read_text("utf-8")))
    check_metaschema(schemas)
    files = {name: render(schema) for name, schema in schemas.items()}
    if args.check:
        stale = [
            name
            for name, text in files.items()
            if not (OUT / name).is_file() or (OUT / name).read_text("utf-8") != text
        ]
        stale += [p.name for p in sorted(OUT.glob("*.json")) if p.name not in files]
        for name in stale:
            print(f"out of date: simulator/schemas/{name}", file=sys.stderr)
        return 1 if stale else 0
    OUT.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (OUT / name).write_text(text, "utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())

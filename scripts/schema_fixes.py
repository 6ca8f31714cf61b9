"""The fixes build_schemas.py applies to the spec: a short list written by hand, and two
rules read off the official examples.

A mechanical conversion of the spec rejects the spec's own examples. Each fix edits one
node of the raw OpenAPI components before conversion and leaves a `$comment` saying
why. A pointer is "Component/key/key..." inside components.schemas.

The two rules cover what most examples show: a field the spec does not let be null
that an example gives as null is nullable, and a key the spec requires that an
example leaves out is not required. They are found by walking each example
(fixtures/voucherify/official-data/) through its event's schema, so the list follows
the examples and names the first one that needs each fix.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

Schema = dict[str, Any]
Patch = Callable[[Schema, Schema], None]  # (node to fix, all components)
_JSON_TYPES = {
    "object": dict, "array": list, "string": str, "boolean": bool, "null": type(None),
}  # fmt: skip


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


def add_enum(*values: str) -> Patch:
    def patch(node: Schema, _: Schema) -> None:
        node["enum"] = [*node["enum"], *values]

    return patch


def integer(node: Schema, _: Schema) -> None:
    node["type"] = "integer"


def enum_to_items(node: Schema, _: Schema) -> None:
    # An enum of channel names written on the array instead of on its items.
    node["items"] = {**node.get("items", {}), "enum": node.pop("enum")}


def array_of(node: Schema, _: Schema) -> None:
    node["items"] = {"$ref": node.pop("$ref")}
    node["type"] = "array"


def names_or_objects(node: Schema, _: Schema) -> None:
    node["items"] = {"anyOf": [{"type": "string"}, node["items"]]}


PATCHES: list[tuple[str, Patch, str]] = [
    ("OrderCalculated/allOf/1/properties/customer", one_of_to_any_of, "oneOf matched twice"),
    ("OrderCalculated/allOf/1/properties/referrer", one_of_to_any_of, "oneOf matched twice"),
    # After the two above, which point into the allOf this replaces.
    ("OrderCalculated", merge_all_of, "allOf of two closed objects merged into one"),
    ("OrderItemCalculated", add_item_product_sku, "items carry product / sku"),
    ("OrderItemProduct/properties/price", integer, "minor units, as its description says"),
    ("OrderItemSku/properties/price", integer, "minor units, as its description says"),
    ("RedemptionInternal/properties/status", add_enum("ROLLED_BACK"), "rolled-back redemptions"),
    (
        "RedemptionInternal/properties/related_object_type",
        add_enum("redemption"),
        "the parent of stacked redemptions (OrderRedemptions: related_object_type redemption)",
    ),
    (
        "SimpleRedemption/properties/status",
        add_enum("ROLLED_BACK"),
        "ROLLED_BACK in official example redemption.rollback.failed (the spec: ROLLED BACK)",
    ),
    (
        "ReferralProgram/properties/referee_reward/properties/amount",
        integer,
        "a string in the spec, 300 in official example redemption.rollback.*",
    ),
    (
        "SimpleDistribution/properties/distribution_channels",
        enum_to_items,
        "each channel is one of them, official example distribution.manual_distribution_schedule",
    ),
    (
        "EventVoucherLoyaltyCardPointsExpiredData/properties/buckets",
        array_of,
        "a list in official example voucher.loyalty_card.points_expired, as its name says",
    ),
    (
        "CustomerReferrals/properties/campaigns",
        names_or_objects,
        "campaign names in official example customer.updated",
    ),
]


def pointer_node(components: Schema, pointer: str) -> Any:
    node: Any = components
    for key in pointer.split("/"):
        node = node[int(key)] if isinstance(node, list) else node[key]
    return node


def apply(components: Schema, patches: list[tuple[str, Patch, str]]) -> None:
    for pointer, patch, why in patches:
        node = pointer_node(components, pointer)
        patch(node, components)
        node["$comment"] = "; ".join(filter(None, [node.get("$comment"), f"patched: {why}"]))


# ------------------------------------------------------------ read off the examples


def from_examples(
    components: Schema, roots: dict[str, str], examples: Path
) -> list[tuple[str, Patch, str]]:
    """The nullable and required fixes the official examples need, first example named.

    `roots` maps each event to its data component.
    """
    nulls: dict[str, str] = {}  # pointer -> the first event that needs it
    absent: dict[str, dict[str, str]] = {}  # pointer -> key -> the first event
    for event, root in roots.items():
        example = json.loads((examples / f"{event}.data.json").read_text("utf-8"))
        for pointer, what in _walk(components, example, root, frozenset()):
            if what == "null":
                nulls.setdefault(pointer, event)
            else:
                absent.setdefault(pointer, {}).setdefault(what, event)
    fixes: list[tuple[str, Patch, str]] = [
        (pointer, nullable, f"null in official example {event}")
        for pointer, event in sorted(nulls.items())
    ]
    for pointer, keys in sorted(absent.items()):
        why = "; ".join(f"{key} absent in official example {event}" for key, event in keys.items())
        fixes.append((pointer, unrequire(*keys), why))
    return fixes


def _walk(
    components: Schema, value: Any, pointer: str, active: frozenset
) -> Iterator[tuple[str, str]]:
    """(pointer, "null" or a required key) wherever `value` breaks the node at `pointer`."""
    node = pointer_node(components, pointer)
    ref = node.get("$ref")
    if value is None:
        if not node.get("nullable") and (ref or node.get("type") not in (None, "null")
                                         or "allOf" in node):  # fmt: skip
            yield pointer, "null"
        return
    if ref:
        target = ref.rsplit("/", 1)[1]
        if (target, id(value)) not in active:  # recursive schemas
            yield from _walk(components, value, target, active | {(target, id(value))})
        return
    for word in ("allOf", "anyOf", "oneOf"):
        for i, branch in enumerate(node.get(word, ())):
            if word == "allOf" or _fits(components, branch, value):
                yield from _walk(components, value, f"{pointer}/{word}/{i}", active)
    if isinstance(value, dict):
        for key in node.get("required", ()):
            if key not in value:
                yield pointer, key
        for key, item in value.items():
            if key in node.get("properties", {}):
                yield from _walk(components, item, f"{pointer}/properties/{key}", active)
    elif isinstance(value, list) and isinstance(node.get("items"), dict):
        for item in value:
            yield from _walk(components, item, f"{pointer}/items", active)


def _fits(components: Schema, node: Schema, value: Any) -> bool:
    """Whether an anyOf/oneOf branch is one `value` could be meant for, by its type."""
    while "$ref" in node:
        node = components[node["$ref"].rsplit("/", 1)[1]]
    kind = node.get("type")
    if kind is None:
        return True
    if kind in ("integer", "number"):
        return isinstance(value, int | float) and not isinstance(value, bool)
    return isinstance(value, _JSON_TYPES.get(kind, object))

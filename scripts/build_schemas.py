"""Build simulator/schemas/*.json for every Voucherify event from the webhook spec.

Usage: python scripts/build_schemas.py [--check]

The spec is OpenAPI 3.1 in name but written with OpenAPI 3.0 habits (`nullable`,
`example`), and a literal conversion rejects the spec's own examples. This script
converts the spec's components to JSON Schema (draft 2020-12) once, into
voucherify.defs.json, after the fixes of schema_fixes.py; then writes, for each event,
a schema for the bare `data` object and one per envelope version, each a `$ref` into
those shared definitions (schema.py joins them when it loads a file). Output is sorted
and indented so reruns are byte-identical; `--check` exits 1 if the committed files
differ from what would be written.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "scripts")]

import schema_fixes  # noqa: E402

from simulator.generation.catalog import builtin  # noqa: E402

SPEC = ROOT / "fixtures" / "voucherify" / "OpenAPIWebhooks.json"
EXAMPLES = ROOT / "fixtures" / "voucherify" / "official-data"
OUT = ROOT / "simulator" / "schemas"
DEFS = "voucherify.defs.json"
DRAFT = "https://json-schema.org/draft/2020-12/schema"
ORDER_EVENTS = (
    "customer.order.created",
    "customer.order.updated",
    "customer.order.paid",
    "customer.order.canceled",
)
ORDER_STATUSES = ["CREATED", "PAID", "CANCELED", "FULFILLED"]

# What the spec calls date-time is UTC with milliseconds and `Z` in the order examples
# (2024-03-12T14:41:49.128Z). Some official examples, orders included
# (customer.rewarded.loyalty_points), carry microseconds instead, so 6 digits pass too,
# and one (customer.reward_redemptions.completed) writes 2024-05-13T12: 25: 59.587Z, so
# a space may follow each colon. A pattern checks the shape without turning on format
# checking.
TIMESTAMP = (
    r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"
    r"T([01][0-9]|2[0-3]): ?[0-5][0-9]: ?[0-5][0-9]\.[0-9]{3}([0-9]{3})?Z$"
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
    if "oneOf" in out:
        # The spec's alternatives overlap (a string and a date string, an object and a
        # subset of it): a value the examples give matches two, and oneOf refuses it.
        out["anyOf"] = out.pop("oneOf")
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
    data: Schema = {"title": f"{event} data", "$ref": f"#/$defs/{component}"}
    if event not in ORDER_EVENTS:
        return data
    status: Schema = (
        {"enum": ORDER_STATUSES}
        if event == "customer.order.updated"
        else {"const": event.rsplit(".", 1)[1].upper()}
    )
    # Paying, canceling or updating an order updates it; only a new one has null.
    updated_at = {"type": "null"} if event == "customer.order.created" else timestamp()
    data["properties"] = {
        "order": {
            "required": ["status", "updated_at"],
            "properties": {"status": status, "updated_at": updated_at},
        }
    }
    return data


def closed(properties: Schema) -> Schema:
    """An object with exactly these keys: envelopes are the simulator's own output."""
    return {
        "type": "object",
        "additionalProperties": False,
        "required": list(properties),
        "properties": properties,
    }


def envelope_v2024(event: str, data: Schema) -> Schema:
    """The envelope as the catalog's event sends it: from a distribution, a project
    webhook or either (simulator/generation/catalog.py has the docs' facts)."""
    found = builtin()[event]
    sources = {
        "distribution": {"id": "^distr_", "object": "distribution"},
        "project": {"id": "^wh_", "object": "webhook"},
    }
    senders = list(sources) if found.delivery not in sources else [found.delivery]
    source = [
        closed(
            {
                "id": {"type": "string", "pattern": sources[sender]["id"]},
                "object": {"const": sources[sender]["object"]},
                "target_url": {"type": "string"},
            }
        )
        for sender in senders
    ]
    envelope = closed(
        {
            "id": {"type": "string", "pattern": "^whs_"},
            "project_id": {"type": "string", "pattern": "^proj_"},
            "created_at": timestamp(),
            # A distribution's: the name the user typed for it, not the event name.
            "type": {"type": "string"},
            "data": data,
            "source": source[0] if len(source) == 1 else {"anyOf": source},
            "event": closed(
                {
                    "id": {"type": "string", "pattern": "^ev[a-z]{3}_"},
                    "type": {"const": found.type},
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
            "type": {"const": builtin()[event].type},
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


def data_components(spec: Schema) -> dict[str, str]:
    """Each event's data component, by event name (bus_val_rule.created: ...)."""
    found = {}
    for key, webhook in spec["webhooks"].items():
        body = webhook["post"]["requestBody"]["content"]["application/json"]["schema"]
        found[key.removeprefix("EVENTS.").lower()] = body["$ref"].rsplit("/", 1)[1]
    return dict(sorted(found.items()))


def build(spec: Schema) -> dict[str, Schema]:
    """File name -> schema, for every file this script owns."""
    components = copy.deepcopy(spec["components"]["schemas"])
    schema_fixes.apply(components, schema_fixes.PATCHES)
    roots = data_components(spec)
    schema_fixes.apply(components, schema_fixes.from_examples(components, roots, EXAMPLES))
    names = ref_closure(components, list(roots.values()))
    defs = {name: convert(components[name]) for name in names}
    check_money(defs)
    files: dict[str, Schema] = {DEFS: {"$schema": DRAFT, "$defs": defs}}
    for event, component in roots.items():
        data = event_data(event, component)
        for suffix, schema in (
            ("data", data),
            ("v2024", envelope_v2024(event, data)),
            ("v2018", envelope_v2018(event, data)),
        ):
            files[f"{event}.{suffix}.json"] = {"$schema": DRAFT, **schema}
    return files


def check_metaschema(files: dict[str, Schema]) -> None:
    """Fail the build on a file that is not valid JSON Schema 2020-12 or does not compile.

    Compiling checks the file against the metaschema and resolves every `$ref`, as
    validate() will when it first uses the file (with the shared definitions).
    """
    import jsonschema_rs

    defs = files[DEFS]["$defs"]
    for name, schema in files.items():
        try:
            whole = schema if name == DEFS else {**schema, "$defs": defs}  # as schema.py does
            jsonschema_rs.Draft202012Validator(whole, validate_formats=False, offline=True)
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

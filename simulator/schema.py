"""Validate webhook payloads against the project's JSON Schemas in simulator/schemas/."""

from __future__ import annotations

import difflib
import functools
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from simulator.errors import SchemaError, UsageError
from simulator.schema_check import CompiledSchema

SCHEMA_DIR = Path(__file__).parent / "schemas"
ENVELOPES = ("v2024", "v2018", "none")
_DRAFT = "https://json-schema.org/draft/2020-12/schema"

# Schema file suffix per envelope, and where the event name is read from.
_SUFFIX = {"v2024": "v2024", "v2018": "v2018", "none": "data"}
_DEFS = "voucherify.defs.json"
_EVENT_PATH = {"v2024": "$.event.type", "v2018": "$.type", "none": "$"}
_BY_STATUS = {"PAID": "customer.order.paid", "CANCELED": "customer.order.canceled"}
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")

PathParts = Sequence[str | int]


@dataclass(frozen=True)
class Problem:
    """One reason a payload does not match its schema."""

    path: str  # JSON path of the offending value, e.g. "$.data.order.items[0].amount"
    message: str


def supported_events() -> list[str]:
    """Event names that have schemas, sorted."""
    return list(_events())


def validate(
    payload: dict[str, Any] | list[Any] | object,
    event: str | None = None,
    envelope: str | None = None,
) -> list[Problem]:
    """Every problem with `payload`, sorted by path (array indices numerically).

    `event` defaults to the one the payload names (or implies, for bare data);
    `envelope` ("v2024", "v2018" or "none" for bare data) defaults to the detected one.
    An unsupported event is reported as a Problem. Raises UsageError for an unknown
    envelope name and SchemaError if the schema files are missing or corrupt.
    """
    if envelope is None:
        envelope = detect_envelope(payload)
    elif envelope not in ENVELOPES:
        raise UsageError(f"unknown envelope {envelope!r}; expected one of {', '.join(ENVELOPES)}")
    name = event if event is not None else infer_event(payload, envelope)
    if name is None:
        return [
            Problem(
                "$",
                "bare data that is no order names no event: pass the event to check it "
                "against ('webhook-sim events' lists them)",
            )
        ]
    if name not in _events():
        path = "$" if event is not None else _EVENT_PATH[envelope]
        close = difflib.get_close_matches(name, _events(), n=1, cutoff=0.6)
        hint = f"did you mean {close[0]!r}? " if close else ""
        listed = f"'webhook-sim events' lists the {len(_events())} supported"
        return [Problem(path, f"unsupported event type {name!r} ({hint}{listed})")]
    found = _validator(name, envelope).problems(payload)
    ordered = sorted(found, key=lambda item: (_sort_key(item[0]), item[1]))
    return [Problem(_format_path(parts), message) for parts, message in ordered]


def detect_envelope(payload: object) -> str:
    """'v2024', 'v2018' or 'none' (bare data), from the payload's top-level keys."""
    if isinstance(payload, dict):
        if {"event", "source", "data"} <= payload.keys():
            return "v2024"
        if payload.get("object") == "event":
            return "v2018"
    return "none"


def infer_event(payload: object, envelope: str) -> str | None:
    """The event a payload is for: named by the envelope, else implied by the order.

    Bare data says nothing explicit, so the order decides: PAID is `paid`, CANCELED is
    `canceled`, FULFILLED or anything updated is `updated` (whose schema allows every
    status), the rest (never updated) is `created`. A payload fits the inferred event's
    schema exactly when it fits one of the four, so inference never rejects a payload
    that some order event would accept.
    """
    if envelope != "none" and isinstance(payload, dict):
        named = payload.get("event") if envelope == "v2024" else payload
        if isinstance(named, dict) and isinstance(named.get("type"), str):
            return event_name(named["type"])
        payload = payload.get("data")
    if isinstance(payload, dict) and not _looks_like_order_data(payload):
        return None  # nothing says this is an order event at all
    order = payload.get("order") if isinstance(payload, dict) else None
    order = order if isinstance(order, dict) else {}
    status = order.get("status")
    if isinstance(status, str) and status in _BY_STATUS:
        return _BY_STATUS[status]
    if status == "FULFILLED" or order.get("updated_at") is not None:
        return "customer.order.updated"
    return "customer.order.created"


def event_name(wire_type: str) -> str:
    """The event a type in an envelope names: the spec calls business_validation_rule.*
    bus_val_rule.*, and manual_distribution_schedule distribution.manual_...; the
    others are their own names (simulator/generation/catalog.py has the facts)."""
    if wire_type.startswith(_RULE_TYPE):
        return "bus_val_rule." + wire_type.removeprefix(_RULE_TYPE)
    return _WIRE_NAMES.get(wire_type, wire_type)


_RULE_TYPE = "business_validation_rule."
_WIRE_NAMES = {"manual_distribution_schedule": "distribution.manual_distribution_schedule"}


def _looks_like_order_data(data: dict[str, Any]) -> bool:
    # An order body missing its order still has the other keys the four events share.
    return "order" in data or ("customer" in data and ("referrer" in data or "redemption" in data))


# ----------------------------------------------------------------------- loading


@functools.cache
def _events() -> tuple[str, ...]:
    names = tuple(sorted(p.name.removesuffix(".data.json") for p in SCHEMA_DIR.glob("*.data.json")))
    if not names:
        raise SchemaError(f"no schemas found in {SCHEMA_DIR}")
    return names


def _load(event: str, envelope: str) -> dict[str, Any]:
    schema = _read(SCHEMA_DIR / f"{event}.{_SUFFIX[envelope]}.json")
    # The events share one set of definitions, written once (scripts/build_schemas.py).
    if "$defs" not in schema and (SCHEMA_DIR / _DEFS).is_file():
        schema = {**schema, "$defs": _read(SCHEMA_DIR / _DEFS)["$defs"]}
    return schema


def _read(path: Path) -> dict[str, Any]:
    try:
        schema = json.loads(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise SchemaError(f"cannot load schema {path.name}: {exc}") from exc
    if not (isinstance(schema, dict) and schema.get("$schema") == _DRAFT):
        raise SchemaError(f"schema {path.name} is not a draft 2020-12 JSON Schema")
    return schema


@functools.cache
def _validator(event: str, envelope: str) -> CompiledSchema:
    # Compiled on first use: a few milliseconds, the metaschema check included.
    path = SCHEMA_DIR / f"{event}.{_SUFFIX[envelope]}.json"
    return CompiledSchema(_load(event, envelope), path.name, f"the {event} schema ({envelope})")


# ------------------------------------------------------------------------ paths


def _sort_key(parts: PathParts) -> tuple[tuple[int, int, str], ...]:
    return tuple((0, p, "") if isinstance(p, int) else (1, 0, p) for p in parts)


def _format_path(parts: PathParts) -> str:
    out = "$"
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _IDENTIFIER.match(part):
            out += f".{part}"
        else:
            out += f"[{json.dumps(part, ensure_ascii=False)}]"
    return out

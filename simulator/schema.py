"""Validate webhook payloads against the project's JSON Schemas in simulator/schemas/."""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fastjsonschema
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError as _InvalidSchema
from jsonschema.exceptions import UnknownType, ValidationError
from referencing.exceptions import Unresolvable

from simulator.errors import SchemaError, UsageError

SCHEMA_DIR = Path(__file__).parent / "schemas"
ENVELOPES = ("v2024", "v2018", "none")
_DRAFT = "https://json-schema.org/draft/2020-12/schema"

# Schema file suffix per envelope, and where the event name is read from.
_SUFFIX = {"v2024": "v2024", "v2018": "v2018", "none": "data"}
_EVENT_PATH = {"v2024": "$.event.type", "v2018": "$.type", "none": "$"}
_BY_STATUS = {"PAID": "customer.order.paid", "CANCELED": "customer.order.canceled"}
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_MAX_MESSAGE = 200
_ANNOTATIONS = frozenset({"title", "description", "$comment", "default", "examples"})

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
                "not an order event: no event type and no order in the body "
                "(pass the event to check it against)",
            )
        ]
    if name not in _events():
        path = "$" if event is not None else _EVENT_PATH[envelope]
        supported = ", ".join(_events())
        return [Problem(path, f"unsupported event type {name!r} (supported: {supported})")]
    if _fast_check(name, envelope, payload):
        return []
    try:
        errors = list(_validator(name, envelope).iter_errors(payload))
    except (Unresolvable, UnknownType, _InvalidSchema) as exc:
        raise SchemaError(f"the {name} schema ({envelope}) is corrupt: {exc}") from exc
    found = {problem for error in errors for problem in _problems(error)}
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
            return named["type"]
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


# A schema compiled to Python (fastjsonschema) says valid/invalid ~20x faster than
# jsonschema walks it, but compiling takes ~0.5 s: a schema is compiled once it has been
# used this often, and jsonschema still lists the problems of an invalid payload.
_COMPILE_AFTER = 100
_uses: dict[tuple[str, str], int] = {}


def _fast_check(event: str, envelope: str, payload: object) -> bool:
    """True when the compiled schema accepts the payload; False when unsure or invalid."""
    key = (event, envelope)
    uses = _uses[key] = _uses.get(key, 0) + 1
    if uses < _COMPILE_AFTER:
        return False
    try:
        _compiled(event, envelope)(payload)
    except fastjsonschema.JsonSchemaException:
        return False
    return True


@functools.cache
def _compiled(event: str, envelope: str) -> Callable[[object], object]:
    # Formats are annotations here, as in jsonschema's default: the two must agree.
    return fastjsonschema.compile(_ref_siblings(_load(event, envelope)), use_formats=False)


def _ref_siblings(node: Any) -> Any:
    """Draft 2020-12 applies keywords beside a `$ref`; fastjsonschema (draft 7) ignores
    them. `{"$ref": r, **rest}` becomes `{"allOf": [{"$ref": r}, rest]}`, which both
    drafts read the same way."""
    if isinstance(node, list):
        return [_ref_siblings(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _ref_siblings(value) for key, value in node.items()}
    rest = {k: v for k, v in out.items() if k not in ("$ref", "$defs") and k not in _ANNOTATIONS}
    if "$ref" in out and rest:
        kept = {k: v for k, v in out.items() if k not in rest and k != "$ref"}
        return {**kept, "allOf": [{"$ref": out["$ref"]}, rest]}
    return out


@functools.cache
def _load(event: str, envelope: str) -> dict[str, Any]:
    path = SCHEMA_DIR / f"{event}.{_SUFFIX[envelope]}.json"
    try:
        schema = json.loads(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise SchemaError(f"cannot load schema {path.name}: {exc}") from exc
    # Checking against the metaschema takes ~0.4 s per file; the build script does it,
    # so loading only checks the shape and validate() reports what breaks in use.
    if not (isinstance(schema, dict) and schema.get("$schema") == _DRAFT):
        raise SchemaError(f"schema {path.name} is not a draft 2020-12 JSON Schema")
    return schema


@functools.cache
def _validator(event: str, envelope: str) -> Draft202012Validator:
    schema = _load(event, envelope)
    path = SCHEMA_DIR / f"{event}.{_SUFFIX[envelope]}.json"
    try:
        return Draft202012Validator(_inline_refs(schema))
    except KeyError as exc:
        raise SchemaError(f"schema {path.name} refers to a missing $defs entry {exc}") from exc


def _inline_refs(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema with each `#/$defs/...` reference replaced by its target.

    jsonschema looks a `$ref` up on every use, a third of the time spent on an order.
    Each target is converted once and shared; a `$ref` that would recurse stays, and
    jsonschema resolves it against the `$defs` that the root keeps.
    """
    defs = schema.get("$defs", {})
    done: dict[str, Any] = {}

    def walk(node: Any, active: frozenset[str]) -> Any:
        if isinstance(node, list):
            return [walk(v, active) for v in node]
        if not isinstance(node, dict):
            return node
        out = {k: v if k == "$defs" else walk(v, active) for k, v in node.items()}
        ref = out.get("$ref")
        if not isinstance(ref, str) or not ref.startswith("#/$defs/"):
            return out
        name = ref.removeprefix("#/$defs/")
        if name in active:
            return out
        if name not in done:
            done[name] = walk(defs[name], active | {name})
        rest = {k: v for k, v in out.items() if k != "$ref" and k not in _ANNOTATIONS}
        return {"allOf": [done[name], rest]} if rest else done[name]

    return walk(schema, frozenset())


# ----------------------------------------------------------------- error shaping


def _problems(error: ValidationError) -> Iterator[tuple[tuple[str | int, ...], str]]:
    """(path parts, message) for one jsonschema error, pointing at the offending key."""
    path = tuple(error.absolute_path)
    if error.validator == "required" and isinstance(error.instance, dict):
        # One error per missing key, all with the same list: name each key once.
        for key in error.validator_value:
            if key not in error.instance:
                yield (*path, key), f"{key!r} is a required property"
    elif error.validator == "additionalProperties" and isinstance(error.instance, dict):
        allowed = error.schema.get("properties", {})
        for key in error.instance:
            if key not in allowed:
                yield (*path, key), f"additional property {key!r} is not allowed"
    elif error.validator in ("anyOf", "oneOf") and error.context:
        branch = _closest_branch(error.context)
        if branch is None:  # every alternative wants another type
            types = [t for e in error.context if e.validator == "type" for t in _listed(e)]
            yield path, f"{_short(error.instance)} is not of type {' or '.join(types)}"
        else:
            for sub in branch:
                yield from _problems(sub)
    else:
        yield path, _shorten(error.message)


def _closest_branch(context: list[ValidationError]) -> list[ValidationError] | None:
    """The errors of the alternative the value was most likely meant to be.

    Alternatives that reject the value's own type (the `null` half of a nullable
    field, say) are not what was meant; of the rest, the one with the fewest errors.
    """
    branches: dict[Any, list[ValidationError]] = {}
    for sub in context:
        branches.setdefault(sub.relative_schema_path[0], []).append(sub)
    fitting = [
        errors
        for errors in branches.values()
        if not any(e.validator == "type" and not e.relative_path for e in errors)
    ]
    return min(fitting, key=len) if fitting else None


def _listed(error: ValidationError) -> list[str]:
    value = error.validator_value
    return [repr(t) for t in (value if isinstance(value, list) else [value])]


def _short(value: object) -> str:
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    return _shorten(repr(value))


def _shorten(text: str) -> str:
    return text if len(text) <= _MAX_MESSAGE else text[: _MAX_MESSAGE - 1] + "…"


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

"""A schema compiled by jsonschema-rs, and its errors in the words validate() reports.

jsonschema-rs compiles one of the order schemas in a few milliseconds and checks a
payload in microseconds, so one validator serves from the first request on. Its errors
are reshaped here: each points at the offending key, a nullable field's `null` half is
not what the user meant, and messages keep jsonschema's wording with Python reprs of
the payload's own values ("'2500' is not of type 'integer'").
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import Any

import jsonschema_rs
from jsonschema_rs import ValidationError
from jsonschema_rs import ValidationErrorKind as Kind

from simulator.errors import SchemaError

PathParts = tuple[str | int, ...]
_MAX_MESSAGE = 200
_MISSING_DEF = re.compile(r"Pointer '/\$defs/([^/']+)' does not exist")

# jsonschema's wording of each keyword's failure; the fields are the payload's value
# and the keyword's value in the schema.
_WORDING = {
    "type": "{value!r} is not of type {types}",
    "enum": "{value!r} is not one of {expected!r}",
    "const": "{expected!r} was expected",
    "pattern": "{value!r} does not match {expected!r}",
    "minimum": "{value!r} is less than the minimum of {expected!r}",
    "maximum": "{value!r} is greater than the maximum of {expected!r}",
    "exclusiveMinimum": "{value!r} is less than or equal to the minimum of {expected!r}",
    "exclusiveMaximum": "{value!r} is greater than or equal to the maximum of {expected!r}",
    "multipleOf": "{value!r} is not a multiple of {expected}",
    "uniqueItems": "{value!r} has non-unique elements",
    "not": "{value!r} should not be valid under {expected!r}",
}
# Size limits: (wording at the edge case, wording otherwise), as jsonschema has them.
_SIZES = {
    "minLength": (1, "should be non-empty", "is too short"),
    "minItems": (1, "should be non-empty", "is too short"),
    "minProperties": (1, "should be non-empty", "does not have enough properties"),
    "maxLength": (0, "is expected to be empty", "is too long"),
    "maxItems": (0, "is expected to be empty", "is too long"),
    "maxProperties": (0, "is expected to be empty", "has too many properties"),
}


class CompiledSchema:
    """One schema, compiled; `problems(payload)` lists what is wrong with a payload."""

    __slots__ = ("_schema", "_validator")

    def __init__(self, schema: dict[str, Any], source: str, name: str) -> None:
        """Compile `schema` (read from the file `source`; `name` names it in messages).

        Raises SchemaError when the schema is not valid JSON Schema or a `$ref` does
        not resolve. Remote references are never fetched.
        """
        self._schema = schema
        try:
            # Formats are annotations, as in draft 2020-12's default.
            self._validator = jsonschema_rs.Draft202012Validator(
                schema, validate_formats=False, offline=True
            )
        except ValidationError as exc:
            missing = _MISSING_DEF.fullmatch(exc.message)
            if isinstance(exc.kind, Kind.Referencing) and missing:
                raise SchemaError(
                    f"schema {source} refers to a missing $defs entry {missing[1]!r}"
                ) from exc
            where = "".join(f"/{part}" for part in exc.instance_path)
            where = f" at {where}" if where else ""
            raise SchemaError(f"{name} is corrupt{where}: {exc.message}") from exc
        except ValueError as exc:  # a value jsonschema-rs cannot take at all
            raise SchemaError(f"{name} is corrupt: {exc}") from exc

    def problems(self, payload: object) -> set[tuple[PathParts, str]]:
        """(path parts, message) for each problem with `payload`; empty when it is valid."""
        try:
            if self._validator.is_valid(payload):  # the common case, and the fast one
                return set()
            errors = list(self._validator.iter_errors(payload))
        except ValueError as exc:
            if isinstance(exc, ValidationError):
                raise
            # A value JSON has no type for (a datetime, say): nothing to check it against.
            path, value = _foreign(payload) or ((), payload)
            return {(path, f"{_short(value)} is not a JSON value ({exc})")}
        return {found for error in errors for found in self._shape(error, payload)}

    def _shape(self, error: ValidationError, payload: object) -> Iterator[tuple[PathParts, str]]:
        """The problems one error stands for, each pointing at the offending key."""
        kind = error.kind
        path = tuple(error.instance_path)
        if isinstance(kind, Kind.Required):
            yield (*path, kind.property), f"{kind.property!r} is a required property"
        elif isinstance(kind, Kind.AdditionalProperties):
            for key in kind.unexpected:
                yield (*path, key), f"additional property {key!r} is not allowed"
        elif isinstance(kind, (Kind.AnyOf, Kind.OneOfNotValid)):
            branch = _closest_branch(error.instance_path, kind.context)
            if branch is None:  # every alternative wants another type
                types = [
                    repr(t)
                    for errors in kind.context
                    for sub in errors
                    if isinstance(sub.kind, Kind.Type)
                    for t in self._types(sub)
                ]
                value = _short(_at(payload, path, error.instance))
                yield path, f"{value} is not of type {' or '.join(types)}"
            else:
                for sub in branch:
                    yield from self._shape(sub, payload)
        else:
            yield path, _shorten(self._message(error, _at(payload, path, error.instance)))

    def _message(self, error: ValidationError, value: object) -> str:
        keyword = error.kind.name
        expected = self._keyword_value(error)
        if keyword == "type":
            types = ", ".join(repr(t) for t in self._types(error))
            return _WORDING[keyword].format(value=value, types=types)
        if isinstance(error.kind, Kind.OneOfMultipleValid):
            branches = expected if isinstance(expected, list) else []
            valid = [
                s for s, errors in zip(branches, error.kind.context, strict=False) if not errors
            ]
            # jsonschema names the later matches first, then the first one.
            reprs = ", ".join(repr(s) for s in valid[1:] + valid[:1])
            return f"{value!r} is valid under each of {reprs}"
        if keyword in _SIZES and expected is not None:
            edge, at_edge, otherwise = _SIZES[keyword]
            return f"{value!r} {at_edge if expected == edge else otherwise}"
        if keyword in _WORDING and expected is not None:
            return _WORDING[keyword].format(value=value, expected=expected)
        return error.message

    def _types(self, error: ValidationError) -> list[str]:
        # The schema's own order: jsonschema-rs lists a union's types in its own order.
        declared = self._keyword_value(error)
        if isinstance(declared, str):
            return [declared]
        if isinstance(declared, list):
            return declared
        return list(error.kind.types) if isinstance(error.kind, Kind.Type) else []

    def _keyword_value(self, error: ValidationError) -> Any:
        """The failing keyword's value in the schema, or None if it cannot be found."""
        node: Any = self._schema
        for part in error.schema_path:
            try:
                node = node[part]
            except (KeyError, IndexError, TypeError):
                return None
        return node


def _closest_branch(
    here: Sequence[str | int], branches: list[list[ValidationError]]
) -> list[ValidationError] | None:
    """The errors of the alternative the value was most likely meant to be.

    Alternatives that reject the value's own type (the `null` half of a nullable
    field, say) are not what was meant; of the rest, the one with the fewest errors.
    """
    fitting = [
        errors
        for errors in branches
        if not any(isinstance(e.kind, Kind.Type) and e.instance_path == here for e in errors)
    ]
    return min(fitting, key=len) if fitting else None


def _at(payload: object, path: PathParts, fallback: object) -> object:
    """The payload's own value at `path` (jsonschema-rs hands back a converted copy)."""
    node: Any = payload
    for part in path:
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            return fallback
    return node


def _foreign(node: object, path: PathParts = ()) -> tuple[PathParts, object] | None:
    """Where the first value that is not JSON data is, and the value."""
    if isinstance(node, dict):
        for key, value in node.items():
            if not isinstance(key, str):
                return path, node
            found = _foreign(value, (*path, key))
            if found:
                return found
        return None
    if isinstance(node, (list, tuple)):
        for index, value in enumerate(node):
            found = _foreign(value, (*path, index))
            if found:
                return found
        return None
    return None if node is None or isinstance(node, (str, int, float)) else (path, node)


def _short(value: object) -> str:
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    return _shorten(repr(value))


def _shorten(text: str) -> str:
    return text if len(text) <= _MAX_MESSAGE else text[: _MAX_MESSAGE - 1] + "…"

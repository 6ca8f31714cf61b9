"""`--set path=value` overrides: parse them once, apply them to every generated payload."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import orjson

from simulator.errors import OverrideError

_SEGMENT = re.compile(r"([^.\[\]]+)|\[(\d+)\]")
_PATH = re.compile(r"^[^.\[\]]+(?:\[\d+\])*(?:\.[^.\[\]]+(?:\[\d+\])*)*$")


@dataclass(frozen=True)
class Override:
    path: tuple[str | int, ...]
    value: Any
    text: str

    def apply(self, payload: dict, *, create: bool = False) -> None:
        """Set the value; a path not found in the payload is an error unless `create`.

        A path that does not start at the root is looked up inside `data`, so
        `order.amount` means the same with or without an envelope.
        """
        path = self.path
        if path[0] not in payload and isinstance(payload.get("data"), dict):
            path = ("data", *path)
        *parents, last = path
        node: Any = payload
        for depth, key in enumerate(parents):
            self._check(node, path[:depth], key, create)
            child = node.get(key) if isinstance(key, str) else node[key]
            if child is None and create:  # missing or null: make what the next key needs
                child = node[key] = [] if isinstance(path[depth + 1], int) else {}
            node = child
        self._check(node, tuple(parents), last, create)
        node[last] = self.value

    def _check(self, node: Any, at: tuple, key: str | int, create: bool) -> None:
        """Raise unless `node`, found at path `at`, can be stepped into with `key`."""
        if isinstance(key, int):
            if not isinstance(node, list):
                raise self._in_the_way(at, node, "a list")
            if not 0 <= key < len(node):
                raise self._out_of_range((*at, key), len(node))
        elif node is None or (isinstance(node, dict) and key not in node and not create):
            # Only here can --set-new help: it makes a missing key, or one that is null.
            raise OverrideError(
                f"--set {self.text}: path '{_format((*at, key))}' does not exist in the "
                "payload (use --set-new to create it)"
            )
        elif not isinstance(node, dict):
            raise self._in_the_way(at, node, "an object")

    def _in_the_way(self, at: tuple, node: Any, wanted: str) -> OverrideError:
        return OverrideError(
            f"--set {self.text}: '{_format(at)}' is {_kind(node)}, not {wanted}, "
            "so the path cannot go through it"
        )

    def _out_of_range(self, path: tuple, size: int) -> OverrideError:
        return OverrideError(
            f"--set {self.text}: index {path[-1]} is out of range at '{_format(path)}' "
            f"(the list has {size} item{'s' if size != 1 else ''}; --set-new does not add items)"
        )


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):  # before int: a bool is an int in Python
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    kinds: dict[type, str] = {dict: "an object", list: "a list", str: "a string"}
    return kinds.get(type(value), "a value")


def _format(path: Iterable[str | int]) -> str:
    out = ""
    for key in path:
        out += f"[{key}]" if isinstance(key, int) else (f".{key}" if out else key)
    return out


def parse_path(path_text: str) -> tuple[str | int, ...]:
    """`order.items[0].price` as ("order", "items", 0, "price")."""
    path_text = path_text.strip()
    if not _PATH.match(path_text):
        raise OverrideError(
            f"invalid --set path '{path_text}': use dotted keys and [index], "
            "e.g. order.items[0].price"
        )
    return tuple(int(index) if index else key for key, index in _SEGMENT.findall(path_text))


def parse_override(text: str) -> Override:
    """`order.items[0].price=1999`: the value is JSON, or a plain string if it is not."""
    path_text, sep, raw = text.partition("=")
    if not sep or not path_text.strip():
        raise OverrideError(f"invalid --set '{text}': use PATH=VALUE, e.g. order.amount=5000")
    _check_numbers(raw, text)
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        value = raw  # `--set order.source_id=abc` should not need JSON quotes
    return Override(parse_path(path_text), value, text)


# The integers orjson writes: it reads a larger one as a float, and cannot write one.
_INT_MIN, _INT_MAX = -(2**63), 2**64 - 1


def _check_numbers(raw: str, text: str) -> None:
    """Refuse a number the output cannot hold, rather than changing it.

    orjson reads 12345678901234567890123 as 1.2345678901234568e+22 and rejects 1e400
    (which would then be the string "1e400"); Python's json reads every number as it is
    written, so each can be checked. Only a value that is JSON as a whole is checked.
    """
    unfit: list[str] = []  # why each number that does not fit does not

    def integer(literal: str) -> int:
        # Past 20 digits it is out of range; int() of thousands of digits would refuse.
        if len(literal.lstrip("-")) > 20 or not _INT_MIN <= int(literal) <= _INT_MAX:
            unfit.append(
                f"the integer {literal} cannot be written exactly (JSON output holds "
                f"integers from {_INT_MIN} to {_INT_MAX})"
            )
            return 0
        return int(literal)

    def real(literal: str) -> float:
        if math.isinf(float(literal)):
            unfit.append(f"the number {literal} is out of range (past about 1.8e308)")
        return float(literal)

    try:
        json.loads(raw, parse_int=integer, parse_float=real)
    except ValueError:
        return  # not JSON: a plain string, with no number in it
    if unfit:
        raise OverrideError(f"--set {text}: {unfit[0]}; quote it to make it a string")


def override(path_text: str, value: Any) -> Override:
    """An override from Python: the value is used as it is, if JSON can hold it exactly."""
    text = f"{path_text}={value!r}"
    try:
        orjson.dumps(value)
    except TypeError as exc:  # a type JSON has no form for, or an int beyond 64 bits
        raise OverrideError(f"--set {text}: not a JSON value ({exc})") from None
    if _inexact(value):
        raise OverrideError(f"--set {text}: JSON has no number for inf or nan")
    return Override(parse_path(path_text), value, text)


def _inexact(value: Any) -> bool:
    """Whether `value` holds a float that orjson would write as null."""
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, dict):
        return any(_inexact(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(_inexact(v) for v in value)
    return False


def parse_overrides(texts: Iterable[str]) -> tuple[Override, ...]:
    return tuple(parse_override(t) for t in texts)

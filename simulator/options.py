"""Option values as the command line writes them: small parsers, and errors that name the
option, shared by the CLI and the Python API so that both refuse the same input in the
same words."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator, Sequence
from typing import Any

from simulator.errors import OptionError, UsageError


@contextlib.contextmanager
def naming(*flags: str) -> Iterator[None]:
    """A UsageError raised in the block becomes an OptionError that names `flags`."""
    try:
        yield
    except OptionError:
        raise
    except UsageError as exc:
        raise OptionError(flags, str(exc)) from None


def refuse(flag: str, message: str) -> OptionError:
    """The error for a rule between options, reported against the option that breaks it."""
    return OptionError((flag,), message)


def whole(value: Any, least: int, what: str) -> int:
    """A whole number of at least `least`, from an int or its text."""
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise UsageError(f"invalid {what} {value!r}: use a whole number, {least} or more")
    return value


def fraction(value: Any, what: str, high: float = 1.0) -> float:
    """A number from 0 to `high`, from a number or its text."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    if isinstance(value, bool) or not 0.0 <= number <= high:
        raise UsageError(f"invalid {what} {value!r}: use a number from 0 to {high:g}")
    return number


def choice(value: Any, choices: Sequence[str], what: str) -> str:
    if value not in choices:
        raise UsageError(f"unknown {what} '{value}': choose one of {', '.join(choices)}")
    return value

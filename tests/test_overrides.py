"""`--set PATH=VALUE`: how values are read, and what an override that cannot apply says."""

from __future__ import annotations

import pytest

from simulator.errors import OverrideError
from simulator.generation.overrides import override, parse_override
from simulator.generation.payloads import PayloadFactory


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        ("18446744073709551615", 18446744073709551615),  # the largest integer orjson writes
        ("-9223372036854775808", -9223372036854775808),  # and the smallest
        ("1E2", 100.0),  # a float in JSON too
        ("1e-400", 0.0),  # too small to tell from zero, but not out of range
        ("1e400x", "1e400x"),  # not JSON: a string, whatever number it starts with
        ('"1e400"', "1e400"),
        ("NaN", "NaN"),  # not JSON either
    ],
)
def test_values_the_output_can_hold_are_kept(raw, value) -> None:
    assert parse_override(f"order.amount={raw}").value == value


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (
            "12345678901234567890123",
            "the integer 12345678901234567890123 cannot be written exactly (JSON output "
            "holds integers from -9223372036854775808 to 18446744073709551615)",
        ),
        ("18446744073709551616", "the integer 18446744073709551616 cannot be written exactly"),
        ("-9223372036854775809", "the integer -9223372036854775809 cannot be written exactly"),
        ("9" * 5000, f"the integer {'9' * 5000} cannot be written exactly"),
        ("1e400", "the number 1e400 is out of range (past about 1.8e308)"),
        ('{"a": [1, -1E999]}', "the number -1E999 is out of range"),
    ],
)
def test_a_number_the_output_cannot_hold_is_refused(raw, reason) -> None:
    with pytest.raises(OverrideError) as exc:
        parse_override(f"order.amount={raw}")
    assert str(exc.value).startswith(f"--set order.amount={raw}: {reason}")
    assert str(exc.value).endswith("; quote it to make it a string")


def _apply(text: str, payload: dict, create: bool) -> str:
    with pytest.raises(OverrideError) as exc:
        parse_override(text).apply(payload, create=create)
    return str(exc.value)


@pytest.mark.parametrize("create", [False, True])
@pytest.mark.parametrize(
    ("text", "payload", "message"),
    [
        (
            "order.amount.x=5",
            {"order": {"amount": 5000}},
            "'order.amount' is a number, not an object, so the path cannot go through it",
        ),
        (
            "customer.name[0]=5",
            {"customer": {"name": "Ann"}},
            "'customer.name' is a string, not a list, so the path cannot go through it",
        ),
        (
            "order.paid.x=5",
            {"order": {"paid": True}},
            "'order.paid' is a boolean, not an object, so the path cannot go through it",
        ),
        (
            "order.items.x=5",
            {"order": {"items": []}},
            "'order.items' is a list, not an object, so the path cannot go through it",
        ),
    ],
    ids=["number", "string", "boolean", "list"],
)
def test_what_is_in_the_way_is_named_with_or_without_set_new(
    text, payload, message, create
) -> None:
    # --set-new cannot help with these, so the message must not suggest it.
    assert _apply(text, payload, create) == f"--set {text}: {message}"


def test_only_a_path_that_set_new_can_make_suggests_it() -> None:
    suggestion = "(use --set-new to create it)"
    assert _apply("redemption.amount=1", {"redemption": None}, False) == (
        f"--set redemption.amount=1: path 'redemption.amount' does not exist in the payload "
        f"{suggestion}"
    )
    assert _apply("order.gift.wrap=1", {"order": {}}, False).endswith(suggestion)
    payload = {"redemption": None, "order": {}}
    parse_override("redemption.amount=1").apply(payload, create=True)
    parse_override("order.gift.wrap=1").apply(payload, create=True)
    assert payload == {"redemption": {"amount": 1}, "order": {"gift": {"wrap": 1}}}


def test_the_python_api_does_not_suggest_an_option_it_was_given() -> None:
    factory = PayloadFactory(seed=1, overrides={"order.amount.x": 5}, set_new=True)
    with pytest.raises(OverrideError) as exc:
        factory.build(0)
    assert str(exc.value) == (
        "--set order.amount.x=5: 'data.order.amount' is a number, not an object, "
        "so the path cannot go through it"
    )


@pytest.mark.parametrize(
    ("value", "why"),
    [
        (10**30, "not a JSON value (Integer exceeds 64-bit range)"),
        (float("inf"), "JSON has no number for inf or nan"),
        ({"a": [float("nan")]}, "JSON has no number for inf or nan"),
        (object(), "not a JSON value (Type is not JSON serializable: object)"),
    ],
)
def test_a_python_value_json_cannot_hold_exactly_is_refused(value, why) -> None:
    with pytest.raises(OverrideError) as caught:
        override("order.amount", value)
    assert str(caught.value).endswith(f": {why}")
    assert override("order.amount", (1, 2.5)).value == (1, 2.5)

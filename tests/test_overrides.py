"""`--set PATH=VALUE`: how values are read, and what an override that cannot apply says."""

from __future__ import annotations

import pytest

from simulator.errors import OverrideError
from simulator.overrides import parse_override


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

"""What the caller asked for, beyond the event name: the distribution's purpose and target."""

from __future__ import annotations

from dataclasses import dataclass

from simulator.errors import UsageError

SCENARIOS = ("plain", "promotion", "send-code")
SCENARIO_CHOICES = (*SCENARIOS, "mixed")


@dataclass(frozen=True)
class EventSpec:
    """What the caller asked for, beyond the event name."""

    scenario: str = "mixed"
    target_url: str | None = None
    label: str | None = None  # the distributions' webhook name; None: a realistic one
    redemption_rate: float = 0.35
    referrer_rate: float = 0.15


def check_scenario(scenario: str) -> str:
    if scenario not in SCENARIO_CHOICES:
        raise UsageError(
            f"unknown scenario '{scenario}': choose one of {', '.join(SCENARIO_CHOICES)}"
        )
    return scenario

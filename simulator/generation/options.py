"""How payloads are made, beyond the event names: seed, clock, locale, scenario, envelope,
overrides and template folders. Frozen and picklable, so worker processes get it whole."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from simulator.errors import UsageError
from simulator.generation.builders.spec import check_scenario
from simulator.generation.catalog import ENVELOPES
from simulator.generation.labels import check_label
from simulator.generation.lifecycle import Lifecycle, parse_lifecycle
from simulator.generation.overrides import Override, override, parse_override
from simulator.generation.values import LOCALES, parse_instant
from simulator.options import choice, naming, whole

# Events carry times up to ~93 days before `now` (campaigns, orders): they must stay
# within the years that ISO 8601 timestamps, and Python's datetime, can write.
EARLIEST_NOW_MS = 0  # 1970-01-01T00:00:00Z
LATEST_NOW_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z


@dataclass(frozen=True)
class GenerationOptions:
    """seed None: a random one (PayloadFactory draws it); now None: the real clock, read
    as each payload is built; envelope None: each event's own; label: the root `type`
    of distribution payloads (None: a realistic name per distribution); lifecycle: chains of
    one order's events instead of independent events."""

    seed: int | None = None
    now: int | None = None  # epoch milliseconds
    locale: str = "en_US"
    scenario: str = "mixed"
    envelope: str | None = None
    label: str | None = None  # None: a realistic name per distribution (labels.py)
    overrides: tuple[Override, ...] = ()
    create_paths: bool = False
    templates: tuple[str, ...] = ()
    lifecycle: Lifecycle | None = None

    def __post_init__(self) -> None:
        if self.seed is not None:
            with naming("--seed"):
                whole(self.seed, 0, "seed")
        if self.now is not None:
            check_now(self.now, str(self.now))
        with naming("--locale"):
            choice(self.locale, LOCALES, "locale")
        with naming("--scenario"):
            check_scenario(self.scenario)
        if self.envelope is not None:
            with naming("--envelope"):
                choice(self.envelope, ENVELOPES, "envelope")
        if self.label is not None:
            with naming("--label"):
                check_label(self.label)
        for folder in self.templates:
            if not Path(folder).is_dir():
                with naming("--templates"):
                    raise UsageError(
                        f"template folder '{folder}' does not exist or is not a folder"
                    )

    @classmethod
    def from_options(
        cls,
        *,
        seed: int | str | None = None,
        now: str | int | None = None,
        locale: str = "en_US",
        scenario: str = "mixed",
        envelope: str | None = None,
        label: str | None = None,
        overrides: Sequence[str | Override] | Mapping[str, Any] = (),
        set_new: bool = False,
        templates: Sequence[str | Path] = (),
        lifecycle: str | Sequence[str] | Lifecycle | None = None,
    ) -> GenerationOptions:
        """Options as the command line gives them: `now` an ISO 8601 instant (or epoch ms),
        overrides as "path=JSON" texts (or a mapping of path to Python value)."""
        if isinstance(seed, str):
            with naming("--seed"):
                seed = whole(seed, 0, "seed")
        if isinstance(now, str):
            with naming("--now"):
                now = check_now(parse_instant(now), now)
        with naming("--set"):
            parsed = _overrides(overrides)
        if lifecycle is not None and not isinstance(lifecycle, Lifecycle):
            with naming("--lifecycle"):
                lifecycle = parse_lifecycle(lifecycle)
        return cls(
            seed=seed,
            now=now,
            locale=locale,
            scenario=scenario,
            envelope=envelope,
            label=label,
            overrides=parsed,
            create_paths=set_new,
            templates=tuple(str(t) for t in templates),
            lifecycle=lifecycle,
        )

    def describe(self) -> dict[str, Any]:
        """The options for a report (the seed is reported on its own)."""
        return {
            "now": self.now,
            "locale": self.locale,
            "scenario": self.scenario,
            "envelope": self.envelope,
            "label": self.label,
            "overrides": [o.text for o in self.overrides],
            "create_paths": self.create_paths,
            "templates": list(self.templates),
            "lifecycle": None if self.lifecycle is None else self.lifecycle.text,
        }


def check_now(epoch_ms: int, shown: str) -> int:
    """`epoch_ms` if payloads can carry it (dates up to ~93 days earlier included)."""
    if not EARLIEST_NOW_MS <= epoch_ms <= LATEST_NOW_MS:
        with naming("--now"):
            raise UsageError(
                f"invalid time '{shown}': use an instant from 1970-01-01T00:00:00Z to "
                "9999-12-31T23:59:59.999Z"
            )
    return epoch_ms


def _overrides(given: Sequence[str | Override] | Mapping[str, Any]) -> tuple[Override, ...]:
    if isinstance(given, Mapping):
        return tuple(override(path, value) for path, value in given.items())
    return tuple(o if isinstance(o, Override) else parse_override(o) for o in given)

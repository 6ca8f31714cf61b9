"""Click parameter types and shared option groups: bad input fails at parse time."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from simulator.errors import SimulatorError
from simulator.generation.builders.spec import SCENARIO_CHOICES
from simulator.generation.overrides import parse_override
from simulator.generation.values import LOCALES, parse_instant
from simulator.reports.thresholds import parse_threshold
from simulator.sending.config import (
    check_url,
    parse_header,
    parse_statuses,
    parse_workers,
)
from simulator.sending.schedule import parse_duration, parse_ramp, parse_rate, parse_stages


class CoreParam(click.ParamType):
    """A parameter parsed by a core function; its SimulatorError becomes a usage error."""

    def __init__(self, name: str, parse: Callable[[str], Any]) -> None:
        self.name = name
        self._parse = parse

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if not isinstance(value, str):
            return value
        try:
            return self._parse(value)
        except SimulatorError as exc:
            self.fail(str(exc), param, ctx)


INSTANT = CoreParam("iso-time", parse_instant)
OVERRIDE = CoreParam("path=json", parse_override)


def generation_options(func: Callable) -> Callable:
    """The options every command that makes payloads shares (generate, send)."""
    options = [
        click.option(
            "--seed",
            type=click.IntRange(min=0),
            help="Seed every random choice (default: random, reported).",
        ),
        click.option(
            "--now", type=INSTANT, help="Fixed clock, ISO 8601 (e.g. 2024-03-12T14:41:49.128Z)."
        ),
        click.option(
            "--locale",
            type=click.Choice(LOCALES),
            default="en_US",
            show_default=True,
            help="Names, currency and region follow the locale.",
        ),
        click.option(
            "--scenario",
            type=click.Choice(SCENARIO_CHOICES),
            default="mixed",
            show_default=True,
            help="Order events (customer.order.*) only, ignored by the others: the "
            "distribution's purpose, plain, promotion (+ campaign, tier) or send-code "
            "(+ campaign, voucher, publication).",
        ),
        click.option(
            "--envelope",
            type=click.Choice(("v2024", "v2018", "none")),
            help="Body: the v2024 envelope (built-in default), legacy v2018, or bare data.",
        ),
        click.option(
            "--set",
            "overrides",
            type=OVERRIDE,
            multiple=True,
            metavar="PATH=JSON",
            help="Override a field after generation, e.g. --set order.amount=5000 (repeatable).",
        ),
        click.option("--set-new", is_flag=True, help="Let --set create paths that do not exist."),
        click.option(
            "--templates",
            "template_dirs",
            multiple=True,
            type=click.Path(exists=True, file_okay=False, dir_okay=True),
            help="Folder of <event>.json.j2 templates, searched first (repeatable).",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def factory_options(params: dict[str, Any]) -> dict[str, Any]:
    """Pop the generation options out of a command's params, as PayloadFactory keywords."""
    return {
        "seed": params.pop("seed"),
        "now": params.pop("now"),
        "locale": params.pop("locale"),
        "scenario": params.pop("scenario"),
        "envelope": params.pop("envelope"),
        "overrides": params.pop("overrides"),
        "create_paths": params.pop("set_new"),
        "templates": params.pop("template_dirs"),
    }


def _ramp(text: str) -> tuple[float, float]:
    start, end = parse_ramp(text, 1.0)
    return start.target, end.target


RATE = CoreParam("rate", parse_rate)
DURATION = CoreParam("duration", parse_duration)
RAMP = CoreParam("ramp", _ramp)
STAGES = CoreParam("stages", lambda text: tuple(parse_stages(text)))
HEADER = CoreParam("name: value", parse_header)
THRESHOLD = CoreParam("threshold", parse_threshold)
URL = CoreParam("url", check_url)
STATUSES = CoreParam("statuses", parse_statuses)
WORKERS = CoreParam("n|auto", parse_workers)

"""The options commands share, as Click declares them. Values stay text here: the core
parses and checks them (SendConfig.from_options, GenerationOptions.from_options), so the
command line and the Python API refuse the same input in the same words."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import click

from simulator import ENVELOPES, LOCALES, SCENARIO_CHOICES


def choices(values: Sequence[str]) -> str:
    """A metavar listing the accepted values, as click.Choice shows them."""
    return "[" + "|".join(values) + "]"


def apply(options: Sequence[Callable[[Any], Any]], func: Callable) -> Callable:
    for option in reversed(options):
        func = option(func)
    return func


def generation_options(func: Callable) -> Callable:
    """The options every command that makes payloads shares (generate, send)."""
    return apply(
        [
            click.option(
                "--seed",
                metavar="INTEGER",
                help="Seed every random choice (default: random, reported).",
            ),
            click.option(
                "--now",
                metavar="ISO-TIME",
                help="Fixed clock, ISO 8601 (e.g. 2024-03-12T14:41:49.128Z).",
            ),
            click.option(
                "--locale",
                metavar=choices(LOCALES),
                default="en_US",
                show_default=True,
                help="Names, currency and region follow the locale.",
            ),
            click.option(
                "--scenario",
                metavar=choices(SCENARIO_CHOICES),
                default="mixed",
                show_default=True,
                help="Order events (customer.order.*) only, ignored by the others: the "
                "distribution's purpose, plain, promotion (+ campaign, tier) or send-code "
                "(+ campaign, voucher, publication).",
            ),
            click.option(
                "--envelope",
                metavar=choices(ENVELOPES),
                help="Body: the v2024 envelope (built-in default), legacy v2018, or bare data.",
            ),
            click.option(
                "--label",
                metavar="TEXT",
                help="The root `type` of distribution payloads: the name a user gives the "
                "distribution's webhook (default: a realistic one per distribution, never "
                "the event name; project webhooks send the event name).",
            ),
            click.option(
                "--set",
                "overrides",
                multiple=True,
                metavar="PATH=JSON",
                help="Override a field after generation, e.g. --set order.amount=5000 "
                "(repeatable).",
            ),
            click.option(
                "--set-new", is_flag=True, help="Let --set create paths that do not exist."
            ),
            click.option(
                "--templates",
                multiple=True,
                metavar="DIRECTORY",
                help="Folder of <event>.json.j2 templates, searched first (repeatable).",
            ),
        ],
        func,
    )


def lifecycle_option(func: Callable) -> Callable:
    """--lifecycle, for the commands that make runs of payloads (generate, send)."""
    return click.option(
        "--lifecycle",
        metavar="STEPS",
        help="Chains of one order's events instead of independent ones, e.g. "
        "created,updated,paid|canceled (',' in order, '|' one of, drawn per order).",
    )(func)


GENERATION = (
    "seed", "now", "locale", "scenario", "envelope", "label", "overrides", "set_new", "templates",
    "lifecycle",
)  # fmt: skip


def pop_generation(params: dict[str, Any]) -> dict[str, Any]:
    """Take the generation options out of a command's params, as from_options() keywords."""
    return {name: params.pop(name) for name in GENERATION if name in params}

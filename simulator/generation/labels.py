"""What a user names a distribution's webhook: the v2024 envelope's root `type`.

In production the root `type` of a distribution's payload is whatever the marketer typed
when adding the Webhook channel ("Voucher-redeemed" in the docs' example, "" in the
docs' sample output), while `event.type` is the event name. Receivers must dispatch on
`event.type`; a default label that differs from it teaches them to.
"""

from __future__ import annotations

import random

from simulator.errors import UsageError

# Where the marketer's webhook forwards to: part of many real labels.
_TARGETS = ("CRM", "ERP", "Slack", "data warehouse", "shop backend", "Zapier", "email tool")
_ARROWS = (" → ", " -> ", " to ", " - ")


def _words(event: str) -> list[str]:
    """The event's own words without the `customer.` prefix: ['order', 'paid']."""
    name = event.removeprefix("customer.").replace("_", " ")
    return [w for part in name.split(".") for w in part.split()]


def make_label(rng: random.Random, event: str) -> str:
    """A realistic label for the distribution that sends `event`; never `event` itself."""
    words = _words(event) or ["webhook"]
    roll = rng.random()
    if roll < 0.08:
        return ""  # the channel's name left empty, as in the docs' sample output
    if roll < 0.3:
        label = "-".join(words).capitalize()  # Order-created, like "Voucher-redeemed"
    elif roll < 0.5:
        label = " ".join(words).capitalize()  # Order paid
    elif roll < 0.7:
        target = _TARGETS[int(rng.random() * len(_TARGETS))]
        label = " ".join(words) + _ARROWS[int(rng.random() * len(_ARROWS))] + target
    elif roll < 0.85:
        label = "_".join(words) + ("_webhook", "_hook", "_v2", "")[int(rng.random() * 4)]
    else:
        label = ("[prod] ", "[staging] ", "Shop: ", "")[int(rng.random() * 4)] + (
            " ".join(w.capitalize() for w in words)
        )
    return label if label != event else label.capitalize()


def check_label(label: str) -> str:
    """`label` if a user could have typed it in the dashboard: one line of text."""
    if not isinstance(label, str):
        raise UsageError(f"invalid label {label!r}: give text")
    if any(ord(c) < 32 or ord(c) == 127 for c in label):
        raise UsageError(
            f"invalid label {label!r}: a label is one line of text, without control characters"
        )
    return label

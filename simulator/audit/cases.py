"""The audit's cases as data: what each sends, what answer passes, and what to fix when
it does not. How each case's requests are made is in build.py."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from simulator.audit import build
from simulator.errors import UsageError

# What a step's answer must be.
ACCEPT = "2xx"
REFUSE = "4xx"
ACCEPT_OR_413 = "2xx or 413"
ACCEPT_OR_RETRY = "2xx, 409, 425, 429 or 503"


@dataclass(frozen=True)
class Step:
    """One request of a case: the answer it needs, what it is (for the reason line:
    "accepted <thing>") and what the receiver's developer should do when it fails."""

    expect: str
    thing: str
    advice: str


@dataclass(frozen=True)
class Case:
    """A named check. `build` makes its requests, one per step; None marks the one
    case graded from the other cases' answers (slow-answer). `expected` may name the
    run's {limit}, the answer time the sender waits for."""

    name: str
    sent: str
    expected: str
    steps: tuple[Step, ...]
    build: Callable[[build.Kit, int], list[build.Request]] | None
    security: bool = False  # a forged or replayed request that must be refused


def _one(expect: str, thing: str, advice: str) -> tuple[Step, ...]:
    return (Step(expect, thing, advice),)


_VERIFY_RAW = "verify the signature over the raw bytes before parsing"

CASES: tuple[Case, ...] = (
    Case("valid", "a fresh, correctly signed event", "2xx within {limit}",
         _one(ACCEPT, "a correctly signed event",
              "check the secret, the signing scheme and that you verify the raw body bytes"),
         build.valid),
    Case("wrong-secret", "signed with another secret", "4xx",
         _one(REFUSE, "a request signed with another secret",
              "compare the signature with one made with your secret before anything else"),
         build.wrong_secret, security=True),
    Case("missing-signature", "signature header(s) absent", "4xx",
         _one(REFUSE, "a request with no signature header",
              "refuse a request that carries no signature"),
         build.missing_signature, security=True),
    Case("tampered-body", "signed, then one amount changed in the bytes", "4xx",
         _one(REFUSE, "a body changed after signing", f"your code must {_VERIFY_RAW}"),
         build.tampered_body, security=True),
    Case("reserialized", "same JSON, other whitespace, original signature", "4xx",
         _one(REFUSE, "the same JSON re-formatted under the original signature",
              "you verify a re-serialization of the parsed body; verify the raw bytes as "
              "received"),
         build.reserialized, security=True),
    Case("stale-timestamp", "correctly signed, timestamp 10 min old", "4xx",
         _one(REFUSE, "a correctly signed request stamped 10 minutes ago",
              "refuse timestamps more than 5 minutes old: an old, valid request is a replay"),
         build.stale_timestamp, security=True),
    Case("future-timestamp", "correctly signed, timestamp 10 min ahead", "4xx",
         _one(REFUSE, "a correctly signed request stamped 10 minutes ahead",
              "refuse timestamps more than 5 minutes away, ahead as well as behind"),
         build.future_timestamp, security=True),
    Case("rotated-keys", "two signatures, only the second valid", "2xx",
         _one(ACCEPT, "a request whose second signature is valid",
              "accept a request when any of its signatures matches: while keys rotate, "
              "the sender signs with each"),
         build.rotated_keys),
    Case("duplicate", "the same event (same id, same bytes) twice", "2xx, both",
         (Step(ACCEPT, "an event", "check the secret and the signing scheme"),
          Step(ACCEPT, "a second delivery of the same event",
               "acknowledge an event you already have with 2xx and skip its work: the "
               "sender delivers again whenever it missed your answer")),
         build.duplicate),
    Case("out-of-order", "order paid, then its order created", "2xx or 409/425/429/503",
         (Step(ACCEPT_OR_RETRY, "customer.order.paid for an order not created yet",
               "events arrive out of order: accept it and reconcile later, or answer 409, "
               "425, 429 or 503 so the sender retries it"),
          Step(ACCEPT, "customer.order.created after its order was paid",
               "accept an event whose later events came first")),
         build.out_of_order),
    Case("unknown-event", "a signed event of a type nobody handles", "2xx",
         _one(ACCEPT, "an event of a type it does not handle",
              "acknowledge types you do not handle with 2xx and ignore them: providers "
              "add new ones"),
         build.unknown_event),
    Case("unknown-field", "a valid event with added fields", "2xx",
         _one(ACCEPT, "an event with fields it does not know",
              "ignore fields you do not know: providers add fields without notice"),
         build.unknown_field),
    Case("large-body", "a valid event with thousands of order lines", "2xx or 413 in {limit}",
         _one(ACCEPT_OR_413, "a large event",
              "accept large bodies, or refuse them with 413 Content Too Large"),
         build.large_body),
    Case("not-json", "a signed body that is not JSON", "4xx",
         _one(REFUSE, "a signed body that is not JSON",
              "answer 400 to a body you cannot parse"),
         build.not_json),
    Case("slow-answer", "nothing more: the answers above, timed", "p99 under {limit}", (), None),
)  # fmt: skip

NAMES: tuple[str, ...] = tuple(case.name for case in CASES)


def audit_cases() -> tuple[Case, ...]:
    """Every case, in the order an audit runs them."""
    return CASES


SECURITY: tuple[str, ...] = tuple(case.name for case in CASES if case.security)


def select(only: Sequence[str] = (), skip: Sequence[str] = ()) -> tuple[Case, ...]:
    """The cases to run, in the table's order. UsageError names an unknown case."""
    for names in (only, skip):
        for name in names:
            if name not in NAMES:
                close = difflib.get_close_matches(name, NAMES, n=1)
                hint = f" (did you mean {close[0]}?)" if close else ""
                raise UsageError(f"unknown case '{name}'{hint}: choose from {', '.join(NAMES)}")
    chosen = tuple(c for c in CASES if (not only or c.name in only) and c.name not in skip)
    if not chosen:
        raise UsageError("no case left to run")
    return chosen


def number(case: Case) -> int:
    """The case's place in the whole table: its payloads do not depend on --only."""
    return NAMES.index(case.name)

"""Voucher codes as Voucherify generates them, each code one voucher's in the whole run.

A campaign's `code_config` says what its codes look like, as in Voucherify's code
generator (open source as voucher-code-generator): `prefix`, then `pattern` with every
`#` replaced by a character of `charset`, then `postfix`; `length` is the number of
`#`. The charsets are the generator's three: numbers, alphabetic and alphanumeric, the
ones the official examples show ("0123456789" and the alphanumeric set).

Voucherify draws codes at random and draws again on a clash. Here code number `n` of a
campaign is a keyed bijection of `n` onto the campaign's codes, so two vouchers of one
campaign never share a code, and no memory of the codes issued is needed. Campaigns'
codes never meet either: a prefix is a word of its own (no other campaign's) and a
`-`, and the codes of a campaign without one contain no `-` and differ in length from
any other's without one.
"""

from __future__ import annotations

import random
import re
from itertools import accumulate
from math import gcd

from simulator.errors import SimulatorError
from simulator.generation.values import below

NUMBERS = "0123456789"
ALPHABETIC = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
ALPHANUMERIC = NUMBERS + ALPHABETIC

# Coupon campaigns number their codes by event (cards.py): each shape holds 10^12 or more,
# so a run of billions of events cannot run out.
_COUPON_SHAPES = (
    (ALPHANUMERIC, "########"),
    (ALPHANUMERIC, "####-####"),
    (ALPHABETIC, "########"),
    (NUMBERS, "####-####-####"),
    (ALPHANUMERIC, "##########"),
)
_COUPON_POSTFIXES = ("", "", "", "", "-OFF")
# Per program slot (programs.py's names): (prefix, charset, pattern). A program has a
# code per customer; loyalty cards often have no prefix (as in the official examples).
_PROGRAM_SHAPES = {
    "gift": (
        ("GIFT-", NUMBERS, "####-####-####"),
        ("EGIFT-", ALPHANUMERIC, "########"),
        ("CREDIT-", ALPHABETIC, "######"),
        ("XMAS-", ALPHANUMERIC, "######"),
    ),
    "loyalty": (
        ("", ALPHANUMERIC, "########"),
        ("", NUMBERS, "##########"),
        ("MEMBER-", ALPHANUMERIC, "######"),
        ("VIP-", NUMBERS, "########"),
    ),
    "referral": (
        ("REF-", ALPHANUMERIC, "######"),
        ("INVITE-", ALPHABETIC, "#####"),
        ("FRIEND-", ALPHANUMERIC, "#######"),
    ),
}


def config(prefix: str, pattern: str, charset: str, postfix: str = "") -> dict:
    """A code_config, its keys in the official examples' order."""
    return {
        "length": pattern.count("#"),
        "prefix": prefix,
        "charset": charset,
        "pattern": pattern,
        "postfix": postfix,
    }


def coupon_config(season: str, slot: int, rng: random.Random) -> dict:
    """Coupon campaign `slot`'s codes: its season and number as the prefix (SUMMER3-)."""
    charset, pattern = _COUPON_SHAPES[below(rng, len(_COUPON_SHAPES))]
    postfix = _COUPON_POSTFIXES[below(rng, len(_COUPON_POSTFIXES))]
    return config(
        re.sub("[^A-Za-z]", "", season).upper() + f"{slot + 1}-", pattern, charset, postfix
    )


def program_config(kind: str, slot: int) -> dict:
    prefix, charset, pattern = _PROGRAM_SHAPES[kind][slot]
    return config(prefix, pattern, charset)


class CodeSpace:
    """The codes of one campaign: code(n) is a bijection of [0, size) onto them."""

    __slots__ = ("_add", "_chars", "_form", "_mul", "_powers", "_radix", "config", "size")

    def __init__(self, code_config: dict, salt: int) -> None:
        self.config = code_config
        charset = code_config["charset"]
        self._radix = len(charset)
        # The text between placeholders, the prefix first and the postfix last, as a
        # str.format form with a field for each placeholder.
        parts = code_config["pattern"].split("#")
        parts[0] = code_config["prefix"] + parts[0]
        parts[-1] += code_config["postfix"]
        self._form = "{}".join(part.replace("{", "{{").replace("}", "}}") for part in parts)
        places = len(parts) - 1
        self.size = self._radix**places
        self._powers = [self._radix**k for k in reversed(range(places))]
        # A running sum of `places` digits stays below places * radix: the charset that
        # many times over maps it to a character without a modulo.
        self._chars = charset * places
        rng = random.Random(salt)
        mul = rng.randrange(self.size // 3, self.size) | 1
        while gcd(mul, self.size) != 1:
            mul += 2
        self._mul, self._add = mul, rng.randrange(self.size)

    def code(self, n: int) -> str:
        """Code `n` of the campaign: an affine map of `n` (a bijection mod size), its digits
        then summed from the first, so that neighbouring numbers differ everywhere."""
        if not 0 <= n < self.size:
            raise SimulatorError(f"campaign codes {self.config['pattern']!r} ran out at {n}")
        u = (n * self._mul + self._add) % self.size
        radix = self._radix
        digits = [u // power % radix for power in self._powers]  # the first first
        return self._form.format(*map(self._chars.__getitem__, accumulate(digits)))

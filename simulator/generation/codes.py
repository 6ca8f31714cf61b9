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

    __slots__ = ("_add", "_charset", "_mul", "_parts", "_powers", "_radix", "config", "size")

    def __init__(self, code_config: dict, salt: int) -> None:
        self.config = code_config
        self._charset = code_config["charset"]
        self._radix = len(self._charset)
        # The text between placeholders, the prefix first and the postfix last.
        self._parts = code_config["pattern"].split("#")
        self._parts[0] = code_config["prefix"] + self._parts[0]
        self._parts[-1] += code_config["postfix"]
        places = len(self._parts) - 1
        self.size = self._radix**places
        self._powers = [self._radix**k for k in reversed(range(places))]
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
        radix, charset, parts = self._radix, self._charset, self._parts
        out, acc = [parts[0]], 0
        for k, power in enumerate(self._powers, 1):  # the digits of u, the first first
            digit, u = divmod(u, power)
            acc = (acc + digit) % radix
            out.append(charset[acc])
            out.append(parts[k])
        return "".join(out)

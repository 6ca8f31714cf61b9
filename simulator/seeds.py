"""Seeds: every random stream of a run derives from the one seed, by name or by index."""

from __future__ import annotations

import hashlib

_MASK64 = (1 << 64) - 1


def derive_seed(seed: int, *parts: object) -> int:
    """A 64-bit seed for one named stream, so streams never share random state."""
    text = ":".join([str(seed), *map(str, parts)]).encode()
    return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "big")


def mix64(x: int) -> int:
    """splitmix64's finaliser: a bijection on 64-bit integers that looks random.

    Ids are mix64(salt ^ index): distinct indexes can never give the same id, so ids are
    unique within a run without remembering the ones already issued (memory stays flat).
    """
    z = (x + 0x9E3779B97F4A7C15) & _MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
    return z ^ (z >> 31)

"""generation/values.py: the small value makers every builder uses."""

from __future__ import annotations

import random
from datetime import datetime, timezone

from simulator.generation.values import iso_ms


def test_timestamps_are_formatted_as_the_standard_library_does() -> None:
    # iso_ms formats a second it has not met from a per-day cache and tables.
    rng = random.Random(5)
    for _ in range(20_000):
        t = rng.randrange(-(10**12), 4 * 10**12)
        second = datetime.fromtimestamp(t // 1000, timezone.utc)
        assert iso_ms(t) == second.strftime("%Y-%m-%dT%H:%M:%S") + f".{t % 1000:03d}Z", t

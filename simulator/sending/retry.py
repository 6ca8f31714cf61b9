"""When a failed event is tried again: the retry schedules, and a server's Retry-After."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from simulator.errors import UsageError
from simulator.options import choice, naming, whole

RETRY_SCHEDULES = ("exponential", "voucherify", "none")
# Voucherify retries a failed sendout at these offsets after the first try.
VOUCHERIFY_OFFSETS_S = (*(60.0 * 2**k for k in range(11)), 86_400.0)
VOUCHERIFY_RETRIES = len(VOUCHERIFY_OFFSETS_S)


@dataclass(frozen=True)
class RetryPolicy:
    """How many times a failed event is tried again, and when.

    exponential: full jitter, a random wait in [0, min(cap, base * 2**(n-1))]; voucherify:
    1, 2, 4 … 1024 minutes, then 24 h after the first try; none: at once. time_scale
    multiplies every wait, Retry-After included, so a day-long schedule can run in seconds.
    A Retry-After replaces the schedule's wait, up to max_retry_after_s: a server that
    asks for a day must not stall a test run for a day without a word. retries None is
    the schedule's own number: 12 for voucherify, as the real sender, else 0.
    """

    retries: int | None = None
    schedule: str = "exponential"
    time_scale: float = 1.0
    base_s: float = 1.0
    cap_s: float = 60.0
    max_retry_after_s: float = 60.0

    def __post_init__(self) -> None:
        with naming("--retry-schedule"):
            choice(self.schedule, RETRY_SCHEDULES, "retry schedule")
        if self.retries is None:
            default = VOUCHERIFY_RETRIES if self.schedule == "voucherify" else 0
            object.__setattr__(self, "retries", default)  # frozen: still construction
        with naming("--retries"):
            whole(self.retries, 0, "retries")
        if not (math.isfinite(self.time_scale) and self.time_scale >= 0):
            with naming("--retry-time-scale"):
                raise UsageError(f"invalid retry time scale {self.time_scale}: use e.g. 0.001")
        if not (math.isfinite(self.max_retry_after_s) and self.max_retry_after_s >= 0):
            with naming("--max-retry-after"):
                raise UsageError(
                    f"invalid max Retry-After {self.max_retry_after_s}: use 0 seconds or more"
                )

    @property
    def limit(self) -> int:
        """How many times an event is tried again at most (retries, once resolved)."""
        return self.retries or 0

    def retry_after_wait(self, retry_after: float) -> tuple[float, float]:
        """(seconds to wait, seconds asked) for a Retry-After of `retry_after` seconds, both
        time-scaled: the wait is the asked one, cut to max_retry_after_s."""
        asked = retry_after * self.time_scale
        return min(asked, self.max_retry_after_s), asked

    def delay(self, retry: int, since_first: float, rng: random.Random) -> float:
        """Seconds to wait before retry number `retry` (1 = the first retry) when no
        Retry-After sets it."""
        if self.schedule == "none":
            return 0.0
        if self.schedule == "exponential":
            ceiling = min(self.cap_s, self.base_s * 2 ** min(retry - 1, 64))
            return rng.uniform(0.0, ceiling) * self.time_scale
        offset = VOUCHERIFY_OFFSETS_S[min(retry, len(VOUCHERIFY_OFFSETS_S)) - 1]
        return max(offset * self.time_scale - since_first, 0.0)

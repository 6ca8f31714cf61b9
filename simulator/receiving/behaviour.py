"""How the mock receiver (mis)behaves: statuses, failures, delays, drops, body limits."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from simulator.errors import UsageError
from simulator.options import fraction, naming, refuse, whole
from simulator.sending.schedule import parse_duration

_RETRY_STATUSES = frozenset({429, 503})
_SIZE = re.compile(r"(\d+(?:\.\d+)?)(b|k|kb|kib|m|mb|mib|g|gb|gib)?")
_SIZE_UNITS = {"b": 1, "k": 1024, "m": 1024**2, "g": 1024**3}
_ZERO = ("0", "0s", "0ms")


def parse_size(text: str) -> int:
    """Bytes in "1MB", "512KB", "64k" or a bare "65536"; units are binary (1MB = 1,048,576)."""
    match = _SIZE.fullmatch(text.strip().lower().replace(" ", ""))
    size = 0
    if match is not None:
        size = int(float(match.group(1)) * _SIZE_UNITS[(match.group(2) or "b")[0]])
    if size < 1:
        raise UsageError(f"invalid size '{text}': use e.g. 1MB, 512KB, 65536")
    return size


def parse_delay(text: str) -> tuple[float, float]:
    """(low, high) seconds from "50ms" or a range "10ms..200ms" (the low end may be 0)."""
    low_text, dots, high_text = text.partition("..")
    low = 0.0 if low_text.strip() in _ZERO else parse_duration(low_text)
    high = parse_duration(high_text) if dots else low
    if low > high:
        raise UsageError(f"invalid delay '{text}': the low end is above the high end")
    return low, high


@dataclass(frozen=True)
class Behaviour:
    """How the receiver (mis)behaves; with `seed`, the same requests get the same answers.

    By default every request that reaches the path gets `status`, whatever its verdicts
    (they are in the X-Webhook-Sim-Verdict header). With `strict`, it answers as a
    production receiver would: 401 to a signature that is invalid, missing or stale,
    400 to a body that is not JSON, 422 to schema problems other than unknown fields
    (receivers ignore those); a duplicate still gets `status`, since a careful receiver
    acknowledges what it already has.
    """

    status: int = 200
    fail_rate: float = 0.0
    fail_status: int = 503
    retry_after: float | None = None  # seconds, sent as Retry-After on a 429 or 503 failure
    # Seconds: a range (low, high) draws uniformly per request; a single number is fixed.
    delay: tuple[float, float] = (0.0, 0.0)
    drop_rate: float = 0.0  # close the connection without answering
    max_body: int = 1_048_576  # 413 beyond
    seed: int | None = None
    strict: bool = False

    def __post_init__(self) -> None:
        for name in ("status", "fail_status"):
            # A 1xx is not a final answer: the sender would wait on for one until it times out.
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not 200 <= value <= 599:
                with naming(f"--{name.replace('_', '-')}"):
                    raise UsageError(
                        f"invalid {name.replace('_', ' ')} {value!r}: use a final HTTP status, "
                        "from 200 to 599"
                    )
        for name in ("fail_rate", "drop_rate"):
            with naming(f"--{name.replace('_', '-')}"):
                fraction(getattr(self, name), name.replace("_", " "))
        if isinstance(self.delay, (int, float)):
            object.__setattr__(self, "delay", (float(self.delay), float(self.delay)))
        low, high = self.delay
        if not (0.0 <= low <= high and math.isfinite(high)):
            raise refuse(
                "--delay",
                f"invalid delay {self.delay!r}: use seconds (low, high), 0 <= low <= high",
            )
        if self.retry_after is not None:
            if not 0.0 <= self.retry_after < math.inf:
                raise refuse("--retry-after", "use 0 seconds or more")
            # One that is never sent would let a test believe it tried a Retry-After.
            if not self.fail_rate:
                raise refuse(
                    "--retry-after", "needs --fail-rate: Retry-After is sent only on failures"
                )
            if self.fail_status not in _RETRY_STATUSES:
                raise refuse(
                    "--retry-after",
                    f"needs --fail-status 429 or 503, not {self.fail_status}: Retry-After is "
                    "sent only with those",
                )
        with naming("--max-body"):
            whole(self.max_body, 1, "max body")
        if self.seed is not None:
            with naming("--seed"):
                whole(self.seed, 0, "seed")

    @classmethod
    def from_options(
        cls,
        *,
        status: int | str = 200,
        strict: bool = False,
        fail_rate: float | str = 0.0,
        fail_status: int | str = 503,
        retry_after: float | str | None = None,
        delay: float | tuple[float, float] | str | None = None,
        drop_rate: float | str = 0.0,
        max_body: int | str = 1_048_576,
        seed: int | str | None = None,
    ) -> Behaviour:
        """A Behaviour from the command line's options: text such as "503", "0.2", "2s",
        "10ms..200ms" and "1MB" is parsed as `webhook-sim receive` parses it."""
        with naming("--status"):
            status = whole(status, 0, "status")
        with naming("--fail-status"):
            fail_status = whole(fail_status, 0, "fail status")
        with naming("--fail-rate"):
            fail_rate = fraction(fail_rate, "fail rate")
        with naming("--drop-rate"):
            drop_rate = fraction(drop_rate, "drop rate")
        if isinstance(retry_after, str):
            with naming("--retry-after"):
                retry_after = parse_duration(retry_after)
        if isinstance(delay, str):
            with naming("--delay"):
                delay = parse_delay(delay)
        elif isinstance(delay, (int, float)):
            delay = (float(delay), float(delay))
        if isinstance(max_body, str):
            with naming("--max-body"):
                max_body = parse_size(max_body)
        if seed is not None:
            with naming("--seed"):
                seed = whole(seed, 0, "seed")
        return cls(
            status=status,
            fail_rate=fail_rate,
            fail_status=fail_status,
            retry_after=retry_after,
            delay=delay if delay is not None else (0.0, 0.0),
            drop_rate=drop_rate,
            max_body=max_body,
            seed=seed,
            strict=strict,
        )


DEFAULT_BEHAVIOUR = Behaviour()

"""What a send run does: target, schedule, signing, retries and records, checked and picklable."""

from __future__ import annotations

import email.utils
import math
import os
import random
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any
from urllib.parse import urlsplit

from simulator.errors import UsageError
from simulator.redaction import redact
from simulator.seeds import derive_seed
from simulator.sending.schedule import (
    ARRIVALS,
    Schedule,
    Stage,
    build_schedule,
    parse_duration,
    parse_ramp,
    parse_rate,
    parse_stages,
)

RETRY_SCHEDULES = ("exponential", "voucherify", "none")
# Voucherify retries a failed sendout at these offsets after the first try.
VOUCHERIFY_OFFSETS_S = (*(60.0 * 2**k for k in range(11)), 86_400.0)
DEFAULT_DEAD_LETTER = "dead-letter.ndjson"
_STATUS_HINT = "use e.g. 2xx, 200,202 or 200-299"
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # a header name (RFC 9110 token)
# How a request is framed is the sender's to say.
_FRAMING = frozenset({"content-length", "transfer-encoding"})
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")  # every control character but tab


def parse_statuses(text: str) -> frozenset[int]:
    """HTTP statuses counted as success: "2xx", "200,202", "200-204", or a mix."""
    codes: set[int] = set()
    for part in re.sub(r"\s+", "", text).lower().split(","):
        if re.fullmatch(r"[1-5]xx", part):
            first = int(part[0]) * 100
            codes.update(range(first, first + 100))
        elif re.fullmatch(r"\d{3}-\d{3}", part):
            low, high = (int(n) for n in part.split("-"))
            codes.update(range(low, high + 1))
        elif re.fullmatch(r"\d{3}", part):
            codes.add(int(part))
        else:
            raise UsageError(f"invalid status list '{text}': {_STATUS_HINT}")
    if not codes or not all(100 <= c <= 599 for c in codes):
        raise UsageError(f"invalid status list '{text}': {_STATUS_HINT}")
    return frozenset(codes)


def check_url(url: str) -> str:
    """The URL unchanged if it is an absolute http(s) URL with a host, else UsageError."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises ValueError for a port out of range)
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"invalid URL '{url}': use e.g. http://127.0.0.1:8080/hooks")
    return url


def parse_header(text: str) -> tuple[str, str]:
    """("Name", "value") from "Name: value"."""
    name, sep, value = text.partition(":")
    return _header(name.strip() if sep else "", value.strip(), text)


def check_header(name: str, value: str) -> tuple[str, str]:
    """(name, value) unchanged if they make one valid header line, else UsageError."""
    return _header(name, value, f"{name}: {value}")


def _header(name: str, value: str, text: str) -> tuple[str, str]:
    # A CR or LF would end the header line early (and HTTP clients refuse to send it).
    if _CONTROL.search(text):
        raise UsageError(
            f"invalid header '{_shown(text)}': a header cannot contain control characters "
            "such as CR or LF"
        )
    if not _TOKEN.fullmatch(name):
        raise UsageError(f"invalid header '{text}': use e.g. 'X-Team: payments'")
    if name.lower() in _FRAMING:
        raise UsageError(f"invalid header '{text}': the sender sets {name} itself")
    if name.lower() == "connection" and value.lower() != "close":
        raise UsageError(
            f"invalid header '{text}': only 'Connection: close' (a new connection for every "
            "request) can be asked for"
        )
    return name, value


def _shown(text: str) -> str:
    """`text` on one line: control characters written as escapes (\\n, \\x01)."""
    return _CONTROL.sub(lambda match: repr(match.group())[1:-1], text)


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a Retry-After header (delta seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return max(when.timestamp() - now, 0.0)


@dataclass(frozen=True)
class RetryPolicy:
    """How many times a failed event is tried again, and when.

    exponential: full jitter, a random wait in [0, min(cap, base * 2**(n-1))]; voucherify:
    1, 2, 4 … 1024 minutes, then 24 h after the first try; none: at once. time_scale
    multiplies every wait, Retry-After included, so a day-long schedule can run in seconds.
    A Retry-After replaces the schedule's wait, up to max_retry_after_s: a server that
    asks for a day must not stall a test run for a day without a word.
    """

    retries: int = 0
    schedule: str = "exponential"
    time_scale: float = 1.0
    base_s: float = 1.0
    cap_s: float = 60.0
    max_retry_after_s: float = 60.0

    def __post_init__(self) -> None:
        if self.schedule not in RETRY_SCHEDULES:
            raise UsageError(
                f"invalid retry schedule '{self.schedule}': use {', '.join(RETRY_SCHEDULES)}"
            )
        if self.retries < 0:
            raise UsageError(f"invalid retries {self.retries}: use 0 or more")
        if not (math.isfinite(self.time_scale) and self.time_scale >= 0):
            raise UsageError(f"invalid retry time scale {self.time_scale}: use e.g. 0.001")
        if not (math.isfinite(self.max_retry_after_s) and self.max_retry_after_s >= 0):
            raise UsageError(
                f"invalid max Retry-After {self.max_retry_after_s}: use 0 seconds or more"
            )

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


@dataclass(frozen=True)
class SendConfig:
    """Everything one send run needs. Plain data, so worker processes receive it whole.

    With neither count nor duration one event is sent; rate None means "max": a closed
    model with `concurrency` senders. `ramp` is (start, end) events/s across `duration`;
    `stages` replace the rate. `scheme` None means the first event's own scheme. `replay`
    names a file to send again instead of generating. `factory` holds PayloadFactory
    keywords; its seed is fixed by resolve() so every worker makes the same run.
    """

    url: str | None = None  # None: the built-in receiver, started by send()
    events: tuple[str, ...] = ("customer.order.created",)
    factory: dict[str, Any] = field(default_factory=dict)
    replay: str | None = None
    skip_bad: bool = False
    keep_signature: bool = False
    count: int | None = None
    duration: float | None = None
    rate: float | None = None
    ramp: tuple[float, float] | None = None
    stages: tuple[Stage, ...] | None = None
    arrivals: str = "uniform"
    concurrency: int = 64
    max_in_flight: int = 512
    workers: int = 1
    scheme: str | None = None
    secret: str | None = field(default=None, repr=False)
    headers: tuple[tuple[str, str], ...] = ()
    timeout: float = 10.0
    expect_status: frozenset[int] | None = None
    retry: RetryPolicy = RetryPolicy()
    log: str | None = None
    log_bodies: bool = False
    dead_letter: str | None = DEFAULT_DEAD_LETTER
    insecure: bool = False
    ca_bundle: str | None = None
    grace: float = 5.0

    def __post_init__(self) -> None:
        for name, value in _from_text(self).items():
            object.__setattr__(self, name, value)  # frozen: this is still construction
        if self.url is not None:
            check_url(self.url)
        if self.arrivals not in ARRIVALS:
            raise UsageError(f"invalid arrivals '{self.arrivals}': use uniform or poisson")
        for name in ("concurrency", "max_in_flight", "workers"):
            if getattr(self, name) < 1:
                raise UsageError(f"invalid {name.replace('_', ' ')}: use 1 or more")
        _check_workers(self.workers)
        for name, value in self.headers:
            check_header(name, value)
        if not (self.timeout > 0 and self.grace >= 0):
            raise UsageError("timeout must be above 0 and grace 0 or more")
        if self.ramp is not None and self.duration is None:
            raise UsageError("a ramp needs a duration: use e.g. ramp 10/s..500/s over 30s")
        if sum(x is not None for x in (self.rate, self.ramp, self.stages)) > 1:
            raise UsageError("give a rate, a ramp or stages, not several")
        if self.stages is not None and (self.count is not None or self.duration is not None):
            raise UsageError("stages set the run's length: drop the count and the duration")

    @property
    def seed(self) -> int | None:
        return self.factory.get("seed")

    @property
    def closed(self) -> bool:
        return self.rate is None and self.ramp is None and self.stages is None

    def resolve(self, rng: random.Random | None = None) -> SendConfig:
        """This config with a fixed seed, so that every worker plans the same run."""
        if self.seed is not None:
            return self
        seed = (rng or random.SystemRandom()).getrandbits(32)
        return self.replace(factory={**self.factory, "seed": seed})

    def replace(self, **changes: Any) -> SendConfig:
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        return SendConfig(**{**values, **changes})

    def schedule(self, count: int | None = None) -> Schedule:
        """The run's send schedule; `count` caps it (a replay file's length)."""
        if count is not None:
            count = count if self.count is None else min(count, self.count)
            if count == 0:
                raise UsageError("nothing to send")
        else:
            count = self.count
        rng = random.Random(derive_seed(self.seed or 0, "arrivals"))
        if self.ramp is not None:
            start, end = self.ramp
            stages = [Stage(0.0, start), Stage(self.duration, end)]
            return build_schedule(
                stages=stages, count=count, duration=self.duration, arrivals=self.arrivals, rng=rng
            )
        return build_schedule(
            rate=self.rate,
            count=count,
            duration=self.duration,
            stages=list(self.stages) if self.stages is not None else None,
            arrivals=self.arrivals,
            rng=rng,
        )

    def describe(self) -> dict[str, Any]:
        """The options for a report: secret-free, JSON-safe."""
        secrets = [self.secret] if self.secret else []
        return {
            "count": self.count,
            "duration_s": self.duration,
            "rate": "max" if self.closed else self.rate,
            "ramp": list(self.ramp) if self.ramp else None,
            "stages": [[s.duration, s.target] for s in self.stages] if self.stages else None,
            "arrivals": self.arrivals,
            "concurrency": self.concurrency,
            "max_in_flight": self.max_in_flight,
            "workers": self.workers,
            "headers": redact(dict(self.headers), secrets),
            "timeout_s": self.timeout,
            "expect_status": sorted(self.expect_status) if self.expect_status else "2xx",
            "retries": self.retry.retries,
            "retry_schedule": self.retry.schedule,
            "retry_time_scale": self.retry.time_scale,
            "max_retry_after_s": self.retry.max_retry_after_s,
            "insecure": self.insecure,
            "replay": self.replay,
            "keep_signature": self.keep_signature,
            "generation": {k: _plain(v) for k, v in self.factory.items() if k != "seed"},
        }


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return getattr(value, "text", None) or str(value)  # an Override keeps its --set text


def max_workers() -> int:
    """More processes than this only compete for the CPUs: generation is CPU-bound."""
    return 4 * (os.cpu_count() or 1)


def parse_workers(text: str) -> int:
    """A worker count: a whole number from 1 to max_workers(), or "auto" for one per CPU."""
    if text.strip().lower() == "auto":
        return os.cpu_count() or 1
    if not text.strip().isdigit() or int(text) < 1:
        raise UsageError(f"invalid workers '{text}': use a number of at least 1, or auto")
    return _check_workers(int(text))


def _check_workers(workers: int) -> int:
    if workers > max_workers():
        raise UsageError(
            f"invalid workers {workers}: at most {max_workers()} on this machine "
            f"(4 per CPU); use auto for one per CPU"
        )
    return workers


def parse_ramp_rates(text: str) -> tuple[float, float]:
    """(start, end) events/s from "10/s..500/s"."""
    start, end = parse_ramp(text, 1.0)
    return start.target, end.target


# Options that may also be given as the command line writes them: "50/s", "30s", "auto".
_TEXT = {
    "rate": parse_rate,
    "duration": parse_duration,
    "ramp": parse_ramp_rates,
    "stages": parse_stages,
    "timeout": parse_duration,
    "grace": parse_duration,
    "workers": parse_workers,
    "expect_status": parse_statuses,
}


def _from_text(config: SendConfig) -> dict[str, Any]:
    """The fields of `config` in their typed form: text parsed as the command line does,
    lists made tuples, headers given as a mapping or as "Name: value" made pairs."""
    changes = {
        name: parse(getattr(config, name))
        for name, parse in _TEXT.items()
        if isinstance(getattr(config, name), str)
    }
    events = config.events
    changes["events"] = (events,) if isinstance(events, str) else tuple(events)
    stages = changes.get("stages", config.stages)
    if stages is not None:
        changes["stages"] = tuple(s if isinstance(s, Stage) else Stage(*s) for s in stages)
    if config.ramp is not None:
        changes["ramp"] = tuple(changes.get("ramp", config.ramp))
    headers = config.headers
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    changes["headers"] = tuple(parse_header(h) if isinstance(h, str) else tuple(h) for h in pairs)
    if config.expect_status is not None:
        changes["expect_status"] = frozenset(changes.get("expect_status", config.expect_status))
    return changes

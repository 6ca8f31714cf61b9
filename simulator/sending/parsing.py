"""The values of a send run as the command line writes them: statuses, URL, headers,
workers, ramps, a server's Retry-After, and each option's text parsed (parse_option)."""

from __future__ import annotations

import email.utils
import os
import re
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from simulator.errors import UsageError
from simulator.options import choice, naming, refuse, whole
from simulator.reports.thresholds import parse_threshold
from simulator.sending.faults import parse_share
from simulator.sending.schedule import (
    Stage,
    parse_duration,
    parse_ramp,
    parse_rate,
    parse_stages,
)
from simulator.signing import SCHEMES

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


def status_expected(status: int, expect: frozenset[int] | None) -> bool:
    """Whether an answer's status is a success: one of `expect`, or 2xx when it is None."""
    return status in expect if expect is not None else 200 <= status < 300


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


def max_workers() -> int:
    """More processes than this only compete for the CPUs: generation is CPU-bound."""
    return 4 * (os.cpu_count() or 1)


def parse_workers(text: str) -> int:
    """A worker count: a whole number from 1 to max_workers(), or "auto" for one per CPU."""
    if text.strip().lower() == "auto":
        return os.cpu_count() or 1
    if not text.strip().isdigit() or int(text) < 1:
        raise UsageError(f"invalid workers '{text}': use a number of at least 1, or auto")
    return check_workers(int(text))


def check_workers(workers: int) -> int:
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


# Each option given as text: the flags it is named by, and its parser.
_TEXT: dict[str, tuple[tuple[str, ...], Any]] = {
    "url": (("--url",), check_url),
    "count": (("-n", "--count"), lambda text: whole(text, 1, "count")),
    "rate": (("--rate",), parse_rate),
    "duration": (("--duration",), parse_duration),
    "ramp": (("--ramp",), parse_ramp_rates),
    "stages": (("--stages",), lambda text: tuple(parse_stages(text))),
    "concurrency": (("--concurrency",), lambda text: whole(text, 1, "concurrency")),
    "max_in_flight": (("--max-in-flight",), lambda text: whole(text, 1, "max in flight")),
    "workers": (("--workers",), parse_workers),
    "timeout": (("--timeout",), parse_duration),
    "grace": (("--grace",), parse_duration),
    "expect_status": (("--expect-status",), parse_statuses),
    "duplicates": (("--duplicates",), parse_share),
    "tamper": (("--tamper",), parse_share),
    "wrong_secret": (("--wrong-secret",), parse_share),
    "stale": (("--stale",), parse_share),
    "reorder": (("--reorder",), lambda text: whole(text, 0, "reorder window")),
}


def parse_option(name: str, value: Any) -> Any:
    """One SendConfig field's typed value from the command line's text (or a value
    already typed); lists become tuples, as a frozen config holds them."""
    if isinstance(value, str) and name in _TEXT:
        flags, parse = _TEXT[name]
        with naming(*flags):
            return parse(value)
    if name == "headers":
        pairs = value.items() if isinstance(value, Mapping) else value
        with naming("-H", "--header"):
            return tuple(parse_header(h) if isinstance(h, str) else tuple(h) for h in pairs)
    if name == "thresholds":
        with naming("--threshold"):
            return tuple(parse_threshold(t) if isinstance(t, str) else t for t in value)
    if name == "stages" and value is not None:
        return tuple(s if isinstance(s, Stage) else Stage(*s) for s in value)
    if name == "ramp" and value is not None:
        return tuple(value)
    if name == "expect_status" and value is not None:
        return frozenset(value)
    return value


def check_connection(
    *,
    url: str | None,
    scheme: str | None,
    headers: Sequence[tuple[str, str]],
    timeout: float,
    insecure: bool,
    ca_bundle: str | None,
) -> None:
    """The rules of a connection to a receiver that `send` and `audit` share, each error
    naming its option: an http(s) URL, a known scheme, header lines that are headers, a
    timeout above 0, and either --insecure or a --ca-bundle that exists."""
    if url is not None:
        with naming("--url"):
            check_url(url)
    if scheme is not None:
        with naming("--sign"):
            choice(scheme, SCHEMES, "signing scheme")
    with naming("-H", "--header"):
        for name, value in headers:
            check_header(name, value)
    if not timeout > 0:
        raise refuse("--timeout", f"invalid timeout {timeout!r}: use above 0 seconds")
    if insecure and ca_bundle:
        raise refuse("--insecure", "cannot be combined with --ca-bundle")
    if ca_bundle is not None and not os.path.isfile(ca_bundle):
        raise refuse("--ca-bundle", f"file '{ca_bundle}' does not exist")

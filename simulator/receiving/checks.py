"""What the mock receiver checks and answers for one delivery, with no HTTP involved."""

from __future__ import annotations

import base64
import hashlib
import math
import random
import time
from collections import Counter, OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from simulator import schema
from simulator.receiving.behaviour import DEFAULT_BEHAVIOUR, Behaviour
from simulator.signing import Verdict, idempotency_key, make_signer, signature_header_names

VERDICT_HEADER = "X-Webhook-Sim-Verdict"
# Providers that name the event in a header rather than (or as well as) in the body.
_EVENT_HEADERS = ("X-GitHub-Event", "X-Shopify-Topic", "webhook-type")
# What a strict receiver refuses: an unproven sender, a body it cannot read, a wrong shape.
_UNAUTHENTIC = frozenset({Verdict.INVALID.value, Verdict.MISSING.value, Verdict.STALE.value})
# How schema.validate() words a key that its schema does not list.
_UNKNOWN_FIELD = ": additional property "


@dataclass(slots=True)
class ReceivedRequest:
    """One request as the receiver saw it, with its verdicts and the answer it got."""

    time: float  # epoch seconds
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    event_type: str | None
    event_id: str | None
    signature: str  # a Verdict value
    duplicate: bool
    schema_problems: list[str]  # "path: message"
    status: int | None  # the status answered; None when the connection was dropped
    schema_checked: bool = False  # False: not JSON, an event without a schema, or turned off
    not_json: bool = False  # a body that was read and is not JSON
    fault: str | None = None  # misbehaviour asked for: "fail" (--fail-rate), "drop" (--drop-rate)
    delay: float = 0.0  # seconds the answer was held back (--delay)

    def to_record(self) -> dict[str, Any]:
        """A JSON-safe dict: the body as text when it is UTF-8, else base64 with a flag."""
        try:
            text, encoded = self.body.decode("utf-8"), False
        except UnicodeDecodeError:
            text, encoded = base64.b64encode(self.body).decode("ascii"), True
        return {
            "time": self.time,
            "method": self.method,
            "path": _safe(self.path),
            "headers": {_safe(k): _safe(v) for k, v in self.headers.items()},
            "body": text,
            "body_base64": encoded,
            "event_type": self.event_type,
            "event_id": self.event_id,
            "signature": self.signature,
            "duplicate": self.duplicate,
            "schema_problems": self.schema_problems,
            "status": self.status,
            "schema_checked": self.schema_checked,
            "not_json": self.not_json,
            "fault": self.fault,
            "delay": self.delay,
        }

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> ReceivedRequest:
        """The request a `to_record()` dict describes, with the exact body bytes."""
        text = record["body"]
        body = base64.b64decode(text) if record.get("body_base64") else text.encode("utf-8")
        fields = {k: record[k] for k in cls.__dataclass_fields__ if k != "body" and k in record}
        return cls(body=body, **fields)

    @property
    def verdict(self) -> str:
        """The X-Webhook-Sim-Verdict header value this request was answered with."""
        return _verdict(self.signature, self.duplicate, self.schema_problems, self.schema_checked)


def _safe(text: str) -> str:
    # aiohttp decodes header bytes with surrogateescape; JSON cannot carry lone surrogates.
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _verdict(signature: str, duplicate: bool, problems: list[str], checked: bool) -> str:
    if not checked:
        state = "skipped"
    elif not problems:
        state = "ok"
    else:
        state = f"{len(problems)} problem{'s' if len(problems) > 1 else ''}"
    return f"signature={signature}; duplicate={'yes' if duplicate else 'no'}; schema={state}"


@dataclass
class ReceiverStats:
    """Counts of what the receiver has seen since it started."""

    received: int = 0
    signatures: dict[str, int] = field(default_factory=lambda: {v.value: 0 for v in Verdict})
    duplicates: int = 0
    schema_errors: int = 0  # requests with at least one schema problem
    not_json: int = 0
    statuses: Counter = field(default_factory=Counter)
    dropped: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "received": self.received,
            "signatures": dict(self.signatures),
            "duplicates": self.duplicates,
            "schema_errors": self.schema_errors,
            "not_json": self.not_json,
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "dropped": self.dropped,
        }


@dataclass(frozen=True)
class Answer:
    """What to do with a request: wait `delay` seconds, then answer or drop (status None)."""

    status: int | None
    delay: float
    headers: dict[str, str]


class Inspector:
    """Checks each delivery and decides its answer; not thread-safe (one event loop owns it)."""

    def __init__(
        self,
        *,
        path: str = "/",
        scheme: str = "voucherify",
        secret: str | None = None,
        tolerance: float = 300.0,
        validate_schema: bool = True,
        behaviour: Behaviour = DEFAULT_BEHAVIOUR,
        clock: Callable[[], float] = time.time,
        remember: int = 100_000,
    ) -> None:
        self.path = path
        self.scheme = scheme
        self.behaviour = behaviour
        self.stats = ReceiverStats()
        self._signer = make_signer(scheme, secret)
        self._signature_headers = signature_header_names(scheme)
        self._tolerance = tolerance
        self._clock = clock
        self._schema_events = frozenset(schema.supported_events()) if validate_schema else ()
        self._rng = random.Random(behaviour.seed)
        # Accepted ids in arrival order, so the oldest can be forgotten and memory stays flat.
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._remember = remember

    def inspect(
        self, method: str, path: str, headers: Mapping[str, str], body: bytes, oversized: bool
    ) -> tuple[ReceivedRequest, Answer]:
        """Verdicts for one request and the answer it gets; counts it in `stats`.

        An oversized body was not read, so its signature cannot be checked: it counts as
        invalid (missing without a signature header). A duplicate is an id that an
        earlier request was accepted (answered 2xx) with.
        """
        now = self._clock()
        stats = self.stats
        if oversized:
            data = None
            signature = self._unread_verdict(headers)
        else:
            data = _parse(body)
            stats.not_json += data is None
            signature = self._signer.verify(
                body, headers, now=int(now), tolerance=self._tolerance
            ).value
        event_type = _event_type(data, headers)
        event_id = _event_id(self.scheme, headers, data, None if oversized else body)

        checked = data is not None and event_type in self._schema_events
        problems = [f"{p.path}: {p.message}" for p in schema.validate(data)] if checked else []
        refusal = None
        if self.behaviour.strict:
            refusal = _refusal(signature, data is not None, problems)
        status, delay, retry_after, fault = self._decide(path, oversized, refusal)
        duplicate = event_id is not None and event_id in self._seen
        if event_id is not None and status is not None and 200 <= status < 300 and not duplicate:
            self._remember_id(event_id)

        stats.received += 1
        stats.signatures[signature] += 1
        stats.duplicates += duplicate
        stats.schema_errors += bool(problems)
        if status is None:
            stats.dropped += 1
        else:
            stats.statuses[status] += 1

        request = ReceivedRequest(
            now, method, path, dict(headers), b"" if oversized else body, event_type,
            event_id, signature, duplicate, problems, status, checked,
            not oversized and data is None, fault, delay,
        )  # fmt: skip
        answer_headers = {VERDICT_HEADER: _verdict(signature, duplicate, problems, checked)}
        if retry_after is not None:
            answer_headers["Retry-After"] = retry_after
        return request, Answer(status, delay, answer_headers)

    def _unread_verdict(self, headers: Mapping[str, str]) -> str:
        if not self._signature_headers:
            return Verdict.UNSIGNED.value
        lowered = {k.lower() for k in headers}
        signed = any(name.lower() in lowered for name in self._signature_headers)
        return Verdict.INVALID.value if signed else Verdict.MISSING.value

    def _decide(
        self, path: str, oversized: bool, refusal: int | None
    ) -> tuple[int | None, float, str | None, str | None]:
        """(status or None to drop, delay, Retry-After value, the fault injected: "drop",
        "fail" or None); draws in a fixed order.

        A strict refusal comes after the checks of the connection, size and path and
        before a failure, like a receiver that checks a request before working on it.
        """
        b = self.behaviour
        rng = self._rng
        low, high = b.delay
        delay = rng.uniform(low, high) if high > low else low
        if b.drop_rate and rng.random() < b.drop_rate:
            return None, delay, None, "drop"
        if oversized:
            return 413, delay, None, None
        if path != self.path:
            return 404, delay, None, None
        if refusal is not None:
            return refusal, delay, None, None
        if b.fail_rate and rng.random() < b.fail_rate:
            retry = None
            if b.retry_after is not None:  # then fail_status is 429 or 503 (see Behaviour)
                # Retry-After carries whole seconds (RFC 9110); rounding up never asks for less.
                retry = str(math.ceil(b.retry_after))
            return b.fail_status, delay, retry, "fail"
        return b.status, delay, None, None

    def _remember_id(self, event_id: str) -> None:
        seen = self._seen
        seen[event_id] = None
        if len(seen) > self._remember:
            seen.popitem(last=False)


def _refusal(signature: str, parsed: bool, problems: list[str]) -> int | None:
    """The status a strict receiver refuses a request with, or None to accept it.

    A field the schema does not list is still reported, but not refused: receivers are
    told to ignore unknown fields, since providers add them without notice."""
    if signature in _UNAUTHENTIC:
        return 401  # Unauthorized
    if not parsed:
        return 400  # Bad Request
    if any(_UNKNOWN_FIELD not in problem for problem in problems):
        return 422  # Unprocessable Content
    return None


def _parse(body: bytes) -> Any:
    if not body:
        return None
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return None


def _event_type(data: Any, headers: Mapping[str, str]) -> str | None:
    if isinstance(data, dict):
        event = data.get("event")
        if isinstance(event, dict) and isinstance(event.get("type"), str):
            return event["type"]
        if isinstance(data.get("type"), str):
            return data["type"]
    for name in _EVENT_HEADERS:
        value = headers.get(name) or headers.get(name.lower())
        if value:
            return value
    return None


def _event_id(scheme: str, headers: Mapping[str, str], data: Any, body: bytes | None) -> str | None:
    """The header id, else the sendout id (v2024 `id`, v2018 `webhook_id`), else the body hash.

    None only for a body that was not read (too large) and no id header.
    """
    key = idempotency_key(scheme, headers)
    if key:
        return key
    if isinstance(data, dict):
        for value in (data.get("webhook_id"), data.get("id")):
            if isinstance(value, str) and value:
                return value
        event = data.get("event")
        if isinstance(event, dict) and isinstance(event.get("id"), str) and event["id"]:
            return event["id"]
    return None if body is None else "sha256:" + hashlib.sha256(body).hexdigest()

"""The requests of each audit case, built fresh from the generator: one small function per
case, each given the Kit (factories, signers, clock) and the case's number, which picks
its payloads so that a case sends the same bytes whichever cases run with it."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import orjson

from simulator.generation.payloads import Payload, PayloadFactory
from simulator.sending.client import USER_AGENT
from simulator.sending.faults import STALE_S, TIMESTAMPED, tamper
from simulator.signing import Signer, signature_header_names

# A type no receiver handles: providers add types, and a receiver must ignore them.
UNKNOWN_TYPE = "webhook_sim.unknown_event"
ADDED_FIELD = "x_webhook_sim_added"  # a field no schema lists
SKEW_S = STALE_S  # 10 minutes, twice the 5-minute tolerance Standard Webhooks and Stripe use
LARGE_BYTES = 960_000  # ~1 MB, under the 1 MiB many servers allow by default
_PER_CASE = 8  # payload indexes each case may use


class Request(NamedTuple):
    body: bytes
    headers: dict[str, str]
    note: str = ""  # what to add to the case's description of what was sent


class Skip(Exception):
    """The case does not apply to this receiver's scheme or events; the words say why."""


class Kit:
    """What building a case needs: payload factories, the right and a wrong signer, the
    clock (epoch seconds) signatures are stamped with, and the extra headers to send."""

    def __init__(
        self,
        *,
        scheme: str,
        signer: Signer,
        other: Signer | None,
        factory: PayloadFactory,
        orders: PayloadFactory,
        headers: Mapping[str, str],
        clock: Callable[[], float],
    ) -> None:
        self.scheme = scheme
        self.signer, self.other = signer, other
        self.factory, self.orders = factory, orders
        self.clock = clock
        self._base = {"Content-Type": "application/json", "User-Agent": USER_AGENT}
        self._extra = dict(headers)

    def payload(self, case: int, k: int = 0) -> Payload:
        return self.factory.build(case * _PER_CASE + k)

    def request(
        self,
        payload: Payload,
        body: bytes | None = None,
        *,
        signer: Signer | None = None,
        at: float | None = None,
        event_type: str | None = None,
    ) -> Request:
        """`body` (default: the payload's) signed by `signer` (default: the right one)
        with the payload's id, stamped `at` (default: now)."""
        body = payload.body if body is None else body
        signed = self.signed(payload, body, signer=signer, at=at, event_type=event_type)
        return Request(body, {**self._base, **signed, **self._extra})

    def signed(
        self,
        payload: Payload,
        body: bytes,
        *,
        signer: Signer | None = None,
        at: float | None = None,
        event_type: str | None = None,
    ) -> dict[str, str]:
        return (signer or self.signer).headers(
            body,
            msg_id=payload.id,
            timestamp=int(self.clock() if at is None else at),
            event_type=event_type or payload.event,
        )

    def wrong_signer(self) -> Signer:
        if self.other is None:
            raise Skip("--sign none: requests carry no signature to check")
        return self.other


def valid(kit: Kit, case: int) -> list[Request]:
    return [kit.request(kit.payload(case))]


def wrong_secret(kit: Kit, case: int) -> list[Request]:
    return [kit.request(kit.payload(case), signer=kit.wrong_signer())]


def missing_signature(kit: Kit, case: int) -> list[Request]:
    kit.wrong_signer()  # skips an unsigned scheme
    request = kit.request(kit.payload(case))
    names = {name.lower() for name in signature_header_names(kit.scheme)}
    headers = {k: v for k, v in request.headers.items() if k.lower() not in names}
    return [Request(request.body, headers)]


def tampered_body(kit: Kit, case: int) -> list[Request]:
    kit.wrong_signer()
    payload = kit.payload(case)
    signed = kit.request(payload)
    return [Request(tamper(payload.body), signed.headers)]


def reserialized(kit: Kit, case: int) -> list[Request]:
    kit.wrong_signer()
    payload = kit.payload(case)
    signed = kit.request(payload)
    # What a framework's JSON encoder writes: the same values and key order, other spaces.
    body = json.dumps(payload.data, indent=2, ensure_ascii=False).encode()
    return [Request(body, signed.headers)]


def stale_timestamp(kit: Kit, case: int) -> list[Request]:
    if kit.scheme not in TIMESTAMPED:
        raise Skip(f"--sign {kit.scheme} signs no timestamp: it has no replay protection")
    return [kit.request(kit.payload(case), at=kit.clock() - SKEW_S)]


def future_timestamp(kit: Kit, case: int) -> list[Request]:
    if kit.scheme == "stripe":
        raise Skip("Stripe's verifiers accept timestamps ahead of the clock")
    if kit.scheme != "standard":
        raise Skip(f"--sign {kit.scheme} signs no timestamp")
    return [kit.request(kit.payload(case), at=kit.clock() + SKEW_S)]


def rotated_keys(kit: Kit, case: int) -> list[Request]:
    if kit.scheme not in TIMESTAMPED:
        raise Skip(f"--sign {kit.scheme} carries one signature: no key rotation to test")
    payload = kit.payload(case)
    at = kit.clock()
    request = kit.request(payload, at=at)
    old = kit.signed(payload, payload.body, signer=kit.wrong_signer(), at=at)
    headers = dict(request.headers)
    if kit.scheme == "standard":
        name = "webhook-signature"
        headers[name] = f"{old[name]} {headers[name]}"
    else:
        name = "Stripe-Signature"
        stamp, _, valid_one = headers[name].partition(",")
        headers[name] = f"{stamp},{old[name].partition(',')[2]},{valid_one}"
    return [Request(request.body, headers)]


def duplicate(kit: Kit, case: int) -> list[Request]:
    request = kit.request(kit.payload(case))
    return [request, request]


def out_of_order(kit: Kit, case: int) -> list[Request]:
    # One order's chain (created, paid), delivered paid first.
    created, paid = kit.orders.build(2 * case), kit.orders.build(2 * case + 1)
    return [kit.request(paid), kit.request(created)]


def unknown_event(kit: Kit, case: int) -> list[Request]:
    payload = kit.payload(case)
    data = orjson.loads(payload.body)
    named = False
    for holder in (data, data.get("event")):
        if isinstance(holder, dict) and "type" in holder:
            holder["type"] = UNKNOWN_TYPE
            named = True
    if not named and kit.scheme not in ("github", "shopify"):
        raise Skip("neither the body (--envelope none) nor the scheme names an event type")
    body = orjson.dumps(data)
    return [kit.request(payload, body, event_type=UNKNOWN_TYPE)]


def unknown_field(kit: Kit, case: int) -> list[Request]:
    payload = kit.payload(case)
    data = orjson.loads(payload.body)
    data[ADDED_FIELD] = "a field added by the provider"
    inner = _order(data) or data.get("data")
    if isinstance(inner, dict):
        inner[ADDED_FIELD] = 1
    return [kit.request(payload, orjson.dumps(data))]


def large_body(kit: Kit, case: int) -> list[Request]:
    payload = kit.payload(case)
    if _order(payload.data) is None:
        payload = kit.orders.build(2 * case)  # the audited events have no order lines
    data = orjson.loads(payload.body)
    order = _order(data)
    assert order is not None
    lines = order["items"]
    each = sum(len(orjson.dumps(line)) + 1 for line in lines) / len(lines)
    count = len(lines) + math.ceil((LARGE_BYTES - len(payload.body)) / each)
    order["items"] = [lines[j % len(lines)] for j in range(count)]
    # The amounts still add up, as Voucherify computes them.
    order["amount"] = sum(line["amount"] for line in order["items"])
    order["total_amount"] = order["amount"] - order.get("total_discount_amount", 0)
    body = orjson.dumps(data)
    note = f"{len(body) / 1000:,.0f} KB"
    return [kit.request(payload, body)._replace(note=note)]


def not_json(kit: Kit, case: int) -> list[Request]:
    body = kit.payload(case).body
    # A body cut short, as a proxy with a size limit might pass it on; signed as it is.
    return [kit.request(kit.payload(case), body[: len(body) // 2])]


def _order(data: Any) -> dict | None:
    """The order of an order event's body, in any envelope; None for other events."""
    if not isinstance(data, dict):
        return None
    inner = data.get("data", data)
    order = inner.get("order") if isinstance(inner, dict) else None
    return order if isinstance(order, dict) and isinstance(order.get("items"), list) else None

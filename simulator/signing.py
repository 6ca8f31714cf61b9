"""Sign and verify webhook bodies with each supported signature scheme."""

from __future__ import annotations

import base64
import binascii
import enum
import hmac
import random
import string
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from simulator.errors import OptionError, SigningError, UsageError

SCHEMES: tuple[str, ...] = ("voucherify", "standard", "stripe", "github", "shopify", "none")

_SIGNATURE_HEADERS: dict[str, tuple[str, ...]] = {
    "voucherify": ("x-voucherify-signature",),
    "standard": ("webhook-signature",),
    "stripe": ("Stripe-Signature",),
    "github": ("X-Hub-Signature-256",),
    "shopify": ("X-Shopify-Hmac-Sha256",),
    "none": (),
}

_ID_HEADERS: dict[str, str] = {
    "standard": "webhook-id",
    "github": "X-GitHub-Delivery",
    "shopify": "X-Shopify-Webhook-Id",
}

_WHSEC = "whsec_"
DEFAULT_SECRET_ENV = "WEBHOOK_SECRET"
_ALNUM = string.ascii_letters + string.digits


class Verdict(str, enum.Enum):
    """Outcome of checking a delivery's signature."""

    VALID = "valid"
    INVALID = "invalid"
    MISSING = "missing"
    STALE = "stale"
    UNSIGNED = "unsigned"  # scheme "none": there is nothing to check


def _check_scheme(scheme: str) -> None:
    if scheme not in SCHEMES:
        raise SigningError(f"unknown signing scheme '{scheme}': choose one of {', '.join(SCHEMES)}")


def _standard_key(secret: str) -> bytes:
    raw = secret.removeprefix(_WHSEC)
    try:
        # Padding is optional in the wild (standardwebhooks accepts unpadded secrets);
        # validate=True still rejects characters outside the base64 alphabet.
        key = base64.b64decode(raw + "=" * (-len(raw) % 4), validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if not key:
        # The secret itself is deliberately left out of the message: errors end up in logs.
        raise SigningError(
            "signing scheme 'standard' needs a base64 secret, optionally prefixed "
            "'whsec_' (e.g. whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw); "
            "the given secret is not valid base64"
        )
    return key


def _lookup(headers: Mapping[str, str], name: str) -> str | None:
    """Case-insensitive header lookup that works for plain dicts and CIMultiDict alike."""
    value = headers.get(name)
    if value is None:
        lower = name.lower()
        value = headers.get(lower)
        if value is None:
            for key, candidate in headers.items():
                if key.lower() == lower:
                    return candidate
    return value


def _same(expected: str, given: str) -> bool:
    # compare_digest raises TypeError on non-ASCII str; such input is simply wrong.
    return given.isascii() and hmac.compare_digest(expected, given)


def _iso_utc(timestamp: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(timestamp))


@dataclass(frozen=True)
class Signer:
    """Signs bodies for one scheme and secret; the keyed HMAC is prepared once."""

    scheme: str
    secret: str = field(repr=False)
    # Derived in __post_init__; excluded from init, repr and equality.
    _key: bytes = field(init=False, repr=False, compare=False, default=b"")
    _headers: Any = field(init=False, repr=False, compare=False, default=None)
    _verify: Any = field(init=False, repr=False, compare=False, default=None)

    def __post_init__(self) -> None:
        _check_scheme(self.scheme)
        if self.scheme == "none":
            key = None
        else:
            if not self.secret:
                raise SigningError(
                    f"signing scheme '{self.scheme}' needs a secret: "
                    "pass --secret or set WEBHOOK_SECRET"
                )
            key = (
                _standard_key(self.secret)
                if self.scheme == "standard"
                else self.secret.encode("utf-8")
            )
        object.__setattr__(self, "_key", key)
        object.__setattr__(self, "_headers", getattr(self, f"_headers_{self.scheme}"))
        object.__setattr__(self, "_verify", getattr(self, f"_verify_{self.scheme}"))

    # -- signing ---------------------------------------------------------------

    def _digest(self, *parts: bytes) -> bytes:
        # hmac.digest is OpenSSL's one-shot HMAC: faster than copying a keyed hmac object
        # even after joining a prefix to a 3 KB body.
        return hmac.digest(self._key, parts[0] if len(parts) == 1 else b"".join(parts), "sha256")

    def headers(
        self, body: bytes, *, msg_id: str, timestamp: int, event_type: str
    ) -> dict[str, str]:
        """Headers that sign exactly `body`; add them to the request unchanged."""
        return self._headers(body, msg_id, timestamp, event_type)

    def _headers_voucherify(
        self, body: bytes, msg_id: str, timestamp: int, event_type: str
    ) -> dict[str, str]:
        return {"x-voucherify-signature": self._digest(body).hex()}

    def _headers_standard(
        self, body: bytes, msg_id: str, timestamp: int, event_type: str
    ) -> dict[str, str]:
        ts = str(timestamp)
        sig = base64.b64encode(self._digest(f"{msg_id}.{ts}.".encode(), body)).decode()
        return {"webhook-id": msg_id, "webhook-timestamp": ts, "webhook-signature": "v1," + sig}

    def _headers_stripe(
        self, body: bytes, msg_id: str, timestamp: int, event_type: str
    ) -> dict[str, str]:
        sig = self._digest(f"{timestamp}.".encode(), body).hex()
        return {"Stripe-Signature": f"t={timestamp},v1={sig}"}

    def _headers_github(
        self, body: bytes, msg_id: str, timestamp: int, event_type: str
    ) -> dict[str, str]:
        return {
            "X-Hub-Signature-256": "sha256=" + self._digest(body).hex(),
            "X-GitHub-Event": event_type,
            "X-GitHub-Delivery": msg_id,
        }

    def _headers_shopify(
        self, body: bytes, msg_id: str, timestamp: int, event_type: str
    ) -> dict[str, str]:
        return {
            "X-Shopify-Hmac-Sha256": base64.b64encode(self._digest(body)).decode(),
            "X-Shopify-Topic": event_type,
            "X-Shopify-Webhook-Id": msg_id,
            "X-Shopify-Triggered-At": _iso_utc(timestamp),
        }

    def _headers_none(
        self, body: bytes, msg_id: str, timestamp: int, event_type: str
    ) -> dict[str, str]:
        return {}

    # -- verifying -------------------------------------------------------------

    def verify(
        self, body: bytes, headers: Mapping[str, str], *, now: int, tolerance: float = 300.0
    ) -> Verdict:
        """Check a received delivery. Never raises on malformed headers: they are INVALID.

        A signature is checked before the timestamp, so STALE means "authentic but
        outside the tolerance window" (a replay or a badly skewed clock).
        """
        return self._verify(body, headers, now, tolerance)

    def _verify_voucherify(
        self, body: bytes, headers: Mapping[str, str], now: int, tolerance: float
    ) -> Verdict:
        given = _lookup(headers, "x-voucherify-signature")
        if given is None:
            return Verdict.MISSING
        ok = _same(self._digest(body).hex(), given.strip())
        return Verdict.VALID if ok else Verdict.INVALID

    def _verify_standard(
        self, body: bytes, headers: Mapping[str, str], now: int, tolerance: float
    ) -> Verdict:
        given = _lookup(headers, "webhook-signature")
        if given is None:
            return Verdict.MISSING
        msg_id = _lookup(headers, "webhook-id")
        ts = _lookup(headers, "webhook-timestamp")
        if not msg_id or not ts:
            return Verdict.INVALID
        ts = ts.strip()
        if not (ts.isascii() and ts.isdigit()):
            return Verdict.INVALID
        try:
            # aiohttp decodes header bytes with surrogateescape; this restores them.
            prefix = f"{msg_id}.{ts}.".encode("utf-8", "surrogateescape")
        except UnicodeEncodeError:
            return Verdict.INVALID
        expected = base64.b64encode(self._digest(prefix, body)).decode()
        # A space-separated list: during key rotation the sender signs with each key.
        for item in given.split():
            version, _, sig = item.partition(",")
            if version == "v1" and _same(expected, sig):
                break
        else:
            return Verdict.INVALID
        # Standard Webhooks rejects timestamps too far in the past and in the future.
        return Verdict.STALE if abs(now - int(ts)) > tolerance else Verdict.VALID

    def _verify_stripe(
        self, body: bytes, headers: Mapping[str, str], now: int, tolerance: float
    ) -> Verdict:
        given = _lookup(headers, "Stripe-Signature")
        if given is None:
            return Verdict.MISSING
        ts: str | None = None
        sigs: list[str] = []
        for item in given.split(","):
            key, _, value = item.strip().partition("=")
            if key == "t" and ts is None:
                ts = value
            elif key == "v1":
                sigs.append(value)
        if ts is None or not (ts.isascii() and ts.isdigit()) or not sigs:
            return Verdict.INVALID
        expected = self._digest(f"{ts}.".encode(), body).hex()
        if not any(_same(expected, sig) for sig in sigs):
            return Verdict.INVALID
        # Stripe only rejects old events; a timestamp ahead of the clock passes.
        return Verdict.STALE if now - int(ts) > tolerance else Verdict.VALID

    def _verify_github(
        self, body: bytes, headers: Mapping[str, str], now: int, tolerance: float
    ) -> Verdict:
        given = _lookup(headers, "X-Hub-Signature-256")
        if given is None:
            return Verdict.MISSING
        ok = _same("sha256=" + self._digest(body).hex(), given.strip())
        return Verdict.VALID if ok else Verdict.INVALID

    def _verify_shopify(
        self, body: bytes, headers: Mapping[str, str], now: int, tolerance: float
    ) -> Verdict:
        given = _lookup(headers, "X-Shopify-Hmac-Sha256")
        if given is None:
            return Verdict.MISSING
        ok = _same(base64.b64encode(self._digest(body)).decode(), given.strip())
        return Verdict.VALID if ok else Verdict.INVALID

    def _verify_none(
        self, body: bytes, headers: Mapping[str, str], now: int, tolerance: float
    ) -> Verdict:
        return Verdict.UNSIGNED


def read_secret(
    secret: str | None, secret_env: str | None, environ: Mapping[str, str]
) -> str | None:
    """The signing secret: `secret`, or the value of $`secret_env` (default
    $WEBHOOK_SECRET); None when neither gives one. Naming a variable that is not set is a
    usage error, and so is naming one beside a secret."""
    if secret is not None and secret_env is not None:
        raise OptionError(("--secret-env",), "cannot be combined with --secret")
    if secret is not None:
        return secret
    value = environ.get(secret_env or DEFAULT_SECRET_ENV) or None
    if secret_env is not None and value is None:
        raise UsageError(f"environment variable {secret_env} is not set")
    return value


def make_signer(scheme: str, secret: str | None) -> Signer:
    """A Signer for `scheme`, or SigningError if the scheme or secret cannot be used."""
    _check_scheme(scheme)
    return Signer(scheme, secret or "")


def generate_secret(scheme: str, rng: random.Random) -> str:
    """A fresh secret in the form the scheme's providers hand out, drawn from `rng`."""
    _check_scheme(scheme)
    if scheme == "standard":
        return _WHSEC + base64.b64encode(rng.randbytes(24)).decode()
    if scheme == "stripe":
        return _WHSEC + "".join(rng.choices(_ALNUM, k=32))
    return f"{rng.getrandbits(128):032x}"


def idempotency_key(scheme: str, headers: Mapping[str, str]) -> str | None:
    """The delivery id the scheme puts in its headers, or None if it has none."""
    _check_scheme(scheme)
    name = _ID_HEADERS.get(scheme)
    return None if name is None else _lookup(headers, name)


def signature_header_names(scheme: str) -> tuple[str, ...]:
    """Names of the headers that carry the scheme's signature, as `Signer.headers` emits them."""
    _check_scheme(scheme)
    return _SIGNATURE_HEADERS[scheme]

"""Signatures checked against official vectors, third-party verifiers and our own verify()."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import random
import time

import pytest
import standardwebhooks
import stripe
import svix.webhooks
from conftest import VOUCHERIFY
from gidgethub import ValidationFailure, sansio
from multidict import CIMultiDict

from simulator.errors import SigningError
from simulator.signing import (
    SCHEMES,
    Signer,
    Verdict,
    generate_secret,
    idempotency_key,
    make_signer,
    signature_header_names,
)

VECTORS_PATH = VOUCHERIFY / "signature_test_vectors.json"
VECTORS = json.loads(VECTORS_PATH.read_text(encoding="utf-8"))["vectors"]

BODY = b'{"id":"evt_1","type":"voucher.published","data":{"name":"Zo\xc3\xab"}}'
MSG_ID = "msg_2b1f6c0e"
EVENT = "voucher.published"
TS = 1_700_000_000
STANDARD_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SECRETS = {
    "voucherify": "secret-signature-key",
    "standard": STANDARD_SECRET,
    "stripe": "whsec_test_0123456789abcdefABCDEF",
    "github": "It's a Secret to Everybody",
    "shopify": "shpss_0123456789abcdef",
    "none": "",
}
SIGNED = tuple(s for s in SCHEMES if s != "none")


def _sign(scheme: str, body: bytes = BODY, ts: int = TS, secret: str | None = None):
    signer = make_signer(scheme, SECRETS[scheme] if secret is None else secret)
    return signer, signer.headers(body, msg_id=MSG_ID, timestamp=ts, event_type=EVENT)


def _vector_params() -> list:
    params = []
    for i, vec in enumerate(VECTORS):
        marks = ()
        if "message" not in vec:
            # The vector signs a file from the upstream reference set that is not shipped here.
            reason = f"message comes from {vec['message_file']}, which is not in this repo"
            marks = (pytest.mark.skip(reason=reason),)
        params.append(pytest.param(vec, id=f"vector{i}", marks=marks))
    return params


# -- Voucherify official vectors --------------------------------------------------


def test_vectors_file_has_the_official_vectors():
    assert sum("message" in v for v in VECTORS) == 8


@pytest.mark.parametrize("vec", _vector_params())
def test_voucherify_vector(vec):
    signer = make_signer("voucherify", vec["secret"])
    body = vec["message"].encode("utf-8")
    headers = signer.headers(body, msg_id="m", timestamp=TS, event_type="e")
    assert headers == {"x-voucherify-signature": vec["signature"]}
    assert signer.verify(body, {"x-voucherify-signature": vec["signature"]}, now=TS) is (
        Verdict.VALID
    )
    assert signer.verify(body + b" ", headers, now=TS) is Verdict.INVALID


# -- GitHub -----------------------------------------------------------------------


def test_github_documented_vector():
    signer = make_signer("github", "It's a Secret to Everybody")
    headers = signer.headers(b"Hello, World!", msg_id="d-1", timestamp=TS, event_type="push")
    assert headers == {
        "X-Hub-Signature-256": (
            "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
        ),
        "X-GitHub-Event": "push",
        "X-GitHub-Delivery": "d-1",
    }


def test_github_headers_accepted_by_gidgethub():
    _, headers = _sign("github")
    secret = SECRETS["github"]
    # gidgethub expects a mapping with lower-case keys, as HTTP servers usually provide.
    http_headers = {k.lower(): v for k, v in headers.items()}
    http_headers["content-type"] = "application/json"
    event = sansio.Event.from_http(http_headers, BODY, secret=secret)
    assert event.event == EVENT
    assert event.delivery_id == MSG_ID
    assert event.data == json.loads(BODY)
    sansio.validate_event(BODY, signature=headers["X-Hub-Signature-256"], secret=secret)
    with pytest.raises(ValidationFailure):
        sansio.validate_event(BODY + b" ", signature=headers["X-Hub-Signature-256"], secret=secret)
    with pytest.raises(ValidationFailure):
        sansio.Event.from_http(http_headers, BODY, secret="other")


# -- Standard Webhooks / Svix -----------------------------------------------------


def test_standard_headers_shape():
    _, headers = _sign("standard")
    assert set(headers) == {"webhook-id", "webhook-timestamp", "webhook-signature"}
    assert headers["webhook-id"] == MSG_ID
    assert headers["webhook-timestamp"] == str(TS)
    version, sig = headers["webhook-signature"].split(",")
    assert version == "v1"
    key = base64.b64decode(STANDARD_SECRET.removeprefix("whsec_"))
    expected = hmac.new(key, f"{MSG_ID}.{TS}.".encode() + BODY, hashlib.sha256).digest()
    assert base64.b64decode(sig) == expected


@pytest.mark.parametrize(
    "verifier",
    [standardwebhooks.Webhook, svix.webhooks.Webhook],
    ids=["standardwebhooks", "svix"],
)
def test_standard_headers_accepted_by_reference_verifiers(verifier):
    _, headers = _sign("standard", ts=int(time.time()))
    wh = verifier(STANDARD_SECRET)
    wh.verify(BODY, headers)
    with pytest.raises(standardwebhooks.WebhookVerificationError):
        wh.verify(BODY.replace(b"evt_1", b"evt_2"), headers)
    other = generate_secret("standard", random.Random(1))
    with pytest.raises(standardwebhooks.WebhookVerificationError):
        verifier(other).verify(BODY, headers)


def test_standard_headers_accepted_by_svix_under_svix_names():
    _, headers = _sign("standard", ts=int(time.time()))
    renamed = {k.replace("webhook-", "svix-"): v for k, v in headers.items()}
    assert set(renamed) == {"svix-id", "svix-timestamp", "svix-signature"}
    svix.webhooks.Webhook(STANDARD_SECRET).verify(BODY, renamed)


def test_standard_secret_without_prefix_is_the_same_key():
    _, with_prefix = _sign("standard")
    _, without = _sign("standard", secret=STANDARD_SECRET.removeprefix("whsec_"))
    assert with_prefix == without


# -- Stripe -----------------------------------------------------------------------


def test_stripe_header_accepted_by_stripe():
    now = int(time.time())
    _, headers = _sign("stripe", ts=now)
    header = headers["Stripe-Signature"]
    assert header.startswith(f"t={now},v1=")
    secret = SECRETS["stripe"]
    assert stripe.WebhookSignature.verify_header(BODY.decode(), header, secret, tolerance=300)
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.WebhookSignature.verify_header(BODY.decode() + " ", header, secret, tolerance=300)
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.WebhookSignature.verify_header(BODY.decode(), header, "whsec_other", tolerance=300)


def test_stripe_stale_header_rejected_by_stripe_and_by_us():
    now = int(time.time())
    signer, headers = _sign("stripe", ts=now - 301)
    with pytest.raises(stripe.SignatureVerificationError, match="tolerance"):
        stripe.WebhookSignature.verify_header(
            BODY.decode(), headers["Stripe-Signature"], SECRETS["stripe"], tolerance=300
        )
    assert signer.verify(BODY, headers, now=now, tolerance=300) is Verdict.STALE


def test_stripe_keys_with_the_whole_secret_string():
    secret = SECRETS["stripe"]
    _, headers = _sign("stripe")
    expected = hmac.new(secret.encode(), f"{TS}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert headers == {"Stripe-Signature": f"t={TS},v1={expected}"}


# -- Shopify ----------------------------------------------------------------------


def test_shopify_matches_documented_formula():
    _, headers = _sign("shopify")
    key = SECRETS["shopify"].encode("utf-8")
    expected = base64.b64encode(hmac.new(key, BODY, hashlib.sha256).digest()).decode()
    assert headers == {
        "X-Shopify-Hmac-Sha256": expected,
        "X-Shopify-Topic": EVENT,
        "X-Shopify-Webhook-Id": MSG_ID,
        "X-Shopify-Triggered-At": "2023-11-14T22:13:20Z",
    }


def test_voucherify_matches_documented_formula():
    _, headers = _sign("voucherify")
    key = SECRETS["voucherify"].encode("utf-8")
    assert headers == {"x-voucherify-signature": hmac.new(key, BODY, hashlib.sha256).hexdigest()}


def test_none_scheme_adds_no_headers_and_is_unsigned():
    signer, headers = _sign("none")
    assert headers == {}
    assert signer.verify(BODY, {}, now=TS) is Verdict.UNSIGNED
    assert make_signer("none", None).verify(BODY, {"x": "y"}, now=TS) is Verdict.UNSIGNED


# -- our own verify ---------------------------------------------------------------


@pytest.mark.parametrize("scheme", SIGNED)
def test_round_trip_valid(scheme):
    signer, headers = _sign(scheme)
    assert signer.verify(BODY, headers, now=TS) is Verdict.VALID
    # A fresh Signer built from the same settings accepts it too: nothing hidden in state.
    assert make_signer(scheme, SECRETS[scheme]).verify(BODY, headers, now=TS) is Verdict.VALID


@pytest.mark.parametrize("scheme", SIGNED)
def test_tampered_body_is_invalid(scheme):
    signer, headers = _sign(scheme)
    assert signer.verify(BODY.replace(b"evt_1", b"evt_2"), headers, now=TS) is Verdict.INVALID
    assert signer.verify(b"", headers, now=TS) is Verdict.INVALID


@pytest.mark.parametrize("scheme", SIGNED)
def test_wrong_secret_is_invalid(scheme):
    _, headers = _sign(scheme)
    other = make_signer(scheme, generate_secret(scheme, random.Random(7)))
    assert other.verify(BODY, headers, now=TS) is Verdict.INVALID


@pytest.mark.parametrize("scheme", SIGNED)
def test_tampered_signature_header_is_invalid(scheme):
    signer, headers = _sign(scheme)
    for name in signature_header_names(scheme):
        value = headers[name]
        # Flip one character near the end, staying inside the value's alphabet.
        pos = len(value) - 3
        swapped = "B" if value[pos] == "A" else "A"
        if scheme in ("voucherify", "github", "stripe"):
            swapped = "0" if value[pos] != "0" else "1"
        tampered = {**headers, name: value[:pos] + swapped + value[pos + 1 :]}
        assert signer.verify(BODY, tampered, now=TS) is Verdict.INVALID


@pytest.mark.parametrize("scheme", SIGNED)
def test_missing_signature_header(scheme):
    signer, headers = _sign(scheme)
    names = signature_header_names(scheme)
    assert names and all(name in headers for name in names)
    stripped = {k: v for k, v in headers.items() if k not in names}
    assert signer.verify(BODY, stripped, now=TS) is Verdict.MISSING
    assert signer.verify(BODY, {}, now=TS) is Verdict.MISSING


@pytest.mark.parametrize("scheme", SIGNED)
@pytest.mark.parametrize(
    "case", [str.lower, str.upper, str.swapcase], ids=["lower", "upper", "swap"]
)
def test_header_lookup_is_case_insensitive(scheme, case):
    signer, headers = _sign(scheme)
    recased = {case(k): v for k, v in headers.items()}
    assert signer.verify(BODY, recased, now=TS) is Verdict.VALID
    assert signer.verify(BODY, CIMultiDict(recased), now=TS) is Verdict.VALID


@pytest.mark.parametrize("scheme", ["voucherify", "github", "shopify"])
def test_schemes_without_timestamp_never_go_stale(scheme):
    signer, headers = _sign(scheme)
    assert signer.verify(BODY, headers, now=TS + 10**9, tolerance=1) is Verdict.VALID


@pytest.mark.parametrize(
    ("offset", "verdict"),
    [
        (0, Verdict.VALID),
        (300, Verdict.VALID),
        (301, Verdict.STALE),
        (-300, Verdict.VALID),
        (-301, Verdict.STALE),
    ],
)
def test_standard_staleness_is_symmetric(offset, verdict):
    # offset = now - ts: positive is an old message, negative one from the future.
    signer, headers = _sign("standard")
    assert signer.verify(BODY, headers, now=TS + offset, tolerance=300) is verdict


@pytest.mark.parametrize(
    ("offset", "verdict"),
    [(0, Verdict.VALID), (300, Verdict.VALID), (301, Verdict.STALE), (-10_000, Verdict.VALID)],
)
def test_stripe_staleness_only_for_old_messages(offset, verdict):
    signer, headers = _sign("stripe")
    assert signer.verify(BODY, headers, now=TS + offset, tolerance=300) is verdict


def test_tolerance_is_honoured():
    signer, headers = _sign("standard")
    assert signer.verify(BODY, headers, now=TS + 30, tolerance=10) is Verdict.STALE
    assert signer.verify(BODY, headers, now=TS + 30, tolerance=60) is Verdict.VALID


def test_stale_requires_a_genuine_signature():
    signer, headers = _sign("standard")
    assert signer.verify(BODY + b"x", headers, now=TS + 10_000) is Verdict.INVALID


def test_standard_key_rotation_list():
    signer, headers = _sign("standard")
    _, old = _sign("standard", secret=generate_secret("standard", random.Random(3)))
    good = headers["webhook-signature"]
    bad = old["webhook-signature"]
    for value in (f"{bad} {good}", f"{good} {bad}", f"v2,abc {good}", f"{bad}  {good}"):
        rotated = {**headers, "webhook-signature": value}
        assert signer.verify(BODY, rotated, now=TS) is Verdict.VALID, value
    only_bad = {**headers, "webhook-signature": f"{bad} v2,{good.split(',')[1]}"}
    assert signer.verify(BODY, only_bad, now=TS) is Verdict.INVALID


def test_standard_key_rotation_list_accepted_by_standardwebhooks():
    _, headers = _sign("standard", ts=int(time.time()))
    _, old = _sign(
        "standard", ts=int(time.time()), secret=generate_secret("standard", random.Random(3))
    )
    rotated = {
        **headers,
        "webhook-signature": f"{old['webhook-signature']} {headers['webhook-signature']}",
    }
    standardwebhooks.Webhook(STANDARD_SECRET).verify(BODY, rotated)


def test_standard_signature_covers_id_and_timestamp():
    signer, headers = _sign("standard")
    assert signer.verify(BODY, {**headers, "webhook-id": "msg_other"}, now=TS) is Verdict.INVALID
    moved = {**headers, "webhook-timestamp": str(TS + 1)}
    assert signer.verify(BODY, moved, now=TS) is Verdict.INVALID


def test_stripe_signature_covers_timestamp_and_accepts_any_v1():
    signer, headers = _sign("stripe")
    sig = headers["Stripe-Signature"].split("v1=")[1]
    assert signer.verify(BODY, {"Stripe-Signature": f"t={TS + 1},v1={sig}"}, now=TS) is (
        Verdict.INVALID
    )
    multi = f"t={TS},v1={'0' * 64},v0=abc,v1={sig}"
    assert signer.verify(BODY, {"Stripe-Signature": multi}, now=TS) is Verdict.VALID
    # Like stripe-python, the first t= wins.
    doubled = f"t={TS},t={TS + 1},v1={sig}"
    assert signer.verify(BODY, {"Stripe-Signature": doubled}, now=TS) is Verdict.VALID


GARBAGE = {
    "voucherify": [
        {"x-voucherify-signature": ""},
        {"x-voucherify-signature": "zz"},
        {"x-voucherify-signature": "é" * 64},
        {"x-voucherify-signature": "\udcff" * 64},
    ],
    "standard": [
        {"webhook-id": MSG_ID, "webhook-timestamp": str(TS), "webhook-signature": ""},
        {"webhook-id": MSG_ID, "webhook-timestamp": str(TS), "webhook-signature": "v1"},
        {"webhook-id": MSG_ID, "webhook-timestamp": str(TS), "webhook-signature": "v1,!!!"},
        {"webhook-id": MSG_ID, "webhook-timestamp": str(TS), "webhook-signature": "v1,é=="},
        {"webhook-id": MSG_ID, "webhook-timestamp": str(TS), "webhook-signature": ",,, ,"},
        {"webhook-id": MSG_ID, "webhook-timestamp": "soon", "webhook-signature": "v1,AAAA"},
        {"webhook-id": MSG_ID, "webhook-timestamp": "1.5e9", "webhook-signature": "v1,AAAA"},
        {"webhook-id": MSG_ID, "webhook-timestamp": "-5", "webhook-signature": "v1,AAAA"},
        {"webhook-id": MSG_ID, "webhook-timestamp": "١٢٣", "webhook-signature": "v1,AAAA"},
        {"webhook-id": MSG_ID, "webhook-signature": "v1,AAAA"},
        {"webhook-timestamp": str(TS), "webhook-signature": "v1,AAAA"},
        {"webhook-id": "\udcff\ud800", "webhook-timestamp": str(TS), "webhook-signature": "v1,A"},
    ],
    "stripe": [
        {"Stripe-Signature": ""},
        {"Stripe-Signature": "v1=abc"},
        {"Stripe-Signature": f"t={TS}"},
        {"Stripe-Signature": "t=yesterday,v1=abc"},
        {"Stripe-Signature": "t=,v1="},
        {"Stripe-Signature": "===,,,"},
        {"Stripe-Signature": f"t={TS},v1=é"},
    ],
    "github": [
        {"X-Hub-Signature-256": ""},
        {"X-Hub-Signature-256": "sha256="},
        {"X-Hub-Signature-256": "md5=abc"},
        {"X-Hub-Signature-256": "sha256=ünïcode"},
    ],
    "shopify": [
        {"X-Shopify-Hmac-Sha256": ""},
        {"X-Shopify-Hmac-Sha256": "not base64!"},
        {"X-Shopify-Hmac-Sha256": "==="},
        {"X-Shopify-Hmac-Sha256": "ß" * 44},
    ],
}


@pytest.mark.parametrize(
    ("scheme", "headers"),
    [(scheme, h) for scheme, cases in GARBAGE.items() for h in cases],
)
def test_garbage_headers_are_invalid_not_errors(scheme, headers):
    signer = make_signer(scheme, SECRETS[scheme])
    assert signer.verify(BODY, headers, now=TS) is Verdict.INVALID


# -- make_signer, Signer, helpers -------------------------------------------------


def test_make_signer_unknown_scheme():
    with pytest.raises(SigningError) as info:
        make_signer("hmac", "s")
    assert str(info.value) == (
        "unknown signing scheme 'hmac': choose one of "
        "voucherify, standard, stripe, github, shopify, none"
    )


@pytest.mark.parametrize("scheme", SIGNED)
@pytest.mark.parametrize("secret", [None, ""])
def test_make_signer_missing_secret(scheme, secret):
    with pytest.raises(SigningError) as info:
        make_signer(scheme, secret)
    assert str(info.value) == (
        f"signing scheme '{scheme}' needs a secret: pass --secret or set WEBHOOK_SECRET"
    )


@pytest.mark.parametrize("secret", ["whsec_not base64!", "whsec_", "whsec_A", "whsec_-_-_", "ñ"])
def test_make_signer_bad_standard_secret(secret):
    with pytest.raises(SigningError) as info:
        make_signer("standard", secret)
    assert str(info.value) == (
        "signing scheme 'standard' needs a base64 secret, optionally prefixed 'whsec_' "
        "(e.g. whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw); the given secret is not valid base64"
    )
    # The rejected secret must not leak into the message (it ends up in logs).
    if len(secret) > 6:
        assert secret not in str(info.value)


def test_standard_secret_without_padding_is_accepted_like_standardwebhooks():
    unpadded = "whsec_" + base64.b64encode(b"0123456789").decode().rstrip("=")
    signer = make_signer("standard", unpadded)
    headers = signer.headers(BODY, msg_id=MSG_ID, timestamp=int(time.time()), event_type=EVENT)
    standardwebhooks.Webhook(unpadded).verify(BODY, headers)


def test_signer_constructed_directly_is_validated_too():
    with pytest.raises(SigningError):
        Signer("stripe", "")
    with pytest.raises(SigningError):
        Signer("bogus", "x")


@pytest.mark.parametrize("scheme", SCHEMES)
def test_repr_hides_secret(scheme):
    secret = "whsec_c2VjcmV0LXNlY3JldC1zZWNyZXQ=" if scheme != "none" else "hidden-value"
    signer = make_signer(scheme, secret)
    assert secret not in repr(signer)
    assert "c2VjcmV0" not in repr(signer)
    assert scheme in repr(signer)


def test_signers_compare_by_scheme_and_secret():
    assert make_signer("github", "a") == make_signer("github", "a")
    assert make_signer("github", "a") != make_signer("github", "b")
    assert make_signer("github", "a") != make_signer("shopify", "a")
    assert len({make_signer("github", "a"), make_signer("github", "a")}) == 1


def test_signer_is_frozen():
    signer = make_signer("github", "a")
    with pytest.raises(AttributeError):
        signer.secret = "b"  # type: ignore[misc]


@pytest.mark.parametrize("scheme", SCHEMES)
def test_generate_secret_is_reproducible_and_usable(scheme):
    a = generate_secret(scheme, random.Random(42))
    assert a == generate_secret(scheme, random.Random(42))
    assert a != generate_secret(scheme, random.Random(43))
    make_signer(scheme, a)


def test_generate_secret_forms():
    rng = random.Random(0)
    std = generate_secret("standard", rng)
    assert std.startswith("whsec_")
    assert len(base64.b64decode(std.removeprefix("whsec_"), validate=True)) == 24
    standardwebhooks.Webhook(std)  # the reference library accepts it as a key
    stripe_secret = generate_secret("stripe", rng)
    assert stripe_secret.startswith("whsec_")
    tail = stripe_secret.removeprefix("whsec_")
    assert len(tail) == 32 and tail.isascii() and tail.isalnum()
    for scheme in ("voucherify", "github", "shopify", "none"):
        value = generate_secret(scheme, rng)
        assert len(value) == 32
        int(value, 16)
        assert value == value.lower()
    with pytest.raises(SigningError):
        generate_secret("bogus", rng)


@pytest.mark.parametrize(
    ("scheme", "expected"),
    [
        ("standard", MSG_ID),
        ("github", MSG_ID),
        ("shopify", MSG_ID),
        ("voucherify", None),
        ("stripe", None),
        ("none", None),
    ],
)
def test_idempotency_key(scheme, expected):
    _, headers = _sign(scheme)
    assert idempotency_key(scheme, headers) == expected
    assert idempotency_key(scheme, {k.upper(): v for k, v in headers.items()}) == expected
    assert idempotency_key(scheme, {}) is None


def test_signature_header_names():
    assert signature_header_names("voucherify") == ("x-voucherify-signature",)
    assert signature_header_names("standard") == ("webhook-signature",)
    assert signature_header_names("stripe") == ("Stripe-Signature",)
    assert signature_header_names("github") == ("X-Hub-Signature-256",)
    assert signature_header_names("shopify") == ("X-Shopify-Hmac-Sha256",)
    assert signature_header_names("none") == ()
    with pytest.raises(SigningError):
        signature_header_names("bogus")


def test_verdict_values_are_strings():
    assert [v.value for v in Verdict] == ["valid", "invalid", "missing", "stale", "unsigned"]
    assert Verdict.VALID == "valid"


def test_headers_sign_the_exact_bytes():
    # Same JSON value, different bytes: signatures must differ (no re-serialisation).
    signer = make_signer("voucherify", "k")
    a = signer.headers(b'{"a":1}', msg_id="m", timestamp=TS, event_type="e")
    b = signer.headers(b'{"a": 1}', msg_id="m", timestamp=TS, event_type="e")
    assert a != b

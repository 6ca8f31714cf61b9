"""The audit against the project's own receiver: strict, it passes every case that applies
to its scheme; plain (200 to everything), it fails exactly the security cases and
not-json. Plus the audit's own promises: every case reported, seeds repeat bytes."""

from __future__ import annotations

import random

import orjson
import pytest

from simulator import Behaviour, audit
from simulator.audit.cases import NAMES, SECURITY
from simulator.audit.config import AuditConfig
from simulator.errors import DeliveryError
from simulator.pytest_plugin import default_secret

# The cases that cannot apply to a scheme, and why they are skipped.
SKIPPED = {
    "voucherify": {"stale-timestamp", "future-timestamp", "rotated-keys"},
    "standard": set(),
    "stripe": {"future-timestamp"},
    "github": {"stale-timestamp", "future-timestamp", "rotated-keys"},
    "shopify": {"stale-timestamp", "future-timestamp", "rotated-keys"},
    "none": set(SECURITY) | {"rotated-keys"},
}
SCHEMES = sorted(SKIPPED)


def _run(receiver, scheme: str, **options):
    secret = None if scheme == "none" else default_secret(scheme)
    return audit(receiver.url, sign=scheme, secret=secret, environ={}, **options)


def _by_result(result) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {"pass": set(), "fail": set(), "skip": set()}
    for case in result.cases:
        out[case.result].add(case.name)
    return out


@pytest.mark.parametrize(
    "webhook_receiver",
    [{"scheme": s, "behaviour": Behaviour(strict=True)} for s in SCHEMES],
    ids=SCHEMES,
    indirect=True,
)
def test_the_strict_receiver_passes_every_case_that_applies(webhook_receiver):
    scheme = webhook_receiver.scheme
    result = _run(webhook_receiver, scheme, seed=3)

    assert [case.name for case in result.cases] == list(NAMES)
    found = _by_result(result)
    assert found["fail"] == set(), result.failures()
    assert found["skip"] == SKIPPED[scheme]
    assert result.ok and result.scheme == scheme and result.seed == 3
    for case in result.cases:
        assert case.reason if case.result == "skip" else not case.reason
    # What the receiver saw: every request the cases sent, and verdicts that agree.
    sent = sum(len(case.answers) for case in result.cases)
    seen = webhook_receiver.wait_for(sent)
    assert len(seen) == sent == len(webhook_receiver.requests)
    if scheme != "none":
        refused = {r.status for r in seen if r.signature != "valid"}
        assert refused == {401}


@pytest.mark.parametrize(
    "webhook_receiver",
    [{"scheme": s} for s in ("voucherify", "standard", "stripe")],
    ids=["voucherify", "standard", "stripe"],
    indirect=True,
)
def test_the_plain_receiver_fails_the_security_cases_and_not_json(webhook_receiver):
    scheme = webhook_receiver.scheme
    result = _run(webhook_receiver, scheme)

    found = _by_result(result)
    assert found["fail"] == (set(SECURITY) - SKIPPED[scheme]) | {"not-json"}
    assert not result.ok
    wrong = result["wrong-secret"]
    assert wrong.got.startswith("200 (")
    assert wrong.reason.startswith(
        "accepted a request signed with another secret (200): compare the signature"
    )
    assert result["tampered-body"].reason.endswith(
        "your code must verify the signature over the raw bytes before parsing"
    )
    assert result.failures().splitlines()[0] == (
        f"{len(found['fail'])} audit cases failed at {webhook_receiver.url}"
    )


@pytest.mark.parametrize(
    "webhook_receiver",
    [{"scheme": "standard", "behaviour": Behaviour(status=500)}],
    indirect=True,
)
def test_a_receiver_that_answers_500_fails_every_case_with_the_reason(webhook_receiver):
    result = _run(webhook_receiver, "standard", skip=["slow-answer"])

    assert {c.result for c in result.cases} == {"fail"}
    assert result["wrong-secret"].reason == (
        "answered 500 to a request signed with another secret: refuse it with a 4xx; "
        "a 5xx asks the sender to retry it"
    )
    assert result["unknown-event"].reason.startswith(
        "answered 500 to an event of a type it does not handle: your handler failed on it;"
    )
    # out-of-order accepts a retryable 503, not a 500.
    assert result["out-of-order"].reason.startswith("answered 500 to customer.order.paid")


@pytest.mark.parametrize(
    "webhook_receiver",
    [{"scheme": "voucherify", "behaviour": Behaviour(delay=(0.3, 0.3))}],
    indirect=True,
)
def test_a_hang_fails_its_case_with_the_timeout_and_slow_answer_fails(webhook_receiver):
    result = _run(webhook_receiver, "voucherify", only="valid,slow-answer", timeout="100ms")

    valid, slow = result.cases
    assert valid.result == slow.result == "fail"
    assert valid.got == f"timeout ({valid.answers[0].seconds * 1000:.0f} ms)"
    assert valid.reason.startswith("no answer within 100 ms to a correctly signed event")
    assert slow.got.startswith("p99 ") and slow.reason.endswith("(a queue)")


@pytest.mark.parametrize(
    "webhook_receiver",
    [{"scheme": "voucherify", "behaviour": Behaviour(drop_rate=1.0)}],
    indirect=True,
)
def test_a_reset_connection_fails_its_case_with_the_words_send_uses(webhook_receiver):
    result = _run(webhook_receiver, "voucherify", only=["valid", "duplicate"])

    assert [c.result for c in result.cases] == ["fail", "fail"]
    valid = result["valid"]
    assert valid.answers[0].status is None and valid.answers[0].error in ("reset", "other")
    assert valid.reason.startswith(valid.answers[0].detail + " on a correctly signed event")
    assert len(result["duplicate"].answers) == 1  # a case stops at its first failure


def test_only_and_skip_choose_cases_in_the_tables_order(webhook_receiver):
    result = _run(webhook_receiver, "voucherify", only=["duplicate,valid"], skip="duplicate")
    assert [c.name for c in result.cases] == ["valid"]


def test_slow_answer_alone_has_nothing_to_time_and_says_so(webhook_receiver):
    [slow] = _run(webhook_receiver, "voucherify", only="slow-answer").cases
    assert (slow.result, slow.reason) == (
        "skip",
        "no case was answered 2xx: there is nothing to time",
    )


def test_a_seed_repeats_the_bodies_each_case_sends(webhook_receiver):
    fixed = {"seed": 11, "now": "2024-03-12T14:41:49Z"}
    first = _run(webhook_receiver, "voucherify", only="valid,tampered-body,out-of-order", **fixed)
    bodies = [r.body for r in webhook_receiver.wait_for(4)]
    # A case sends the same bytes whichever other cases run with it.
    _run(webhook_receiver, "voucherify", only="out-of-order", **fixed)
    again = [r.body for r in webhook_receiver.wait_for(6)[4:]]
    assert not first.ok and again == bodies[2:4]
    paid, created = (orjson.loads(body) for body in again)
    assert (paid["event"]["type"], created["event"]["type"]) == (
        "customer.order.paid", "customer.order.created")  # fmt: skip
    assert paid["data"]["order"]["id"] == created["data"]["order"]["id"]
    assert paid["data"]["order"]["status"] == "PAID" and paid["id"] != created["id"]


def test_an_unreachable_receiver_is_one_error_before_any_case():
    with pytest.raises(DeliveryError, match=r"cannot connect to http://127\.0\.0\.1:9/"):
        audit("http://127.0.0.1:9/", secret="s", environ={})


def test_the_package_and_the_function_both_run_an_audit(webhook_receiver):
    import simulator.audit.cases

    result = simulator.audit(webhook_receiver.url, secret=default_secret("voucherify"),
                             only="valid", environ={})  # fmt: skip
    assert result.ok
    config = AuditConfig.from_options(webhook_receiver.url, secret="s", only="valid")
    assert config.resolve(random.Random(1)).generation.seed is not None

"""The pytest plugin: its fixtures in a user's test run, and the README example kept runnable."""

from __future__ import annotations

import json
import time
from importlib.metadata import entry_points

from conftest import ROOT

from simulator.pytest_plugin import SECRET, WebhookFactory, default_secret
from simulator.signing import SCHEMES, make_signer

pytest_plugins = ["pytester"]

EXAMPLE = ROOT / "examples" / "test_stdlib_receiver.py"


def _plugin_args() -> list[str]:
    """Load the plugin by hand unless the installed package's entry point already does."""
    installed = any(ep.name == "webhook_simulator" for ep in entry_points(group="pytest11"))
    return [] if installed else ["-p", "simulator.pytest_plugin"]


def test_the_readme_example_passes_as_a_user_would_run_it(pytester):
    pytester.makepyfile(test_stdlib_receiver=EXAMPLE.read_text(encoding="utf-8"))

    result = pytester.runpytest(*_plugin_args())

    result.assert_outcomes(passed=5)


def test_the_fixtures_in_a_test_file(pytester):
    pytester.makepyfile(
        """
        import pytest
        import requests

        from simulator.receiving.receiver import Behaviour

        def test_a_factory_webhook_is_valid_at_the_receiver(webhook_factory, webhook_receiver):
            hook = webhook_factory("customer.order.paid", scenario="promotion")
            answer = requests.post(webhook_receiver.url, data=hook.body, headers=hook.headers)
            assert answer.headers["X-Webhook-Sim-Verdict"] == (
                "signature=valid; duplicate=no; schema=ok"
            )
            [seen] = webhook_receiver.wait_for(1)
            assert (seen.event_type, seen.event_id) == ("customer.order.paid", hook.id)

        @pytest.mark.parametrize("webhook_receiver_options", [{"scheme": "stripe"}])
        def test_options_by_parametrizing_the_options_fixture(webhook_factory, webhook_receiver):
            hook = webhook_factory(scheme="stripe")
            requests.post(webhook_receiver.url, data=hook.body, headers=hook.headers)
            assert webhook_receiver.wait_for(1)[0].signature == "valid"

        @pytest.mark.parametrize(
            "webhook_receiver", [{"behaviour": Behaviour(fail_rate=1)}], indirect=True
        )
        def test_options_by_indirect_parametrization(webhook_factory, webhook_receiver):
            hook = webhook_factory()
            answer = requests.post(webhook_receiver.url, data=hook.body, headers=hook.headers)
            assert answer.status_code == 503
        """
    )

    result = pytester.runpytest(*_plugin_args())

    result.assert_outcomes(passed=3)


def test_the_factory_is_seeded_and_each_call_is_a_new_event():
    first, second = WebhookFactory(), WebhookFactory()
    a1, a2 = first("customer.order.created"), first("customer.order.created")
    b1 = second("customer.order.created")

    assert a1.body == b1.body
    assert a1.id == b1.id
    assert a2.id != a1.id
    assert a1.payload == json.loads(a1.body)
    assert a1.event == "customer.order.created"


def test_the_factory_applies_dotted_overrides_and_a_mapping():
    make = WebhookFactory()
    hook = make("customer.order.created", scenario="promotion", **{"order.amount": 5000})
    mapped = make(overrides={"order.metadata": {"channel": "pos"}})

    assert hook.payload["data"]["order"]["amount"] == 5000
    assert mapped.payload["data"]["order"]["metadata"] == {"channel": "pos"}


def test_the_factory_signs_for_the_scheme_and_secret():
    make = WebhookFactory()
    voucherify = make(secret="s3cr3t")
    github = make("customer.order.paid", scheme="github", secret="s3cr3t")
    stripe = make(scheme="stripe", timestamp=1_700_000_000)

    assert set(voucherify.headers) == {"Content-Type", "x-voucherify-signature"}
    assert voucherify.headers["Content-Type"] == "application/json"
    signer = make_signer("voucherify", "s3cr3t")
    assert signer.verify(voucherify.body, voucherify.headers, now=0) == "valid"
    assert github.headers["X-GitHub-Event"] == "customer.order.paid"
    assert github.headers["X-GitHub-Delivery"] == github.id
    assert stripe.headers["Stripe-Signature"].startswith("t=1700000000,v1=")


def test_the_default_secret_suits_every_scheme():
    make = WebhookFactory()
    assert default_secret("voucherify") == SECRET == "test-secret"
    for scheme in SCHEMES:
        hook = make(scheme=scheme)
        verdict = make_signer(scheme, default_secret(scheme)).verify(
            hook.body, hook.headers, now=int(time.time())
        )
        assert verdict == ("unsigned" if scheme == "none" else "valid"), scheme

"""pytest fixtures: `webhook_factory` makes signed webhooks, `webhook_receiver` receives them,
`webhook_audit` checks a receiver of yours with the audit's cases.

Active when the package is installed (entry point `webhook_simulator`); otherwise run
pytest with `-p simulator.pytest_plugin`. Example:

    def test_my_endpoint_accepts_orders(webhook_factory, client):
        hook = webhook_factory("customer.order.created", **{"order.amount": 5000})
        assert client.post("/webhooks", content=hook.body, headers=hook.headers).is_success

    def test_my_sender_signs(webhook_receiver):
        my_app.send_order_webhook(url=webhook_receiver.url, secret="test-secret")
        [request] = webhook_receiver.wait_for(1)
        assert request.signature == "valid"

    def test_my_endpoint_is_safe(my_app_url, webhook_audit):
        webhook_audit(my_app_url, sign="standard")  # fails naming each case that failed

To change the receiver, override the `webhook_receiver_options` fixture (a dict of
Receiver keywords), or parametrize it: `@pytest.mark.parametrize(
"webhook_receiver_options", [{"scheme": "stripe", "behaviour": Behaviour(fail_rate=1)}])`.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest

from simulator.audit.api import audit
from simulator.audit.results import AuditResult
from simulator.generation.payloads import PayloadFactory
from simulator.receiving.receiver import Receiver
from simulator.signing import make_signer

SEED = 1234
NOW = "2024-03-12T14:41:49.128Z"
SECRET = "test-secret"
_FACTORIES: dict[str, PayloadFactory] = {}


def default_secret(scheme: str) -> str:
    """The secret both fixtures use unless told otherwise; base64 where the scheme needs it."""
    if scheme == "standard":
        return "whsec_" + base64.b64encode(SECRET.encode()).decode()
    return SECRET


@dataclass(frozen=True)
class Webhook:
    """One generated, signed webhook: POST `body` with `headers`, unchanged."""

    event: str
    id: str
    body: bytes
    headers: dict[str, str]
    payload: dict = field(repr=False)


class WebhookFactory:
    """Makes webhooks: seeded bodies (the same test gets the same bytes), freshly signed.

    Signature timestamps are the current time so that a receiver does not find them
    stale; pass `timestamp=` to fix them too.
    """

    def __init__(self, seed: int = SEED, now: str = NOW) -> None:
        self.seed = seed
        self.now = now
        self._index = 0

    def __call__(
        self,
        event: str = "customer.order.created",
        *,
        scenario: str = "mixed",
        envelope: str | None = None,
        scheme: str = "voucherify",
        secret: str | None = None,
        timestamp: int | None = None,
        overrides: Mapping[str, Any] | None = None,
        **dotted: Any,
    ) -> Webhook:
        """The next webhook; `**{"order.amount": 5000}` sets fields like `--set` does."""
        changes = {**(overrides or {}), **dotted}
        payload = self._factory(event, scenario, envelope, changes).build(self._index)
        self._index += 1
        signer = make_signer(scheme, default_secret(scheme) if secret is None else secret)
        signed = signer.headers(
            payload.body,
            msg_id=payload.id,
            timestamp=int(time.time()) if timestamp is None else timestamp,
            event_type=payload.event,
        )
        headers = {"Content-Type": "application/json", **signed}
        return Webhook(payload.event, payload.id, payload.body, headers, payload.data)

    def _factory(
        self, event: str, scenario: str, envelope: str | None, changes: dict[str, Any]
    ) -> PayloadFactory:
        # Building a factory takes tens of milliseconds; a payload depends only on the
        # factory's arguments and the index, so factories are shared between tests.
        key = repr((self.seed, self.now, event, scenario, envelope, list(changes.items())))
        factory = _FACTORIES.get(key)
        if factory is None:
            if len(_FACTORIES) >= 64:
                _FACTORIES.clear()
            factory = _FACTORIES[key] = PayloadFactory(
                event,
                seed=self.seed,
                now=self.now,
                scenario=scenario,
                envelope=envelope,
                overrides=changes,
            )
        return factory


@pytest.fixture
def webhook_factory() -> WebhookFactory:
    """Call it to get a signed webhook: `webhook_factory("customer.order.paid", secret=...)`."""
    return WebhookFactory()


@pytest.fixture
def webhook_receiver_options() -> dict[str, Any]:
    """Receiver keywords for `webhook_receiver`; override this fixture to change them."""
    return {}


@pytest.fixture
def webhook_receiver(
    request: pytest.FixtureRequest, webhook_receiver_options: dict[str, Any]
) -> Iterator[Receiver]:
    """A running Receiver on 127.0.0.1 (free port): voucherify, secret "test-secret".

    Options come from `webhook_receiver_options`, then from an indirect parameter.
    """
    options = {**webhook_receiver_options, **getattr(request, "param", {})}
    options.setdefault("scheme", "voucherify")
    options.setdefault("secret", default_secret(options["scheme"]))
    with Receiver(**options) as receiver:
        yield receiver


@pytest.fixture
def webhook_audit() -> Callable[..., AuditResult]:
    """Audit your receiver: `webhook_audit(url)` sends every audit case to `url` and fails
    the test with each failed case's reason; it returns the AuditResult. Keywords are
    simulator.audit()'s (sign, secret, only, skip, timeout…); the secret defaults to the
    one the other fixtures use."""

    def run(url: str, *, sign: str = "voucherify", secret: str | None = None, **options: Any):
        secret = default_secret(sign) if secret is None else secret
        result = audit(url, sign=sign, secret=secret, environ={}, **options)
        if not result.ok:
            pytest.fail(result.failures(), pytrace=False)
        return result

    return run

"""webhook-simulator's events as a Locust user: `from simulator.locust import WebhookUser`.

Needs the `locust` extra (`pip install 'webhook-simulator[locust]'`); see
simulator/integrations/locust.py and the README's "Beyond one machine".
"""

from __future__ import annotations

try:
    from simulator.integrations.locust import WebhookUser
except ModuleNotFoundError as exc:  # pragma: no cover - depends on what is installed
    if exc.name not in ("locust", "gevent", "geventhttpclient"):
        raise
    raise ModuleNotFoundError(
        "simulator.locust needs Locust: pip install 'webhook-simulator[locust]'", name=exc.name
    ) from None

__all__ = ["WebhookUser"]

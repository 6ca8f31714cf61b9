"""One user of each signing scheme, each to its own receiver: $HOST_<SCHEME> is the URL
and $SECRET_<SCHEME> the secret."""

import os

from locust import constant_throughput

from simulator.locust import WebhookUser


def user(scheme: str) -> type:
    attributes = {
        "sign": scheme,
        "secret_env": f"SECRET_{scheme.upper()}",
        "host": os.environ[f"HOST_{scheme.upper()}"],
        "events": ["customer.order.created", "customer.order.canceled"],
        "fixed_count": 1,
        # Paced, so that the user waits between events when the run stops: Locust ends a
        # waiting user at once, and a user with no wait may be cut short mid-request.
        "wait_time": constant_throughput(20),
        "abstract": False,
    }
    return type(f"Signs{scheme.title()}", (WebhookUser,), attributes)


Voucherify, Standard, Stripe, Github, Shopify = (
    user(scheme) for scheme in ("voucherify", "standard", "stripe", "github", "shopify")
)

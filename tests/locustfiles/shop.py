"""The issue's locustfile, paced, with a shape that ends cleanly: users run for RUN_S
seconds, then none for DRAIN_S seconds, so that every request is answered and every
worker has reported its stats to the master before the master quits."""

import os

from locust import LoadTestShape, constant_throughput

from simulator.locust import WebhookUser

USERS = int(os.environ.get("SHOP_USERS", "4"))
RUN_S = float(os.environ.get("SHOP_RUN_S", "6"))
DRAIN_S = float(os.environ.get("SHOP_DRAIN_S", "4"))


class Shop(WebhookUser):
    events = ["customer.order.created", "customer.order.paid"]  # noqa: RUF012 (the README's)
    sign = "voucherify"  # secret from $WEBHOOK_SECRET
    wait_time = constant_throughput(float(os.environ.get("SHOP_RATE", "20")))


class RunThenDrain(LoadTestShape):
    def tick(self):
        elapsed = self.get_run_time()
        if elapsed < RUN_S:
            return USERS, USERS
        if elapsed < RUN_S + DRAIN_S:
            return 0, USERS
        return None

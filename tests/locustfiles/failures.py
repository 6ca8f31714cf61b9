"""Deliveries that fail: to a receiver that refuses them all ($ANSWERED_HOST; one retry
each, at once), and to a port where nothing listens ($REFUSED_HOST)."""

import os

from locust import constant_throughput

from simulator.locust import WebhookUser


class Refused(WebhookUser):
    host = os.environ["REFUSED_HOST"]
    sign = "standard"
    fixed_count = 1
    wait_time = constant_throughput(20)


class Answered(WebhookUser):
    host = os.environ["ANSWERED_HOST"]
    sign = "standard"
    retries = 1
    retry_schedule = "none"
    fixed_count = 1
    wait_time = constant_throughput(20)

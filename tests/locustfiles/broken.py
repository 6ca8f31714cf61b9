"""A user class with an option that cannot be: $BROKEN_OPTION=$BROKEN_VALUE."""

import os

from simulator.locust import WebhookUser


class Broken(WebhookUser):
    host = "http://127.0.0.1:9/"


setattr(Broken, os.environ["BROKEN_OPTION"], os.environ["BROKEN_VALUE"])

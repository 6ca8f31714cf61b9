"""What a shop knows of a customer beyond the name: an address, and the hashed id that
Voucherify tracks the customer by in redemptions."""

from __future__ import annotations

import base64
import hashlib

from faker import Faker


def address(fake: Faker) -> dict:
    """A postal address in the locale's form: the Address object of the spec."""
    return {
        "city": fake.city(),
        "state": fake.administrative_unit(),
        "line_1": fake.street_address(),
        "line_2": None,
        "country": fake.current_country(),
        "postal_code": fake.postcode(),
    }


def tracking_id(key: bytes, source_id: str) -> str:
    """`track_` and a base64 digest, the shape of the official customer.* examples
    (track_8RFQINPxgc+pykybVOUEXQ==); keyed by the run's seed, so runs differ."""
    digest = hashlib.blake2b(source_id.encode(), digest_size=16, key=key)
    return "track_" + base64.b64encode(digest.digest()).decode()

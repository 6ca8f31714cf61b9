"""Who a customer is: a name with the email and shop-side source_id that belong to it,
an address, and the hashed id that Voucherify tracks the customer by in redemptions."""

from __future__ import annotations

import base64
import hashlib
import re
import unicodedata

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


# Letters that Unicode does not decompose into a Latin letter and a mark: without this,
# Michał's email would be micha.… and Geißler's geiler.
_FOLD = str.maketrans(
    {"ł": "l", "Ł": "L", "ß": "ss", "æ": "ae", "Æ": "Ae", "ø": "o", "Ø": "O", "đ": "d",
     "Đ": "D", "œ": "oe", "Œ": "Oe", "þ": "th", "Þ": "Th", "ı": "i"}
)  # fmt: skip


def _ascii(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text.translate(_FOLD)).encode("ascii", "ignore")
    return re.sub(r"[^a-z]", "", folded.decode().lower())


def _consonants(word: str, n: int) -> str:
    return re.sub("[aeiou]", "", word)[:n] or word[:n]


Person = tuple[str, str, str, str, str]  # first, last, their Latin readings, email domain


def person(fake: Faker) -> Person:
    """A name as Faker gives it, with what an email can be made of."""
    if fake.locales[0] == "ja_JP":
        # Kanji have no letters to fold: the romanized reading of the same name has.
        (first, _, first_latin), (last, _, last_latin) = (
            fake.first_name_pair(),
            fake.last_name_pair(),
        )
    else:
        first, last = fake.first_name(), fake.last_name()
        first_latin, last_latin = first, last
    return first, last, first_latin, last_latin, fake.free_email_domain()


def identity(person: Person, number: int, variant: int, japanese: bool) -> tuple[str, str, str]:
    """A name with an email and a shop-side source_id that plausibly belong to it.

    `number` is the customer's own (World.customer): it ends the email's local part
    and the source_id, and names are letters only, so two customers never share either,
    even when Faker gives them the same name (ja_JP has 51 x 50 of them).
    """
    first, last, first_latin, last_latin, domain = person
    name = f"{last} {first}" if japanese else f"{first} {last}"
    a, b = _ascii(first_latin), _ascii(last_latin)
    if a and b:
        local = (f"{a}.{b}", f"{a}_{b}", f"{a[0]}{b}", f"{a}{b[0]}")[variant % 4]
        # Like the docs' "jck-wbhk": the consonants of each name, a few of them.
        source_id = f"{_consonants(a, 3)}-{_consonants(b, 4)}-{number}"
    else:
        local, source_id = "customer", f"cust-{number}"
    return name, f"{local}{number}@{domain}", source_id

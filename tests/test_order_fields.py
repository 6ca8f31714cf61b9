"""customer.order.* carry the fields real payloads do: each line's source_id and
related_object, the redemption's whole copy of the order, the publication's customer
email. Checked over 10,000 payloads in four locales."""

from __future__ import annotations

from functools import cache

from conftest import NOW, ORDER_EVENTS

from simulator.generation.payloads import generate

LOCALES = ("en_US", "de_DE", "ja_JP", "pt_BR")
SHIPPING = "prod_5h1pp1ng"


@cache
def _runs() -> tuple[tuple[dict, ...], ...]:
    """One run of 2,500 payloads per locale."""
    return tuple(_run(locale) for locale in LOCALES)


def _run(locale: str) -> tuple[dict, ...]:
    payloads = generate(ORDER_EVENTS, count=2500, seed=15, now=NOW, locale=locale, envelope="none")
    return tuple(p.data for p in payloads)


def _sample() -> list[dict]:
    return [data for run in _runs() for data in run]


def test_the_sample_is_large() -> None:
    assert len(_sample()) >= 10_000


def test_every_line_names_what_it_sells_stably_across_the_run() -> None:
    lines = 0
    for run in _runs():
        handles: dict[str, set[str]] = {}
        for data in run:
            for item in data["order"]["items"]:
                if item["product_id"] == SHIPPING:
                    continue
                lines += 1
                sku = item.get("sku_id")
                assert item["related_object"] == ("sku" if sku else "product"), item
                handles.setdefault(sku or item["product_id"], set()).add(item["source_id"])
        # One handle per product or SKU in a run, and no two of them share one.
        assert all(len(found) == 1 for found in handles.values())
        assert len({next(iter(found)) for found in handles.values()}) == len(handles)
    assert lines > 15_000


def test_the_redemption_shows_the_whole_order() -> None:
    seen = 0
    for data in _sample():
        redemption = data["redemption"]
        if not redemption:
            continue
        seen += 1
        copy, order = redemption["order"], data["order"]
        assert copy["items"] == order["items"]
        assert copy["metadata"] == order["metadata"]
        assert copy["created_at"] == order["created_at"]
        for key in ("id", "status", "amount", "total_amount", "total_discount_amount",
                    "items_applied_discount_amount", "total_applied_discount_amount"):  # fmt: skip
            assert copy[key] == order[key], key
    assert seen > 2000


def test_a_publication_shows_the_customer_email() -> None:
    published = with_email = 0
    for data in _sample():
        if "publication" not in data:
            continue
        published += 1
        email = data["customer"]["email"]
        shown = data["publication"]["customer"]
        # As the docs' envelope has it; a customer without one shows none (official data).
        assert shown.get("email") == email and ("email" in shown) == (email is not None)
        with_email += email is not None
    assert published > 2000 and with_email > 1000

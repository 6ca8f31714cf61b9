"""The two pages in a real browser: headless Chromium, driven by Playwright.

The inspector page of a running receiver shows webhooks as they arrive, with the right
badges, opens one, filters, pauses and resends; the HTML report of a send run opens
from disk with data in every chart. Neither page may log a console error or fetch
anything but itself. Screenshots of both are saved to $BROWSER_ARTIFACTS (default
artifacts/browser/). These tests skip, saying why, where Chromium or Playwright is
missing, unless $REQUIRE_BROWSER is set (CI sets it): then they fail.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
from conftest import NOW, ROOT, SECRET

from simulator import Behaviour, ReceivedRequest, Receiver, make_signer, send
from simulator.generation.payloads import PayloadFactory

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(os.environ.get("BROWSER_ARTIFACTS", ROOT / "artifacts" / "browser"))
STANDARD_SECRET = "whsec_c2VjcmV0LWZvci10ZXN0cw=="  # base64 of "secret-for-tests"
SEED = 34  # with --fail-rate 0.3: requests 10, 12 and 13 get an injected failure
TIMEOUT_MS = 10_000


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    missing = None
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing = "needs Playwright: pip install '.[browser]'"
    if missing is None and not os.access(CHROMIUM, os.X_OK):
        missing = f"needs Chromium at {CHROMIUM}: apt-get install chromium"
    if missing is not None:
        if os.environ.get("REQUIRE_BROWSER"):
            pytest.fail(missing)
        pytest.skip(missing)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@dataclass
class Watched:
    """A page, with every console error, uncaught exception and request it made."""

    page: Any
    errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)


@pytest.fixture
def watched(browser: Any) -> Iterator[Watched]:
    context = browser.new_context(viewport={"width": 1440, "height": 900}, accept_downloads=True)
    context.set_default_timeout(TIMEOUT_MS)
    watched = Watched(context.new_page())
    watched.page.on(
        "console", lambda m: watched.errors.append(m.text) if m.type == "error" else None
    )
    watched.page.on("pageerror", lambda exc: watched.errors.append(str(exc)))
    watched.page.on("request", lambda r: watched.requests.append(r.url))
    yield watched
    context.close()


def _screenshot(page: Any, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / name
    page.screenshot(path=str(path), full_page=name.startswith("report"))
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    return path


# -- the inspector ---------------------------------------------------------------------


def _post(receiver: Receiver, body: bytes, headers: dict[str, str]) -> int:
    answer = requests.post(receiver.url, data=body, headers=headers, timeout=5)
    return answer.status_code


def _standard(body: bytes, msg_id: str, *, ts: int | None = None, secret: str = "") -> dict:
    signer = make_signer("standard", secret or STANDARD_SECRET)
    ts = int(time.time()) if ts is None else ts
    headers = signer.headers(body, msg_id=msg_id, timestamp=ts, event_type="x")
    return {"Content-Type": "application/json", **headers}


def _send_every_verdict(receiver: Receiver) -> None:
    """13 requests: valid, duplicate, invalid, missing, stale, schema errors, not JSON,
    then valid ones, three of which get an injected failure (SEED)."""
    factory = PayloadFactory("customer.order.created", seed=1, now=NOW)
    broken = PayloadFactory(
        "customer.order.created", seed=1, now=NOW, overrides={"order.amount": "lots"}
    ).build(4)
    payloads = [factory.build(i) for i in range(12)]
    wrong = "whsec_" + "d3Jvbmctc2VjcmV0LWtleQ=="
    sends = [
        (payloads[0].body, _standard(payloads[0].body, payloads[0].id)),
        (payloads[0].body, _standard(payloads[0].body, payloads[0].id)),  # duplicate
        (payloads[1].body, _standard(payloads[1].body, payloads[1].id, secret=wrong)),
        (payloads[2].body, {"Content-Type": "application/json"}),  # missing
        (payloads[3].body, _standard(payloads[3].body, payloads[3].id, ts=1_700_000_000)),
        (broken.body, _standard(broken.body, broken.id)),  # schema errors
        (b"not json at all", _standard(b"not json at all", "msg_not_json")),
    ]
    sends += [(p.body, _standard(p.body, p.id)) for p in payloads[5:11]]
    for body, headers in sends:
        _post(receiver, body, headers)


def _expected_badges(request: ReceivedRequest) -> list[str]:
    badges = [f"signature-{request.signature}"]
    if request.duplicate:
        badges.append("duplicate")
    if request.not_json:
        badges.append("not-json")
    elif not request.schema_checked:
        badges.append("schema-skipped")
    else:
        badges.append("schema-errors" if request.schema_problems else "schema-ok")
    if request.fault:
        badges.append(f"fault-{request.fault}")
    return badges


def _shown(page: Any) -> list[int]:
    """The numbers of the rows the table shows, top to bottom."""
    return page.locator("#rows tr").evaluate_all("rows => rows.map(r => +r.dataset.number)")


def _settle(page: Any, numbers: list[int]) -> None:
    """Wait until the table shows exactly `numbers`, top to bottom."""
    page.wait_for_function(
        "want => JSON.stringify(Array.from(document.querySelectorAll('#rows tr'), "
        "r => +r.dataset.number)) === JSON.stringify(want)",
        arg=numbers,
    )


def test_the_inspector_shows_each_request_live_opens_filters_pauses_and_resends(watched):
    page = watched.page
    behaviour = Behaviour(fail_rate=0.3, seed=SEED)
    with (
        Receiver(scheme="standard", secret=STANDARD_SECRET, behaviour=behaviour) as receiver,
        Receiver(scheme="standard", secret=STANDARD_SECRET, keep_requests=True) as target,
    ):
        page.goto(receiver.page_url)
        page.wait_for_selector("#live.on")
        assert page.locator("#rows tr").count() == 0

        # Live: the rows arrive without a reload, newest first, with the receiver's verdicts.
        _send_every_verdict(receiver)
        seen = receiver.wait_for(13)
        _settle(page, list(range(13, 0, -1)))
        for number, request in enumerate(seen, 1):
            row = page.locator(f'#rows tr[data-number="{number}"]')
            badges = row.locator("[data-badge]").evaluate_all("b => b.map(e => e.dataset.badge)")
            assert badges == _expected_badges(request), number
            status = "dropped" if request.status is None else str(request.status)
            assert row.locator("td.status").inner_text() == status
        kinds = {badge for request in seen for badge in _expected_badges(request)}
        assert kinds >= {
            "signature-valid", "signature-invalid", "signature-missing", "signature-stale",
            "duplicate", "schema-errors", "schema-ok", "not-json", "fault-fail",
        }  # fmt: skip
        assert page.locator("#chart rect.bar").count() >= 1

        # Open the request with schema errors: its problem is marked at its JSON path.
        page.click('#rows tr[data-number="6"]')
        page.wait_for_selector("#detail .problems li")
        problem = page.locator("#detail .problems li").first.inner_text()
        assert problem.startswith("$.data.order.amount ")
        marked = page.locator('#tree .error[data-path=\'["data","order","amount"]\']')
        assert marked.count() == 1 and marked.is_visible()
        with page.expect_download() as download:
            page.click("#download")
        assert Path(download.value.path()).read_bytes() == seen[5].body
        _screenshot(page, "inspector.png")

        # Filters: by verdict, by event type, by id.
        page.select_option("#verdict", "schema")
        _settle(page, [6])
        page.select_option("#verdict", "fault")
        _settle(page, [n for n, r in enumerate(seen, 1) if r.fault][::-1])
        page.select_option("#verdict", "")
        page.select_option("#event-type", "customer.order.created")
        _settle(page, [n for n in range(13, 0, -1) if n != 7])  # 7 is not JSON
        page.select_option("#event-type", "")
        page.fill("#search", seen[0].event_id or "")
        _settle(page, [2, 1])

        # Pause holds new rows back, and Resume shows them.
        page.fill("#search", "")
        page.click("#pause")
        page.wait_for_selector("#live.paused")
        payload = PayloadFactory("customer.order.paid", seed=2, now=NOW).build(0)
        _post(receiver, payload.body, _standard(payload.body, payload.id))
        receiver.wait_for(14)
        page.wait_for_function("document.getElementById('counts').textContent.includes('1 new')")
        assert _shown(page)[0] == 13
        page.click("#pause")
        _settle(page, list(range(14, 0, -1)))

        # Resend the first request, byte for byte, to another receiver.
        page.click('#rows tr[data-number="1"]')
        page.wait_for_selector("#resend-url")
        page.fill("#resend-url", target.url)
        page.click("#resend")
        page.wait_for_selector("#resend-result.ok")
        assert re.match(
            r"200 OK from http://127\.0\.0\.1:\d+/ in ", page.inner_text("#resend-result")
        )
        [resent] = target.wait_for(1)
        assert resent.body == seen[0].body and resent.signature == "valid"

    assert watched.errors == []
    origin = receiver.page_url
    assert [url for url in watched.requests if not url.startswith(origin)] == []


# -- the HTML report ------------------------------------------------------------------


def test_the_html_report_opens_from_disk_with_data_in_every_chart(watched, tmp_path):
    page = watched.page
    report = tmp_path / "report.html"
    behaviour = Behaviour(fail_rate=0.2, drop_rate=0.03, delay=(0.001, 0.01), seed=3)
    with Receiver(secret=SECRET, behaviour=behaviour) as receiver:
        options = {
            "url": receiver.url,
            "secret": SECRET,
            "count": 300,
            "rate": "100/s",
            "retries": 2,
            "retry_time_scale": 0.01,
            "thresholds": ["p99<60s", "retries<1"],
            "dead_letter": str(tmp_path / "dead.ndjson"),
            "html": str(report),
            "signals": False,
        }
        # Playwright's own event loop holds this thread: the run gets one of its own.
        with ThreadPoolExecutor(1) as pool:
            result = pool.submit(send, **options).result()
    assert result.stats.retries and result.stats.error_kinds  # every chart has something

    page.goto(report.as_uri())
    charts = page.locator("figure.chart")
    names = charts.evaluate_all("cs => cs.map(c => c.dataset.chart)")
    assert names == ["rate", "latency", "percentiles", "statuses", "errors", "retries"]
    for i, name in enumerate(names):
        chart = charts.nth(i)
        assert int(chart.get_attribute("data-points")) > 0, name
        shapes = chart.locator("polyline, polygon").evaluate_all(
            "ss => ss.map(s => s.getAttribute('points').trim().split(/\\s+/).length)"
        )
        assert shapes and max(shapes) >= 2, name
        assert chart.locator("svg").bounding_box()["height"] > 100, name
    assert page.locator("p.empty").count() == 0
    assert page.locator("td.fail").count() == 1  # retries<1 failed, p99<60s held
    _screenshot(page, "report.png")

    assert watched.errors == []
    assert watched.requests == [report.as_uri()]
    assert SECRET not in report.read_text()

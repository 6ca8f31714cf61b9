"""`send --html` and `replay --html`: one self-contained file from the run's document.
(tests/test_browser.py opens one in Chromium.)"""

from __future__ import annotations

import re

from conftest import NOW

from simulator import Behaviour, Receiver
from simulator.reports.html import html_report
from simulator.reports.stats import RunStats
from simulator.reports.summary import summarize

SECRET = "html-report-secret"
CHARTS = re.compile(r'<figure class="chart" data-chart="(\w+)" data-points="(\d+)"')


def _self_contained(text: str) -> None:
    """Nothing in the page can fetch: no script, no link, no source, no CSS import."""
    assert text.startswith("<!doctype html>")
    for fetches in ("<script", "<link", "<img", "<iframe", "src=", "href=", "url(", "@import"):
        assert fetches not in text, fetches


def test_send_html_writes_one_self_contained_file(invoke, tmp_path):
    report = tmp_path / "report.html"
    with Receiver(secret=SECRET) as receiver:
        result = invoke(
            "send", "--url", receiver.url, "--secret", SECRET, "--count", "40",
            "--rate", "100/s", "-H", f"X-Token: {SECRET}", "--threshold", "p99<5s",
            "--html", str(report), "--seed", "3", "--now", NOW,
        )  # fmt: skip
    assert result.code == 0, result.out + result.err
    text = report.read_text()
    _self_contained(text)
    charts = dict(CHARTS.findall(text))
    assert list(charts) == ["rate", "latency", "percentiles", "statuses"]
    assert all(int(points) > 0 for points in charts.values())
    assert "No attempt failed." in text and "No attempt was retried." in text
    assert SECRET not in text and "X-Token: [redacted]" in text
    assert "<title>webhook-sim send</title>" in text
    assert '<td class="pass">pass</td>' in text and "p99&lt;5s" in text
    assert receiver.url in text


def test_replay_html_and_its_failures_over_time(invoke, tmp_path):
    events = tmp_path / "events.ndjson"
    generated = invoke("generate", "-n", "30", "--seed", "4", "--now", NOW)
    events.write_text(generated.out)
    report = tmp_path / "replay.html"
    behaviour = Behaviour(fail_rate=0.5, seed=2)
    with Receiver(secret=SECRET, behaviour=behaviour) as receiver:
        result = invoke(
            "replay", str(events), "--url", receiver.url, "--secret", SECRET, "--rate",
            "200/s", "--retries", "1", "--retry-time-scale", "0.001", "--html", str(report),
            "--dead-letter", str(tmp_path / "dead.ndjson"),
        )  # fmt: skip
    assert result.code == 1, result.out + result.err  # some were never delivered
    text = report.read_text()
    _self_contained(text)
    assert "<title>webhook-sim replay</title>" in text
    charts = dict(CHARTS.findall(text))
    assert list(charts) == ["rate", "latency", "percentiles", "statuses", "errors", "retries"]
    assert "Events and dead letters" in text and "dead.ndjson" in text


def test_the_writer_draws_any_report_document_and_the_callers_own_tables():
    document = {
        **summarize(RunStats()),
        "title": "audit <of> a receiver",
        "sections": [
            {"title": "Cases", "columns": ["case", "result"], "rows": [["<b>bold</b>", "ok"]]}
        ],
    }
    text = html_report(document)
    _self_contained(text)
    assert "<title>audit &lt;of&gt; a receiver</title>" in text
    assert "<h2>Cases</h2>" in text and "&lt;b&gt;bold&lt;/b&gt;" in text
    assert CHARTS.findall(text) == []  # no run over time, no charts
    assert "Thresholds" not in text

"""`webhook-sim audit`: the table, exit codes, --list, --junit and --report."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

from simulator import Behaviour
from simulator.audit.cases import NAMES
from simulator.pytest_plugin import SECRET

STRICT = [{"behaviour": Behaviour(strict=True)}]


def test_list_prints_every_case_with_what_passes(invoke):
    result = invoke("audit", "--list")
    assert result.code == 0
    lines = result.out.splitlines()
    assert [line.split()[0] for line in lines] == list(NAMES)
    assert lines[1].startswith("wrong-secret ") and lines[1].endswith("pass: 4xx")


@pytest.mark.parametrize("webhook_receiver", STRICT, indirect=True)
def test_a_receiver_that_passes_exits_0_with_its_table(invoke, webhook_receiver, tmp_path):
    report, junit = tmp_path / "audit.json", tmp_path / "audit.xml"
    result = invoke("audit", "--url", webhook_receiver.url, "--secret", SECRET, "--seed", "4",
                    "--report", str(report), "--junit", str(junit))  # fmt: skip

    assert result.code == 0, result.out + result.err
    lines = result.out.splitlines()
    assert lines[0] == f"Audit of {webhook_receiver.url}  scheme voucherify  seed 4"
    assert lines[2].split() == ["case", "sent", "expected", "got", "result"]
    valid = [cell.strip() for cell in lines[3].split("  ") if cell.strip()]
    assert valid[:3] == ["valid", "a fresh, correctly signed event", "2xx within 10 s"]
    assert valid[3].startswith("200 (") and valid[4] == "PASS"
    assert lines[-1] == "15 cases: 12 passed, 0 failed, 3 skipped  OK"
    skipped = lines.index(next(line for line in lines if line.startswith("stale-timestamp")))
    assert lines[skipped + 1].strip() == (
        "--sign voucherify signs no timestamp: it has no replay protection"
    )

    document = json.loads(report.read_text())
    assert document["schema"] == "webhook-simulator/audit/v1"
    assert document["counts"] == {"pass": 12, "fail": 0, "skip": 3} and document["ok"]
    assert [case["name"] for case in document["cases"]] == list(NAMES)
    assert document["cases"][0]["answers"][0]["status"] == 200
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite.get("tests") == "15" and suite.get("failures") == "0"
    assert suite.get("skipped") == "3" and len(suite.findall("testcase/skipped")) == 3


def test_a_receiver_that_fails_exits_1_with_each_reason(invoke, webhook_receiver, tmp_path):
    junit = tmp_path / "audit.xml"
    result = invoke("audit", "--url", webhook_receiver.url, "--secret", SECRET,
                    "--only", "valid,wrong-secret", "--junit", str(junit))  # fmt: skip

    assert result.code == 1
    lines = result.out.splitlines()
    row = next(i for i, line in enumerate(lines) if line.startswith("wrong-secret"))
    assert lines[row].endswith("FAIL") and "200 (" in lines[row]
    assert lines[row + 1].strip().startswith("accepted a request signed with another secret")
    assert lines[-1] == "2 cases: 1 passed, 1 failed, 0 skipped  FAILED"
    [failure] = ET.parse(junit).getroot().iter("failure")
    assert failure.get("message").startswith("accepted a request signed with another secret")


def test_a_report_that_cannot_be_written_is_said_and_exits_1(invoke, webhook_receiver, tmp_path):
    folder = tmp_path / "gone"
    folder.mkdir()
    args = ("audit", "--url", webhook_receiver.url, "--secret", SECRET, "--only", "valid")
    result = invoke(*args, "--report", str(folder / "x" / "r.json"))
    assert result.code == 1 and "cannot write" in result.err


def test_audit_needs_a_url_unless_it_lists(invoke):
    result = invoke("audit", "--secret", "s")
    assert result.code == 2 and "Missing option '--url'" in result.err


def test_html_shows_every_case_with_its_result_and_reason(invoke, webhook_receiver, tmp_path):
    page = tmp_path / "audit.html"
    result = invoke("audit", "--url", webhook_receiver.url, "--secret", SECRET,
                    "--only", "valid,wrong-secret", "--html", str(page))  # fmt: skip
    assert result.code == 1
    html = page.read_text()
    assert html.startswith("<!doctype html>") and "<title>webhook-simulator audit</title>" in html
    assert '<p class="outcome fail">1 failed</p>' in html
    assert "<td>wrong-secret</td><td>FAIL</td>" in html
    assert "accepted a request signed with another secret" in html
    assert "<td>valid</td><td>PASS</td>" in html
    assert SECRET not in html and "src=" not in html and 'href="http' not in html


def test_an_html_page_that_cannot_be_written_is_a_usage_error(invoke, tmp_path):
    result = invoke("audit", "--url", "http://127.0.0.1:9/", "--secret", SECRET,
                    "--html", str(tmp_path / "no" / "such" / "a.html"))  # fmt: skip
    assert result.code == 2
    assert result.err.splitlines()[-1].startswith("Error: Invalid value for '--html': cannot write")

"""WebhookUser on real Locust processes: a master and two workers, every scheme, failures.

Locust runs in subprocesses only: importing it patches this process's standard library
for gevent. The receiver is `webhook-sim receive` as a process, or the project's own
Receiver in this one; every check compares what Locust counted, what the receiver saw
and what `webhook-sim merge` reports.
"""

from __future__ import annotations

import base64
import contextlib
import importlib.util
import json
import os
import re
import signal
import socket
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import ROOT, SECRET

from simulator import Behaviour, Receiver
from simulator.integrations.partition import split_index

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("locust") is None,
    reason="Locust is not installed: pip install '.[locust]' to run the Locust tests",
)

LOCUSTFILES = Path(__file__).parent / "locustfiles"
STANDARD_SECRET = "whsec_" + base64.b64encode(SECRET.encode()).decode()
LOCUST = [sys.executable, "-m", "locust"]


def _env(**extra: str) -> dict[str, str]:
    """This environment, with the worktree first on the path and no stray secret."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WEBHOOK_", "LOCUST_"))}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, (str(ROOT), env.get("PYTHONPATH"))))
    return {**env, **extra}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def _receive(tmp_path: Path, secret: str) -> Iterator[tuple[str, Path]]:
    """`webhook-sim receive` on a free loopback port: (its URL, its record file)."""
    record = tmp_path / "received.ndjson"
    command = [sys.executable, "-m", "simulator", "receive", "--port", "0", "--quiet",
               "--record", str(record)]  # fmt: skip
    process = subprocess.Popen(
        command, env=_env(WEBHOOK_SECRET=secret), stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        line = process.stdout.readline() if process.stdout else ""
        match = re.search(r"Listening on (\S+)", line)
        assert match, f"receiver did not start: {line}{process.communicate()[1]}"
        yield match.group(1), record
    finally:
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=20)
        assert process.returncode == 0, err


def _records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def _locust_counts(path: Path) -> dict[str, tuple[int, int]]:
    """{request name: (requests, failures)} from Locust's --json-file."""
    return {s["name"]: (s["num_requests"], s["num_failures"]) for s in json.loads(path.read_text())}


def _run(command: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def test_a_master_and_two_workers_send_unique_signed_events_and_merge_into_one_report(
    tmp_path, invoke
):
    env = _env(WEBHOOK_SECRET=SECRET, SHOP_USERS="4", SHOP_RUN_S="6", SHOP_DRAIN_S="4")
    locustfile = ["-f", str(LOCUSTFILES / "shop.py")]
    with _receive(tmp_path, SECRET) as (url, record):
        port = str(_free_port())
        worker = [*LOCUST, *locustfile, "--worker", "--master-port", port]
        workers = [
            subprocess.Popen(worker, cwd=tmp_path, env=env, stderr=subprocess.PIPE, text=True)
            for _ in range(2)
        ]
        try:
            master = _run(
                [*LOCUST, *locustfile, "--headless", "--master", "--expect-workers", "2",
                 "--expect-workers-max-wait", "60", "--master-bind-host", "127.0.0.1",
                 "--master-bind-port", port, "--host", url, "--webhook-log",
                 "--stop-timeout", "10",
                 "--json-file", str(tmp_path / "locust")],
                tmp_path, env,
            )  # fmt: skip
        finally:
            worker_logs = [w.communicate(timeout=60)[1] for w in workers]
    assert master.returncode == 0, master.stderr[-3000:]
    assert [w.returncode for w in workers] == [0, 0], worker_logs
    received = _records(record)
    assert len(received) > 50
    assert {r["signature"] for r in received} == {"valid"}
    ids = [r["event_id"] for r in received]
    assert len(set(ids)) == len(ids), Counter(ids).most_common(3)
    assert not any(r["duplicate"] for r in received)

    # Locust counted each attempt once, under its event type, and none failed.
    locust = _locust_counts(tmp_path / "locust.json")
    assert set(locust) == {"customer.order.created", "customer.order.paid"}
    assert sum(n for n, _ in locust.values()) == len(received)
    assert sum(f for _, f in locust.values()) == 0

    # Each worker numbered its events in its own partition of the index.
    parts = tmp_path / "webhook-sim-parts"
    logs = sorted(parts.glob("*.log.ndjson"))
    assert len(logs) == 2
    for worker, log in enumerate(logs):
        lines = _records(log)
        assert lines and {split_index(line["index"])[0] for line in lines} == {worker}

    merged = invoke(
        "merge", str(parts), "--report", str(tmp_path / "run.json"),
        "--junit", str(tmp_path / "run.xml"), "--log", str(tmp_path / "all.ndjson"),
    )  # fmt: skip
    assert merged.code == 0, merged.out + merged.err
    report = json.loads((tmp_path / "run.json").read_text())
    assert report["schema"] == "webhook-simulator/report/v1"
    counts = report["counts"]
    assert counts["attempts"] == counts["events"] == counts["delivered"] == len(received)
    assert report["status_codes"] == {"200": len(received)}
    assert {name: t["events"] for name, t in report["event_types"].items()} == {
        name: n for name, (n, _) in locust.items()
    }
    assert [w["worker"] for w in report["run"]["workers"]] == [0, 1]
    assert all(w["events"] > 0 for w in report["run"]["workers"])
    assert report["run"]["missing_workers"] == []
    assert report["latency_ms"]["service"]["p50"] > 0
    assert sorted(line["id"] for line in _records(tmp_path / "all.ndjson")) == sorted(ids)
    suite = ET.parse(tmp_path / "run.xml").getroot()
    assert (suite.get("tests"), suite.get("failures")) == ("2", "0")


def test_every_scheme_signs_what_its_receiver_verifies(tmp_path):
    schemes = ("voucherify", "standard", "stripe", "github", "shopify")
    with contextlib.ExitStack() as stack:
        receivers = {
            scheme: stack.enter_context(
                Receiver(port=0, scheme=scheme, secret=_secret(scheme), validate_schema=False)
            )
            for scheme in schemes
        }
        env = _env(
            **{f"HOST_{s.upper()}": r.url for s, r in receivers.items()},
            **{f"SECRET_{s.upper()}": _secret(s) for s in schemes},
        )
        run = _run(
            [*LOCUST, "-f", str(LOCUSTFILES / "schemes.py"), "--headless", "-u", "5", "-r", "5",
             "-t", "3s", "--stop-timeout", "5", "--json-file", str(tmp_path / "locust")],
            tmp_path, env,
        )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    locust = _locust_counts(tmp_path / "locust.json")
    ids = []
    for scheme, receiver in receivers.items():
        requests = receiver.requests
        assert requests, f"{scheme}: nothing received"
        assert {r.signature for r in requests} == {"valid"}, scheme
        ids.extend(r.event_id for r in requests)
    assert len(set(ids)) == len(ids)
    assert sum(n for n, _ in locust.values()) == len(ids)


def _secret(scheme: str) -> str:
    return STANDARD_SECRET if scheme == "standard" else SECRET


@pytest.mark.parametrize(
    "webhook_receiver", [{"scheme": "standard", "behaviour": Behaviour(status=503)}],
    indirect=True,
)  # fmt: skip
def test_failed_deliveries_are_locust_failures_in_our_words_and_dead_lettered(
    tmp_path, invoke, webhook_receiver
):
    env = _env(
        WEBHOOK_SECRET=STANDARD_SECRET,
        ANSWERED_HOST=webhook_receiver.url,
        REFUSED_HOST=f"http://127.0.0.1:{_free_port()}/",
    )
    run = _run(
        [*LOCUST, "-f", str(LOCUSTFILES / "failures.py"), "--headless", "-u", "2", "-r", "2",
         "-t", "3s", "--stop-timeout", "5", "--csv", str(tmp_path / "locust")],
        tmp_path, env,
    )  # fmt: skip
    assert run.returncode == 1, run.stderr[-3000:]  # Locust's own: some requests failed
    failures = (tmp_path / "locust_failures.csv").read_text()
    assert "status: 503" in failures
    assert "connect: connection refused" in failures

    merged = invoke(
        "merge", str(tmp_path / "webhook-sim-parts"), "--report", str(tmp_path / "run.json"),
        "--dead-letter", str(tmp_path / "dead.ndjson"),
    )  # fmt: skip
    assert merged.code == 1, merged.out + merged.err
    assert "not delivered" in merged.out
    report = json.loads((tmp_path / "run.json").read_text())
    counts = report["counts"]
    assert counts["delivered"] == 0 and counts["failed"] == counts["events"] > 0
    answered = webhook_receiver.requests
    assert report["status_codes"] == {"503": len(answered)}
    assert report["error_kinds"]["connect"] == counts["attempts"] - len(answered)
    dead = _records(tmp_path / "dead.ndjson")
    assert len(dead) == counts["events"]
    assert {d["last_error"] for d in dead} == {"status", "connect"}
    for line in dead:
        assert line["body"] and (line["last_status"] or line["last_error_detail"]), line
        if line["last_error"] == "status":
            # One retry each; a user stopped by the end of the run retries no more.
            assert (line["attempts"], line["reason"]) in ((2, "failed"), (1, "interrupted"))
    assert sum(line["reason"] == "interrupted" for line in dead) <= 2  # one per user


@pytest.mark.parametrize(
    ("option", "value", "says"),
    [
        ("retries", "many", "Broken: invalid value for retries: invalid retries 'many'"),
        ("sign", "hmac", "Broken: invalid value for sign: unknown signing scheme 'hmac'"),
        ("secret_env", "NOT_SET_ANYWHERE", "environment variable NOT_SET_ANYWHERE is not set"),
    ],
)
def test_a_user_class_that_cannot_send_stops_locust_in_one_line(tmp_path, option, value, says):
    env = _env(WEBHOOK_SECRET=SECRET, BROKEN_OPTION=option, BROKEN_VALUE=value)
    run = _run(
        [*LOCUST, "-f", str(LOCUSTFILES / "broken.py"), "--headless", "-u", "1", "-t", "2s"],
        tmp_path, env,
    )  # fmt: skip
    assert run.returncode == 2, run.stderr[-3000:]
    errors = [line for line in run.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and says in errors[0], run.stderr
    assert "Traceback" not in run.stderr

"""`webhook-sim send` and `replay`: exit codes, exact messages, files, and the secret kept out."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import orjson
import pytest
from conftest import DISTINCT_SECRET, NOW, ROOT, SECRET, closed_port, receiver_with

from simulator.cli import cli
from simulator.cli.summary import _rate, _reasons, progress_line
from simulator.generation.payloads import PayloadFactory
from simulator.receiving.receiver import Behaviour
from simulator.sending.engine import Progress


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the default dead-letter file lands here, not in the repo


def test_every_command_has_help_with_an_example(invoke):
    for name in ("send", "replay"):
        result = invoke(name, "--help")
        assert result.code == 0 and "Example:" in result.out and "--url" in result.out
    assert "send" in cli.commands and "replay" in cli.commands


def test_help_gives_the_exit_codes_and_their_precedence(invoke):
    result = invoke("send", "--help")
    assert (
        "Exit: 0 all delivered, 1 some not (or --log/--dead-letter could not be written: "
        "that wins over all), 2 usage error, 99 threshold failed, 130 interrupted. "
        "Otherwise 130 wins over 99, and 99 over 1."
    ) in " ".join(result.out.split())
    result = invoke("replay", "--help")
    assert "Exit codes as for send: 130 over 99 over 1." in " ".join(result.out.split())


def test_the_summary_shows_three_reasons_and_counts_the_rest():
    details = {"connection refused": 1_200, "no answer within the timeout": 30, "a": 2, "b": 1}
    assert _reasons(details) == [
        "  why        1,200  connection refused",
        "             30  no answer within the timeout",
        "             2  a",
        "             and 1 more (all in --report's error_details)",
    ]
    assert _reasons({}) == []


def test_a_rate_below_one_a_second_keeps_its_digits():
    assert [_rate(r) for r in (0.0001, 0.5, 20.0, 12_345.6)] == [
        "0.0001/s", "0.5/s", "20.0/s", "12,346/s"
    ]  # fmt: skip


def test_the_progress_line_is_compact():
    snapshot = Progress(12.34, 1230, 1228, 0, 2, 99.97, 4.1)
    assert progress_line(snapshot) == "  12.3s  sent 1,230  100.0/s  ok 1,228  errors 2  p99 4.1ms"


def test_the_readme_command_runs_against_the_built_in_receiver(invoke, tmp_path):
    result = invoke("send", "--count", "20", "--rate", "50/s")
    assert result.code == 0, result.out + result.err
    assert result.err == ""  # no progress line when stderr is not a terminal
    assert (
        "receiver   20 received  signatures: valid 20  duplicates 0  schema errors 0" in result.out
    )
    assert "20 generated  20 delivered  0 not delivered" in result.out
    assert re.match(r"Sent to built-in receiver http://127\.0\.0\.1:\d+/  scheme voucherify  "
                    r"seed \d+  workers 1\n", result.out)  # fmt: skip
    assert result.out.rstrip().endswith("result     OK")
    assert not (tmp_path / "dead-letter.ndjson").exists()


def test_send_takes_globs_and_the_receiver_checks_every_event(invoke, tmp_path):
    # The issue's own example: every loyalty tier event, at 50/s, through real sockets.
    report = tmp_path / "report.json"
    result = invoke("send", "customer.loyalty.*", "bus_val_rule.*", "--count", "40",
                    "--rate", "50/s", "--report", str(report))  # fmt: skip
    assert result.code == 0, result.out + result.err
    assert "signatures: valid 40  duplicates 0  schema errors 0" in result.out
    sent = json.loads(report.read_text())
    assert set(sent["run"]["events"]) == {
        *(f"customer.loyalty.tier.{a}" for a in ("joined", "upgraded", "downgraded",
                                                 "prolonged", "left")),
        *(f"bus_val_rule.{a}" for a in ("created", "updated", "deleted",
                                        "assignment.created", "assignment.deleted")),
    }  # fmt: skip


def test_the_achieved_rate_of_a_paced_run_is_its_target(invoke):
    result = invoke("send", "--count", "21", "--rate", "20/s", "--dead-letter", "dl.ndjson")
    assert result.code == 0
    found = re.search(
        r"\n  rate       target 20\.0/s  achieved (\d+\.\d)/s  in \d\.\d\ds\n", result.out
    )
    # Exactly 20.0 unless a busy machine starts the last send a few ms late; 21 sends in
    # about a second, the count over the run's time, would say 21.
    assert found and 19.6 <= float(found[1]) <= 20.4, result.out


@pytest.mark.parametrize(
    ("args", "target"),
    [
        (["--duration", "500ms", "--ramp", "4/s..20/s"], "ramp 4/s..20/s"),
        (["--stages", "250ms:8/s,250ms:16/s"], "stages 250ms:8/s,250ms:16/s"),
    ],
)
def test_the_summary_shows_a_ramp_or_stages_as_the_target(invoke, args, target):
    result = invoke("send", *args)
    assert result.code == 0, result.out
    assert f"\n  rate       target {target}  achieved " in result.out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--rate", "fast"], "Invalid value for '--rate': invalid rate 'fast': use e.g. 50/s, "
         "3000/m, max"),
        (["--stages", "x"], "Invalid value for '--stages': invalid stage 'x': use e.g. "
         "30s:100/s,1m:500/s,30s:0/s"),
        (["--duration", "-1s"], "Invalid value for '--duration': invalid duration '-1s': use "
         "e.g. 30s, 250ms, 1m30s"),
        (["-H", "X-Team"], "Invalid value for '-H' / '--header': invalid header 'X-Team': use "
         "e.g. 'X-Team: payments'"),
        (["--ramp", "10/s..500/s"], "Invalid value for '--ramp': needs --duration, e.g. "
         "--ramp 10/s..500/s --duration 1m"),
        (["--ramp", "1/s..5/s", "--duration", "1s", "--rate", "5/s"],
         "Invalid value for '--ramp': cannot be combined with --rate"),
        (["--stages", "1s:5/s", "--rate", "5/s"],
         "Invalid value for '--stages': cannot be combined with --rate: the stages set the length"),
        (["--stages", "1s:5/s", "--count", "3"],
         "Invalid value for '--stages': cannot be combined with --count: the stages set the "
         "length"),
        (["--arrivals", "poisson"], "Invalid value for '--arrivals': poisson needs a rate, e.g. "
         "--rate 50/s"),
        (["--url", "http://127.0.0.1:9/"], "signing scheme 'voucherify' needs a secret: pass "
         "--secret or set WEBHOOK_SECRET"),
        (["--url", "http://127.0.0.1:9/", "--secret-env", "NOPE_UNSET"],
         "environment variable NOPE_UNSET is not set"),
        (["--url", "localhost:80"], "Invalid value for '--url': invalid URL 'localhost:80': use "
         "e.g. http://127.0.0.1:8080/hooks"),
        (["--log-bodies"], "Invalid value for '--log-bodies': needs --log FILE"),
        (["-H", "X-Foo: bar\nbaz"], "Invalid value for '-H' / '--header': invalid header "
         "'X-Foo: bar\\nbaz': a header cannot contain control characters such as CR or LF"),
    ],
)  # fmt: skip
def test_bad_input_is_one_clear_error_and_exit_2(invoke, args, message):
    result = invoke("send", *args)
    assert result.code == 2
    assert f"Error: {message}\n" in result.err
    assert "Traceback" not in result.out + result.err


def test_an_unreachable_target_fails_before_generating(invoke, tmp_path):
    port = closed_port()
    url = f"http://127.0.0.1:{port}/"
    result = invoke("send", "--url", url, "--secret", SECRET, "--count", "5")
    assert result.code == 1
    assert result.err == f"Error: cannot connect to {url}: connection refused\n"
    assert result.out == "" and not list(tmp_path.iterdir())


@pytest.mark.parametrize("option", ["--dead-letter", "--log", "--report", "--junit"])
@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("/nonexistent-dir/out", "No such file or directory"),
        ("a-file/out", "Not a directory"),
    ],
)
@receiver_with(behaviour=Behaviour(status=500))
def test_every_output_path_is_checked_before_anything_is_sent(
    invoke, tmp_path, webhook_receiver, option, path, reason
):
    (tmp_path / "a-file").write_bytes(b"")
    failing = webhook_receiver
    result = invoke("send", "--url", failing.url, "--secret", SECRET, "--count", "5", option, path)
    assert failing.stats.received == 0
    assert (result.code, result.out) == (1, "")
    assert result.err == f"Error: cannot write '{path}': {reason}\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file"]


def test_a_ca_bundle_without_a_certificate_is_a_usage_error(invoke, tmp_path):
    (tmp_path / "key.pem").write_text(
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"
    )
    result = invoke(
        "send", "--url", "https://127.0.0.1:9/", "--secret", SECRET, "--ca-bundle", "key.pem"
    )
    assert result.code == 2
    assert result.err == (
        "Error: invalid --ca-bundle 'key.pem': no PEM certificate in it "
        "(-----BEGIN CERTIFICATE-----)\n"
    )


@receiver_with(behaviour=Behaviour(delay=(0.5, 0.5)))
def test_the_summary_says_why_attempts_without_a_status_failed(invoke, tmp_path, webhook_receiver):
    result = invoke(
        "send", "--url", webhook_receiver.url, "--secret", SECRET, "--count", "2",
        "--timeout", "0.1", "--dead-letter", str(tmp_path / "dl.ndjson"),
    )  # fmt: skip
    assert result.code == 1, result.err
    assert "  errors     timeout: 2\n  why        2  no answer within the timeout\n" in result.out


@receiver_with(behaviour=Behaviour(status=500))
def test_undelivered_events_exit_1_and_name_the_dead_letter_file(
    invoke, tmp_path, webhook_receiver
):
    result = invoke("send", "--url", webhook_receiver.url, "--secret", SECRET, "-n", "3")
    assert result.code == 1
    assert "dead letter 3 events appended to dead-letter.ndjson" in result.out
    assert "FAILED: 3 events not delivered" in result.out
    assert len((tmp_path / "dead-letter.ndjson").read_bytes().splitlines()) == 3


@receiver_with(behaviour=Behaviour(status=500))
def test_the_voucherify_retry_schedule_tries_13_times(invoke, tmp_path, webhook_receiver):
    result = invoke(
        "send", "--url", webhook_receiver.url, "--secret", SECRET,
        "--retry-schedule", "voucherify", "--retry-time-scale", "0.00001",
    )  # fmt: skip
    assert result.code == 1
    assert "attempts   13 (12 retries)" in result.out
    [record] = [orjson.loads(line) for line in (tmp_path / "dead-letter.ndjson").open("rb")]
    assert (record["attempts"], record["last_status"], record["reason"]) == (13, 500, "failed")


@receiver_with(behaviour=Behaviour(fail_rate=0.5, fail_status=503, retry_after=86_400, seed=3))
def test_a_day_long_retry_after_is_cut_to_the_cap_and_said(invoke, tmp_path, webhook_receiver):
    # Half the tries get 503 with Retry-After: 86400; every retry it times is capped.
    result = invoke(
        "send", "--url", webhook_receiver.url, "--secret", SECRET, "-n", "8", "--retries", "20",
        "--max-retry-after", "10ms", "--report", "report.json",
    )  # fmt: skip
    assert result.code == 0, result.out
    report = json.loads((tmp_path / "report.json").read_text())
    retries = report["counts"]["retries"]
    assert retries == report["status_codes"]["503"] > 0
    assert report["retry_after"] == {"waits": retries, "capped": retries, "longest_s": 86_400.0}
    assert report["run"]["options"]["max_retry_after_s"] == 0.01
    assert (
        f"  retry-after {retries} waits set by the server, longest asked 86,400s, "
        f"{retries} cut to 0.01s (--max-retry-after)\n"
    ) in result.out


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
@receiver_with(behaviour=Behaviour(status=500))
def test_a_full_disk_still_gives_the_summary_and_report_and_says_what_was_lost(
    invoke, tmp_path, webhook_receiver
):
    # /dev/full takes an open and fails every write with ENOSPC, as a full disk does.
    result = invoke(
        "send", "--url", webhook_receiver.url, "--secret", SECRET, "-n", "3", "--rate", "50/s",
        "--dead-letter", "/dev/full", "--log", "/dev/full", "--report", "report.json",
    )  # fmt: skip
    assert result.code == 1, result.out + result.err
    assert "Traceback" not in result.err
    assert "  dead letter 3 events: 3 of them NOT written to /dev/full\n" in result.out
    assert (
        "  records    FAILED: cannot write '/dev/full': No space left on device; 3 lines not "
        "written; cannot write '/dev/full': No space left on device; 3 lines not written\n"
    ) in result.out
    assert result.out.rstrip().endswith("result     FAILED: records not written (see above)")
    run = json.loads((tmp_path / "report.json").read_text())["run"]
    assert run["dead_letter"]["unwritten"] == 3 and len(run["record_errors"]) == 1


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_a_log_that_fails_mid_run_stops_it_and_the_rest_is_dead_lettered(
    invoke, tmp_path, webhook_receiver
):
    result = invoke(
        "send", "--url", webhook_receiver.url, "--secret", SECRET, "-n", "40", "--rate", "50/s",
        "--log", "/dev/full", "--dead-letter", "dl.ndjson", "--report", "report.json",
    )  # fmt: skip
    assert result.code == 1, result.out  # not 130: nobody pressed Ctrl-C
    report = json.loads((tmp_path / "report.json").read_text())
    dead = (tmp_path / "dl.ndjson").read_bytes().splitlines()
    assert 0 < report["counts"]["delivered"] < 40
    assert report["counts"]["delivered"] + len(dead) == 40  # nothing lost but the log
    assert "  records    FAILED: cannot write '/dev/full': No space left on device" in result.out


def _redeemed(seed: int, count: int) -> list[bool]:
    factory = PayloadFactory(seed=seed, now=NOW)
    return [factory.build(i).data["data"]["redemption"] is not None for i in range(count)]


def test_a_set_path_only_some_payloads_have_stops_the_run_at_the_first_without_it(invoke):
    # A seed whose first 3 payloads have a redemption and a later one has none.
    seed = next(s for s in range(500) if _redeemed(s, 3) == [True] * 3)
    first_without = _redeemed(seed, 64).index(False)
    args = ["send", "--seed", str(seed), "--now", NOW, "--set", "redemption.amount=1"]
    result = invoke(*args, "--count", "3", "--rate", "100/s")
    assert result.code == 0, result.out + result.err  # the payloads it never sends do not matter
    result = invoke(*args, "--count", str(first_without + 1), "--rate", "100/s")
    assert result.code == 2
    assert result.err.startswith(
        f"Error: payload index {first_without}: --set redemption.amount=1: "
    )
    assert result.err.endswith("; the run stopped there\n")


def test_payloads_built_before_one_that_fails_are_dead_lettered_not_dropped(invoke, tmp_path):
    # At --rate max payloads are built 16 at a time: a failure at payload k stops the
    # run with payloads before it built and maybe not sent.
    seed = next(s for s in range(500) if 3 <= _redeemed(s, 16).index(False) <= 15)
    first_without = _redeemed(seed, 16).index(False)
    result = invoke(
        "send", "--seed", str(seed), "--now", NOW, "--set", "redemption.amount=1",
        "--count", "16", "--concurrency", "1", "--dead-letter", "dl.ndjson", "--log", "log",
    )  # fmt: skip
    assert result.code == 2 and f"payload index {first_without}: " in result.err
    delivered = sum(
        orjson.loads(line)["status"] == 200 for line in (tmp_path / "log").read_bytes().splitlines()
    )
    dead = (tmp_path / "dl.ndjson").read_bytes().splitlines() if delivered < first_without else []
    assert delivered + len(dead) == first_without  # every payload built is accounted for


def test_a_failed_threshold_exits_99(invoke, tmp_path, webhook_receiver):
    result = invoke(
        "send", "--url", webhook_receiver.url, "--secret", SECRET, "-n", "3",
        "--threshold", "p99<0.001ms", "--threshold", "success>=99.9%",
        "--junit", "junit.xml",
    )  # fmt: skip
    assert result.code == 99
    assert "threshold  p99<0.001ms  FAILED" in result.out
    assert "threshold  success>=99.9%  ok" in result.out
    suite = ET.parse(tmp_path / "junit.xml").getroot()
    assert suite.get("failures") == "1"


@receiver_with(secret=DISTINCT_SECRET, behaviour=Behaviour(fail_rate=0.5, seed=3))
def test_the_secret_never_appears_in_any_output(invoke, tmp_path, webhook_receiver):
    secret = DISTINCT_SECRET
    url = webhook_receiver.url.replace("http://", "http://user:pw@") + f"?token={secret}"
    result = invoke(
        "send", "--url", url, "--secret", secret, "-n", "10",
        "-H", f"X-Api-Key: {secret}", "-H", f"X-Echo: {secret}",
        "--log", "log.ndjson", "--log-bodies", "--dead-letter", "dl.ndjson",
        "--report", "report.json", "--junit", "junit.xml",
    )  # fmt: skip
    assert result.code == 1, result.out + result.err
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["dl.ndjson", "junit.xml", "log.ndjson", "report.json"]
    for text in [result.out, result.err] + [p.read_text() for p in tmp_path.iterdir()]:
        assert secret not in text
        assert "user:pw" not in text
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["schema"] == "webhook-simulator/report/v1"
    assert report["run"]["url"] == webhook_receiver.url + "?token=[redacted]"
    assert report["run"]["scheme"] == "voucherify"
    assert isinstance(report["run"]["seed"], int)
    assert report["run"]["options"]["headers"] == {
        "X-Api-Key": "[redacted]",
        "X-Echo": "[redacted]",
    }
    assert report["counts"]["events"] == 10


def test_replay_of_generate_output_through_the_cli(invoke, tmp_path, webhook_receiver):
    bodies = [PayloadFactory(seed=3, now=NOW).build(i).body for i in range(4)]
    (tmp_path / "gen.ndjson").write_bytes(b"".join(b + b"\n" for b in bodies))
    url = webhook_receiver.url
    result = invoke("replay", "gen.ndjson", "--url", url, "--secret", SECRET)
    received = webhook_receiver.wait_for(4)
    assert result.code == 0, result.out
    assert sorted(r.body for r in received) == sorted(bodies)
    assert webhook_receiver.stats.signatures["valid"] == 4
    first, _, events = result.out.splitlines()[:3]
    assert first == f"Sent to {url}  scheme voucherify  workers 1"
    assert events.startswith("  events     4 read from gen.ndjson  4 delivered  0 not delivered")


def _dead_letter_of(invoke, url: str, count: int) -> list[dict]:
    """Fill dead-letter.ndjson with `count` events that `url` (failing) did not take."""
    result = invoke("send", "--url", url, "--secret", SECRET, "-n", str(count))
    assert result.code == 1
    return _records("dead-letter.ndjson")


def _records(path: str) -> list[dict]:
    return [orjson.loads(line) for line in Path(path).read_bytes().splitlines()]


def test_replaying_the_dead_letter_file_leaves_only_what_still_failed(
    invoke, tmp_path, make_receiver
):
    failing = make_receiver(behaviour=Behaviour(status=500))
    first = _dead_letter_of(invoke, failing.url, 5)
    # One sender, so failures are written in the order they were read.
    result = invoke(
        "replay", "dead-letter.ndjson", "--url", failing.url, "--secret", SECRET,
        "--concurrency", "1",
    )  # fmt: skip
    assert result.code == 1
    again = _records("dead-letter.ndjson")
    assert len(again) == 5  # not 10: the failures replaced the file they came from
    assert [r["id"] for r in again] == [r["id"] for r in first]
    assert [r["body"] for r in again] == [r["body"] for r in first]
    assert (
        "  dead letter 5 events still undelivered: dead-letter.ndjson now holds only these\n"
        in result.out
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dead-letter.ndjson"]

    flaky = make_receiver(behaviour=Behaviour(fail_rate=0.5, seed=1))
    result = invoke("replay", "dead-letter.ndjson", "--url", flaky.url, "--secret", SECRET)
    delivered = {r.event_id for r in flaky.requests if r.status == 200}
    left = {r["id"] for r in _records("dead-letter.ndjson")}
    assert 0 < len(delivered) < 5 and result.code == 1
    assert left == {r["id"] for r in first} - delivered

    healthy = make_receiver()
    result = invoke("replay", "dead-letter.ndjson", "--url", healthy.url, "--secret", SECRET)
    assert result.code == 0
    assert (tmp_path / "dead-letter.ndjson").read_bytes() == b""
    assert (
        "  dead letter dead-letter.ndjson is now empty: every event in it was delivered\n"
        in result.out
    )


@pytest.mark.parametrize(
    ("args", "bad", "message"),
    [
        (["--count", "2"], b"", "replaying 'dead-letter.ndjson' into itself must send all 3 "
         "events in it: drop --count and --duration, or pass --dead-letter OTHER"),
        (["--duration", "1s", "--rate", "2/s"], b"", "replaying 'dead-letter.ndjson' into "
         "itself must send all 3 events in it: drop --count and --duration, or pass "
         "--dead-letter OTHER"),
        (["--skip-bad"], b"not json\n", "replaying 'dead-letter.ndjson' into itself would drop "
         "its 1 bad line: fix them, or pass --dead-letter OTHER"),
    ],
)  # fmt: skip
@receiver_with(behaviour=Behaviour(status=500))
def test_replaying_the_dead_letter_file_never_loses_an_event(
    invoke, tmp_path, webhook_receiver, args, bad, message
):
    failing = webhook_receiver
    _dead_letter_of(invoke, failing.url, 3)
    with (tmp_path / "dead-letter.ndjson").open("ab") as dead:
        dead.write(bad)
    before = (tmp_path / "dead-letter.ndjson").read_bytes()
    result = invoke("replay", "dead-letter.ndjson", "--url", failing.url, "--secret", SECRET, *args)
    assert failing.stats.received == 3  # the first send's, nothing more
    assert (result.code, result.out, result.err) == (2, "", f"Error: {message}\n")
    assert (tmp_path / "dead-letter.ndjson").read_bytes() == before


def test_replay_rejects_a_bad_line_or_skips_it(invoke, tmp_path, webhook_receiver):
    body = PayloadFactory(seed=3, now=NOW).build(0).body
    (tmp_path / "bad.ndjson").write_bytes(body + b"\nnot json\n")
    args = ["replay", "bad.ndjson", "--url", webhook_receiver.url, "--secret", SECRET]
    result = invoke(*args)
    assert result.code == 1 and result.out == ""
    assert result.err == "Error: bad.ndjson, line 2: not JSON\n"
    result = invoke(*args, "--skip-bad")
    assert result.code == 0
    assert "skipped    1 bad line of bad.ndjson" in result.out


def test_a_body_that_is_not_json_fails_a_run_on_the_built_in_receiver(invoke, tmp_path):
    (tmp_path / "odd.ndjson").write_text('{"id": "whs_1", "body": "not json"}\n')
    result = invoke("replay", "odd.ndjson")
    assert result.code == 1, result.out
    assert "schema errors 0  not JSON 1\n" in result.out
    assert result.out.rstrip().endswith(
        "result     FAILED: the receiver flagged deliveries (signature, duplicate, schema or JSON)"
    )


@pytest.mark.parametrize(
    ("content", "why"),
    [(b"", "it holds no event"), (b"garbage\n\x00\xff\n", "all 2 of its lines are bad")],
)
def test_replay_of_a_file_without_events_says_why_nothing_is_sent(invoke, tmp_path, content, why):
    (tmp_path / "in.ndjson").write_bytes(content)
    result = invoke("replay", "in.ndjson", "--skip-bad")
    assert result.code == 2
    assert result.err == f"Error: nothing to send: {why} ('in.ndjson')\n"


def test_replay_keep_signature_conflicts_with_sign(invoke):
    result = invoke("replay", __file__, "--keep-signature", "--sign", "github")
    assert result.code == 2
    assert (
        "Error: Invalid value for '--keep-signature': cannot be combined with --sign" in result.err
    )


def test_replay_refuses_to_log_over_the_file_it_reads(invoke, tmp_path):
    log = tmp_path / "run.log"
    bodies = b"".join(p.body + b"\n" for p in PayloadFactory(seed=1).stream(count=3))
    log.write_bytes(bodies)
    result = invoke("replay", str(log), "--log", str(log), "--secret", SECRET)
    assert result.code == 2
    assert result.err == (
        f"Error: the replayed file and --log name the same file '{log}': give each its own\n"
    )
    assert log.read_bytes() == bodies


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--log", "out", "--report", "./out"], "--log and --report name the same file './out'"),
        (["--report", "out", "--junit", "out"], "--report and --junit name the same file 'out'"),
        (["--dead-letter", "out", "--log", "out"], "--dead-letter and --log name the same file"),
        (["--dead-letter", "out", "--junit", "out"], "--dead-letter and --junit name the same"),
    ],
)
def test_two_outputs_in_one_file_are_refused_before_sending(invoke, tmp_path, args, message):
    result = invoke("send", "--count", "1", *args)
    assert result.code == 2, result.out
    assert result.err.startswith(f"Error: {message}")
    assert result.err.endswith(": give each its own\n")
    assert result.out == "" and not (tmp_path / "out").exists()


def test_replay_refuses_to_write_a_report_over_the_file_it_reads(invoke, tmp_path):
    path = tmp_path / "gen.ndjson"
    path.write_bytes(PayloadFactory(seed=1).build(0).body + b"\n")
    result = invoke("replay", str(path), "--report", str(path), "--secret", SECRET)
    assert result.code == 2
    assert "the replayed file and --report name the same file" in result.err


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
@receiver_with(behaviour=Behaviour(delay=(0.3, 0.3)))
def test_a_signal_stops_cleanly_and_dead_letters_the_rest(tmp_path, webhook_receiver, sig):
    out, err, code = _interrupt(
        tmp_path, webhook_receiver, sig, "-n", "100", "--rate", "40/s", "--junit", "junit.xml"
    )
    assert code == 130, err
    assert "Traceback" not in err
    report = json.loads((tmp_path / "report.json").read_text())
    dead = [orjson.loads(line) for line in (tmp_path / "dl.ndjson").read_bytes().splitlines()]
    assert report["interrupted"] is True
    assert report["counts"]["delivered"] + len(dead) == 100
    assert report["counts"]["delivered"] > 0 and report["run"]["not_sent"] > 0
    assert {r["reason"] for r in dead} == {"interrupted"}
    assert len({r["id"] for r in dead}) == len(dead)
    assert "INTERRUPTED" in out
    # The report and JUnit count the events never sent: not delivered, unfinished.
    counts, never = report["counts"], report["run"]["not_sent"]
    assert counts["events"] == 100 == report["run"]["generated"]
    assert counts["not_sent"] == never and counts["unfinished"] == never
    assert counts["delivered"] + counts["failed"] + counts["unfinished"] == 100
    assert f"  events     100 generated  {counts['delivered']} delivered  {len(dead)} not " in out
    suite = ET.parse(tmp_path / "junit.xml").getroot().find("testsuite")
    assert suite.get("failures") == "2"
    event = suite.find("testcase[@name='customer.order.created']/failure")
    assert event.get("message").startswith(
        f"{len(dead)} of 100 customer.order.created events not delivered ("
    )
    assert "never sent" in event.get("message")
    run = suite.find("testcase[@name='completed']/failure")
    assert run.get("message") == (
        f"the run was interrupted before its schedule ended: {never} events never sent"
    )


@receiver_with(behaviour=Behaviour(delay=(0.3, 0.3)))
def test_a_signal_in_a_duration_run_dead_letters_only_generated_events(tmp_path, webhook_receiver):
    out, err, code = _interrupt(
        tmp_path, webhook_receiver, signal.SIGINT, "--duration", "30s", "--rate", "40/s",
        "--grace", "100ms",  # shorter than the answers: the requests in flight are cut
    )  # fmt: skip
    assert code == 130, err
    report = json.loads((tmp_path / "report.json").read_text())
    dead = [orjson.loads(line) for line in (tmp_path / "dl.ndjson").read_bytes().splitlines()]
    counts, run = report["counts"], report["run"]
    assert counts["not_sent"] == run["not_sent"] == 0
    assert 8 <= counts["events"] == run["generated"] < 200  # well short of the 1,200 planned
    assert len(dead) == counts["events"] - counts["delivered"] > 0
    assert {r["reason"] for r in dead} == {"interrupted"}
    planned = run["planned_not_sent"]
    assert planned == 1200 - counts["events"]
    assert (
        f"  events     {counts['events']} generated  {counts['delivered']} delivered  "
        f"{len(dead)} not delivered  {counts['late']} late  "
        f"{planned:,} planned sends not made (interrupted)\n"
    ) in out


def _interrupt(tmp_path, receiver, sig, *args):
    """Run `send` in a process against `receiver`, signal it once 8 requests arrived."""
    command = [
        sys.executable, "-m", "simulator", "send", "--url", receiver.url, "--grace", "2s",
        "--dead-letter", "dl.ndjson", "--report", "report.json", *args,
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT), "WEBHOOK_SECRET": SECRET}
    process = subprocess.Popen(
        command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    receiver.wait_for(8, timeout=20)
    process.send_signal(sig)
    out, err = process.communicate(timeout=30)
    return out.decode(), err.decode(), process.returncode


def test_workers_are_bounded_by_the_cpus(invoke):
    limit = 4 * (os.cpu_count() or 1)
    result = invoke("send", "--workers", str(limit + 1))
    assert result.code == 2
    assert (
        f"Error: Invalid value for '--workers': invalid workers {limit + 1}: at most {limit} "
        "on this machine (4 per CPU); use auto for one per CPU\n"
    ) in result.err

"""Faults mixed into `send`: which events get them (a function of the seed), the injected
requests on the wire and in the records, and the accounting that still holds."""

from __future__ import annotations

import json

import orjson
import pytest
from conftest import NOW

from simulator import Behaviour, send
from simulator.errors import UsageError
from simulator.pytest_plugin import default_secret
from simulator.reports.attempt import Attempt
from simulator.reports.stats import RunStats
from simulator.reports.summary import summarize
from simulator.sending.faults import FaultRates, Faults, parse_share, tamper

STANDARD = default_secret("standard")


def _send(receiver, **options):
    base = {"url": receiver.url, "sign": receiver.scheme, "secret": default_secret(receiver.scheme),
            "seed": 3, "now": NOW, "rate": "max", "environ": {}, "signals": False,
            "dead_letter": None}  # fmt: skip
    return send(**{**base, **options})


def test_shares_are_percentages_or_fractions():
    assert parse_share("2%") == pytest.approx(0.02) and parse_share("0.5") == 0.5
    for bad in ("150%", "-1%", "x", "2"):
        with pytest.raises(UsageError, match="invalid rate"):
            parse_share(bad)


def test_which_events_get_a_fault_depends_on_the_seed_and_the_index_alone():
    rates = FaultRates(duplicates=0.02, tamper=0.01, wrong_secret=0.05, stale=0.05)
    plan = Faults(rates, seed=7, scheme="standard")
    again = Faults(rates, seed=7, scheme="standard")
    other = Faults(rates, seed=8, scheme="standard")
    n = 20_000
    duplicated = [i for i in range(n) if plan.duplicated(i)]
    assert duplicated == [i for i in range(n) if again.duplicated(i)]
    assert duplicated != [i for i in range(n) if other.duplicated(i)]
    assert abs(len(duplicated) / n - 0.02) < 0.004
    forged = [plan.forged(i) for i in range(n)]
    for kind, share in (("tamper", 0.01), ("wrong-secret", 0.05), ("stale", 0.05)):
        assert abs(sum(kind in kinds for kinds in forged) / n - share) < share / 4


@pytest.mark.parametrize("total", [None, 23])
def test_reorder_shuffles_within_windows_and_sends_every_event_once(total):
    plan = Faults(FaultRates(reorder=5), seed=1, scheme="voucherify")
    slots = [(i, float(i)) for i in range(total or 25)]
    sent = [index for index, _ in plan.reorder(iter(slots), total)]
    assert sorted(sent) == list(range(len(slots)))
    assert sent != list(range(len(slots)))
    assert all(i // 5 == index // 5 for i, index in enumerate(sent))  # within its window
    moved = {index for i, index in enumerate(sent) if index != i}
    assert moved == {i for i in range(len(slots)) if plan.moved(i, total)}
    assert [index for index, _ in Faults(FaultRates(), 1, "x").reorder(iter(slots), total)] == [
        i for i, _ in slots
    ]


@pytest.mark.parametrize("webhook_receiver", [{"scheme": "standard"}], indirect=True)
def test_a_receiver_that_accepts_forged_requests_fails_the_run(webhook_receiver, invoke):
    result = _send(webhook_receiver, count=40, tamper="20%", wrong_secret="20%", stale="20%")

    injected = result.summary["injected"]
    assert result.outcome == "forged"
    assert set(injected) == {"tamper", "wrong-secret", "stale"}
    assert result.forged_accepted == {k: c["sent"] for k, c in injected.items()}
    # The run's own accounting does not see them.
    assert result.stats.delivered == result.generated == 40 == result.stats.attempts
    assert result.dead_lettered == 0
    received = webhook_receiver.wait_for(40 + sum(c["sent"] for c in injected.values()))
    verdicts = [r.signature for r in received]
    assert verdicts.count("stale") == injected["stale"]["sent"]
    assert (
        verdicts.count("invalid") == injected["tamper"]["sent"] + injected["wrong-secret"]["sent"]
    )

    cli = invoke("send", "--url", webhook_receiver.url, "--sign", "standard", "--secret",
                 STANDARD, "-n", "20", "--tamper", "50%", "--seed", "3", "--dead-letter",
                 "/dev/null")  # fmt: skip
    assert cli.code == 1
    lines = cli.out.splitlines()
    tampered = next(line for line in lines if line.startswith("  forged "))
    assert (
        "the receiver ACCEPTED" in tampered
        and "tampered (a body changed after signing)" in tampered
    )
    assert lines[-1].startswith("  result     FAILED: the receiver accepted ")


@pytest.mark.parametrize(
    "webhook_receiver",
    [{"scheme": "standard", "behaviour": Behaviour(strict=True)}],
    indirect=True,
)
def test_a_strict_receiver_refuses_the_forged_and_takes_the_duplicates(webhook_receiver, tmp_path):
    log = tmp_path / "log.ndjson"
    result = _send(webhook_receiver, count=60, duplicates="10%", tamper="10%", log=str(log),
                   log_bodies=True, report=str(tmp_path / "r.json"))  # fmt: skip

    assert result.outcome == "ok", result.summary["injected"]
    injected = result.summary["injected"]
    assert injected["tamper"]["refused"] == injected["tamper"]["sent"] > 0
    assert injected["duplicate"]["accepted"] == injected["duplicate"]["sent"] > 0
    assert result.stats.delivered == 60 and result.stats.attempts == 60
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["injected"] == injected
    assert report["run"]["options"]["faults"]["tamper"] == pytest.approx(0.1)

    lines = [orjson.loads(line) for line in log.read_text().splitlines()]
    own = [line for line in lines if "injected" not in line]
    assert sorted(line["index"] for line in own) == list(range(60))
    for line in lines:
        if line.get("injected") == "tamper":
            genuine = next(o for o in own if o["id"] == line["id"])
            assert line["attempt"] == 0 and line["status"] == 401
            assert line["body"] != genuine["body"] and json.loads(line["body"])  # still JSON
            signature = "webhook-signature"
            assert line["headers"][signature] == genuine["headers"][signature]
            assert line["started_epoch"] <= genuine["started_epoch"]  # before its event
        if line.get("injected") == "duplicate":
            genuine = next(o for o in own if o["id"] == line["id"])
            assert (line["body"], line["headers"]) == (genuine["body"], genuine["headers"])


def test_reorder_with_a_lifecycle_sends_a_paid_before_its_created(webhook_receiver):
    result = _send(webhook_receiver, count=40, rate="400/s", lifecycle="created,paid",
                   reorder="4")  # fmt: skip
    assert result.outcome == "ok" and result.stats.delivered == 40
    moved = result.summary["injected"]["reorder"]
    assert 0 < moved["sent"] == moved["accepted"] <= 40
    seen: dict[str, list[str]] = {}
    for request in webhook_receiver.wait_for(40):
        order = orjson.loads(request.body)["data"]["order"]["id"]
        seen.setdefault(order, []).append(request.event_type.rpartition(".")[2])
    assert len(seen) == 20 and all(sorted(steps) == ["created", "paid"] for steps in seen.values())
    assert any(steps == ["paid", "created"] for steps in seen.values())


def test_the_built_in_receiver_refuses_forged_requests_so_the_run_passes(invoke):
    result = invoke("send", "-n", "50", "--sign", "standard", "--duplicates", "10%",
                    "--tamper", "10%", "--stale", "10%", "--seed", "5")  # fmt: skip
    assert result.code == 0, result.out
    injected = next(line for line in result.out.splitlines() if line.startswith("  injected"))
    assert "tamper " in injected and "0 accepted" in injected
    assert result.out.splitlines()[-1] == "  result     OK"


def test_faults_and_workers_keep_the_books(tmp_path):
    result = send(count=200, rate="max", workers=2, sign="standard", duplicates="5%",
                  tamper="5%", seed=9, environ={}, signals=False,
                  dead_letter=str(tmp_path / "dl"))  # fmt: skip
    assert result.outcome == "ok"
    assert result.stats.delivered + result.dead_lettered == result.generated == 200
    injected = result.summary["injected"]
    plan = Faults(FaultRates(duplicates=0.05, tamper=0.05), seed=9, scheme="standard")
    assert injected["duplicate"]["sent"] == sum(plan.duplicated(i) for i in range(200))
    assert injected["tamper"]["sent"] == sum(bool(plan.forged(i)) for i in range(200))


def test_tamper_changes_one_amount_and_keeps_json():
    body = b'{"order":{"amount":1500,"items":[{"price":500}]}}'
    assert tamper(body) == b'{"order":{"amount":1600,"items":[{"price":500}]}}'
    assert tamper(b'{"n":{"count":7}}') == b'{"n":{"count":107}}'
    assert tamper(b'{"a":"b"}') == b'{"a":"b" }'


def _attempt(kind, status, index=0):
    return Attempt(None, index, 0, 0.0, 0.0, 0.01, status, None, None, {}, injected=kind)


def test_injected_counts_stay_apart_and_merge_across_workers():
    one, two = RunStats(), RunStats()
    one.record_attempt(_attempt("tamper", 401))
    one.record_attempt(_attempt("duplicate", 200))
    two.record_attempt(_attempt("tamper", 200))
    two.record_attempt(_attempt("tamper", None))
    assert one.attempts == two.attempts == 0 and not one.status_codes
    one.merge(RunStats.from_dict(two.to_dict()))
    assert summarize(one)["injected"] == {
        "duplicate": {"sent": 1, "accepted": 1, "refused": 0, "no_answer": 0},
        "tamper": {"sent": 3, "accepted": 1, "refused": 1, "no_answer": 1},
    }
    # A reordered event's own attempt is one of the run's attempts as well.
    one.record_attempt(_attempt("reorder", 200))
    assert one.attempts == 1 and one.status_codes == {200: 1}

"""Histogram precision and merges, run counters, the report, thresholds and JUnit XML."""

from __future__ import annotations

import json
import random
import xml.etree.ElementTree as ET

import pytest

from simulator.errors import UsageError
from simulator.generation.payloads import Payload
from simulator.reports.attempt import Attempt
from simulator.reports.histogram import MAX_VALUE_US, Histogram
from simulator.reports.junit import junit_xml
from simulator.reports.stats import MAX_ERROR_DETAILS, OTHER_DETAILS, RunStats
from simulator.reports.summary import SCHEMA, summarize
from simulator.reports.thresholds import Threshold, ThresholdResult, parse_threshold

THRESHOLD_HINT = "use e.g. p99<250ms, success>=99.9%, rate>=950/s"
PAYLOAD = Payload("voucher.published", 0, "whs_1", b"{}")


def record(stats: RunStats, *, scheduled: float, started: float, finished: float,
           **outcome: object) -> None:  # fmt: skip
    """One attempt, with no status, error or detail unless given."""
    fields = {"status": None, "error": None, "detail": None, **outcome}
    stats.record_attempt(Attempt(PAYLOAD, 0, 1, scheduled, started, finished, headers={}, **fields))


def filled(values: list[int]) -> Histogram:
    hist = Histogram()
    for value in values:
        hist.record(value)
    return hist


def test_uniform_distribution_percentiles() -> None:
    hist = filled(list(range(1, 10_001)))
    assert hist.count == 10_000
    assert hist.min == 1 and hist.max == 10_000
    assert hist.mean == 5000.5
    assert abs(hist.percentile(50) - 5000) <= 5
    assert abs(hist.percentile(99) - 9900) <= 9.9
    assert hist.percentile(100) == 10_000
    assert hist.percentile(0) == 1
    assert hist.percentiles([50, 99, 100]) == [hist.percentile(p) for p in (50, 99, 100)]


def test_small_values_are_exact() -> None:
    hist = filled([0, 1, 2, 3, 2047])
    assert hist.percentiles([0, 20, 40, 60, 80, 100]) == [0, 0, 1, 2, 3, 2047]


def test_relative_error_stays_within_a_tenth_of_a_percent() -> None:
    rng = random.Random(42)
    values = sorted(int(10 ** rng.uniform(0, 9.6)) + 1 for _ in range(20_000))
    hist = filled(values)
    for p in [0.1, 1, 10, 25, 50, 75, 90, 99, 99.9, 99.99, 100]:
        exact = values[max(int(p * len(values) / 100 + 0.5), 1) - 1]
        got = hist.percentile(p)
        assert exact <= got <= exact * 1.001, (p, exact, got)
    for value in rng.sample(values, 500):
        alone = filled([value, MAX_VALUE_US])
        assert value <= alone.percentile(0) <= value * 1.001


def test_values_beyond_the_range_are_clamped_and_negatives_rejected() -> None:
    hist = filled([MAX_VALUE_US * 4])
    assert hist.max == MAX_VALUE_US == hist.percentile(100)
    assert MAX_VALUE_US > 3600 * 1_000_000
    with pytest.raises(ValueError, match="negative"):
        hist.record(-1)


def test_empty_histogram() -> None:
    hist = Histogram()
    assert (hist.count, hist.min, hist.max, hist.mean, hist.percentile(99)) == (0, 0, 0, 0.0, 0)
    with pytest.raises(ValueError, match=r"0\.\.100"):
        hist.percentile(101)


def test_merge_equals_recording_into_one() -> None:
    rng = random.Random(1)
    a_values = [rng.randrange(1, 5_000_000) for _ in range(3000)]
    b_values = [rng.randrange(1, 50_000) for _ in range(2000)]
    merged = filled(a_values)
    merged.merge(filled(b_values))
    assert merged == filled(a_values + b_values)
    assert merged.percentile(99) == filled(a_values + b_values).percentile(99)
    empty = Histogram()
    empty.merge(merged)
    assert empty == merged
    merged.merge(Histogram())
    assert merged == empty


def test_histogram_dict_roundtrip_is_sparse_and_exact() -> None:
    hist = filled([5, 5, 1_000, 123_456, 7_654_321])
    data = json.loads(json.dumps(hist.to_dict()))
    assert len(data["buckets"]) == 4
    assert Histogram.from_dict(data) == hist
    assert Histogram.from_dict(Histogram().to_dict()) == Histogram()
    with pytest.raises(ValueError, match="layout"):
        Histogram.from_dict({**data, "sub_buckets": 4096})


FAILED = {3, 27, 51, 75}  # all voucher.published, whose index is not a multiple of 4


def sample_run(offset: float = 0.0) -> RunStats:
    stats = RunStats(started_at=100.0 + offset, finished_at=110.0 + offset, target_rate=10.0)
    for i in range(100):
        event_type = "voucher.published" if i % 4 else "customer.created"
        stats.record_event(event_type)
        scheduled = 100.0 + offset + i / 10
        late = 0.050 if i == 7 else 0.0
        ok = i not in FAILED
        record(
            stats,
            scheduled=scheduled,
            started=scheduled + late,
            finished=scheduled + late + 0.020 + i / 10_000,
            status=200 if ok else 503,
            error=None if ok else "status",
        )
        if not ok:
            record(
                stats,
                scheduled=scheduled + 0.1,
                started=scheduled + 0.1,
                finished=scheduled + 0.2,
                error="timeout",
                detail="no answer within the timeout",
                retry=True,
            )
        stats.record_outcome(event_type, delivered=ok, error=None if ok else "timeout")
    stats.record_retry_after(3.0 + offset, capped=False)
    stats.record_retry_after(90.0 + offset, capped=True)
    return stats


def test_run_counters() -> None:
    stats = sample_run()
    assert (stats.events, stats.attempts, stats.delivered, stats.failed) == (100, 104, 96, 4)
    assert (stats.retries, stats.late) == (4, 1)
    assert stats.status_codes == {200: 96, 503: 4}
    assert stats.error_kinds == {"status": 4, "timeout": 4}
    assert stats.error_details == {"no answer within the timeout": 4}  # a status needs none
    assert stats.by_event_type["voucher.published"].failed == 4
    assert stats.by_event_type["customer.created"].events == 25
    assert stats.latency_service.min == 20_000 and stats.latency_service.max == 100_000
    assert stats.latency_corrected.max == 100_000
    # Only send 7 started late, by 50 ms; each value may round by a microsecond either way.
    assert abs(stats.latency_corrected.total - stats.latency_service.total - 50_000) <= 104
    assert stats.schedule_lag.max == 50_000


def test_run_merge_is_exact() -> None:
    a, b = sample_run(), sample_run(offset=5.0)
    a.interrupted = False
    b.interrupted = True
    a.merge(b)
    assert (a.events, a.attempts, a.delivered, a.failed, a.late) == (200, 208, 192, 8, 2)
    assert (a.started_at, a.finished_at, a.interrupted) == (100.0, 115.0, True)
    assert a.status_codes == {200: 192, 503: 8}
    assert a.error_details == {"no answer within the timeout": 8}
    assert (a.retry_after_waits, a.retry_after_capped, a.retry_after_longest_s) == (4, 2, 95.0)
    assert a.by_event_type["customer.created"].events == 50
    both = sample_run()
    both.latency_service.merge(sample_run(offset=5.0).latency_service)
    assert a.latency_service == both.latency_service


def test_run_dict_roundtrip_through_json() -> None:
    stats = sample_run()
    stats.interrupted = True
    data = json.loads(json.dumps(stats.to_dict(), allow_nan=False))
    assert RunStats.from_dict(data) == stats


def test_summary() -> None:
    report = summarize(sample_run())
    assert set(report) == {
        "schema", "started_at", "finished_at", "duration_s", "interrupted", "target_rate",
        "send_rate", "achieved_rate", "attempt_rate", "counts", "success_ratio", "status_codes",
        "error_kinds", "error_details", "latency_ms", "schedule_lag_ms", "late_after_ms",
        "retry_after", "event_types", "injected",
    }  # fmt: skip
    assert report["schema"] == SCHEMA == "webhook-simulator/report/v1"
    assert report["injected"] == {}  # no faults in this run
    assert report["duration_s"] == 10.0
    assert report["achieved_rate"] == 10.0 and report["attempt_rate"] == 10.4
    assert report["send_rate"] == pytest.approx(10.0)  # 99 gaps of 0.1 s
    assert report["counts"] == {
        "events": 100, "attempts": 104, "delivered": 96, "failed": 4, "late": 1,
        "retries": 4, "resends": 0, "unfinished": 0, "not_sent": 0,
    }  # fmt: skip
    assert report["success_ratio"] == 0.96
    assert report["status_codes"] == {"200": 96, "503": 4}
    assert report["error_details"] == {"no answer within the timeout": 4}
    corrected = report["latency_ms"]["corrected"]
    assert set(corrected) == {"min", "mean", "p50", "p90", "p95", "p99", "p99.9", "max"}
    assert corrected["min"] == 20.0 and corrected["max"] == 100.0
    assert corrected["p99"] == 100.0
    assert corrected["p90"] == sample_run().latency_corrected.percentile(90) / 1000
    assert report["latency_ms"]["service"]["max"] == 100.0
    assert report["schedule_lag_ms"] == {"p50": 0.0, "p99": 0.0, "max": 50.0}
    assert report["late_after_ms"] == 10.0
    assert report["retry_after"] == {"waits": 2, "capped": 1, "longest_s": 90.0}
    assert report["event_types"]["voucher.published"] == {
        "events": 75, "delivered": 71, "failed": 4, "not_sent": 0, "error_kinds": {"timeout": 4},
    }  # fmt: skip
    json.dumps(report, allow_nan=False)


def paced(count: int, rate: float, start: float = 0.0, latency: float = 0.05) -> RunStats:
    stats = RunStats(started_at=start, target_rate=rate)
    for i in range(count):
        at = start + i / rate
        stats.record_event("voucher.published")
        record(stats, scheduled=at, started=at, finished=at + latency, status=200)
        stats.record_outcome("voucher.published", delivered=True)
    stats.finished_at = start + (count - 1) / rate + latency
    return stats


def test_a_perfectly_paced_run_reports_its_target_as_the_send_rate() -> None:
    # 20 sends at 10/s span 1.9 s: dividing 20 by that gave 10.5/s, above the target.
    report = summarize(paced(20, 10.0))
    assert report["send_rate"] == pytest.approx(10.0, rel=1e-9)
    assert report["achieved_rate"] == pytest.approx(20 / 1.95)  # completed per duration_s
    assert parse_threshold("rate>=10/s").check(report).ok
    assert summarize(paced(1, 10.0))["send_rate"] is None


def test_the_send_rate_ignores_retries_and_merges_across_workers() -> None:
    stats = paced(10, 10.0)
    record(stats, scheduled=5.0, started=5.0, finished=5.1, status=200, retry=True)
    assert summarize(stats)["send_rate"] == pytest.approx(10.0)
    # Two workers of a 20/s run, each sending every other event.
    even, odd = paced(10, 10.0), paced(10, 10.0, start=0.05)
    even.merge(odd)
    assert summarize(even)["send_rate"] == pytest.approx(20.0)
    data = json.loads(json.dumps(odd.to_dict()))
    assert (RunStats.from_dict(data).first_send, RunStats.from_dict(data).last_send) == (
        0.05,
        0.05 + 0.9,
    )


def test_a_resend_is_an_attempt_but_neither_a_retry_nor_a_send_nor_late() -> None:
    stats = paced(3, 10.0)
    record(stats, scheduled=0.0, started=5.0, finished=5.01, status=200, resend=True)
    assert (stats.attempts, stats.retries, stats.resends, stats.late) == (4, 0, 1, 0)
    assert stats.schedule_lag.count == 3 and stats.latency_corrected.count == 4
    assert summarize(stats)["send_rate"] == pytest.approx(10.0)  # its start is no send


def test_error_details_are_bounded_in_a_run_and_across_workers() -> None:
    # A server answering garbage makes each detail new: the count of them stays bounded.
    def garbage(first: int) -> RunStats:
        stats = RunStats()
        for i in range(first, first + MAX_ERROR_DETAILS + 5):
            record(stats, scheduled=0.0, started=0.0, finished=0.1, error="other",
                                 detail=f"not an HTTP/1.x status line: b'{i}'")  # fmt: skip
        return stats

    one, other = garbage(0), garbage(1000)
    assert len(one.error_details) == MAX_ERROR_DETAILS + 1
    assert one.error_details[OTHER_DETAILS] == 5 and one.error_details.total() == 25
    one.merge(other)
    assert len(one.error_details) == MAX_ERROR_DETAILS + 1
    assert one.error_details[OTHER_DETAILS] == 30 and one.error_details.total() == 50


def test_summary_of_an_empty_run() -> None:
    report = summarize(RunStats(interrupted=True))
    assert report["duration_s"] == 0.0 and report["achieved_rate"] == 0.0
    assert report["send_rate"] is None
    assert report["success_ratio"] is None and report["target_rate"] is None
    assert set(report["latency_ms"]["corrected"].values()) == {None}
    assert report["schedule_lag_ms"] == {"p50": None, "p99": None, "max": None}
    assert report["retry_after"] == {"waits": 0, "capped": 0, "longest_s": None}
    json.dumps(report, allow_nan=False)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("p99<250ms", Threshold("p99<250ms", "p99", "<", 250.0, "ms")),
        ("p99.9<=1s", Threshold("p99.9<=1s", "p99.9", "<=", 1000.0, "ms")),
        ("mean < 500us", Threshold("mean<500us", "mean", "<", 0.5, "ms")),
        ("max<2", Threshold("max<2", "max", "<", 2.0, "ms")),
        ("P50>.5s", Threshold("p50>.5s", "p50", ">", 500.0, "ms")),
        ("success>=99.9%", Threshold("success>=99.9%", "success", ">=", 99.9, "%")),
        ("rate>=950/s", Threshold("rate>=950/s", "rate", ">=", 950.0, "/s")),
        ("rate>3000/m", Threshold("rate>3000/m", "rate", ">", 50.0, "/s")),
        ("errors<10", Threshold("errors<10", "errors", "<", 10.0, "")),
        ("failed==0", Threshold("failed==0", "failed", "==", 0.0, "")),
    ],
)
def test_parse_threshold(text: str, expected: Threshold) -> None:
    assert parse_threshold(text) == expected


@pytest.mark.parametrize(
    "text",
    ["", "p99", "p99<", "p75<250ms", "success>=99.9", "rate>=950ms", "errors<10ms",
     "p99<250xs", "p99=250ms", "p99<<250ms", "latency<250ms", "success>=-1%"],
)  # fmt: skip
def test_parse_threshold_rejects(text: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_threshold(text)
    assert str(caught.value) == f"invalid threshold '{text}': {THRESHOLD_HINT}"


def test_a_success_threshold_above_100_percent_could_never_pass() -> None:
    with pytest.raises(UsageError) as caught:
        parse_threshold("success>=200%")
    assert str(caught.value) == "invalid threshold 'success>=200%': success is at most 100%"
    assert parse_threshold("success<=100%").limit == 100.0


@pytest.mark.parametrize(
    ("text", "ok", "actual"),
    [
        ("p99<250ms", True, 100.0),
        ("p99<100ms", False, 100.0),
        ("p99<=100ms", True, 100.0),
        ("max<0.1s", False, 100.0),
        ("success>=96%", True, 96.0),
        ("success>=99.9%", False, 96.0),
        ("rate>=10/s", True, 10.0),
        ("rate>=950/s", False, 10.0),
        ("errors<10", True, 8.0),
        ("errors<8", False, 8.0),
        ("failed==0", False, 4.0),
        ("failed==4", True, 4.0),
    ],
)
def test_threshold_check(text: str, ok: bool, actual: float) -> None:
    summary = summarize(sample_run())
    summary["latency_ms"]["corrected"]["p99"] = 100.0
    assert parse_threshold(text).check(summary) == ThresholdResult(
        text, ok, actual, parse_threshold(text).unit
    )


def test_success_ratio_at_the_exact_limit_passes() -> None:
    summary = summarize(RunStats())
    summary["success_ratio"] = 999 / 1000
    assert parse_threshold("success>=99.9%").check(summary).ok


def test_thresholds_without_data_fail() -> None:
    summary = summarize(RunStats())
    assert parse_threshold("p99<250ms").check(summary) == ThresholdResult(
        "p99<250ms", False, None, "ms"
    )
    assert not parse_threshold("success>=90%").check(summary).ok


def test_junit_xml() -> None:
    stats = sample_run()
    stats.record_event('odd <&> "type" \x01')
    summary = summarize(stats)
    results = [parse_threshold(t).check(summary) for t in ("p99<1s", "failed==0", "rate>=5/s")]
    root = ET.fromstring(junit_xml(summary, results, name="load"))
    suites = root.findall("testsuite")
    assert len(suites) == 1
    cases = suites[0].findall("testcase")
    assert len(cases) == 3 + 3
    failures = {case.get("name"): case.find("failure") for case in cases}
    assert failures["customer.created"] is None
    assert failures["p99<1s"] is None and failures["rate>=5/s"] is None
    assert suites[0].get("tests") == "6" and suites[0].get("failures") == "3"
    message = failures["voucher.published"].get("message")
    assert message.startswith("4 of 75 voucher.published events not delivered (4 failed, 0 ")
    assert "timeout 4" in message
    assert failures["failed==0"].get("message") == "threshold failed==0 not met: actual 4"
    assert failures['odd <&> "type" \ufffd'].get("message").startswith("1 of 1 ")
    assert {case.get("classname") for case in cases} == {"load.delivery", "load.thresholds"}


def interrupted_run() -> RunStats:
    """34 of 100 events sent and delivered, then Ctrl-C: 66 never sent."""
    stats = paced(34, 20.0)
    stats.interrupted = True
    for _ in range(66):
        stats.record_not_sent("voucher.published")
    return stats


def test_events_never_sent_count_as_unfinished() -> None:
    report = summarize(interrupted_run())
    assert report["interrupted"] is True
    assert report["counts"] == {
        "events": 100, "attempts": 34, "delivered": 34, "failed": 0, "late": 0,
        "retries": 0, "resends": 0, "unfinished": 66, "not_sent": 66,
    }  # fmt: skip
    assert report["event_types"]["voucher.published"]["not_sent"] == 66
    merged = interrupted_run()
    merged.merge(interrupted_run())
    assert merged.not_sent == 132 and merged.by_event_type["voucher.published"].not_sent == 132
    data = json.loads(json.dumps(interrupted_run().to_dict()))
    assert RunStats.from_dict(data) == interrupted_run()


def test_junit_xml_of_an_interrupted_run_fails() -> None:
    root = ET.fromstring(junit_xml(summarize(interrupted_run()), []))
    suite = root.find("testsuite")
    assert (suite.get("tests"), suite.get("failures")) == ("2", "2")
    cases = suite.findall("testcase")
    messages = {case.get("name"): case.find("failure").get("message") for case in cases}
    assert messages == {
        "voucher.published": "66 of 100 voucher.published events not delivered (0 failed, "
        "66 unfinished of which 66 never sent); errors: none recorded",
        "completed": "the run was interrupted before its schedule ended: 66 events never sent",
    }
    run = suite.find("testcase[@name='completed']")
    assert (run.get("classname"), run.find("failure").get("type")) == (
        "webhook-simulator.run",
        "interrupted",
    )
    # A --duration run stopped early generated nothing it did not send, but still failed.
    stats = paced(3, 20.0)
    stats.interrupted = True
    root = ET.fromstring(junit_xml(summarize(stats), []))
    assert root.find("testsuite").get("failures") == "1"
    failure = root.find("testsuite/testcase[@name='completed']/failure")
    assert failure.get("message") == "the run was interrupted before its schedule ended"


def test_junit_xml_of_a_clean_run_has_no_failures() -> None:
    stats = RunStats(started_at=0.0, finished_at=1.0)
    stats.record_event("voucher.published")
    record(stats, scheduled=0.0, started=0.0, finished=0.01, status=200)
    stats.record_outcome("voucher.published", delivered=True)
    root = ET.fromstring(junit_xml(summarize(stats), []))
    assert root.find("testsuite").get("failures") == "0"
    assert root.find("testsuite/testcase").get("classname") == "webhook-simulator.delivery"

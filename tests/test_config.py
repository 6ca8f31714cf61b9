"""One place refuses a bad run: every usage error of the command line has a Python twin
that raises the same words (SendConfig, GenerationOptions, Behaviour, Receiver). Then the
send options one by one: the command line's text, parsed, and the retry policies."""

from __future__ import annotations

import os
import random

import pytest
from conftest import closed_port

from simulator import audit, generate, send
from simulator.errors import UsageError
from simulator.receiving.receiver import Receiver
from simulator.redaction import public_url
from simulator.sending.config import SendConfig
from simulator.sending.parsing import check_url, parse_header, parse_retry_after, parse_statuses
from simulator.sending.retry import VOUCHERIFY_OFFSETS_S, RetryPolicy
from simulator.sending.schedule import Stage

URL = "http://127.0.0.1:9/hooks"
S = {"url": URL, "secret": "s"}  # a run that would get as far as connecting

SEND = [
    (["--rate", "fast"], {"rate": "fast"}),
    (["--rate", "0/s"], {"rate": "0/s"}),
    (["--stages", "x"], {"stages": "x"}),
    (["--stages", "1s:0/s"], {"stages": "1s:0/s"}),
    (["--duration", "-1s"], {"duration": "-1s"}),
    (["-n", "0"], {"count": "0"}),
    (["-n", "many"], {"count": "many"}),
    (["--concurrency", "0"], {"concurrency": 0}),
    (["--max-in-flight", "x"], {"max_in_flight": "x"}),
    (["--workers", "lots"], {"workers": "lots"}),
    (["--workers", "100000"], {"workers": 100000}),
    (["-H", "X-Team"], {"headers": ["X-Team"]}),
    (["-H", "X-Foo: bar\nbaz"], {"headers": ["X-Foo: bar\nbaz"]}),
    (["-H", "Content-Length: 3"], {"headers": {"Content-Length": "3"}}),
    (["--ramp", "10/s..500/s"], {"ramp": "10/s..500/s"}),
    (["--ramp", "1/s..5/s", "--duration", "1s", "--rate", "5/s"],
     {"ramp": (1.0, 5.0), "duration": 1.0, "rate": 5.0}),
    (["--stages", "1s:5/s", "--rate", "5/s"], {"stages": "1s:5/s", "rate": "5/s"}),
    (["--stages", "1s:5/s", "--count", "3"], {"stages": "1s:5/s", "count": 3}),
    (["--stages", "1s:5/s", "--duration", "3s"], {"stages": "1s:5/s", "duration": "3s"}),
    (["--arrivals", "poisson"], {"arrivals": "poisson"}),
    (["--arrivals", "bursty", "--rate", "5/s"], {"arrivals": "bursty", "rate": 5.0}),
    (["--url", "localhost:80"], {"url": "localhost:80"}),
    (["--sign", "hmac"], {"sign": "hmac"}),
    (["--url", URL], {"url": URL}),  # no secret for the default scheme
    (["--url", URL, "--secret-env", "NOPE_UNSET"], {"url": URL, "secret_env": "NOPE_UNSET"}),
    (["--secret", "a", "--secret-env", "X"], {"secret": "a", "secret_env": "X"}),
    (["--url", URL, "--sign", "standard", "--secret", "not base64!"],
     {"url": URL, "sign": "standard", "secret": "not base64!"}),
    (["--timeout", "0s"], {"timeout": "0s"}),
    (["--grace", "soon"], {"grace": "soon"}),
    (["--expect-status", "7xx"], {"expect_status": "7xx"}),
    (["--retries", "-1"], {"retries": -1}),
    (["--retry-schedule", "fibonacci"], {"retry_schedule": "fibonacci"}),
    (["--retry-time-scale", "x"], {"retry_time_scale": "x"}),
    (["--max-retry-after", "-1s"], {"max_retry_after": "-1s"}),
    (["--threshold", "p99<fast"], {"thresholds": ["p99<fast"]}),
    (["--threshold", "success>=200%"], {"thresholds": ["success>=200%"]}),
    (["--insecure", "--ca-bundle", __file__], {"insecure": True, "ca_bundle": __file__}),
    (["--ca-bundle", "/no/such.pem"], {"ca_bundle": "/no/such.pem"}),
    (["--log-bodies"], {"log_bodies": True}),
    (["--dead-letter", "out", "--log", "out"], {"dead_letter": "out", "log": "out"}),
    (["--log", "out", "--report", "./out"], {"log": "out", "report": "./out"}),
    (["--report", "out", "--junit", "out"], {"report": "out", "junit": "out"}),
    (["--html", "/no/such/dir/report.html"], {"html": "/no/such/dir/report.html"}),
    (["--html", "out", "--report", "out"], {"html": "out", "report": "out"}),
    (["--seed", "-1"], {"seed": -1}),
    (["--now", "yesterday"], {"now": "yesterday"}),
    (["--now", "0001-01-01T00:00:00Z"], {"now": "0001-01-01T00:00:00Z"}),
    (["--locale", "xx_XX"], {"locale": "xx_XX"}),
    (["--scenario", "promo"], {"scenario": "promo"}),
    (["--envelope", "v1999"], {"envelope": "v1999"}),
    (["--label", "Order\npaid"], {"label": "Order\npaid"}),
    (["--set", "order.amount"], {"overrides": ["order.amount"]}),
    (["--set", "order..x=1"], {"overrides": ["order..x=1"]}),
    (["--templates", "/no/such/dir"], {"templates": ["/no/such/dir"]}),
    (["no.such.event"], {"events": ["no.such.event"]}),
    (["--lifecycle", "created,shipped"], {"lifecycle": "created,shipped"}),
    (["--lifecycle", "paid,created"], {"lifecycle": "paid,created"}),
    (["customer.order.paid", "--lifecycle", "created,paid"],
     {"events": ["customer.order.paid"], "lifecycle": "created,paid"}),
    (["--duplicates", "150%"], {"duplicates": "150%"}),
    (["--tamper", "lots"], {"tamper": "lots"}),
    (["--wrong-secret", "2"], {"wrong_secret": 2.0}),
    (["--reorder", "-2"], {"reorder": "-2"}),
    (["--stale", "1%"], {"stale": "1%"}),  # voucherify signs no timestamp
    (["--stale", "1%", "--sign", "github"], {"stale": "1%", "sign": "github"}),
    (["--tamper", "1%", "--sign", "none"], {"tamper": "1%", "sign": "none"}),
]  # fmt: skip

REPLAY = [
    (["--keep-signature", "--sign", "github"], {"keep_signature": True, "sign": "github"}),
    (["--log", __file__], {"log": __file__}),
]

GENERATE = [
    (["-n", "-1"], {"count": -1}),
    (["--seed", "x"], {"seed": "x"}),
    (["--locale", "xx_XX"], {"locale": "xx_XX"}),
    (["--label", "tab\there"], {"label": "tab\there"}),
    (["--set", "a=1", "--templates", "/nope"], {"overrides": ["a=1"], "templates": ["/nope"]}),
    (["no.such.event"], {"event": "no.such.event"}),
    (["--lifecycle", "created|paid,x"], {"lifecycle": "created|paid,x"}),
    (
        ["customer.order.paid", "--lifecycle", "created,paid"],
        {"event": "customer.order.paid", "lifecycle": "created,paid"},
    ),
]

AUDIT = [
    (["--only", "valid,forged"], {"only": "valid,forged"}),
    (["--skip", "dupe"], {"skip": ["dupe"]}),
    (["--only", "valid", "--skip", "valid"], {"only": "valid", "skip": "valid"}),
    (["--timeout", "0s"], {"timeout": "0s"}),
    (["--sign", "hmac"], {"sign": "hmac"}),
    (["--sign", "standard", "--secret", "not base64!"],
     {"sign": "standard", "secret": "not base64!"}),
    (["-H", "X-Team"], {"headers": ["X-Team"]}),
    (["--insecure", "--ca-bundle", __file__], {"insecure": True, "ca_bundle": __file__}),
    (["--report", "out", "--junit", "out"], {"report": "out", "junit": "out"}),
    (["--seed", "x"], {"seed": "x"}),
    (["--label", "a\rb"], {"label": "a\rb"}),
    (["no.such.event"], {"events": ["no.such.event"]}),
]  # fmt: skip

RECEIVE = [
    (["--port", "70000"], {"port": "70000"}),
    (["--sign", "hmac"], {"sign": "hmac"}),
    (["--status", "100"], {"status": "100"}),
    (["--fail-status", "101"], {"fail_status": 101}),
    (["--fail-rate", "2"], {"fail_rate": "2"}),
    (["--drop-rate", "-0.1"], {"drop_rate": "-0.1"}),
    (["--retry-after", "5s"], {"retry_after": "5s"}),
    (["--retry-after", "5s", "--fail-rate", "0.5", "--fail-status", "500"],
     {"retry_after": "5s", "fail_rate": "0.5", "fail_status": "500"}),
    (["--delay", "soon"], {"delay": "soon"}),
    (["--delay", "200ms..10ms"], {"delay": "200ms..10ms"}),
    (["--max-body", "1XB"], {"max_body": "1XB"}),
    (["--tolerance", "x"], {"tolerance": "x"}),
    (["--seed", "-3"], {"seed": "-3"}),
    (["--secret", "a", "--secret-env", "MY_SECRET"], {"secret": "a", "secret_env": "MY_SECRET"}),
    (["--secret-env", "NOPE_UNSET"], {"secret_env": "NOPE_UNSET"}),
    (["--keep", "0"], {"keep": "0"}),
    (["--keep", "all"], {"keep": "all"}),
    (["--sign", "none", "--path", "/_sim/hooks"], {"sign": "none", "path": "/_sim/hooks"}),
    ([], {}),  # the default scheme needs a secret
]  # fmt: skip


def _cli_error(invoke, *args: str) -> str:
    """The error line of `webhook-sim ARGS`, which must exit 2 with no traceback."""
    result = invoke(*args)
    assert result.code == 2, result.err
    assert "Traceback" not in result.err and result.stdout_bytes == b""
    last = result.err.splitlines()[-1]
    assert last.startswith("Error: "), result.err
    return last.removeprefix("Error: ")


def _python_error(call, **kwargs) -> str:
    with pytest.raises(UsageError) as caught:
        call(**kwargs)
    return str(caught.value)


@pytest.mark.parametrize(("args", "kwargs"), SEND)
def test_send_refuses_as_its_python_twin(invoke, tmp_path, monkeypatch, args, kwargs):
    monkeypatch.chdir(tmp_path)
    expected = _cli_error(invoke, "send", *args)

    def python(events=(), **options):
        return send(*(), events=events, environ={}, signals=False, **options)

    assert _python_error(python, **kwargs) == expected
    if not kwargs.get("events"):
        assert _python_error(SendConfig.from_options, environ={}, **kwargs) == expected


@pytest.mark.parametrize(("args", "kwargs"), REPLAY)
def test_replay_refuses_as_its_python_twin(invoke, args, kwargs):
    expected = _cli_error(invoke, "replay", __file__, *args)
    assert _python_error(send, replay=__file__, environ={}, signals=False, **kwargs) == expected


@pytest.mark.parametrize(("args", "kwargs"), GENERATE)
def test_generate_refuses_as_its_python_twin(invoke, args, kwargs):
    expected = _cli_error(invoke, "generate", *args)
    assert _python_error(lambda **k: list(generate(**k)), **kwargs) == expected


@pytest.mark.parametrize(("args", "kwargs"), AUDIT)
def test_audit_refuses_as_its_python_twin(invoke, tmp_path, monkeypatch, args, kwargs):
    monkeypatch.chdir(tmp_path)
    expected = _cli_error(invoke, "audit", "--url", URL, "--secret", "s", *args)
    options = {"secret": "s", **kwargs}
    assert _python_error(lambda **k: audit(URL, environ={}, **k), **options) == expected


@pytest.mark.parametrize(("args", "kwargs"), RECEIVE)
def test_receive_refuses_as_its_python_twin(invoke, args, kwargs):
    expected = _cli_error(invoke, "receive", *args)
    assert _python_error(Receiver.from_options, environ={}, **kwargs) == expected


def test_typed_configs_keep_the_rules_the_command_line_keeps():
    # What a CLI-only check used to allow from Python.
    refused = [
        ({"insecure": True, "ca_bundle": __file__}, "'--insecure': cannot be combined with"),
        ({"log_bodies": True}, "'--log-bodies': needs --log FILE"),
        ({"rate": 5.0, "arrivals": "poisson", "stages": None, "ramp": (1.0, 2.0),
          "duration": 1.0}, "'--ramp': cannot be combined with --rate"),
        ({"keep_signature": True, "scheme": "github"}, "'--keep-signature': cannot be"),
    ]  # fmt: skip
    for fields, message in refused:
        with pytest.raises(UsageError, match=message):
            SendConfig(**fields)


def test_the_voucherify_schedule_retries_as_voucherify_does():
    assert RetryPolicy(schedule="voucherify").limit == 12
    assert RetryPolicy().limit == 0 and RetryPolicy(schedule="voucherify", retries=3).limit == 3
    assert SendConfig.from_options(retry_schedule="voucherify", environ={}).retry.limit == 12


# -- the command line's text, and the rules of a run -----------------------------------


def test_parse_statuses():
    assert parse_statuses("2xx") == frozenset(range(200, 300))
    assert parse_statuses("200, 202") == {200, 202}
    assert parse_statuses("200-202,204") == {200, 201, 202, 204}
    with pytest.raises(UsageError, match=r"invalid status list 'ok': use e.g. 2xx"):
        parse_statuses("ok")


def test_urls_and_headers():
    assert check_url("https://h.test:8443/x") == "https://h.test:8443/x"
    for bad in ("ftp://h/", "http:///x", "localhost:80", "http://h:99999/"):
        with pytest.raises(UsageError, match="invalid URL"):
            check_url(bad)
    assert public_url("https://user:pw@h.test:8443/x?q=1") == "https://h.test:8443/x?q=[redacted]"
    assert public_url("http://h.test/x?token=s3cr3t&v=2") == (
        "http://h.test/x?token=[redacted]&v=[redacted]"
    )
    assert public_url("http://[::1]:80/x") == "http://[::1]:80/x"
    assert parse_header("X-Team:  payments ") == ("X-Team", "payments")
    with pytest.raises(UsageError, match=r"invalid header 'X-Team payments'"):
        parse_header("X-Team payments")
    assert parse_header("Host: api.example.com") == ("Host", "api.example.com")
    assert parse_header("Connection: Close") == ("Connection", "Close")
    with pytest.raises(UsageError) as caught:
        parse_header("Connection: keep-alive")
    assert str(caught.value) == (
        "invalid header 'Connection: keep-alive': only 'Connection: close' (a new connection "
        "for every request) can be asked for"
    )
    for framing in ("Content-Length: 5", "transfer-encoding: chunked"):
        name = framing.split(":")[0]
        with pytest.raises(UsageError) as caught:
            parse_header(framing)
        assert str(caught.value) == f"invalid header '{framing}': the sender sets {name} itself"


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("X-Foo: bar\nbaz", "X-Foo: bar\\nbaz"),
        ("X-Foo: bar\r\nX-Evil: 1", "X-Foo: bar\\r\\nX-Evil: 1"),
        ("X-Foo: a\x00b", "X-Foo: a\\x00b"),
        ("X-F\x7foo: bar", "X-F\\x7foo: bar"),
    ],
)
def test_headers_with_control_characters_are_usage_errors(text, shown):
    message = (
        f"invalid header '{shown}': a header cannot contain control characters such as CR or LF"
    )
    with pytest.raises(UsageError) as caught:
        parse_header(text)
    assert str(caught.value) == message
    name, _, value = text.partition(":")
    with pytest.raises(UsageError) as caught:
        SendConfig(headers=((name, value.strip()),))
    assert str(caught.value) == f"Invalid value for '-H' / '--header': {message}"
    assert parse_header("X-Tab: a\tb") == ("X-Tab", "a\tb")  # tab is allowed in a value


def test_retry_policies():
    rng = random.Random(1)
    exponential = RetryPolicy(retries=5)
    delays = [exponential.delay(n, 0.0, rng) for n in range(1, 10)]
    assert all(0 <= d <= min(60.0, 2 ** (n - 1)) for n, d in enumerate(delays, 1))
    voucherify = RetryPolicy(retries=12, schedule="voucherify", time_scale=0.001)
    assert voucherify.delay(1, 0.0, rng) == pytest.approx(0.06)
    assert voucherify.delay(3, 0.1, rng) == pytest.approx(0.14)
    assert voucherify.delay(12, 0.0, rng) == pytest.approx(86.4)
    assert VOUCHERIFY_OFFSETS_S[:3] == (60.0, 120.0, 240.0) and len(VOUCHERIFY_OFFSETS_S) == 12
    assert RetryPolicy(schedule="none").delay(4, 0.0, rng) == 0.0
    assert voucherify.retry_after_wait(30.0) == pytest.approx((0.03, 0.03))  # scaled too


def test_a_retry_after_is_scaled_then_capped():
    policy = RetryPolicy(retries=1, time_scale=0.5, max_retry_after_s=60.0)
    assert policy.retry_after_wait(100.0) == (50.0, 50.0)
    assert policy.retry_after_wait(86_400.0) == (60.0, 43_200.0)
    with pytest.raises(UsageError, match="invalid max Retry-After -1"):
        RetryPolicy(max_retry_after_s=-1)


def test_retry_after_reads_seconds_and_dates():
    assert parse_retry_after("7", 0.0) == 7.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:10 GMT", 1445412480.0) == 10.0
    assert parse_retry_after("soon", 0.0) is None
    assert parse_retry_after(None, 0.0) is None


def test_conflicting_plans_are_usage_errors():
    with pytest.raises(UsageError) as caught:
        SendConfig(url="http://127.0.0.1:1/", ramp=(1.0, 5.0))
    assert str(caught.value) == (
        "Invalid value for '--ramp': needs --duration, e.g. --ramp 10/s..500/s --duration 1m"
    )
    with pytest.raises(UsageError) as caught:
        SendConfig(url="http://127.0.0.1:1/", rate=5.0, ramp=(1.0, 5.0), duration=1.0)
    assert str(caught.value) == "Invalid value for '--ramp': cannot be combined with --rate"


def test_options_may_be_the_command_lines_text():
    config = SendConfig.from_options(
        rate="3000/m", duration="1m30s", timeout="2s", grace="500ms", workers="auto",
        expect_status="200,202", headers={"X-Team": "payments"}, events="customer.order.paid",
    )  # fmt: skip
    assert (config.rate, config.duration, config.timeout, config.grace) == (50.0, 90.0, 2.0, 0.5)
    assert config.workers == (os.cpu_count() or 1)
    assert config.expect_status == {200, 202} and config.events == ("customer.order.paid",)
    assert config.headers == (("X-Team", "payments"),)
    text = SendConfig.from_options
    assert text(headers=["X-Team: payments"]).headers == (("X-Team", "payments"),)
    assert text(rate="max").closed
    assert text(ramp="10/s..500/s", duration="30s").ramp == (10.0, 500.0)
    assert text(stages="1s:5/s,2s:0/s").stages == (Stage(1.0, 5.0), Stage(2.0, 0.0))
    assert text(stages=[(1.0, 5.0)]).stages == (Stage(1.0, 5.0),)
    assert text(rate="50/s", environ={}) == text(rate=50.0, environ={})


def test_send_takes_text_options_and_names_an_unknown_one():
    result = send(count=5, rate="50/s", timeout="5s", environ={}, signals=False, dead_letter=None,
                  thresholds=["success>=100%"])  # fmt: skip
    assert result.outcome == "ok" and result.stats.delivered == 5
    assert result.config.rate == 50.0 and result.thresholds[0].ok
    with pytest.raises(UsageError) as caught:
        send(count=5, x=1)
    assert str(caught.value) == "unknown option 'x'"
    with pytest.raises(UsageError) as caught:
        send(count=5, rate="fast")
    assert str(caught.value) == (
        "Invalid value for '--rate': invalid rate 'fast': use e.g. 50/s, 3000/m, max"
    )
    with pytest.raises(UsageError) as caught:
        send(workers="lots")
    assert str(caught.value) == (
        "Invalid value for '--workers': invalid workers 'lots': use a number of at least 1, or auto"
    )


def test_a_missing_secret_fails_before_any_io():
    with pytest.raises(UsageError, match="signing scheme 'voucherify' needs a secret"):
        send(url=f"http://127.0.0.1:{closed_port()}/", environ={}, signals=False)

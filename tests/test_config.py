"""One place refuses a bad run: every usage error of the command line has a Python twin
that raises the same words (SendConfig, GenerationOptions, Behaviour, Receiver)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from simulator import audit, generate, send
from simulator.cli import run
from simulator.errors import UsageError
from simulator.receiving.receiver import Receiver
from simulator.sending.config import SendConfig
from simulator.sending.retry import RetryPolicy

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
    (["--seed", "-1"], {"seed": -1}),
    (["--now", "yesterday"], {"now": "yesterday"}),
    (["--now", "0001-01-01T00:00:00Z"], {"now": "0001-01-01T00:00:00Z"}),
    (["--locale", "xx_XX"], {"locale": "xx_XX"}),
    (["--scenario", "promo"], {"scenario": "promo"}),
    (["--envelope", "v1999"], {"envelope": "v1999"}),
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
    ([], {}),  # the default scheme needs a secret
]  # fmt: skip


def _cli_error(*args: str) -> str:
    """The error line of `webhook-sim ARGS`, which must exit 2 with no traceback."""
    runner = CliRunner()
    with runner.isolation(env={"WEBHOOK_SECRET": None}) as (out, err, _):
        code = run(list(args))
    text = err.getvalue().decode()
    assert code == 2, text
    assert "Traceback" not in text and out.getvalue() == b""
    last = text.splitlines()[-1]
    assert last.startswith("Error: "), text
    return last.removeprefix("Error: ")


def _python_error(call, **kwargs) -> str:
    with pytest.raises(UsageError) as caught:
        call(**kwargs)
    return str(caught.value)


@pytest.mark.parametrize(("args", "kwargs"), SEND)
def test_send_refuses_as_its_python_twin(tmp_path, monkeypatch, args, kwargs):
    monkeypatch.chdir(tmp_path)
    expected = _cli_error("send", *args)

    def python(events=(), **options):
        return send(*(), events=events, environ={}, signals=False, **options)

    assert _python_error(python, **kwargs) == expected
    if not kwargs.get("events"):
        assert _python_error(SendConfig.from_options, environ={}, **kwargs) == expected


@pytest.mark.parametrize(("args", "kwargs"), REPLAY)
def test_replay_refuses_as_its_python_twin(args, kwargs):
    expected = _cli_error("replay", __file__, *args)
    assert _python_error(send, replay=__file__, environ={}, signals=False, **kwargs) == expected


@pytest.mark.parametrize(("args", "kwargs"), GENERATE)
def test_generate_refuses_as_its_python_twin(args, kwargs):
    expected = _cli_error("generate", *args)
    assert _python_error(lambda **k: list(generate(**k)), **kwargs) == expected


@pytest.mark.parametrize(("args", "kwargs"), AUDIT)
def test_audit_refuses_as_its_python_twin(tmp_path, monkeypatch, args, kwargs):
    monkeypatch.chdir(tmp_path)
    expected = _cli_error("audit", "--url", URL, "--secret", "s", *args)
    options = {"secret": "s", **kwargs}
    assert _python_error(lambda **k: audit(URL, environ={}, **k), **options) == expected


@pytest.mark.parametrize(("args", "kwargs"), RECEIVE)
def test_receive_refuses_as_its_python_twin(args, kwargs):
    expected = _cli_error("receive", *args)
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

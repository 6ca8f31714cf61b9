"""Shared fixtures and constants: the CLI run in-process through its real error boundary,
one clock, one secret, and paths. The project's own receiver comes from its pytest
plugin: `webhook_receiver`, built with other Receiver keywords by `@receiver_with(...)`
(an indirect parametrization); `make_receiver` starts more of them, or one mid-test."""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from simulator.cli import run
from simulator.pytest_plugin import SECRET, default_secret
from simulator.receiving.receiver import Receiver

__all__ = [
    "DISTINCT_SECRET",
    "FIXTURES",
    "NOW",
    "ORDER_EVENTS",
    "ROOT",
    "SECRET",
    "VOUCHERIFY",
    "CliResult",
    "closed_port",
    "receiver_with",
]

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "fixtures"
VOUCHERIFY = FIXTURES / "voucherify"
NOW = "2024-03-12T14:41:49.128Z"  # the docs example's time: --now in every seeded test
# For the tests that look for the secret in what a run wrote: a value no output has by chance.
DISTINCT_SECRET = "s3cr3t-value-for-tests"
ORDER_EVENTS = (
    "customer.order.created",
    "customer.order.updated",
    "customer.order.paid",
    "customer.order.canceled",
)


@dataclass
class CliResult:
    code: int
    out: str
    err: str
    stdout_bytes: bytes


@pytest.fixture
def invoke():
    """Run `webhook-sim ARGS` in-process through main's error boundary, with no
    $WEBHOOK_SECRET unless `env` sets one."""

    def _invoke(*args: str, input: str | None = None, env: dict | None = None) -> CliResult:
        runner = CliRunner()
        with runner.isolation(input=input, env={"WEBHOOK_SECRET": None, **(env or {})}) as (
            out,
            err,
            _,
        ):
            code = run(list(args))
        raw = out.getvalue()
        return CliResult(code, raw.decode(), err.getvalue().decode(), raw)

    return _invoke


def receiver_with(**options: Any) -> pytest.MarkDecorator:
    """Mark a test whose `webhook_receiver` takes these Receiver keywords, e.g.
    `@receiver_with(behaviour=Behaviour(status=500))`."""
    return pytest.mark.parametrize(
        "webhook_receiver", [options], indirect=True, ids=["+".join(options)]
    )


@pytest.fixture
def make_receiver() -> Iterator[Callable[..., Receiver]]:
    """Start a Receiver with these keywords (by default as `webhook_receiver`: voucherify,
    the plugin's secret); every one started is stopped after the test. For a test with
    two receivers, or one whose options come from the test (a record in tmp_path)."""
    with contextlib.ExitStack() as running:

        def start(**options: Any) -> Receiver:
            options.setdefault("scheme", "voucherify")
            options.setdefault("secret", default_secret(options["scheme"]))
            return running.enter_context(Receiver(**options))

        yield start


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (it was free a moment ago)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def self_signed(tmp_path) -> tuple[Path, Path]:
    """(certificate, key) of a fresh self-signed certificate for 127.0.0.1."""
    return make_self_signed(tmp_path)


def make_self_signed(folder: Path, name: str = "IP:127.0.0.1") -> tuple[Path, Path]:
    """(certificate, key) in `folder`, self-signed for `name` (a subjectAltName entry)."""
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command")
    folder.mkdir(parents=True, exist_ok=True)
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "1",
         "-subj", f"/CN={name.partition(':')[2]}", "-addext", f"subjectAltName={name}"],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key

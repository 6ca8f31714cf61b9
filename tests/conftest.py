"""Shared fixtures: the CLI run in-process through its real error boundary, and paths."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from simulator.cli import run

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "fixtures"
VOUCHERIFY = FIXTURES / "voucherify"
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
    """Run `webhook-sim ARGS` in-process through main's error boundary."""

    def _invoke(*args: str, input: str | None = None, env: dict | None = None) -> CliResult:
        runner = CliRunner()
        with runner.isolation(input=input, env=env) as (out, err, _):
            code = run(list(args))
        raw = out.getvalue()
        return CliResult(code, raw.decode(), err.getvalue().decode(), raw)

    return _invoke


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

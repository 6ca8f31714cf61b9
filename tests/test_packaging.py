"""A wheel installed (not editable) and run from another directory finds its data files."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from conftest import ROOT

SHIPPED = ("setup.cfg", "pyproject.toml", "README.md", "simulator", "templates")


def test_the_installed_wheel_generates_and_validates_from_another_directory(tmp_path: Path) -> None:
    source = tmp_path / "src"
    source.mkdir()
    for name in SHIPPED:
        if (ROOT / name).is_dir():
            skip = shutil.ignore_patterns("__pycache__")
            shutil.copytree(ROOT / name, source / name, ignore=skip)
        else:
            shutil.copy2(ROOT / name, source / name)
    dist, site, elsewhere = tmp_path / "dist", tmp_path / "site", tmp_path / "elsewhere"
    elsewhere.mkdir()
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "wheel", "--no-deps", "-w", str(dist), str(source)], check=True)
    (wheel,) = dist.glob("webhook_simulator-*.whl")
    subprocess.run([*pip, "install", "--no-deps", "--target", str(site), str(wheel)], check=True)

    # Dependencies come from this interpreter; the project itself only from the wheel.
    env = {**os.environ, "PYTHONPATH": str(site)}
    script = site / "bin" / "webhook-sim"

    def run(*args: str, input: bytes | None = None) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(script), *args], cwd=elsewhere, env=env, input=input, capture_output=True
        )

    located = subprocess.run(
        [sys.executable, "-c", "import simulator; print(simulator.__file__)"],
        cwd=elsewhere, env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert located.stdout.startswith(str(site))
    events = run("events")
    assert events.returncode == 0, events.stderr
    assert b"customer.order.created" in events.stdout
    generated = run("generate", "customer.order.paid", "-n", "5", "--seed", "1")
    assert generated.returncode == 0, generated.stderr
    assert json.loads(generated.stdout.splitlines()[0])["event"]["type"] == "customer.order.paid"
    validated = run("validate", input=generated.stdout)
    assert validated.returncode == 0, validated.stdout + validated.stderr
    assert validated.stdout == b"5 checked, 5 valid, 0 invalid\n"
    # The inspector page's files and the HTML report's style are package data too.
    for data in ("receiving/static/inspector.html", "receiving/static/inspector.js",
                 "receiving/static/inspector.css", "reports/report.css"):  # fmt: skip
        assert (site / "simulator" / data).is_file(), data

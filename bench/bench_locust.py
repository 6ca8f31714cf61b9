"""Unique signed events/s on this machine: `send --workers 2` against Locust with a master
and 2 workers running WebhookUser, on the same loopback sink, in one run.

  (a) `webhook-sim send --rate max --workers N --duration S`: send's own engine;
  (b) `locust --master` and N `locust --worker` processes, --users users (FastHttpUser,
      one request out each, no wait), for S seconds, then `webhook-sim merge` of the parts.

Both sides build, sign and account for every event with the same code; the figure for
each is its report's send_rate (first attempts per second between the first and the last
send), so neither counts start-up or wind-down. (a) and (b) alternate for --rounds
rounds, since this machine's speed drifts from minute to minute, and the median ratio is
reported. Needs the locust extra.

    python bench/bench_locust.py [--seconds 20] [--rounds 3] [--workers 2] [--users 128]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from bench_send import sink

ROOT = Path(__file__).resolve().parents[1]
SECRET = "bench-secret"
LOCUSTFILE = """
from simulator.locust import WebhookUser


class Bench(WebhookUser):
    events = ("customer.order.created",)
"""


def _env() -> dict[str, str]:
    path = os.pathsep.join(filter(None, (str(ROOT), os.environ.get("PYTHONPATH"))))
    return {**os.environ, "PYTHONPATH": path, "WEBHOOK_SECRET": SECRET}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run_send(url: str, workers: int, seconds: float, folder: Path) -> dict:
    """send's report of a --rate max run."""
    report = folder / "send.json"
    command = [
        sys.executable, "-m", "simulator", "send", "--url", url, "--rate", "max",
        "--workers", str(workers), "--duration", f"{seconds:g}s", "--seed", "1", "--quiet",
        "--no-summary", "--dead-letter", os.devnull, "--report", str(report),
    ]  # fmt: skip
    subprocess.run(command, env=_env(), check=True)
    return json.loads(report.read_text())


def run_locust(url: str, workers: int, users: int, seconds: float, folder: Path) -> dict:
    """The merged report of a Locust run: a master and `workers` workers."""
    locustfile = folder / "locustfile.py"
    locustfile.write_text(LOCUSTFILE)
    parts, port = folder / "parts", str(_free_port())
    common = [sys.executable, "-m", "locust", "-f", str(locustfile), "--loglevel", "WARNING"]
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    worker = [*common, "--worker", "--master-port", port]
    procs = [
        subprocess.Popen(worker, cwd=folder, env=_env(), **quiet)  # type: ignore[call-overload]
        for _ in range(workers)
    ]
    try:
        master = [
            *common, "--headless", "--master", "--expect-workers", str(workers),
            "--master-bind-host", "127.0.0.1", "--master-bind-port", port, "--host", url,
            "-u", str(users), "-r", str(users), "-t", f"{seconds:g}s", "--stop-timeout", "5",
            "--webhook-out", str(parts), "--json-file", str(folder / "locust"),
        ]  # fmt: skip
        run = subprocess.run(master, cwd=folder, env=_env(), capture_output=True, text=True)
        if not (folder / "locust.json").exists():
            raise RuntimeError(f"the Locust master failed: {run.stderr[-2000:]}")
    finally:
        for proc in procs:
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.terminate()  # its master is gone: nothing more will come of it
                proc.wait()
    report = folder / "merged.json"
    merge = [sys.executable, "-m", "simulator", "merge", str(parts), "-q", "--report", str(report)]
    subprocess.run(merge, env=_env(), check=False)
    merged = json.loads(report.read_text())
    stats = json.loads((folder / "locust.json").read_text())
    merged["locust_requests"] = sum(entry["num_requests"] for entry in stats)
    return merged


def _line(name: str, report: dict) -> str:
    counts = report["counts"]
    errors = sum(report["error_kinds"].values())
    return (
        f"{name}: {report['send_rate']:,.0f} unique signed events/s ({counts['delivered']:,} "
        f"delivered of {counts['events']:,}, {errors} errors, service p50 "
        f"{report['latency_ms']['service']['p50']} ms, p99 "
        f"{report['latency_ms']['service']['p99']} ms)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each run")
    parser.add_argument("--rounds", type=int, default=3, help="alternating runs of (a), (b)")
    parser.add_argument("--workers", type=int, default=2, help="processes on each side")
    parser.add_argument("--users", type=int, default=128, help="Locust users, all workers")
    args = parser.parse_args()
    ratios = []
    with sink() as (url, what), tempfile.TemporaryDirectory() as tmp:
        print(f"sink: {what} at {url}; {os.cpu_count()} CPUs; {args.workers} processes a side")
        for round_ in range(1, args.rounds + 1):
            folder = Path(tmp) / f"round{round_}"
            folder.mkdir()
            a = run_send(url, args.workers, args.seconds, folder)
            print(f"(a) round {round_}: " + _line(f"send --rate max --workers {args.workers}", a))
            b = run_locust(url, args.workers, args.users, args.seconds, folder)
            name = f"Locust, master + {args.workers} workers, {args.users} users"
            print(f"(b) round {round_}: " + _line(name, b) + f"; Locust counted "
                  f"{b['locust_requests']:,} requests")  # fmt: skip
            ratios.append(b["send_rate"] / a["send_rate"])
            print(f"    ratio b/a {ratios[-1]:.2f}")
    print(f"ratio b/a over {args.rounds} rounds: median {statistics.median(ratios):.2f}, "
          f"range {min(ratios):.2f}-{max(ratios):.2f}")  # fmt: skip


if __name__ == "__main__":
    main()

"""How fast `send` delivers unique signed webhooks, how exactly it keeps a rate, and its memory.

Against a loopback sink (nginx answering `return 200` when installed, else a minimal
aiohttp.web process), in one run:

  (p) one response framed by the ResponseReader of this tree and of --baseline (a git
      ref, exported to a temporary tree: today's code before the change measured here),
      alternating rounds: µs per response, best round and median;
  (i) send's own client's instructions per request, this tree and --baseline (under
      valgrind, when installed: a count that a busy machine does not move);
  (a) the rate `send --rate max --workers auto` sustains for --seconds with zero errors:
      every request a freshly generated, signed customer.order.created; (a0) the same
      from the --baseline tree;
  (b) plain aiohttp POSTing one static body, same processes and concurrency: the ceiling
      Python reaches on this box; (a)/(b) is what generation and bookkeeping cost;
  (b') send's own client POSTing the same static body: what HTTP alone costs `send`,
      so that (a)/(b') is what generation, signing and bookkeeping cost; also its CPU
      time per request, which a slow sink does not hide; (b'0) the same from --baseline.
      (a), (a0), (b), (b'), (b'0) alternate for --rounds rounds, this tree and the
      baseline swapping places every other round; medians of the ratios;
  (c) --rate 1000/s for --seconds: achieved rate, its error, p99 schedule lag;
  (d) peak RSS of an --events run at --rate max, next to one a tenth as long (flat memory
      means the two peaks are close);
  (e) with --faults, and nothing else: send --rate max with --duplicates 2% --tamper 1%
      against send without them, alternating, in events delivered per second.

    python bench/bench_send.py [--seconds 20] [--events 1000000] [--workers auto]
    python bench/bench_send.py --events 0        # (p), (i), (a), (b) and (c) only: a few minutes
    python bench/bench_send.py --faults --baseline 30bf384   # (e) alone, with a baseline
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import re
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import _baseline  # noqa: E402
from _baseline import CONCURRENCY, SECRET  # noqa: E402

from simulator.generation.payloads import PayloadFactory  # noqa: E402
from simulator.sending.api import send  # noqa: E402
from simulator.sending.http1 import ResponseReader  # noqa: E402
from simulator.sending.request import request_head, target  # noqa: E402

NGINX_CONF = """
worker_processes 2;
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    keepalive_requests 100000;
    keepalive_timeout 60s;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    server {{
        listen 127.0.0.1:{port};
        location / {{ return 200; }}
    }}
}}
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_listening(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"the sink on port {port} did not start")


def _aiohttp_sink(port: int) -> None:
    from aiohttp import web

    async def ok(request: web.Request) -> web.Response:
        await request.read()
        return web.Response()

    app = web.Application()
    app.router.add_post("/{tail:.*}", ok)
    try:
        import uvloop

        loop_factory = uvloop.new_event_loop
    except ImportError:
        loop_factory = None
    web.run_app(
        app,
        host="127.0.0.1",
        port=port,
        access_log=None,
        print=None,
        loop=loop_factory and loop_factory(),
    )


@contextmanager
def sink() -> Iterator[tuple[str, str]]:
    """(url, description) of a loopback server that answers 200 to everything."""
    port = _free_port()
    nginx = shutil.which("nginx")
    if nginx:
        with tempfile.TemporaryDirectory() as tmp:
            conf = Path(tmp) / "nginx.conf"
            conf.write_text(NGINX_CONF.format(tmp=tmp, port=port))
            process = subprocess.Popen(
                [nginx, "-c", str(conf), "-p", tmp, "-e", f"{tmp}/error.log"]
            )
            try:
                _wait_listening(port)
                yield f"http://127.0.0.1:{port}/hooks", "nginx `return 200`, 2 workers"
            finally:
                process.terminate()
                process.wait()
        return
    process = multiprocessing.get_context("spawn").Process(target=_aiohttp_sink, args=(port,))
    process.start()
    try:
        _wait_listening(port)
        yield f"http://127.0.0.1:{port}/hooks", "aiohttp.web sink (nginx not installed), 1 process"
    finally:
        process.terminate()
        process.join()


# -- (b) the plain aiohttp baseline; (p) the sink's answer ------------------------------------


def _aiohttp_client(url: str, body: bytes, seconds: float, start_at: float, out: object) -> None:
    import aiohttp

    headers = {"Content-Type": "application/json"}

    async def main() -> int:
        done = 0
        connector = aiohttp.TCPConnector(limit=CONCURRENCY)
        async with aiohttp.ClientSession(connector=connector) as session:
            await asyncio.sleep(max(start_at - time.time(), 0))
            end = time.monotonic() + seconds

            async def task() -> None:
                nonlocal done
                while time.monotonic() < end:
                    async with session.post(url, data=body, headers=headers) as response:
                        await response.read()
                        done += response.status == 200

            await asyncio.gather(*(task() for _ in range(CONCURRENCY)))
        return done

    try:
        import uvloop

        done = uvloop.run(main())
    except ImportError:
        done = asyncio.run(main())
    out.put(done)  # type: ignore[attr-defined]


def aiohttp_rate(url: str, body: bytes, processes: int, seconds: float) -> float:
    """Requests/s of `processes` aiohttp ClientSessions POSTing one static body."""
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    start_at = time.time() + 2.0  # after every process has imported aiohttp
    clients = [
        ctx.Process(target=_aiohttp_client, args=(url, body, seconds, start_at, out))
        for _ in range(processes)
    ]
    for client in clients:
        client.start()
    total = sum(out.get() for _ in clients)
    for client in clients:
        client.join()
    return total / seconds


def sink_answer(url: str, body: bytes) -> bytes:
    """The bytes of the sink's answer to one POST of `body`, as send's client gets them."""
    to = target(url)
    reader, answer = ResponseReader(), b""
    with socket.create_connection((to.host, to.port), timeout=5) as sock:
        sock.sendall(request_head(to, {"Content-Type": "application/json"}, len(body)) + body)
        while True:
            data = sock.recv(65536)
            answer += data
            if reader.feed(data) or not data:
                return answer


# -- (d) memory -------------------------------------------------------------------------------


def peak_rss_mb(url: str, events: int) -> tuple[float, float]:
    """(peak RSS in MB, seconds) of `send --count events --rate max` in its own process."""
    command = [
        sys.executable, "-m", "simulator", "send", "--url", url, "--secret", SECRET,
        "--count", str(events), "--rate", "max", "--quiet", "--no-summary",
        "--dead-letter", os.devnull,
    ]  # fmt: skip
    # A wrapper process, so that RUSAGE_CHILDREN covers this one run and nothing else.
    wrapper = (
        "import resource, subprocess, sys, time\n"
        "t = time.monotonic()\n"
        "code = subprocess.run(sys.argv[1:]).returncode\n"
        "peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n"
        "print(code, peak, time.monotonic() - t)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-c", wrapper, *command], capture_output=True, text=True, env=env
    )
    code, peak_kb, seconds = result.stdout.split()
    if code != "0":
        raise RuntimeError(f"the {events}-event run failed with exit code {code}")
    return int(peak_kb) / 1024, float(seconds)


def _delivered(report: dict) -> str:
    errors = sum(report["error_kinds"].values())
    return (
        f"{report['achieved_rate']:,.0f} unique signed deliveries/s ("
        f"{report['counts']['delivered']:,} in {report['duration_s']:.1f}s, {errors} errors)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="length of (a), (b), (c)")
    parser.add_argument(
        "--events", type=int, default=1_000_000, help="length of the (d) run; 0 skips it"
    )
    parser.add_argument("--workers", default="auto", help="processes for (a) and (b)")
    parser.add_argument("--rate", type=float, default=1000.0, help="target of (c), events/s")
    parser.add_argument("--rounds", type=int, default=3, help="alternating runs of (a), (b)")
    parser.add_argument(
        "--baseline", default=_baseline.BASELINE_REF, help="git ref of (p), (i), (a0), (b'0)"
    )
    args = parser.parse_args()
    workers = os.cpu_count() or 1 if args.workers == "auto" else int(args.workers)
    body = PayloadFactory(seed=1).build(0).body
    seconds, base = args.seconds, args.baseline

    with sink() as (url, what), _baseline.exported(base) as tree:
        print(f"sink: {what} at {url}; {os.cpu_count()} CPUs; {workers} worker processes")

        http1 = "simulator/sending/http1.py"
        readers = {
            "this tree": _baseline.load_module(ROOT, http1, "http1_this").ResponseReader,
            base: _baseline.load_module(tree, http1, "http1_baseline").ResponseReader,
        }
        chunk = b'{"received": true}'
        answers = {
            "the sink's answer": sink_answer(url, body),
            "a chunked answer": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
            + b"%x\r\n%s\r\n0\r\n\r\n" % (len(chunk), chunk),
        }
        for name, answer in answers.items():
            us = _baseline.parse_us(readers, answer)
            (new, new_median), (old, old_median) = us["this tree"], us[base]
            print(
                f"(p) {name} ({len(answer)} bytes) framed: this tree {new:.2f} µs (median "
                f"{new_median:.2f}), {base} {old:.2f} µs (median {old_median:.2f}); "
                f"{old / new:.1f}x"
            )

        counts = [_baseline.client_instructions(path, url, body) for path in (ROOT, tree)]
        if counts[0] and counts[1]:
            print(
                f"(i) send's own client, static body, 1 process under valgrind: "
                f"{counts[0]:,.0f} instructions per request, {base} {counts[1]:,.0f}; "
                f"{counts[1] / counts[0]:.2f}x"
            )

        # The runs alternate: on a shared machine the speed drifts over minutes, and a
        # ratio of two runs far apart in time would measure that drift. This tree and the
        # baseline swap places every other round, so that a drift favours neither.
        ratios: dict[str, list[float]] = {"a/b": [], "a/a0": [], "b'/b'0": [], "cpu b'0/b'": []}
        for round_ in range(1, args.rounds + 1):
            trees = [("a", ROOT, ""), ("a0", tree, f" at {base}")]
            trees = trees if round_ % 2 else trees[::-1]
            rate = {}
            for key, path, at in trees:
                report = _baseline.send_rate(path, url, seconds, workers)
                rate[key] = report["achieved_rate"]
                print(
                    f"({key}) round {round_}: send --rate max --workers {workers}{at}: "
                    f"{_delivered(report)}"
                )
            a = rate["a"]
            b = aiohttp_rate(url, body, workers, seconds)
            print(
                f"(b) round {round_}: plain aiohttp, static body, {workers} x {CONCURRENCY} "
                f"tasks: {b:,.0f} req/s; ratio a/b {a / b:.2f}, a/a0 {a / rate['a0']:.2f}"
            )
            client = {}
            for key, path, at in trees:
                client[key] = _baseline.client_rate(path, url, body, seconds, workers)
                print(
                    f"(b'{key[1:]}) round {round_}: send's own client{at}, static body, "
                    f"{workers} x {CONCURRENCY} tasks: {client[key][0]:,.0f} req/s, "
                    f"{client[key][1]:.1f} µs client CPU per request"
                )
            (ours, cpu), (ours0, cpu0) = client["a"], client["a0"]
            print(f"    round {round_}: a/b' {a / ours:.2f}, b'/b'0 {ours / ours0:.2f}")
            for key, ratio in zip(
                ratios, (a / b, a / rate["a0"], ours / ours0, cpu0 / cpu), strict=True
            ):
                ratios[key].append(ratio)
        print(
            f"    medians over {args.rounds} rounds: "
            + ", ".join(f"{key} {statistics.median(values):.2f}" for key, values in ratios.items())
        )

        result = send(
            url=url, rate=args.rate, duration=seconds, workers=1, concurrency=CONCURRENCY,
            secret=SECRET, dead_letter=None, seed=1, environ={}, signals=False,
        )  # fmt: skip
        s = result.summary
        achieved = s["achieved_rate"]
        print(
            f"(c) --rate {args.rate:g}/s for {seconds:g}s: achieved {achieved:,.1f}/s "
            f"({(achieved - args.rate) / args.rate:+.2%}), schedule lag p50 "
            f"{s['schedule_lag_ms']['p50']} ms, p99 {s['schedule_lag_ms']['p99']} ms, "
            f"max {s['schedule_lag_ms']['max']} ms; {s['counts']['late']} late, "
            f"{sum(s['error_kinds'].values())} errors"
        )

        small = max(args.events // 10, 1)
        for events in (small, args.events) if args.events else ():
            peak, took = peak_rss_mb(url, events)
            print(
                f"(d) {events:,} events at --rate max (1 process): peak RSS {peak:.0f} MB "
                f"({took:.0f}s, {events / took:,.0f}/s)"
            )


# -- (e) faults mixed in: `send --duplicates 2% --tamper 1%` against send without them ------
#
#     python bench/bench_send.py --faults [--seconds 10] [--rounds 3] [--baseline REF]
#                                         [--instructions N]
#
# `send --rate max` for --seconds against the same sink, in turn: this tree without
# faults, this tree with --duplicates 2% --tamper 1%, and (with --baseline) the project
# at a git ref without faults, each in a fresh process, for --rounds rounds. The figures
# are events delivered per second and per CPU-second of the sender (steadier on a shared
# machine, where the sink takes its own share); ratios are taken within a round. The
# injected requests (about 3 per 100 events) are extra requests on top, as in a run.

FAULTS = {"duplicates": "2%", "tamper": "1%"}


def _faults_run(tree: str | None, url: str, seconds: float, workers: int, faults: dict) -> tuple:
    """(events/s, delivered, injected requests, errors) of one send run, in this process
    (a fresh one: see trees.in_child), importing the project from `tree` when given."""
    if tree is not None:
        from trees import use_tree

        # This script's own imports loaded this tree's simulator in the child: forget it.
        for name in [m for m in sys.modules if m.split(".")[0] == "simulator"]:
            del sys.modules[name]
        use_tree(tree)
    from simulator import send as send_run

    before = resource.getrusage(resource.RUSAGE_SELF)
    result = send_run(
        url=url, rate="max", duration=f"{seconds}s", workers=workers, concurrency=CONCURRENCY,
        secret=SECRET, dead_letter=None, seed=1, environ={}, signals=False, **faults,
    )  # fmt: skip
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    injected = sum(c["sent"] for c in result.summary.get("injected", {}).values())
    errors = sum(result.stats.error_kinds.values())
    delivered = result.stats.delivered
    return result.summary["achieved_rate"], delivered, injected, errors, cpu / max(delivered, 1)


_SEND_CODE = """
import sys
sys.path.insert(0, {tree!r})
from simulator import send
send(url={url!r}, rate="max", count={count}, concurrency=16, secret={secret!r},
     dead_letter=None, seed=1, environ={{}}, signals=False, **{faults!r})
"""


def _instructions(tree: str, url: str, count: int, faults: dict) -> int:
    """Instructions valgrind counts for a `send --count COUNT` run of `tree`."""
    code = _SEND_CODE.format(tree=tree, url=url, count=count, secret=SECRET, faults=faults)
    done = subprocess.run(
        ["valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null",
         sys.executable, "-c", code],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    found = re.search(r"I\s+refs:\s+([\d,]+)", done.stderr)
    if found is None:
        raise SystemExit(f"valgrind printed no instruction count:\n{done.stderr[-2000:]}")
    return int(found.group(1).replace(",", ""))


def per_event(tree: str, url: str, count: int, faults: dict) -> int:
    """Instructions one event costs `send`: runs of COUNT and 3 x COUNT events, so that
    start-up, imports and warm-up cancel out."""
    low, high = (_instructions(tree, url, n, faults) for n in (count, 3 * count))
    return (high - low) // (2 * count)


def faults_main(argv: list[str]) -> None:
    from trees import export, in_child

    parser = argparse.ArgumentParser(description="(e) send with faults vs without")
    parser.add_argument("--faults", action="store_true")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each run")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of the runs in turn")
    parser.add_argument("--workers", type=int, default=1, help="processes for each run")
    parser.add_argument("--baseline", help="git ref whose send (no faults) runs as well")
    parser.add_argument(
        "--instructions", type=int, default=0, metavar="N",
        help="also count instructions per event with valgrind (runs of N and 3N events)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    with sink() as (url, what), tempfile.TemporaryDirectory() as tmp:
        print(f"sink: {what} at {url}; {os.cpu_count()} CPUs; {args.workers} worker processes")
        runs = [("this tree, no faults", None, {}), ("this tree, --duplicates 2% --tamper 1%",
                None, FAULTS)]  # fmt: skip
        if args.baseline:
            runs.append((f"{args.baseline}, no faults", export(args.baseline, tmp), {}))
        ratios: dict[str, list[float]] = {name: [] for name, _, _ in runs[1:]}
        costs: dict[str, list[float]] = {name: [] for name, _, _ in runs[1:]}
        for round_ in range(1, args.rounds + 1):
            rates, cpus = [], []
            for name, tree, faults in runs:
                rate, delivered, injected, errors, cpu = in_child(
                    _faults_run, tree, url, args.seconds, args.workers, faults
                )
                rates.append(rate)
                cpus.append(cpu)
                print(
                    f"(e) round {round_}: {name}: {rate:,.0f} events/s, sender CPU "
                    f"{cpu * 1e6:.0f} us/event ({delivered:,} delivered, {injected:,} "
                    f"injected requests, {errors} errors)"
                )
            for (name, _, _), rate, cpu in zip(runs[1:], rates[1:], cpus[1:], strict=True):
                ratios[name].append(rate / rates[0])
                # Events per sender CPU-second: what send sustains where the CPU is the bound.
                costs[name].append(cpus[0] / cpu)
        for name in ratios:
            for what, values in (("events/s", ratios[name]), ("events/CPU-s", costs[name])):
                shown = ", ".join(f"{v:.3f}" for v in values)
                print(
                    f"    {name} / this tree without faults, {what}: {shown} "
                    f"(median {statistics.median(values):.3f})"
                )
        if args.instructions:
            counted = []
            for name, tree, faults in runs:
                counted.append(per_event(tree or str(ROOT), url, args.instructions, faults))
                ratio = f"; {counted[-1] / counted[0]:.3f} of this tree's" if counted[1:] else ""
                print(f"(e) instructions per event, {name}: {counted[-1]:,}{ratio}")


if __name__ == "__main__":
    if "--faults" in sys.argv[1:]:
        faults_main(sys.argv[1:])
    else:
        main()

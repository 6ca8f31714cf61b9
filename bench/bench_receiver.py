"""Requests per second the mock receiver sustains, against bare aiohttp.web and an older tree.

Each server runs alone in a child process pinned to one core (where the OS allows);
client processes on the other cores drive it with aiohttp: keep-alive connections,
distinct pre-signed bodies from PayloadFactory. Besides requests per second (which the
clients may limit), it prints requests per server CPU-second: what one fully busy core
answers.

The same run measures the project as it was at --baseline (a git ref, exported with
`git archive` to a temporary folder and imported from there in its own processes; it
needs that tree's dependencies installed): the receiver with schema checks on, rounds
alternating with this tree's; validate() per document; and a fresh receiver's first
requests, whose schema is cold. The baseline's receiver is prepared the way its CLI
did (Receiver.prepare) before the throughput rounds.

    python bench/bench_receiver.py --seconds 10 [--rounds 3] [--uvloop] [--clients 2]
    python bench/bench_receiver.py --baseline c49ab12     # the tree to compare with
    python bench/bench_receiver.py --inspector            # the live page open vs closed
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import multiprocessing
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import orjson
from aiohttp import web
from trees import export, in_child, use_tree

ROOT = Path(__file__).resolve().parents[1]
SECRET = "bench-secret"
EVENT = "customer.order.created"
FIRST_REQUESTS = 200  # sequential requests to a fresh receiver; the baseline compiled at 100

# name -> (tree: "this", "baseline" or None for bare aiohttp, Receiver options)
CONFIGS: dict[str, tuple[str | None, dict[str, Any] | None]] = {
    "bare aiohttp.web handler that only returns 200": (None, None),
    "receiver: signature on, schema off": ("this", {"validate_schema": False}),
    "receiver: signature on, schema on": ("this", {"validate_schema": True}),
    "baseline receiver: signature on, schema on": ("baseline", {"validate_schema": True}),
}


def _pin(core: int) -> None:
    # One core for the server, the others for clients: "per core" figures mean what they say.
    if hasattr(os, "sched_setaffinity") and len(os.sched_getaffinity(0)) > 1:
        cores = sorted(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cores[core % len(cores)]})


def _use_loop(uvloop: bool) -> None:
    # Only the server: the client's loop stays the same, so only the server side changes.
    if uvloop:
        import uvloop as _uvloop

        asyncio.set_event_loop_policy(_uvloop.EventLoopPolicy())


# -- servers (child processes) ----------------------------------------------------


async def _serve(options: dict[str, Any] | None, prepare: bool, conn: Any) -> None:
    if options is None:

        async def ok(request: web.Request) -> web.Response:
            await request.read()
            return web.Response()

        app = web.Application()
        app.router.add_post("/", ok)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        stop = runner.cleanup
    else:
        from simulator.receiving.receiver import Behaviour, Receiver

        receiver = Receiver(
            secret=SECRET, keep_requests=False, behaviour=Behaviour(seed=1), **options
        )
        if prepare and options.get("validate_schema") and hasattr(receiver, "prepare"):
            receiver.prepare([EVENT])  # what the baseline's CLI did before listening
        await receiver.start()
        port = receiver.port
        stop = receiver.stop
    conn.send(port)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, conn.recv)  # the warm-up is over
    cpu = time.process_time()
    await loop.run_in_executor(None, conn.recv)
    cpu = time.process_time() - cpu
    await stop()
    conn.send((cpu, None if options is None else receiver.stats.to_dict()))


def _server_main(
    tree: str | None, options: dict[str, Any] | None, prepare: bool, conn: Any, uvloop: bool
) -> None:
    if tree is not None:
        use_tree(tree)
    _pin(0)
    _use_loop(uvloop)
    asyncio.run(_serve(options, prepare, conn))


def _validate_main(tree: str, valid: list[Any], invalid: list[Any]) -> tuple[float, ...]:
    """validate() per document: (first call ms, slowest early call ms, valid µs, invalid µs)."""
    use_tree(tree)
    _pin(0)
    from simulator.schema import validate

    calls = []
    for doc in valid:  # the first uses: a cold schema, and whatever warming it takes
        start = time.perf_counter()
        validate(doc)
        calls.append(time.perf_counter() - start)
    for doc in invalid:
        assert validate(doc), "a broken document passed"

    def per_doc(docs: list[Any], passes: int) -> float:
        best = float("inf")
        for _ in range(passes):
            start = time.perf_counter()
            for doc in docs:
                validate(doc)
            best = min(best, (time.perf_counter() - start) / len(docs))
        return best * 1e6

    return calls[0] * 1e3, max(calls) * 1e3, per_doc(valid, 5), per_doc(invalid, 3)


# -- clients ----------------------------------------------------------------------


async def _drive(
    url: str,
    bodies: list[tuple[bytes, dict[str, str]]],
    seconds: float,
    connections: int,
    sync: Any,
) -> tuple[int, dict[int, int], float, float]:
    """(requests answered, statuses, elapsed, client CPU seconds) over the measured window."""
    connector = aiohttp.TCPConnector(limit=connections)
    statuses: dict[int, int] = {}
    loop = asyncio.get_running_loop()
    async with aiohttp.ClientSession(
        connector=connector, cookie_jar=aiohttp.DummyCookieJar(), auto_decompress=False
    ) as session:

        async def worker(offset: int, until: float) -> int:
            count = 0
            i = offset
            while time.perf_counter() < until:
                body, headers = bodies[i % len(bodies)]
                async with session.post(url, data=body, headers=headers) as resp:
                    await resp.read()
                    statuses[resp.status] = statuses.get(resp.status, 0) + 1
                count += 1
                i += connections
            return count

        async def run(until: float) -> int:
            return sum(await asyncio.gather(*(worker(i, until) for i in range(connections))))

        await run(time.perf_counter() + min(1.0, seconds / 5))  # warm up connections and caches
        statuses.clear()
        await loop.run_in_executor(None, sync.wait)
        cpu = time.process_time()
        start = time.perf_counter()
        done = await run(start + seconds)
        elapsed = time.perf_counter() - start
        cpu = time.process_time() - cpu
        await loop.run_in_executor(None, sync.wait)
    return done, statuses, elapsed, cpu


def _client_main(
    core: int, url: str, bodies: list, seconds: float, connections: int, sync: Any, out: Any
) -> None:
    _pin(core)
    out.put(asyncio.run(_drive(url, bodies, seconds, connections, sync)))


def _bodies(count: int) -> list[tuple[bytes, dict[str, str]]]:
    from simulator.generation.payloads import PayloadFactory
    from simulator.signing import make_signer

    factory = PayloadFactory(EVENT, seed=1, now="2024-03-12T14:41:49Z")
    signer = make_signer("voucherify", SECRET)
    now = int(time.time())
    out = []
    for payload in factory.stream(count=count):
        headers = signer.headers(
            payload.body, msg_id=payload.id, timestamp=now, event_type=payload.event
        )
        out.append((payload.body, {"Content-Type": "application/json", **headers}))
    return out


# -- measurements -----------------------------------------------------------------


def _start_server(tree: str | None, options: Any, prepare: bool, uvloop: bool) -> tuple:
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    server = ctx.Process(target=_server_main, args=(tree, options, prepare, child, uvloop))
    server.start()
    child.close()  # so that a server that dies is an EOFError here, not a hang
    try:
        return server, parent, parent.recv()
    except EOFError:
        raise SystemExit(f"the server ({tree or 'bare aiohttp'}) ended before listening") from None


def _throughput(
    tree: str | None, options: dict[str, Any] | None, bodies: list, args: Any
) -> tuple[float, float, str]:
    """(req/s, req per server CPU-s, details) of one configuration."""
    ctx = multiprocessing.get_context("spawn")
    server, parent, port = _start_server(tree, options, True, args.uvloop)
    url = f"http://127.0.0.1:{port}/"
    sync = ctx.Barrier(args.clients + 1)
    out = ctx.Queue()
    connections = args.concurrency // args.clients
    clients = [
        ctx.Process(
            target=_client_main,
            args=(1 + i, url, bodies, args.seconds, connections, sync, out),
        )
        for i in range(args.clients)
    ]
    for client in clients:
        client.start()
    sync.wait()  # every client is warm: measure from here
    parent.send("measure")
    sync.wait()
    parent.send("stop")
    results = [out.get() for _ in clients]
    for client in clients:
        client.join()
    server_cpu, stats = parent.recv()
    server.join()

    done = sum(r[0] for r in results)
    elapsed = max(r[2] for r in results)
    client_cpu = sum(r[3] for r in results)
    statuses: dict[int, int] = {}
    for r in results:
        for status, n in r[1].items():
            statuses[status] = statuses.get(status, 0) + n
    details = (
        f"(CPU busy: server {server_cpu / elapsed:.0%}, clients {client_cpu / elapsed:.0%})  "
        f"statuses={statuses}"
    )
    if stats is not None and stats["signatures"]["valid"] != stats["received"]:
        details += f"  NOT ALL SIGNATURES VALID: {stats['signatures']}"
    if stats is not None and stats["schema_errors"]:
        details += f"  SCHEMA ERRORS: {stats['schema_errors']}"
    return done / elapsed, done / server_cpu, details


def _first_requests(tree: str, bodies: list, uvloop: bool) -> tuple[float, float, float, int]:
    """A fresh receiver, not prepared, answering one request at a time:
    (first ms, median ms, slowest ms, at which request the slowest came)."""
    server, parent, port = _start_server(tree, {"validate_schema": True}, False, uvloop)
    connection = http.client.HTTPConnection("127.0.0.1", port)
    times = []
    for body, headers in bodies[:FIRST_REQUESTS]:
        start = time.perf_counter()
        connection.request("POST", "/", body=body, headers=headers)
        response = connection.getresponse()
        response.read()
        times.append((time.perf_counter() - start) * 1e3)
        verdict = response.getheader("X-Webhook-Sim-Verdict") or ""
        if response.status != 200 or not verdict.endswith("schema=ok"):
            raise SystemExit(f"unexpected answer {response.status}: {response.headers}")
    connection.close()
    parent.send("measure")
    parent.send("stop")
    parent.recv()
    server.join()
    slowest = max(range(len(times)), key=times.__getitem__)
    return times[0], statistics.median(times), times[slowest], slowest + 1


def _validate_costs(tree: str, bodies: list) -> tuple[float, float, float, float]:
    valid = [orjson.loads(body) for body, _ in bodies]
    invalid = []
    for doc in valid[:200]:
        broken = orjson.loads(orjson.dumps(doc))
        broken["data"]["order"]["amount"] = "2500"
        broken["data"]["customer"]["object"] = "client"
        invalid.append(broken)
    return in_child(_validate_main, tree, valid, invalid)


# -- the inspector page: open vs closed ------------------------------------------------
# `--inspector` compares this tree's receiver (signature and schema on) with its live
# inspector page open and closed, in alternating rounds of one run. "Open" is a real
# page: a client process that holds GET /_sim/events and parses every batch it is sent.
# Two loads: the clients as fast as they go (well above 1,000 req/s), and 1,000 req/s
# paced. The figure that counts is requests per server CPU-second, the receiver's
# capacity; the page may cost it at most 10 %.

INSPECTOR_RATES = {"as fast as the clients go": None, "1,000 req/s paced": 1000.0}


async def _page(url: str, ready: Any, stop: Any) -> tuple[int, int]:
    """Hold the page's event stream open: (messages, rows) received until `stop`."""
    messages = rows = 0
    async with aiohttp.ClientSession() as session, session.get(url) as stream:
        ready.set()
        async for line in stream.content:
            if line.startswith(b"data: "):
                messages += 1
                rows += len(orjson.loads(line[6:])["rows"])
            if stop.is_set():
                break
    return messages, rows


def _page_main(url: str, ready: Any, stop: Any, out: Any) -> None:
    _pin(1)
    out.put(asyncio.run(_page(url, ready, stop)))


async def _paced(
    url: str, bodies: list, seconds: float, connections: int, rate: float | None, sync: Any
) -> tuple[int, dict[int, int], float, float]:
    """_drive with send's own HTTP client, which one core can drive well past 1,000 req/s
    (aiohttp's client here cannot): request n is due n/rate s after the start, or at once
    when rate is None."""
    from simulator.sending.client import Session

    statuses: dict[int, int] = {}
    loop = asyncio.get_running_loop()
    async with Session(url, timeout=10.0) as session:
        await loop.run_in_executor(None, sync.wait)
        cpu, start = time.process_time(), time.perf_counter()
        issued = 0

        async def worker() -> int:
            nonlocal issued
            done = 0
            while True:
                n, issued = issued, issued + 1
                due = start + (n / rate if rate else 0.0)
                now = time.perf_counter()
                if due - start >= seconds or now - start >= seconds:
                    return done
                if due > now:
                    await asyncio.sleep(due - now)
                body, headers = bodies[n % len(bodies)]
                status, *_ = await session.post(body, headers)
                statuses[status or 0] = statuses.get(status or 0, 0) + 1
                done += 1

        done = sum(await asyncio.gather(*(worker() for _ in range(connections))))
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
        await loop.run_in_executor(None, sync.wait)
    return done, statuses, elapsed, cpu


def _paced_main(*args: Any) -> None:
    _pin(1)
    *rest, out = args
    out.put(asyncio.run(_paced(*rest)))


def _with_page(
    page: bool, rate: float | None, bodies: list, args: Any
) -> tuple[float, float, tuple[int, int] | None]:
    """(req/s, req per server CPU-s, (messages, rows) the page got) of one round."""
    ctx = multiprocessing.get_context("spawn")
    server, parent, port = _start_server(str(ROOT), {"validate_schema": True}, True, args.uvloop)
    url = f"http://127.0.0.1:{port}/"
    opened, closing, seen = ctx.Event(), ctx.Event(), ctx.Queue()
    viewer = None
    if page:
        viewer = ctx.Process(target=_page_main, args=(url + "_sim/events", opened, closing, seen))
        viewer.start()
        opened.wait(30)
    sync, out = ctx.Barrier(2), ctx.Queue()
    client = ctx.Process(
        target=_paced_main, args=(url, bodies, args.seconds, args.concurrency, rate, sync, out)
    )
    client.start()
    sync.wait()
    parent.send("measure")
    sync.wait()
    closing.set()
    parent.send("stop")  # the receiver ends the page's stream as it stops
    done, _, elapsed, _ = out.get()
    client.join()
    server_cpu, _ = parent.recv()
    server.join()
    got = None
    if viewer is not None:
        got = seen.get(timeout=30)
        viewer.join()
    return done / elapsed, done / server_cpu, got


def _inspector_comparison(bodies: list, args: Any) -> None:
    print(f"inspector page open vs closed, {args.rounds} alternating rounds:", flush=True)
    ratios: dict[str, list[float]] = {name: [] for name in INSPECTOR_RATES}
    for round_ in range(args.rounds):
        for name, rate in INSPECTOR_RATES.items():
            results = {}
            for page in (False, True) if round_ % 2 == 0 else (True, False):
                results[page] = _with_page(page, rate, bodies, args)
            (closed_rate, closed_cpu, _), (open_rate, open_cpu, got) = results[False], results[True]
            ratios[name].append(open_cpu / closed_cpu)
            print(
                f"  round {round_ + 1}, {name}: closed {closed_rate:7,.0f} req/s "
                f"{closed_cpu:7,.0f} req/CPU-s; open {open_rate:7,.0f} req/s "
                f"{open_cpu:7,.0f} req/CPU-s (the page got {got[0]} messages, {got[1]:,} rows)",
                flush=True,
            )
    for name, values in ratios.items():
        print(
            f"  {name}: page open / closed, req per server CPU-s: median "
            f"{statistics.median(values):.2f} (per round: {', '.join(f'{r:.2f}' for r in values)})"
        )


# -- the inspector page: end ---------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="per configuration")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--bodies", type=int, default=1000, help="distinct pre-signed bodies")
    parser.add_argument("--clients", type=int, default=1, help="client processes")
    parser.add_argument("--uvloop", action="store_true", help="serve with uvloop")
    parser.add_argument("--baseline", default="c49ab12", help="git ref to compare with")
    parser.add_argument(
        "--inspector", action="store_true", help="only: the inspector page open vs closed"
    )
    args = parser.parse_args()

    use_tree(str(ROOT))
    bodies = _bodies(args.bodies)
    if args.inspector:
        return _inspector_comparison(bodies, args)
    size = sum(len(b) for b, _ in bodies) // len(bodies)
    print(
        f"{len(bodies)} bodies (mean {size} B), {args.concurrency} connections, "
        f"{args.seconds:g}s each, {args.rounds} rounds, "
        f"loop={'uvloop' if args.uvloop else 'asyncio'}, {os.cpu_count()} CPUs; "
        f"baseline: {args.baseline}"
    )
    with tempfile.TemporaryDirectory(prefix="bench-baseline-") as tmp:
        trees = {"this": str(ROOT), "baseline": export(args.baseline, tmp)}
        names = {"this": "this tree", "baseline": args.baseline}
        per_doc = {tree: _validate_costs(path, bodies) for tree, path in trees.items()}
        first = {tree: _first_requests(path, bodies, args.uvloop) for tree, path in trees.items()}

        figures: dict[str, list[float]] = {name: [] for name in CONFIGS}
        for round_ in range(args.rounds):
            print(f"round {round_ + 1}:", flush=True)
            order = list(CONFIGS) if round_ % 2 == 0 else list(reversed(CONFIGS))
            for name in order:
                tree, options = CONFIGS[name]
                path = None if tree is None else trees[tree]
                rate, per_cpu, details = _throughput(path, options, bodies, args)
                figures[name].append(per_cpu)
                print(f"  {rate:9,.0f} req/s  {per_cpu:9,.0f} req/CPU-s  {name}  {details}")

    print(f"\nmedian req/CPU-s over {args.rounds} rounds:")
    for name, values in figures.items():
        print(f"  {statistics.median(values):9,.0f}  {name}")
    ours = figures["receiver: signature on, schema on"]
    theirs = figures["baseline receiver: signature on, schema on"]
    ratios = [a / b for a, b in zip(ours, theirs, strict=True)]
    print(
        f"  schema on, this tree / {args.baseline}: median {statistics.median(ratios):.2f}x "
        f"(per round: {', '.join(f'{r:.2f}' for r in ratios)})"
    )

    print(f"\nvalidate() per {EVENT} document (v2024, best pass):")
    for tree, (first_ms, slowest_ms, valid_us, invalid_us) in per_doc.items():
        print(
            f"  {names[tree]:>10}: valid {valid_us:7,.1f} µs, with 2 problems "
            f"{invalid_us:7,.1f} µs; first call (cold schema) {first_ms:6.1f} ms, "
            f"slowest of the first {args.bodies} {slowest_ms:6.1f} ms"
        )
    print(f"\na fresh receiver's first {FIRST_REQUESTS} requests, one at a time, not prepared:")
    for tree, (first_ms, median_ms, slowest_ms, at) in first.items():
        print(
            f"  {names[tree]:>10}: first {first_ms:6.1f} ms, median {median_ms:5.2f} ms, "
            f"slowest {slowest_ms:6.1f} ms (request {at})"
        )


if __name__ == "__main__":
    main()

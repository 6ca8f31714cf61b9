"""Requests per second the mock receiver sustains, against a bare aiohttp.web baseline.

Each server runs alone in a child process pinned to one core (where the OS allows);
client processes on the other cores drive it with aiohttp: keep-alive connections,
distinct pre-signed bodies from PayloadFactory. Besides requests per second (which the
clients may limit), it prints requests per server CPU-second: what one fully busy core
answers.

    python bench/bench_receiver.py --seconds 10 [--uvloop] [--clients 2]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aiohttp
from aiohttp import web

from simulator.generation.payloads import PayloadFactory
from simulator.receiving.receiver import Behaviour, Receiver
from simulator.signing import make_signer

SECRET = "bench-secret"
CONFIGS = {
    "baseline: aiohttp.web handler that only returns 200": None,
    "receiver: signature on, schema off": {"validate_schema": False},
    "receiver: signature on, schema on": {"validate_schema": True},
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


async def _serve(options: dict[str, Any] | None, conn: Any) -> None:
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
        receiver = Receiver(
            secret=SECRET, keep_requests=False, behaviour=Behaviour(seed=1), **options
        )
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


def _server_main(options: dict[str, Any] | None, conn: Any, uvloop: bool) -> None:
    _pin(0)
    _use_loop(uvloop)
    asyncio.run(_serve(options, conn))


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
    factory = PayloadFactory("customer.order.created", seed=1, now="2024-03-12T14:41:49Z")
    signer = make_signer("voucherify", SECRET)
    now = int(time.time())
    out = []
    for payload in factory.stream(count=count):
        headers = signer.headers(
            payload.body, msg_id=payload.id, timestamp=now, event_type=payload.event
        )
        out.append((payload.body, {"Content-Type": "application/json", **headers}))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="per configuration")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--bodies", type=int, default=1000, help="distinct pre-signed bodies")
    parser.add_argument("--clients", type=int, default=1, help="client processes")
    parser.add_argument("--uvloop", action="store_true", help="serve with uvloop")
    args = parser.parse_args()

    bodies = _bodies(args.bodies)
    size = sum(len(b) for b, _ in bodies) // len(bodies)
    print(
        f"{len(bodies)} bodies (mean {size} B), {args.concurrency} connections, "
        f"{args.seconds:g}s each, loop={'uvloop' if args.uvloop else 'asyncio'}, "
        f"{os.cpu_count()} CPUs"
    )
    for name, options in CONFIGS.items():
        print(_measure(name, options, bodies, args), flush=True)


def _measure(name: str, options: dict[str, Any] | None, bodies: list, args: Any) -> str:
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    server = ctx.Process(target=_server_main, args=(options, child, args.uvloop))
    server.start()
    url = f"http://127.0.0.1:{parent.recv()}/"
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
    line = (
        f"{done / elapsed:9,.0f} req/s  {done / server_cpu:9,.0f} req/CPU-s  {name}  "
        f"(CPU busy: server {server_cpu / elapsed:.0%}, clients {client_cpu / elapsed:.0%})  "
        f"statuses={statuses}"
    )
    if stats is not None and stats["signatures"]["valid"] != stats["received"]:
        line += f"  NOT ALL SIGNATURES VALID: {stats['signatures']}"
    return line


if __name__ == "__main__":
    main()

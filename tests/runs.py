"""Helpers for the tests of send runs (test_engine.py, test_attempts.py): send() with the
tests' seed, clock and secret, and tiny servers on 127.0.0.1 for answers the project's
Receiver does not give."""

from __future__ import annotations

import asyncio
import contextlib
import threading

from aiohttp import web
from conftest import NOW, SECRET

from simulator.generation.options import GenerationOptions
from simulator.sending.api import send
from simulator.sending.results import SendResult

FACTORY = {"seed": 7, "now": NOW}
GEN = GenerationOptions.from_options(**FACTORY)


def send_to(url: str | None, **options) -> SendResult:
    """send() to `url` (None: the built-in receiver) with the tests' seed, clock and
    secret unless `options` say otherwise, and no signal handlers."""
    for name, value in FACTORY.items():
        options.setdefault(name, value)
    options.setdefault("secret", SECRET)
    return send(signals=False, **{"url": url, **options})


@contextlib.contextmanager
def _looping(start):
    """A loop in a thread that first awaits `start()`: (port, coroutine function to stop)."""
    loop = asyncio.new_event_loop()
    started = threading.Event()
    box = {}

    def run():
        box["port"], box["stop"] = loop.run_until_complete(start())
        started.set()
        loop.run_forever()
        loop.run_until_complete(box["stop"]())

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    started.wait()
    try:
        yield box["port"]
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join()


@contextlib.contextmanager
def serve(handler, tls=None):
    """A tiny aiohttp server on 127.0.0.1 for behaviours the Receiver does not have."""

    async def start():
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", handler)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=tls)
        await site.start()
        return runner.addresses[0][1], runner.cleanup

    with _looping(start) as port:
        yield f"{'https' if tls else 'http'}://127.0.0.1:{port}/hooks"


@contextlib.contextmanager
def raw_server(answer):
    """A server on 127.0.0.1 whose answers are the bytes `answer(reader, writer)` writes,
    HTTP or not: for answers no HTTP server library would send."""

    async def handle(reader, writer):
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            await answer(reader, writer)  # the pre-flight check connects and says nothing

    async def start():
        server = await asyncio.start_server(handle, "127.0.0.1", 0)

        async def stop():
            server.close()
            await server.wait_closed()

        return server.sockets[0].getsockname()[1], stop

    with _looping(start) as port:
        yield f"http://127.0.0.1:{port}/hooks"

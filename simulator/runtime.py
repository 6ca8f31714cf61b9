"""The process around a run: which event loop it runs on, and where SIGINT and SIGTERM go."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
from collections.abc import Callable, Coroutine, Iterator
from typing import Any, TypeVar

CAUGHT = (signal.SIGINT, signal.SIGTERM)
T = TypeVar("T")
# Signal masks are POSIX; elsewhere a Ctrl-C during a worker's start-up may be missed.
_MASKS = hasattr(signal, "pthread_sigmask")


@contextlib.contextmanager
def blocked(signals: tuple[int, ...] = CAUGHT) -> Iterator[None]:
    """Hold `signals` back while the block runs; they are delivered when it ends."""
    if not signals or not _MASKS or threading.current_thread() is not threading.main_thread():
        yield
        return
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, signals)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)


@contextlib.contextmanager
def calling(loop: asyncio.AbstractEventLoop, handler: Callable[[], None]) -> Iterator[None]:
    """SIGINT and SIGTERM call `handler` on `loop` while the block runs, then go back.

    asyncio's remove_signal_handler() installs the defaults, so a second Ctrl-C just
    after the first would raise KeyboardInterrupt wherever the caller happens to be (say,
    printing a summary): the caller's own handlers are put back instead. The signals are
    blocked while they change hands, so one that arrives then reaches the handler put back.
    """
    previous = {}
    for sig in CAUGHT:
        old = signal.getsignal(sig)
        # Not on Windows, nor off the main thread: KeyboardInterrupt still ends the run.
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, handler)
            previous[sig] = old
    try:
        yield
    finally:
        with blocked(tuple(previous)):
            for sig, old in previous.items():
                loop.remove_signal_handler(sig)
                if old is not None:
                    signal.signal(sig, old)


@contextlib.contextmanager
def stop_on_signals(handler: Callable[[], None]) -> Iterator[None]:
    """SIGINT and SIGTERM call `handler` instead of raising, while the block runs.

    The signals are also unblocked: a worker process starts with them blocked (see
    sending's WorkerPool.run), so one sent while it was starting is delivered here, not lost.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = [signal.signal(sig, lambda signum, frame: handler()) for sig in CAUGHT]
    if _MASKS:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, CAUGHT)
    try:
        yield
    finally:
        for sig, old in zip(CAUGHT, previous, strict=True):
            signal.signal(sig, old)


def run_async(main: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine on a fresh loop: uvloop's when installed, asyncio's otherwise."""
    runner: Callable[[Coroutine[Any, Any, T]], T] = asyncio.run
    try:
        import uvloop

        runner = uvloop.run
    except ImportError:
        pass
    # Outside the except block, so that an error in `main` is not chained to ImportError.
    return runner(main)


def new_loop() -> asyncio.AbstractEventLoop:
    """A fresh event loop: uvloop's when installed (the `fast` extra), asyncio's otherwise."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()

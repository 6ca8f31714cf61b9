"""SIGINT and SIGTERM handed between asyncio loops and callers without a gap."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
from collections.abc import Callable, Iterator

CAUGHT = (signal.SIGINT, signal.SIGTERM)


@contextlib.contextmanager
def blocked(signals: tuple[int, ...] = CAUGHT) -> Iterator[None]:
    """Hold `signals` back while the block runs; they are delivered when it ends."""
    if (
        not signals
        or not hasattr(signal, "pthread_sigmask")
        or threading.current_thread() is not threading.main_thread()
    ):
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

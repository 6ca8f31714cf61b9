"""WebhookUser: webhook-simulator's events as a Locust user, on Locust's FastHttpUser.

    from simulator.locust import WebhookUser

    class Shop(WebhookUser):
        events = ["customer.order.created", "customer.order.paid"]
        sign = "voucherify"  # secret from $WEBHOOK_SECRET

Each task sends one event the way `send` does: the same payload factory, signer and
attempts (sending/attempts.py), signed anew per attempt, retried per the class's retry
options, every attempt in our stats and records. Each HTTP attempt is one Locust request
named after the event type; a status outside `expect_status`, or no answer, is a Locust
failure whose message is our error kind and reason ("status: 503", "timeout: no answer
within the timeout").

Every event of a run is unique across users, workers and machines: partition.py numbers
them, and payload n is a pure function of the run's seed and n. The master (or a lone
process) draws the run's id and seed at test start; Locust hands them to the workers
with their first spawn message. Each worker process keeps its share's books (shares.py)
and writes them at test stop into --webhook-out: its part, its dead letters and, with
--webhook-log, a line per attempt. `webhook-sim merge` joins them into one report.

Locust runs users on gevent, and this module is imported by Locust's own processes
only: importing Locust patches the standard library for gevent.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import socket
import sys
import time
from collections.abc import Callable, Coroutine, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import gevent  # type: ignore[import-untyped]
from gevent import GreenletExit  # type: ignore[import-untyped]
from locust import events, task
from locust.contrib.fasthttp import FastHttpUser, LocustBadStatusCode
from locust.exception import CatchResponseError, StopUser
from locust.runners import MasterRunner, WorkerRunner
from locust.user.users import LOCUST_STATE_STOPPING

from simulator.errors import SimulatorError
from simulator.generation.payloads import Payload
from simulator.integrations.shares import (
    USER_OPTIONS,
    RunIdentity,
    Share,
    new_run_id,
    new_seed,
    user_config,
)
from simulator.reports.parts import DEFAULT_PARTS
from simulator.sending.client import error_detail, error_kind, ssl_context
from simulator.sending.parsing import status_expected
from simulator.signing import make_signer

logger = logging.getLogger("webhook-simulator")

FLUSH_EVERY_S = 0.1  # records reach their files at least this often, as with send
NAP_STEP_S = 0.1  # a retry wait looks this often whether the user was asked to stop
_INTERRUPTED = "the run stopped before an answer came"


class _Process:
    """This process's share of the current run (None on a master, or between runs)."""

    share: Share | None = None
    flusher: Any = None


class WebhookUser(FastHttpUser):
    """A Locust user that sends signed webhooks to its host (the whole webhook URL:
    `--host http://127.0.0.1:8000/hooks`), one event per task.

    Set send's options as class attributes, named as its command line names them
    (`retries` for --retries, `overrides` for --set); None keeps send's default. Pace
    with Locust's `wait_time`: `constant_throughput(10)` aims at 10 events/s per user,
    so `-u 200` aims at 2,000/s for the run (see the README's "Beyond one machine" for
    what that can and cannot promise). Without one, each user sends back to back.
    """

    abstract = True
    events: ClassVar[Sequence[str]] = ("customer.order.created",)
    sign: str | None = None  # None: the event's own scheme
    secret: str | None = None  # None: $WEBHOOK_SECRET, or the variable `secret_env` names
    secret_env: str | None = None
    seed: int | None = None  # None: the run's (--webhook-seed, or drawn at test start)
    now: str | int | None = None
    locale: str | None = None
    scenario: str | None = None
    envelope: str | None = None
    label: str | None = None  # generate's --label: None draws a label per distribution
    overrides: Mapping[str, Any] | Sequence[str] | None = None
    set_new: bool | None = None
    templates: Sequence[str] | None = None
    headers: Mapping[str, str] | Sequence[str] | None = None
    timeout: float | str | None = None  # send's: 10 s, for connecting and for the answer
    expect_status: str | None = None  # send's: 2xx
    retries: int | None = None
    retry_schedule: str | None = None
    retry_time_scale: float | None = None
    max_retry_after: float | str | None = None
    insecure: bool = False  # certificates are verified, as send does (FastHttpUser does not)
    ca_bundle: str | None = None

    def __init__(self, environment: Any) -> None:
        share = _Process.share
        if share is None:
            raise StopUser()  # a user outside a run (never: users spawn after test start)
        self._share = share
        self._kit = share.kit(type(self).__name__, _options(type(self)), self.host)
        config = self._kit.config
        self.network_timeout = self.connection_timeout = config.timeout
        self.ssl_context_factory = functools.partial(ssl_context, config.insecure, config.ca_bundle)
        super().__init__(environment)
        self._slot: int | None = None
        self._sequence = 0

    def on_start(self) -> None:
        """Takes this user's slot of event indexes: call it from an on_start of your own."""
        if self._slot is None:
            self._slot, self._sequence = self._share.slots.take()

    def on_stop(self) -> None:
        """Hands the slot back: call it from an on_stop of your own."""
        if self._slot is not None:
            self._share.slots.give(self._slot, self._sequence)
            self._slot = None

    @task
    def send_webhook(self) -> None:
        self.send_event()

    def send_event(self) -> Payload:
        """Send this user's next event, retries included, and return its payload."""
        # Locust ends a waiting user by killing it, and the kill lands a moment later: a
        # user whose wait ran out meanwhile would be cut short mid-request. Yielding once
        # first lets a pending kill land here, before there is an event to lose.
        gevent.sleep(0)
        self.on_start()
        assert self._slot is not None
        share, kit = self._share, self._kit
        try:
            event = share.event(kit, self._slot, self._sequence)
        except SimulatorError as exc:  # a broken template fails every event alike
            logger.error("%s: %s", type(self).__name__, exc)
            raise StopUser() from None
        self._sequence += 1
        delivery = _Delivery(self, event.payload.event)
        _complete(kit.attempts.deliver(delivery, event, share.now(), delivery, False))
        if delivery.killed is not None:
            raise delivery.killed  # Locust stops this user: the event is dead-lettered
        return event.payload

    def _post(
        self, body: bytes, headers: dict[str, str], name: str
    ) -> tuple[int | None, str | None, str | None, str | None]:
        """One POST through Locust's client, reported under `name`: (status, error kind,
        reason, Retry-After), as sending.client.Session.post answers."""
        expect = self._kit.config.expect_status
        with self.client.request(
            "POST", "", data=body, headers=headers, name=name,  # type: ignore[arg-type]
            catch_response=True, allow_redirects=False,
        ) as response:  # fmt: skip
            status = response.status_code
            exc = response.request_meta["exception"]
            # A status the client itself dislikes is an answer all the same: ours to judge.
            if not status or (exc is not None and not isinstance(exc, LocustBadStatusCode)):
                kind, detail = _no_answer(exc or response.error)
                response.failure(f"{kind}: {detail}")
                return None, kind, detail, None
            if status_expected(status, expect):
                response.success()
            else:
                response.failure(f"status: {status}")
            retry_after = response.headers.get("Retry-After") if response.headers else None
            return status, None, None, retry_after


def _options(cls: type) -> dict[str, Any]:
    return {name: getattr(cls, name) for name in USER_OPTIONS}


def _no_answer(exc: BaseException) -> tuple[str, str]:
    """Our error kind and reason for an attempt that got no status."""
    if isinstance(exc, gevent.Timeout):
        exc = TimeoutError()  # geventhttpclient's timeouts are gevent's
    connecting = isinstance(exc, (ConnectionRefusedError, socket.gaierror))
    return error_kind(exc, connecting), error_detail(exc, connecting)


class _Delivery:
    """What Attempts needs of a session and of a pace, for one event of one user: POSTs
    through the user's client, waits on gevent, and turns Locust killing the user into
    the cancellation that Attempts dead-letters the event on."""

    def __init__(self, user: WebhookUser, name: str) -> None:
        self.user, self.name = user, name
        self.killed: GreenletExit | None = None

    @property
    def stopping(self) -> bool:
        return self.user._state == LOCUST_STATE_STOPPING

    async def post(
        self,
        body: bytes,
        headers: dict[str, str],
        resent: Callable[[str, str], None] | None = None,
    ) -> tuple[int | None, str | None, str | None, str | None]:
        start, started = time.time(), time.perf_counter()
        try:
            return self.user._post(body, headers, self.name)
        except GreenletExit as exc:
            # Killed with the request out: the server may have it, so Locust counts it too.
            self.killed = exc
            self.user.environment.events.request.fire(
                request_type="POST", name=self.name, start_time=start,
                response_time=(time.perf_counter() - started) * 1000, response_length=0,
                response=None, context=self.user.context(), url=self.user.host,
                exception=CatchResponseError(f"interrupted: {_INTERRUPTED}"),
            )  # fmt: skip
            raise asyncio.CancelledError() from None

    async def nap(self, delay: float) -> bool:
        """Wait for a retry unless the user is asked to stop first; True if it was."""
        deadline = time.monotonic() + delay
        try:
            while not self.stopping and (left := deadline - time.monotonic()) > 0:
                gevent.sleep(min(left, NAP_STEP_S))
        except GreenletExit as exc:
            self.killed = exc
            raise asyncio.CancelledError() from None
        return self.stopping

    async def take_slot(self) -> None:
        """A user has one request out at a time: there is no bound to take a place in."""

    def give_slot(self) -> None:
        pass


def _complete(coroutine: Coroutine[Any, Any, Any]) -> Any:
    """Run a coroutine whose awaits all finish at once (they block the greenlet instead,
    which gevent switches away from), to its end, without an event loop."""
    try:
        coroutine.send(None)
    except StopIteration as done:
        return done.value
    coroutine.close()
    raise RuntimeError("a delivery waited on asyncio, which does not run under Locust")


# -- the run: options, checks, start and stop ----------------------------------------------


@events.init_command_line_parser.add_listener
def _add_options(parser: Any, **_: Any) -> None:
    parser.add_argument(
        "--webhook-out", default=DEFAULT_PARTS, include_in_web_ui=False,
        help="Folder each worker writes its part, dead letters and log into, on its own "
        f"machine (default: {DEFAULT_PARTS}); `webhook-sim merge` reads them.",
    )  # fmt: skip
    parser.add_argument(
        "--webhook-log", action="store_true", default=False, include_in_web_ui=False,
        help="Also write a line per attempt, as send --log does.",
    )  # fmt: skip
    parser.add_argument(
        "--webhook-seed", type=int, default=None,
        help="The run's seed (default: drawn at each test start by the master).",
    )  # fmt: skip


def _webhook_classes(environment: Any) -> list[type[WebhookUser]]:
    return [c for c in environment.user_classes if issubclass(c, WebhookUser)]


@events.init.add_listener
def _check(environment: Any, runner: Any = None, **_: Any) -> None:
    """Refuse a user class that cannot send before any user starts: one line, exit 2. A
    master checks the options; a process that sends also the secret it will sign with
    (each worker machine needs its own $WEBHOOK_SECRET)."""
    for cls in _webhook_classes(environment):
        try:
            config = user_config(_options(cls), environment.host or cls.host)
            if not isinstance(runner, MasterRunner):
                make_signer(config.scheme or config.own_scheme(), config.secret)
        except SimulatorError as exc:
            sys.stderr.write(f"Error: {cls.__name__}: {exc}\n")
            sys.exit(2)


@events.test_start.add_listener
def _start(environment: Any, **_: Any) -> None:
    runner, options = environment.runner, environment.parsed_options
    if options is None:  # Locust used as a library: no command line
        from argparse import Namespace

        options = environment.parsed_options = Namespace()
    if not isinstance(runner, WorkerRunner):
        # This process starts the run: the workers get its id and seed with their spawn.
        options.webhook_run = new_run_id()
        seed = getattr(options, "webhook_seed", None)
        options.webhook_run_seed = new_seed() if seed is None else seed
        if isinstance(runner, MasterRunner):
            indexes = (runner.get_worker_index(client.id) for client in runner.clients.ready)
            options.webhook_workers = sorted(indexes)
        else:
            options.webhook_workers = [0]
    out = Path(getattr(options, "webhook_out", DEFAULT_PARTS))
    if isinstance(runner, MasterRunner):
        logger.info(
            "run %s, seed %s: each worker writes its part into %s on its "
            "machine; then: webhook-sim merge %s --run %s",
            options.webhook_run, options.webhook_run_seed, out, out, options.webhook_run,
        )  # fmt: skip
        return
    _finish(environment)  # a run still open (never: test_stop closes it)
    identity = RunIdentity(
        run=options.webhook_run,
        worker=max(runner.worker_index, 0),
        workers=tuple(options.webhook_workers),
        seed=options.webhook_run_seed,
        out=out,
        log=bool(getattr(options, "webhook_log", False)),
    )
    try:
        share = Share(identity)
    except SimulatorError as exc:
        # Nothing could be recorded, so nothing is sent: this process leaves the run.
        logger.error("worker %s: %s", identity.worker, exc)
        environment.process_exit_code = 1
        gevent.spawn(runner.quit)
        return
    _Process.share = share
    _Process.flusher = gevent.spawn(_flush, share)


def _flush(share: Share) -> None:
    reported = 0
    while True:
        gevent.sleep(FLUSH_EVERY_S)
        share.flush()
        for problem in share.record_errors[reported:]:
            logger.error("%s", problem)
        reported = len(share.record_errors)


@events.test_stop.add_listener
def _finish(environment: Any, **_: Any) -> None:
    share, flusher = _Process.share, _Process.flusher
    if share is None:
        return
    _Process.share = _Process.flusher = None
    if flusher is not None:
        flusher.kill(block=False)
    try:
        path = share.finish()
    except SimulatorError as exc:
        logger.error("worker %s: %s", share.identity.worker, exc)
        environment.process_exit_code = 1
        return
    stats = share.stats
    logger.info(
        "worker %s wrote %s: %s events, %s delivered, %s dead-lettered",
        share.identity.worker, path, stats.events, stats.delivered,
        sum(kit.records.dead_lettered for kit in share.kits.values()),
    )  # fmt: skip
    if share.record_errors:
        for problem in share.record_errors:
            logger.error("%s", problem)
        environment.process_exit_code = 1

"""The blocking send API: resolve the run, check the target, run it, and sum it up."""

from __future__ import annotations

import contextlib
import os
import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

from simulator.errors import DeliveryError, UsageError
from simulator.generation.catalog import discover, lookup
from simulator.redaction import public_url
from simulator.reports.junit import junit_xml
from simulator.reports.records import check_distinct, check_writable, replacing
from simulator.reports.replay import read_replay
from simulator.reports.stats import RunStats, summarize
from simulator.reports.thresholds import Threshold, ThresholdResult, parse_threshold
from simulator.runtime import stop_on_signals
from simulator.sending.client import check_target, tls_for
from simulator.sending.config import SendConfig
from simulator.sending.engine import Progress, RunResult
from simulator.sending.workers import WorkerPool, run_here
from simulator.signing import generate_secret, make_signer

DEFAULT_SECRET_ENV = "WEBHOOK_SECRET"
OPTIONS = frozenset(f.name for f in fields(SendConfig))


@dataclass
class SendResult:
    """A finished run: merged stats, the report, and where undelivered events went.

    dead_lettered counts every event not delivered (failed, interrupted, never sent);
    delivered + dead_lettered == the events the run generated. not_sent counts the events
    asked for but never tried (a count or a replay, interrupted); planned_not_sent the
    sends an interrupted --duration run did not make, which were never generated (None
    when its plan had no fixed length: rate max, Poisson arrivals). record_errors say why
    --log or --dead-letter could not be written (the run stopped there), and
    dead_unwritten counts the dead-letter lines that are not in the file.
    """

    config: SendConfig
    stats: RunStats
    summary: dict[str, Any]
    interrupted: bool
    dead_lettered: int
    not_sent: int
    skipped: int = 0
    receiver: dict[str, Any] | None = None
    thresholds: list[ThresholdResult] = field(default_factory=list)
    planned_not_sent: int | None = 0
    rewrote_dead_letter: bool = False  # a replay of the dead-letter file itself
    record_errors: list[str] = field(default_factory=list)
    dead_unwritten: int = 0

    @property
    def generated(self) -> int:
        """Events made (or read) for the run: delivered, failed, unfinished or never sent."""
        return self.stats.events

    @property
    def delivered_all(self) -> bool:
        return self.dead_lettered == 0 and self.stats.failed == 0

    @property
    def receiver_ok(self) -> bool:
        """The built-in receiver (when used) saw only valid, unique, schema-valid JSON."""
        if self.receiver is None:
            return True
        r = self.receiver
        bad = sum(
            n for verdict, n in r["signatures"].items() if verdict not in ("valid", "unsigned")
        )
        return not (bad or r["duplicates"] or r["schema_errors"] or r["not_json"])

    @property
    def outcome(self) -> str:
        """One of unrecorded (a record file could not be written, which also stops the
        run), interrupted, threshold (one failed), undelivered, ok: in that precedence."""
        if self.record_errors:
            return "unrecorded"
        if self.interrupted:
            return "interrupted"
        if not all(r.ok for r in self.thresholds):
            return "threshold"
        if not (self.delivered_all and self.receiver_ok):
            return "undelivered"
        return "ok"

    @property
    def dead_letter(self) -> str | None:
        """The dead-letter file, when this run wrote to it."""
        if self.dead_lettered or self.rewrote_dead_letter:
            return self.config.dead_letter
        return None

    def report(self) -> dict[str, Any]:
        """The report document (stats.summarize, schema report/v1) plus a "run" section."""
        config = self.config
        return {
            **self.summary,
            "run": {
                "seed": config.seed,
                "url": public_url(config.url or ""),
                "scheme": config.scheme,
                "events": [config.replay] if config.replay else list(config.events),
                "replay": config.replay is not None,
                "options": config.describe(),
                "receiver": self.receiver,
                "generated": self.generated,
                "not_sent": self.not_sent,
                "planned_not_sent": self.planned_not_sent,
                "skipped_lines": self.skipped,
                "dead_letter": {
                    "path": self.dead_letter,
                    "events": self.dead_lettered,
                    "unwritten": self.dead_unwritten,
                    "rewritten": self.rewrote_dead_letter,
                },
                "log": config.log,
                "record_errors": self.record_errors,
            },
            "thresholds": [vars(r) for r in self.thresholds],
        }

    def junit(self) -> str:
        return junit_xml(self.summary, self.thresholds)


def _scheme(config: SendConfig) -> str:
    if config.scheme is not None:
        return config.scheme
    if config.replay is not None:
        return "voucherify"
    return lookup(discover(config.factory.get("templates", ())), config.events[0]).signing


def _secret(config: SendConfig, secret_env: str | None, environ: Mapping[str, str]) -> str | None:
    if config.secret:
        return config.secret
    value = environ.get(secret_env or DEFAULT_SECRET_ENV)
    if secret_env and not value:
        raise UsageError(f"environment variable {secret_env} is not set")
    return value or None


def _run(
    config: SendConfig, on_progress: Callable[[Progress], None] | None, signals: bool
) -> list[RunResult]:
    if config.workers == 1:
        return [run_here(config, on_progress, signals=signals)]
    pool = WorkerPool(config)
    with stop_on_signals(pool.stop) if signals else contextlib.nullcontext():
        return pool.run(on_progress)


def send(
    config: SendConfig | None = None,
    /,
    *,
    thresholds: Sequence[Threshold | str] = (),
    on_progress: Callable[[Progress], None] | None = None,
    secret_env: str | None = None,
    environ: Mapping[str, str] | None = None,
    rng: random.Random | None = None,
    signals: bool = True,
    **options: Any,
) -> SendResult:
    """Send a run and wait for it: `send(url=..., count=100, rate=50.0, secret=...)`.

    Options are SendConfig fields (or pass a SendConfig); rate, duration, ramp, stages,
    timeout, grace, workers and expect_status may be numbers or the command line's text
    ("50/s", "max", "30s", "10/s..500/s", "auto", "2xx"), and thresholds their text
    ("p99<250ms"). Without a url, a built-in
    Receiver on 127.0.0.1 is the target and its verdicts come back in the result. The
    secret defaults to $WEBHOOK_SECRET (or $`secret_env`). Raises UsageError for a bad
    run and DeliveryError when the target cannot be reached; failed deliveries are not
    errors, they are in the result. With `signals`, SIGINT/SIGTERM end the run early and
    cleanly (result.interrupted).

    Example:
        result = send(url="http://127.0.0.1:8080/hooks", count=100, rate="50/s", secret="s")
        print(result.summary["latency_ms"]["corrected"]["p99"], result.outcome)
    """
    if config is None:
        unknown = sorted(set(options) - OPTIONS)
        if unknown:
            raise UsageError(f"send() got an unknown option '{unknown[0]}'")
        config = SendConfig(**options)
    elif options:
        raise UsageError("pass a SendConfig or keyword options, not both")
    thresholds = [parse_threshold(t) if isinstance(t, str) else t for t in thresholds]
    rng = rng or random.SystemRandom()
    config = config.resolve(rng)
    total = None if config.replay else config.schedule().total
    if total is not None and total < config.workers:
        config = config.replace(workers=total)  # a worker with nothing to send is waste
    for path in (config.log, config.dead_letter):
        if path:
            check_writable(path)  # before anything is generated or sent, not after
    check_distinct({"--dead-letter": config.dead_letter, "--log": config.log})
    check_distinct({"the replayed file": config.replay, "--log": config.log})
    rewrite = _replays_into_itself(config)
    scheme = _scheme(config)
    secret = _secret(config, secret_env, os.environ if environ is None else environ)
    with contextlib.ExitStack() as stack:
        receiver = None
        if config.url is None:
            if secret is None and scheme != "none":
                secret = generate_secret(scheme, rng)
            receiver = stack.enter_context(_receiver(scheme, secret))
            config = config.replace(url=receiver.url, scheme=scheme, secret=secret)
        else:
            if not (config.keep_signature and config.replay):
                make_signer(scheme, secret)  # a missing secret is a usage error, before any I/O
            config = config.replace(scheme=scheme, secret=secret)
            tls = tls_for(config.url, config.insecure, config.ca_bundle)
            # As long as an attempt may take: a slow TLS handshake is no reason to refuse.
            check_target(config.url, config.timeout, tls=tls, ca_bundle=config.ca_bundle)
        run_config = config
        if rewrite:
            # Failures go to a new file that replaces the one read, once the run is over.
            temp = stack.enter_context(replacing(config.dead_letter))
            run_config = config.replace(dead_letter=str(temp))
        results = _run(run_config, on_progress, signals)
        verdicts = None
        if receiver is not None:
            delivered = sum(r.stats.delivered for r in results)
            with contextlib.suppress(DeliveryError):
                receiver.wait_for(delivered, timeout=2.0)
            verdicts = receiver.stats.to_dict()
    stats = RunStats()
    for result in results:
        stats.merge(result.stats)
    summary = summarize(stats)
    return SendResult(
        config=config,
        stats=stats,
        summary=summary,
        interrupted=any(r.interrupted for r in results),
        dead_lettered=sum(r.dead_lettered for r in results),
        not_sent=sum(r.not_sent for r in results),
        planned_not_sent=_total(r.planned_not_sent for r in results),
        rewrote_dead_letter=rewrite,
        record_errors=[r.record_error for r in results if r.record_error],
        dead_unwritten=sum(r.dead_unwritten for r in results),
        skipped=results[0].skipped,
        receiver=verdicts,
        thresholds=[t.check(summary) for t in thresholds],
    )


def _replays_into_itself(config: SendConfig) -> bool:
    """True when a replay's input is its dead-letter file, which the run then rewrites:
    read whole first, then replaced by what is still undelivered. UsageError when that
    would lose events: a run that does not send them all, or bad lines it would skip."""
    if config.replay is None or config.dead_letter is None:
        return False
    try:
        if not os.path.samefile(config.replay, config.dead_letter):
            return False
    except OSError:
        return False
    replay = read_replay(config.replay, skip_bad=config.skip_bad)
    path, other = config.replay, "or pass --dead-letter OTHER"
    if replay.skipped:
        raise UsageError(
            f"replaying '{path}' into itself would drop its {replay.skipped} bad line"
            f"{'s' if replay.skipped != 1 else ''}: fix them, {other}"
        )
    total = len(replay.items)
    if total and config.schedule(count=total).total != total:
        raise UsageError(
            f"replaying '{path}' into itself must send all {total} events in it: "
            f"drop --count and --duration, {other}"
        )
    return True


def _total(counts: Iterable[int | None]) -> int | None:
    """The sum, or None when any part is unknown."""
    parts = list(counts)
    known = [n for n in parts if n is not None]
    return sum(known) if len(known) == len(parts) else None


def _receiver(scheme: str, secret: str | None) -> Any:
    from simulator.receiving.receiver import Receiver

    return Receiver(host="127.0.0.1", port=0, scheme=scheme, secret=secret, keep_requests=False)

"""The blocking send API: resolve the run, check the target, run it, and sum it up."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import random
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import orjson

from simulator.errors import DeliveryError, UsageError
from simulator.reports.records import check_writable, replacing, write_outputs
from simulator.reports.replay import read_replay
from simulator.reports.stats import RunStats
from simulator.reports.summary import summarize
from simulator.runtime import stop_on_signals
from simulator.sending.client import check_target, tls_for
from simulator.sending.config import SendConfig
from simulator.sending.results import Progress, RunResult, SendResult
from simulator.sending.workers import WorkerPool, run_here
from simulator.signing import generate_secret


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
    on_progress: Callable[[Progress], None] | None = None,
    on_inspector: Callable[[str], None] | None = None,
    environ: Mapping[str, str] | None = None,
    rng: random.Random | None = None,
    signals: bool = True,
    **options: Any,
) -> SendResult:
    """Send a run and wait for it: `send(url=..., count=100, rate="50/s", secret=...)`.

    Pass a SendConfig, or the keywords of SendConfig.from_options(): the command line's
    options by their parameter names, as numbers or as the command line's text ("50/s",
    "max", "30s", "10/s..500/s", "auto", "2xx", "p99<250ms"), generation options (seed,
    now, locale, scenario, envelope, overrides, templates) among them. Without a url, a
    built-in Receiver on 127.0.0.1 is the target and its verdicts come back in the
    result, and `on_inspector` is called with its live inspector page's address once it
    listens. The secret defaults to $WEBHOOK_SECRET (or $`secret_env`, read from
    `environ`). `report`, `junit` and `html` name files the result is written to. Raises
    UsageError for a bad run (in the words of the command line) and DeliveryError when
    the target cannot be reached; failed deliveries are not errors, they are in the
    result. With `signals`, SIGINT/SIGTERM end the run early and cleanly
    (result.interrupted).

    Example:
        result = send(url="http://127.0.0.1:8080/hooks", count=100, rate="50/s", secret="s")
        print(result.summary["latency_ms"]["corrected"]["p99"], result.outcome)
    """
    if config is None:
        config = SendConfig.from_options(environ=environ, **options)
    elif options:
        raise UsageError("pass a SendConfig or keyword options, not both")
    rng = rng or random.SystemRandom()
    config = config.resolve(rng)
    for path in (config.log, config.dead_letter, config.report, config.junit):
        if path:
            check_writable(path)  # before anything is generated or sent, not after
    rewrite = _replays_into_itself(config)
    changes: dict[str, Any] = {}
    total = None if config.replay else config.schedule().total
    if total is not None and total < config.workers:
        changes["workers"] = total  # a worker with nothing to send is waste
    with contextlib.ExitStack() as stack:
        receiver = None
        scheme = config.scheme or "voucherify"
        if config.url is None:
            secret = config.secret
            if secret is None and scheme != "none":
                secret = generate_secret(scheme, rng)
            # Faults need a receiver that refuses what it should, as a production one does.
            strict = config.faults.any
            receiver = stack.enter_context(_receiver(scheme, secret, strict))
            changes.update(url=receiver.url, secret=secret)
            if on_inspector is not None:
                on_inspector(receiver.page_url)
        else:
            tls = tls_for(config.url, config.insecure, config.ca_bundle)
            # As long as an attempt may take: a slow TLS handshake is no reason to refuse.
            check_target(config.url, config.timeout, tls=tls, ca_bundle=config.ca_bundle)
        if rewrite and config.dead_letter is not None:
            # Failures go to a new file that replaces the one read, once the run is over.
            changes["dead_letter"] = str(stack.enter_context(replacing(config.dead_letter)))
        run_config = dataclasses.replace(config, **changes) if changes else config
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
    outcome = SendResult(
        config=dataclasses.replace(run_config, dead_letter=config.dead_letter)
        if rewrite
        else run_config,
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
        thresholds=[t.check(summary) for t in config.thresholds],
    )
    _write_reports(outcome)
    return outcome


def _write_reports(result: SendResult) -> None:
    """Write --report, --junit and --html; one that cannot be written is a record error of
    the run (its words say which file), as a log that could not be written is."""
    config = result.config
    result.record_errors += write_outputs(
        [
            (config.report, lambda: orjson.dumps(result.report(), option=orjson.OPT_INDENT_2)
             + b"\n"),
            (config.junit, lambda: result.junit().encode("utf-8")),
            (config.html, lambda: result.html().encode("utf-8")),
        ]
    )  # fmt: skip


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


def _receiver(scheme: str, secret: str | None, strict: bool = False) -> Any:
    from simulator.receiving.receiver import Behaviour, Receiver

    behaviour = Behaviour(strict=strict)
    return Receiver(host="127.0.0.1", port=0, scheme=scheme, secret=secret, keep_requests=False,
                    behaviour=behaviour)  # fmt: skip

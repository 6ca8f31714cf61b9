"""The blocking audit API: resolve the audit, check the target, run the cases, write the
reports."""

from __future__ import annotations

import contextlib
import dataclasses
import random
import time
from collections.abc import Callable, Mapping
from typing import Any

import orjson

from simulator import runtime
from simulator.audit.build import Kit
from simulator.audit.config import AuditConfig
from simulator.audit.results import AuditResult
from simulator.audit.runner import run_cases
from simulator.errors import UsageError
from simulator.generation.lifecycle import parse_lifecycle
from simulator.generation.payloads import PayloadFactory
from simulator.redaction import public_url
from simulator.reports.records import check_writable, write_outputs
from simulator.seeds import derive_seed
from simulator.sending.client import check_target, tls_for
from simulator.signing import generate_secret, make_signer


def audit(
    target: str | AuditConfig,
    /,
    *,
    environ: Mapping[str, str] | None = None,
    rng: random.Random | None = None,
    signals: bool = False,
    clock: Callable[[], float] = time.time,
    **options: Any,
) -> AuditResult:
    """Run the audit's cases against the receiver at `target` and return what it found:
    `audit("http://127.0.0.1:8000/hooks", secret="s3cr3t", sign="standard")`.

    Options are the command line's by their parameter names (events, sign, secret,
    headers, timeout, only, skip, report, junit, seed, envelope…), as values or as its
    text; or pass one AuditConfig. Raises UsageError for a bad audit (in the words of
    the command line) and DeliveryError when the target cannot be reached; cases that
    fail are not errors, they are in the result (`result.ok`, `result.failed`). With
    `signals`, SIGINT/SIGTERM stop it after the case in flight; the rest are skipped.
    `clock` (epoch seconds) stamps the signatures.
    """
    if isinstance(target, AuditConfig):
        if options:
            raise UsageError("pass an AuditConfig or keyword options, not both")
        config = target
    else:
        config = AuditConfig.from_options(target, environ=environ, **options)
    config = config.resolve(rng)
    for path in (config.report, config.junit, config.html):
        if path:
            check_writable(path)
    tls = tls_for(config.url, config.insecure, config.ca_bundle)
    check_target(config.url, config.timeout, tls=tls, ca_bundle=config.ca_bundle)
    seed = config.generation.seed
    assert seed is not None and config.scheme is not None
    result = AuditResult(public_url(config.url), config.scheme, seed, config.timeout)
    kit = make_kit(config, clock)
    stopped: list[bool] = []
    with (
        runtime.stop_on_signals(lambda: stopped.append(True))
        if signals
        else (contextlib.nullcontext())
    ):
        result.started_at = clock()
        result.cases = runtime.run_async(run_cases(config, kit, stopping=lambda: bool(stopped)))
        result.finished_at = clock()
    result.interrupted = bool(stopped)
    _write_reports(config, result)
    return result


def make_kit(config: AuditConfig, clock: Callable[[], float] = time.time) -> Kit:
    """The factories and signers a resolved config's cases are built with."""
    seed, scheme = config.generation.seed, config.scheme
    assert seed is not None and scheme is not None
    target = public_url(config.url)
    # The chains out-of-order sends come from their own seed, so that no id they carry
    # is one that another case sends.
    generation = config.generation
    orders = dataclasses.replace(
        generation,
        seed=derive_seed(seed, "audit", "orders") >> 32,
        overrides=(),
        templates=(),
        lifecycle=parse_lifecycle("created,paid"),
    )
    other = None
    if scheme != "none":
        wrong = random.Random(derive_seed(seed, "audit", "wrong-secret"))
        other = make_signer(scheme, generate_secret(scheme, wrong))
    return Kit(
        scheme=scheme,
        signer=make_signer(scheme, config.secret),
        other=other,
        factory=PayloadFactory(config.events, generation, target_url=target),
        orders=PayloadFactory(None, orders, target_url=target),
        headers=dict(config.headers),
        clock=clock,
    )


def _write_reports(config: AuditConfig, result: AuditResult) -> None:
    """Write --report, --junit and --html; one that cannot be written is in
    result.record_errors."""
    result.record_errors += write_outputs(
        [
            (config.report, lambda: orjson.dumps(result.report(), option=orjson.OPT_INDENT_2)),
            (config.junit, lambda: result.junit().encode("utf-8")),
            (config.html, lambda: result.html().encode("utf-8")),
        ]
    )

"""Running the cases: one at a time, each request through `send`'s own HTTP client (so
timeouts and error kinds are the ones `send` reports), each answer graded with a reason
a developer can act on. Every case selected ends as PASS, FAIL or SKIP."""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from simulator.audit.build import Kit, Skip
from simulator.audit.cases import (
    ACCEPT,
    ACCEPT_OR_413,
    ACCEPT_OR_RETRY,
    CASES,
    REFUSE,
    Case,
    Step,
    number,
)
from simulator.audit.config import AuditConfig
from simulator.audit.results import FAIL, PASS, SKIP, Answer, CaseResult, limit_text, took
from simulator.sending.client import Session, tls_for

RETRYABLE = frozenset({409, 425, 429, 503})
_ACCEPTING = (ACCEPT, ACCEPT_OR_413, ACCEPT_OR_RETRY)


def grade(step: Step, answer: Answer, limit: str) -> str | None:
    """None when `answer` is what `step` expects, else why not and what to do."""
    status, thing = answer.status, step.thing
    if status is None:
        if answer.error == "timeout":
            return (
                f"no answer within {limit} to {thing}: answer within {limit} (acknowledge, "
                "then do the work), or the sender counts a failure and retries"
            )
        return (
            f"{answer.detail or answer.error} on {thing}: answer every request with a "
            "status; the sender retries one that gets none"
        )
    if _passes(step.expect, status):
        return None
    if 200 <= status < 300:
        return f"accepted {thing} ({status}): {step.advice}"
    if status >= 500:
        if step.expect == REFUSE:
            return (
                f"answered {status} to {thing}: refuse it with a 4xx; a 5xx asks the sender "
                "to retry it"
            )
        return f"answered {status} to {thing}: your handler failed on it; {step.advice}"
    if 400 <= status < 500:
        return f"refused {thing} with {status}: {step.advice}"
    return (
        f"answered {status} to {thing}: the sender follows no redirects and needs a final "
        "answer; POST to the final URL"
    )


def _passes(expect: str, status: int) -> bool:
    if expect == REFUSE:
        return 400 <= status < 500
    if 200 <= status < 300:
        return True
    return (expect == ACCEPT_OR_413 and status == 413) or (
        expect == ACCEPT_OR_RETRY and status in RETRYABLE
    )


async def run_cases(
    config: AuditConfig,
    kit: Kit,
    *,
    stopping: Callable[[], bool] = lambda: False,
    clock: Callable[[], float] = time.monotonic,
) -> list[CaseResult]:
    """Every selected case's result, in the table's order. A case not run because the
    audit was stopped is skipped, saying so."""
    limit = limit_text(config.timeout)
    tls = tls_for(config.url, config.insecure, config.ca_bundle)
    results: list[CaseResult] = []
    # A new connection for every request: one case's connection cannot affect the next.
    async with Session(config.url, timeout=config.timeout, tls=tls, keep_alive=False) as session:
        for case in config.cases():
            if case.build is None:
                continue  # graded from the others' answers, below
            if stopping():
                results.append(_result(case, limit, SKIP, "not run: the audit was interrupted"))
                continue
            results.append(await _run(session, case, kit, limit, clock))
    for case in config.cases():
        if case.build is None:
            results.insert(_position(case, config), slow_answer(case, results, config.timeout))
    return results


def _position(case: Case, config: AuditConfig) -> int:
    return [c.name for c in config.cases()].index(case.name)


async def _run(
    session: Session, case: Case, kit: Kit, limit: str, clock: Callable[[], float]
) -> CaseResult:
    assert case.build is not None
    try:
        requests = case.build(kit, number(case))
    except Skip as exc:
        return _result(case, limit, SKIP, str(exc))
    except Exception as exc:  # the case must still be reported, never dropped
        return _result(case, limit, FAIL, f"could not build this case: {exc}")
    note = "; ".join(r.note for r in requests if r.note)
    answers: list[Answer] = []
    for step, request in zip(case.steps, requests, strict=True):
        started = clock()
        status, error, detail, _ = await session.post(request.body, request.headers)
        answer = Answer(status, error, detail, clock() - started)
        answers.append(answer)
        reason = grade(step, answer, limit)
        if reason is not None:
            return _result(case, limit, FAIL, reason, answers, note)
    return _result(case, limit, PASS, "", answers, note)


def _result(
    case: Case,
    limit: str,
    result: str,
    reason: str,
    answers: list[Answer] | None = None,
    note: str = "",
) -> CaseResult:
    sent = f"{case.sent} ({note})" if note else case.sent
    expected = case.expected.format(limit=limit)
    return CaseResult(case.name, sent, expected, result, reason, tuple(answers or ()))


def slow_answer(case: Case, results: list[CaseResult], timeout: float) -> CaseResult:
    """p99 of the answer times to the requests that should be accepted (a request that
    got no answer in time counts as the whole timeout), against the timeout."""
    limit = limit_text(timeout)
    steps = {c.name: c.steps for c in CASES}
    samples = []
    for result in results:
        for step, answer in zip(steps[result.name], result.answers, strict=False):
            if step.expect not in _ACCEPTING:
                continue
            if answer.status is not None and 200 <= answer.status < 300:
                samples.append(answer.seconds)
            elif answer.error == "timeout":
                samples.append(max(answer.seconds, timeout))
    base = _result(case, limit, SKIP, "")
    if not samples:
        return _replace(base, SKIP, "no case was answered 2xx: there is nothing to time", "")
    samples.sort()
    p99 = samples[max(math.ceil(0.99 * len(samples)) - 1, 0)]
    measured = f"p99 {took(p99)}, {len(samples)} answers"
    if p99 < timeout:
        return _replace(base, PASS, "", measured)
    reason = (
        f"p99 answer {took(p99)} over {len(samples)} answers: the sender waits {limit} "
        "and then retries; acknowledge first, then do the work (a queue)"
    )
    return _replace(base, FAIL, reason, measured)


def _replace(base: CaseResult, result: str, reason: str, measured: str) -> CaseResult:
    return CaseResult(base.name, base.sent, base.expected, result, reason, (), measured)

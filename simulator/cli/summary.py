"""Terminal text for a send run: the live progress line and the end-of-run summary."""

from __future__ import annotations

from typing import Any

from simulator import Progress, SendConfig, SendResult

_LATENCY_KEYS = ("min", "mean", "p50", "p90", "p95", "p99", "max")


def _ms(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.0f}" if value >= 100 else f"{value:.3g}"


def _rate(value: float | None, none: str = "max") -> str:
    if value is None:
        return none
    if value < 1:
        return f"{value:.3g}/s"  # 0.0001/s, not 0.0/s
    return f"{value:.1f}/s" if value < 1000 else f"{value:,.0f}/s"


def _per_s(value: float) -> str:
    return f"{value:g}/s"


def _span(seconds: float) -> str:
    """Seconds as the command line writes them: 250ms, 30s, 1m, 1m30s."""
    if 0 < seconds < 1:
        return f"{seconds * 1000:g}ms"
    minutes, rest = divmod(seconds, 60)
    text = f"{minutes:.0f}m" if minutes else ""
    return text + (f"{rest:g}s" if rest or not text else "")


def _target(config: SendConfig, target_rate: float | None) -> str:
    """The planned rate: constant, max, a ramp or the stages."""
    if config.ramp is not None:
        start, end = config.ramp
        return f"ramp {_per_s(start)}..{_per_s(end)}"
    if config.stages is not None:
        stages = (f"{_span(stage.duration)}:{_per_s(stage.target)}" for stage in config.stages)
        return "stages " + ",".join(stages)
    return _rate(target_rate)


def progress_line(p: Progress) -> str:
    """e.g. ` 12.3s  sent 1,230  100.0/s  ok 1,228  errors 2  p99 4.10ms`"""
    p99 = "-" if p.p99_ms is None else f"{p.p99_ms:.3g}ms"
    return (
        f"{p.elapsed:6.1f}s  sent {p.sent:,}  {_rate(p.rate)}  ok {p.delivered:,}  "
        f"errors {p.errors:,}  p99 {p99}"
    )


def _counts(counts: dict[str, int]) -> str:
    return "  ".join(f"{key}: {n:,}" for key, n in counts.items()) or "none"


def _reasons(details: dict[str, int], shown: int = 3) -> list[str]:
    """The commonest reasons attempts failed without a status, one line each."""
    top = list(details.items())[:shown]
    lines = [f"  {'why' if i == 0 else '':<10} {n:,}  {text}" for i, (text, n) in enumerate(top)]
    if len(details) > shown:
        more = len(details) - shown
        lines.append(f"  {'':<10} and {more} more (all in --report's error_details)")
    return lines


def _retry_after(waits: dict[str, Any], cap: float) -> list[str]:
    """Retries the server timed with Retry-After; capped ones are said, never silent."""
    if not waits["waits"]:
        return []
    line = (
        f"  retry-after {waits['waits']:,} waits set by the server, "
        f"longest asked {waits['longest_s']:,.6g}s"
    )
    if waits["capped"]:
        line += f", {waits['capped']:,} cut to {cap:g}s (--max-retry-after)"
    return [line]


def _latency(name: str, values: dict[str, Any]) -> str:
    parts = "  ".join(f"{key} {_ms(values[key])}" for key in _LATENCY_KEYS)
    return f"{name:<10} {parts}  ms"


def summary_lines(result: SendResult) -> list[str]:
    """The compact end-of-run summary, one fact per line."""
    s, config = result.summary, result.config
    counts = s["counts"]
    target = "built-in receiver " if result.receiver is not None else ""
    # A replay sends what it read: no seed plays a part in it.
    seed = "" if config.replay else f"  seed {config.seed}"
    made = f"read from {config.replay}" if config.replay else "generated"
    lines = [
        f"Sent to {target}{result.target}  scheme {config.scheme}{seed}  workers {config.workers}",
        f"  rate       target {_target(config, s['target_rate'])}  "
        f"achieved {_rate(s['send_rate'], '-')}  in {s['duration_s']:.2f}s",
        f"  events     {result.generated:,} {made}  {counts['delivered']:,} delivered  "
        f"{result.generated - counts['delivered']:,} not delivered  {counts['late']:,} late"
        + _not_made(result.planned_not_sent),
        f"  attempts   {counts['attempts']:,} ({counts['retries']:,} retries{_resends(counts)})  "
        f"status {_counts(s['status_codes'])}",
        f"  errors     {_counts(s['error_kinds'])}",
        *_reasons(s["error_details"]),
        "  latency    " + _latency("corrected", s["latency_ms"]["corrected"]),
        "             " + _latency("service", s["latency_ms"]["service"]),
        f"  lag        p50 {_ms(s['schedule_lag_ms']['p50'])}  p99 "
        f"{_ms(s['schedule_lag_ms']['p99'])}  max {_ms(s['schedule_lag_ms']['max'])}  ms",
        *_retry_after(s["retry_after"], config.retry.max_retry_after_s),
        *_injected(s.get("injected", {}), result.forged_accepted),
    ]
    if result.receiver is not None:
        r = result.receiver
        signatures = "  ".join(f"{k} {n:,}" for k, n in r["signatures"].items() if n) or "none"
        lines.append(
            f"  receiver   {r['received']:,} received  signatures: {signatures}  "
            f"duplicates {r['duplicates']:,}  schema errors {r['schema_errors']:,}"
            + (f"  not JSON {r['not_json']:,}" if r["not_json"] else "")
        )
    if result.skipped:
        bad = f"{result.skipped:,} bad line{'s' if result.skipped != 1 else ''}"
        lines.append(f"  skipped    {bad} of {config.replay}")
    if result.dead_letter:
        why = f" ({result.not_sent:,} never sent)" if result.not_sent else ""
        events = f"{result.dead_lettered:,} event{'s' if result.dead_lettered != 1 else ''}"
        if result.dead_unwritten:
            lines.append(
                f"  dead letter {events}{why}: {result.dead_unwritten:,} of them NOT written "
                f"to {result.dead_letter}"
            )
        elif not result.rewrote_dead_letter:
            lines.append(f"  dead letter {events}{why} appended to {result.dead_letter}")
        elif result.dead_lettered:
            lines.append(
                f"  dead letter {events}{why} still undelivered: {result.dead_letter} "
                "now holds only these"
            )
        else:
            lines.append(
                f"  dead letter {result.dead_letter} is now empty: every event in it was delivered"
            )
    lines.extend(f"  records    FAILED: {error}" for error in result.record_errors)
    for check in result.thresholds:
        shown = "no data" if check.actual is None else f"{check.actual:.6g}{check.unit}"
        lines.append(f"  threshold  {check.threshold}  {'ok' if check.ok else 'FAILED'} ({shown})")
    lines.append("  result     " + _verdict(result))
    return lines


# What each forged request was, for the line that says the receiver took it.
_FORGED = {
    "tamper": "tampered (a body changed after signing)",
    "wrong-secret": "signed with another secret",
    "stale": "stale (a timestamp 10 minutes old)",
}


def _injected(injected: dict[str, dict[str, int]], accepted: dict[str, int]) -> list[str]:
    """Requests sent for a fault, by kind and answer; a forged one accepted, said aloud."""
    if not injected:
        return []
    parts = []
    for kind, c in injected.items():
        text = f"{kind} {c['sent']:,}: {c['accepted']:,} accepted, {c['refused']:,} refused"
        parts.append(text + (f", {c['no_answer']:,} no answer" if c["no_answer"] else ""))
    lines = ["  injected   " + "  ".join(parts)]
    for kind, n in accepted.items():
        lines.append(
            f"  forged     the receiver ACCEPTED {n:,} of {injected[kind]['sent']:,} requests "
            f"{_FORGED[kind]}: it must refuse them"
        )
    return lines


def _resends(counts: dict[str, int]) -> str:
    n = counts["resends"]
    return f", {n:,} resent on a new connection" if n else ""


def _not_made(planned: int | None) -> str:
    if not planned:
        return ""
    return f"  {planned:,} planned send{'s' if planned != 1 else ''} not made (interrupted)"


def _verdict(result: SendResult) -> str:
    outcome = result.outcome
    if outcome == "interrupted":
        return "INTERRUPTED"
    if outcome == "unrecorded":
        return "FAILED: records not written (see above)"
    if outcome == "threshold":
        failed = sum(not r.ok for r in result.thresholds)
        return f"FAILED: {failed} threshold{'s' if failed != 1 else ''} not met"
    if outcome == "forged":
        n = sum(result.forged_accepted.values())
        return f"FAILED: the receiver accepted {n:,} forged request{'s' if n != 1 else ''}"
    if not result.delivered_all:
        missing = result.dead_lettered
        return f"FAILED: {missing:,} event{'s' if missing != 1 else ''} not delivered"
    if not result.receiver_ok:
        return "FAILED: the receiver flagged deliveries (signature, duplicate, schema or JSON)"
    return "OK"

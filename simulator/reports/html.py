"""The HTML report: one self-contained page drawn from a report document.

html_report() takes the document a run's SendResult.document() makes (report/v1 with
"series" and "latency_distribution"); every section is drawn only when its keys are
there, and "sections" adds tables of the caller's own, so other producers of a report
document can draw theirs with it. The page has no script and fetches nothing: its
charts are inline SVG (svg.py) and its style is inline CSS.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Iterable, Mapping, Sequence
from html import escape
from importlib import resources
from typing import Any

from simulator import __version__
from simulator.reports.svg import (
    Format,
    Series,
    duration,
    line_chart,
    percentile_ticks,
    percentile_x,
    stacked_chart,
)

_PERCENTILE_COLORS = {"p50": "#2f6fdf", "p90": "#e08a00", "p99": "#c62828"}
_STATUS_COLORS = {"2": ["#2da44e", "#57c26e", "#1a7f37", "#8ad49c"], "3": ["#8c959f", "#b1b8c0"],
                  "4": ["#d4a72c", "#e8c35a", "#bf8700", "#f0d68c"],
                  "5": ["#cf222e", "#e5534b", "#a40e26", "#f28b82"]}  # fmt: skip
_PALETTE = ["#6f42c1", "#e36209", "#0969da", "#bf3989", "#57606a", "#1b7c83", "#9a6700"]
_NO_STATUS = "#57606a"


@functools.cache
def _css() -> str:
    return resources.files("simulator.reports").joinpath("report.css").read_text("utf-8")


def html_report(document: Mapping[str, Any]) -> str:
    """The whole page for `document`, as text."""
    title = str(document.get("title") or "webhook-simulator report")
    started = document.get("started_at")
    when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(started)) if started else ""
    run = document.get("run") or {}
    parts = [
        f"<header><h1>{escape(title)}</h1><p>{escape(run.get('url') or '')}"
        f"{' · ' if when else ''}{escape(when)}</p>{_outcome(document)}</header>",
        _figures(document),
        _thresholds(document.get("thresholds")),
        _charts(document),
        _tables(document),
        *(_table(s["title"], s["columns"], s["rows"]) for s in document.get("sections", ())),
        _options(run),
        f"<footer>webhook-simulator {escape(__version__)} · this file needs no network "
        "and holds no secret</footer>",
    ]
    body = "\n".join(part for part in parts if part)
    return (
        '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)}</title>\n<style>\n{_css()}</style>\n</head>\n"
        f"<body>\n{body}\n</body>\n</html>\n"
    )


# -- numbers ---------------------------------------------------------------------------


def _n(value: float | None) -> str:
    return "–" if value is None else f"{value:,.0f}"


def _ms(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:,.0f} ms" if value >= 100 else f"{value:.3g} ms"


def _rate(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:,.0f}/s" if value >= 100 else f"{value:.3g}/s"


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.4g} %"


# -- sections --------------------------------------------------------------------------


def _outcome(document: Mapping[str, Any]) -> str:
    outcome = document.get("outcome")
    if outcome is None:
        return ""
    good = outcome == "ok"
    return f'<p class="outcome {"pass" if good else "fail"}">{escape(str(outcome))}</p>'


def _figures(d: Mapping[str, Any]) -> str:
    if "counts" not in d:
        return ""
    counts, latency = d["counts"], d["latency_ms"]
    dead = (d.get("run") or {}).get("dead_letter") or {}
    figures = [
        ("events", _n(counts["events"]), f"{_n(counts['attempts'])} attempts"),
        ("delivered", _n(counts["delivered"]), f"success {_pct(d['success_ratio'])}"),
        ("not delivered", _n(counts["failed"] + counts["unfinished"]),
         f"{_n(dead.get('events'))} dead-lettered" if dead else ""),
        ("send rate", _rate(d["send_rate"]), f"target {_target(d)}"),
        ("p50 latency", _ms(latency["corrected"]["p50"]),
         f"service {_ms(latency['service']['p50'])}"),
        ("p99 latency", _ms(latency["corrected"]["p99"]),
         f"service {_ms(latency['service']['p99'])}"),
        ("retries", _n(counts["retries"]), f"{_n(counts['resends'])} resends"),
        ("late sends", _n(counts["late"]), f"over {d.get('late_after_ms', 0):g} ms behind"),
        ("duration", duration(d["duration_s"]), "interrupted" if d["interrupted"] else ""),
    ]  # fmt: skip
    cells = "".join(
        f'<div class="figure"><span>{escape(name)}</span><strong>{escape(value)}</strong>'
        f"<small>{escape(note)}</small></div>"
        for name, value, note in figures
    )
    return f'<section class="figures">{cells}</section>'


def _target(d: Mapping[str, Any]) -> str:
    """The planned rate as the run's options gave it: a rate, a ramp, stages or max."""
    options = (d.get("run") or {}).get("options") or {}
    if options.get("ramp"):
        start, end = options["ramp"]
        return f"ramp {_rate(start)}..{_rate(end)}"
    if options.get("stages"):
        return f"{len(options['stages'])} stages"
    if d.get("target_rate"):
        return _rate(d["target_rate"])
    return "max" if options.get("rate") == "max" else "–"


def _thresholds(results: Sequence[Mapping[str, Any]] | None) -> str:
    if not results:
        return ""
    rows = [
        [
            r["threshold"],
            "no data" if r["actual"] is None else f"{r['actual']:.6g}{r['unit']}",
            ("pass" if r["ok"] else "fail"),
        ]
        for r in results
    ]
    return _table("Thresholds", ["threshold", "actual", "result"], rows, marks=2)


def _charts(d: Mapping[str, Any]) -> str:
    series = d.get("series")
    if not series or not series["intervals"]:
        return _hdr(d["latency_distribution"]) if d.get("latency_distribution") else ""
    rows, step = series["intervals"], series["step_s"]
    over = _Over([row["t"] for row in rows], step)
    per = f"each point: {duration(step)}, in events per second" if step != 1 else ""
    rates = [
        Series("achieved (sends)", [r["sends"] / step for r in rows], "#2f6fdf"),
        Series("attempts (with retries)", [r["attempts"] / step for r in rows], "#8c959f"),
    ]
    if ((d.get("run") or {}).get("options") or {}).get("rate") != "max":  # max has no target
        planned = [r["planned"] / step for r in rows]
        rates.insert(0, Series("target (planned)", planned, "#1a7f37", dashed=True))
    latency = []
    for kind, dashed in (("corrected_ms", False), ("service_ms", True)):
        for i, (name, color) in enumerate(_PERCENTILE_COLORS.items()):
            values = [None if r[kind] is None else r[kind][i] for r in rows]
            label = f"{name} {'service' if dashed else 'corrected'}"
            latency.append(Series(label, values, color, dashed))
    retries = [
        Series("retries", [r["retries"] / step for r in rows], "#e36209"),
        Series("resends", [r["resends"] / step for r in rows], "#6f42c1"),
    ]
    charts = [
        _figure("Target vs achieved rate", over.lines("rate", rates, _rate), per),
        _figure(
            "Latency over time",
            over.lines("latency", latency, _ms),
            "p50, p90 and p99 of each interval; solid: corrected (from the planned send "
            "time), dashed: service (from the actual one)",
        ),
        _hdr(d.get("latency_distribution")),
        _stacked("Status codes over time", "statuses", over, rows, per),
        _stacked("Errors over time", "errors", over, rows, per),
        _figure("Retries and resends over time", over.lines("retries", retries, _rate), per)
        if any(v for s in retries for v in s.values)
        else _empty("Retries and resends over time", "No attempt was retried."),
    ]
    return "\n".join(charts)


class _Over:
    """Charts over the run's intervals: lines put each value at its interval's middle,
    areas hold it across the interval, and both span the same time."""

    def __init__(self, starts: list[float], step: float) -> None:
        self.starts, self.step = starts, step
        self.middles = [x + step / 2 for x in starts]
        self.span = (starts[0], starts[-1] + step)

    def lines(self, name: str, lines: list[Series], y_format: Format) -> str:
        return line_chart(
            name, self.middles, lines, x_format=_at, y_format=y_format, span=self.span
        )

    def areas(self, name: str, layers: list[Series]) -> str:
        return stacked_chart(name, self.starts, layers, x_format=_at, y_format=_rate)


def _hdr(distribution: Mapping[str, Any] | None) -> str:
    title = "Latency by percentile (whole run)"
    if not distribution or not distribution["percentiles"]:
        return _empty(title, "Nothing was sent.")
    xs = [percentile_x(p) for p in distribution["percentiles"]]
    lines = [
        Series("corrected", distribution["corrected_ms"], "#c62828"),
        Series("service", distribution["service_ms"], "#2f6fdf", dashed=True),
    ]
    ticks, span = percentile_ticks(), (0.0, percentile_x(100))
    chart = line_chart(
        "percentiles", xs, lines, x_format=_percentile_at, y_format=_ms, x_ticks=ticks, span=span
    )
    return _figure(title, chart, "x: percentile on a log scale, as HdrHistogram plots it")


def _stacked(title: str, key: str, over: _Over, rows: list[Mapping[str, Any]], per: str) -> str:
    step = over.step
    names = sorted({name for r in rows for name in r[key]})
    layers = [
        Series(name, [r[key].get(name, 0) / step for r in rows], _color(key, name, i))
        for i, name in enumerate(names)
    ]
    if key == "statuses":
        unanswered = [(r["attempts"] - sum(r["statuses"].values())) / step for r in rows]
        if any(unanswered):
            layers.append(Series("no answer", unanswered, _NO_STATUS))
    if not layers:
        return _empty(title, "No attempt failed." if key == "errors" else "No answer came.")
    return _figure(title, over.areas(key, layers), per)


def _color(key: str, name: str, index: int) -> str:
    if key == "statuses":
        shades = _STATUS_COLORS.get(name[:1], _PALETTE)
        return shades[int(name) % len(shades)] if name.isdigit() else shades[0]
    return _PALETTE[index % len(_PALETTE)]


def _at(seconds: float) -> str:
    return f"at {duration(seconds)}"


def _percentile_at(x: float) -> str:
    return f"p{100 - 100 / 10**x:.6g}"


def _figure(title: str, chart: str, note: str = "") -> str:
    small = f"<p class=note>{escape(note)}</p>" if note else ""
    return f'<section class="panel"><h2>{escape(title)}</h2>{small}{chart}</section>'


def _empty(title: str, text: str) -> str:
    note = f'<p class="empty">{escape(text)}</p>'
    return f'<section class="panel"><h2>{escape(title)}</h2>{note}</section>'


def _tables(d: Mapping[str, Any]) -> str:
    out = []
    details = d.get("error_details") or {}
    if details:
        top = [[why, _n(n)] for why, n in list(details.items())[:10]]
        out.append(_table("Top error reasons", ["reason", "attempts"], top))
    if d.get("status_codes"):
        codes = [[code, _n(n)] for code, n in d["status_codes"].items()]
        out.append(_table("Status codes", ["status", "attempts"], codes))
    types = d.get("event_types") or {}
    if types:
        rows = [
            [name, _n(c["events"]), _n(c["delivered"]), _n(c["failed"]), _n(c["not_sent"]),
             ", ".join(f"{k} {v}" for k, v in c["error_kinds"].items()) or "–"]
            for name, c in types.items()
        ]  # fmt: skip
        columns = ["event type", "events", "delivered", "failed", "never sent", "why failed"]
        out.append(_table("Events and dead letters", columns, rows))
    dead = (d.get("run") or {}).get("dead_letter") or {}
    if dead.get("events"):
        where = escape(str(dead.get("path") or "–"))
        note = f"{_n(dead['events'])} undelivered events are in <code>{where}</code>."
        out.append(f'<p class="note">{note}</p>')
    return "\n".join(out)


def _options(run: Mapping[str, Any]) -> str:
    if not run:
        return ""
    rows = [[key, _value(run.get(key))] for key in ("url", "scheme", "events", "seed")]
    rows += [[key, _value(value)] for key, value in _flat(run.get("options") or {})]
    return (
        '<section class="panel"><details><summary>The run\'s options (secret never '
        f"included)</summary>{_table_html(['option', 'value'], rows)}</details></section>"
    )


def _flat(options: Mapping[str, Any], prefix: str = "") -> Iterable[tuple[str, Any]]:
    for key, value in options.items():
        if isinstance(value, Mapping) and value and key != "headers":
            yield from _flat(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", value


def _value(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, Mapping):
        return ", ".join(f"{k}: {v}" for k, v in value.items()) or "–"
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value) or "–"
    return str(value)


def _table(
    title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]], marks: int | None = None
) -> str:
    table = _table_html(columns, rows, marks)
    return f'<section class="panel"><h2>{escape(title)}</h2>{table}</section>'


def _table_html(
    columns: Sequence[str], rows: Sequence[Sequence[Any]], marks: int | None = None
) -> str:
    head = "".join(f"<th>{escape(str(c))}</th>" for c in columns)
    body = []
    for row in rows:
        cells = []
        for i, cell in enumerate(row):
            cls = f' class="{escape(str(cell))}"' if i == marks else ""
            cells.append(f"<td{cls}>{escape(str(cell))}</td>")
        body.append(f"<tr>{''.join(cells)}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"

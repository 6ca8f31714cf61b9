"""Small SVG charts for the HTML report: lines, stacked areas, a log-scale percentile axis.

Drawn here rather than by a charting library so that a report is one small file with no
script: the SVG is the data. Every chart says how many data points it drew
(data-points), and hovering a column shows its values (an SVG <title>, no script).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

WIDTH, HEIGHT = 860, 240
MAX_TIPS = 150  # hover columns per chart
_LEFT, _RIGHT, _TOP, _BOTTOM = 62, 16, 14, 34
Format = Callable[[float], str]


@dataclass(frozen=True)
class Series:
    """One line (or one layer of a stack): y per x, None for a gap."""

    label: str
    values: Sequence[float | None]
    color: str
    dashed: bool = False


def line_chart(
    name: str,
    xs: Sequence[float],
    lines: Sequence[Series],
    *,
    x_format: Format,
    y_format: Format,
    x_ticks: Sequence[tuple[float, str]] | None = None,
    span: tuple[float, float] | None = None,
) -> str:
    """Lines over a shared x axis (from the first x to the last, or across `span`); the y
    axis starts at 0."""
    top = max((v for s in lines for v in s.values if v is not None), default=0.0)
    frame = _Frame(span or xs, top)
    marks, points = [], 0
    for series in lines:
        for run in _runs(xs, series.values):
            coords = " ".join(f"{frame.x(x):.1f},{frame.y(y):.1f}" for x, y in run)
            dash = ' stroke-dasharray="5 3"' if series.dashed else ""
            if len(run) == 1:
                x, y = run[0]
                marks.append(
                    f'<circle cx="{frame.x(x):.1f}" cy="{frame.y(y):.1f}" r="2.5" '
                    f'fill="{series.color}"/>'
                )
            marks.append(
                f'<polyline class="line" points="{coords}" fill="none" '
                f'stroke="{series.color}" stroke-width="1.6"{dash}/>'
            )
            points += len(run)
    tips = _tips(frame, xs, lines, x_format, y_format)
    return _svg(name, frame, marks, tips, points, lines, y_format, x_ticks)


def stacked_chart(
    name: str,
    xs: Sequence[float],
    layers: Sequence[Series],
    *,
    x_format: Format,
    y_format: Format,
) -> str:
    """Layers stacked on each other as steps: each x holds until the next one."""
    if not xs:
        return line_chart(name, xs, layers, x_format=x_format, y_format=y_format)
    step = (xs[1] - xs[0]) if len(xs) > 1 else 1.0
    base = [0.0] * len(xs)
    totals = [sum(layer.values[i] or 0.0 for layer in layers) for i in range(len(xs))]
    frame = _Frame([*xs, xs[-1] + step], max(totals, default=0.0))
    marks, points = [], 0
    for layer in layers:
        upper = [b + (v or 0.0) for b, v in zip(base, layer.values, strict=True)]
        if not any(v for v in layer.values):
            continue
        top_edge, bottom_edge = [], []
        for i, x in enumerate(xs):
            left, right = frame.x(x), frame.x(x + step)
            top_edge += [
                f"{left:.1f},{frame.y(upper[i]):.1f}",
                f"{right:.1f},{frame.y(upper[i]):.1f}",
            ]
            bottom_edge += [
                f"{left:.1f},{frame.y(base[i]):.1f}",
                f"{right:.1f},{frame.y(base[i]):.1f}",
            ]
        coords = " ".join(top_edge + bottom_edge[::-1])
        marks.append(
            f'<polygon class="area" points="{coords}" fill="{layer.color}" fill-opacity="0.85"/>'
        )
        points += sum(1 for v in layer.values if v)
        base = upper
    tips = _tips(frame, xs, layers, x_format, y_format, step=step)
    return _svg(name, frame, marks, tips, points, layers, y_format, None)


def percentile_ticks() -> list[tuple[float, str]]:
    """x ticks of an HDR percentile plot, where x = log10(1 / (1 - p/100))."""
    labels = ["0%", "90%", "99%", "99.9%", "99.99%", "99.999%"]
    return [(float(i), label) for i, label in enumerate(labels)]


def percentile_x(p: float) -> float:
    """The x of percentile p on an HDR plot: 90% is 1, 99% is 2, …; 100% sits at 5.3."""
    return math.log10(1 / max(1 - p / 100, 10**-5.3))


class _Frame:
    """Maps data to the plot area: x from the first to the last x, y from 0 to a round top."""

    def __init__(self, xs: Sequence[float], top: float) -> None:
        self.x0 = xs[0] if xs else 0.0
        self.x1 = xs[-1] if xs and xs[-1] > self.x0 else self.x0 + 1.0
        self.ticks = _nice_ticks(top)
        self.top = self.ticks[-1]

    def x(self, x: float) -> float:
        return _LEFT + (x - self.x0) / (self.x1 - self.x0) * (WIDTH - _LEFT - _RIGHT)

    def y(self, y: float) -> float:
        return HEIGHT - _BOTTOM - y / self.top * (HEIGHT - _TOP - _BOTTOM)


def _nice_ticks(top: float) -> list[float]:
    """0 and round steps up to at least `top` (four or five of them)."""
    if top <= 0:
        return [0.0, 1.0]
    raw = top / 4
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    count = math.ceil(top / step - 1e-9)
    return [i * step for i in range(count + 1)]


def time_ticks(x0: float, x1: float) -> list[tuple[float, str]]:
    """Round times between x0 and x1 seconds, labelled as durations."""
    span = max(x1 - x0, 1.0)
    step = next(
        (s for s in (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600) if span / s <= 8),
        7200,
    )
    first = math.ceil(x0 / step) * step
    return [(t, duration(t)) for t in _range(first, x1, step)]


def _range(start: float, stop: float, step: float) -> list[float]:
    count = int((stop - start) // step) + 1 if stop >= start else 0
    return [start + i * step for i in range(count)]


def duration(seconds: float) -> str:
    """12s, 1m, 1m30s, 1h5m: a time from the start of the run."""
    seconds = round(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes}m" if minutes else f"{hours}h"
    if minutes:
        return f"{minutes}m{secs}s" if secs else f"{minutes}m"
    return f"{secs}s"


def _runs(xs: Sequence[float], values: Sequence[float | None]) -> list[list[tuple[float, float]]]:
    """The unbroken stretches of (x, y) between gaps."""
    runs: list[list[tuple[float, float]]] = [[]]
    for x, y in zip(xs, values, strict=True):
        if y is None:
            if runs[-1]:
                runs.append([])
        else:
            runs[-1].append((x, y))
    return [run for run in runs if run]


def _tips(
    frame: _Frame,
    xs: Sequence[float],
    series: Sequence[Series],
    x_format: Format,
    y_format: Format,
    step: float | None = None,
) -> list[str]:
    """Invisible columns whose titles list every series' value at their x. Beyond
    MAX_TIPS points, every k-th x has one, as wide as k: a long run's file stays small,
    and a column narrower than a pixel could not be pointed at anyway."""
    tips = []
    stride = math.ceil(len(xs) / MAX_TIPS) if xs else 1
    for i in range(0, len(xs), stride):
        x = xs[i]
        last = min(i + stride, len(xs)) - 1
        if step is not None:
            left, right = frame.x(x), frame.x(xs[last] + step)
        else:
            before = frame.x(xs[i - 1]) if i else frame.x(x)
            after = frame.x(xs[last + 1]) if last + 1 < len(xs) else frame.x(xs[last])
            left, right = (before + frame.x(x)) / 2, (frame.x(xs[last]) + after) / 2
        values = [
            f"{s.label}: {y_format(value)}" for s in series if (value := s.values[i]) is not None
        ]
        if not values:
            continue
        text = escape(f"{x_format(x)}\n" + "\n".join(values))
        tips.append(
            f'<rect class="tip" x="{left:.1f}" y="{_TOP}" width="{max(right - left, 1):.1f}" '
            f'height="{HEIGHT - _TOP - _BOTTOM}"><title>{text}</title></rect>'
        )
    return tips


def _svg(
    name: str,
    frame: _Frame,
    marks: list[str],
    tips: list[str],
    points: int,
    series: Sequence[Series],
    y_format: Format,
    x_ticks: Sequence[tuple[float, str]] | None,
) -> str:
    axis = []
    bottom = HEIGHT - _BOTTOM
    for tick in frame.ticks:
        y = frame.y(tick)
        label = escape(y_format(tick))
        axis.append(
            f'<line class="grid" x1="{_LEFT}" x2="{WIDTH - _RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>'
            f'<text x="{_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{label}</text>'
        )
    for x, label in x_ticks or time_ticks(frame.x0, frame.x1):
        px = frame.x(x)
        axis.append(
            f'<line class="tick" x1="{px:.1f}" x2="{px:.1f}" y1="{bottom}" y2="{bottom + 4}"/>'
            f'<text x="{px:.1f}" y="{bottom + 16}" text-anchor="middle">{escape(label)}</text>'
        )
    legend = "".join(
        f'<span><i style="background:{s.color}"{" class=dashed" if s.dashed else ""}></i>'
        f"{escape(s.label)}</span>"
        for s in series
    )
    return (
        f'<figure class="chart" data-chart="{escape(name)}" data-points="{points}">'
        f'<div class="legend">{legend}</div>'
        f'<svg viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(name)}">'
        f"{''.join(axis)}{''.join(marks)}{''.join(tips)}</svg></figure>"
    )

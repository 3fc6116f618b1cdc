"""Charts as SVG written on the server: readable without JavaScript, inside the
console's Content-Security-Policy (no inline ``<style>`` or ``<script>``; colours
come from classes in insights.css), each with a ``<title>`` and ``<desc>`` that
screen readers announce, and the page gives the same numbers as a table.

Three shapes are enough for the insights page: stacked columns per week, lines of
per cents per week, and horizontal bars for a ranking.
"""

from __future__ import annotations

import math
from typing import List, Sequence, Tuple

from markupsafe import Markup, escape

WIDTH, HEIGHT = 720, 340
LEFT, RIGHT, TOP, BOTTOM = 48, 16, 16, 104
Series = Tuple[str, Sequence[float]]


def _frame(key: str, title: str, description: str, height: int) -> List[str]:
    return [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {height}" role="img" '
        f'aria-labelledby="{key}-title {key}-desc" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="{key}-title">{escape(title)}</title>',
        f'<desc id="{key}-desc">{escape(description)}</desc>',
    ]


def _nice_top(value: float) -> float:
    """An axis maximum of 1, 2 or 5 times a power of ten, at least ``value``."""
    if value <= 0:
        return 1.0
    step = 1.0
    while step * 10 <= value:
        step *= 10
    while step > value * 10:
        step /= 10
    for factor in (1, 2, 5, 10):
        if step * factor >= value:
            return step * factor
    return step * 10


def _number(value: float) -> str:
    return f"{value:.0f}" if value == int(value) else f"{value:.3g}"


def _count_top(value: float) -> float:
    """An axis maximum for counts: four whole steps."""
    return float(4 * max(1, math.ceil(_nice_top(value) / 4)))


def _axis(top: float, unit: str, height: int) -> List[str]:
    out = []
    plot = height - TOP - BOTTOM
    for tick in range(5):
        value = top * tick / 4
        y = TOP + plot - plot * tick / 4
        out.append(
            f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>'
        )
        out.append(
            f'<text class="tick" x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">'
            f"{_number(value)}{unit}</text>"
        )
    return out


def _labels(labels: Sequence[str], height: int) -> List[str]:
    out = []
    step = (WIDTH - LEFT - RIGHT) / max(len(labels), 1)
    every = max(1, len(labels) // 12)
    for number, label in enumerate(labels):
        if number % every:
            continue
        x = LEFT + step * (number + 0.5)
        y = height - BOTTOM + 16
        out.append(
            f'<text class="tick" x="{x:.1f}" y="{y}" text-anchor="end" '
            f'transform="rotate(-35 {x:.1f} {y})">{escape(label)}</text>'
        )
    return out


def _legend(names: Sequence[str], height: int) -> List[str]:
    out = []
    x = LEFT
    for number, name in enumerate(names):
        y = height - 14
        out.append(
            f'<rect class="series-{number}" x="{x}" y="{y - 10}" width="12" height="12"/>'
        )
        out.append(f'<text class="legend" x="{x + 16}" y="{y}">{escape(name)}</text>')
        x += 24 + 8 * len(name)
    return out


def _close(
    out: List[str], labels: Sequence[str], series: List[Series], height: int
) -> Markup:
    """The chart so far with the labels under it, the series' legend and its end."""
    out += _labels(labels, height) + _legend([n for n, _ in series], height)
    out.append("</svg>")
    return Markup("".join(out))


def stacked_columns(
    key: str, title: str, description: str, labels: Sequence[str], series: List[Series]
) -> Markup:
    """One column per label, the series stacked in it."""
    height = HEIGHT
    totals = [sum(values[n] for _, values in series) for n in range(len(labels))]
    top = _count_top(max(totals, default=0))
    plot = height - TOP - BOTTOM
    step = (WIDTH - LEFT - RIGHT) / max(len(labels), 1)
    out = _frame(key, title, description, height) + _axis(top, "", height)
    for number in range(len(labels)):
        base: float = TOP + plot
        for index, (name, values) in enumerate(series):
            value = values[number]
            if not value:
                continue
            tall = plot * value / top
            base -= tall
            out.append(
                f'<rect class="series-{index}" x="{LEFT + step * number + step * 0.15:.1f}" '
                f'y="{base:.1f}" width="{step * 0.7:.1f}" height="{tall:.1f}">'
                f"<title>{escape(labels[number])}: {escape(name)} {_number(value)}</title></rect>"
            )
        if totals[number]:
            out.append(
                f'<text class="value" x="{LEFT + step * (number + 0.5):.1f}" '
                f'y="{base - 4:.1f}" text-anchor="middle">{_number(totals[number])}</text>'
            )
    return _close(out, labels, series, height)


def lines(
    key: str,
    title: str,
    description: str,
    labels: Sequence[str],
    series: List[Series],
    unit: str = "%",
) -> Markup:
    """One line per series across the labels (per cents)."""
    height = HEIGHT
    top = _nice_top(max((v for _, values in series for v in values), default=0))
    plot = height - TOP - BOTTOM
    step = (WIDTH - LEFT - RIGHT) / max(len(labels), 1)
    out = _frame(key, title, description, height) + _axis(top, unit, height)
    for index, (name, values) in enumerate(series):
        points = [
            (LEFT + step * (n + 0.5), TOP + plot - plot * value / top)
            for n, value in enumerate(values)
        ]
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
        out.append(f'<polyline class="line series-{index}" points="{path}"/>')
        for (x, y), label, value in zip(points, labels, values, strict=True):
            out.append(
                f'<circle class="series-{index}" cx="{x:.1f}" cy="{y:.1f}" r="3.5">'
                f"<title>{escape(label)}: {escape(name)} {_number(value)}{unit}</title></circle>"
            )
    return _close(out, labels, series, height)


def bars(
    key: str, title: str, description: str, items: List[Tuple[str, float]]
) -> Markup:
    """A ranking: one horizontal bar per item, its number at the end."""
    row = 24
    height = TOP + row * max(len(items), 1) + 8
    name_width = 220
    top = _nice_top(max((v for _, v in items), default=0))
    room = WIDTH - name_width - RIGHT - 40
    out = _frame(key, title, description, height)
    for number, (name, value) in enumerate(items):
        y = TOP + row * number
        out.append(
            f'<text class="tick" x="{name_width - 8}" y="{y + 16}" text-anchor="end">'
            f"{escape(name)}</text>"
        )
        out.append(
            f'<rect class="series-0" x="{name_width}" y="{y + 4}" '
            f'width="{room * value / top:.1f}" height="{row - 8}"/>'
        )
        out.append(
            f'<text class="value" x="{name_width + room * value / top + 6:.1f}" '
            f'y="{y + 16}">{_number(value)}</text>'
        )
    out.append("</svg>")
    return Markup("".join(out))

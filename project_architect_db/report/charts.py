"""Inline SVG charts for the HTML report: horizontal bars and a line.

Drawn here in Python so the page needs no JavaScript, no charting library and no
network: each function returns an ``<svg>`` element to put straight into the page.
Labels are user data (project names, document titles): every text is escaped, and
characters XML cannot hold are replaced, so the SVG is always well-formed. Styling
is by class name; the page's ``<style>`` block gives the colours and fonts.
"""

from __future__ import annotations

import html
import math
import re
import sys
from collections.abc import Sequence

__all__ = [
    "MAX_VALUE",
    "Point",
    "bar_chart",
    "escape",
    "format_number",
    "line_chart",
]

#: One drawn value: its label and a number from 0 to ``MAX_VALUE``.
Point = tuple[str, float]

#: Largest value drawn: far beyond any count, and small enough that a round axis
#: maximum above it is still a finite float.
MAX_VALUE = 1e300

#: Width of every chart's coordinate system (the page scales it down on small screens).
WIDTH = 560
#: Bar charts: room for the labels on the left, the bars, and the value after each bar.
LABEL_WIDTH = 180
BAR_AREA = 230
_ROW = 28
_BAR = 18
_PAD = 10
#: Longest label drawn in full; longer ones are cut (the tooltip and table keep them whole).
_LABEL_CHARS = 24
#: Line chart: plot area inside the margins that hold the axis labels.
_LEFT, _RIGHT, _TOP, _BOTTOM = 52, 20, 16, 36
_LINE_HEIGHT = 240
_X_LABELS = 5
#: Above this many points the markers would blur into the line, so only the line is drawn.
_MAX_MARKERS = 40
#: How many values the <desc> of a chart reads out before summarising the rest.
_DESCRIBED = 12

# Characters XML 1.0 allows; anything else (control characters, lone surrogates,
# U+FFFE/U+FFFF) would make the document ill-formed or unencodable.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _clean(text: str) -> str:
    """``text`` with every character XML cannot hold replaced by U+FFFD."""
    return _NOT_XML.sub("\ufffd", text)


def escape(text: str) -> str:
    """``text`` safe as HTML/XML text or a quoted attribute value."""
    return html.escape(_clean(text), quote=True)


def format_number(value: float) -> str:
    """A count (int) with thousands separators; any other number with two decimals,
    so a column of means reads evenly; huge ones in scientific notation, so a label
    never runs across the page."""
    if abs(value) >= 1e15:
        return f"{value:.3g}"
    return f"{value:,}" if isinstance(value, int) else f"{value:,.2f}"


def bar_chart(
    points: Sequence[Point],
    *,
    title: str,
    highlight: str | None = None,
    highlight_note: str = "",
) -> str:
    """One horizontal bar per point, in the given order, its width proportional to
    its value (the largest spans ``BAR_AREA``). Long labels are cut to fit; each
    bar's tooltip holds the full label. The bar labelled ``highlight`` is drawn in
    the accent colour with ``highlight_note`` after its value. Nothing above zero
    gives a "no data" chart."""
    _check(points)
    top = max((value for _, value in points), default=0.0)
    if top <= 0:
        return _empty(title)
    rows = "".join(
        _bar_row(index, label, value, top, highlight_note if label == highlight else None)
        for index, (label, value) in enumerate(points)
    )
    return _svg(title, _describe(points), _ROW * len(points) + 2 * _PAD, rows)


def line_chart(points: Sequence[Point], *, title: str) -> str:
    """The values as a line over evenly spaced buckets (labels on the x axis, a
    few of them), on a y axis from 0 with round ticks. No points gives a "no
    data" chart."""
    _check(points)
    if not points:
        return _empty(title)
    peak = max(value for _, value in points)
    step = _tick_step(peak, integral=all(float(value).is_integer() for _, value in points))
    top = step * max(1, math.ceil(peak / step))
    body = _y_axis(top, step) + _x_labels(points) + _line(points, top)
    return _svg(title, _describe(points), _LINE_HEIGHT, body)


def _check(points: Sequence[Point]) -> None:
    for label, value in points:
        if not 0 <= value <= MAX_VALUE:
            raise ValueError(
                f"chart value for {label!r} must be from 0 to {MAX_VALUE:g}, not {value!r}"
            )


def _svg(title: str, description: str, height: int, body: str) -> str:
    return (
        f'<svg class="chart-svg" viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" '
        f'height="{height}" role="img" aria-label="{escape(title)}">'
        f"<title>{escape(title)}</title><desc>{escape(description)}</desc>{body}</svg>"
    )


def _empty(title: str) -> str:
    text = f'<text class="no-data" x="{WIDTH // 2}" y="36" text-anchor="middle">no data</text>'
    return _svg(title, "No data.", 60, text)


def _describe(points: Sequence[Point]) -> str:
    said = "; ".join(f"{label}: {format_number(value)}" for label, value in points[:_DESCRIBED])
    rest = len(points) - _DESCRIBED
    return f"{said}; and {rest} more." if rest > 0 else f"{said}."


def _cut(label: str) -> str:
    return label if len(label) <= _LABEL_CHARS else label[: _LABEL_CHARS - 1] + "…"


def _bar_row(index: int, label: str, value: float, top: float, note: str | None) -> str:
    y = _PAD + index * _ROW
    width = round(value / top * BAR_AREA, 2)
    shown = format_number(value) + (f" · {note}" if note else "")
    middle = y + _BAR / 2
    return (
        f'<g class="{"bar-row accent" if note is not None else "bar-row"}">'
        f"<title>{escape(label)}: {escape(shown)}</title>"
        f'<text class="label" x="{LABEL_WIDTH - 8}" y="{middle}" text-anchor="end" '
        f'dominant-baseline="central">{escape(_cut(label))}</text>'
        f'<rect class="bar" x="{LABEL_WIDTH}" y="{y}" width="{width}" height="{_BAR}" rx="3"/>'
        f'<text class="value" x="{LABEL_WIDTH + width + 6}" y="{middle}" '
        f'dominant-baseline="central">{escape(shown)}</text></g>'
    )


def _tick_step(peak: float, *, integral: bool) -> float:
    """A round step (1, 2 or 5 times a power of ten) giving about four ticks;
    at least 1 for counts, so no tick reads 0.5 of a project."""
    if peak <= 0:
        return 1.0
    raw = max(peak / 4, sys.float_info.min)  # a tiny peak must not underflow to 0
    magnitude = 10.0 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    return max(step, 1.0) if integral else step


def _plot_height() -> int:
    return _LINE_HEIGHT - _TOP - _BOTTOM


def _x(index: int, count: int) -> float:
    width = WIDTH - _LEFT - _RIGHT
    return round(_LEFT + (index * width / (count - 1) if count > 1 else width / 2), 2)


def _y(value: float, top: float) -> float:
    return round(_TOP + _plot_height() * (1 - value / top), 2)


def _y_axis(top: float, step: float) -> str:
    parts = []
    for k in range(round(top / step) + 1):
        tick = k * step
        y = _y(tick, top)
        shown = format_number(int(tick) if tick.is_integer() else tick)
        parts.append(
            f'<line class="grid" x1="{_LEFT}" x2="{WIDTH - _RIGHT}" y1="{y}" y2="{y}"/>'
            f'<text class="tick" x="{_LEFT - 6}" y="{y}" text-anchor="end" '
            f'dominant-baseline="central">{escape(shown)}</text>'
        )
    return "".join(parts)


def _x_labels(points: Sequence[Point]) -> str:
    count = len(points)
    shown = sorted({round(i * (count - 1) / (_X_LABELS - 1)) for i in range(_X_LABELS)})
    baseline = _LINE_HEIGHT - _BOTTOM + 18
    return "".join(
        f'<text class="tick" x="{_x(index, count)}" y="{baseline}" '
        f'text-anchor="{_anchor(index, count)}">{escape(_cut(points[index][0]))}</text>'
        for index in shown
    )


def _anchor(index: int, count: int) -> str:
    if count == 1:
        return "middle"
    return "start" if index == 0 else "end" if index == count - 1 else "middle"


def _line(points: Sequence[Point], top: float) -> str:
    count = len(points)
    coordinates = [(_x(i, count), _y(value, top)) for i, (_, value) in enumerate(points)]
    path = " ".join(f"{x},{y}" for x, y in coordinates)
    markers = (
        "".join(
            f'<circle class="point" cx="{x}" cy="{y}" r="3.5">'
            f"<title>{escape(label)}: {escape(format_number(value))}</title></circle>"
            for (x, y), (label, value) in zip(coordinates, points, strict=True)
        )
        if count <= _MAX_MARKERS
        else ""
    )
    return f'<polyline class="line" points="{path}"/>{markers}'

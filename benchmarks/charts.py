"""The benchmark pictures, as standalone SVG files in ``benchmarks/results/``.

Three charts: each ratio against its target (``ratios.svg``), append cost
against conversation length (``append.svg``) and, after ``--peers``, the
library beside SQLite peers (``peers.svg``). Colours and fonts are attributes
on the elements, not a stylesheet: the files are opened on their own (a
browser, GitHub's file view), with nothing around them to style them. The
package's ``report.charts`` draws for a page that brings its own CSS, and has
no target marks or axis titles, so it is not reused here.

Every drawn bar has ``class="bar"``, every target mark ``class="target"`` and
every plotted point ``class="point"``, which is what the tests count.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from html import escape
from pathlib import Path

from gate import Judged, Verdict
from harness import PeerResult, Result
from targets import TARGETS

FONT = "system-ui, -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif"
INK, MUTED, GRID = "#222222", "#666666", "#dddddd"
VERDICT_COLOURS = {
    Verdict.PASS: "#2e7d32",
    Verdict.BELOW: "#f2a900",
    Verdict.FAIL: "#c62828",
    Verdict.UNTARGETED: "#9e9e9e",
}
#: The library first, then each peer.
SERIES_COLOURS = ["#1565c0", "#8d6e63", "#7cb342", "#ab47bc", "#26a69a"]

#: Files written by ``write_charts``; one it did not draw this run is removed,
#: so no picture outlives the numbers it showed.
CHART_FILES = ("ratios.svg", "append.svg", "peers.svg")

_LONGEST_LABEL = 38


def _text(x: float, y: float, text: str, **attributes: str | float) -> str:
    extra = "".join(f' {key.replace("_", "-")}="{value}"' for key, value in attributes.items())
    return f'<text x="{x:.1f}" y="{y:.1f}"{extra}>{escape(text)}</text>'


def _line(
    x1: float,
    y1: float,
    x2: float,
    y2: float,
    css_class: str | None = None,
    **attributes: str | float,
) -> str:
    """A line; keyword attributes are SVG's with ``_`` for ``-`` (``stroke_width``)."""
    extra = "".join(f' {key.replace("_", "-")}="{value}"' for key, value in attributes.items())
    named = f' class="{css_class}"' if css_class else ""
    return f'<line{named} x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}"{extra}/>'


def _document(width: int, height: int, title: str, description: str, body: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="{escape(FONT)}" font-size="12" '
        f'fill="{INK}" role="img" aria-label="{escape(title)}">'
        f"<title>{escape(title)}</title><desc>{escape(description)}</desc>"
        f'<rect width="{width}" height="{height}" fill="#ffffff"/>'
        f"{_text(16, 26, title, font_size=16, font_weight='bold')}{body}</svg>\n"
    )


def _cut(label: str) -> str:
    return label if len(label) <= _LONGEST_LABEL else label[: _LONGEST_LABEL - 1] + "…"


def nice_step(top: float, ticks: int = 5) -> float:
    """A round tick step (1, 2 or 5 times a power of ten) giving at most about
    ``ticks`` steps from 0 to ``top``."""
    rough = max(top, 1e-12) / ticks
    power = 10.0 ** math.floor(math.log10(rough))
    return next(m * power for m in (1, 2, 5, 10) if m * power >= rough)


def _axis_top(peak: float, step: float) -> float:
    return step * max(1, math.ceil(peak / step - 1e-9))


def _ticks(top: float, step: float) -> list[float]:
    return [k * step for k in range(round(top / step) + 1)]


def _legend(x: float, y: float, entries: Sequence[tuple[str, str]]) -> str:
    """Colour swatches with their names, left to right."""
    parts = []
    for colour, name in entries:
        parts.append(f'<rect x="{x:.1f}" y="{y - 9:.1f}" width="11" height="11" fill="{colour}"/>')
        parts.append(_text(x + 16, y, name, fill=MUTED))
        x += 16 + 6.6 * len(name) + 18
    return "".join(parts)


# -- ratios -----------------------------------------------------------------------

_R_LEFT, _R_PLOT, _R_NOTE = 270, 400, 250
_R_TOP, _R_ROW, _R_BOTTOM = 96, 38, 56


def ratio_chart(judged: Sequence[Judged], title: str) -> str:
    """One bar per result: its ratio (library / baseline), coloured by verdict,
    with its target as a black mark and the fail line (half the target) dashed.

    The axis reaches a little past the largest target (or 1.0), not the largest
    ratio: one result at 11x would squeeze every other bar into a sliver near 1.
    A bar beyond the axis is cut at its end and ends in a notch; its figure is
    in the column on the right like every other."""
    width = _R_LEFT + _R_PLOT + _R_NOTE
    height = _R_TOP + _R_ROW * max(1, len(judged)) + _R_BOTTOM
    ratios = [j.result.ratio for j in judged]
    marks = [j.target.minimum for j in judged if j.target is not None]
    peak = min(max([1.0, *ratios, *marks]), 1.4 * max([1.0, *marks]))
    step = nice_step(peak * 1.05)
    top = _axis_top(peak * 1.05, step)

    def x(value: float) -> float:
        return _R_LEFT + min(value, top) / top * _R_PLOT

    plot_bottom = _R_TOP + _R_ROW * len(judged)
    parts = [
        _text(
            16,
            46,
            "Each bar: library throughput ÷ its baseline's, in one run (higher is "
            "better; 1.0 = as fast as the baseline).",
            fill=MUTED,
        ),
        _legend(16, 70, [(VERDICT_COLOURS[v], v.value) for v in Verdict]),
        _line(460, 66, 460, 78, stroke=INK, stroke_width=3),
        _text(466, 70, "target", fill=MUTED),
        _line(530, 66, 530, 78, stroke=INK, stroke_width=1.5, stroke_dasharray="3 2"),
        _text(536, 70, "fails below (half the target)", fill=MUTED),
    ]
    for tick in _ticks(top, step):
        colour = MUTED if math.isclose(tick, 1.0) else GRID
        parts.append(_line(x(tick), _R_TOP - 4, x(tick), plot_bottom, stroke=colour))
        parts.append(
            _text(x(tick), plot_bottom + 16, f"{tick:g}x", text_anchor="middle", fill=MUTED)
        )
    parts.append(
        _text(
            _R_LEFT + _R_PLOT / 2,
            plot_bottom + 38,
            "ratio: library ÷ baseline",
            text_anchor="middle",
            font_weight="bold",
        )
    )
    for index, j in enumerate(judged):
        parts.append(_ratio_row(_R_TOP + index * _R_ROW, j, x, top))
    description = "; ".join(
        f"{j.result.name}: {j.result.ratio:.2f}x"
        + (f" (target {j.target.minimum:.2f}x, {j.verdict.value})" if j.target else "")
        for j in judged
    )
    return _document(width, height, title, description or "No results.", "".join(parts))


def _ratio_row(y: float, j: Judged, x: Callable[[float], float], top: float) -> str:
    r = j.result
    bar_end = x(r.ratio)
    parts = [
        _text(_R_LEFT - 10, y + 15, _cut(r.name), text_anchor="end"),
        _text(
            _R_LEFT - 10,
            y + 29,
            _cut(f"vs {r.baseline}"),
            text_anchor="end",
            fill=MUTED,
            font_size=11,
        ),
        f'<rect class="bar" x="{_R_LEFT}" y="{y + 8:.1f}" width="{bar_end - _R_LEFT:.1f}" '
        f'height="20" fill="{VERDICT_COLOURS[j.verdict]}">'
        f"<title>{escape(f'{r.name}: {r.ratio:.2f}x')}</title></rect>",
    ]
    if r.ratio > top:
        end = _R_LEFT + _R_PLOT
        parts.append(
            f'<path d="M{end - 8:.1f},{y + 8:.1f} l8,10 l-8,10 z" fill="#ffffff">'
            "<title>beyond the axis</title></path>"
        )
    note = f"{r.ratio:.2f}x"
    if j.target is not None:
        target_x, fail_x = x(j.target.minimum), x(j.target.fail_below)
        parts.append(_line(target_x, y + 3, target_x, y + 33, "target", stroke=INK, stroke_width=3))
        parts.append(
            _line(
                fail_x, y + 5, fail_x, y + 31, stroke=INK, stroke_width=1.5, stroke_dasharray="3 2"
            )
        )
        note += f" · target ≥ {j.target.minimum:.2f}x · {j.verdict.value}"
    # In a column of its own right of the plot, so no bar or mark runs into it.
    parts.append(_text(_R_LEFT + _R_PLOT + 12, y + 22, note))
    return "".join(parts)


# -- append cost ------------------------------------------------------------------

_A_WIDTH, _A_HEIGHT = 720, 400
_A_LEFT, _A_RIGHT, _A_TOP, _A_BOTTOM = 80, 40, 80, 70


def append_chart(curve: Sequence[tuple[float, float]], title: str, limit_ms: float | None) -> str:
    """Milliseconds per append (y, from 0) at each conversation length (x, the
    measured lengths evenly spaced: they grow tenfold, and a linear axis would
    crowd the short ones into one spot). ``limit_ms``: the target's ceiling at
    the gated length, drawn dashed."""
    plot_w = _A_WIDTH - _A_LEFT - _A_RIGHT
    plot_h = _A_HEIGHT - _A_TOP - _A_BOTTOM
    peak = max([ms for _, ms in curve] + ([limit_ms] if limit_ms else []) + [1e-3])
    step = nice_step(peak * 1.1)
    top = _axis_top(peak * 1.1, step)

    def px(index: int) -> float:
        return _A_LEFT + (index + 0.5) * plot_w / max(1, len(curve))

    def py(ms: float) -> float:
        return _A_TOP + plot_h * (1 - ms / top)

    parts = [
        _text(
            16,
            46,
            "Median ms per append_message call, by the conversation's length (lower is better).",
            fill=MUTED,
        ),
    ]
    for tick in _ticks(top, step):
        parts.append(_line(_A_LEFT, py(tick), _A_LEFT + plot_w, py(tick), stroke=GRID))
        parts.append(_text(_A_LEFT - 8, py(tick) + 4, f"{tick:g}", text_anchor="end", fill=MUTED))
    if limit_ms is not None:
        parts.append(
            _line(
                _A_LEFT,
                py(limit_ms),
                _A_LEFT + plot_w,
                py(limit_ms),
                stroke="#c62828",
                stroke_dasharray="6 4",
            )
        )
        parts.append(
            _text(
                _A_LEFT + plot_w,
                py(limit_ms) - 6,
                f"target: at most {limit_ms:.2f} ms at the longest length (empty's cost ÷ 0.8)",
                text_anchor="end",
                fill="#c62828",
            )
        )
    points = " ".join(f"{px(i):.1f},{py(ms):.1f}" for i, (_, ms) in enumerate(curve))
    parts.append(
        f'<polyline points="{points}" fill="none" stroke="{SERIES_COLOURS[0]}" stroke-width="2.5"/>'
    )
    for index, (length, ms) in enumerate(curve):
        parts.append(
            f'<circle class="point" cx="{px(index):.1f}" cy="{py(ms):.1f}" r="5" '
            f'fill="{SERIES_COLOURS[0]}"><title>{length:,.0f} messages: {ms:.2f} ms'
            "</title></circle>"
        )
        parts.append(_text(px(index), py(ms) - 12, f"{ms:.2f} ms", text_anchor="middle"))
        parts.append(
            _text(
                px(index), _A_TOP + plot_h + 18, f"{length:,.0f}", text_anchor="middle", fill=MUTED
            )
        )
    parts.append(
        _text(
            _A_LEFT + plot_w / 2,
            _A_HEIGHT - 20,
            "messages already in the conversation (spaced evenly, not to scale)",
            text_anchor="middle",
            font_weight="bold",
        )
    )
    middle = _A_TOP + plot_h / 2
    parts.append(
        _text(
            22,
            middle,
            "ms per append",
            text_anchor="middle",
            font_weight="bold",
            transform=f"rotate(-90 22 {middle:.1f})",
        )
    )
    description = "; ".join(f"{length:,.0f} messages: {ms:.2f} ms" for length, ms in curve)
    return _document(_A_WIDTH, _A_HEIGHT, title, description or "No data.", "".join(parts))


# -- peers ------------------------------------------------------------------------

_P_LEFT, _P_PLOT, _P_NOTE = 230, 360, 150
_P_TOP, _P_HEAD, _P_BAR, _P_GAP = 96, 22, 20, 14


def peers_chart(peers: Sequence[PeerResult], title: str) -> str:
    """For each operation, one bar per implementation (the library first), each
    operation's bars scaled to its fastest: the figures span four orders of
    magnitude, so one shared axis would hide the slow ones."""
    names = list(dict.fromkeys(name for p in peers for name in p.rates))
    colours = {name: SERIES_COLOURS[k % len(SERIES_COLOURS)] for k, name in enumerate(names)}
    group = _P_HEAD + _P_BAR * len(names) + _P_GAP
    width = _P_LEFT + _P_PLOT + _P_NOTE
    height = _P_TOP + group * max(1, len(peers)) + 10
    parts = [
        _text(
            16,
            46,
            "Operations per second on the same data (longer is faster); each "
            "operation's bars are scaled to its fastest.",
            fill=MUTED,
        ),
        _legend(16, 70, [(colours[name], name) for name in names]),
    ]
    for index, peer in enumerate(peers):
        y = _P_TOP + index * group
        parts.append(_text(16, y + 14, peer.operation, font_weight="bold"))
        if peer.notes:
            parts.append(_text(_P_LEFT, y + 14, peer.notes, fill=MUTED, font_size=11))
        fastest = max(peer.rates.values(), default=0.0) or 1.0
        for k, name in enumerate(names):
            if name not in peer.rates:
                continue
            rate = peer.rates[name]
            bar_y = y + _P_HEAD + k * _P_BAR
            bar_w = max(1.0, rate / fastest * _P_PLOT)
            parts.append(_text(_P_LEFT - 10, bar_y + 13, _cut(name), text_anchor="end", fill=MUTED))
            parts.append(
                f'<rect class="bar" x="{_P_LEFT}" y="{bar_y:.1f}" width="{bar_w:.1f}" '
                f'height="{_P_BAR - 4}" fill="{colours[name]}">'
                f"<title>{escape(f'{name}: {rate:,.1f} {peer.unit}')}</title></rect>"
            )
            parts.append(_text(_P_LEFT + bar_w + 6, bar_y + 12, f"{rate:,.0f} {peer.unit}"))
    description = "; ".join(
        f"{p.operation}: " + ", ".join(f"{n} {r:,.0f} {p.unit}" for n, r in p.rates.items())
        for p in peers
    )
    return _document(width, height, title, description or "No data.", "".join(parts))


# -- files ------------------------------------------------------------------------


def write_charts(
    directory: Path,
    judged: Sequence[Judged],
    peers: Sequence[PeerResult],
    run_label: str,
) -> list[Path]:
    """Write the charts this run has data for (``run_label`` goes into each
    title, e.g. "quick run, 2026-12-01"); remove those it has none for. The
    paths written."""
    directory.mkdir(parents=True, exist_ok=True)
    drawn: dict[str, str] = {
        "ratios.svg": ratio_chart(
            judged, f"Library ÷ baseline, each against its target ({run_label})"
        ),
    }
    append = _append_result(judged)
    if append is not None:
        target = TARGETS.get(append.benchmark)
        empty_ms = 1000 / append.baseline_per_second
        drawn["append.svg"] = append_chart(
            append.curve,
            f"Append cost against conversation length ({run_label})",
            empty_ms / target.minimum if target else None,
        )
    if peers:
        drawn["peers.svg"] = peers_chart(peers, f"Library beside SQLite peers ({run_label})")
    written = []
    for name in CHART_FILES:
        path = directory / name
        if name in drawn:
            path.write_text(drawn[name], encoding="utf-8")
            written.append(path)
        else:
            path.unlink(missing_ok=True)
    return written


def _append_result(judged: Sequence[Judged]) -> Result | None:
    return next(
        (j.result for j in judged if j.result.benchmark == "append_message" and j.result.curve),
        None,
    )

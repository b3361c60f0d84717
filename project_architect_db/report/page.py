"""The report page: the analytics results of one database as one HTML document.

Everything the page needs is inside it: CSS in a ``<style>`` block, charts as inline
SVG (``charts``), no script to run and nothing to fetch (its Content-Security-Policy
forbids loading anything). Each chart is a ``<figure data-chart=NAME>`` holding the
SVG, a table of the same numbers beside it, and the series it draws as JSON in a
``<script type="application/json" class="chart-data">``: readers, screen readers
and tests all get the numbers. Every text from the database is escaped.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from ..schemas.analytics import (
    ConversationFlowMetrics,
    CrossEntityMetrics,
    DocumentUsageStats,
    ProjectActivity,
    ProjectMetrics,
    RepositoryHealthMetrics,
    TimeSeriesData,
    TimeSeriesPoint,
)
from ..schemas.conversation import ConversationPhase
from ..schemas.project import ProjectStatus
from ..schemas.repository import Repository
from .charts import Point, bar_chart, escape, format_number, line_chart

__all__ = ["DAILY_LIMIT", "LIST_LIMIT", "STALE_DAYS", "ReportData", "render_report"]

#: The projects-created chart is drawn per day while that takes at most this many
#: points (about three months), per week beyond.
DAILY_LIMIT = 92
#: Long lists (health scores, stale repositories, per-project activity) show this
#: many rows, so a large database still gives a page a browser opens quickly.
LIST_LIMIT = 100
#: A repository is stale after this many days without a commit (as in
#: ``sql/analytics/repository_health.sql``).
STALE_DAYS = 30

Cell = str | int | float
KpiValue = int | float | str | timedelta | None


@dataclass(frozen=True)
class ReportData:
    """Everything the page shows: the analytics results of one database and the
    moments they were computed for (``start``/``end``/``now`` in UTC)."""

    source: str
    start: datetime | None
    end: datetime | None
    now: datetime
    projects: ProjectMetrics
    projects_created: TimeSeriesData
    conversations: ConversationFlowMetrics
    documents: DocumentUsageStats
    repositories: RepositoryHealthMetrics
    #: Stale repositories, never committed first, then oldest commit first; at most
    #: ``LIST_LIMIT`` (``repositories.stale_repositories`` has the count).
    stale: Sequence[Repository]
    activity: CrossEntityMetrics


def render_report(data: ReportData) -> str:
    """The whole HTML document."""
    sections = (
        _projects_section(data),
        _conversations_section(data.conversations),
        _documents_section(data.documents),
        _repositories_section(data),
        _activity_section(data.activity),
    )
    title = f"Analytics report: {data.source}" if data.source else "Analytics report"
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta http-equiv="Content-Security-Policy" '
        "content=\"default-src 'none'; style-src 'unsafe-inline'\">"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_CSS}</style></head><body>"
        f"{_header(data, title)}<main>{''.join(sections)}</main>"
        "<footer>Written by <code>project-architect-db report</code>. Everything is in this "
        "file: it loads nothing and runs no script.</footer></body></html>\n"
    )


# -- the header: what was measured, over which range, as of when ------------------------


def _header(data: ReportData, title: str) -> str:
    return (
        f'<header class="page-header"><h1>{escape(title)}</h1><dl class="context">'
        f"<div><dt>Date range</dt><dd>{_range(data.start, data.end)}</dd></div>"
        f"<div><dt>Now</dt><dd>{_time(data.now)}</dd></div></dl>"
        '<p class="scope">The date range (start included, end excluded, on creation time) '
        "narrows the project figures and the projects-created chart; everything else covers "
        f"all time. Now sets repository staleness ({STALE_DAYS} days without a commit), "
        "health scores and the 30-day activity window.</p></header>"
    )


def _range(start: datetime | None, end: datetime | None) -> str:
    if start is not None and end is not None:
        return f"{_time(start)} to {_time(end)} (end excluded)"
    if start is not None:
        return f"from {_time(start)}"
    if end is not None:
        return f"before {_time(end)}"
    return "all time"


def _time(moment: datetime) -> str:
    utc = moment.astimezone(UTC)
    shown = utc.strftime("%Y-%m-%d %H:%M:%S" if utc.second or utc.microsecond else "%Y-%m-%d %H:%M")
    return f'<time datetime="{utc.isoformat()}">{shown} UTC</time>'


# -- the five sections ------------------------------------------------------------------


def _projects_section(data: ReportData) -> str:
    metrics, series = data.projects, data.projects_created
    kpis = _kpis(
        ("total_projects", "Projects", metrics.total_projects),
        ("active_projects", "Active", metrics.active_projects),
        ("completed_projects", "Completed", metrics.completed_projects),
        ("average_completion_time", "Mean completion time", metrics.average_completion_time),
    )
    week = series.granularity == "week"
    figures = (
        _bar_figure(
            "project_status",
            "Projects by status",
            _ordered(metrics.project_by_status, [status.value for status in ProjectStatus]),
            ("status", "projects"),
        ),
        _line_figure(
            "projects_created",
            f"Projects created per {series.granularity}",
            series.points,
            ("week starting (Monday)" if week else "day", "projects created"),
            note=f"One point per {series.granularity} (UTC): per day while that takes at most "
            f"{DAILY_LIMIT} points, per week beyond.",
        ),
        _bar_figure(
            "complexity",
            "Projects by complexity score",
            _by_number(metrics.complexity_distribution),
            ("complexity score", "projects"),
        ),
        _bar_figure(
            "top_frameworks",
            "Top frameworks",
            metrics.top_frameworks,
            ("framework", "projects"),
        ),
    )
    return _section("projects", "Projects", kpis, *figures)


def _conversations_section(flow: ConversationFlowMetrics) -> str:
    kpis = _kpis(
        ("total_conversations", "Conversations", flow.total_conversations),
        ("median_response_time", "Median response time", flow.median_response_time),
        ("avg_messages_per_conversation", "Mean messages", flow.avg_messages_per_conversation),
        (
            "median_messages_per_conversation",
            "Median messages",
            flow.median_messages_per_conversation,
        ),
        ("bottleneck_phase", "Bottleneck phase", flow.bottleneck_phase),
    )
    transitions = [(f"{t.from_phase} → {t.to_phase}", t.count) for t in flow.phase_transitions]
    figures = (
        _bar_figure(
            "conversation_phases",
            "Conversations by phase",
            _ordered(flow.conversations_by_phase, [phase.value for phase in ConversationPhase]),
            ("phase", "conversations"),
            highlight=flow.bottleneck_phase,
            highlight_note="bottleneck",
            note="The bottleneck phase (longest median time spent in it) is drawn in amber.",
        ),
        _bar_figure(
            "messages_by_role",
            "Messages by role",
            _sorted(flow.messages_by_role),
            ("role", "messages"),
        ),
        _bar_figure(
            "phase_transitions",
            "Phase transitions",
            transitions,
            ("change", "times"),
            note="From the audit trail, most frequent first.",
        ),
    )
    return _section("conversations", "Conversations", kpis, *figures)


def _documents_section(usage: DocumentUsageStats) -> str:
    kpis = _kpis(
        ("total_documents", "Documents", usage.total_documents),
        ("total_accesses", "Reads", usage.total_accesses),
        ("never_accessed", "Never read", usage.never_accessed),
    )
    figures = (
        _bar_figure(
            "documents_by_type",
            "Documents by type",
            _sorted(usage.documents_by_type),
            ("type", "documents"),
        ),
        _bar_figure(
            "most_read",
            "Most read documents",
            [(item.title, item.access_count) for item in usage.most_accessed],
            ("document", "reads"),
            note="Up to ten documents read at least once, most read first.",
        ),
        _line_figure(
            "documents_created",
            "Documents created per week",
            usage.created_per_week,
            ("week starting (Monday)", "documents created"),
            note="All time, UTC weeks from Monday.",
        ),
    )
    return _section("documents", "Documents", kpis, *figures)


def _repositories_section(data: ReportData) -> str:
    health = data.repositories
    kpis = _kpis(
        ("total_repositories", "Repositories", health.total_repositories),
        ("stale_repositories", "Stale", health.stale_repositories),
        ("avg_open_issues", "Mean open issues", health.avg_open_issues),
    )
    figures = (
        _bar_figure(
            "health_bands",
            "Repositories by health score",
            _sorted(health.score_distribution),
            ("score band", "repositories"),
            note="Score 0-100: recent commits (up to 50), few open issues (30), stars (20).",
        ),
        _bar_figure(
            "repositories_by_provider",
            "Repositories by provider",
            _sorted(health.by_provider),
            ("provider", "repositories"),
        ),
        _bar_figure(
            "repositories_by_language",
            "Repositories by language",
            _sorted(health.by_language),
            ("language", "repositories"),
        ),
    )
    scores = _listing(
        "health_scores",
        "Health scores, best first",
        ("repository", "score"),
        [(item.name, item.score) for item in health.health_scores[:LIST_LIMIT]],
        total=len(health.health_scores),
    )
    return _section("repositories", "Repositories", kpis, *figures, scores, _stale_listing(data))


def _stale_listing(data: ReportData) -> str:
    scores = {item.id: item.score for item in data.repositories.health_scores}
    rows: list[Sequence[Cell]] = [
        (
            repository.name,
            _day(repository.last_commit_at),
            _days_between(repository.last_commit_at, data.now),
            scores[repository.id],
        )
        for repository in data.stale
    ]
    return _listing(
        "stale_repositories",
        f"Stale repositories: no commit in the {STALE_DAYS} days before now",
        ("repository", "last commit", "days since", "health score"),
        rows,
        total=data.repositories.stale_repositories,
    )


def _activity_section(activity: CrossEntityMetrics) -> str:
    kpis = _kpis(
        ("projects", "Projects", len(activity.projects)),
        (
            "projects_without_conversations",
            "Without conversations",
            activity.projects_without_conversations,
        ),
    )
    by_status = _ordered(
        activity.avg_documents_per_project_by_status, [status.value for status in ProjectStatus]
    )
    header = ("project", "conversations", "documents", "repositories", "messages")
    return _section(
        "activity",
        "Activity across entities",
        kpis,
        _bar_figure(
            "documents_per_project",
            "Mean documents per project, by status",
            by_status,
            ("status", "mean documents"),
        ),
        _listing(
            "most_active",
            "Most active: most messages in the 30 days before now first (counts are all-time)",
            header,
            _activity_rows(activity.most_active),
            total=len(activity.most_active),
        ),
        _listing(
            "project_activity",
            "Every project, by id",
            header,
            _activity_rows(activity.projects[:LIST_LIMIT]),
            total=len(activity.projects),
        ),
    )


def _activity_rows(projects: Iterable[ProjectActivity]) -> list[Sequence[Cell]]:
    return [(p.name, p.conversations, p.documents, p.repositories, p.messages) for p in projects]


# -- building blocks --------------------------------------------------------------------


def _section(name: str, title: str, *parts: str) -> str:
    return (
        f'<section class="card" id="{name}" aria-labelledby="{name}-title">'
        f'<h2 id="{name}-title">{escape(title)}</h2>{"".join(parts)}</section>'
    )


def _kpis(*items: tuple[str, str, KpiValue]) -> str:
    tiles = "".join(
        f'<div class="kpi" data-kpi="{key}" data-value="{escape(_raw(value))}">'
        f"<dt>{escape(label)}</dt><dd>{escape(_shown(value))}</dd></div>"
        for key, label, value in items
    )
    return f'<dl class="kpis">{tiles}</dl>'


def _raw(value: KpiValue) -> str:
    """The machine-readable value of a KPI: seconds for a duration, '' for none."""
    if value is None:
        return ""
    if isinstance(value, timedelta):
        return repr(value.total_seconds())
    return value if isinstance(value, str) else repr(value)


def _shown(value: KpiValue) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, timedelta):
        return _duration(value)
    return value if isinstance(value, str) else format_number(value)


def _duration(span: timedelta) -> str:
    """A duration in its two largest units: '3 d 4 h', '2 h 5 min', '7 min 0 s'."""
    seconds = round(span.total_seconds())
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, seconds = divmod(rest, 60)
    if days:
        return f"{days:,} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min {seconds} s" if minutes else f"{seconds} s"


def _bar_figure(
    name: str,
    title: str,
    points: Sequence[Point],
    header: tuple[str, str],
    *,
    highlight: str | None = None,
    highlight_note: str = "",
    note: str = "",
) -> str:
    picture = bar_chart(points, title=title, highlight=highlight, highlight_note=highlight_note)
    data = {"kind": "bar", "points": _points_json(points), "highlight": highlight}
    return _figure(name, title, picture, data, _table(header, points), note)


def _line_figure(
    name: str,
    title: str,
    series: Sequence[TimeSeriesPoint],
    header: tuple[str, str],
    *,
    note: str,
) -> str:
    points = [(point.bucket.astimezone(UTC).date().isoformat(), point.value) for point in series]
    data = {"kind": "line", "points": _points_json(points)}
    return _figure(name, title, line_chart(points, title=title), data, _table(header, points), note)


def _figure(
    name: str, title: str, picture: str, data: Mapping[str, Any], table: str, note: str
) -> str:
    remark = f'<p class="note">{escape(note)}</p>' if note else ""
    return (
        f'<figure class="chart" data-chart="{name}" aria-labelledby="{name}-caption">'
        f'<figcaption id="{name}-caption">{escape(title)}</figcaption>{remark}'
        f'<div class="chart-body"><div class="picture">{picture}</div>{table}</div>'
        f'<script type="application/json" class="chart-data">{_json(data)}</script></figure>'
    )


def _listing(
    name: str, title: str, header: Sequence[str], rows: Sequence[Sequence[Cell]], *, total: int
) -> str:
    """A table on its own (a list to read, not a picture), with how many of how
    many rows it shows."""
    shown = f"{len(rows):,} of {total:,}" if total > len(rows) else f"{total:,}"
    return (
        f'<div class="listing"><h3>{escape(title)} <span class="count">({shown})</span></h3>'
        f"{_table(header, rows, name=name)}</div>"
    )


def _table(header: Sequence[str], rows: Sequence[Sequence[Cell]], *, name: str = "") -> str:
    sample: Sequence[Cell] = rows[0] if rows else [""] * len(header)
    head = "".join(_heading(text, cell) for text, cell in zip(header, sample, strict=True))
    body = "".join(f"<tr>{''.join(_cell(cell) for cell in row)}</tr>" for row in rows)
    if not rows:
        body = f'<tr><td class="no-data" colspan="{len(header)}">no data</td></tr>'
    label = f' data-table="{name}"' if name else ""
    return (
        f'<div class="table-wrap"><table{label}><thead><tr>{head}</tr></thead>'
        f"<tbody>{body}</tbody></table></div>"
    )


def _heading(text: str, sample: Cell) -> str:
    """A column heading, right-aligned over numbers like the numbers below it."""
    align = "" if isinstance(sample, str) else ' class="num"'
    return f'<th scope="col"{align}>{escape(text)}</th>'


def _cell(cell: Cell) -> str:
    if isinstance(cell, str):
        return f"<td>{escape(cell)}</td>"
    return f'<td class="num" data-value="{cell!r}">{format_number(cell)}</td>'


def _points_json(points: Sequence[Point]) -> list[dict[str, Any]]:
    return [{"label": label, "value": value} for label, value in points]


def _json(data: Mapping[str, Any]) -> str:
    """JSON that cannot end its <script> element: '<', '>' and '&' as \\u escapes
    (ASCII only, so no character can be unencodable either)."""
    text = json.dumps(data, ensure_ascii=True, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _ordered(counts: Mapping[str, float], order: Sequence[str]) -> list[Point]:
    """Known keys in their natural order (a lifecycle), any others after by name."""
    rank = {key: index for index, key in enumerate(order)}
    return sorted(counts.items(), key=lambda item: (rank.get(item[0], len(order)), item[0]))


def _sorted(counts: Mapping[str, float]) -> list[Point]:
    return sorted(counts.items())


def _by_number(counts: Mapping[str, int]) -> list[Point]:
    """Complexity keys in numeric order ('3' before '10'), 'unknown' last."""
    return sorted(
        counts.items(),
        key=lambda item: (0, int(item[0]), "") if _is_int(item[0]) else (1, 0, item[0]),
    )


def _is_int(text: str) -> bool:
    return text.lstrip("-").isdigit()


def _day(moment: datetime | None) -> str:
    return "never" if moment is None else moment.astimezone(UTC).date().isoformat()


def _days_between(moment: datetime | None, now: datetime) -> Cell:
    return "n/a" if moment is None else (now - moment).days


_CSS = """
:root {
  --ink: #1e293b; --muted: #475569; --line: #e2e8f0; --paper: #ffffff; --page: #f1f5f9;
  --bar: #2563eb; --accent: #b45309; --zebra: #f8fafc;
  font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial,
    sans-serif;
  color: var(--ink); background: var(--page); line-height: 1.45;
}
body { margin: 0; padding: 24px; }
.page-header, main, footer { max-width: 1200px; margin: 0 auto; }
h1 { font-size: 1.75rem; margin: 0 0 8px; overflow-wrap: anywhere; }
h2 { font-size: 1.3rem; margin: 0 0 16px; }
h3 { font-size: 1rem; margin: 0 0 8px; }
.context { display: flex; flex-wrap: wrap; gap: 8px 32px; margin: 0 0 8px; }
.context div { display: flex; gap: 8px; }
.context dt { font-weight: 600; }
.context dd { margin: 0; }
.scope, .note, footer, .count { color: var(--muted); font-size: 0.9rem; }
.scope { margin: 0 0 24px; max-width: 80ch; }
main { display: grid; gap: 24px; }
.card { background: var(--paper); border: 1px solid var(--line); border-radius: 10px;
  padding: 20px 24px; box-shadow: 0 1px 2px rgb(15 23 42 / 6%); }
.kpis { display: grid; grid-template-columns: repeat(auto-fill, minmax(170px, 1fr));
  gap: 12px; margin: 0 0 20px; }
.kpi { border: 1px solid var(--line); border-radius: 8px; padding: 10px 14px; }
.kpi dt { color: var(--muted); font-size: 0.85rem; }
.kpi dd { margin: 2px 0 0; font-size: 1.5rem; font-weight: 650;
  font-variant-numeric: tabular-nums; overflow-wrap: anywhere; }
.chart, .listing { margin: 0; padding: 16px 0; border-top: 1px solid var(--line); }
figcaption { font-weight: 600; }
.note { margin: 2px 0 0; }
.chart-body { display: grid; grid-template-columns: minmax(0, 560px) minmax(0, 1fr);
  gap: 24px; align-items: start; margin-top: 10px; }
@media (max-width: 900px) { .chart-body { grid-template-columns: minmax(0, 1fr); } }
.chart-svg { display: block; width: 100%; height: auto; }
.chart-svg text { font-size: 12px; fill: var(--ink); }
.chart-svg .tick, .chart-svg .value { fill: var(--muted); }
.chart-svg .no-data { font-size: 14px; fill: var(--muted); }
.bar { fill: var(--bar); }
.accent .bar { fill: var(--accent); }
.accent .value { fill: var(--accent); font-weight: 600; }
.grid { stroke: var(--line); }
.line { fill: none; stroke: var(--bar); stroke-width: 2.5; stroke-linejoin: round; }
.point { fill: var(--paper); stroke: var(--bar); stroke-width: 2; }
.table-wrap { max-height: 340px; overflow: auto; border: 1px solid var(--line);
  border-radius: 8px; }
table { border-collapse: collapse; width: 100%; font-size: 0.9rem; }
th, td { padding: 5px 10px; text-align: left; border-bottom: 1px solid var(--line);
  overflow-wrap: anywhere; }
th { position: sticky; top: 0; background: var(--zebra); font-weight: 600; }
tbody tr:nth-child(even) { background: var(--zebra); }
th.num, td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.no-data { color: var(--muted); font-style: italic; }
footer { margin-top: 24px; }
code { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; }
"""

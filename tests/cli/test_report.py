"""``report``: one self-contained HTML file of every analytics result.

The page is read back with the standard library's HTML parser: every chart's JSON
series and the table beside it must equal what ``AnalyticsRepository`` returns on
the same file, read in this process (with its engine closed before the command
runs: a DuckDB file has one writer or many readers across processes).
"""

from __future__ import annotations

import hashlib
import json
import math
import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import anyio
import pytest
from hypothesis import given
from hypothesis import strategies as st

from project_architect_db import (
    AnalyticsRepository,
    ConversationFlowMetrics,
    CrossEntityMetrics,
    DatabaseEngine,
    DocumentRepository,
    DocumentUsageStats,
    ProjectMetrics,
    ProjectRepository,
    RepositoryHealthMetrics,
    RepositoryRepository,
    TimeSeriesData,
)
from project_architect_db.report import build_report
from project_architect_db.report.charts import Point, bar_chart, line_chart

from .conftest import NOW, Cli

Range = tuple[datetime | None, datetime | None]

# -- reading a report back ------------------------------------------------------------


@dataclass
class Figure:
    data: dict[str, Any] = field(default_factory=dict)
    rows: list[list[Any]] = field(default_factory=list)
    text: list[str] = field(default_factory=list)


class Report(HTMLParser):
    """What the tests check in a page: each chart's JSON and table rows, each
    listing table, each KPI, every URL-bearing attribute, <link> elements,
    <style> text, every <script>'s type, the <title> and the header's text.

    A table cell is its ``data-value`` as a number when it has one, else its text;
    the heading row and a "no data" row are left out."""

    def __init__(self, page: str) -> None:
        super().__init__(convert_charrefs=True)
        self.figures: dict[str, Figure] = {}
        self.tables: dict[str, list[list[Any]]] = {}
        self.kpis: dict[str, str] = {}
        self.urls: list[str] = []
        self.links: list[dict[str, str | None]] = []
        self.styles: list[str] = []
        self.script_types: list[str | None] = []
        self.title = ""
        self.header = ""
        self._figure: Figure | None = None
        self._rows: list[list[Any]] | None = None
        self._cell: list[str] | None = None
        self._value: str | None = None
        self._text: dict[str, list[str]] = {}  # text of the open script/style/title/header
        self.feed(page)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        self.urls += [value or "" for name, value in attrs if name in {"src", "href", "srcset"}]
        if tag == "link":
            self.links.append(found)
        elif tag == "figure" and found.get("data-chart"):
            self._figure = self.figures.setdefault(str(found["data-chart"]), Figure())
        elif tag == "table":
            self._rows = self._figure.rows if self._figure else []
            if found.get("data-table"):
                self.tables[str(found["data-table"])] = self._rows
        elif tag == "tr" and self._rows is not None:
            self._rows.append([])
        elif tag in {"td", "th"}:
            self._cell, self._value = [], found.get("data-value")
        elif tag == "div" and found.get("data-kpi"):
            self.kpis[str(found["data-kpi"])] = str(found["data-value"])
        if tag == "script":
            self.script_types.append(found.get("type"))
        if tag in {"script", "style", "header"} or (tag == "title" and self._figure is None):
            self._text[tag] = []

    def handle_endtag(self, tag: str) -> None:
        if tag in {"td", "th"} and self._cell is not None and self._rows:
            text = "".join(self._cell)
            self._rows[-1].append(float(self._value) if self._value is not None else text)
            self._cell = None
        elif tag == "table" and self._rows is not None:
            self._rows[:] = [row for row in self._rows[1:] if row != ["no data"]]
            self._rows = None
        elif tag == "figure":
            self._figure = None
        text = "".join(self._text.pop(tag, []))
        if tag == "script" and self._figure is not None:
            self._figure.data = json.loads(text)
        elif tag == "style":
            self.styles.append(text)
        elif tag == "title" and not self.title:
            self.title = text
        elif tag == "header":
            self.header = text

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)
        if self._figure is not None:
            self._figure.text.append(data)
        for pieces in self._text.values():
            pieces.append(data)

    def points(self, chart: str) -> list[tuple[str, float]]:
        return [(point["label"], point["value"]) for point in self.figures[chart].data["points"]]


# -- what the analytics say, read in this process --------------------------------------


@dataclass(frozen=True)
class Expected:
    projects: ProjectMetrics
    created: TimeSeriesData
    flow: ConversationFlowMetrics
    documents: DocumentUsageStats
    health: RepositoryHealthMetrics
    activity: CrossEntityMetrics


async def _analytics(path: Path, date_range: Range, granularity: str) -> Expected:
    async with (
        DatabaseEngine(path, read_only=True) as engine,
        engine.session() as session,
    ):
        analytics = AnalyticsRepository(session)
        return Expected(
            projects=await analytics.project_metrics(date_range),
            created=await analytics.time_series_analysis(
                "projects_created", granularity, date_range
            ),
            flow=await analytics.conversation_flow_analysis(),
            documents=await analytics.document_usage_stats(),
            health=await analytics.repository_health_metrics(now=NOW),
            activity=await analytics.cross_entity_analytics(now=NOW),
        )


def expected_charts(found: Expected) -> dict[str, Mapping[str, float] | Sequence[Point]]:
    """Each chart's series as the analytics give it: a dict where the page may
    choose the order, a list where the analytics fix it."""
    return {
        "project_status": found.projects.project_by_status,
        "projects_created": _series(found.created.points),
        "complexity": found.projects.complexity_distribution,
        "top_frameworks": list(found.projects.top_frameworks),
        "conversation_phases": found.flow.conversations_by_phase,
        "messages_by_role": found.flow.messages_by_role,
        "phase_transitions": [
            (f"{t.from_phase} → {t.to_phase}", t.count) for t in found.flow.phase_transitions
        ],
        "documents_by_type": found.documents.documents_by_type,
        "most_read": [(d.title, d.access_count) for d in found.documents.most_accessed],
        "documents_created": _series(found.documents.created_per_week),
        "health_bands": found.health.score_distribution,
        "repositories_by_provider": found.health.by_provider,
        "repositories_by_language": found.health.by_language,
        "documents_per_project": found.activity.avg_documents_per_project_by_status,
    }


def _series(points: Any) -> list[tuple[str, float]]:
    assert all(point.bucket.time() == datetime.min.time() for point in points)
    return [(point.bucket.date().isoformat(), point.value) for point in points]


def expected_kpis(found: Expected) -> dict[str, str]:
    def raw(value: Any) -> str:
        if value is None:
            return ""
        if isinstance(value, timedelta):
            return repr(value.total_seconds())
        return value if isinstance(value, str) else repr(value)

    values = {
        "total_projects": found.projects.total_projects,
        "active_projects": found.projects.active_projects,
        "completed_projects": found.projects.completed_projects,
        "average_completion_time": found.projects.average_completion_time,
        "total_conversations": found.flow.total_conversations,
        "median_response_time": found.flow.median_response_time,
        "avg_messages_per_conversation": found.flow.avg_messages_per_conversation,
        "median_messages_per_conversation": found.flow.median_messages_per_conversation,
        "bottleneck_phase": found.flow.bottleneck_phase,
        "total_documents": found.documents.total_documents,
        "total_accesses": found.documents.total_accesses,
        "never_accessed": found.documents.never_accessed,
        "total_repositories": found.health.total_repositories,
        "stale_repositories": found.health.stale_repositories,
        "avg_open_issues": found.health.avg_open_issues,
        "projects": len(found.activity.projects),
        "projects_without_conversations": found.activity.projects_without_conversations,
    }
    return {key: raw(value) for key, value in values.items()}


def _activity_rows(projects: Any) -> list[list[Any]]:
    return [[p.name, p.conversations, p.documents, p.repositories, p.messages] for p in projects]


def run_report(cli: Cli, database: Path, output: Path, *args: str) -> Report:
    done = cli(
        "report", "--database", database, "--output", output, "--now", NOW.isoformat(), *args
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert f"wrote {output}" in done.stdout
    return Report(output.read_text(encoding="utf-8"))


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# -- (a) every chart shows exactly the analytics results ------------------------------

RANGES = {
    # all time: the sample's projects were all created today, so one point per day
    "all time": ((), (None, None), "day"),
    # a century: far more than 92 days, so per week
    "wide": (
        ("--from", "2000-01-01", "--to", "2100-01-01T00:00:00+00:00"),
        (datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC)),
        "week",
    ),
    # nine empty days long ago: zero projects, nine zero points
    "narrow": (
        ("--from", "2000-01-01", "--to", "2000-01-10"),
        (datetime(2000, 1, 1, tzinfo=UTC), datetime(2000, 1, 10, tzinfo=UTC)),
        "day",
    ),
}


@pytest.mark.parametrize("case", list(RANGES))
def test_every_chart_and_table_equals_the_analytics(
    cli: Cli, sample_database: Path, tmp_path: Path, case: str
) -> None:
    args, date_range, granularity = RANGES[case]
    found = anyio.run(_analytics, sample_database, date_range, granularity)
    before = _digest(sample_database)
    page = run_report(cli, sample_database, tmp_path / "report.html", *args)
    assert _digest(sample_database) == before  # read-only: the file is untouched

    expected = expected_charts(found)
    assert set(page.figures) == set(expected)
    for chart, series in expected.items():
        drawn = page.points(chart)
        if isinstance(series, Mapping):
            assert len(drawn) == len(series), chart
            assert dict(drawn) == series, chart
        else:
            assert drawn == series, chart
        assert [tuple(row) for row in page.figures[chart].rows] == drawn, chart
    assert page.figures["conversation_phases"].data["highlight"] == found.flow.bottleneck_phase
    assert f"per {granularity}" in "".join(page.figures["projects_created"].text)
    assert page.kpis == expected_kpis(found)

    assert page.tables["health_scores"] == [
        [item.name, item.score] for item in found.health.health_scores
    ]
    assert page.tables["most_active"] == _activity_rows(found.activity.most_active)
    assert page.tables["project_activity"] == _activity_rows(found.activity.projects)


def test_stale_repositories_are_listed_as_of_now(
    cli: Cli, sample_database: Path, tmp_path: Path
) -> None:
    page = run_report(cli, sample_database, tmp_path / "report.html")
    # conftest: repo-2's last commit was 45 days before NOW, repo-3's 400 days
    scores = {row[0]: row[1] for row in page.tables["health_scores"]}
    assert page.tables["stale_repositories"] == [
        ["repo-3", (NOW - timedelta(days=400)).date().isoformat(), 400.0, scores["repo-3"]],
        ["repo-2", (NOW - timedelta(days=45)).date().isoformat(), 45.0, scores["repo-2"]],
    ]
    assert page.kpis["stale_repositories"] == "2"

    # a year later every repository is stale and 'now' in the header says so
    later = run_report(
        cli, sample_database, tmp_path / "later.html", "--now", "2027-06-01T12:00:00Z"
    )
    assert [row[0] for row in later.tables["stale_repositories"]] == [
        "repo-3",
        "repo-2",
        "repo-1",
        "repo-0",
    ]
    assert "2027-06-01 12:00 UTC" in later.header


def test_the_header_shows_the_range_and_now_in_utc(
    cli: Cli, sample_database: Path, tmp_path: Path
) -> None:
    page = run_report(
        cli,
        sample_database,
        tmp_path / "report.html",
        "--from",
        "2026-05-01T00:00+02:00",
        "--to",
        "2026-06-01",
    )
    assert "2026-04-30 22:00 UTC to 2026-06-01 00:00 UTC (end excluded)" in page.header
    assert "2026-06-01 12:00 UTC" in page.header  # NOW
    assert page.title == f"Analytics report: {sample_database.name}"

    everything = run_report(cli, sample_database, tmp_path / "all.html")
    assert "all time" in everything.header


# -- (b) nothing is fetched from anywhere ----------------------------------------------


def test_the_page_references_no_network_resource(
    cli: Cli, sample_database: Path, tmp_path: Path
) -> None:
    output = tmp_path / "report.html"
    page = run_report(cli, sample_database, output)
    raw = output.read_text(encoding="utf-8")
    assert page.urls == []  # no src, href or srcset at all
    assert page.links == []  # no stylesheet, font or icon to load
    assert "@import" not in "".join(page.styles)
    assert "url(" not in "".join(page.styles)
    assert set(page.script_types) == {"application/json"}  # data only: nothing runs
    assert "default-src 'none'" in raw  # and the browser is told to load nothing
    assert "//" not in "".join(page.styles)


# -- (c) user text is escaped ------------------------------------------------------------

HOSTILE = "<script>alert(1)</script>"
CLOSER = "</script><img src=x onerror=alert(2)>"
QUOTED = "\"><svg onload=alert(3)>'&amp;"


async def fill_hostile(path: Path) -> None:
    """Names, a framework, a title and a language written to break out of HTML,
    of a JSON <script> and of an attribute."""
    async with DatabaseEngine(path) as engine, engine.transaction() as session:
        project = await ProjectRepository(session).create(
            {
                "name": HOSTILE,
                "project_idea": "An idea long enough to be valid",
                "architecture": {"framework": CLOSER, "complexity_score": 3},
            }
        )
        documents = DocumentRepository(session)
        document = await documents.create(
            {"project_id": project.id, "title": CLOSER, "doc_type": "adr", "content": "x"}
        )
        await documents.record_access(document.id)
        await RepositoryRepository(session).create(
            {
                "project_id": project.id,
                "name": QUOTED,
                "url": "https://example.com/r",
                "provider": "github",
                "primary_language": HOSTILE,
                "last_commit_at": NOW - timedelta(days=60),
            }
        )


def assert_escaped(raw: str) -> None:
    for text in (HOSTILE, CLOSER, QUOTED, "<img", "<svg onload"):
        assert text not in raw
    assert raw.count("<script") == raw.count('<script type="application/json" class="chart-data">')
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in raw


async def test_user_text_is_escaped(cli: Cli, tmp_path: Path) -> None:
    database = tmp_path / "hostile.duckdb"
    await fill_hostile(database)
    async with DatabaseEngine(database, read_only=True) as engine, engine.session() as session:
        assert_escaped(await build_report(session, now=NOW, source=HOSTILE))

    output = tmp_path / "report.html"
    page = await anyio.to_thread.run_sync(partial(run_report, cli, database, output))
    assert_escaped(output.read_text(encoding="utf-8"))
    # ... and reads back as the very text that was stored
    assert page.tables["project_activity"][0][0] == HOSTILE
    assert page.points("top_frameworks") == [(CLOSER, 1)]
    assert page.points("most_read") == [(CLOSER, 1)]
    assert page.points("repositories_by_language") == [(HOSTILE, 1)]
    assert page.tables["health_scores"][0][0] == QUOTED
    assert page.tables["stale_repositories"][0][0] == QUOTED


# -- (d) an empty database -----------------------------------------------------------------


async def _create_empty(path: Path) -> None:
    async with DatabaseEngine(path):
        pass


def test_an_empty_database_renders_zeros_and_no_data(cli: Cli, tmp_path: Path) -> None:
    database = tmp_path / "empty.duckdb"
    anyio.run(_create_empty, database)
    page = run_report(cli, database, tmp_path / "report.html")
    assert len(page.figures) == 14
    for chart, figure in page.figures.items():
        assert figure.data["points"] == [], chart
        assert figure.rows == [], chart
        assert "no data" in figure.text, chart
    counts = {key: value for key, value in page.kpis.items() if value not in {"", "0"}}
    assert counts == {}  # every count is 0, every mean and median is none
    assert page.tables == {
        "health_scores": [],
        "stale_repositories": [],
        "most_active": [],
        "project_activity": [],
    }


# -- (e) bad input: its exit code, its message, nothing written -------------------------


def _bad_inputs(tmp_path: Path, database: Path) -> dict[str, tuple[list[str | Path], str]]:
    existing = tmp_path / "existing.html"
    existing.write_text("keep me", encoding="utf-8")
    out = tmp_path / "out.html"
    return {
        "missing database": (
            ["--database", tmp_path / "nope.duckdb", "--output", out],
            "does not exist",
        ),
        "directory as output": (["--database", database, "--output", tmp_path], "is a directory"),
        "missing output directory": (
            ["--database", database, "--output", tmp_path / "no" / "out.html"],
            "does not exist; create it first",
        ),
        "existing output": (
            ["--database", database, "--output", existing],
            "already exists; choose another name or pass --force",
        ),
        "bad --from": (
            ["--database", database, "--output", out, "--from", "2026-13-01"],
            "--from '2026-13-01' is not a date; give an ISO date or date-time such as 2026-05-01",
        ),
        "bad --now": (
            ["--database", database, "--output", out, "--now", "yesterday"],
            "--now 'yesterday' is not a date",
        ),
        "from after to": (
            ["--database", database, "--output", out, "--from", "2026-06-01", "--to", "2026-05-01"],
            "--from 2026-06-01 is not before --to 2026-05-01",
        ),
        "from equals to": (
            ["--database", database, "--output", out, "--from", "2026-06-01", "--to", "2026-06-01"],
            "is not before --to",
        ),
    }


CASES = [
    "missing database",
    "directory as output",
    "missing output directory",
    "existing output",
    "bad --from",
    "bad --now",
    "from after to",
    "from equals to",
]


@pytest.mark.parametrize("case", CASES)
def test_bad_input_exits_2_and_writes_nothing(
    cli: Cli, sample_database: Path, tmp_path: Path, case: str
) -> None:
    args, message = _bad_inputs(tmp_path, sample_database)[case]
    before = sorted(tmp_path.rglob("*"))
    done = cli("report", *args)
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("project-architect-db report: ")
    assert message in " ".join(done.stderr.split())
    assert done.stdout == ""
    assert sorted(tmp_path.rglob("*")) == before  # no report, no temporary, no database
    assert (tmp_path / "existing.html").read_text(encoding="utf-8") == "keep me"


def test_force_replaces_an_existing_report(cli: Cli, sample_database: Path, tmp_path: Path) -> None:
    output = tmp_path / "report.html"
    output.write_text("old", encoding="utf-8")
    page = run_report(cli, sample_database, output, "--force")
    assert page.kpis["total_projects"] == "5"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["report.html"]


def test_a_file_that_is_not_a_database_exits_1(cli: Cli, tmp_path: Path) -> None:
    database = tmp_path / "notes.duckdb"
    database.write_text("not a database", encoding="utf-8")
    done = cli("report", "--database", database, "--output", tmp_path / "out.html")
    assert done.returncode == 1
    assert done.stderr.startswith("project-architect-db report: ")
    assert "Traceback" not in done.stderr
    assert sorted(path.name for path in tmp_path.iterdir()) == ["notes.duckdb"]


def test_the_library_does_not_import_the_report() -> None:
    """The report is command-line only: importing the library leaves it unloaded."""
    code = "import sys, project_architect_db; print('project_architect_db.report' in sys.modules)"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.strip() == "False"


# -- the chart functions, for any data -------------------------------------------------------

labels = st.text(max_size=40)
values = st.one_of(
    st.integers(min_value=0, max_value=10**12),
    st.floats(min_value=0, max_value=1e12, allow_nan=False),
)


def _parse(svg: str) -> ElementTree.Element:
    root = ElementTree.fromstring(svg)  # well-formed XML, whatever the labels hold
    assert root.tag == "svg"
    assert root.find("title") is not None
    assert root.find("desc") is not None
    return root


@given(st.lists(st.tuples(labels, values), max_size=30), labels)
def test_bar_widths_are_proportional_to_the_values(
    points: list[tuple[str, float]], title: str
) -> None:
    root = _parse(bar_chart(points, title=title))
    top = max((value for _, value in points), default=0)
    bars = [float(rect.attrib["width"]) for rect in root.iter("rect")]
    if top == 0:
        assert bars == []
        assert "no data" in "".join(root.itertext())
        return
    assert len(bars) == len(points)
    widest = max(bars)
    for width, (_, value) in zip(bars, points, strict=True):
        assert math.isclose(width, value / top * widest, abs_tol=0.01)


@given(st.lists(st.tuples(labels, values), max_size=120), labels)
def test_line_points_follow_the_values(points: list[tuple[str, float]], title: str) -> None:
    root = _parse(line_chart(points, title=title))
    if not points:
        assert "no data" in "".join(root.itertext())
        return
    line = root.find("polyline")
    assert line is not None
    ys = [float(pair.split(",")[1]) for pair in line.attrib["points"].split()]
    assert len(ys) == len(points)
    base = max(float(grid.attrib["y1"]) for grid in root.iter("line"))  # the zero line
    top = max(value for _, value in points)
    heights = [base - y for y in ys]
    tallest = max(heights)
    for height, (_, value) in zip(heights, points, strict=True):
        expected = value / top * tallest if top else 0
        assert math.isclose(height, expected, abs_tol=0.02)


def test_labels_that_xml_cannot_hold_are_replaced() -> None:
    svg = bar_chart([("bell\x07 and \ufffe", 1)], title="nul\x00")
    root = _parse(svg)
    assert "bell\ufffd and \ufffd" in "".join(root.itertext())


@pytest.mark.parametrize("value", [-1, math.inf, math.nan])
def test_charts_refuse_values_they_cannot_draw(value: float) -> None:
    with pytest.raises(ValueError, match="must be from 0"):
        bar_chart([("x", value)], title="t")


def test_sql_dir_reports_through_an_edited_copy(
    cli: Cli, sample_database: Path, tmp_path: Path
) -> None:
    """An analyst's edit to an analytics query shows in the report before it ships."""
    copy = tmp_path / "sql"
    assert cli("copy-sql", copy).returncode == 0
    metrics = copy / "analytics" / "project_metrics.sql"
    text = metrics.read_text(encoding="utf-8")
    assert "    LIMIT 10\n" in text
    metrics.write_text(text.replace("    LIMIT 10\n", "    LIMIT 1\n"), encoding="utf-8")

    installed = run_report(cli, sample_database, tmp_path / "installed.html")
    edited = run_report(cli, sample_database, tmp_path / "edited.html", "--sql-dir", str(copy))

    assert len(installed.figures["top_frameworks"].data["points"]) > 1
    assert (
        edited.figures["top_frameworks"].data["points"]
        == (installed.figures["top_frameworks"].data["points"][:1])
    )

    metrics.write_text(text.replace("FROM scope", "FROM scopes", 1), encoding="utf-8")
    (copy / "broken.sql").write_text("SELECT 1;\n", encoding="utf-8")
    broken = cli(
        "report",
        "--database",
        sample_database,
        "--output",
        tmp_path / "broken.html",
        "--sql-dir",
        copy,
    )
    assert broken.returncode == 1
    assert "have 1 problem(s)" in broken.stderr
    assert f"check-sql --sql-dir {copy}" in broken.stderr
    assert not (tmp_path / "broken.html").exists()

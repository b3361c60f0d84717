"""``run``: named queries from the catalog or an analyst's file, run through the
installed command against real DuckDB files.

The analytics queries are checked against the library itself: the rows the
command prints as JSON go through the library's own row-to-model functions and
must give exactly the model ``AnalyticsRepository`` returns for the same
parameters (every time-series metric and granularity included). Parameter
typing is checked in-process with hypothesis; everything else through the
command as users run it, with bad input refused by exit code and message, no
traceback, and nothing written.
"""

from __future__ import annotations

import csv
import io
import json
import math
import shutil
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import anyio
import duckdb
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel

from project_architect_db import AnalyticsRepository, BulkOperations, DatabaseEngine
from project_architect_db.cli.common import UsageError
from project_architect_db.cli.values import parse_param, typed_value
from project_architect_db.repositories.analytics import (
    conversation_flow_from,
    cross_entity_from,
    document_usage_from,
    project_metrics_from,
    repository_health_from,
    time_series_points,
)
from project_architect_db.schemas.analytics import (
    GRANULARITIES,
    METRICS,
    ConversationFlowMetrics,
    CrossEntityMetrics,
    DocumentUsageStats,
    ProjectMetrics,
    RepositoryHealthMetrics,
    TimeSeriesData,
)

from .conftest import NOW, Cli

Rows = list[dict[str, Any]]
RunJson = Callable[..., Rows]

#: A query file as an analyst writes it: parameter lists left out, two queries.
ANALYST_SQL = """\
-- A scratch file.

-- name: typed
-- What DuckDB received for each parameter.
SELECT typeof(:i) AS i, typeof(:f) AS f, typeof(:b) AS b, typeof(:n) AS n,
       typeof(:d) AS d, typeof(:ts) AS ts, typeof(:s) AS s, :s AS s_value,
       :forced AS forced, typeof(:forced) AS forced_type, :ts AS ts_value,
       (SELECT count(*) FROM projects) AS projects;

-- name: live_projects
SELECT id, name FROM projects WHERE status = :status AND deleted_at IS NULL ORDER BY id;
"""

#: One column of each kind the writers must render faithfully.
KINDS_SQL = """\
-- name: kinds
SELECT 42 AS n, 12345678901234567890123::HUGEINT AS huge, 1.5::DOUBLE AS f,
       'nan'::DOUBLE AS nan, '-inf'::DOUBLE AS neg_inf, 3.10::DECIMAL(10, 2) AS price,
       'text, with "quotes"' AS s, NULL AS nothing, true AS yes, DATE '2026-05-01' AS d,
       TIME '09:30:00' AS t, TIMESTAMP '2026-05-01 09:30:00' AS naive,
       TIMESTAMPTZ '2026-05-01 09:30:00+02' AS aware, INTERVAL 1 DAY + INTERVAL 2 HOUR AS span,
       '6f1c5b1e-4f4e-4a8e-9d61-2a1d3b9f4c11'::UUID AS id, '\\xAA\\xBB'::BLOB AS raw,
       '{"a": [1, 2.5, null], "b": "x"}'::JSON AS doc, [1, 2, NULL] AS nums,
       {'k': 'v', 'j': '{"z": 1}'::JSON, 'at': TIMESTAMPTZ '2026-05-01 00:00:00+00'} AS rec,
       MAP {1: 'one'} AS m, 1 AS n;
"""

KINDS_JSON = {
    "n": 42,
    "huge": 12345678901234567890123,
    "f": 1.5,
    "nan": "NaN",
    "neg_inf": "-Infinity",
    "price": "3.10",
    "s": 'text, with "quotes"',
    "nothing": None,
    "yes": True,
    "d": "2026-05-01",
    "t": "09:30:00",
    "naive": "2026-05-01T09:30:00+00:00",
    "aware": "2026-05-01T07:30:00+00:00",
    "span": "P1DT2H",
    "id": "6f1c5b1e-4f4e-4a8e-9d61-2a1d3b9f4c11",
    "raw": "qrs=",
    "doc": {"a": [1, 2.5, None], "b": "x"},
    "nums": [1, 2, None],
    "rec": {"k": "v", "j": {"z": 1}, "at": "2026-05-01T00:00:00+00:00"},
    "m": {"1": "one"},
    "n_1": 1,
}


# -- fixtures -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Query files of every kind, good and bad, and an output that already exists."""
    root = tmp_path_factory.mktemp("run")
    files = {
        "analyst.sql": ANALYST_SQL,
        "kinds.sql": KINDS_SQL,
        "syntax.sql": "-- name: broken\nSELEC id FROM projects;\n",
        "missing_table.sql": "-- name: lost\nSELECT * FROM no_such_table;\n",
        "missing_column.sql": "-- name: lost\nSELECT no_such_column FROM projects;\n",
        "nameless.sql": "SELECT 1;\n",
        "insert.sql": "-- name: add(name)\n"
        "INSERT INTO analytics_summaries VALUES (:name, now(), '{}');\n",
        "existing.json": "keep me\n",
    }
    for name, text in files.items():
        (root / name).write_text(text, encoding="utf-8")
    (root / "binary.sql").write_bytes(b"\x89PNG\r\n\x1a\n\x00\xff\xfe")
    (root / "latin1.sql").write_bytes("-- name: café\nSELECT 'café';\n".encode("latin-1"))
    (root / "not-a-database.duckdb").write_text("hello\n", encoding="utf-8")
    (root / "a directory").mkdir()
    return root


@pytest.fixture
def database_copy(sample_database: Path, tmp_path: Path) -> Path:
    """A private copy of the sample database, free to change."""
    copy = tmp_path / "copy.duckdb"
    shutil.copy(sample_database, copy)
    return copy


@pytest.fixture(scope="module")
def run_json(cli: Cli, sample_database: Path) -> RunJson:
    """``run_json(name, param=value, ...)``: the rows of ``run NAME --format json`` on the
    sample database. Cached: the asyncio and trio runs of a test share one subprocess."""
    cache: dict[tuple[str, tuple[tuple[str, str], ...]], Rows] = {}

    def run(name: str, **params: str) -> Rows:
        key = (name, tuple(params.items()))
        if key not in cache:
            args = [f"--param={param}={value}" for param, value in params.items()]
            done = cli("run", name, "--database", sample_database, "--format", "json", *args)
            assert done.returncode == 0, done.stderr
            assert done.stderr == ""
            cache[key] = json.loads(done.stdout)
        return cache[key]

    return run


async def library(path: Path, call: Callable[[AnalyticsRepository], Awaitable[Any]]) -> Any:
    """What the library returns on ``path`` (opened read-only, closed before returning)."""
    async with DatabaseEngine(path, read_only=True) as engine, engine.session() as session:
        return await call(AnalyticsRepository(session))


def assert_same(from_cli: BaseModel, from_library: BaseModel) -> None:
    """Equal models, and equal JSON too: datetimes with the same instant *and* the same
    offset, floats with the same digits."""
    assert from_cli == from_library
    assert from_cli.model_dump_json() == from_library.model_dump_json()


def only_row(rows: Rows) -> dict[str, Any]:
    assert len(rows) == 1
    return rows[0]


# -- parameter typing (in-process) ---------------------------------------------------

offsets = st.timedeltas(
    min_value=-timedelta(hours=23, minutes=59), max_value=timedelta(hours=23, minutes=59)
)
# Whole seconds: real offsets are whole minutes, and Python 3.11's fromisoformat
# drops a fraction of a second in an offset (values.py does not take one).
zones = st.none() | st.builds(
    timezone, offsets.map(lambda offset: timedelta(seconds=round(offset.total_seconds())))
)


@given(st.integers())
def test_integers_round_trip(number: int) -> None:
    value = typed_value(str(number))
    assert type(value) is int
    assert value == number


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_finite_floats_round_trip(number: float) -> None:
    value = typed_value(repr(number))
    assert type(value) is float
    assert value == number
    assert math.copysign(1, value) == math.copysign(1, number)  # -0.0 stays negative


@given(st.floats())
def test_every_float_round_trips_with_the_float_type(number: float) -> None:
    value = typed_value(repr(number), "float")
    assert value == number or (math.isnan(value) and math.isnan(number))


@given(
    st.datetimes(min_value=datetime(2, 1, 1), max_value=datetime(9998, 12, 31), timezones=zones),
    st.sampled_from(["T", " "]),
    st.sampled_from(["auto", "seconds", "microseconds"]),
)
def test_iso_datetimes_round_trip_as_aware_utc(moment: datetime, sep: str, spec: str) -> None:
    text = moment.isoformat(sep=sep, timespec=spec)
    value = typed_value(text)
    assert isinstance(value, datetime)
    assert value.utcoffset() == timedelta(0)
    if spec == "seconds":
        moment = moment.replace(microsecond=0)
    expected = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    assert value == expected  # the same instant: naive text is UTC
    assert typed_value(text, "datetime") == expected


@given(st.dates())
def test_iso_dates_round_trip(day: date) -> None:
    value = typed_value(day.isoformat())
    assert type(value) is date
    assert value == day


@given(st.text())
def test_any_text_round_trips_with_the_str_type(text: str) -> None:
    assert parse_param(f"label:str={text}") == ("label", text)


@given(st.text())
def test_guessing_never_mangles_text(text: str) -> None:
    """Any value is typed or refused with a UsageError; one kept as text is unchanged."""
    outcome: tuple[str, Any] | UsageError
    try:
        outcome = parse_param(f"v={text}")
    except UsageError as refused:
        outcome = refused
    if isinstance(outcome, UsageError):
        assert str(outcome).startswith("--param ")
    else:
        assert outcome[0] == "v"
        assert not isinstance(outcome[1], str) or outcome[1] == text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("null", None),
        ("NULL", None),
        ("true", True),
        ("False", False),
        ("007", 7),
        ("-3", -3),
        ("1.5", 1.5),
        (".5", 0.5),
        ("2e3", 2000.0),
        ("2026-05-01", date(2026, 5, 1)),
        ("2026-05-01T09:30", datetime(2026, 5, 1, 9, 30, tzinfo=UTC)),
        ("2026-05-01 09:30:00+02:00", datetime(2026, 5, 1, 7, 30, tzinfo=UTC)),
        ("2026-05-01T09:30:00.5Z", datetime(2026, 5, 1, 9, 30, 0, 500000, tzinfo=UTC)),
        ("hello", "hello"),
        ("", ""),
        (" 7", " 7"),
        ("1_000", "1_000"),
        ("٣", "٣"),  # a digit to Python's int(), text here
        ("inf", "inf"),
        ("nan", "nan"),
        ("'; DROP TABLE projects; --", "'; DROP TABLE projects; --"),
        ("a=b", "a=b"),
    ],
)
def test_guessed_types(text: str, expected: Any) -> None:
    value = typed_value(text)
    assert value == expected
    assert type(value) is type(expected)
    if isinstance(value, datetime):
        assert value.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    ("argument", "expected"),
    [
        ("code:str=007", "007"),
        ("code:str=null", "null"),
        ("n:int=007", 7),
        ("x:float=7", 7.0),
        ("x:float=-inf", -math.inf),
        ("flag:bool=1", True),
        ("flag:bool=FALSE", False),
        ("day:date=2026-05-01", date(2026, 5, 1)),
        ("at:datetime=2026-05-01", datetime(2026, 5, 1, tzinfo=UTC)),
        ('doc:json={"a": [1, null]}', '{"a": [1, null]}'),
        ("q=a=b", "a=b"),
    ],
)
def test_forced_types(argument: str, expected: Any) -> None:
    _, value = parse_param(argument)
    assert value == expected
    assert type(value) is type(expected)


@pytest.mark.parametrize(
    ("argument", "message"),
    [
        ("start", "has no '='"),
        ("=1", "is not a parameter name"),
        ("1x=2", "is not a parameter name"),
        ("x y=1", "is not a parameter name"),
        ("x;DROP=1", "is not a parameter name"),
        ("x:zz=1", "unknown type 'zz'"),
        ("x:=1", "unknown type ''"),
        ("x:int=1.5", "is not an integer"),
        ("x:bool=maybe", "is not a boolean"),
        ("x:json={", "not valid JSON"),
        ("x:json=NaN", "not valid JSON"),
        ("x:date=2026-13-01", "is not a valid ISO-8601 date"),
        ("x=2026-02-30", "is not a valid ISO-8601 date"),
        ("x=2026-05-01T25:00", "is not a valid ISO-8601 datetime"),
        ("x=1e999", "too large for a float"),
        ("x:datetime=0001-01-01T00:00+01:00", "out of range"),
    ],
)
def test_malformed_params_are_usage_errors(argument: str, message: str) -> None:
    with pytest.raises(UsageError, match=message.replace("(", r"\(")) as refused:
        parse_param(argument)
    assert refused.value.exit_code == 2


# -- every analytics query gives what the library gives -------------------------------


@pytest.mark.parametrize(
    ("start", "end", "date_range"),
    [
        ("null", "null", None),
        ("2000-01-01", "null", (datetime(2000, 1, 1, tzinfo=UTC), None)),
        ("null", "2000-01-01T00:00:00Z", (None, datetime(2000, 1, 1, tzinfo=UTC))),
    ],
)
async def test_project_metrics(
    run_json: RunJson,
    sample_database: Path,
    start: str,
    end: str,
    date_range: tuple[datetime | None, datetime | None] | None,
) -> None:
    expected: ProjectMetrics = await library(
        sample_database, lambda analytics: analytics.project_metrics(date_range)
    )
    rows = run_json("project_metrics", start=start, end=end)
    assert_same(project_metrics_from(only_row(rows)), expected)


async def test_conversation_flow(run_json: RunJson, sample_database: Path) -> None:
    expected: ConversationFlowMetrics = await library(
        sample_database, lambda analytics: analytics.conversation_flow_analysis()
    )
    assert expected.phase_transitions  # the sample has phase changes to compare
    assert_same(conversation_flow_from(only_row(run_json("conversation_flow"))), expected)


async def test_document_usage(run_json: RunJson, sample_database: Path) -> None:
    expected: DocumentUsageStats = await library(
        sample_database, lambda analytics: analytics.document_usage_stats()
    )
    row = only_row(run_json("document_usage"))
    per_week = run_json(
        "time_series", metric="documents_created", granularity="week", start="null", end="null"
    )
    assert expected.most_accessed
    assert expected.created_per_week
    assert_same(document_usage_from(row, per_week), expected)


async def test_repository_health(run_json: RunJson, sample_database: Path) -> None:
    expected: RepositoryHealthMetrics = await library(
        sample_database, lambda analytics: analytics.repository_health_metrics(now=NOW)
    )
    row = only_row(run_json("repository_health", now=NOW.isoformat()))
    assert_same(repository_health_from(row), expected)


async def test_cross_entity(run_json: RunJson, sample_database: Path) -> None:
    expected: CrossEntityMetrics = await library(
        sample_database, lambda analytics: analytics.cross_entity_analytics(now=NOW)
    )
    row = only_row(run_json("cross_entity", now=NOW.isoformat()))
    assert_same(cross_entity_from(row), expected)


@pytest.mark.parametrize("granularity", GRANULARITIES)
@pytest.mark.parametrize("metric", METRICS)
async def test_time_series(
    run_json: RunJson, sample_database: Path, metric: str, granularity: str
) -> None:
    expected: TimeSeriesData = await library(
        sample_database, lambda analytics: analytics.time_series_analysis(metric, granularity)
    )
    rows = run_json("time_series", metric=metric, granularity=granularity, start="null", end="null")
    points = time_series_points(rows)
    assert_same(TimeSeriesData(metric=metric, granularity=granularity, points=points), expected)


@pytest.mark.parametrize(
    ("granularity", "start", "end", "date_range"),
    [
        (
            "hour",
            "2026-05-02T00:00:00+02:00",
            "2026-05-03T06:00:00Z",
            (
                datetime(2026, 5, 2, tzinfo=timezone(timedelta(hours=2))),
                datetime(2026, 5, 3, 6, tzinfo=UTC),
            ),
        ),
        # a naive datetime and a date are UTC, as in the library
        (
            "day",
            "2026-05-01T09:10",
            "2026-05-03",
            (datetime(2026, 5, 1, 9, 10), datetime(2026, 5, 3)),
        ),
    ],
)
async def test_time_series_in_a_range(
    run_json: RunJson,
    sample_database: Path,
    granularity: str,
    start: str,
    end: str,
    date_range: tuple[datetime, datetime],
) -> None:
    expected: TimeSeriesData = await library(
        sample_database,
        lambda analytics: analytics.time_series_analysis("messages", granularity, date_range),
    )
    assert any(point.value for point in expected.points)
    rows = run_json("time_series", metric="messages", granularity=granularity, start=start, end=end)
    points = time_series_points(rows)
    assert_same(TimeSeriesData(metric="messages", granularity=granularity, points=points), expected)


def test_stored_summaries_read_back_as_the_library_reads_them(
    cli: Cli, database_copy: Path
) -> None:
    """``get_analytics_summary`` after a refresh: its JSON payload column comes out as
    parsed JSON and its built_at as an exact instant."""

    async def refresh_and_read() -> dict[str, BaseModel]:
        async with DatabaseEngine(database_copy) as engine:
            async with engine.transaction() as session:
                await BulkOperations.bulk_analytics_refresh(session)
            async with engine.session() as session:
                analytics = AnalyticsRepository(session)
                return {
                    "project_metrics": await analytics.project_metrics(use_summary=True),
                    "conversation_flow": await analytics.conversation_flow_analysis(
                        use_summary=True
                    ),
                    "document_usage": await analytics.document_usage_stats(use_summary=True),
                    "repository_health": await analytics.repository_health_metrics(
                        use_summary=True
                    ),
                    "cross_entity": await analytics.cross_entity_analytics(use_summary=True),
                }

    expected = anyio.run(refresh_and_read)  # the engine is closed before the command runs
    for name, model in expected.items():
        done = cli(
            "run", "get_analytics_summary", "--database", database_copy,
            "--param", f"name={name}", "--format", "json",
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        row = only_row(json.loads(done.stdout))
        assert isinstance(row["payload"], dict)
        built_at = datetime.fromisoformat(row["built_at"])
        from_cli = (
            type(model)
            .model_validate(row["payload"])
            .model_copy(update={"summary_built_at": built_at})
        )
        assert_same(from_cli, model)


# -- output formats --------------------------------------------------------------------


def test_json_keeps_every_kind_of_value(cli: Cli, workspace: Path, sample_database: Path) -> None:
    done = cli("run", workspace / "kinds.sql", "--database", sample_database, "--format", "json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [KINDS_JSON]


def test_jsonl_is_one_object_per_line(cli: Cli, workspace: Path, sample_database: Path) -> None:
    done = cli("run", workspace / "kinds.sql", "--database", sample_database, "--format", "jsonl")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert [json.loads(line) for line in lines] == [KINDS_JSON]


def test_csv_cells(cli: Cli, workspace: Path, sample_database: Path) -> None:
    done = cli("run", workspace / "kinds.sql", "--database", sample_database, "--format", "csv")
    assert done.returncode == 0, done.stderr
    (row,) = csv.DictReader(io.StringIO(done.stdout))
    assert list(row) == list(KINDS_JSON)
    assert row["nothing"] == ""  # NULL
    assert row["s"] == 'text, with "quotes"'
    assert row["doc"] == '{"a": [1, 2.5, null], "b": "x"}'  # JSON columns as stored
    assert json.loads(row["rec"]) == KINDS_JSON["rec"]
    assert row["nums"] == "[1, 2, null]"
    assert row["aware"] == "2026-05-01T07:30:00+00:00"
    assert (row["yes"], row["price"], row["huge"]) == ("true", "3.10", "12345678901234567890123")


def test_table_is_aligned_and_cuts_long_cells(cli: Cli, sample_database: Path) -> None:
    done = cli(
        "run", "get_project", "--database", sample_database,
        "--param", "id=1",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    header, rule, row, count = done.stdout.splitlines()
    assert header.split()[:3] == ["id", "name", "description"]
    assert set(rule) == {"-", " "}
    assert row.startswith("1 ")
    assert "An event driven service for payments an…" in row  # 40 characters at most
    assert "NULL" in row  # completed_at
    assert count == "(1 row)"
    assert len(header) <= len(rule)


def test_parquet_holds_the_same_rows(
    cli: Cli, run_json: RunJson, sample_database: Path, tmp_path: Path
) -> None:
    params = {"metric": "messages", "granularity": "day", "start": "null", "end": "null"}
    target = tmp_path / "series.parquet"
    done = cli(
        "run", "time_series", "--database", sample_database, "--format", "parquet",
        "--output", target, *[f"--param={name}={value}" for name, value in params.items()],
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    assert done.stderr == "time_series: 4 rows written to " + str(target) + "\n"
    with duckdb.connect() as reader:
        reader.execute("SET TimeZone = 'UTC'")
        stored = reader.execute("SELECT * FROM read_parquet($p)", {"p": str(target)}).fetchall()
    expected = [
        (datetime.fromisoformat(row["bucket"]), row["value"])
        for row in run_json("time_series", **params)
    ]
    assert stored == expected
    assert list(tmp_path.iterdir()) == [target]  # no temporary file left


def test_limit_caps_the_rows(cli: Cli, run_json: RunJson, sample_database: Path) -> None:
    params = {"metric": "messages", "granularity": "hour", "start": "null", "end": "null"}
    everything = run_json("time_series", **params)
    args = [f"--param={name}={value}" for name, value in params.items()]
    capped = cli("run", "time_series", "--database", sample_database, "--format", "jsonl",
                 "--limit", "5", *args)  # fmt: skip
    none = cli("run", "time_series", "--database", sample_database, "--format", "json",
               "--limit", "0", *args)  # fmt: skip
    assert capped.returncode == none.returncode == 0, capped.stderr + none.stderr
    assert len(everything) > 5
    assert [json.loads(line) for line in capped.stdout.splitlines()] == everything[:5]
    assert json.loads(none.stdout) == []


def test_select_one_and_select_value_queries_read_as_the_library_reads_them(
    cli: Cli, sample_database: Path
) -> None:
    one = cli(
        "run", "get_project", "--database", sample_database, "--format", "json",
        "--param", "id=2",
    )  # fmt: skip
    value = cli("run", "migrations_table_exists", "--database", sample_database, "--format", "json")
    assert one.returncode == value.returncode == 0, one.stderr + value.stderr
    project = only_row(json.loads(one.stdout))
    assert project["id"] == 2
    assert project["architecture"] == {"complexity_score": 4, "framework": "Litestar"}
    assert datetime.fromisoformat(project["created_at"]).utcoffset() == timedelta(0)
    assert [list(row.values()) for row in json.loads(value.stdout)] == [[True]]


# -- parameters end to end ------------------------------------------------------------


def test_parameters_reach_duckdb_typed_and_bound(
    cli: Cli, workspace: Path, sample_database: Path
) -> None:
    hostile = "'); DROP TABLE projects; --"
    done = cli(
        "run", workspace / "analyst.sql", "--query", "typed", "--database", sample_database,
        "--format", "json", "--param", "i=7", "--param", "f=2.5", "--param", "b=true",
        "--param", "n=null", "--param", "d=2026-05-01", "--param", "ts=2026-05-01T09:30:00+02:00",
        "--param", f"s={hostile}", "--param", "forced:str=007",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert only_row(json.loads(done.stdout)) == {
        "i": "INTEGER",
        "f": "DOUBLE",
        "b": "BOOLEAN",
        "n": '"NULL"',
        "d": "DATE",
        "ts": "TIMESTAMP WITH TIME ZONE",
        "s": "VARCHAR",
        "s_value": hostile,
        "forced": "007",
        "forced_type": "VARCHAR",
        "ts_value": "2026-05-01T07:30:00+00:00",
        "projects": 6,
    }


def test_a_query_from_sql_dir(
    cli: Cli, workspace: Path, sample_database: Path, tmp_path: Path
) -> None:
    (tmp_path / "mine.sql").write_text(
        "-- name: active_projects(status)\n"
        "SELECT id FROM projects WHERE status = :status AND deleted_at IS NULL ORDER BY id;\n",
        encoding="utf-8",
    )
    done = cli(
        "run", "active_projects", "--sql-dir", tmp_path, "--database", sample_database,
        "--param", "status=active", "--format", "csv",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout == "id\n2\n3\n"


# -- output files -----------------------------------------------------------------------


def test_output_is_written_once_and_replaced_only_with_force(
    cli: Cli, sample_database: Path, tmp_path: Path
) -> None:
    target = tmp_path / "flow.csv"
    base = ("run", "conversation_flow", "--database", sample_database, "--format", "csv")
    first = cli(*base, "--output", target)
    assert first.returncode == 0, first.stderr
    assert first.stdout == ""
    assert first.stderr == f"conversation_flow: 1 row written to {target}\n"
    written = target.read_text(encoding="utf-8")
    assert written.startswith("total_conversations,by_phase,")

    again = cli(*base, "--output", target, "--format", "json")
    assert again.returncode == 2
    assert "already exists" in again.stderr
    assert "--force" in again.stderr
    assert target.read_text(encoding="utf-8") == written

    forced = cli(*base, "--output", target, "--format", "json", "--force")
    assert forced.returncode == 0, forced.stderr
    assert json.loads(target.read_text(encoding="utf-8"))[0]["total_conversations"] == 4
    assert list(tmp_path.iterdir()) == [target]


# -- writing to the database ---------------------------------------------------------------


def summary_names(path: Path) -> list[str]:
    with duckdb.connect(str(path), read_only=True) as reader:
        return [
            name
            for (name,) in reader.execute(
                "SELECT name FROM analytics_summaries ORDER BY name"
            ).fetchall()
        ]


def test_a_write_needs_write_and_reports_the_rows_changed(
    cli: Cli, workspace: Path, database_copy: Path
) -> None:
    insert = ("run", workspace / "insert.sql", "--database", database_copy, "--param", "name=mine")
    refused = cli(*insert)
    assert refused.returncode == 2
    assert "INSERT" in refused.stderr
    assert "pass --write" in refused.stderr
    assert summary_names(database_copy) == []

    done = cli(*insert, "--write")
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    assert done.stderr == "add: 1 row changed\n"
    assert summary_names(database_copy) == ["mine"]


def test_returning_rows_are_printed(cli: Cli, database_copy: Path, tmp_path: Path) -> None:
    script = tmp_path / "rename.sql"
    script.write_text(
        "-- name: rename\nUPDATE projects SET name = :name WHERE id = :id RETURNING id, name;\n",
        encoding="utf-8",
    )
    done = cli(
        "run", script, "--database", database_copy, "--write", "--format", "json",
        "--param", "id=3", "--param", "name=Renamed",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [{"id": 3, "name": "Renamed"}]
    assert done.stderr == "rename: 1 row returned\n"


def test_a_failing_statement_rolls_back_the_whole_query(
    cli: Cli, database_copy: Path, tmp_path: Path
) -> None:
    script = tmp_path / "twice.sql"
    script.write_text(
        "-- name: twice\n"
        "INSERT INTO analytics_summaries VALUES ('one', now(), '{}');\n"
        "INSERT INTO analytics_summaries VALUES ('one', now(), '{}');\n",
        encoding="utf-8",
    )
    done = cli("run", script, "--database", database_copy, "--write")
    assert done.returncode == 1
    assert f"query twice ({script}:1) failed" in done.stderr
    assert "Constraint Error" in done.stderr
    assert "Traceback" not in done.stderr
    assert summary_names(database_copy) == []


def test_a_locked_database_is_a_clear_error(cli: Cli, database_copy: Path) -> None:
    with duckdb.connect(str(database_copy)):  # this process holds it for writing
        done = cli("run", "conversation_flow", "--database", database_copy)
    assert done.returncode == 1
    assert "is locked by another process" in done.stderr
    assert "Traceback" not in done.stderr
    assert done.stdout == ""


# -- bad input: refused with a message, no traceback, nothing written --------------------------

BAD = [
    # (arguments, exit code, words the message must hold)
    (["project_metrics", "--param", "start"], 2, ["--param 'start' has no '='"]),
    (["project_metrics", "--param", "=1"], 2, ["is not a parameter name"]),
    (["project_metrics", "--param", "start:when=1"], 2, ["unknown type 'when'"]),
    (
        ["project_metrics", "--param", "start=null"],
        2,
        ["takes parameters start, end", "missing end"],
    ),
    (
        ["conversation_flow", "--param", "x=1"],
        2,
        ["conversation_flow (analytics/conversation_flow.sql:", "takes no parameters", "unknown x"],
    ),
    (["project_metrics", "--param", "start=null", "--param", "start=1"], 2, ["given twice"]),
    (["project_metrics", "--param", "start=2026-02-30", "--param", "end=null"], 2, ["not a valid"]),
    (["project_metric"], 2, ["no query named 'project_metric'", "Did you mean project_metrics"]),
    (["conversation_flow", "--query", "x"], 2, ["--query picks a query inside a .sql FILE"]),
    (["{ws}/nothing.sql"], 2, ["nothing.sql' does not exist"]),
    (["{ws}/binary.sql"], 2, ["binary.sql is not UTF-8 text"]),
    (["{ws}/latin1.sql"], 2, ["latin1.sql is not UTF-8 text"]),
    (["{ws}/nameless.sql"], 2, ["holds no named query"]),
    (["{ws}/a directory"], 2, ["is a directory"]),
    (["{ws}/analyst.sql"], 2, ["holds 2 queries (typed, live_projects)", "--query NAME"]),
    (["{ws}/analyst.sql", "--query", "live_project"], 2, ["no query named", "live_projects"]),
    (["{ws}/syntax.sql"], 1, ["query broken ({ws}/syntax.sql:1) is not valid SQL", "Parser Error"]),
    (
        ["{ws}/missing_table.sql"],
        1,
        ["query lost ({ws}/missing_table.sql:1) failed", "no_such_table"],
    ),
    (["{ws}/missing_column.sql"], 1, ["Binder Error", "no_such_column"]),
    (["{ws}/insert.sql", "--param", "name=x"], 2, ["INSERT", "pass --write"]),
    (["repository_health", "--param", "now=yesterday"], 1, ["Conversion Error", "NAME:TYPE=VALUE"]),
    (["conversation_flow", "--database", "{ws}/none.duckdb"], 2, ["none.duckdb' does not exist"]),
    (["conversation_flow", "--database", "{ws}/a directory"], 2, ["is a directory"]),
    (["conversation_flow", "--database", "{ws}/not-a-database.duckdb"], 1, ["not a valid DuckDB"]),
    (["conversation_flow", "--output", "{ws}/a directory"], 2, ["is a directory"]),
    (["conversation_flow", "--output", "{ws}/none/out.json"], 2, ["none' does not exist"]),
    (["conversation_flow", "--output", "{ws}/existing.json"], 2, ["already exists", "--force"]),
    (["conversation_flow", "--format", "parquet"], 2, ["--format parquet", "--output FILE"]),
    (["conversation_flow", "--limit", "-1"], 2, ["--limit -1"]),
]


@pytest.fixture
def unchanged(workspace: Path, sample_database: Path) -> Iterator[None]:
    """The workspace and the sample database are exactly as before the command."""
    before = {path: path.read_bytes() for path in workspace.rglob("*") if path.is_file()}
    database = sample_database.read_bytes()
    yield
    after = {path: path.read_bytes() for path in workspace.rglob("*") if path.is_file()}
    assert after == before
    assert sample_database.read_bytes() == database


@pytest.mark.usefixtures("unchanged")
@pytest.mark.parametrize(
    ("arguments", "code", "words"), BAD, ids=[" ".join(case[0]) for case in BAD]
)
def test_bad_input_is_refused(
    cli: Cli,
    workspace: Path,
    sample_database: Path,
    arguments: list[str],
    code: int,
    words: list[str],
) -> None:
    args = [arg.replace("{ws}", str(workspace)) for arg in arguments]
    if "--database" not in args:
        args += ["--database", str(sample_database)]
    done = cli("run", *args)
    assert done.returncode == code, done.stderr
    message = " ".join(done.stderr.split())
    assert message.startswith("project-architect-db run: ")
    for word in words:
        assert word.replace("{ws}", str(workspace)) in message
    assert "Traceback" not in done.stderr
    assert done.stdout == ""


def test_help_documents_the_syntax(cli: Cli) -> None:
    done = cli("run", "--help")
    assert done.returncode == 0
    text = done.stdout
    for part in ("NAME_OR_FILE", "--query NAME", "NAME[:TYPE]=VALUE", "--write", "--limit N"):
        assert part in text
    assert "str, int, float, bool, date, datetime, json" in text

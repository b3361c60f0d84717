"""What the library tells its users about its work: log lines (caplog), query
listeners, per-query stats with errors, timeouts and latency percentiles, and
``reset_stats()``."""

from __future__ import annotations

import logging
import math
import threading
from pathlib import Path

import anyio
import pytest
from helpers import LONG_QUERY, project_data
from hypothesis import given, settings
from hypothesis import strategies as st

from project_architect_db import (
    DatabaseEngine,
    InvalidQueryError,
    PoolTimeoutError,
    ProjectRepository,
    QueryEvent,
    StatementTimeoutError,
)
from project_architect_db.core.stats import LatencyHistogram

LOGGER = "project_architect_db"


def messages(caplog: pytest.LogCaptureFixture, logger: str, level: int) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == logger and r.levelno == level]


# -- logging -----------------------------------------------------------------------


async def test_open_migrate_and_close_are_logged_at_info(
    db_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    async with DatabaseEngine(db_path, pool_size=3):
        pass
    applied = messages(caplog, "project_architect_db.migrations", logging.INFO)
    assert applied
    assert all(line.startswith("applied migration 0") for line in applied)
    assert any("0001_" in line and str(db_path) in line for line in applied)
    [opened, closed] = messages(caplog, "project_architect_db.engine", logging.INFO)
    assert opened.startswith(f"opened {db_path} with ")
    assert "pool_size=3" in opened
    assert closed == f"closed {db_path}"

    caplog.clear()
    async with DatabaseEngine(db_path):
        pass
    # Nothing left to apply the second time.
    assert messages(caplog, "project_architect_db.migrations", logging.INFO) == []


async def test_a_slow_statement_is_a_warning_naming_query_duration_and_rows(
    db_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger=LOGGER)
    # Every statement takes longer than a nanosecond.
    engine = DatabaseEngine(db_path, slow_query_threshold=1e-9)
    async with engine, engine.session() as session:
        project = await ProjectRepository(session).create(project_data(name="Secret name"))
        await ProjectRepository(session).get_by_id(project.id)
    slow = messages(caplog, "project_architect_db.query", logging.WARNING)
    [get] = [line for line in slow if line.startswith("slow query get_project:")]
    assert "finished after" in get
    assert "slow_query_threshold=1e-09s" in get
    assert get.endswith(", 1 rows")
    record = next(r for r in caplog.records if r.getMessage() == get)
    assert record.query == "get_project"  # type: ignore[attr-defined]
    assert record.rows == 1  # type: ignore[attr-defined]
    assert record.duration > 0  # type: ignore[attr-defined]
    # Parameter values hold user data: never logged unless asked for.
    assert not any("Secret name" in r.getMessage() for r in caplog.records)


async def test_no_slow_warning_below_the_threshold_or_when_turned_off(
    db_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger=LOGGER)
    for threshold in (None, 60.0):
        async with DatabaseEngine(db_path, slow_query_threshold=threshold) as engine:
            await engine.execute_raw("SELECT 1")
    assert messages(caplog, "project_architect_db.query", logging.WARNING) == []


async def test_debug_logs_every_query_and_parameters_only_when_asked(
    db_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    async with DatabaseEngine(db_path) as engine:
        await engine.execute_raw("SELECT $word AS w", {"word": "hidden-value"})
    [line] = [
        m
        for m in messages(caplog, "project_architect_db.query", logging.DEBUG)
        if m.startswith("query execute_raw")
    ]
    assert " ms, 1 rows" in line
    assert "hidden-value" not in line

    caplog.clear()
    async with DatabaseEngine(db_path, log_parameters=True) as engine:
        await engine.execute_raw("SELECT $word AS w", {"word": "shown-value"})
    [line] = [
        m
        for m in messages(caplog, "project_architect_db.query", logging.DEBUG)
        if m.startswith("query execute_raw")
    ]
    assert line.endswith("parameters {'word': 'shown-value'}")


async def test_a_statement_timeout_is_a_warning(
    engine: DatabaseEngine, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger=LOGGER)
    async with engine.session(statement_timeout=0.2) as session:
        with pytest.raises(StatementTimeoutError):
            await session.execute(LONG_QUERY)
    [line] = [
        m
        for m in messages(caplog, "project_architect_db.query", logging.WARNING)
        if m.startswith("statement timeout")
    ]
    assert "statement_timeout=0.2s" in line
    assert "rolled back" in line
    stats = engine.stats().queries["execute_raw"]
    assert (stats.errors, stats.timeouts) == (1, 1)


async def test_a_pool_timeout_is_a_warning(db_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger=LOGGER)
    engine = DatabaseEngine(db_path, pool_size=1, max_overflow=0, pool_timeout=0.05)
    async with engine, engine.session():
        with pytest.raises(PoolTimeoutError):
            async with engine.session():
                pass
    [line] = messages(caplog, "project_architect_db.pool", logging.WARNING)
    assert line.startswith("pool timeout: no connection became free within pool_timeout=0.05s")


async def test_the_library_adds_no_handlers(engine: DatabaseEngine) -> None:
    for name in ("", ".query", ".pool", ".migrations", ".engine"):
        assert logging.getLogger(LOGGER + name).handlers == []


# -- listeners ---------------------------------------------------------------------


async def test_listeners_hear_every_statement(engine: DatabaseEngine) -> None:
    events: list[QueryEvent] = []
    engine.add_query_listener(events.append)
    async with engine.session() as session:
        projects = ProjectRepository(session)
        project = await projects.create(project_data())
        await projects.get_by_id(project.id)
        await projects.get_by_id(project.id + 1000)
        with pytest.raises(InvalidQueryError):
            await session.execute("SELEC 1")
    async with engine.transaction() as session:
        await session.execute("SELECT * FROM generate_series(1, 3)")

    by_name = {event.name: event for event in events}
    get = next(e for e in events if e.name == "get_project")
    assert (get.rows, get.error, get.in_transaction) == (1, None, False)
    assert get.duration > 0
    assert "FROM projects" in get.sql
    assert "$" in get.sql
    missing = [e for e in events if e.name == "get_project"][1]
    assert missing.rows == 0
    failed, ok = [e for e in events if e.name == "execute_raw"]
    assert isinstance(failed.error, InvalidQueryError)
    assert failed.rows is None
    assert (ok.rows, ok.error, ok.in_transaction) == (3, None, True)
    # One statement writes the row, its audit entry and its search terms.
    assert by_name["create_project"].rows == 1
    assert not by_name["create_project"].in_transaction
    with pytest.raises(AttributeError):
        get.rows = 5  # type: ignore[misc]

    engine.remove_query_listener(events.append)
    count = len(events)
    await engine.execute_raw("SELECT 1")
    assert len(events) == count
    with pytest.raises(ValueError, match="is not a query listener"):
        engine.remove_query_listener(events.append)
    with pytest.raises(TypeError, match="must be callable"):
        engine.add_query_listener("print")  # type: ignore[arg-type]


async def test_a_raising_listener_is_logged_and_removed_and_breaks_nothing(
    engine: DatabaseEngine, caplog: pytest.LogCaptureFixture
) -> None:
    calls: list[str] = []
    heard: list[str] = []

    def broken(event: QueryEvent) -> None:
        calls.append(event.name)
        raise RuntimeError("listener bug")

    engine.add_query_listener(broken)
    engine.add_query_listener(lambda event: heard.append(event.name))
    assert await engine.execute_raw("SELECT 42 AS answer") == [{"answer": 42}]
    assert await engine.execute_raw("SELECT 43 AS answer") == [{"answer": 43}]
    assert calls == ["execute_raw"]  # removed after its first failure
    assert heard == ["execute_raw", "execute_raw"]
    [record] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert record.name == "project_architect_db.query"
    assert "raised on query execute_raw and was removed" in record.getMessage()
    assert record.exc_info is not None
    assert "listener bug" in str(record.exc_info[1])


async def test_timed_out_statement_event_is_a_statement_timeout(engine: DatabaseEngine) -> None:
    events: list[QueryEvent] = []
    engine.add_query_listener(events.append)
    async with engine.session(statement_timeout=0.2) as session:
        with pytest.raises(StatementTimeoutError):
            await session.execute(LONG_QUERY)
    [event] = events
    assert isinstance(event.error, StatementTimeoutError)
    assert event.duration >= 0.15


async def test_listeners_run_on_concurrent_threads_safely(engine: DatabaseEngine) -> None:
    lock = threading.Lock()
    names: list[str] = []

    def listener(event: QueryEvent) -> None:
        with lock:
            names.append(event.name)

    engine.add_query_listener(listener)

    async def one(i: int) -> None:
        await engine.execute_raw("SELECT $i AS i", {"i": i})

    async with anyio.create_task_group() as tg:
        for i in range(20):
            tg.start_soon(one, i)
    assert names == ["execute_raw"] * 20


# -- stats -------------------------------------------------------------------------


async def test_stats_count_errors_and_give_percentiles(engine: DatabaseEngine) -> None:
    for _ in range(5):
        await engine.execute_raw("SELECT 1")
    with pytest.raises(InvalidQueryError):
        await engine.execute_raw("SELECT nope")
    raw = engine.stats().queries["execute_raw"]
    assert (raw.calls, raw.errors, raw.timeouts) == (6, 1, 0)
    assert 0 < raw.p50 <= raw.p95 <= raw.p99 <= raw.max_seconds * (1 + 1e-9)

    engine.reset_stats()
    stats = engine.stats()
    assert stats.queries == {}
    assert (stats.total_acquisitions, stats.acquisition_timeouts) == (0, 0)
    assert stats.coalesced_reads.batches == stats.group_commits.batches == 0
    await engine.execute_raw("SELECT 1")
    assert engine.stats().queries["execute_raw"].calls == 1


def exact_percentile(samples: list[float], fraction: float) -> float:
    """Nearest rank: the smallest sample with at least ``fraction`` of all at or below it."""
    ordered = sorted(samples)
    return ordered[max(1, math.ceil(fraction * len(ordered))) - 1]


@settings(max_examples=300, deadline=None)
@given(
    samples=st.lists(
        st.floats(min_value=1e-6, max_value=1e3, allow_nan=False), min_size=1, max_size=500
    ),
    fraction=st.sampled_from([0.5, 0.9, 0.95, 0.99, 0.999, 1.0]),
)
def test_histogram_percentiles_are_within_two_percent_of_exact(
    samples: list[float], fraction: float
) -> None:
    histogram = LatencyHistogram()
    for sample in samples:
        histogram.add(sample)
    exact = exact_percentile(samples, fraction)
    assert histogram.percentile(fraction) == pytest.approx(exact, rel=0.02 + 1e-12)


def test_histogram_memory_is_bounded_and_extremes_are_clamped() -> None:
    histogram = LatencyHistogram()
    for exponent in range(-12, 8):
        for step in range(200):
            histogram.add(10.0**exponent * (1 + step / 200))
    histogram.add(0.0)
    assert len(histogram._buckets) <= 577
    assert histogram.percentile(1.0) == histogram.largest
    assert histogram.percentile(1e-9) == 0.0
    # Durations under 1 us share the lowest bucket (its value, about 1 us).
    assert 0.0 < histogram.percentile(10 / histogram.count) <= 1.02e-6
    assert LatencyHistogram().percentile(0.5) == 0.0

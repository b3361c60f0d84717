"""The engine: opening, sharing one database, stats, closing."""

from __future__ import annotations

import sys
from pathlib import Path

import anyio
import pytest
from helpers import project_data

from project_architect_db import (
    DatabaseEngine,
    DatabaseError,
    EngineStats,
    PoolClosedError,
    ProjectRepository,
)


async def test_memory_database_is_shared_by_every_pooled_connection() -> None:
    async with DatabaseEngine("duckdb:///:memory:", pool_size=3) as engine:
        async with engine.session() as writer:
            await ProjectRepository(writer).create(project_data())
            async with engine.session() as reader, engine.session() as third:
                assert await ProjectRepository(reader).count() == 1
                assert await ProjectRepository(third).count() == 1
        assert engine.stats().open_connections == 3


async def test_timestamps_come_back_in_utc(engine: DatabaseEngine) -> None:
    [row] = await engine.execute_raw("SELECT current_setting('TimeZone') AS zone, now() AS at")
    assert row["zone"] == "UTC"
    assert row["at"].utcoffset().total_seconds() == 0


async def test_connect_is_idempotent_and_close_is_final(db_path: Path) -> None:
    engine = DatabaseEngine(f"duckdb:///{db_path}")
    assert not engine.is_open
    assert "closed" in repr(engine)
    with pytest.raises(PoolClosedError, match="not open"):
        engine.stats()
    assert await engine.connect() is engine
    assert await engine.connect() is engine
    assert engine.is_open
    assert "open" in repr(engine)
    await engine.close()
    await engine.close()
    with pytest.raises(PoolClosedError):
        await engine.execute_raw("SELECT 1")
    with pytest.raises(PoolClosedError):
        async with engine.session():
            pass


async def test_execute_raw_binds_parameters_and_returns_dicts(engine: DatabaseEngine) -> None:
    rows = await engine.execute_raw(
        "SELECT $a + 1 AS b, $s AS s", {"a": 41, "s": "x'; DROP TABLE projects; --"}
    )
    assert rows == [{"b": 42, "s": "x'; DROP TABLE projects; --"}]
    assert await engine.execute_raw("SELECT ? * 2 AS doubled", [21]) == [{"doubled": 42}]
    assert await engine.execute_raw("CREATE TABLE scratch (x INTEGER)") == []


async def test_stats_report_pool_and_named_queries(engine: DatabaseEngine) -> None:
    async with engine.session() as session:
        projects = ProjectRepository(session)
        project = await projects.create(project_data())
        await projects.get_by_id(project.id)
        await projects.get_by_id(project.id)
        inside = engine.stats()
        assert inside.checked_out == 1
        assert inside.idle == 0
    stats = engine.stats()
    assert isinstance(stats, EngineStats)
    assert stats.pool_size == 4
    assert stats.max_overflow == 4
    assert stats.checked_out == 0
    assert stats.idle == 1
    assert stats.waiters == 0
    assert stats.total_acquisitions == 1
    assert stats.acquisition_timeouts == 0
    get = stats.queries["get_project"]
    assert get.calls == 2
    assert 0 < get.max_seconds <= get.total_seconds
    assert stats.queries["create_project"].calls == 1


async def test_missing_directory_gives_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(DatabaseError, match="does not exist"):
        async with DatabaseEngine(tmp_path / "no" / "such" / "dir.duckdb"):
            pass


async def test_second_process_writing_the_same_file_gets_a_clear_error(
    engine: DatabaseEngine, db_path: Path
) -> None:
    script = (
        "import anyio, sys\n"
        "from project_architect_db import DatabaseEngine, DatabaseError\n"
        "async def main():\n"
        "    try:\n"
        f"        async with DatabaseEngine({str(db_path)!r}):\n"
        "            pass\n"
        "    except DatabaseError as exc:\n"
        "        print(exc)\n"
        "        sys.exit(3)\n"
        "anyio.run(main)\n"
    )
    result = await anyio.run_process([sys.executable, "-c", script], check=False)
    assert result.returncode == 3, result.stderr.decode()
    message = result.stdout.decode()
    assert str(db_path) in message
    assert "locked" in message
    assert "read_only=True" in message

"""When another process holds the database file, the error says whether it is a
writer or a reader (DuckDB's message tells), which process, and what to do."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from helpers import held

from project_architect_db import DatabaseEngine, DatabaseError


@pytest.fixture
def database(tmp_path: Path) -> Path:
    path = tmp_path / "app.duckdb"
    duckdb.connect(str(path)).close()
    return path


@pytest.mark.parametrize("read_only", [False, True])
async def test_a_writer_holding_the_file_is_named_as_a_writer(
    database: Path, read_only: bool
) -> None:
    with held(database, "writer") as pid, pytest.raises(DatabaseError) as refused:
        await DatabaseEngine(database, read_only=read_only, migrate=False).connect()
    message = str(refused.value)
    assert str(database) in message
    assert f"process {pid} " in message
    assert "holds it for writing" in message
    assert "one writing process per file" in message
    assert "engine.snapshot" in message  # what an analyst does instead
    assert "one uvicorn/gunicorn worker" in message
    assert ("second app process" in message) is not read_only
    assert isinstance(refused.value.__cause__, duckdb.IOException)


async def test_a_reader_holding_the_file_is_named_as_a_reader(database: Path) -> None:
    with held(database, "reader") as pid, pytest.raises(DatabaseError) as refused:
        await DatabaseEngine(database).connect()
    message = str(refused.value)
    assert f"process {pid} " in message
    assert "has it open read-only" in message
    assert "one writing process" not in message  # the old, misleading wording
    assert "read_only=True" in message
    # And a reader beside a reader is fine.
    with held(database, "reader"):
        async with DatabaseEngine(database, read_only=True, migrate=False) as engine:
            assert await engine.execute_raw("SELECT 42 AS answer") == [{"answer": 42}]

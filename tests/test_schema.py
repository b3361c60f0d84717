"""The schema, and the DuckDB behaviour that shaped it.

The child tables hold project_id without a FOREIGN KEY constraint. These tests
pin down why (so that a DuckDB release that lifts the limits shows up here) and
that the migrations upgrade a file in place.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from project_architect_db import DatabaseEngine
from project_architect_db.core.sql import migrations


def _parent_and_child(path: Path) -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect(str(path))
    connection.execute("CREATE TABLE parent (id BIGINT PRIMARY KEY, name VARCHAR)")
    connection.execute(
        "CREATE TABLE child (id BIGINT PRIMARY KEY, parent_id BIGINT REFERENCES parent (id))"
    )
    connection.execute("INSERT INTO parent VALUES (1, 'a')")
    connection.execute("INSERT INTO child VALUES (1, 1)")
    return connection


def test_duckdb_refuses_update_returning_of_a_referenced_row(tmp_path: Path) -> None:
    connection = _parent_and_child(tmp_path / "fk.duckdb")
    connection.execute("UPDATE parent SET name = 'b' WHERE id = 1")  # plain UPDATE works
    with pytest.raises(duckdb.ConstraintException, match="foreign key"):
        connection.execute("UPDATE parent SET name = 'c' WHERE id = 1 RETURNING *")


def test_duckdb_refuses_deleting_children_and_parent_in_one_transaction(tmp_path: Path) -> None:
    connection = _parent_and_child(tmp_path / "fk.duckdb")
    connection.begin()
    connection.execute("DELETE FROM child WHERE parent_id = 1")
    with pytest.raises(duckdb.ConstraintException, match="foreign key"):
        connection.execute("DELETE FROM parent WHERE id = 1")


@pytest.mark.duckdb_only  # PostgreSQL's schema has real foreign keys (docs/design.md)
async def test_schema_has_no_foreign_keys_and_no_secondary_index_on_projects(
    engine: DatabaseEngine,
) -> None:
    constraints = await engine.execute_raw(
        "SELECT table_name FROM duckdb_constraints() WHERE constraint_type = 'FOREIGN KEY'"
    )
    assert constraints == []
    indexes = await engine.execute_raw(
        "SELECT index_name FROM duckdb_indexes() WHERE table_name = 'projects'"
    )
    assert indexes == []


async def test_opening_twice_applies_migrations_once(db_path: Path) -> None:
    async with DatabaseEngine(db_path) as engine:
        first = await engine.execute_raw(
            "SELECT version, name FROM schema_migrations ORDER BY version"
        )
        await engine.execute_raw(
            "INSERT INTO projects (name, project_idea) VALUES ('kept', 'survives reopening')"
        )
    async with DatabaseEngine(db_path) as engine:
        again = await engine.execute_raw(
            "SELECT version, name FROM schema_migrations ORDER BY version"
        )
        kept = await engine.execute_raw("SELECT name FROM projects")
    assert first == again == [{"version": m.version, "name": m.name} for m in migrations()]
    assert kept == [{"name": "kept"}]


async def test_migrate_false_leaves_an_empty_file_empty(db_path: Path) -> None:
    async with DatabaseEngine(db_path, migrate=False) as engine:
        tables = await engine.execute_raw("SELECT table_name FROM information_schema.tables")
    assert tables == []


async def test_read_only_engine_on_unmigrated_file_explains_what_to_do(db_path: Path) -> None:
    duckdb.connect(str(db_path)).close()
    from project_architect_db import DatabaseError

    with pytest.raises(DatabaseError, match="read_only=False"):
        async with DatabaseEngine(db_path, read_only=True):
            pass

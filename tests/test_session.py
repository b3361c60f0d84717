"""Sessions and transactions: raw statements, auto-commit, commit/rollback on
every way out of a block, one task per session, error translation, read-only."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import anyio
import duckdb
import psycopg
import pytest
from helpers import LONG_QUERY, STOPPED_WITHIN, project_data

from project_architect_db import (
    DatabaseEngine,
    DatabaseError,
    IntegrityError,
    InvalidQueryError,
    ProjectArchitectDBError,
    ProjectRepository,
    Session,
    SessionManager,
)

INSERT_PROJECT = "INSERT INTO projects (name, project_idea) VALUES ($name, 'idea')"

#: What the library's errors chain as their cause: the driver's own exceptions.
DRIVER_ERRORS = (duckdb.Error, psycopg.Error)


class Boom(Exception):
    pass


async def _insert(session: Session, name: str) -> None:
    await session.execute(INSERT_PROJECT, {"name": name})


async def _names(engine: DatabaseEngine) -> list[str]:
    rows = await engine.execute_raw("SELECT name FROM projects ORDER BY id")
    return [row["name"] for row in rows]


async def _count(engine: DatabaseEngine, table: str) -> int:
    rows = await engine.execute_raw(f"SELECT count(*) AS n FROM {table}")
    return int(rows[0]["n"])


# -- execute -------------------------------------------------------------------------


async def test_execute_returns_rows_as_dicts(session: Session) -> None:
    rows = await session.execute(
        "SELECT * FROM (VALUES (1, 'a'), (2, 'b')) AS t (id, label) ORDER BY id"
    )
    assert rows == [{"id": 1, "label": "a"}, {"id": 2, "label": "b"}]
    assert await session.execute("SELECT 1 AS x WHERE false") == []


async def test_execute_binds_named_dict_parameters(session: Session) -> None:
    rows = await session.execute("SELECT $a + 1 AS b, $s AS s", {"a": 41, "s": "it's"})
    assert rows == [{"b": 42, "s": "it's"}]


async def test_execute_binds_positional_sequence_parameters(session: Session) -> None:
    assert await session.execute("SELECT ? AS a, ? AS b", [1, "two"]) == [{"a": 1, "b": "two"}]
    assert await session.execute("SELECT ? AS a, ? AS b", (3, None)) == [{"a": 3, "b": None}]


async def test_execute_ddl_returns_empty_list(session: Session) -> None:
    assert await session.execute("CREATE TABLE scratch (x INTEGER)") == []
    assert await session.execute("CREATE INDEX scratch_x ON scratch (x)") == []
    # DuckDB answers a write with its row count; PostgreSQL with no rows.
    counted = [] if session.driver.name == "postgresql" else [{"Count": 1}]
    assert await session.execute("INSERT INTO scratch VALUES (?)", [5]) == counted
    assert await session.execute("SELECT x FROM scratch") == [{"x": 5}]
    assert await session.execute("DROP TABLE scratch") == []


# -- auto-commit -----------------------------------------------------------------------


async def test_write_in_session_is_visible_from_another_session_immediately(
    engine: DatabaseEngine,
) -> None:
    async with engine.session() as writer, engine.session() as reader:
        assert not writer.in_transaction
        await _insert(writer, "auto")
        rows = await reader.execute("SELECT name FROM projects")
        assert rows == [{"name": "auto"}]


# -- engine.transaction() --------------------------------------------------------------


async def test_transaction_commits_on_normal_exit(engine: DatabaseEngine) -> None:
    async with engine.transaction() as session:
        assert session.in_transaction
        await _insert(session, "one")
        await _insert(session, "two")
        # Not visible to others before the commit.
        assert await _names(engine) == []
    assert await _names(engine) == ["one", "two"]


async def test_transaction_rolls_back_on_exception_and_reraises(engine: DatabaseEngine) -> None:
    with pytest.raises(Boom):
        async with engine.transaction() as session:
            await _insert(session, "never")
            raise Boom()
    assert await _names(engine) == []
    assert engine.stats().checked_out == 0


async def test_transaction_rolls_back_on_cancellation(engine: DatabaseEngine) -> None:
    with anyio.CancelScope() as scope:
        async with engine.transaction() as session:
            await _insert(session, "never")
            scope.cancel()
            await anyio.lowlevel.checkpoint()
            pytest.fail("the cancellation was not delivered")
    assert scope.cancelled_caught
    assert await _names(engine) == []
    assert engine.stats().checked_out == 0


async def test_transaction_rolls_back_when_cancelled_during_a_running_statement(
    engine: DatabaseEngine,
) -> None:
    started = time.monotonic()
    with anyio.move_on_after(0.3) as scope:
        async with engine.transaction() as session:
            await _insert(session, "never")
            await session.execute(LONG_QUERY)
    assert scope.cancelled_caught
    assert time.monotonic() - started < STOPPED_WITHIN
    assert await _names(engine) == []
    assert engine.stats().checked_out == 0


async def test_explicit_commit_and_rollback_inside_transaction(engine: DatabaseEngine) -> None:
    async with engine.transaction() as session:
        await _insert(session, "committed-early")
        await session.commit()
        assert session.in_transaction  # later statements start a new transaction
        assert await _names(engine) == ["committed-early"]

        await _insert(session, "rolled-back")
        await session.rollback()
        assert await session.execute("SELECT name FROM projects ORDER BY id") == [
            {"name": "committed-early"}
        ]

        await _insert(session, "committed-on-exit")
        assert await _names(engine) == ["committed-early"]
    assert await _names(engine) == ["committed-early", "committed-on-exit"]


# -- session.begin() -------------------------------------------------------------------


async def test_begin_commits_on_exit_and_tracks_in_transaction(engine: DatabaseEngine) -> None:
    async with engine.session() as session:
        assert not session.in_transaction
        async with session.begin() as tx:
            assert tx is session
            assert session.in_transaction
            await _insert(session, "a")
            await _insert(session, "b")
            assert await _names(engine) == []
        assert not session.in_transaction
        assert await _names(engine) == ["a", "b"]
        # Back in auto-commit mode.
        await _insert(session, "c")
        assert await _names(engine) == ["a", "b", "c"]


async def test_begin_rolls_back_on_exception_and_reraises(engine: DatabaseEngine) -> None:
    async with engine.session() as session:
        with pytest.raises(Boom):
            async with session.begin():
                await _insert(session, "never")
                assert session.in_transaction
                raise Boom()
        assert not session.in_transaction
        assert await _names(engine) == []
        await _insert(session, "after")
        assert await _names(engine) == ["after"]


async def test_begin_rolls_back_on_cancellation(engine: DatabaseEngine) -> None:
    async with engine.session() as session:
        with anyio.CancelScope() as scope:
            async with session.begin():
                await _insert(session, "never")
                scope.cancel()
                await anyio.lowlevel.checkpoint()
        assert scope.cancelled_caught
        assert not session.in_transaction
        assert await _names(engine) == []


async def test_explicit_commit_and_rollback_inside_begin_block(engine: DatabaseEngine) -> None:
    async with engine.session() as session:
        async with session.begin():
            await _insert(session, "kept")
            await session.commit()
            await _insert(session, "dropped")
            await session.rollback()
            assert session.in_transaction
        assert await _names(engine) == ["kept"]


async def test_nested_begin_raises_database_error(engine: DatabaseEngine) -> None:
    async with engine.session() as session:
        async with session.begin():
            await _insert(session, "outer")
            with pytest.raises(DatabaseError, match="already in a transaction"):
                async with session.begin():
                    pytest.fail("a nested transaction was opened")
            # The outer transaction is untouched by the refused nested one.
            assert session.in_transaction
        assert await _names(engine) == ["outer"]
    async with engine.transaction() as session:
        with pytest.raises(DatabaseError, match="already in a transaction"):
            async with session.begin():
                pytest.fail("begin() opened inside engine.transaction()")


# -- repositories in transactions --------------------------------------------------------


async def test_repository_writes_in_rolled_back_transaction_leave_no_rows_or_audit(
    engine: DatabaseEngine,
) -> None:
    with pytest.raises(Boom):
        async with engine.transaction() as session:
            projects = ProjectRepository(session)
            created = await projects.create(project_data(name="ghost"))
            await projects.update(created.id, {"name": "ghost 2"})
            assert (await projects.get_by_id(created.id)).name == "ghost 2"  # type: ignore[union-attr]
            raise Boom()
    assert await _count(engine, "projects") == 0
    assert await _count(engine, "audit_log") == 0


async def test_repository_writes_in_committed_transaction_keep_rows_and_audit(
    engine: DatabaseEngine,
) -> None:
    async with engine.transaction() as session:
        projects = ProjectRepository(session)
        created = await projects.create(project_data(name="real"))
        await projects.update(created.id, {"name": "real 2"})
    assert await _names(engine) == ["real 2"]
    assert await _count(engine, "audit_log") == 2


# -- SessionManager ----------------------------------------------------------------------


async def test_execute_in_transaction_returns_results_in_order_and_commits(
    engine: DatabaseEngine,
) -> None:
    async def op1(session: Session) -> str:
        return (await ProjectRepository(session).create(project_data(name="first"))).name

    async def op2(session: Session) -> int:
        await _insert(session, "second")
        rows = await session.execute("SELECT count(*) AS n FROM projects")
        return int(rows[0]["n"])

    async def op3(session: Session) -> bool:
        return session.in_transaction

    results = await SessionManager(engine).execute_in_transaction([op1, op2, op3])
    assert results == ["first", 2, True]
    assert await _names(engine) == ["first", "second"]
    assert await _count(engine, "audit_log") == 1


async def test_execute_in_transaction_failure_keeps_nothing_and_reraises(
    engine: DatabaseEngine,
) -> None:
    ran: list[str] = []

    async def op1(session: Session) -> None:
        await ProjectRepository(session).create(project_data(name="first"))
        ran.append("op1")

    async def op2(session: Session) -> None:
        await _insert(session, "second")
        ran.append("op2")
        raise Boom("op2 failed")

    async def op3(session: Session) -> None:
        ran.append("op3")

    with pytest.raises(Boom, match="op2 failed"):
        await SessionManager(engine).execute_in_transaction([op1, op2, op3])
    assert ran == ["op1", "op2"]
    assert await _count(engine, "projects") == 0
    assert await _count(engine, "audit_log") == 0


# -- one task per session ------------------------------------------------------------------


async def test_one_session_used_from_two_tasks_at_once_raises_database_error(
    session: Session,
) -> None:
    started = anyio.Event()

    async def long_query() -> None:
        started.set()
        await session.execute(LONG_QUERY)

    began = time.monotonic()
    async with anyio.create_task_group() as tg:
        tg.start_soon(long_query)
        await started.wait()  # the other task is now inside its statement
        with pytest.raises(DatabaseError, match="already running a statement"):
            await session.execute("SELECT 1")
        with pytest.raises(DatabaseError, match="already running a statement"):
            await ProjectRepository(session).get_by_id(1)
        tg.cancel_scope.cancel()
    assert time.monotonic() - began < STOPPED_WITHIN
    # Once the first call is over, the session is usable again.
    assert await session.execute("SELECT 1 AS one") == [{"one": 1}]


# -- a swallowed cancellation inside a transaction ------------------------------------------


async def test_swallowed_cancellation_in_transaction_refuses_statements_and_never_commits(
    engine: DatabaseEngine,
) -> None:
    with pytest.raises(DatabaseError, match="cancelled"):
        async with engine.transaction() as session:
            await _insert(session, "lost")
            started = time.monotonic()
            with anyio.move_on_after(0.3) as scope:
                await session.execute(LONG_QUERY)
            assert scope.cancelled_caught
            assert time.monotonic() - started < STOPPED_WITHIN
            with pytest.raises(DatabaseError, match="cancelled"):
                await session.execute("SELECT 1")
            with pytest.raises(DatabaseError, match="cancelled"):
                await ProjectRepository(session).create(project_data(name="also lost"))
            with pytest.raises(DatabaseError, match="cancelled"):
                await session.commit()
        # Leaving the block cannot commit the rolled-back work, and says so.
    assert await _count(engine, "projects") == 0
    assert await _count(engine, "audit_log") == 0
    assert engine.stats().checked_out == 0


async def test_rollback_after_swallowed_cancellation_lets_the_transaction_go_on(
    engine: DatabaseEngine,
) -> None:
    async with engine.transaction() as session:
        await _insert(session, "lost")
        with anyio.move_on_after(0.3):
            await session.execute(LONG_QUERY)
        await session.rollback()
        await _insert(session, "kept")
    assert await _names(engine) == ["kept"]


async def test_leaving_begin_block_after_swallowed_cancellation_restores_auto_commit(
    engine: DatabaseEngine,
) -> None:
    async with engine.session() as session:
        with pytest.raises(DatabaseError, match="cancelled"):
            async with session.begin():
                await _insert(session, "lost")
                with anyio.move_on_after(0.3):
                    await session.execute(LONG_QUERY)
                with pytest.raises(DatabaseError, match="cancelled"):
                    await session.execute("SELECT 1")
        assert not session.in_transaction
        assert await _names(engine) == []
        # The refusal lasts "until the caller rolls back or leaves the transaction
        # block" (core/session.py): the block is left, so auto-commit works again.
        await _insert(session, "after the block")
    assert await _names(engine) == ["after the block"]


# -- error translation ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "sql",
    [
        "SELEC 1",
        "SELECT * FROM no_such_table",
        "SELECT no_such_column FROM projects",
    ],
)
async def test_bad_sql_raises_invalid_query_error_not_duckdb_error(
    engine: DatabaseEngine, sql: str
) -> None:
    with pytest.raises(InvalidQueryError) as info:
        await engine.execute_raw(sql)
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, ProjectArchitectDBError)
    assert not isinstance(info.value, DRIVER_ERRORS)
    assert isinstance(info.value.__cause__, DRIVER_ERRORS)


async def test_duplicate_primary_key_raises_integrity_error(engine: DatabaseEngine) -> None:
    insert = "INSERT INTO projects (id, name, project_idea) VALUES (1, $name, 'idea')"
    async with engine.session() as session:
        await session.execute(insert, {"name": "first"})
        with pytest.raises(IntegrityError) as info:
            await session.execute(insert, {"name": "second"})
        assert not isinstance(info.value, DRIVER_ERRORS)
        assert isinstance(info.value.__cause__, DRIVER_ERRORS)
        assert isinstance(
            info.value.__cause__, (duckdb.ConstraintException, psycopg.errors.UniqueViolation)
        )
        # The auto-commit session is still usable after the failure.
        assert await session.execute("SELECT name FROM projects") == [{"name": "first"}]


@pytest.mark.parametrize(
    "sql",
    [
        "INSERT INTO projects (name) VALUES ('no idea')",  # NOT NULL
        "INSERT INTO projects (name, project_idea, status) VALUES ('a', 'b', 'bogus')",  # CHECK
    ],
)
async def test_other_constraint_violations_raise_integrity_error(
    engine: DatabaseEngine, sql: str
) -> None:
    with pytest.raises(IntegrityError) as info:
        await engine.execute_raw(sql)
    assert isinstance(info.value.__cause__, DRIVER_ERRORS)
    assert await _count(engine, "projects") == 0


async def test_statement_after_failure_in_transaction_raises_database_error(
    engine: DatabaseEngine,
) -> None:
    insert = "INSERT INTO projects (id, name, project_idea) VALUES (1, 'x', 'idea')"
    async with engine.transaction() as session:
        await session.execute(insert)
        with pytest.raises(IntegrityError):
            await session.execute(insert)
        with pytest.raises(DatabaseError, match="aborted by a failed statement"):
            await session.execute("SELECT 1")
        await session.rollback()
        await session.execute("INSERT INTO projects (id, name, project_idea) VALUES (2, 'y', 'i')")
    assert await _names(engine) == ["y"]


# -- read-only engines ---------------------------------------------------------------------


async def _write_one_project(db_path: Path) -> None:
    async with DatabaseEngine(db_path) as writer, writer.session() as session:
        await ProjectRepository(session).create(project_data(name="Atlas"))
    assert not writer.is_open


async def test_two_read_only_engines_read_side_by_side(db_path: Path) -> None:
    await _write_one_project(db_path)
    async with (
        DatabaseEngine(db_path, read_only=True) as first,
        DatabaseEngine(db_path, read_only=True) as second,
    ):
        assert first.is_open
        assert second.is_open
        results: dict[str, Any] = {}

        async def read(name: str, engine: DatabaseEngine) -> None:
            async with engine.session() as session:
                projects = await ProjectRepository(session).list()
                results[name] = [project.name for project in projects]

        async with anyio.create_task_group() as tg:
            tg.start_soon(read, "first", first)
            tg.start_soon(read, "second", second)
        assert results == {"first": ["Atlas"], "second": ["Atlas"]}
        await first.close()
        # Closing one read-only engine does not disturb the other.
        assert await _names(second) == ["Atlas"]


async def test_write_through_read_only_engine_raises_library_error(db_path: Path) -> None:
    await _write_one_project(db_path)
    async with DatabaseEngine(db_path, read_only=True) as engine:
        with pytest.raises(ProjectArchitectDBError) as info:
            await engine.execute_raw(INSERT_PROJECT, {"name": "nope"})
        assert not isinstance(info.value, DRIVER_ERRORS)
        assert isinstance(info.value.__cause__, DRIVER_ERRORS)

        async with engine.session() as session:
            with pytest.raises(ProjectArchitectDBError) as info:
                await ProjectRepository(session).create(project_data(name="nope"))
            assert not isinstance(info.value, DRIVER_ERRORS)

        with pytest.raises(ProjectArchitectDBError) as info:
            async with engine.transaction() as session:
                await _insert(session, "nope")
        assert not isinstance(info.value, DRIVER_ERRORS)

        assert await _names(engine) == ["Atlas"]


async def test_transaction_exit_after_swallowed_statement_failure_does_not_silently_drop_writes(
    engine: DatabaseEngine,
) -> None:
    insert = "INSERT INTO projects (id, name, project_idea) VALUES (1, $name, 'idea')"
    # "commit on normal exit": if the commit cannot happen (DuckDB aborted the
    # transaction at the failed statement), leaving the block must say so, as it
    # does after a swallowed cancellation, rather than return as if committed.
    with pytest.raises(ProjectArchitectDBError):
        async with engine.transaction() as session:
            await session.execute(insert, {"name": "written first"})
            with pytest.raises(IntegrityError):
                await session.execute(insert, {"name": "duplicate"})
    assert await _count(engine, "projects") == 0

"""Every row of ``errors.DUCKDB_ERRORS``, fed its real DuckDB error.

Each case provokes the DuckDB error through the library (real files, real
connections, real processes: no mocks) and checks what the caller gets: the
library's class and message, the DuckDB exception as ``__cause__``, no DuckDB
exception escaping, and the row of the table that did it. So a DuckDB upgrade
that renames an exception or rewords a message the table matches fails here.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Awaitable, Callable
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

import anyio
import duckdb
import pytest
from helpers import LONG_QUERY, held

from project_architect_db import (
    ConflictError,
    DatabaseEngine,
    DatabaseError,
    IntegrityError,
    InvalidQueryError,
    PoolClosedError,
    ProjectArchitectDBError,
)
from project_architect_db.core.runner import StatementRunner
from project_architect_db.errors import DUCKDB_ERRORS, Stage, duckdb_error_rule, is_write_conflict

TABLE = "CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER NOT NULL)"

# DuckDB's exceptions and their table; PostgreSQL's are tests/postgres/test_error_mapping_postgres.py.
pytestmark = pytest.mark.duckdb_only


@dataclass(frozen=True)
class Case:
    """A real DuckDB failure and what the library makes of it."""

    name: str
    provoke: Callable[[Path], Awaitable[object]]  # given a fresh directory
    during: Stage
    rule: str  # the name of the DUCKDB_ERRORS row that applies
    cause: type[duckdb.Error]
    error: type[ProjectArchitectDBError]
    message: str  # a regular expression the whole message matches


def exactly(text: str) -> str:
    return re.escape(text)


async def engine_with_table(directory: Path) -> DatabaseEngine:
    """An open engine on ``app.duckdb`` with table ``t`` holding row 1."""
    engine = await DatabaseEngine(directory / "app.duckdb", migrate=False).connect()
    await engine.execute_raw(TABLE)
    await engine.execute_raw("INSERT INTO t VALUES (1, 1)")
    return engine


async def statement(sql: str, directory: Path) -> None:
    async with await engine_with_table(directory) as engine:
        await engine.execute_raw(sql)


# -- the cases -------------------------------------------------------------------------------


async def write_write_conflict(directory: Path, *, entity: str | None = None) -> None:
    update = "UPDATE t SET v = v + 1 WHERE id = 1"
    async with (
        await engine_with_table(directory) as engine,
        engine.transaction() as first,
        engine.transaction() as second,
    ):
        await first.execute(update)
        if entity is None:
            await second.execute(update)
        else:
            await second.run_in_worker(
                lambda runner: runner.raw(update, None), entity=entity, entity_id=1
            )


async def same_key_committed_twice(directory: Path) -> None:
    async with (
        await engine_with_table(directory) as engine,
        engine.transaction() as first,
        engine.transaction() as second,
    ):
        await first.execute("INSERT INTO t VALUES (5, 1)")
        await second.execute("INSERT INTO t VALUES (5, 2)")
        await first.commit()
        # second's commit, as its block is left (first), raises


async def statement_after_a_failed_one(directory: Path) -> None:
    def work(runner: StatementRunner) -> None:
        with suppress(duckdb.ConstraintException):  # swallowed: DuckDB aborted the transaction
            runner.raw("INSERT INTO t VALUES (1, 1)", None)
        runner.raw("SELECT 1", None)

    async with await engine_with_table(directory) as engine, engine.transaction() as session:
        await session.run_in_worker(work)


async def not_null(directory: Path) -> None:
    async with await engine_with_table(directory) as engine, engine.session() as session:
        await session.run_in_worker(
            lambda runner: runner.raw("INSERT INTO t VALUES (2, NULL)", None), entity="project"
        )


async def write_on_read_only(directory: Path) -> None:
    await (await engine_with_table(directory)).close()
    async with DatabaseEngine(directory / "app.duckdb", read_only=True, migrate=False) as reader:
        await reader.execute_raw("INSERT INTO t VALUES (3, 3)")


def locked_by(how: str) -> Callable[[Path], Awaitable[object]]:
    async def provoke(directory: Path) -> None:
        path = directory / "app.duckdb"
        duckdb.connect(str(path)).close()
        with held(path, how):
            await DatabaseEngine(path, migrate=False).connect()

    return provoke


async def interrupted(directory: Path) -> None:
    def work(runner: StatementRunner) -> None:
        timer = threading.Timer(0.2, runner.connection.interrupt)
        timer.start()
        try:
            runner.raw(LONG_QUERY, None)
        finally:
            timer.cancel()

    async with await engine_with_table(directory) as engine, engine.session() as session:
        await session.run_in_worker(work)


async def engine_closed_meanwhile(directory: Path) -> None:
    engine = await engine_with_table(directory)
    failure: list[BaseException] = []

    async def run_long_query() -> None:
        try:
            await engine.execute_raw(LONG_QUERY)
        except Exception as exc:
            failure.append(exc)

    async with anyio.create_task_group() as tg:
        tg.start_soon(run_long_query)
        await anyio.sleep(0.2)
        await engine.close(timeout=0)  # interrupts what still runs
    raise failure[0]


async def out_of_memory(directory: Path) -> None:
    # No temp_directory: DuckDB cannot spill, so a large DISTINCT runs out of memory
    # (measured: in about 30 ms, every time).
    path = directory / "app.duckdb"
    async with DatabaseEngine(
        path, memory_limit="10MB", temp_directory="", migrate=False
    ) as engine:
        await engine.execute_raw(
            "SELECT count(DISTINCT i::VARCHAR || 'abcdefgh') AS n FROM range(20000000) t(i)"
        )


async def not_a_database_file(directory: Path) -> None:
    (directory / "app.duckdb").write_bytes(b"not a database" * 500)
    await DatabaseEngine(directory / "app.duckdb").connect()


async def bad_duckdb_option(directory: Path) -> None:
    await DatabaseEngine(directory / "app.duckdb", memory_limit="plenty").connect()


async def migration_meets_a_foreign_schema(directory: Path) -> None:
    connection = duckdb.connect(str(directory / "app.duckdb"))
    connection.execute("CREATE SEQUENCE projects_id_seq")
    connection.close()
    await DatabaseEngine(directory / "app.duckdb").connect()


def app_file(directory_pattern: str = ".*") -> str:
    return rf"'{directory_pattern}/app\.duckdb'"


CASES = [
    Case(
        "write-write conflict",
        write_write_conflict,
        Stage.STATEMENT,
        "write conflict",
        duckdb.TransactionException,
        ConflictError,
        exactly("row: a concurrent transaction changed it first; re-read it and retry the change"),
    ),
    Case(
        "write-write conflict, named entity",
        lambda directory: write_write_conflict(directory, entity="project"),
        Stage.STATEMENT,
        "write conflict",
        duckdb.TransactionException,
        ConflictError,
        exactly(
            "project 1: a concurrent transaction changed it first; re-read it and retry the change"
        ),
    ),
    Case(
        "duplicate key found at commit",
        same_key_committed_twice,
        Stage.STATEMENT,
        "constraint at commit",
        duckdb.TransactionException,
        IntegrityError,
        exactly(
            "row violates a database constraint (a concurrent transaction committed the same "
            "key first; nothing of this transaction was written): TransactionContext Error: "
            'Failed to commit: PRIMARY KEY or UNIQUE constraint violation: duplicate key "5"'
        ),
    ),
    Case(
        "aborted transaction",
        statement_after_a_failed_one,
        Stage.STATEMENT,
        "aborted transaction",
        duckdb.TransactionException,
        DatabaseError,
        exactly(
            "the transaction was aborted by an earlier failed statement; roll it back before "
            "running more statements (TransactionContext Error: Current transaction is aborted "
            "(please ROLLBACK))"
        ),
    ),
    Case(
        "duplicate primary key",
        lambda directory: statement("INSERT INTO t VALUES (1, 2)", directory),
        Stage.STATEMENT,
        "constraint",
        duckdb.ConstraintException,
        IntegrityError,
        exactly(
            'row violates a database constraint: Constraint Error: Duplicate key "id: 1" '
            "violates primary key constraint."
        ),
    ),
    Case(
        "NOT NULL",
        not_null,
        Stage.STATEMENT,
        "constraint",
        duckdb.ConstraintException,
        IntegrityError,
        exactly(
            "project violates a database constraint: Constraint Error: NOT NULL constraint "
            "failed: t.v"
        ),
    ),
    Case(
        "write on a read-only database",
        write_on_read_only,
        Stage.STATEMENT,
        "read-only database",
        duckdb.InvalidInputException,
        DatabaseError,
        exactly(
            "the database is open read-only (read_only=True); open it without read_only to "
            'change it. DuckDB said: Invalid Input Error: Cannot execute statement of type "INSERT" '
            'on database "app" which is attached in read-only mode!'
        ),
    ),
    Case(
        "file held by a writing process",
        locked_by("writer"),
        Stage.OPEN,
        "open: file",
        duckdb.IOException,
        DatabaseError,
        rf"database file {app_file()} is locked by another process: process \d+ \(.+\) holds it "
        r"for writing, and DuckDB allows one writing process per file.*engine\.snapshot.*",
    ),
    Case(
        "file held by a reading process",
        locked_by("reader"),
        Stage.OPEN,
        "open: file",
        duckdb.IOException,
        DatabaseError,
        rf"database file {app_file()} is locked by another process: process \d+ \(.+\) has it "
        r"open read-only, and DuckDB lets no process write a file while others read it\..*",
    ),
    Case(
        "not a DuckDB file",
        not_a_database_file,
        Stage.OPEN,
        "open: file",
        duckdb.IOException,
        DatabaseError,
        rf"cannot open database file {app_file('(.*)')}: IO Error: The file \"\1/app\.duckdb\" "
        r"exists, but it is not a valid DuckDB database file!",
    ),
    Case(
        "bad DuckDB option",
        bad_duckdb_option,
        Stage.OPEN,
        "open: other",
        duckdb.ParserException,
        DatabaseError,
        rf"cannot open database {app_file()}: "
        + exactly("Parser Error: Memory must have a number (e.g. 1GB)"),
    ),
    Case(
        "migration meets a foreign schema",
        migration_meets_a_foreign_schema,
        Stage.MIGRATE,
        "migrate",
        duckdb.CatalogException,
        DatabaseError,
        exactly(
            'applying migrations failed: Catalog Error: Sequence with name "projects_id_seq" '
            "already exists!"
        ),
    ),
    Case(
        "interrupt",
        interrupted,
        Stage.STATEMENT,
        "interrupted",
        duckdb.InterruptException,
        DatabaseError,
        exactly("the statement was interrupted"),
    ),
    Case(
        "engine closed while a query ran",
        engine_closed_meanwhile,
        Stage.CLOSED_ENGINE,
        "engine closed",
        duckdb.InterruptException,
        PoolClosedError,
        exactly("the engine was closed while this operation ran"),
    ),
    Case(
        "out of memory",
        out_of_memory,
        Stage.STATEMENT,
        "other",
        duckdb.OutOfMemoryException,
        DatabaseError,
        r"DuckDB failed: OutOfMemoryException: Out of Memory Error: could not allocate .*",
    ),
    Case(
        "parser error",
        lambda directory: statement("SELEC 1", directory),
        Stage.STATEMENT,
        "rejected statement",
        duckdb.ParserException,
        InvalidQueryError,
        exactly(
            'DuckDB rejected the statement: Parser Error: syntax error at or near "SELEC"\n\n'
            "LINE 1: SELEC 1\n        ^^^^^"
        ),
    ),
    Case(
        "binder error",
        lambda directory: statement("SELECT nope FROM t", directory),
        Stage.STATEMENT,
        "rejected statement",
        duckdb.BinderException,
        InvalidQueryError,
        exactly('DuckDB rejected the statement: Binder Error: Referenced column "nope" not found')
        + ".*",
    ),
    Case(
        "catalog error",
        lambda directory: statement("SELECT * FROM nope", directory),
        Stage.STATEMENT,
        "rejected statement",
        duckdb.CatalogException,
        InvalidQueryError,
        exactly(
            "DuckDB rejected the statement: Catalog Error: Table with name nope does not exist!"
        )
        + ".*",
    ),
    Case(
        "conversion error",
        lambda directory: statement("SELECT CAST('x' AS INTEGER)", directory),
        Stage.STATEMENT,
        "unusable value",
        duckdb.ConversionException,
        InvalidQueryError,
        exactly(
            "DuckDB could not use a value: Conversion Error: Could not convert string 'x' to INT32"
        )
        + ".*",
    ),
    Case(
        "invalid input",
        lambda directory: statement("SELECT json('{bad')", directory),
        Stage.STATEMENT,
        "unusable value",
        duckdb.InvalidInputException,
        InvalidQueryError,
        exactly("DuckDB could not use a value: Invalid Input Error: Malformed JSON") + ".*",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
async def test_a_real_duckdb_error_becomes_the_library_error_of_its_row(
    case: Case, tmp_path: Path
) -> None:
    with pytest.raises(Exception) as info:  # noqa: PT011 - what escapes is the question
        await case.provoke(tmp_path)
    error = info.value
    assert not isinstance(error, duckdb.Error), f"a DuckDB exception escaped: {error!r}"
    assert type(error) is case.error, repr(error)
    assert re.fullmatch(case.message, str(error), re.DOTALL), str(error)
    cause = error.__cause__
    assert isinstance(cause, case.cause), repr(cause)
    assert duckdb_error_rule(cause, case.during).name == case.rule


def test_every_row_of_the_table_has_a_real_case() -> None:
    names = [rule.name for rule in DUCKDB_ERRORS]
    assert len(names) == len(set(names))
    assert {case.rule for case in CASES} == set(names)


def test_each_stage_ends_with_a_row_for_any_duckdb_error() -> None:
    for stage in Stage:
        catch_all = [rule for rule in DUCKDB_ERRORS if stage in rule.during]
        assert catch_all[-1].raised == (duckdb.Error,), stage
        assert catch_all[-1].pattern is None, stage


# -- the patterns, against DuckDB's own messages ----------------------------------------------


def conflict_on(statement: str) -> Callable[[Path], duckdb.Error]:
    def provoke(directory: Path) -> duckdb.Error:
        root = duckdb.connect(str(directory / "raw.duckdb"))
        root.execute(TABLE)
        root.execute("INSERT INTO t VALUES (1, 1)")
        first, second = root.cursor(), root.cursor()
        first.begin()
        second.begin()
        first.execute(statement)
        with pytest.raises(duckdb.Error) as info:
            second.execute(statement)
        return info.value

    return provoke


def aborted(directory: Path) -> duckdb.Error:
    connection = duckdb.connect(str(directory / "raw.duckdb"))
    connection.execute(TABLE)
    connection.begin()
    with pytest.raises(duckdb.ConstraintException):
        connection.execute("INSERT INTO t VALUES (1, NULL)")
    with pytest.raises(duckdb.Error) as info:
        connection.execute("SELECT 1")
    return info.value


def read_only(statement: str) -> Callable[[Path], duckdb.Error]:
    def provoke(directory: Path) -> duckdb.Error:
        path = str(directory / "raw.duckdb")
        duckdb.connect(path).execute(TABLE).close()
        with pytest.raises(duckdb.Error) as info:
            duckdb.connect(path, read_only=True).execute(statement)
        return info.value

    return provoke


def committed_twice(directory: Path) -> duckdb.Error:
    connection = duckdb.connect(str(directory / "raw.duckdb"))
    connection.execute(TABLE)
    first, second = connection.cursor(), connection.cursor()
    first.begin()
    second.begin()
    first.execute("INSERT INTO t VALUES (5, 1)")
    second.execute("INSERT INTO t VALUES (5, 2)")
    first.commit()
    with pytest.raises(duckdb.Error) as info:
        second.commit()
    return info.value


PATTERNED = [
    ("constraint at commit", committed_twice),
    ("write conflict", conflict_on("UPDATE t SET v = 2 WHERE id = 1")),
    ("write conflict", conflict_on("DELETE FROM t WHERE id = 1")),
    ("aborted transaction", aborted),
    ("read-only database", read_only("INSERT INTO t VALUES (2, 2)")),
    ("read-only database", read_only("CREATE TABLE u (x INTEGER)")),
]


@pytest.mark.parametrize(("rule", "provoke"), PATTERNED)
def test_each_pattern_matches_the_duckdb_message_it_is_for(
    rule: str, provoke: Callable[[Path], duckdb.Error], tmp_path: Path
) -> None:
    exc = provoke(tmp_path)
    [row] = [row for row in DUCKDB_ERRORS if row.name == rule]
    assert row.pattern is not None
    assert row.pattern.search(str(exc)), str(exc)
    assert duckdb_error_rule(exc, Stage.STATEMENT) is row
    assert is_write_conflict(exc) is (rule == "write conflict")


def test_every_pattern_has_its_duckdb_message() -> None:
    patterned = {row.name for row in DUCKDB_ERRORS if row.pattern is not None}
    assert patterned == {rule for rule, _ in PATTERNED}

"""Copies of a whole database: ``engine.snapshot()``, and the SQL behind the
command line's ``export`` and ``import``.

A snapshot is written while the engine keeps serving: one worker-thread hop on
one pooled connection attaches a new file, copies every table inside one
transaction (one MVCC snapshot, so the tables agree with each other), counts
the copied rows, commits and detaches, which checkpoints the new file
(``sql/snapshot.sql``). The copy is written under a temporary name beside the
target and renamed only once it is complete, so the target never holds a
half-written file; a failure or a cancellation removes the temporary file.
Because it is an ordinary session call, cancellation, ``statement_timeout`` and
the pool work as for any other.

User values never become SQL text unescaped: the copy's path is a bound
parameter of ``ATTACH``; the two things DuckDB does not accept as parameters
(the database's catalog name in ``COPY FROM DATABASE``, the directory of
``EXPORT``/``IMPORT DATABASE``) go in quoted (:func:`quote_identifier`,
:func:`quote_literal`).

This module does not import the engine (the engine imports it).
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Callable
from contextlib import suppress
from functools import partial
from pathlib import Path
from typing import Literal

import anyio
import duckdb
from pydantic import BaseModel, ConfigDict

from ..errors import DatabaseError, InvalidQueryError
from . import statements
from .config import MEMORY
from .runner import StatementRunner
from .session import Session
from .statements import Statement, checked_query

__all__ = [
    "ExportFormat",
    "SnapshotInfo",
    "check_snapshot_target",
    "database_has_tables",
    "export_database",
    "import_database",
    "quote_identifier",
    "quote_literal",
    "same_file",
    "take_snapshot",
    "wal_path",
]

#: The catalog name ``sql/snapshot.sql`` attaches the copy under.
TARGET_ALIAS = "snapshot_target"

SOURCE_DATABASE = statements.SNAPSHOT_SOURCE_DATABASE
ATTACH_TARGET = statements.ATTACH_SNAPSHOT_TARGET
COPY_DATABASE = statements.COPY_DATABASE_TO_SNAPSHOT
TABLES = statements.SNAPSHOT_TABLES
DETACH_TARGET = statements.DETACH_SNAPSHOT_TARGET
EXPORT_PARQUET = statements.EXPORT_DATABASE_PARQUET
EXPORT_CSV = statements.EXPORT_DATABASE_CSV
IMPORT_DATABASE = statements.IMPORT_DATABASE
HAS_TABLES = statements.DATABASE_HAS_TABLES
CHECKPOINT_DATABASE = statements.CHECKPOINT_DATABASE

ExportFormat = Literal["parquet", "csv"]
_EXPORTS: dict[str, Statement] = {"parquet": EXPORT_PARQUET, "csv": EXPORT_CSV}


class SnapshotInfo(BaseModel):
    """What ``engine.snapshot()`` wrote.

    ``tables`` maps each table (``schema.table`` outside the ``main`` schema) to
    the rows the copy holds, all as of the one moment the copy was taken;
    ``size_bytes`` is the copy's file size and ``seconds`` how long the call took
    (waiting for a connection included).
    """

    model_config = ConfigDict(frozen=True)

    path: Path
    tables: dict[str, int]
    size_bytes: int
    seconds: float

    @property
    def total_rows(self) -> int:
        return sum(self.tables.values())


# -- quoting -----------------------------------------------------------------------


def quote_identifier(name: str) -> str:
    """``name`` as a DuckDB quoted identifier (``"..."``, double quotes doubled):
    for the catalog and table names DuckDB takes no parameter for."""
    return '"' + name.replace('"', '""') + '"'


def quote_literal(text: str) -> str:
    """``text`` as a DuckDB string literal (``'...'``, single quotes doubled;
    backslashes are not escapes in DuckDB strings), for the directory of
    ``EXPORT DATABASE`` / ``IMPORT DATABASE``, whose parser accepts no parameter
    there (measured on DuckDB 2.0.1: a ``$name`` is a syntax error)."""
    if "\x00" in text:
        raise InvalidQueryError("a path cannot contain a NUL character")
    return "'" + text.replace("'", "''") + "'"


def _fill(statement: Statement, token: str, replacement: str) -> str:
    """The SQL of ``statement`` with its one placeholder ``token`` replaced."""
    sql = checked_query(statement).sql
    if sql.count(token) != 1:  # pragma: no cover - sql/snapshot.sql was edited wrongly
        raise InvalidQueryError(
            f"query {statement.name} must contain {token} exactly once (sql/snapshot.sql)"
        )
    return sql.replace(token, replacement)


# -- paths -------------------------------------------------------------------------


def wal_path(database: Path) -> Path:
    """DuckDB's write-ahead log of a database file: the same name plus ``.wal``."""
    return database.with_name(database.name + ".wal")


def check_snapshot_target(path: str | os.PathLike[str], *, database: str, overwrite: bool) -> Path:
    """The absolute path a snapshot may be written to, or ``InvalidQueryError``
    (a ``ValueError``) saying what is wrong with it and what to do. Checked
    before anything is written."""
    target = Path(os.path.abspath(Path(path).expanduser()))
    shown = repr(str(path))
    if os.sep != "\\" and "\\" in str(target):
        # DuckDB turns every backslash of a path into '/', so it would write elsewhere.
        raise InvalidQueryError(
            f"snapshot path {shown} contains a backslash, which DuckDB reads as a directory "
            "separator; choose a name without one"
        )
    if target.is_dir():
        raise InvalidQueryError(
            f"snapshot path {shown} is a directory; give a file name inside it, e.g. "
            f"{str(target / 'snapshot.duckdb')!r}"
        )
    if not target.parent.is_dir():
        raise InvalidQueryError(
            f"cannot write snapshot {shown}: directory {str(target.parent)!r} does not exist; "
            "create it first"
        )
    if database != MEMORY and same_file(target, Path(database)):
        raise InvalidQueryError(
            f"snapshot path {shown} is the engine's own database file; choose another name"
        )
    if not overwrite:
        if os.path.lexists(target):
            raise InvalidQueryError(
                f"snapshot path {shown} already exists; choose another name or pass "
                "overwrite=True to replace it"
            )
        if os.path.lexists(wal_path(target)):
            raise InvalidQueryError(
                f"{str(wal_path(target))!r} is left over from a deleted database and DuckDB "
                f"would replay it into a new {shown}; delete it or choose another name"
            )
    return target


def same_file(a: Path, b: Path) -> bool:
    """Whether two paths name one file (or, when either is missing, one path)."""
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist
        return os.path.abspath(a) == os.path.abspath(b)


def temporary_beside(target: Path, kind: str) -> Path:
    """A fresh hidden name in the target's directory (so the final rename stays on
    one filesystem, which keeps it atomic)."""
    return target.with_name(f".{target.name[:100]}.{secrets.token_hex(4)}.{kind}-tmp")


def discard(database: Path) -> None:
    """Remove a temporary database file and its write-ahead log, if present."""
    for path in (database, wal_path(database)):
        with suppress(FileNotFoundError):
            path.unlink()


def publish(temporary: Path, target: Path, *, overwrite: bool) -> int:
    """Give a complete database file its final name, in one atomic rename; its size.

    Without ``overwrite``, a file that appeared at ``target`` meanwhile is never
    replaced (a hard link fails if the name exists; a filesystem without hard
    links falls back to checking first). With it, the replaced database's
    write-ahead log goes too: DuckDB would otherwise replay it into the new file.
    A failing filesystem raises ``DatabaseError``; the caller removes ``temporary``.
    """
    try:
        if overwrite:
            with suppress(FileNotFoundError):
                wal_path(target).unlink()
            os.replace(temporary, target)
        elif _linked(temporary, target):
            temporary.unlink()
        else:  # no hard links here (FAT, some network filesystems)
            if os.path.lexists(target):
                raise FileExistsError(target)
            os.replace(temporary, target)
        _sync_directory(target.parent)
        return target.stat().st_size
    except FileExistsError:
        raise InvalidQueryError(
            f"{str(target)!r} was created by someone else while the copy was written; "
            "nothing was replaced. Choose another name or allow overwriting"
        ) from None
    except OSError as exc:
        raise DatabaseError(
            f"the copy was written but could not be moved to {str(target)!r}: {exc}"
        ) from exc


def _linked(source: Path, target: Path) -> bool:
    """Hard-link ``source`` as ``target`` (``FileExistsError`` if it exists); False
    when the filesystem has no hard links."""
    try:
        os.link(source, target)
    except FileExistsError:
        raise
    except OSError:
        return False
    return True


def _sync_directory(directory: Path) -> None:
    """Make a rename in ``directory`` survive a power cut (POSIX only)."""
    if os.name != "posix":  # pragma: no cover
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# -- in the worker thread ------------------------------------------------------------


def row_counts(runner: StatementRunner, database: str) -> dict[str, int]:
    """Rows per table of one attached database, exactly (``count(*)``), in one
    statement: ``schema.table`` outside the ``main`` schema."""
    tables = runner.rows(TABLES, database=database)
    if not tables:
        return {}
    catalog = quote_identifier(database)
    sql = "\nUNION ALL\n".join(
        f"SELECT {index} AS position, count(*) AS n FROM {catalog}."
        f"{quote_identifier(table['schema_name'])}.{quote_identifier(table['table_name'])}"
        for index, table in enumerate(tables)
    )
    counted = {row["position"]: row["n"] for row in runner.composed(TABLES, sql, {})}
    names = [
        t["table_name"] if t["schema_name"] == "main" else f"{t['schema_name']}.{t['table_name']}"
        for t in tables
    ]
    return {name: int(counted[index]) for index, name in enumerate(names)}


def detach_copy(runner: StatementRunner, *, quietly: bool) -> None:
    """Close the copy's file. Run directly on the connection, not through the
    runner, which refuses statements once the caller is cancelled: this one must
    run then too.

    Two things can stand in its way after a failure or a cancellation, and each
    is cleared before trying again: the interrupt (it stops one statement, which
    may be this one), and a transaction left open and aborted when the interrupt
    landed on the copy's own ROLLBACK (DuckDB refuses DETACH inside an aborted
    transaction; rolling it back loses nothing, the copy is being abandoned).
    """
    sql = checked_query(DETACH_TARGET).sql
    attempts = 3
    for attempt in range(attempts):
        try:
            runner.connection.execute(sql).fetchall()
            return
        except duckdb.InterruptException:
            if attempt == attempts - 1 and not quietly:
                raise
        except duckdb.TransactionException:
            if not quietly:
                raise
            with suppress(duckdb.Error):
                runner.connection.rollback()
        except duckdb.Error:
            if not quietly:
                raise
            return


def copy_database(runner: StatementRunner, *, temporary: Path, target: Path) -> dict[str, int]:
    """Write the engine's database to ``temporary``; the rows copied per table.
    Runs in one worker thread; see the module docstring and ``sql/snapshot.sql``."""
    source = runner.value(SOURCE_DATABASE)
    copy_sql = _fill(COPY_DATABASE, "snapshot_source", quote_identifier(source))
    try:
        runner.run(ATTACH_TARGET, path=str(temporary))
    except duckdb.BinderException as exc:
        if "already exists" not in str(exc):
            raise
        # Not ours to detach: another engine sharing this DuckDB instance attached it.
        raise DatabaseError(
            f"cannot write snapshot {str(target)!r}: another engine of this process on the "
            "same database is writing a snapshot right now; try again when it has finished "
            f"(DuckDB: {exc})"
        ) from exc
    except BaseException as exc:
        detach_copy(runner, quietly=True)  # an interrupted ATTACH may have attached it
        if isinstance(exc, duckdb.IOException):
            raise _write_failed(target, exc) from exc
        raise
    try:
        with runner.atomic():
            runner.composed(COPY_DATABASE, copy_sql, {})
            counts = row_counts(runner, TARGET_ALIAS)
    except BaseException as exc:
        detach_copy(runner, quietly=True)
        if isinstance(exc, duckdb.IOException):
            raise _write_failed(target, exc) from exc
        raise
    detach_copy(runner, quietly=False)
    if wal_path(temporary).exists():  # pragma: no cover - DETACH checkpoints (DuckDB 2.0.1)
        raise DatabaseError(
            f"DuckDB left a write-ahead log beside the copy for {str(target)!r}, so the copy "
            "may be incomplete and was not kept; try again"
        )
    return counts


def _write_failed(target: Path, exc: duckdb.Error) -> DatabaseError:
    return DatabaseError(
        f"writing snapshot {str(target)!r} failed (nothing was written there): {exc}. "
        f"Check that {str(target.parent)!r} is writable and has room"
    )


# -- on the event loop -----------------------------------------------------------------


async def take_snapshot(
    session: Session,
    target: Path,
    *,
    overwrite: bool,
    copy: Callable[..., dict[str, int]] | None = None,
) -> SnapshotInfo:
    """Copy the session's database to ``target`` (already checked with
    :func:`check_snapshot_target`) in one worker hop; see ``engine.snapshot``.
    ``copy(runner, temporary=...)`` writes the file (default: DuckDB's own
    copy of its database; a PostgreSQL engine passes postgres/snapshot.py's)."""
    started = time.perf_counter()
    temporary = temporary_beside(target, "snapshot")
    work: Callable[[StatementRunner], dict[str, int]] = (
        partial(copy_database, temporary=temporary, target=target)
        if copy is None
        else partial(copy, temporary=temporary)
    )
    try:
        counts = await session.run_in_worker(work, entity="snapshot")
        # In a thread: the rename is quick, the directory fsync may not be.
        size = await anyio.to_thread.run_sync(
            partial(publish, temporary, target, overwrite=overwrite)
        )
    except BaseException:
        discard(temporary)
        raise
    return SnapshotInfo(
        path=target, tables=counts, size_bytes=size, seconds=time.perf_counter() - started
    )


async def database_has_tables(session: Session) -> bool:
    """Whether the session's database holds any table (import refuses it then)."""
    return bool(await session.run_in_worker(lambda runner: runner.value(HAS_TABLES)))


async def export_database(
    session: Session, directory: Path, export_format: ExportFormat
) -> dict[str, int]:
    """``EXPORT DATABASE`` into ``directory`` (which must not exist yet: DuckDB
    creates it); the rows exported per table, counted in the same hop."""
    statement = _EXPORTS[export_format]
    sql = _fill(statement, "'export_directory'", quote_literal(str(directory)))

    def work(runner: StatementRunner) -> dict[str, int]:
        with runner.atomic():  # the counts and the files show the same moment
            runner.composed(statement, sql, {})
            return row_counts(runner, runner.value(SOURCE_DATABASE))

    return await session.run_in_worker(work, entity="export")


async def import_database(session: Session, directory: Path) -> dict[str, int]:
    """``IMPORT DATABASE`` from an export directory, in one transaction (a failure
    leaves the database as it was), then a checkpoint; the rows imported per table.

    ``IMPORT DATABASE`` runs the directory's ``schema.sql`` and ``load.sql`` as
    they are: import only directories you trust."""
    sql = _fill(IMPORT_DATABASE, "'import_directory'", quote_literal(str(directory)))

    def work(runner: StatementRunner) -> dict[str, int]:
        with runner.atomic():
            runner.composed(IMPORT_DATABASE, sql, {})
            counts = row_counts(runner, runner.value(SOURCE_DATABASE))
        runner.run(CHECKPOINT_DATABASE)
        return counts

    return await session.run_in_worker(work, entity="import")

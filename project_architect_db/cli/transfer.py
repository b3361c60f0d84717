"""``snapshot``, ``export`` and ``import``: copies of a whole database.

* ``snapshot --database PATH --to FILE [--force]``: a consistent copy as one
  DuckDB file (``engine.snapshot``), opened by anyone read-only.
* ``export --database PATH --to DIR [--format parquet|csv]``: DuckDB's
  ``EXPORT DATABASE``: ``schema.sql``, ``load.sql`` and one data file per table.
* ``import --database PATH --from DIR``: DuckDB's ``IMPORT DATABASE`` of such a
  directory into a new or empty database file.

The source database is opened read-only and without migrations: a copy shows the
file as it is (pending migrations included), and a file that others only read
can still be copied. DuckDB lets no other process open a file an app holds for
writing; then the open fails with the lock message (exit 1), and the app itself
must call ``engine.snapshot`` (see docs/design.md, "Snapshots").

Nothing half-written is ever left at a target: each is written under a hidden
temporary name beside it and renamed at the end; a failure removes it.
"""

from __future__ import annotations

import argparse
import os
import shutil
from pathlib import Path
from typing import Any, get_args

import anyio

from ..core.engine import DatabaseEngine
from ..core.snapshot import (
    ExportFormat,
    SnapshotInfo,
    database_has_tables,
    discard,
    export_database,
    import_database,
    publish,
    same_file,
    temporary_beside,
    wal_path,
)
from ..errors import InvalidQueryError, ProjectArchitectDBError
from .common import CommandError, UsageError, database_source, new_file
from .tables import print_table

__all__ = ["register"]

#: The files that make a directory an ``EXPORT DATABASE`` directory.
_EXPORT_FILES = ("schema.sql", "load.sql")


def register(commands: Any) -> None:
    snapshot = commands.add_parser(
        "snapshot",
        help="copy a database file, consistent as of one moment, to a new DuckDB file",
        description="Write a consistent copy of every table (schema, sequences, constraints "
        "and schema_migrations included) to a new DuckDB file that anyone can open "
        "read-only. The database must not be held by a running app (DuckDB allows no "
        "other process then): the app takes its own copy with 'await engine.snapshot(path)'.",
    )
    snapshot.add_argument(
        "--database",
        required=True,
        metavar="PATH_OR_URL",
        help="the DuckDB file to copy, or a postgresql:// URL (its data as of one "
        "transaction, in a new DuckDB file)",
    )
    snapshot.add_argument(
        "--to", type=Path, required=True, metavar="FILE", help="the copy to write (a new file)"
    )
    snapshot.add_argument("--force", action="store_true", help="replace FILE if it exists")
    snapshot.set_defaults(handler=_snapshot)

    export = commands.add_parser(
        "export",
        help="write every table to a directory (DuckDB's EXPORT DATABASE)",
        description="Write the whole database with DuckDB's EXPORT DATABASE: schema.sql, "
        "load.sql and one file per table, into DIR, which must not exist yet or be an empty "
        "directory. Load it back with 'import'.",
    )
    export.add_argument(
        "--database",
        required=True,
        metavar="PATH_OR_URL",
        help="the DuckDB file to export, or a postgresql:// URL (read as of one transaction)",
    )
    export.add_argument(
        "--to",
        type=Path,
        required=True,
        metavar="DIR",
        help="a new (or empty) directory to write",
    )
    export.add_argument(
        "--format",
        choices=get_args(ExportFormat),
        default="parquet",
        help="one Parquet (default: compact, typed) or CSV (readable anywhere) file per table",
    )
    export.set_defaults(handler=_export)

    load = commands.add_parser(
        "import",
        help="load a directory written by 'export' into a new or empty database",
        description="Load a directory written by 'export' (or DuckDB's EXPORT DATABASE) "
        "with DuckDB's IMPORT DATABASE, all or nothing. The database must be a new file "
        "(created) or a DuckDB file without tables. The directory's schema.sql and load.sql "
        "run as SQL: import only exports you trust.",
    )
    load.add_argument(
        "--database",
        type=Path,
        required=True,
        metavar="PATH",
        help="the DuckDB file to fill (created if missing)",
    )
    load.add_argument(
        "--from",
        dest="source",
        type=Path,
        required=True,
        metavar="DIR",
        help="a directory written by 'export'",
    )
    load.set_defaults(handler=_import)


# -- snapshot ------------------------------------------------------------------------


def _snapshot(args: argparse.Namespace) -> int:
    database = _source(args.database)
    target = _duckdb_path(new_file(args.to, option="--to", overwrite=args.force), "--to")
    if isinstance(database, Path) and same_file(database, target):
        raise UsageError(
            f"--to {str(target)!r} is the database itself; write the copy to another file"
        )
    info = anyio.run(_write_snapshot, database, target, args.force)
    print(
        f"wrote {info.path}: a snapshot of {database}, {len(info.tables)} tables, "
        f"{info.total_rows:,} rows, {info.size_bytes:,} bytes in {info.seconds:.2f} s"
    )
    _print_counts(info.tables)
    return 0


async def _write_snapshot(database: str | Path, target: Path, force: bool) -> SnapshotInfo:
    async with _source_engine(database) as engine:
        try:
            return await engine.snapshot(target, overwrite=force)
        except InvalidQueryError as error:  # the target changed since the checks above
            raise UsageError(f"--to: {error}") from error


# -- export ----------------------------------------------------------------------------


def _export(args: argparse.Namespace) -> int:
    database = _source(args.database)
    directory = _duckdb_path(_new_directory(args.to), "--to")
    temporary = temporary_beside(directory, "export")
    try:
        counts = anyio.run(_write_export, database, temporary, args.format)
        _name_final_directory(temporary, directory)
        _move_directory(temporary, directory)
    except OSError as error:
        raise CommandError(
            f"exporting {database} to {directory} failed, nothing was written there: {error}"
        ) from error
    finally:
        shutil.rmtree(temporary, ignore_errors=True)  # gone already when all went well
    print(
        f"exported {database} to {directory} as {args.format}: {len(counts)} tables, "
        f"{sum(counts.values()):,} rows"
    )
    _print_counts(counts)
    print(f"load it with: project-architect-db import --database NEW.duckdb --from {directory}")
    return 0


async def _write_export(
    database: str | Path, temporary: Path, export_format: ExportFormat
) -> dict[str, int]:
    if isinstance(database, str):
        # PostgreSQL: a snapshot into a DuckDB file beside the export, exported by DuckDB.
        copy = temporary.with_name(temporary.name + ".duckdb")
        try:
            await _write_snapshot(database, copy, False)
            return await _write_export(copy, temporary, export_format)
        finally:
            discard(copy)
    async with _source_engine(database) as engine, engine.session() as session:
        try:
            return await export_database(session, temporary, export_format)
        except ProjectArchitectDBError as error:
            raise CommandError(
                f"exporting {database} failed, nothing was written: {error}"
            ) from error


def _name_final_directory(temporary: Path, directory: Path) -> None:
    """DuckDB's load.sql names each data file by the path the export was written
    to; make it name the directory's final path, for whoever runs load.sql by
    hand (IMPORT DATABASE finds the files in the directory it is given either way).
    The temporary name holds random hex, so it matches nothing else in the file."""
    load = temporary / "load.sql"
    text = load.read_text(encoding="utf-8")
    # As DuckDB writes them: inside single-quoted literals, quotes doubled.
    written, final = (str(path).replace("'", "''") + os.sep for path in (temporary, directory))
    rewritten = load.with_name("load.sql.tmp")
    rewritten.write_text(text.replace(written, final), encoding="utf-8")
    rewritten.replace(load)


def _move_directory(temporary: Path, directory: Path) -> None:
    """Rename the finished export to its final name (on POSIX atomically, also
    onto the empty directory the user may have made for it)."""
    try:
        os.replace(temporary, directory)
    except OSError:
        if not directory.is_dir() or any(directory.iterdir()):
            raise
        directory.rmdir()  # Windows will not rename onto a directory
        temporary.rename(directory)


def _new_directory(path: Path) -> Path:
    """Export's target: a directory to create, or an existing empty one."""
    if path.exists() and not path.is_dir():
        raise UsageError(f"--to {str(path)!r} is a file; give a new directory for the export")
    if path.is_dir() and any(path.iterdir()):
        raise UsageError(
            f"--to {str(path)!r} is not empty; give a new or empty directory (an export never "
            "mixes its files with others)"
        )
    parent = Path(os.path.abspath(path)).parent
    if not parent.is_dir():
        raise UsageError(
            f"--to {str(path)!r}: directory {str(parent)!r} does not exist; create it first"
        )
    return Path(os.path.abspath(path))


# -- import ------------------------------------------------------------------------------


def _import(args: argparse.Namespace) -> int:
    source = _duckdb_path(_export_directory(args.source), "--from")
    target = _duckdb_path(Path(os.path.abspath(args.database)), "--database")
    if target.is_dir():
        raise UsageError(f"--database {str(args.database)!r} is a directory; give a DuckDB file")
    if not target.parent.is_dir():
        raise UsageError(
            f"--database {str(args.database)!r}: directory {str(target.parent)!r} does not "
            "exist; create it first"
        )
    if target.exists():
        counts = anyio.run(_import_into, target, source)
    else:
        if wal_path(target).exists():
            raise UsageError(
                f"{str(wal_path(target))!r} is left over from a deleted database and DuckDB "
                f"would replay it into the new {str(target)!r}; delete it first"
            )
        temporary = temporary_beside(target, "import")
        try:
            counts = anyio.run(_import_into, temporary, source)
            publish(temporary, target, overwrite=False)
        except BaseException:
            discard(temporary)
            raise
    print(f"imported {source} into {target}: {len(counts)} tables, {sum(counts.values()):,} rows")
    _print_counts(counts)
    return 0


async def _import_into(database: Path, source: Path) -> dict[str, int]:
    # No migrations: the export brings its own schema and schema_migrations (an
    # app opening the result later applies whatever is newer).
    async with (
        DatabaseEngine(database, migrate=False, pool_size=1, max_overflow=0) as engine,
        engine.session() as session,
    ):
        if await database_has_tables(session):
            raise UsageError(
                f"--database {str(database)!r} already holds tables; import only into a new "
                "file or an empty DuckDB database (nothing was changed)"
            )
        try:
            return await import_database(session, source)
        except ProjectArchitectDBError as error:
            raise CommandError(
                f"importing {source} failed, nothing was imported: {error}"
            ) from error


def _export_directory(path: Path) -> Path:
    if not path.is_dir():
        raise UsageError(
            f"--from {str(path)!r} is not a directory; give a directory written by "
            "'project-architect-db export'"
        )
    missing = [name for name in _EXPORT_FILES if not (path / name).is_file()]
    if missing:
        raise UsageError(
            f"--from {str(path)!r} is not an export directory: it has no {' or '.join(missing)}; "
            "give a directory written by 'project-architect-db export'"
        )
    return Path(os.path.abspath(path))


# -- shared ----------------------------------------------------------------------------


def _source(text: str) -> str | Path:
    """``--database``: a PostgreSQL URL, or an existing DuckDB file DuckDB can name."""
    database = database_source(text)
    if isinstance(database, Path):
        return _duckdb_path(database, "--database")
    return database


def _source_engine(database: str | Path) -> DatabaseEngine:
    """The database to copy: read-only (others may read it too) and unmigrated."""
    return DatabaseEngine(database, read_only=True, migrate=False, pool_size=1, max_overflow=0)


def _duckdb_path(path: Path, option: str) -> Path:
    """DuckDB reads every backslash in a path as a directory separator, also on
    POSIX, so such a path would make it read or write another file."""
    if os.sep != "\\" and "\\" in str(path):
        raise UsageError(
            f"{option} {str(path)!r} contains a backslash, which DuckDB reads as a directory "
            "separator; rename it or choose a path without one"
        )
    return path


def _print_counts(counts: dict[str, int]) -> None:
    print_table(["table", "rows"], [[name, f"{rows:,}"] for name, rows in counts.items()])

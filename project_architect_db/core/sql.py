"""The SQL files under ``sql/``: where they are, and the named queries in them.

aiosql parses each ``-- name: query_name(param, ...)<suffix>`` block (the
suffix is the query's operation: ``^`` one row, ``$`` one value, ``<!`` insert
returning, ``!`` execute, ``*!`` execute many, ``#`` script, none: rows). This
module keeps, for each query, the parsed text, the declared parameters, the
operation, and where it stands in its file (for ``show``, ``check-sql`` and
error messages). The runner executes the parsed SQL itself rather than through
aiosql's generated functions: on the session's own connection, timed for
``engine.stats()``, checking for cancellation between statements, and with
result column names cached per statement (see ``runner.py``).

Migrations live in ``sql/migrations/NNNN_description.sql`` and are plain scripts.

``queries()`` and ``migrations()`` are the files the library runs (the installed
ones, unless the command line's ``--sql-dir`` chose others with
``use_sql_directory``); ``load_catalog(directory)`` reads any copy of them.
"""

from __future__ import annotations

import enum
import logging
import re
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import aiosql
from aiosql.types import SQLOperationType
from aiosql.utils import SQLLoadException, SQLParseException

__all__ = [
    "POSTGRES_DIRECTORY",
    "Catalog",
    "Migration",
    "NamedQuery",
    "Operation",
    "SqlFileError",
    "get_query",
    "installed_catalog",
    "load_catalog",
    "load_file",
    "load_migrations",
    "load_query_files",
    "migrations",
    "queries",
    "sql_directory",
    "use_sql_directory",
]

_PACKAGE_DIR = Path(__file__).resolve().parent.parent
#: The subdirectory of PostgreSQL's twins and migrations (project_architect_db/postgres/catalog.py).
POSTGRES_DIRECTORY = "postgres"
_MIGRATION_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
_NAME_LINE = re.compile(r"^--\s*name\s*:\s*([A-Za-z_][\w-]*)", re.MULTILINE)
_PLACEHOLDER = re.compile(r"(?<![\w$])\$([A-Za-z_][A-Za-z0-9_]*)")


def sql_directory() -> Path:
    """The directory holding the SQL files.

    An installed wheel carries them as ``project_architect_db/sql``; a source
    checkout keeps them at the top level beside the package.
    """
    for candidate in (_PACKAGE_DIR / "sql", _PACKAGE_DIR.parent / "sql"):
        if (candidate / "migrations").is_dir():
            return candidate
    raise FileNotFoundError(
        f"SQL files not found next to {_PACKAGE_DIR}; reinstall project_architect_db "
        "(the wheel ships them as project_architect_db/sql)"
    )


class Operation(enum.StrEnum):
    """What a named query does, as its aiosql suffix declares."""

    SELECT = "select"  # no suffix: all rows
    SELECT_ONE = "select one"  # ^
    SELECT_VALUE = "select value"  # $
    INSERT_RETURNING = "insert returning"  # <!
    EXECUTE = "execute"  # !
    EXECUTE_MANY = "execute many"  # *!
    SCRIPT = "script"  # #

    @property
    def returns_rows(self) -> bool:
        return self in _ROW_RETURNING


_ROW_RETURNING = frozenset(
    {Operation.SELECT, Operation.SELECT_ONE, Operation.SELECT_VALUE, Operation.INSERT_RETURNING}
)

_FROM_AIOSQL = {
    SQLOperationType.SELECT: Operation.SELECT,
    SQLOperationType.SELECT_ONE: Operation.SELECT_ONE,
    SQLOperationType.SELECT_VALUE: Operation.SELECT_VALUE,
    SQLOperationType.INSERT_RETURNING: Operation.INSERT_RETURNING,
    SQLOperationType.INSERT_UPDATE_DELETE: Operation.EXECUTE,
    SQLOperationType.INSERT_UPDATE_DELETE_MANY: Operation.EXECUTE_MANY,
    SQLOperationType.SCRIPT: Operation.SCRIPT,
}


@dataclass(frozen=True, slots=True)
class NamedQuery:
    """One ``-- name:`` block of a SQL file, ready to execute on DuckDB."""

    name: str
    #: The statement as DuckDB runs it (aiosql turned ``:name`` into ``$name``).
    sql: str
    parameters: tuple[str, ...]
    operation: Operation
    #: The comment lines under ``-- name:``, joined.
    doc: str
    #: The file, relative to the SQL directory (``analytics/time_series.sql``).
    source: str
    #: The line of its ``-- name:`` header (1-based).
    line: int
    #: The block as written in the file: the comments above it, the header, the SQL.
    text: str

    @property
    def returns_rows(self) -> bool:
        return self.operation.returns_rows

    @property
    def location(self) -> str:
        """``file:line``, for messages."""
        return f"{self.source}:{self.line}"


@dataclass(frozen=True, slots=True)
class Migration:
    """One numbered schema migration script."""

    version: int
    name: str
    script: str
    source: str = ""


class SqlFileError(Exception):
    """A SQL file that cannot be loaded: ``location`` is ``file:line`` (or the file)."""

    def __init__(self, location: str, problem: str) -> None:
        self.location = location
        self.problem = problem
        super().__init__(f"{location}: {problem}")


@dataclass(frozen=True)
class Catalog:
    """Every named query and migration of one SQL directory."""

    directory: Path
    queries: dict[str, NamedQuery] = field(default_factory=dict)
    migrations: tuple[Migration, ...] = ()
    #: What could not be loaded (empty for a healthy directory).
    problems: tuple[SqlFileError, ...] = ()


def load_file(
    path: Path, *, relative_to: Path | None = None, strict: bool = True
) -> list[NamedQuery]:
    """The named queries of one file, in file order.

    ``strict`` (the library's own files) requires every ``-- name:`` to declare
    its parameter list; an analyst's file may leave it out, and then the
    parameters are the ``:name`` placeholders in order of appearance.
    Raises ``SqlFileError`` naming the file (and line, where known).
    """
    label = str(path.relative_to(relative_to)) if relative_to is not None else str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise SqlFileError(label, "is not UTF-8 text, so not a SQL file") from None
    except OSError as exc:
        raise SqlFileError(label, f"cannot be read ({exc.strerror or exc})") from None
    if "\x00" in text:
        raise SqlFileError(label, "holds NUL bytes, so not a SQL file")
    blocks = _blocks(text)
    if not blocks:
        raise SqlFileError(
            label,
            "holds no named query; start each statement with a line '-- name: query_name(param, ...)'",
        )
    try:
        with _quiet_aiosql():
            loaded = aiosql.from_str(text, "duckdb", mandatory_parameters=strict)
    except (SQLParseException, SQLLoadException) as exc:
        raise SqlFileError(label, f"aiosql cannot parse it: {exc}") from None
    found: list[NamedQuery] = []
    for name, (line, block) in blocks.items():
        fn = getattr(loaded, name, None)
        if fn is None:  # pragma: no cover - aiosql and _blocks disagree on a name
            raise SqlFileError(f"{label}:{line}", f"query {name!r} was not loaded by aiosql")
        parameters = tuple(fn.parameters) if fn.parameters else _placeholders(fn.sql)
        found.append(
            NamedQuery(
                name=name,
                sql=fn.sql,
                parameters=parameters,
                operation=_FROM_AIOSQL[fn.operation],
                doc=(fn.__doc__ or "").strip(),
                source=label,
                line=line,
                text=block,
            )
        )
    return found


def load_query_files(
    folder: Path, *, root: Path, skip: Collection[str], problems: list[SqlFileError]
) -> Iterator[tuple[Path, list[NamedQuery]]]:
    """Each ``.sql`` file below ``folder`` (in path order, leaving out the
    top-level directories named in ``skip``) with its queries, labelled relative
    to ``root``; a file that does not load goes to ``problems`` instead."""
    for path in sorted(folder.rglob("*.sql")):
        relative = path.relative_to(folder)
        if relative.parts[0] in skip:
            continue
        try:
            loaded = load_file(path, relative_to=root)
        except SqlFileError as problem:
            problems.append(problem)
            continue
        yield relative, loaded


def load_catalog(directory: Path | None = None) -> Catalog:
    """Every named query (outside ``migrations/`` and ``postgres/``) and every migration of a SQL
    directory (default: the installed one). Problems are collected, not raised,
    so ``check-sql`` can report them all; ``queries()`` refuses a catalog with any."""
    root = (directory or sql_directory()).resolve()
    catalog: dict[str, NamedQuery] = {}
    problems: list[SqlFileError] = []
    skip = ("migrations", POSTGRES_DIRECTORY)
    for _, loaded in load_query_files(root, root=root, skip=skip, problems=problems):
        for query in loaded:
            if query.name in catalog:
                first = catalog[query.name]
                problems.append(
                    SqlFileError(
                        query.location,
                        f"query {query.name}: defined twice (also at {first.location}); rename one",
                    )
                )
                continue
            catalog[query.name] = query
    found, migration_problems = load_migrations(root)
    return Catalog(root, catalog, found, tuple(problems + migration_problems))


_chosen_directory: Path | None = None


def use_sql_directory(directory: Path) -> None:
    """Run the library's queries from ``directory`` instead of the installed files,
    for the rest of this process: how the command line's ``--sql-dir`` lets an
    analyst see an edited checkout through the library (``report``). It must be
    called before the first query runs; an application has no reason to call it."""
    global _chosen_directory
    chosen = directory.resolve()
    if _installed.cache_info().currsize and _installed().directory != chosen:
        raise RuntimeError("use_sql_directory() must be called before the first query runs")
    _chosen_directory = chosen


@cache
def _installed() -> Catalog:
    catalog = load_catalog(_chosen_directory)
    if catalog.problems:
        raise RuntimeError(
            f"the SQL files in {catalog.directory} are broken; run "
            "'project-architect-db check-sql' for details:\n"
            + "\n".join(str(problem) for problem in catalog.problems)
        )
    return catalog


def installed_catalog() -> Catalog:
    """The catalog the library runs (checked: broken files raise)."""
    return _installed()


def queries() -> dict[str, NamedQuery]:
    """Every named query of the installed SQL files, by name."""
    return _installed().queries


def get_query(name: str) -> NamedQuery:
    """The named query ``name``; a ``KeyError`` here is a bug in the library."""
    return _installed().queries[name]


def migrations() -> tuple[Migration, ...]:
    """The installed migration scripts, in version order."""
    return _installed().migrations


def load_migrations(root: Path) -> tuple[tuple[Migration, ...], list[SqlFileError]]:
    """The numbered scripts of ``root/migrations`` and what is wrong with them."""
    found: list[Migration] = []
    problems: list[SqlFileError] = []
    folder = root / "migrations"
    if not folder.is_dir():
        return (), [SqlFileError(str(root), "has no migrations/ directory")]
    prefix = "" if root.name != POSTGRES_DIRECTORY else f"{POSTGRES_DIRECTORY}/"
    for path in sorted(folder.glob("*.sql")):
        label = f"{prefix}migrations/{path.name}"
        match = _MIGRATION_NAME.match(path.name)
        if match is None:
            problems.append(SqlFileError(label, "is not named NNNN_description.sql"))
            continue
        found.append(Migration(int(match[1]), match[2], path.read_text(encoding="utf-8"), label))
    versions = [m.version for m in found]
    if versions != list(range(1, len(found) + 1)):
        problems.append(
            SqlFileError(
                f"{prefix}migrations/",
                f"migrations must be numbered 1, 2, 3... without gaps; found {versions}",
            )
        )
    return tuple(found), problems


def _blocks(text: str) -> dict[str, tuple[int, str]]:
    """Each query's header line and its block as written: the comment lines
    above its ``-- name:`` (after the previous statement), the header, its SQL."""
    lines = text.splitlines()
    headers = [
        (number, match[1].replace("-", "_"))
        for number, line in enumerate(lines)
        if (match := _NAME_LINE.match(line))
    ]
    blocks: dict[str, tuple[int, str]] = {}
    for index, (number, name) in enumerate(headers):
        start = number
        floor = headers[index - 1][0] + 1 if index else 0
        # Comment lines directly above the header (blank lines allowed) belong to it,
        # up to the previous statement's last line of SQL.
        while start > floor and (
            not lines[start - 1].strip() or lines[start - 1].lstrip().startswith("--")
        ):
            start -= 1
        while start < number and not lines[start].strip():
            start += 1
        end = headers[index + 1][0] if index + 1 < len(headers) else len(lines)
        body = lines[start:end]
        # The next query's leading comments are its own: cut trailing comments and blanks.
        while (
            body
            and (not body[-1].strip() or body[-1].lstrip().startswith("--"))
            and len(body) > number - start + 1
        ):
            body.pop()
        blocks[name] = (number + 1, "\n".join(body))
    return blocks


@contextmanager
def _quiet_aiosql() -> Iterator[None]:
    """Keep aiosql's parse-time hints ("may not be a select") off the terminal:
    they name no file, and check-sql reports a suffix that does not fit with its
    file and line."""
    logger = logging.getLogger("aiosql")
    hints = _DropWarnings()
    logger.addFilter(hints)
    try:
        yield
    finally:
        logger.removeFilter(hints)


class _DropWarnings(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno > logging.WARNING


def _placeholders(sql: str) -> tuple[str, ...]:
    """The ``$name`` parameters of a statement, in order of first appearance."""
    return tuple(dict.fromkeys(_PLACEHOLDER.findall(sql)))

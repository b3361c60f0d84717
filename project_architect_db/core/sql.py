"""The SQL files under ``sql/``: where they are, and the named queries in them.

aiosql parses each ``-- name: query_name(param, ...)`` block; this module keeps
the parsed text, the declared parameters and the operation so the session can
run a query by name inside a worker thread (aiosql's own DuckDB adapter would
open a new cursor per call, which is a separate connection with its own
transaction, so we execute the parsed SQL on the session's connection).

Migrations live in ``sql/migrations/NNNN_description.sql`` and are plain scripts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import aiosql
from aiosql.types import SQLOperationType

from ..errors import InvalidQueryError

__all__ = ["Migration", "NamedQuery", "get_query", "migrations", "queries", "sql_directory"]

_PACKAGE_DIR = Path(__file__).resolve().parent.parent
_MIGRATION_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


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


@dataclass(frozen=True, slots=True)
class NamedQuery:
    """One ``-- name:`` block of a SQL file, ready to execute on DuckDB."""

    name: str
    sql: str
    parameters: tuple[str, ...]
    returns_rows: bool
    doc: str
    source: str

    def bind(self, values: dict[str, Any]) -> dict[str, Any]:
        """The parameters for this query, exactly as declared, or a clear error."""
        try:
            return {name: values[name] for name in self.parameters}
        except KeyError as missing:
            raise InvalidQueryError(
                f"query {self.name!r} needs parameter {missing.args[0]!r}; "
                f"it declares ({', '.join(self.parameters)})"
            ) from None


@dataclass(frozen=True, slots=True)
class Migration:
    """One numbered schema migration script."""

    version: int
    name: str
    script: str


_ROW_RETURNING = {
    SQLOperationType.SELECT,
    SQLOperationType.SELECT_ONE,
    SQLOperationType.SELECT_VALUE,
    SQLOperationType.INSERT_RETURNING,
}


@cache
def queries() -> dict[str, NamedQuery]:
    """Every named query of every SQL file outside ``migrations/``, by name."""
    catalog: dict[str, NamedQuery] = {}
    root = sql_directory()
    for path in sorted(root.rglob("*.sql")):
        relative = path.relative_to(root)
        if relative.parts[0] == "migrations":
            continue
        loaded = aiosql.from_path(path, "duckdb")
        for name in loaded.available_queries:
            if name.endswith("_cursor"):
                continue
            fn = getattr(loaded, name)
            if name in catalog:
                raise RuntimeError(
                    f"query {name!r} is defined twice: {catalog[name].source} and {relative}"
                )
            catalog[name] = NamedQuery(
                name=name,
                sql=fn.sql,
                parameters=tuple(fn.parameters or ()),
                returns_rows=fn.operation in _ROW_RETURNING,
                doc=(fn.__doc__ or "").strip(),
                source=str(relative),
            )
    return catalog


def get_query(name: str) -> NamedQuery:
    """The named query ``name``; a ``KeyError`` here is a bug in the library."""
    return queries()[name]


@cache
def migrations() -> tuple[Migration, ...]:
    """The migration scripts, in version order."""
    found: list[Migration] = []
    for path in sorted((sql_directory() / "migrations").glob("*.sql")):
        match = _MIGRATION_NAME.match(path.name)
        if match is None:
            raise RuntimeError(f"migration file {path.name!r} is not named NNNN_description.sql")
        found.append(Migration(int(match[1]), match[2], path.read_text(encoding="utf-8")))
    versions = [m.version for m in found]
    if versions != list(range(1, len(found) + 1)):
        raise RuntimeError(f"migrations must be numbered 1, 2, 3... without gaps; found {versions}")
    return tuple(found)

"""The SQL PostgreSQL runs: the shared files, with twins where they must differ.

``sql/`` stays the one source of truth for analysts: every query that runs
equal on both engines lives there once. A query that cannot (DuckDB's list and
struct functions, ``GROUP BY ALL``, its JSON functions, the analytics) has a
twin of the same name at the same relative path under ``sql/postgres/``,
whose first comment line names its DuckDB twin and a hash of that query's
text when the twin was last reviewed::

    -- name: project_metrics(start, end)^
    -- twin-of: analytics/project_metrics.sql:project_metrics sha256:1a2b3c4d5e6f

When the DuckDB query changes, its hash no longer matches and ``check-sql``
fails, naming both files: review the twin, then update its hash
(``project-architect-db check-sql`` prints the new one). The files of
:data:`DUCKDB_ONLY` (snapshots, export, import) have no twins: PostgreSQL
engines take their snapshots another way (postgres/snapshot.py).

PostgreSQL's migrations live in ``sql/postgres/migrations/``, numbered on
their own: the schema is the same, written for the server.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from ..core.sql import (
    POSTGRES_DIRECTORY,
    Catalog,
    Migration,
    NamedQuery,
    SqlFileError,
    installed_catalog,
    load_catalog,
    load_migrations,
    load_query_files,
    queries,
    sql_directory,
)
from ..core.statements import Statement, checked_against
from ..errors import InvalidQueryError

__all__ = [
    "DUCKDB_ONLY",
    "PostgresCatalog",
    "Twin",
    "load_postgres_catalog",
    "postgres_catalog",
    "postgres_query",
    "twin_hash",
]

#: Files whose queries only DuckDB runs (ATTACH, COPY FROM DATABASE, EXPORT...).
DUCKDB_ONLY = frozenset({"snapshot.sql"})

_TWIN_LINE = re.compile(
    r"^--\s*twin-of:\s*(?P<source>\S+?):(?P<name>\w+)\s+sha256:(?P<hash>[0-9a-f]{12})\s*$",
    re.MULTILINE,
)


def twin_hash(query: NamedQuery) -> str:
    """The hash a twin records of its DuckDB query: the statement's text, so a
    change of its comments alone does not ask for a review."""
    return hashlib.sha256(query.sql.strip().encode()).hexdigest()[:12]


@dataclass(frozen=True, slots=True)
class Twin:
    """A PostgreSQL query standing in for the DuckDB query of the same name."""

    query: NamedQuery
    #: ``file:name`` of the DuckDB query, as the twin-of line says.
    twin_of: str
    #: The hash of the DuckDB query's text when the twin was last reviewed.
    reviewed_hash: str


@dataclass(frozen=True)
class PostgresCatalog:
    """What a PostgreSQL engine runs, and what is wrong with its own files (the
    twins and PostgreSQL's migrations; the shared files' problems are their
    catalog's)."""

    directory: Path
    #: Every query PostgreSQL runs, by name: shared ones and twins.
    queries: dict[str, NamedQuery] = field(default_factory=dict)
    twins: dict[str, Twin] = field(default_factory=dict)
    migrations: tuple[Migration, ...] = ()
    problems: tuple[SqlFileError, ...] = ()


def load_postgres_catalog(
    directory: Path | None = None, *, shared: Catalog | None = None
) -> PostgresCatalog:
    """The shared queries of ``directory`` (default: the installed SQL files)
    overlaid with the twins of its ``postgres/`` subdirectory, every problem of
    those collected: a twin without a valid twin-of line, naming another query,
    whose DuckDB query changed since its review, or whose parameters or
    operation differ from its DuckDB query's. ``shared``: that directory's
    DuckDB catalog, when the caller has loaded it already (it is not read
    twice); its own problems stay in it."""
    if shared is None:
        shared = load_catalog((directory or sql_directory()).resolve())
    root = shared.directory
    problems: list[SqlFileError] = []
    queries = {
        name: query for name, query in shared.queries.items() if query.source not in DUCKDB_ONLY
    }
    twins: dict[str, Twin] = {}
    folder = root / POSTGRES_DIRECTORY
    # (A missing folder yields no files; it is reported below.)
    for relative, loaded in load_query_files(
        folder, root=root, skip=("migrations",), problems=problems
    ):
        for query in loaded:
            twin, wrong = _twin(query, shared.queries, str(relative))
            if wrong is not None:
                problems.append(SqlFileError(query.location, f"query {query.name}: {wrong}"))
                continue
            assert twin is not None
            if query.name in twins:
                problems.append(
                    SqlFileError(query.location, f"query {query.name}: has two PostgreSQL twins")
                )
                continue
            twins[query.name] = twin
            queries[query.name] = query
    migrations, migration_problems = load_migrations(folder) if folder.is_dir() else ((), [])
    if not folder.is_dir():
        problems.append(SqlFileError(str(root), f"has no {POSTGRES_DIRECTORY}/ directory"))
    return PostgresCatalog(root, queries, twins, migrations, tuple(problems + migration_problems))


def _twin(
    query: NamedQuery, shared: dict[str, NamedQuery], relative: str
) -> tuple[Twin | None, str | None]:
    match = _TWIN_LINE.search(query.text)
    if match is None:
        return None, (
            "a PostgreSQL twin must say which DuckDB query it stands for: add the comment "
            f"'-- twin-of: {relative}:{query.name} sha256:<hash>' under its -- name: line "
            "(check-sql prints the hash)"
        )
    source, name, reviewed = match["source"], match["name"], match["hash"]
    original = shared.get(name)
    if name != query.name or original is None or original.source != source:
        where = f"{original.source}:{name}" if original is not None else "nothing"
        return None, (
            f"its twin-of line names {source}:{name}, but the DuckDB query of that name is "
            f"{where}; a twin has the name and the relative path of its DuckDB query"
        )
    if source != relative:
        return None, f"a twin of {source} belongs in {POSTGRES_DIRECTORY}/{source}"
    if (original.parameters, original.operation) != (query.parameters, query.operation):
        return None, (
            f"takes ({', '.join(query.parameters)}) as {query.operation.value}, but its DuckDB "
            f"twin {source}:{name} takes ({', '.join(original.parameters)}) as "
            f"{original.operation.value}; they must match"
        )
    current = twin_hash(original)
    if current != reviewed:
        return None, (
            f"its DuckDB twin {source}:{name} changed since the twin was reviewed (sha256:"
            f"{reviewed} then, sha256:{current} now); review this query against it, then "
            f"write sha256:{current} on its twin-of line"
        )
    return Twin(query, f"{source}:{name}", reviewed), None


@cache
def postgres_catalog() -> PostgresCatalog:
    """The installed catalog for PostgreSQL (checked: a broken one raises), over
    the DuckDB catalog the library runs (``use_sql_directory`` included)."""
    catalog = load_postgres_catalog(shared=installed_catalog())
    if catalog.problems:
        raise RuntimeError(
            f"the PostgreSQL SQL files in {catalog.directory} are broken; run "
            "'project-architect-db check-sql' for details:\n"
            + "\n".join(str(problem) for problem in catalog.problems)
        )
    return catalog


@cache
def postgres_query(statement: Statement) -> NamedQuery:
    """The query a registered statement runs on PostgreSQL, once checked against it."""
    query = postgres_catalog().queries.get(statement.name)
    if query is None and statement.name in queries():
        raise InvalidQueryError(
            f"query {statement.name!r} is DuckDB-only (it has no PostgreSQL version), so "
            "this operation is not available on a PostgreSQL engine"
        )
    return checked_against(statement, query)

"""``check-sql``: prove a SQL directory works before anyone runs it.

1. Every file loads (aiosql parses it; no name is defined twice).
2. Every migration applies, in order, to a fresh in-memory database.
3. Every named query is prepared against that schema: ``EXPLAIN`` with each
   parameter bound to NULL plans the statement without running it (a write
   writes nothing), so DuckDB's parser, binder and catalog all see it. The Arrow
   tables the bulk statements read are registered empty, with the schemas the
   repositories stage. The few statements DuckDB cannot ``EXPLAIN`` (ATTACH,
   DETACH, EXPORT/IMPORT DATABASE, COPY FROM DATABASE, PRAGMA) are parsed only.
4. Every statement the library runs (``core/statements.py``) exists, declares
   the parameters the code passes, and has an operation (its suffix) that fits
   how the code runs it.
5. PostgreSQL's twins (``postgres/``, see ``postgres/catalog.py``) each name
   their DuckDB query, take its parameters and operation, and were reviewed
   against its current text: a DuckDB query changed since its twin's review
   fails here, naming both and the new hash. PostgreSQL's migrations are
   numbered without gaps. (The twins run for real in the equality suite,
   tests/postgres/test_equality_queries.py.)

Each failure names ``file:line``, the query, what is wrong and DuckDB's message.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from .core.sql import Catalog, NamedQuery, load_catalog
from .core.statements import REGISTRY, Statement, contract_problem
from .postgres.catalog import load_postgres_catalog
from .repositories import (
    ConversationRepository,
    DocumentRepository,
    ProjectRepository,
    RepositoryRepository,
)
from .repositories.base import BaseRepository

__all__ = ["CheckReport", "Failure", "check_sql"]

_REPOSITORIES: tuple[type[BaseRepository[Any]], ...] = (
    ProjectRepository,
    ConversationRepository,
    DocumentRepository,
    RepositoryRepository,
)


#: Statements DuckDB cannot EXPLAIN (ATTACH, DETACH, EXPORT/IMPORT DATABASE, COPY FROM
#: DATABASE are among them): check-sql can only parse these without running them.
_PARSE_ONLY = frozenset(
    {
        duckdb.StatementType.ATTACH,
        duckdb.StatementType.DETACH,
        duckdb.StatementType.EXPORT,
        duckdb.StatementType.PRAGMA,
    }
)


@dataclass(frozen=True, slots=True)
class Failure:
    """One thing wrong with the SQL directory."""

    location: str
    query: str | None
    problem: str
    duckdb_message: str = ""

    def __str__(self) -> str:
        subject = f"query {self.query}: " if self.query else ""
        text = f"{self.location}: {subject}{self.problem}"
        if self.duckdb_message:
            lines = [line for line in self.duckdb_message.strip().splitlines() if line.strip()]
            detail = "\n      ".join(lines)
            text += f"\n    DuckDB said: {detail}"
        return text


@dataclass(frozen=True, slots=True)
class CheckReport:
    """What ``check_sql`` looked at and what it found."""

    directory: Path
    queries: int
    migrations: int
    statements: int
    failures: tuple[Failure, ...]
    #: Queries with a PostgreSQL twin, and PostgreSQL migrations.
    twins: int = 0
    postgres_migrations: int = 0

    @property
    def ok(self) -> bool:
        return not self.failures


def check_sql(directory: Path | None = None) -> CheckReport:
    """Check a SQL directory (default: the installed files); see the module doc."""
    catalog = load_catalog(directory)
    failures = [Failure(problem.location, None, problem.problem) for problem in catalog.problems]
    connection = duckdb.connect(":memory:")
    try:
        connection.execute("SET TimeZone = 'UTC'")
        schema_failures = _migrate(connection, catalog)
        failures += schema_failures
        if not schema_failures:
            for query in sorted(catalog.queries.values(), key=lambda q: (q.source, q.line)):
                failure = _prepare(connection, query)
                if failure is not None:
                    failures.append(failure)
    finally:
        connection.close()
    failures += _contract(catalog)
    postgres = load_postgres_catalog(shared=catalog)
    failures += [Failure(problem.location, None, problem.problem) for problem in postgres.problems]
    return CheckReport(
        catalog.directory,
        len(catalog.queries),
        len(catalog.migrations),
        len(REGISTRY),
        tuple(failures),
        len(postgres.twins),
        len(postgres.migrations),
    )


def _migrate(connection: duckdb.DuckDBPyConnection, catalog: Catalog) -> list[Failure]:
    """Apply the bookkeeping table and every migration; the first failure stops it
    (later queries would only fail for want of the schema)."""
    bookkeeping = catalog.queries.get("create_schema_migrations")
    if bookkeeping is None:
        return [
            Failure(
                str(catalog.directory),
                "create_schema_migrations",
                "is missing: the library creates its migrations table with it",
            )
        ]
    steps = [(bookkeeping.location, bookkeeping.sql)]
    steps += [(migration.source, migration.script) for migration in catalog.migrations]
    for location, script in steps:
        try:
            connection.execute(script)
        except duckdb.Error as exc:
            return [
                Failure(
                    location,
                    None,
                    "this migration fails on a fresh database, so no query was prepared; "
                    "fix it first",
                    str(exc),
                )
            ]
    return []


def _prepare(connection: duckdb.DuckDBPyConnection, query: NamedQuery) -> Failure | None:
    """Plan every statement of ``query`` with NULL parameters; the failure, if any."""
    for name, schema in _staged_schemas(query.name).items():
        connection.register(name, schema.empty_table())
    try:
        statements = duckdb.extract_statements(query.sql)
        for statement in statements:
            if statement.type in _PARSE_ONLY:
                continue  # parsed above; planning it would mean running it
            parameters = dict.fromkeys(statement.named_parameters)
            connection.execute(f"EXPLAIN {statement.query}", parameters).fetchall()
    except duckdb.Error as exc:
        return Failure(query.location, query.name, "DuckDB cannot prepare it", str(exc))
    finally:
        for name in _staged_schemas(query.name):
            connection.unregister(name)
    return None


def _staged_schemas(query_name: str) -> dict[str, Any]:
    """The staged Arrow tables a query may read: its own entity's when a
    repository runs it, else the shared ones (audit and search words)."""
    for repository in _REPOSITORIES:
        statements = repository.statements
        fields = (getattr(statements, field) for field in statements.__dataclass_fields__)
        names = {value.name for value in fields if isinstance(value, Statement)}
        if query_name in names:
            return repository.staging.staged_schemas()
    return ProjectRepository.staging.staged_schemas()


def _contract(catalog: Catalog) -> list[Failure]:
    """Every statement the library runs, held against the files."""
    failures: list[Failure] = []
    for statement in REGISTRY:
        query = catalog.queries.get(statement.name)
        if query is None:
            failures.append(
                Failure(
                    str(catalog.directory),
                    statement.name,
                    f"the library runs it ({statement.use.value} with parameters "
                    f"({', '.join(statement.parameters)})) but no file defines it; restore or "
                    "rename it back",
                )
            )
            continue
        problem = contract_problem(statement, query)
        if problem is not None:
            failures.append(Failure(query.location, query.name, problem))
    return failures

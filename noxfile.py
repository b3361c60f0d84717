"""Sessions: `nox -s tests`, `nox -s lint`, `nox -s typecheck`, `nox -s check_sql`, `nox -s bench`, `nox -s soak`."""

from __future__ import annotations

import nox

nox.options.default_venv_backend = "venv"
nox.options.reuse_existing_virtualenvs = True
nox.options.sessions = ["tests", "lint", "typecheck", "check_sql"]


# Run from outside the checkout: the installed wheel must carry its own SQL files.
WHEEL_FINDS_SQL = """
from project_architect_db.core.sql import queries, sql_directory
directory = sql_directory()
assert directory.parent.name == "project_architect_db", directory
print(f"installed wheel: {len(queries())} named queries in {directory}")
"""


@nox.session
def tests(session: nox.Session) -> None:
    """The whole test suite, on asyncio and trio, against the installed wheel
    (not the source tree), after checking that the wheel finds its SQL files."""
    session.install(".[test]")
    with session.chdir(session.create_tmp()):
        session.run("python", "-c", WHEEL_FINDS_SQL)
    args = session.posargs or ["-n", "auto"]
    session.run("pytest", *args)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff check and ruff format --check."""
    session.install("ruff>=0.8")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy --strict on the package, with every extra (and pytest, which the
    plugin in project_architect_db.testing is written against) installed."""
    session.install(".[fastapi,testing,otel,postgres]", "pytest>=8.3", "mypy>=1.13")
    session.run("mypy", "--strict", "project_architect_db")


@nox.session
def check_sql(session: nox.Session) -> None:
    """`project-architect-db check-sql` on the installed wheel's SQL files: every file
    loads, migrates, prepares, and fits the statements the library runs."""
    session.install(".")
    with session.chdir(session.create_tmp()):
        session.run("project-architect-db", "check-sql")


@nox.session
def bench(session: nox.Session) -> None:
    """Benchmarks beside raw DuckDB and SQLAlchemy's ORM (the bench extra);
    `nox -s bench -- --quick --gate` is the CI-sized run that fails on a ratio
    below half its target, `-- --peers` adds SQLite peers. Results and SVG
    charts go to benchmarks/results/. `-- --postgres URL` also runs them on
    PostgreSQL beside raw psycopg (reported, not gated)."""
    session.install(".[bench,postgres]")
    session.run("python", "benchmarks/run.py", *session.posargs)


@nox.session
def soak(session: nox.Session) -> None:
    """16 tasks of mixed operations on one engine and a DuckDB file, checking memory,
    fds, threads, the pool and the audit trail; `nox -s soak -- --quick` for the
    CI-sized run (about a minute), `-- --backend trio` for trio. Not in CI yet."""
    session.install(".", "trio>=0.27")
    session.run("python", "benchmarks/soak.py", *session.posargs)

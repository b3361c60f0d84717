"""``check-sql``: load, migrate, prepare and hold against the code every SQL file."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ..sqlcheck import check_sql
from .common import add_sql_dir, catalog_of


def register(commands: Any) -> None:
    check = commands.add_parser(
        "check-sql",
        help="check every SQL file: loads, migrates, prepares, and fits the library's calls",
        description="Load every SQL file; apply every migration in order to a fresh in-memory "
        "database; prepare every named query against that schema (parameters bound to NULL, "
        "nothing run); check that every query the library runs exists with the parameters "
        "it passes and an operation (the -- name: suffix) that fits how it runs it; check "
        "that every PostgreSQL twin under postgres/ was reviewed against its DuckDB query's "
        "current text (the sha256 on its twin-of line). Each failure prints "
        "'file:line: query NAME: what is wrong' and DuckDB's message; the exit code is 1 "
        "if there is any.",
    )
    add_sql_dir(check)
    check.set_defaults(handler=_check)


def _check(args: argparse.Namespace) -> int:
    directory = catalog_of(args).directory  # the same checks of --sql-dir as every command
    report = check_sql(directory)
    for failure in report.failures:
        print(failure, file=sys.stderr)
    summary = (
        f"{report.queries} named queries ({report.twins} with a PostgreSQL twin), "
        f"{report.migrations} migrations ({report.postgres_migrations} for PostgreSQL), "
        f"{report.statements} statements the library runs, in {report.directory}"
    )
    if report.ok:
        print(f"check-sql: all fine: {summary}")
        return 0
    print(f"check-sql: {len(report.failures)} problem(s): {summary}", file=sys.stderr)
    return 1

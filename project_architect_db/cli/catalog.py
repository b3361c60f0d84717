"""``queries`` (every named query, one line each), ``show`` (one query as written)
and ``copy-sql`` (the files, to edit and try with ``--sql-dir``)."""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path
from typing import Any

from ..core.sql import NamedQuery, sql_directory
from .common import UsageError, add_sql_dir, catalog_of, find_query
from .tables import print_table


def register(commands: Any) -> None:
    listing = commands.add_parser(
        "queries",
        help="list every named query: name, parameters, operation, file:line, comment",
        description="List every named query of the SQL files with its parameters, its "
        "operation (select, select one, select value, insert returning, execute, script), "
        "where it is written and the first line of its comment.",
    )
    listing.add_argument(
        "--grep",
        metavar="TEXT",
        help="only queries whose name, file or comment contains TEXT (case-insensitive)",
    )
    listing.add_argument("--format", choices=("table", "json"), default="table")
    add_sql_dir(listing)
    listing.set_defaults(handler=_queries)

    show = commands.add_parser(
        "show",
        help="print one query as written in its file, with its comments",
        description="Print one named query exactly as its file has it: the comments above "
        "it, its '-- name:' line and its SQL.",
    )
    show.add_argument("name", help="the query's name (see 'queries')")
    add_sql_dir(show)
    show.set_defaults(handler=_show)

    copy = commands.add_parser(
        "copy-sql",
        help="copy the SQL files into a new directory, to edit and try with --sql-dir",
        description="Copy the installed SQL files (queries, analytics, migrations) into a new "
        "directory: edit them there, then 'check-sql --sql-dir DIR' and "
        "'run NAME --sql-dir DIR ...' try the edits before they ship.",
    )
    copy.add_argument("directory", type=Path, help="the directory to create")
    copy.set_defaults(handler=_copy_sql)


def describe(query: NamedQuery) -> dict[str, Any]:
    """The JSON form of one query in ``queries --format json``."""
    return {
        "name": query.name,
        "parameters": list(query.parameters),
        "operation": query.operation.value,
        "file": query.source,
        "line": query.line,
        "doc": query.doc.splitlines()[0] if query.doc else "",
    }


def _queries(args: argparse.Namespace) -> int:
    catalog = catalog_of(args)
    found = [describe(query) for query in catalog.queries.values()]
    if args.grep:
        needle = args.grep.lower()
        found = [
            item
            for item in found
            if needle in f"{item['name']}\n{item['file']}\n{item['doc']}".lower()
        ]
    found.sort(key=lambda item: (item["file"], item["line"]))
    if args.format == "json":
        print(json.dumps(found, indent=2))
        return 0
    print_table(
        ["name", "parameters", "operation", "file", "comment"],
        [
            [
                item["name"],
                ", ".join(item["parameters"]),
                item["operation"],
                f"{item['file']}:{item['line']}",
                item["doc"],
            ]
            for item in found
        ],
        max_width=60,
    )
    return 0


def _copy_sql(args: argparse.Namespace) -> int:
    target: Path = args.directory
    if target.exists():
        raise UsageError(
            f"{str(target)!r} already exists; give a new directory name (nothing was copied)"
        )
    if not target.parent.is_dir():
        raise UsageError(
            f"directory {str(target.parent)!r} does not exist; create it first (nothing was copied)"
        )
    source = sql_directory()
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
    count = sum(1 for _ in target.rglob("*.sql"))
    print(f"copied {count} SQL files from {source} to {target}")
    return 0


def _show(args: argparse.Namespace) -> int:
    query = find_query(catalog_of(args), args.name)
    print(f"-- {query.location}")
    print(query.text)
    return 0

"""``demo`` (a sample database) and ``import-projects`` (bulk-load a JSON Lines file)."""

from __future__ import annotations

import argparse
import sys
from functools import partial
from pathlib import Path
from typing import Any

import anyio

from ..demo import fresh_database, run_demo
from ..importer import ImportRejected, ProgressBar, import_projects
from .common import UsageError


def register(commands: Any) -> None:
    demo = commands.add_parser(
        "demo",
        help="create a DuckDB file with sample data and print it",
        description="Create a DuckDB file with three sample projects (with conversations, "
        "documents and repositories) and print what was stored. An existing file of that "
        "name is replaced.",
    )
    demo.add_argument(
        "--database", default="demo.duckdb", help="file to create (default: %(default)s)"
    )
    demo.set_defaults(handler=_demo)

    loader = commands.add_parser(
        "import-projects",
        help="bulk-load projects from a JSON Lines file, with a progress bar",
        description="Validate every line of a JSON Lines file (one project object per line), "
        "then load them all in one transaction: all or nothing.",
    )
    loader.add_argument("file", type=Path, help="one project object per line")
    loader.add_argument("--database", required=True, help="the DuckDB file to load into")
    loader.set_defaults(handler=_import_projects)


def _demo(args: argparse.Namespace) -> int:
    anyio.run(run_demo, fresh_database(args.database))
    return 0


def _import_projects(args: argparse.Namespace) -> int:
    source: Path = args.file
    if not source.is_file():
        raise UsageError(f"{str(source)!r} is not a file; give a JSON Lines file of projects")
    try:
        written = anyio.run(partial(import_projects, source, args.database, progress=ProgressBar()))
    except ImportRejected as rejected:
        print(rejected.summary(), file=sys.stderr)
        return 1
    except UnicodeDecodeError:
        raise UsageError(
            f"{str(source)!r} is not UTF-8 text; save it as UTF-8 JSON Lines"
        ) from None
    print(f"imported {written:,} projects into {args.database}")
    return 0

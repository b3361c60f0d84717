"""Command line: ``python -m project_architect_db demo [--database PATH]`` and
``python -m project_architect_db import-projects FILE --database PATH``."""

from __future__ import annotations

import argparse
import sys
from functools import partial
from pathlib import Path

import anyio

from .demo import fresh_database, run_demo
from .errors import ProjectArchitectDBError
from .importer import ProgressBar, import_projects


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m project_architect_db")
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="create a DuckDB file with sample data and print it")
    demo.add_argument(
        "--database", default="demo.duckdb", help="file to create (default: %(default)s)"
    )
    loader = commands.add_parser(
        "import-projects", help="bulk-load projects from a JSON Lines file, with a progress bar"
    )
    loader.add_argument("file", type=Path, help="one project object per line")
    loader.add_argument("--database", required=True, help="the DuckDB file to load into")
    args = parser.parse_args(argv)
    if args.command == "demo":
        anyio.run(run_demo, fresh_database(args.database))
    elif args.command == "import-projects":
        try:
            written = anyio.run(
                partial(import_projects, args.file, args.database, progress=ProgressBar())
            )
        except (OSError, ValueError, ProjectArchitectDBError) as exc:
            # ValueError covers pydantic's ValidationError: nothing was written.
            print(f"import failed, nothing was written: {exc}", file=sys.stderr)
            return 1
        print(f"imported {written:,} projects into {args.database}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

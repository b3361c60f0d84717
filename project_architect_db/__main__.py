"""Command line: ``python -m project_architect_db demo [--database PATH]``."""

from __future__ import annotations

import argparse
import sys

import anyio

from .demo import fresh_database, run_demo


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m project_architect_db")
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="create a DuckDB file with sample data and print it")
    demo.add_argument(
        "--database", default="demo.duckdb", help="file to create (default: %(default)s)"
    )
    args = parser.parse_args(argv)
    if args.command == "demo":
        anyio.run(run_demo, fresh_database(args.database))
    return 0


if __name__ == "__main__":
    sys.exit(main())

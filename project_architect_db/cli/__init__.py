"""The command line: ``project-architect-db`` (also ``python -m project_architect_db``).

Each subcommand lives in a module of this package that adds its parser with
``register(commands)`` and sets ``handler``: a function of the parsed
arguments returning the exit code. Exit codes: 0 success, 2 a usage or
parameter error, 1 a database or SQL error; failures print one paragraph
saying what to do, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from ..errors import ProjectArchitectDBError
from . import catalog, check, loading, report, run, transfer
from .common import CliError

__all__ = ["main"]

PROG = "project-architect-db"

#: The subcommand modules, in the order ``--help`` lists them.
_COMMANDS = (catalog, run, check, transfer, report, loading)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Run, check and chart the library's named SQL; copy, export and "
        "import databases; load data.",
        epilog="Run 'project-architect-db COMMAND --help' for a command's options.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in _COMMANDS:
        module.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.handler(args)
    except CliError as error:
        _fail(args.command, str(error))
        return error.exit_code
    except ProjectArchitectDBError as error:
        _fail(args.command, str(error))
        return 1
    except KeyboardInterrupt:
        _fail(args.command, "interrupted; nothing more was written")
        return 130
    except BrokenPipeError:  # `... | head`: the reader has gone, which is fine
        sys.stderr.close()
        return 0
    return code


def _fail(command: str, message: str) -> None:
    # One paragraph on one line: the terminal wraps it, and grep still finds it.
    text = " ".join(message.split())
    print(f"{PROG} {command}: {text}", file=sys.stderr)

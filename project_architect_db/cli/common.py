"""What every subcommand shares: its two kinds of failure, the SQL directory it
reads, and the checks on paths it is given.

A handler raises ``UsageError`` (exit 2) for arguments or parameters the user
must change, and ``CommandError`` (exit 1) for a database or SQL failure. The
message is one paragraph that says what to do; ``main`` prints it without a
traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

from ..core.config import is_postgres_url, parse_database_url, redact_url
from ..core.sql import Catalog, NamedQuery, load_catalog, sql_directory, use_sql_directory

__all__ = [
    "CliError",
    "CommandError",
    "UsageError",
    "add_sql_dir",
    "catalog_of",
    "database_source",
    "existing_database",
    "find_query",
    "new_file",
    "pending_output",
    "run_library_on",
]


class CliError(Exception):
    """A failure the command line reports as one paragraph and an exit code."""

    exit_code = 1


class UsageError(CliError):
    """The arguments or parameters are wrong: the user must change the command."""

    exit_code = 2


class CommandError(CliError):
    """The database or the SQL failed."""

    exit_code = 1


def add_sql_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--sql-dir",
        type=Path,
        default=None,
        metavar="DIR",
        help="the SQL directory to read (default: the files installed with the library); "
        "point it at an edited checkout's sql/ to try changes before they ship",
    )


def catalog_of(args: argparse.Namespace) -> Catalog:
    """The catalog of ``--sql-dir`` (or the installed files)."""
    directory: Path | None = args.sql_dir
    if directory is None:
        directory = sql_directory()
    elif not directory.is_dir():
        raise UsageError(
            f"--sql-dir {str(directory)!r} is not a directory; give the folder that holds "
            "the .sql files (a checkout's sql/)"
        )
    return load_catalog(directory)


def run_library_on(args: argparse.Namespace) -> None:
    """Make the library itself run its queries from ``--sql-dir`` (for commands
    that work through the repositories, such as ``report``)."""
    if args.sql_dir is None:
        return
    catalog = catalog_of(args)
    if catalog.problems:
        raise CommandError(
            f"the SQL files in {catalog.directory} have {len(catalog.problems)} problem(s), "
            f"the first: {catalog.problems[0]}. Run 'project-architect-db check-sql "
            f"--sql-dir {args.sql_dir}' to see them all"
        )
    use_sql_directory(catalog.directory)


def find_query(catalog: Catalog, name: str) -> NamedQuery:
    """The named query, or a usage error suggesting the closest names."""
    query = catalog.queries.get(name)
    if query is not None:
        return query
    close = difflib.get_close_matches(name, list(catalog.queries), n=3, cutoff=0.6)
    hint = f" Did you mean {', '.join(close)}?" if close else ""
    raise UsageError(
        f"no query named {name!r} in {catalog.directory}.{hint} "
        "List them with 'project-architect-db queries' (add --grep TEXT to narrow)."
    )


def database_source(text: str) -> str | Path:
    """What ``--database`` names: a PostgreSQL URL (checked, kept as text) or an
    existing DuckDB file."""
    if is_postgres_url(text.strip()):
        try:
            return parse_database_url(text)
        except ValueError as exc:
            raise UsageError(f"--database {redact_url(text)!r}: {exc}") from None
    return existing_database(Path(text))


def existing_database(path: Path) -> Path:
    """A database file that must already exist (never create one by reading it)."""
    if path.is_dir():
        raise UsageError(f"--database {str(path)!r} is a directory; give a DuckDB file")
    if not path.exists():
        raise UsageError(
            f"--database {str(path)!r} does not exist; give the path of an existing DuckDB "
            "file (for a running app's data, read a copy the app wrote with "
            "'await engine.snapshot(path)')"
        )
    return path


@contextlib.contextmanager
def pending_output(output: Path | None) -> Iterator[Path | None]:
    """A new empty file beside ``output`` (None for stdout), renamed over it when
    the block succeeds and removed when it fails: a failed run never leaves a
    partial or clobbered output."""
    if output is None:
        yield None
        return
    pending = output.with_name(f".{output.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        pending.touch(exist_ok=False)  # default permissions, as the output will have
        try:
            yield pending
            os.replace(pending, output)
        finally:
            pending.unlink(missing_ok=True)
    except OSError as exc:
        raise CommandError(
            f"cannot write --output {str(output)!r}: {exc.strerror or exc}; nothing was written"
        ) from None


def new_file(path: Path, *, option: str, overwrite: bool, force_flag: str = "--force") -> Path:
    """A file about to be written: its directory exists, it is not a directory,
    and it is only replaced when the user said so."""
    if path.is_dir():
        raise UsageError(f"{option} {str(path)!r} is a directory; give a file name")
    if not path.parent.is_dir():
        raise UsageError(
            f"{option} {str(path)!r}: directory {str(path.parent)!r} does not exist; create it "
            "first"
        )
    if path.exists() and not overwrite:
        raise UsageError(
            f"{option} {str(path)!r} already exists; choose another name or pass {force_flag} "
            "to replace it"
        )
    return path

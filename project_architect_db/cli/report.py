"""``report``: every analytics result of a database as one self-contained HTML file."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import anyio

from ..core.engine import DatabaseEngine
from ..report import build_report
from ..schemas.common import to_utc
from .common import (
    UsageError,
    add_sql_dir,
    database_source,
    new_file,
    pending_output,
    run_library_on,
)

#: What --from, --to and --now accept, for the messages that refuse a value.
_FORMAT = "an ISO date or date-time such as 2026-05-01, 2026-05-01T09:30 or 2026-05-01T09:30+02:00"


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "report",
        help="write every analytics result as one self-contained HTML file with charts",
        description="Open a database read-only, run every analytics query and write one HTML "
        "file: key figures, bar and line charts (inline SVG) each with a table of its "
        "numbers, and lists. The file loads nothing from the network and runs no script.",
    )
    parser.add_argument(
        "--database",
        required=True,
        metavar="PATH_OR_URL",
        help="an existing DuckDB file (opened read-only; never created), or a "
        "postgresql:// URL (read in read-only transactions)",
    )
    parser.add_argument(
        "--output",
        type=Path,
        required=True,
        metavar="FILE",
        help="the HTML file to write, e.g. report.html (its directory must exist)",
    )
    parser.add_argument(
        "--from",
        dest="start",
        metavar="DATE",
        help="only projects created at or after DATE count in the project figures and the "
        "projects-created chart (ISO date or date-time; without a zone, UTC)",
    )
    parser.add_argument("--to", dest="end", metavar="DATE", help="... and before DATE (excluded)")
    parser.add_argument(
        "--now",
        metavar="DATETIME",
        help="the moment repository health and the 30-day activity are measured from "
        "(default: the current time)",
    )
    parser.add_argument("--force", action="store_true", help="replace an existing --output")
    add_sql_dir(parser)
    parser.set_defaults(handler=_report)


def _report(args: argparse.Namespace) -> int:
    database = database_source(args.database)
    output = new_file(args.output, option="--output", overwrite=args.force)
    start, end = parse_moment(args.start, "--from"), parse_moment(args.end, "--to")
    if start is not None and end is not None and start >= end:
        raise UsageError(
            f"--from {args.start} is not before --to {args.end}; the range is [from, to), "
            "so give a --to later than --from"
        )
    now = parse_moment(args.now, "--now") or datetime.now(UTC)
    run_library_on(args)
    page = anyio.run(partial(_render, database, (start, end), now))
    with pending_output(output) as pending:
        assert pending is not None
        pending.write_text(page, encoding="utf-8")
    print(f"wrote {output} ({len(page.encode()):,} bytes)")
    return 0


def parse_moment(text: str | None, option: str) -> datetime | None:
    """An ISO date or date-time in UTC (naive taken as UTC), or None when not given."""
    if text is None:
        return None
    try:
        return to_utc(datetime.fromisoformat(text))
    except ValueError:
        raise UsageError(f"{option} {text!r} is not a date; give {_FORMAT}") from None


async def _render(
    database: str | Path, date_range: tuple[datetime | None, datetime | None], now: datetime
) -> str:
    async with DatabaseEngine(database, read_only=True) as engine, engine.session() as session:
        source = Path(database).name if isinstance(database, Path) else engine.config.label
        return await build_report(session, date_range=date_range, now=now, source=source)

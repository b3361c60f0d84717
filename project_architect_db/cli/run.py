"""``run``: one named query, from the catalog or an analyst's own ``.sql`` file,
against a DuckDB file, with its rows printed or saved.

Everything the user can get wrong (the query, its parameters, the output
path, a statement that would write without ``--write``) is checked before the
database opens, so a refused command has touched nothing. The database opens
read-only unless ``--write``: any number of readers may share a file, and a
read cannot change it by mistake. Parameter values are always bound, never
pasted into the SQL (see ``values.py``); how each type is written out is in
``output.py``.
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
import re
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TextIO

import duckdb

from ..core.sql import Catalog, NamedQuery, Operation, SqlFileError, load_file
from ..errors import Stage, from_duckdb
from .common import (
    CommandError,
    UsageError,
    add_sql_dir,
    catalog_of,
    database_source,
    find_query,
    new_file,
    pending_output,
)
from .output import TEXT_FORMATS, Result, unique_names, write_rows
from .values import PARAM_TYPES, parse_param

__all__ = ["register"]

#: What a catalog query name looks like (aiosql names; '-' reads as '_').
_QUERY_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
#: Statement types that only read: everything else needs --write.
_READS = frozenset({duckdb.StatementType.SELECT, duckdb.StatementType.EXPLAIN})
_CHANGES = frozenset(
    {
        duckdb.StatementType.INSERT,
        duckdb.StatementType.UPDATE,
        duckdb.StatementType.DELETE,
        duckdb.StatementType.MERGE_INTO,
        duckdb.StatementType.COPY,
    }
)
_RETURNING = re.compile(r"\bRETURNING\b", re.IGNORECASE)

_DESCRIPTION = """\
Run one named query and print its rows (or save them with --output).

NAME_OR_FILE is either the name of a query of the SQL catalog (see 'queries'),
or the path of a .sql file you are writing: anything with a '/' or a '.' in it
(mine.sql, ./report, ~/q/top.sql). Such a file uses the library's format: a line
'-- name: my_query' (the parameter list '(a, b)' may be left out) above each
statement, and ':name' placeholders. A file with one query runs it; a file with
several needs --query NAME to pick one.

Parameters are typed from their text: null, true/false, integers, floats,
ISO-8601 dates (2026-05-01) and datetimes (2026-05-01T09:00, '2026-05-01
09:00:00+02:00'; no offset means UTC; all are passed as UTC), anything else is
text. Force a type with NAME:TYPE=VALUE (code:str=007 keeps the zeros), TYPE
one of: {types} (json: checked, then passed as JSON text).
Values are bound, never pasted into the SQL. Every parameter of the query must
be given, each once.

The database opens read-only and is never created. A query with a statement
other than SELECT or EXPLAIN is refused unless --write (then it runs in one
transaction and the rows changed are reported on stderr).

--database may also be a postgresql:// URL: a catalog query then runs its
PostgreSQL text (its twin under sql/postgres/ if it has one), a file's query
runs as written, in one transaction, READ ONLY unless --write.
"""

_EPILOG = """\
examples:
  project-architect-db run project_metrics --database app.duckdb \\
      --param start=2026-01-01 --param end=null --format json
  project-architect-db run ./mine.sql --query busiest --database copy.duckdb \\
      --param code:str=007 --format parquet --output busiest.parquet
  project-architect-db run ./fix.sql --database copy.duckdb --write

JSON output: lists and structs nest, JSON columns are parsed, timestamps are
ISO-8601 with offset (UTC), dates ISO, DECIMAL a string of its exact digits,
UUID text, INTERVAL an ISO-8601 duration (P1DT2H), BLOB base64, NaN/Infinity
strings. CSV: one header line; NULL is an empty field; nested values as JSON.

exit status: 0 done, 2 a usage or parameter error (nothing ran), 1 a SQL or
database error.
"""


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "run",
        help="run a named query (catalog or your .sql file) and print or save its rows",
        description=_DESCRIPTION.format(types=", ".join(PARAM_TYPES)),
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "target",
        metavar="NAME_OR_FILE",
        help="a catalog query name, or the path of a .sql file (has a '/' or a '.')",
    )
    parser.add_argument(
        "--query",
        metavar="NAME",
        help="the query to run from a FILE that holds several named queries",
    )
    parser.add_argument(
        "--database",
        required=True,
        metavar="PATH_OR_URL",
        help="an existing DuckDB file, or a postgresql:// URL (the query's PostgreSQL text "
        "runs, in a READ ONLY transaction unless --write)",
    )
    parser.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME[:TYPE]=VALUE",
        help="a parameter of the query (repeat for each); 'null' for NULL",
    )
    parser.add_argument(
        "--format",
        choices=(*TEXT_FORMATS, "parquet"),
        default="table",
        help="table (aligned, long cells cut; the default), csv, json (a list of row "
        "objects), jsonl (one object per line) or parquet (needs --output)",
    )
    parser.add_argument(
        "--output",
        type=Path,
        metavar="FILE",
        help="write the rows to FILE instead of stdout (its directory must exist)",
    )
    parser.add_argument(
        "--force", action="store_true", help="replace the --output file if it exists"
    )
    parser.add_argument(
        "--limit", type=int, metavar="N", help="at most N rows (N >= 0) of the result"
    )
    parser.add_argument(
        "--write",
        action="store_true",
        help="open the database read-write and allow statements that change it",
    )
    add_sql_dir(parser)
    parser.set_defaults(handler=_run)


@dataclass(frozen=True)
class _Plan:
    """A run that has passed every check that needs no database."""

    query: NamedQuery
    statements: list[duckdb.Statement]
    values: dict[str, Any]
    write: bool
    form: str
    output: Path | None
    #: Rows to keep: --limit, and 1 for a '^' or '$' query (as the library reads it).
    limit: int | None
    #: Keep only the first column (a '$' query: the library reads one value).
    first_column_only: bool
    #: The catalog the query is from (None: an analyst's file): on PostgreSQL
    #: its twin there runs instead.
    catalog: Catalog | None


@dataclass(frozen=True)
class _Outcome:
    """What the statements gave: rows to print (None: none, or already in the Parquet
    file), rows changed (None: no statement said), rows written to Parquet."""

    result: Result | None
    changed: int | None
    written: int | None = None


def _run(args: argparse.Namespace) -> int:
    """Check everything, then run; the output file appears only if all succeeded."""
    plan = _plan(args)
    database = database_source(args.database)
    with pending_output(plan.output) as pending:
        if isinstance(database, str):
            outcome = _execute_on_postgres(database, plan, pending)
        else:
            with _connect(database, read_only=not plan.write) as connection:
                outcome = _execute(connection, plan, pending)
        if outcome.result is not None:
            _emit(outcome.result, plan, pending)
    _report(plan, outcome)
    return 0


def _execute_on_postgres(url: str, plan: _Plan, pending: Path | None) -> _Outcome:
    """The plan on PostgreSQL (cli/postgres_run.py); the rows come back through
    an in-memory DuckDB table, so the output is the same as from a file."""
    from .postgres_run import postgres_text, run_on_postgres

    if plan.catalog is not None:
        texts = [postgres_text(plan.query, plan.catalog)]
    else:
        texts = [statement.query for statement in plan.statements]
    rows, changed = run_on_postgres(
        url,
        texts,
        plan.values,
        write=plan.write,
        limit=plan.limit,
        label=f"{plan.query.name} ({plan.query.location})",
    )
    if rows is None:
        return _Outcome(None, changed)
    try:
        last = duckdb.extract_statements("SELECT * FROM result")[0]
        local = replace(plan, statements=[last], values={}, write=False, limit=None)
        if plan.form == "parquet":
            assert pending is not None
            return _Outcome(None, changed, _parquet(rows, last, local, pending))
        return _Outcome(_rows(rows, last, local), changed)
    finally:
        rows.close()


# -- checks before the database opens ---------------------------------------------


def _plan(args: argparse.Namespace) -> _Plan:
    output = _output_of(args)
    query, catalog = _query_of(args)
    values = _values_of(query, args.param)
    statements = _statements_of(query)
    _check_writes(query, statements, allowed=args.write)
    if output is not None and not _returns_rows(statements[-1]):
        raise UsageError(
            f"query {query.name} returns no rows (its last statement is "
            f"{statements[-1].type.name}), so there is nothing to write to --output; drop it"
        )
    limit: int | None = args.limit
    if query.operation in (Operation.SELECT_ONE, Operation.SELECT_VALUE):
        limit = 1 if limit is None else min(limit, 1)
    return _Plan(
        query=query,
        statements=statements,
        values=values,
        write=args.write,
        form=args.format,
        output=output,
        limit=limit,
        first_column_only=query.operation is Operation.SELECT_VALUE,
        catalog=catalog,
    )


def _output_of(args: argparse.Namespace) -> Path | None:
    """The --output file (checked), after --limit and --format agree with it."""
    if args.limit is not None and args.limit < 0:
        raise UsageError(f"--limit {args.limit}: give 0 or more rows")
    if args.format == "parquet" and args.output is None:
        raise UsageError("--format parquet writes a binary file: give it with --output FILE")
    if args.output is None:
        return None
    return new_file(args.output, option="--output", overwrite=args.force)


def _query_of(args: argparse.Namespace) -> tuple[NamedQuery, Catalog | None]:
    """The query to run, and the catalog it is from (None: an analyst's file)."""
    target: str = args.target
    catalog: Catalog | None = None
    if _QUERY_NAME.fullmatch(target):
        if args.query is not None:
            raise UsageError(
                f"--query picks a query inside a .sql FILE, and {target!r} is a query name; "
                "drop --query, or give the file's path (with a '/' or a '.', e.g. ./FILE)"
            )
        catalog = catalog_of(args)
        query = find_query(catalog, target.replace("-", "_"))
    else:
        query = _query_in_file(Path(target).expanduser(), args.query)
    if query.operation is Operation.EXECUTE_MANY:
        raise UsageError(
            f"query {query.name} ({query.location}) is an execute-many query ('*!'): it runs "
            "once per set of parameters, which the command line cannot give"
        )
    return query, catalog


def _query_in_file(path: Path, wanted: str | None) -> NamedQuery:
    """The query of an analyst's file: the only one, or the one --query names."""
    if path.is_dir():
        raise UsageError(f"{str(path)!r} is a directory; give a .sql file or a query name")
    if not path.exists():
        raise UsageError(
            f"{str(path)!r} does not exist; give the path of a .sql file, or the name of a "
            "catalog query (list them with 'project-architect-db queries')"
        )
    try:
        found = load_file(path, strict=False)
    except SqlFileError as problem:
        raise UsageError(
            f"{problem.location} {problem.problem}. A query file is UTF-8 text with a line "
            "'-- name: query_name' above each statement"
        ) from None
    names = [query.name for query in found]
    if wanted is None:
        if len(found) == 1:
            return found[0]
        raise UsageError(
            f"{str(path)!r} holds {len(found)} queries ({', '.join(names)}); pick one with "
            "--query NAME"
        )
    for query in found:
        if query.name == wanted.replace("-", "_"):
            return query
    close = difflib.get_close_matches(wanted, names, n=3, cutoff=0.6)
    hint = f" Did you mean {', '.join(close)}?" if close else ""
    raise UsageError(
        f"{str(path)!r} has no query named {wanted!r}; it holds {', '.join(names)}.{hint}"
    )


def _values_of(query: NamedQuery, arguments: Sequence[str]) -> dict[str, Any]:
    """The typed --param values: exactly the query's parameters, each once."""
    values: dict[str, Any] = {}
    for argument in arguments:
        name, value = parse_param(argument)
        if name in values:
            raise UsageError(f"--param {name} is given twice; give each parameter once")
        values[name] = value
    unknown = [name for name in values if name not in query.parameters]
    missing = [name for name in query.parameters if name not in values]
    if unknown or missing:
        problems = []
        if missing:
            problems.append(f"missing {', '.join(missing)}")
        if unknown:
            problems.append(f"unknown {', '.join(unknown)}")
        raise UsageError(
            f"query {query.name} ({query.location}) {_takes(query)}; {'; '.join(problems)}. "
            "Give each as --param NAME=VALUE (null for NULL)"
        )
    return values


def _takes(query: NamedQuery) -> str:
    if not query.parameters:
        return "takes no parameters"
    return f"takes parameters {', '.join(query.parameters)}"


def _statements_of(query: NamedQuery) -> list[duckdb.Statement]:
    """The query's statements as DuckDB parses them (a syntax error is a SQL error)."""
    try:
        statements = duckdb.extract_statements(query.sql)
    except duckdb.Error as exc:
        raise CommandError(_sql_failure(query, "is not valid SQL", exc)) from None
    if not statements:
        raise CommandError(f"query {query.name} ({query.location}) holds no SQL statement")
    return statements


def _check_writes(query: NamedQuery, statements: list[duckdb.Statement], *, allowed: bool) -> None:
    writes = sorted({s.type.name for s in statements if s.type not in _READS})
    if writes and not allowed:
        raise UsageError(
            f"query {query.name} ({query.location}) has {', '.join(writes)} statements, which "
            "may change the database (or write files); pass --write to run it read-write"
        )


def _returns_rows(statement: duckdb.Statement) -> bool:
    """Whether the statement has rows to show (a write only with RETURNING)."""
    if statement.type in _READS:
        return True
    kinds = {kind.name for kind in statement.expected_result_type}
    if "QUERY_RESULT" not in kinds:
        return False
    return "CHANGED_ROWS" not in kinds or _RETURNING.search(statement.query) is not None


# -- the database -----------------------------------------------------------------


@contextlib.contextmanager
def _connect(database: Path, *, read_only: bool) -> Iterator[duckdb.DuckDBPyConnection]:
    """The database, read-only unless asked, with timestamps in UTC as the library
    returns them."""
    try:
        connection = duckdb.connect(str(database), read_only=read_only)
    except duckdb.Error as exc:
        # The engine's own words for a file that will not open (errors.DUCKDB_ERRORS).
        failure = from_duckdb(exc, during=Stage.OPEN, database=str(database), read_only=read_only)
        raise CommandError(str(failure)) from None
    try:
        connection.execute("SET GLOBAL TimeZone = 'UTC'")
        yield connection
    finally:
        connection.close()


def _execute(connection: duckdb.DuckDBPyConnection, plan: _Plan, pending: Path | None) -> _Outcome:
    """Every statement of the query; the last one's rows. With --write, in one
    transaction (unless the SQL manages its own), committed only if all succeed."""
    own_transaction = plan.write and not any(
        s.type == duckdb.StatementType.TRANSACTION for s in plan.statements
    )
    try:
        if own_transaction:
            connection.begin()
        changed = [_for_effect(connection, s, plan) for s in plan.statements[:-1]]
        last = plan.statements[-1]
        if not _returns_rows(last):
            outcome = _Outcome(None, _total([*changed, _for_effect(connection, last, plan)]))
        elif plan.form == "parquet":
            assert pending is not None
            outcome = _Outcome(None, _total(changed), _parquet(connection, last, plan, pending))
        else:
            outcome = _Outcome(_rows(connection, last, plan), _total(changed))
        if own_transaction:
            connection.commit()
    except duckdb.Error as exc:
        raise CommandError(_sql_failure(plan.query, "failed", exc)) from None
    return outcome


def _bound(statement: duckdb.Statement, plan: _Plan) -> dict[str, Any] | None:
    """The values of the parameters this statement uses (DuckDB refuses extras)."""
    used = statement.named_parameters
    undeclared = sorted(used - plan.values.keys())
    if undeclared:
        query = plan.query
        raise CommandError(
            f"query {query.name} ({query.location}) uses :{', :'.join(undeclared)} but "
            f"{_takes(query)}; add them to its '-- name:' parameter list"
        )
    return {name: plan.values[name] for name in used} or None


def _for_effect(
    connection: duckdb.DuckDBPyConnection, statement: duckdb.Statement, plan: _Plan
) -> int | None:
    """Run a statement whose rows are not shown; the rows it changed, if it says."""
    cursor = connection.execute(statement.query, _bound(statement, plan))
    if statement.type in _CHANGES and not _returns_rows(statement):
        row = cursor.fetchone()
        return int(row[0]) if row is not None else None
    if cursor.description is not None:
        cursor.fetchall()
    return None


def _total(counts: Sequence[int | None]) -> int | None:
    known = [count for count in counts if count is not None]
    return sum(known) if known else None


def _rows(
    connection: duckdb.DuckDBPyConnection, statement: duckdb.Statement, plan: _Plan
) -> Result:
    cursor = connection.execute(statement.query, _bound(statement, plan))
    description = cursor.description or []
    rows = cursor.fetchall() if plan.limit is None else cursor.fetchmany(plan.limit)
    columns = unique_names(column[0] for column in description)
    types = tuple(column[1] for column in description)
    if plan.first_column_only:
        return Result(columns[:1], types[:1], [row[:1] for row in rows])
    return Result(columns, types, rows)


def _parquet(
    connection: duckdb.DuckDBPyConnection, statement: duckdb.Statement, plan: _Plan, path: Path
) -> int:
    """Write the statement's rows to ``path`` with DuckDB's own Parquet writer (it
    keeps every DuckDB type, intervals and JSON included); the rows written."""
    relation = connection.sql(statement.query, params=_bound(statement, plan))
    if plan.first_column_only:
        relation = relation.select(duckdb.ColumnExpression(relation.columns[0]))
    if plan.limit is not None:
        relation = relation.limit(plan.limit)
    relation.write_parquet(str(path))
    counted = connection.execute("SELECT count(*) FROM read_parquet($path)", {"path": str(path)})
    row = counted.fetchone()
    return int(row[0]) if row is not None else 0


def _sql_failure(query: NamedQuery, what: str, exc: duckdb.Error) -> str:
    hint = ""
    if isinstance(exc, duckdb.ConversionException | duckdb.InvalidInputException):
        hint = (
            " If a --param has the wrong type, force it with NAME:TYPE=VALUE "
            f"({', '.join(PARAM_TYPES)})."
        )
    said = str(exc).strip()
    return f"query {query.name} ({query.location}) {what}. DuckDB said: {said}{hint}"


# -- output -----------------------------------------------------------------------


def _emit(result: Result, plan: _Plan, pending: Path | None) -> None:
    if pending is None:
        write_rows(result, plan.form, sys.stdout)
        return
    with pending.open("w", encoding="utf-8", newline="") as stream:
        write_rows(result, plan.form, stream)


def _report(plan: _Plan, outcome: _Outcome) -> None:
    """What happened, on stderr (stdout holds only the rows)."""
    notes: list[str] = []
    if outcome.changed is not None:
        notes.append(_rows_text(outcome.changed, "changed"))
    if plan.output is not None:
        count = outcome.written if outcome.result is None else len(outcome.result.rows)
        notes.append(f"{_rows_text(count or 0, 'written')} to {plan.output}")
    elif plan.write and outcome.result is not None:
        notes.append(_rows_text(len(outcome.result.rows), "returned"))
    if notes:
        _note(f"{plan.query.name}: {', '.join(notes)}", sys.stderr)


def _rows_text(count: int, what: str) -> str:
    return f"{count} row{'' if count == 1 else 's'} {what}"


def _note(text: str, stream: TextIO) -> None:
    stream.write(text + "\n")

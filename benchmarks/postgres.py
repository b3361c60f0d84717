"""run.py's benchmarks on PostgreSQL: ``python benchmarks/run.py --postgres URL``.

Each benchmark times the library on a PostgreSQL engine beside raw psycopg
doing the same statements by hand, in the same run, and reports the ratio as
run.py does (``harness.compare`` and ``Result``). The raw side is a plain
synchronous psycopg 3 connection in autocommit running the very text the
library runs (``psycopg_sql(postgres_query(statement).sql)``), with the same
writes: a create is the row, its audit entry and its search terms in one
statement (``create_project``), as the library writes it.

Everything happens in scratch databases created beside the database ``URL``
names (``pad_bench_<random>``, and ``..._analytics`` and ``..._bulk`` when
those benchmarks run), always dropped at the end; the data is loaded with
COPY and ``INSERT ... SELECT generate_series`` in seconds. Sizes are run.py's:
100,000 projects; analytics on 50,000 rows with ``--quick``, 1,000,000 without.

The results are reported, never gated: no target applies to them (a target's
baseline is raw DuckDB), so ``--gate`` judges the DuckDB results only.
"""

from __future__ import annotations

import itertools
import json
import random
import secrets
import statistics
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AsyncExitStack
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlsplit, urlunsplit

import anyio
import psycopg
from gate import Judged, judge_all, markdown_table, table
from harness import Result, compare
from psycopg.types.string import TextLoader
from run import BENCHMARKS, RAW_LIST, TASKS, _vocabulary, create_params, project_rows

from project_architect_db import (
    AnalyticsRepository,
    ConversationRepository,
    DatabaseEngine,
    ProjectRepository,
)
from project_architect_db.core import statements as sql
from project_architect_db.core.statements import Statement
from project_architect_db.postgres.catalog import postgres_query
from project_architect_db.postgres.placeholders import psycopg_sql
from project_architect_db.search import index_terms, query_terms

__all__ = ["PG_BENCHMARKS", "add_to_report", "postgres_part", "run_postgres"]

# What the library is divided by on PostgreSQL (``Result.baseline``). No
# target names them, so these results are never judged.
#: The same SQL run by hand on a synchronous psycopg connection of the same database.
RAW_PSYCOPG = "raw psycopg"
#: The plain one-statement query (filter, ORDER BY, LIMIT) run by hand on psycopg.
RAW_PSYCOPG_ONE_STATEMENT = "raw psycopg, one statement"
#: The same statements by hand in 16 threads, each with a psycopg connection of its own.
RAW_PSYCOPG_THREADS = f"raw psycopg, {TASKS} threads"
#: COPY of the same rows into projects by hand (no validation, audit or search terms).
RAW_PSYCOPG_COPY = "raw psycopg COPY"

Connection = psycopg.Connection[tuple[Any, ...]]
Cursor = psycopg.Cursor[tuple[Any, ...]]


def statement_sql(statement: Statement) -> str:
    """The text the library sends psycopg for ``statement`` (named parameters)."""
    return psycopg_sql(postgres_query(statement).sql)


def raw_connection(url: str) -> Connection:
    """A plain psycopg connection for the raw side: autocommit, psycopg's
    defaults otherwise (statements prepared from their fifth run, as on the
    library's connections). Two settings are the library's: UTC, and JSON and
    jsonb read as text, as raw DuckDB gives its JSON in run.py; so both sides
    get the same values, and the raw side does no more work than raw DuckDB's."""
    connection = psycopg.connect(url, autocommit=True, options="-c TimeZone=UTC")
    for json_type in ("json", "jsonb"):
        connection.adapters.register_loader(json_type, TextLoader)
    return connection


def per_call(library: float, raw: float) -> str:
    """What the library adds to (or saves on) each call, from the two rates."""
    return f"{(1 / library - 1 / raw) * 1000:+.3f} ms per call beside raw"


def fetch_all(cursor: Cursor, text: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
    return cursor.execute(text, params).fetchall()


# -- scratch databases -----------------------------------------------------------------


class ScratchDatabases:
    """Databases created beside the one ``url`` names, all dropped by ``drop_all``."""

    def __init__(self, url: str) -> None:
        self.server_url = url
        self.base = f"pad_bench_{secrets.token_hex(4)}"
        self.created: list[str] = []

    def create(self, suffix: str = "") -> str:
        """A new empty database (``<base>_<suffix>``); its URL."""
        name = f"{self.base}_{suffix}" if suffix else self.base
        with psycopg.connect(self.server_url, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        self.created.append(name)
        parts = urlsplit(self.server_url)
        return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, ""))

    def drop_all(self) -> None:
        with psycopg.connect(self.server_url, autocommit=True) as admin:
            while self.created:
                admin.execute(f'DROP DATABASE IF EXISTS "{self.created.pop()}" WITH (FORCE)')


# -- loading ---------------------------------------------------------------------------


def fast_project_rows(count: int, seed: int = 7) -> list[dict[str, object]]:
    """``run.project_rows(count, seed)``, draw for draw, ten times faster: the
    cumulative weights are summed once, not at every ``choices`` call (which
    is all ``choices`` does with plain weights). 100,000 rows take about 2 s
    instead of 22; ``run_postgres`` checks a sample against run.py's rows."""
    rng = random.Random(seed)
    vocabulary = _vocabulary(rng, 3000)
    weights = [1.0 / (rank + 1) for rank in range(len(vocabulary))]
    rng.shuffle(weights)
    cumulative = list(itertools.accumulate(weights))

    def words(n: int) -> str:
        return " ".join(rng.choices(vocabulary, cum_weights=cumulative, k=n))

    statuses = ["draft", "active", "completed", "archived"]
    frameworks = ["FastAPI", "Django", "Litestar", "Starlette", "Flask"]
    return [
        {
            "name": words(rng.randint(2, 4)).title(),
            "description": words(rng.randint(5, 20)) if rng.random() < 0.6 else None,
            "project_idea": words(rng.randint(10, 30)),
            "architecture": {
                "framework": rng.choice(frameworks),
                "complexity_score": rng.randint(1, 10),
            },
            "status": rng.choice(statuses),
        }
        for _ in range(count)
    ]


COPY_PROJECTS = (
    "COPY projects (id, name, description, project_idea, architecture, status, completed_at) "
    "FROM STDIN"
)

# The 'create' audit entries of loaded projects, as the library's bulk load
# (sql/postgres/projects.sql: audit_bulk_insert_projects) writes them.
AUDIT_LOADED_PROJECTS = """
INSERT INTO audit_log (entity, entity_id, action, changes)
SELECT 'project', id, 'create',
       jsonb_build_object('name', name, 'description', description, 'project_idea', project_idea,
                          'architecture', architecture, 'status', status)
FROM projects
ORDER BY id
"""


def load_projects(url: str, rows: Sequence[dict[str, object]]) -> None:
    """The state run.py's ``bulk_create`` leaves (the projects, their audit
    entries and search terms; every created_at the same moment), in one
    transaction by COPY, then ``VACUUM ANALYZE``: about 10 s for 100,000
    projects, where the library's bulk_create takes 20 s on PostgreSQL."""
    fields = ("name", "description", "project_idea")
    completed_at = datetime.now(UTC)
    with raw_connection(url) as connection:
        with connection.transaction(), connection.cursor() as cursor:
            with cursor.copy(COPY_PROJECTS) as copy:
                for id, row in enumerate(rows, 1):
                    copy.write_row(
                        (
                            id,
                            row["name"],
                            row["description"],
                            row["project_idea"],
                            json.dumps(row["architecture"]),
                            row["status"],
                            completed_at if row["status"] == "completed" else None,
                        )
                    )
            cursor.execute("SELECT setval('projects_id_seq', %s)", (len(rows),))
            cursor.execute(AUDIT_LOADED_PROJECTS)
            # Terms are stems of letters and digits: nothing to escape in COPY's text format.
            with cursor.copy(
                "COPY search_terms (entity, entity_id, field, term, tf) FROM STDIN"
            ) as copy:
                lines: list[str] = []
                for id, row in enumerate(rows, 1):
                    texts = {k: cast(str | None, row[k]) for k in fields}
                    names, terms, counts = index_terms(texts)
                    lines.extend(
                        f"project\t{id}\t{name}\t{term}\t{count}\n"
                        for name, term, count in zip(names, terms, counts, strict=True)
                    )
                    if len(lines) > 50_000:
                        copy.write("".join(lines))
                        lines.clear()
                copy.write("".join(lines))
        connection.execute("VACUUM ANALYZE")


# run.py's GENERATE_PROJECTS in PostgreSQL's words: the same rows. ($name
# placeholders, as the library writes them: psycopg_sql doubles the % signs.)
GENERATE_PROJECTS = """
INSERT INTO projects (id, name, description, project_idea, architecture, status,
                      completed_at, created_at)
SELECT i,
       'project ' || i,
       CASE WHEN i % 3 = 0 THEN 'description of project ' || i END,
       'an idea for project number ' || i,
       jsonb_build_object('framework',
                          (ARRAY['FastAPI', 'Django', 'Litestar', 'Starlette', 'Flask'])[1 + i % 5],
                          'complexity_score', 1 + (i * 7) % 10),
       (ARRAY['draft', 'active', 'completed', 'archived'])[1 + (i * 13) % 4],
       CASE WHEN (i * 13) % 4 = 2
            THEN TIMESTAMPTZ '2025-01-01 00:00:00+00'
                 + make_interval(secs => (i * 31) % 31536000 + 86400 * (1 + i % 40))
       END,
       TIMESTAMPTZ '2025-01-01 00:00:00+00' + make_interval(secs => (i * 31) % 31536000)
FROM generate_series(1, $n::bigint) AS t (i)
"""


def generate_projects(url: str, count: int) -> None:
    """The analytics database's projects, generated on the server (as run.py does on DuckDB)."""
    with raw_connection(url) as connection:
        with connection.transaction():
            connection.execute(psycopg_sql(GENERATE_PROJECTS), {"n": count})
            connection.execute("SELECT setval('projects_id_seq', %s)", (count,))
        connection.execute("VACUUM ANALYZE")


# -- the benchmarks ----------------------------------------------------------------------


@dataclass
class Context:
    #: The scratch database of 100,000 projects, and a library engine on it
    #: (pool of 4, batching on: run.py's engine).
    url: str
    engine: DatabaseEngine
    projects: int
    quick: bool
    scratch: ScratchDatabases
    #: The analytics database (projects generated in SQL) and its engine (pool of 2).
    analytics_url: str
    analytics_engine: DatabaseEngine | None
    analytics_rows: int
    append_lengths: tuple[int, ...] = field(default=(0, 1_000, 10_000))


def _rate_line(result: Result) -> str:
    """One result as run.py prints it."""
    return (
        f"{result.name:>16}: library {result.library_per_second:>10,.1f} {result.unit}  "
        f"{result.baseline} {result.baseline_per_second:>10,.1f} {result.unit}  "
        f"ratio {result.ratio:.2f}x  {result.notes}"
    )


async def bench_get_by_id(ctx: Context) -> Result:
    rng = random.Random(1)
    ids = [rng.randint(1, ctx.projects) for _ in range(500)]
    get = statement_sql(sql.PROJECT.get)
    counter = iter(range(10**9))
    with raw_connection(ctx.url) as connection, connection.cursor() as cursor:

        def raw() -> object:
            return fetch_all(cursor, get, {"id": ids[next(counter) % len(ids)]})

        async with ctx.engine.session() as session:
            repo = ProjectRepository(session)
            position = iter(range(10**9))

            async def library() -> object:
                return await repo.get_by_id(ids[next(position) % len(ids)])

            lib, raw_rate = await compare(library, raw, repeat=300 if ctx.quick else 2000)
    return Result(
        "get_by_id",
        "get_by_id",
        "ops/s",
        lib,
        raw_rate,
        RAW_PSYCOPG,
        f"{ctx.projects:,} projects; {per_call(lib, raw_rate)}",
    )


async def bench_list(ctx: Context) -> Result:
    repeat = 100 if ctx.quick else 500
    listing = psycopg_sql(RAW_LIST)
    with raw_connection(ctx.url) as connection, connection.cursor() as cursor:
        async with ctx.engine.session() as session:
            repo = ProjectRepository(session)
            lib, raw_rate = await compare(
                lambda: repo.list(limit=100, status="active", order_by="-created_at"),
                lambda: fetch_all(cursor, listing, {"status": "active"}),
                repeat=repeat,
            )
    return Result(
        "list",
        "list (100 rows, filtered)",
        "ops/s",
        lib,
        raw_rate,
        RAW_PSYCOPG_ONE_STATEMENT,
        f"status filter, newest first, {ctx.projects:,} projects as loaded; "
        "raw = run.py's one SELECT ... ORDER BY ... LIMIT",
    )


async def bench_create(ctx: Context) -> Result:
    rows = project_rows(50, seed=11)
    repeat = 200 if ctx.quick else 1000
    # The library's one-statement write (row, audit entry, search terms:
    # create_project) by hand, with what the library binds for each row.
    create = statement_sql(sql.PROJECT.insert)
    prepared = create_params(rows)
    counter = iter(range(10**9))
    with raw_connection(ctx.url) as connection, connection.cursor() as cursor:

        def raw() -> None:
            cursor.execute(create, prepared[next(counter) % len(prepared)]).fetchall()

        async with ctx.engine.session() as session:
            repo = ProjectRepository(session)
            position = iter(range(10**9))
            lib, raw_rate = await compare(
                lambda: repo.create(rows[next(position) % len(rows)]), raw, repeat=repeat
            )
    return Result(
        "create",
        "create",
        "ops/s",
        lib,
        raw_rate,
        RAW_PSYCOPG,
        f"insert + audit + search terms, one statement; {per_call(lib, raw_rate)}",
    )


async def bench_update(ctx: Context) -> Result:
    repeat = 200 if ctx.quick else 1000
    # The library's read and its one-statement versioned update with its audit
    # entry (update_project), by hand.
    get, update = statement_sql(sql.PROJECT.get), statement_sql(sql.PROJECT.update)
    columns = ("name", "description", "project_idea", "architecture", "status")
    counter = iter(range(10**9))
    with raw_connection(ctx.url) as connection, connection.cursor() as cursor:

        def raw() -> None:
            id = 501 + next(counter) % 500
            cursor.execute(get, {"id": id})
            names = [column.name for column in cursor.description or ()]
            current = dict(zip(names, cursor.fetchall()[0], strict=True))
            params = {c: current[c] for c in columns} | {"status": "active"}
            changes = json.dumps({"status": {"old": current["status"], "new": "active"}})
            cursor.execute(
                update, {"id": id, "version": current["version"], **params, "changes": changes}
            ).fetchall()

        async with ctx.engine.session() as session:
            repo = ProjectRepository(session)
            position = iter(range(10**9))
            lib, raw_rate = await compare(
                lambda: repo.update(1 + next(position) % 500, {"status": "active"}),
                raw,
                repeat=repeat,
            )
    return Result(
        "update",
        "update",
        "ops/s",
        lib,
        raw_rate,
        RAW_PSYCOPG,
        f"read + one versioned UPDATE with its audit entry; {per_call(lib, raw_rate)}",
    )


BEGIN = "BEGIN ISOLATION LEVEL REPEATABLE READ"  # what the library's transactions begin with
COMMIT = "COMMIT"

NEW_CONVERSATION = "INSERT INTO conversations (project_id, title) VALUES (1, %s) RETURNING id"
# run.py's filler messages (alternating user and assistant), written on the server.
FILL_MESSAGES = """
INSERT INTO messages (conversation_id, role, content, created_at)
SELECT $id, CASE WHEN k % 2 = 1 THEN 'assistant' ELSE 'user' END,
       'message ' || k || ' about the design', now()
FROM generate_series(0, $n - 1) AS t (k)
"""


async def bench_append_message(ctx: Context) -> Result:
    """append_message at each of ``ctx.append_lengths`` beside its statements by
    hand (the INSERT of the message and the audit entry naming its position, in
    one transaction); the ratio is at the longest. Each side appends to a
    conversation of its own per length, filled on the server before timing.

    As in run.py, rounds take the lengths in turn, each starting one further
    along, and the sides alternate which goes first, so a busy neighbour (every
    append waits for its commit to reach the disk) does not always hit the
    same length or side; each rate is one over the median call.
    """
    lengths = ctx.append_lengths
    repeat, rounds = (50, 5) if ctx.quick else (100, 5)
    message = {"role": "user", "content": "What should we build next?"}
    append, audit = statement_sql(sql.APPEND_MESSAGE), statement_sql(sql.INSERT_AUDIT_ENTRY)
    times: dict[tuple[str, int], list[float]] = {
        (side, length): [] for side in ("library", "raw") for length in lengths
    }
    clock = time.perf_counter
    with raw_connection(ctx.url) as connection, connection.cursor() as cursor:
        conversations: dict[tuple[str, int], int] = {}
        for side in ("library", "raw"):
            for length in lengths:
                row = cursor.execute(NEW_CONVERSATION, (f"{side} append at {length}",)).fetchone()
                assert row is not None
                cursor.execute(psycopg_sql(FILL_MESSAGES), {"id": row[0], "n": length})
                conversations[side, length] = row[0]
        cursor.execute("ANALYZE messages")

        def raw_append(conversation_id: int) -> None:
            cursor.execute(BEGIN)
            position, role = cursor.execute(
                append,
                {
                    "conversation_id": conversation_id,
                    "role": message["role"],
                    "content": message["content"],
                    "created_at": datetime.now(UTC),
                    "metadata": None,
                },
            ).fetchall()[0][:2]
            changes = json.dumps({"message": {"position": position, "role": role}})
            cursor.execute(
                audit,
                {
                    "entity": "conversation",
                    "entity_id": conversation_id,
                    "action": "update",
                    "changes": changes,
                },
            )
            cursor.execute(COMMIT)

        async with ctx.engine.session() as session:
            talks = ConversationRepository(session)
            for round_number in range(rounds):
                shift = round_number % len(lengths)
                for length in lengths[shift:] + lengths[:shift]:
                    sides = ("library", "raw") if round_number % 2 == 0 else ("raw", "library")
                    for side in sides:
                        talk = conversations[side, length]
                        for _ in range(repeat):
                            started = clock()
                            if side == "library":
                                await talks.append_message(talk, message)
                            else:
                                raw_append(talk)
                            times[side, length].append(clock() - started)
    library_rates = {length: 1 / statistics.median(times["library", length]) for length in lengths}
    raw_rates = {length: 1 / statistics.median(times["raw", length]) for length in lengths}
    longest = max(lengths)

    def ms(rates: dict[int, float]) -> str:
        return ", ".join(f"{length:,}: {1000 / rate:.2f}" for length, rate in rates.items())

    return Result(
        "append_message",
        f"append_message at {longest:,} messages",
        "appends/s",
        library_rates[longest],
        raw_rates[longest],
        RAW_PSYCOPG,
        f"ms per append at N messages, library {ms(library_rates)}; raw {ms(raw_rates)}; "
        f"library at {longest:,} / on empty {library_rates[longest] / library_rates[0]:.2f}x",
        extra={
            **{f"appends/s at {length}": rate for length, rate in library_rates.items()},
            **{f"raw appends/s at {length}": rate for length, rate in raw_rates.items()},
        },
        curve=[(float(length), 1000 / rate) for length, rate in library_rates.items()],
    )


async def bench_add_message(ctx: Context) -> Result:
    """The legacy add_message beside its four statements by hand, in one transaction."""
    repeat = 200 if ctx.quick else 1000
    async with ctx.engine.session() as session:
        talks = ConversationRepository(session)
        lib_talk = await talks.create({"project_id": 1, "title": "benchmark"})
        raw_talk = await talks.create({"project_id": 1, "title": "benchmark raw"})
    message = {"role": "user", "content": "What should we build next?"}
    bump, append, read, audit = (
        statement_sql(statement)
        for statement in (
            sql.BUMP_CONVERSATION_VERSION,
            sql.APPEND_MESSAGE,
            sql.MESSAGES_OF_CONVERSATIONS,
            sql.INSERT_AUDIT_ENTRY,
        )
    )
    with raw_connection(ctx.url) as connection, connection.cursor() as cursor:

        def raw() -> None:
            cursor.execute(BEGIN)
            cursor.execute(bump, {"id": raw_talk.id}).fetchall()
            cursor.execute(
                append,
                {
                    "conversation_id": raw_talk.id,
                    "role": "user",
                    "content": message["content"],
                    "created_at": datetime.now(UTC),
                    "metadata": None,
                },
            ).fetchall()
            cursor.execute(read, {"ids": [raw_talk.id]}).fetchall()
            cursor.execute(
                audit,
                {
                    "entity": "conversation",
                    "entity_id": raw_talk.id,
                    "action": "update",
                    "changes": "{}",
                },
            )
            cursor.execute(COMMIT)

        async with ctx.engine.session() as session:
            talks = ConversationRepository(session)
            lib, raw_rate = await compare(
                lambda: talks.add_message(lib_talk.id, message), raw, repeat=repeat, rounds=3
            )
    return Result(
        "add_message",
        "add_message (legacy)",
        "ops/s",
        lib,
        raw_rate,
        RAW_PSYCOPG,
        f"returns the whole conversation; appends to one ({3 * repeat} messages each)",
    )


# -- 16 at once ---------------------------------------------------------------------------
#
# The library side is run.py's: TASKS asyncio tasks, each call a request with a
# session of its own, on an engine with pool_size=TASKS so that every task can
# hold a connection (the engine runs each call's SQL in a worker thread;
# coalesce_reads and group_commit on, the defaults). The raw side is the
# closest fair equivalent by hand: TASKS threads, each with a psycopg
# connection of its own opened before timing, running the same statements one
# after another. Same driver (sync psycopg, the library's) and the same number
# of server connections and concurrent statements; no pool (a pool's checkout
# would only add to the raw side) and not psycopg's AsyncConnection (another
# code path than the library's). The engine without batching is timed too, for
# scale. Medians of three rounds, the sides alternating.


async def _in_tasks(work: Callable[[int], Coroutine[Any, Any, None]]) -> float:
    """Seconds TASKS tasks take to run ``work(task_index)`` at once."""
    started = time.perf_counter()
    async with anyio.create_task_group() as group:
        for index in range(TASKS):
            group.start_soon(work, index)
    return time.perf_counter() - started


def _in_threads(connections: Sequence[Connection], work: Callable[[Cursor, int], None]) -> float:
    """Seconds TASKS threads take to run ``work(cursor, thread_index)`` at once,
    each on its own connection; timing starts when all of them are ready."""
    ready = threading.Barrier(len(connections) + 1)

    def thread(index: int) -> None:
        with connections[index].cursor() as cursor:
            ready.wait()
            work(cursor, index)

    with ThreadPoolExecutor(len(connections)) as pool:
        futures = [pool.submit(thread, index) for index in range(len(connections))]
        ready.wait()
        started = time.perf_counter()
        for future in futures:
            future.result()
        return time.perf_counter() - started


async def _concurrently(
    ctx: Context,
    library: Callable[[DatabaseEngine, int], Callable[[int], Coroutine[Any, Any, None]]],
    raw: Callable[[int], Callable[[Cursor, int], None]],
    calls: int,
) -> dict[str, float]:
    """Calls per second of the library (batching on and off) and of the raw
    threads; ``library(engine, round)`` and ``raw(round)`` give each round's work."""
    samples: dict[str, list[float]] = {"library": [], "unbatched": [], "raw": []}
    connections = [raw_connection(ctx.url) for _ in range(TASKS)]
    try:
        async with (
            DatabaseEngine(ctx.url, pool_size=TASKS) as engine,
            DatabaseEngine(
                ctx.url, pool_size=TASKS, coalesce_reads=False, group_commit=False
            ) as unbatched,
        ):
            for round_number in range(3):
                samples["library"].append(
                    calls / await _in_tasks(library(engine, round_number * 2))
                )
                seconds = await anyio.to_thread.run_sync(
                    _in_threads, connections, raw(round_number)
                )
                samples["raw"].append(calls / seconds)
                samples["unbatched"].append(
                    calls / await _in_tasks(library(unbatched, round_number * 2 + 1))
                )
    finally:
        for connection in connections:
            connection.close()
    return {name: statistics.median(values) for name, values in samples.items()}


async def bench_concurrent_get(ctx: Context) -> Result:
    per_task = 40 if ctx.quick else 200
    rng = random.Random(3)
    ids = [[rng.randint(1, ctx.projects) for _ in range(per_task)] for _ in range(TASKS)]
    get = statement_sql(sql.PROJECT.get)

    def library(engine: DatabaseEngine, _: int) -> Callable[[int], Coroutine[Any, Any, None]]:
        async def task(index: int) -> None:
            for id in ids[index]:
                async with engine.session() as session:
                    await ProjectRepository(session).get_by_id(id)

        return task

    def raw(_: int) -> Callable[[Cursor, int], None]:
        def thread(cursor: Cursor, index: int) -> None:
            for id in ids[index]:
                cursor.execute(get, {"id": id}).fetchall()

        return thread

    rates = await _concurrently(ctx, library, raw, TASKS * per_task)
    return Result(
        "concurrent_get",
        f"{TASKS} tasks get_by_id (pool {TASKS})",
        "ops/s",
        rates["library"],
        rates["raw"],
        RAW_PSYCOPG_THREADS,
        f"raw = {TASKS} threads, a connection each; without coalescing "
        f"{rates['unbatched']:,.0f} ops/s ({rates['library'] / rates['unbatched']:.2f}x)",
        extra={"without coalescing ops/s": rates["unbatched"]},
    )


async def bench_concurrent_create(ctx: Context) -> Result:
    per_task = 10 if ctx.quick else 40
    calls = TASKS * per_task
    # Fresh rows for every round of every side: 3 rounds x (library, unbatched, raw).
    rows = fast_project_rows(calls * 9, seed=13)
    prepared = create_params(rows)
    create = statement_sql(sql.PROJECT.insert)

    def library(engine: DatabaseEngine, batch: int) -> Callable[[int], Coroutine[Any, Any, None]]:
        start = batch * calls

        async def task(index: int) -> None:
            for k in range(per_task):
                async with engine.session() as session:
                    await ProjectRepository(session).create(rows[start + index * per_task + k])

        return task

    def raw(round_number: int) -> Callable[[Cursor, int], None]:
        start = (6 + round_number) * calls

        def thread(cursor: Cursor, index: int) -> None:
            for k in range(per_task):
                cursor.execute(create, prepared[start + index * per_task + k]).fetchall()

        return thread

    rates = await _concurrently(ctx, library, raw, calls)
    return Result(
        "concurrent_create",
        f"{TASKS} tasks create (pool {TASKS})",
        "ops/s",
        rates["library"],
        rates["raw"],
        RAW_PSYCOPG_THREADS,
        f"raw = {TASKS} threads, a connection each, create_project one after another "
        f"(each commits); without group commit {rates['unbatched']:,.0f} ops/s "
        f"({rates['library'] / rates['unbatched']:.2f}x)",
        extra={"without group commit ops/s": rates["unbatched"]},
    )


# -- bulk writes ----------------------------------------------------------------------------

COPY_NEW_PROJECTS = (
    "COPY projects (name, description, project_idea, architecture, status) FROM STDIN"
)
EMPTY_BULK_DATABASE = "TRUNCATE projects, audit_log, search_terms RESTART IDENTITY CASCADE"


async def bench_bulk_create(ctx: Context) -> Result:
    """The library's bulk_create (validated, audited, indexed for search, one
    transaction) beside a COPY of the same rows by hand (none of those). Each
    side loads into the same emptied database, in rounds whose order alternates;
    medians."""
    count = 10_000 if ctx.quick else 100_000
    rows = fast_project_rows(count, seed=5)
    url = ctx.scratch.create("bulk")
    samples: dict[str, list[float]] = {"library": [], "raw": []}
    async with DatabaseEngine(url) as engine:
        with raw_connection(url) as connection:

            async def library() -> float:
                async with engine.session() as session:
                    started = time.perf_counter()
                    await ProjectRepository(session).bulk_create(rows, returning=False)
                    return count / (time.perf_counter() - started)

            def raw() -> float:
                started = time.perf_counter()
                with (
                    connection.transaction(),
                    connection.cursor() as cursor,
                    cursor.copy(COPY_NEW_PROJECTS) as copy,
                ):
                    for row in rows:
                        copy.write_row(
                            (
                                row["name"],
                                row["description"],
                                row["project_idea"],
                                json.dumps(row["architecture"]),
                                row["status"],
                            )
                        )
                return count / (time.perf_counter() - started)

            for round_number in range(3):
                for side in ("library", "raw") if round_number % 2 == 0 else ("raw", "library"):
                    connection.execute(EMPTY_BULK_DATABASE)
                    rate = await library() if side == "library" else raw()
                    samples[side].append(rate)
    lib, raw_rate = statistics.median(samples["library"]), statistics.median(samples["raw"])
    return Result(
        "bulk_create",
        f"bulk_create ({count:,})",
        "rows/s",
        lib,
        raw_rate,
        RAW_PSYCOPG_COPY,
        "raw = COPY of the same rows into projects, one transaction: no validation, "
        "audit or search index",
    )


RAW_BULK_UPDATE = """
UPDATE projects AS p
SET status = s.status, version = p.version + 1, updated_at = now()
FROM incoming AS s
WHERE p.id = s.id
"""


async def bench_bulk_update(ctx: Context) -> Result:
    count = 2_000 if ctx.quick else 10_000
    ids = random.Random(9).sample(range(1, ctx.projects + 1), count)
    statuses = iter(["active", "archived"] * 100)
    with raw_connection(ctx.url) as connection, connection.cursor() as cursor:

        def raw() -> None:
            # run.py's raw side stages an Arrow table; here a temporary table by COPY.
            status = next(statuses)
            cursor.execute(BEGIN)
            cursor.execute(
                "CREATE TEMPORARY TABLE incoming (id bigint, status text) ON COMMIT DROP"
            )
            with cursor.copy("COPY incoming (id, status) FROM STDIN") as copy:
                for id in ids:
                    copy.write_row((id, status))
            cursor.execute(RAW_BULK_UPDATE)
            cursor.execute(COMMIT)

        async with ctx.engine.session() as session:
            repo = ProjectRepository(session)

            async def library() -> object:
                status = next(statuses)
                return await repo.bulk_update([{"id": id, "status": status} for id in ids])

            lib, raw_rate = await compare(library, raw, repeat=1, rounds=3)
    return Result(
        "bulk_update",
        f"bulk_update ({count:,} status)",
        "rows/s",
        lib * count,
        raw_rate * count,
        RAW_PSYCOPG,
        "raw = COPY into a temporary table and one UPDATE ... FROM: no validation, "
        "version check, completed_at or audit",
    )


# -- search and analytics ------------------------------------------------------------------


async def bench_search(ctx: Context) -> Result:
    rng = random.Random(2)
    vocabulary = sorted(
        {w for row in project_rows(200, seed=7) for w in str(row["name"]).lower().split()}
    )
    queries = [" ".join(rng.sample(vocabulary, rng.randint(1, 3))) for _ in range(50)]
    rank, fetch = statement_sql(sql.RANK_PROJECTS), statement_sql(sql.PROJECT.by_ids)
    stems = [query_terms(q) for q in queries]
    counter = iter(range(10**9))
    with raw_connection(ctx.url) as connection, connection.cursor() as cursor:

        def raw() -> object:
            # The same two statements the library makes: rank ids, then fetch those rows.
            terms = stems[next(counter) % len(stems)]
            ranked = fetch_all(cursor, rank, {"terms": terms, "limit": 20})
            return fetch_all(cursor, fetch, {"ids": [row[0] for row in ranked]})

        async with ctx.engine.session() as session:
            repo = ProjectRepository(session)
            position = iter(range(10**9))

            async def library() -> object:
                return await repo.search_by_name(queries[next(position) % len(queries)])

            lib, raw_rate = await compare(library, raw, repeat=50 if ctx.quick else 200)
            sample = await repo.search_by_name(queries[0])
    return Result(
        "search",
        "search_by_name",
        "queries/s",
        lib,
        raw_rate,
        RAW_PSYCOPG,
        f"{ctx.projects:,} projects, 1-3 word queries, top 20 ({1000 / lib:.1f} ms/query; "
        f"first query found {len(sample)})",
    )


async def _analytics_pair(
    ctx: Context,
    benchmark: str,
    name: str,
    library: Callable[[AnalyticsRepository], Awaitable[object]],
    statement: Statement,
    params: dict[str, Any],
) -> Result:
    assert ctx.analytics_engine is not None
    text = statement_sql(statement)
    with raw_connection(ctx.analytics_url) as connection, connection.cursor() as cursor:
        async with ctx.analytics_engine.session() as session:
            repo = AnalyticsRepository(session)
            lib, raw_rate = await compare(
                lambda: library(repo),
                lambda: fetch_all(cursor, text, params),
                repeat=3 if ctx.quick else 5,
                rounds=5,
            )
    return Result(
        benchmark,
        name,
        "runs/s",
        lib,
        raw_rate,
        RAW_PSYCOPG,
        f"{ctx.analytics_rows:,} projects ({1000 / lib:.0f} ms per call)",
    )


async def bench_project_metrics(ctx: Context) -> Result:
    return await _analytics_pair(
        ctx,
        "project_metrics",
        "project_metrics",
        lambda repo: repo.project_metrics(),
        sql.PROJECT_METRICS,
        {"start": None, "end": None},
    )


async def bench_time_series(ctx: Context) -> Result:
    return await _analytics_pair(
        ctx,
        "time_series",
        "time_series (day)",
        lambda repo: repo.time_series_analysis("projects_created", "day"),
        sql.TIME_SERIES,
        {"metric": "projects_created", "granularity": "day", "start": None, "end": None},
    )


PG_BENCHMARKS: dict[str, Callable[[Context], Awaitable[Result]]] = {
    "get_by_id": bench_get_by_id,
    "list": bench_list,
    "create": bench_create,
    "update": bench_update,
    "append_message": bench_append_message,
    "add_message": bench_add_message,
    "concurrent_get": bench_concurrent_get,
    "concurrent_create": bench_concurrent_create,
    "bulk_create": bench_bulk_create,
    "bulk_update": bench_bulk_update,
    "search": bench_search,
    "project_metrics": bench_project_metrics,
    "time_series": bench_time_series,
}
#: Read only the analytics database.
ANALYTICS = frozenset({"project_metrics", "time_series"})
#: run.py's benchmarks with no PostgreSQL twin, and why.
NOT_ON_POSTGRES = (
    "library against itself with batching or listeners off, not against a raw "
    "driver: no raw psycopg side to compare"
)


def _reason(exc: BaseException) -> str:
    """An exception as one short line."""
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text[:400]}{'...' if len(text) > 400 else ''}"


async def run_postgres(url: str, quick: bool, chosen: Sequence[str]) -> list[Result]:
    """The chosen benchmarks (run.py's names) that have a PostgreSQL version, in
    scratch databases on the server ``url`` names, always dropped at the end.
    A benchmark that fails is reported (printed, with why) and skipped."""
    names = [name for name in chosen if name in PG_BENCHMARKS]
    left_out = [name for name in chosen if name not in PG_BENCHMARKS]
    if left_out:
        print(f"not run on PostgreSQL: {', '.join(left_out)} ({NOT_ON_POSTGRES})", flush=True)
    count = 100_000
    analytics_rows = 50_000 if quick else 1_000_000
    lengths = (0, 1_000, 10_000) if quick else (0, 1_000, 10_000, 100_000)
    scratch = ScratchDatabases(url)
    results: list[Result] = []
    failed: list[tuple[str, str]] = []
    try:
        started = time.perf_counter()
        main_url = scratch.create()
        analytics_url = scratch.create("analytics") if ANALYTICS.intersection(names) else ""
        async with AsyncExitStack() as stack:
            engine = await stack.enter_async_context(DatabaseEngine(main_url, pool_size=4))
            analytics_engine = None
            if analytics_url:
                analytics_engine = await stack.enter_async_context(
                    DatabaseEngine(analytics_url, pool_size=2)
                )
                await anyio.to_thread.run_sync(generate_projects, analytics_url, analytics_rows)
            if set(names) - ANALYTICS:
                # The same rows run.py loads, checked on a sample against its generator.
                if fast_project_rows(50) != project_rows(50):
                    raise RuntimeError("fast_project_rows no longer gives run.project_rows's rows")
                rows = await anyio.to_thread.run_sync(fast_project_rows, count)
                await anyio.to_thread.run_sync(load_projects, main_url, rows)
                del rows
            print(
                f"PostgreSQL: loaded {scratch.base} in {time.perf_counter() - started:.1f} s",
                flush=True,
            )
            ctx = Context(
                main_url,
                engine,
                count,
                quick,
                scratch,
                analytics_url,
                analytics_engine,
                analytics_rows,
                lengths,
            )
            for name in names:
                try:
                    result = await PG_BENCHMARKS[name](ctx)
                except Exception as exc:
                    failed.append((name, _reason(exc)))
                    print(f"{name:>16}: could not run on PostgreSQL: {_reason(exc)}", flush=True)
                    continue
                print(_rate_line(result), flush=True)
                results.append(result)
    finally:
        scratch.drop_all()
    if failed:
        print(f"PostgreSQL: {len(failed)} benchmark(s) could not run:", flush=True)
        for name, reason in failed:
            print(f"  {name}: {reason}", flush=True)
    return results


# -- what run.py calls -----------------------------------------------------------------------


def server_version(url: str) -> str:
    with psycopg.connect(url, autocommit=True) as connection:
        row = connection.execute("SHOW server_version").fetchone()
    return f"PostgreSQL {row[0] if row else '?'}"


def side_by_side(duckdb: Sequence[Result], postgresql: Sequence[Result]) -> list[str]:
    """For each benchmark run on both, the library's rate on each beside each baseline."""
    by_name = {result.benchmark: result for result in duckdb}
    lines = []
    for pg in postgresql:
        duck = by_name.get(pg.benchmark)
        if duck is None:
            continue
        lines.append(
            f"{pg.benchmark:>17}: duckdb {duck.library_per_second:,.1f} {duck.unit}, "
            f"postgresql {pg.library_per_second:,.1f} {pg.unit} | "
            f"{duck.baseline}: {duck.baseline_per_second:,.1f}; "
            f"{pg.baseline}: {pg.baseline_per_second:,.1f}"
        )
    return lines


def postgres_part(
    url: str, quick: bool, chosen: Sequence[str], duckdb: Sequence[Result]
) -> tuple[list[Judged], str]:
    """Run the PostgreSQL benchmarks and print their table and the side-by-side
    lines; their results (judged against no target: never failing) and the
    server's version. A server that cannot be reached is reported, not raised:
    the DuckDB results are still written and gated."""
    try:
        version = server_version(url)
    except psycopg.Error as exc:
        print(f"\nPostgreSQL benchmarks could not run: {_reason(exc)}", flush=True)
        return [], f"no PostgreSQL results: the server could not be reached ({_reason(exc)})"
    print(f"\nPostgreSQL benchmarks on {version}", flush=True)
    started = time.perf_counter()
    results = anyio.run(run_postgres, url, quick, chosen)
    seconds = time.perf_counter() - started
    judged = judge_all(results, {})
    print(f"\nPostgreSQL (library vs raw psycopg), {seconds:.0f} s")
    print(table(judged))
    lines = side_by_side(duckdb, results)
    if lines:
        print("\nThe library on DuckDB and on PostgreSQL (and each baseline):")
        print("\n".join(lines))
    return judged, version


def add_to_report(json_path: Path, md_path: Path, judged: Sequence[Judged], version: str) -> None:
    """Add the PostgreSQL results to report.py's results.json (key
    ``postgresql``) and results.md (a section of their own)."""
    data = json.loads(json_path.read_text())
    data["postgresql"] = {
        "server": version,
        "results": [
            {
                **asdict(j.result),
                "ratio": j.result.ratio,
                "target": None,
                "verdict": j.verdict.value,
            }
            for j in judged
        ],
    }
    json_path.write_text(json.dumps(data, indent=2))
    lines = [
        "",
        "## PostgreSQL (library vs raw psycopg)",
        "",
        f"{version}, in scratch databases on the server --postgres names. Reported, "
        "not gated: raw psycopg runs the same SQL text by hand on a sync connection.",
        "",
        *markdown_table(judged),
    ]
    md_path.write_text(md_path.read_text() + "\n".join(lines) + "\n")


# BENCHMARKS is run.py's table: every PostgreSQL benchmark answers to one of its names.
assert set(PG_BENCHMARKS) <= set(BENCHMARKS)

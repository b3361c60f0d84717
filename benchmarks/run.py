"""Run the benchmarks: ``python benchmarks/run.py [--quick] [--gate] [--peers] [--only NAME ...]``.

Each benchmark times the library beside a baseline in the same run (mostly raw
DuckDB doing the same statements by hand) and reports the ratio; targets.py
says what each ratio must reach. Prints the table with a verdict per benchmark
and writes ``benchmarks/results/``: ``results.json``, ``results.md`` and SVG
charts. ``--gate`` exits 1 when any ratio is below half its target (a gross
regression, not noise). ``--quick`` uses smaller sizes, for CI (about five
minutes on 2 cores). ``--peers`` adds SQLite-based peers side by side.

bulk_create and ``--peers`` need the ``bench`` extra (``pip install '.[bench]'``).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import anyio
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parent))

from charts import write_charts
from gate import failure_line, failures, judge_all, table
from harness import (
    EMPTY_CONVERSATION,
    RAW_DUCKDB,
    RAW_ONE_STATEMENT,
    SQLALCHEMY_ORM,
    UNBATCHED,
    UNLISTENED,
    PeerResult,
    Result,
    compare,
    compare_many,
    fetch_all,
)
from report import write_report

from project_architect_db import (
    AnalyticsRepository,
    BatchStats,
    ConversationRepository,
    DatabaseEngine,
    ProjectRepository,
    Session,
)
from project_architect_db.core.sql import get_query
from project_architect_db.search import index_terms, query_terms

RESULTS = Path(__file__).resolve().parent / "results"


TECH = (
    "api gateway service mesh kafka stream event sourcing ledger billing invoice payment "
    "architecture microservice monolith cache redis postgres duckdb analytics dashboard "
    "pipeline deployment kubernetes container observability tracing logging search index "
    "machine learning model training inference recommendation checkout cart inventory "
    "warehouse shipping notification email mobile frontend backend graphql websocket"
).split()


def _vocabulary(rng: random.Random, size: int) -> list[str]:
    letters = "abcdefghijklmnopqrstuvwxyz"
    words = {"".join(rng.choice(letters) for _ in range(rng.randint(4, 10))) for _ in range(size)}
    return sorted(words) + TECH


def project_rows(count: int, seed: int = 7) -> list[dict[str, object]]:
    """Synthetic projects with realistic text: a Zipf-like mix of common
    technical words and a long tail of rarer ones."""
    rng = random.Random(seed)
    vocabulary = _vocabulary(rng, 3000)
    weights = [1.0 / (rank + 1) for rank in range(len(vocabulary))]
    rng.shuffle(weights)

    def words(n: int) -> str:
        return " ".join(rng.choices(vocabulary, weights, k=n))

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


@dataclass
class Context:
    engine: DatabaseEngine
    projects: int
    quick: bool
    analytics_engine: DatabaseEngine
    analytics_rows: int
    #: The same database through an engine with coalesce_reads and group_commit
    #: off: the previous release's path, for the load benchmarks' "before".
    unbatched: DatabaseEngine
    #: Conversation lengths append_message is timed at; the longest is gated.
    append_lengths: tuple[int, ...] = field(default=(0, 1_000, 10_000))


async def bench_get_by_id(ctx: Context) -> Result:
    rng = random.Random(1)
    ids = [rng.randint(1, ctx.projects) for _ in range(500)]
    sql = get_query("get_project").sql
    raw_connection = ctx.engine._root.cursor()  # type: ignore[union-attr]
    counter = iter(range(10**9))

    def raw() -> object:
        return fetch_all(raw_connection, sql, {"id": ids[next(counter) % len(ids)]})

    async with ctx.engine.session() as session:
        repo = ProjectRepository(session)
        position = iter(range(10**9))

        async def library() -> object:
            return await repo.get_by_id(ids[next(position) % len(ids)])

        lib, raw_rate = await compare(library, raw, repeat=300 if ctx.quick else 2000)
    raw_connection.close()
    return Result(
        "get_by_id", "get_by_id", "ops/s", lib, raw_rate, RAW_DUCKDB, f"{ctx.projects:,} projects"
    )


async def bench_search(ctx: Context) -> Result:
    rng = random.Random(2)
    vocabulary = sorted(
        {w for row in project_rows(200, seed=7) for w in str(row["name"]).lower().split()}
    )
    queries = [" ".join(rng.sample(vocabulary, rng.randint(1, 3))) for _ in range(50)]
    rank_sql = get_query("rank_projects").sql
    fetch_sql = get_query("projects_by_ids").sql
    stems = [query_terms(q) for q in queries]
    raw_connection = ctx.engine._root.cursor()  # type: ignore[union-attr]
    counter = iter(range(10**9))

    def raw() -> object:
        # The same two statements the library makes: rank ids, then fetch those rows.
        terms = stems[next(counter) % len(stems)]
        ranked = fetch_all(raw_connection, rank_sql, {"terms": terms, "limit": 20})
        return fetch_all(raw_connection, fetch_sql, {"ids": [row[0] for row in ranked]})

    async with ctx.engine.session() as session:
        repo = ProjectRepository(session)
        position = iter(range(10**9))

        async def library() -> object:
            return await repo.search_by_name(queries[next(position) % len(queries)])

        lib, raw_rate = await compare(library, raw, repeat=50 if ctx.quick else 200)
        sample = await repo.search_by_name(queries[0])
    raw_connection.close()
    return Result(
        "search",
        "search_by_name",
        "queries/s",
        lib,
        raw_rate,
        RAW_DUCKDB,
        f"{ctx.projects:,} projects, 1-3 word queries, top 20 ({1000 / lib:.1f} ms/query; "
        f"first query found {len(sample)})",
    )


GENERATE_PROJECTS = """
INSERT INTO projects (id, name, description, project_idea, architecture, status,
                      completed_at, created_at)
SELECT i,
       'project ' || i,
       CASE WHEN i % 3 = 0 THEN 'description of project ' || i END,
       'an idea for project number ' || i,
       json_object('framework', ['FastAPI', 'Django', 'Litestar', 'Starlette', 'Flask'][1 + i % 5],
                   'complexity_score', 1 + (i * 7) % 10),
       ['draft', 'active', 'completed', 'archived'][1 + (i * 13) % 4],
       CASE WHEN (i * 13) % 4 = 2
            THEN TIMESTAMPTZ '2025-01-01 00:00:00+00' + to_seconds((i * 31) % 31536000 + 86400 * (1 + i % 40))
       END,
       TIMESTAMPTZ '2025-01-01 00:00:00+00' + to_seconds((i * 31) % 31536000)
FROM range(1, $n + 1) AS t (i)
"""


async def _analytics_pair(
    ctx: Context,
    benchmark: str,
    name: str,
    library: Callable[[AnalyticsRepository], Awaitable[object]],
    sql: str,
    params: dict[str, object],
) -> Result:
    repeat = 3 if ctx.quick else 5
    raw_connection = ctx.analytics_engine._root.cursor()  # type: ignore[union-attr]
    async with ctx.analytics_engine.session() as session:
        repo = AnalyticsRepository(session)
        lib, raw_rate = await compare(
            lambda: library(repo),
            lambda: fetch_all(raw_connection, sql, params),
            repeat=repeat,
            rounds=5,
        )
    raw_connection.close()
    return Result(
        benchmark,
        name,
        "runs/s",
        lib,
        raw_rate,
        RAW_DUCKDB,
        f"{ctx.analytics_rows:,} projects ({1000 / lib:.0f} ms per call)",
    )


async def bench_project_metrics(ctx: Context) -> Result:
    return await _analytics_pair(
        ctx,
        "project_metrics",
        "project_metrics",
        lambda repo: repo.project_metrics(),
        get_query("project_metrics").sql,
        {"start": None, "end": None},
    )


async def bench_time_series(ctx: Context) -> Result:
    return await _analytics_pair(
        ctx,
        "time_series",
        "time_series (day)",
        lambda repo: repo.time_series_analysis("projects_created", "day"),
        get_query("time_series").sql,
        {"metric": "projects_created", "granularity": "day", "start": None, "end": None},
    )


def create_params(rows: Sequence[dict[str, object]]) -> list[dict[str, object]]:
    """What create_project binds for each row: the raw side of create benchmarks."""
    prepared = []
    for row in rows:
        params = {
            "name": row["name"],
            "description": row["description"],
            "project_idea": row["project_idea"],
            "architecture": json.dumps(row["architecture"]),
            "status": row["status"],
        }
        texts = {k: row[k] for k in ("name", "description", "project_idea")}
        fields, terms, counts = index_terms(texts)  # type: ignore[arg-type]
        prepared.append(
            {
                **params,
                "changes": json.dumps(params),
                "fields": fields,
                "terms": terms,
                "counts": counts,
            }
        )
    return prepared


async def bench_create(ctx: Context) -> Result:
    rows = project_rows(50, seed=11)
    repeat = 200 if ctx.quick else 1000
    # The baseline runs the library's own one-statement write (row, audit entry
    # and search terms: create_project) by hand, so the ratio is the library's
    # overhead, not a difference of SQL.
    create = get_query("create_project").sql
    prepared = create_params(rows)
    raw_connection = ctx.engine._root.cursor()  # type: ignore[union-attr]
    counter = iter(range(10**9))

    def raw() -> None:
        raw_connection.execute(create, prepared[next(counter) % len(prepared)]).fetchall()

    async with ctx.engine.session() as session:
        repo = ProjectRepository(session)
        position = iter(range(10**9))
        lib, raw_rate = await compare(
            lambda: repo.create(rows[next(position) % len(rows)]), raw, repeat=repeat
        )
    raw_connection.close()
    return Result(
        "create",
        "create",
        "ops/s",
        lib,
        raw_rate,
        RAW_DUCKDB,
        "insert + audit + search terms, one statement",
    )


async def bench_update(ctx: Context) -> Result:
    repeat = 200 if ctx.quick else 1000
    # The library's read and its one-statement versioned update with its audit
    # entry (update_project), by hand: the ratio is the library's overhead.
    get, update = (get_query(n).sql for n in ("get_project", "update_project"))
    raw_connection = ctx.engine._root.cursor()  # type: ignore[union-attr]
    counter = iter(range(10**9))
    columns = ("name", "description", "project_idea", "architecture", "status")

    def raw() -> None:
        id = 501 + next(counter) % 500
        cursor = raw_connection.execute(get, {"id": id})
        names = [d[0] for d in cursor.description or ()]
        current = dict(zip(names, cursor.fetchall()[0], strict=True))
        params = {c: current[c] for c in columns} | {"status": "active"}
        changes = json.dumps({"status": {"old": current["status"], "new": "active"}})
        raw_connection.execute(
            update, {"id": id, "version": current["version"], **params, "changes": changes}
        ).fetchall()

    async with ctx.engine.session() as session:
        repo = ProjectRepository(session)
        position = iter(range(10**9))
        lib, raw_rate = await compare(
            lambda: repo.update(1 + next(position) % 500, {"status": "active"}), raw, repeat=repeat
        )
    raw_connection.close()
    return Result(
        "update",
        "update",
        "ops/s",
        lib,
        raw_rate,
        RAW_DUCKDB,
        "read + one versioned UPDATE with its audit entry",
    )


# Fixed baseline for list: the plain statement a developer would write by hand,
# with the library's order (newest first, ties by id). Not taken from the
# library's query builder, so the baseline stays put when the library changes
# how it lists.
RAW_LIST = """
SELECT * FROM projects
WHERE deleted_at IS NULL AND status = $status
ORDER BY created_at DESC NULLS LAST, id
LIMIT 100
"""


async def bench_list(ctx: Context) -> Result:
    repeat = 100 if ctx.quick else 500
    raw_connection = ctx.engine._root.cursor()  # type: ignore[union-attr]
    async with ctx.engine.session() as session:
        repo = ProjectRepository(session)
        lib, raw_rate = await compare(
            lambda: repo.list(limit=100, status="active", order_by="-created_at"),
            lambda: fetch_all(raw_connection, RAW_LIST, {"status": "active"}),
            repeat=repeat,
        )
    raw_connection.close()
    return Result(
        "list",
        "list (100 rows, filtered)",
        "ops/s",
        lib,
        raw_rate,
        RAW_ONE_STATEMENT,
        "status filter, newest first, 100,000 projects as loaded; "
        "raw = one SELECT ... ORDER BY ... LIMIT on a connection with DuckDB's defaults",
    )


def _filler(count: int) -> list[dict[str, str]]:
    """``count`` short messages, alternating user and assistant."""
    return [
        {"role": "assistant" if k % 2 else "user", "content": f"message {k} about the design"}
        for k in range(count)
    ]


async def bench_append_message(ctx: Context) -> Result:
    """append_message at each of ``ctx.append_lengths``; the ratio is the rate
    at the longest over the rate on an empty conversation (O(1) appends: 1.0).

    One conversation per length, filled with bulk_create before timing starts;
    rounds take the lengths in turn, each starting one further along, so a busy
    neighbour does not always hit the same one. Each conversation grows by the
    appends timed (``rounds * repeat``, 250 in the quick run): small beside the
    lengths that matter, and nothing at all if appends cost the same at any length.
    """
    lengths = ctx.append_lengths
    repeat, rounds = (50, 5) if ctx.quick else (100, 5)
    filler = _filler(max(lengths))
    message = {"role": "user", "content": "What should we build next?"}
    samples: dict[int, list[float]] = {length: [] for length in lengths}
    async with ctx.engine.session() as session:
        talks = ConversationRepository(session)
        conversations = {}
        for length in lengths:
            [talk] = await talks.bulk_create(
                [{"project_id": 1, "title": f"append at {length}", "messages": filler[:length]}]
            )
            conversations[length] = talk.id
        for round_number in range(rounds):
            shift = round_number % len(lengths)
            for length in lengths[shift:] + lengths[:shift]:
                started = time.perf_counter()
                for _ in range(repeat):
                    await talks.append_message(conversations[length], message)
                samples[length].append(repeat / (time.perf_counter() - started))
    rates = {length: statistics.median(samples[length]) for length in lengths}
    longest = max(lengths)
    return Result(
        "append_message",
        f"append_message at {longest:,} messages",
        "appends/s",
        rates[longest],
        rates[0],
        EMPTY_CONVERSATION,
        "ms per append at "
        + ", ".join(f"{length:,}: {1000 / rate:.2f}" for length, rate in rates.items())
        + " messages",
        extra={f"appends/s at {length}": rate for length, rate in rates.items()},
        curve=[(float(length), 1000 / rate) for length, rate in rates.items()],
    )


async def bench_add_message(ctx: Context) -> Result:
    """The legacy add_message (bumps the version, reads the whole conversation
    back), beside the same four statements by hand."""
    repeat = 200 if ctx.quick else 1000
    async with ctx.engine.session() as session:
        talks = ConversationRepository(session)
        lib_talk = await talks.create({"project_id": 1, "title": "benchmark"})
        raw_talk = await talks.create({"project_id": 1, "title": "benchmark raw"})
        message = {"role": "user", "content": "What should we build next?"}
    bump, append, read, audit = (
        get_query(name).sql
        for name in (
            "bump_conversation_version",
            "append_message",
            "messages_of_conversations",
            "insert_audit_entry",
        )
    )
    raw_connection = ctx.engine._root.cursor()  # type: ignore[union-attr]

    def raw() -> None:
        raw_connection.begin()
        raw_connection.execute(bump, {"id": raw_talk.id}).fetchall()
        raw_connection.execute(
            append,
            {
                "conversation_id": raw_talk.id,
                "role": "user",
                "content": message["content"],
                "created_at": datetime.now(UTC),
                "metadata": None,
            },
        ).fetchall()
        raw_connection.execute(read, {"ids": [raw_talk.id]}).fetchall()
        raw_connection.execute(
            audit,
            {
                "entity": "conversation",
                "entity_id": raw_talk.id,
                "action": "update",
                "changes": "{}",
            },
        )
        raw_connection.commit()

    async with ctx.engine.session() as session:
        talks = ConversationRepository(session)
        lib, raw_rate = await compare(
            lambda: talks.add_message(lib_talk.id, message), raw, repeat=repeat, rounds=3
        )
    raw_connection.close()
    return Result(
        "add_message",
        "add_message (legacy)",
        "ops/s",
        lib,
        raw_rate,
        RAW_DUCKDB,
        f"returns the whole conversation; appends to one ({3 * repeat} messages each)",
    )


#: Concurrent tasks of the load benchmarks: a web app's normal load.
TASKS = 16


async def _in_tasks(work: Callable[[int], Awaitable[None]], tasks: int = TASKS) -> float:
    """Seconds ``tasks`` tasks take to run ``work(task_index)`` at once."""
    started = time.perf_counter()
    async with anyio.create_task_group() as group:
        for index in range(tasks):
            group.start_soon(work, index)
    return time.perf_counter() - started


def _since(before: BatchStats, after: BatchStats) -> BatchStats:
    """The batching of one benchmark: the engine's counters since ``before``."""
    return BatchStats(
        batches=after.batches - before.batches,
        calls=after.calls - before.calls,
        max_size=after.max_size,
        waits=after.waits - before.waits,
        wait_seconds=after.wait_seconds - before.wait_seconds,
        retried=after.retried - before.retried,
    )


def _rounds(samples: dict[str, list[float]]) -> dict[str, float]:
    return {name: statistics.median(values) for name, values in samples.items()}


async def bench_concurrent_get(ctx: Context) -> Result:
    """16 tasks, each a request: a session of its own and one get_by_id, on a
    pool of 4 (plus the default overflow). Coalesced reads against one raw
    connection doing the same lookups one by one; the same tasks without
    coalescing for scale."""
    per_task = 40 if ctx.quick else 200
    rng = random.Random(3)
    ids = [[rng.randint(1, ctx.projects) for _ in range(per_task)] for _ in range(TASKS)]
    calls = TASKS * per_task
    sql = get_query("get_project").sql
    raw_connection = ctx.engine._root.cursor()  # type: ignore[union-attr]

    def requests(engine: DatabaseEngine) -> Callable[[int], Awaitable[None]]:
        async def task(index: int) -> None:
            for id in ids[index]:
                async with engine.session() as session:
                    await ProjectRepository(session).get_by_id(id)

        return task

    samples: dict[str, list[float]] = {"library": [], "unbatched": [], "raw": []}
    before = ctx.engine.stats().coalesced_reads
    for _ in range(3):
        samples["library"].append(calls / await _in_tasks(requests(ctx.engine)))
        samples["unbatched"].append(calls / await _in_tasks(requests(ctx.unbatched)))
        started = time.perf_counter()
        for task_ids in ids:
            for id in task_ids:
                fetch_all(raw_connection, sql, {"id": id})
        samples["raw"].append(calls / (time.perf_counter() - started))
    raw_connection.close()
    rates = _rounds(samples)
    batches = _since(before, ctx.engine.stats().coalesced_reads)
    return Result(
        "concurrent_get",
        f"{TASKS} tasks get_by_id (pool 4)",
        "ops/s",
        rates["library"],
        rates["raw"],
        RAW_DUCKDB,
        f"raw = one connection, one lookup after another; without coalescing "
        f"{rates['unbatched']:,.0f} ops/s ({rates['library'] / rates['unbatched']:.2f}x); "
        f"mean batch {batches.mean_size:.1f}, max {batches.max_size}",
        extra={"without coalescing ops/s": rates["unbatched"], "mean batch": batches.mean_size},
    )


async def bench_concurrent_create(ctx: Context) -> Result:
    """16 tasks creating projects (row, audit entry, search terms), each call a
    request with its own session. Group commit against one raw connection doing
    the same one-statement inserts one by one, each committing; the same tasks
    without group commit for scale."""
    per_task = 10 if ctx.quick else 40
    rows = project_rows(TASKS * per_task * 3, seed=13)
    prepared = create_params(rows)
    create = get_query("create_project").sql
    calls = TASKS * per_task
    raw_connection = ctx.engine._root.cursor()  # type: ignore[union-attr]

    def requests(engine: DatabaseEngine, start: int) -> Callable[[int], Awaitable[None]]:
        """Each task creates its own ``per_task`` rows from ``rows[start:]``."""

        async def task(index: int) -> None:
            for k in range(per_task):
                async with engine.session() as session:
                    await ProjectRepository(session).create(rows[start + index * per_task + k])

        return task

    samples: dict[str, list[float]] = {"library": [], "unbatched": [], "raw": []}
    before = ctx.engine.stats().group_commits
    for round_number in range(3):
        samples["library"].append(calls / await _in_tasks(requests(ctx.engine, 0)))
        samples["unbatched"].append(calls / await _in_tasks(requests(ctx.unbatched, calls)))
        started = time.perf_counter()
        for params in prepared[round_number * calls : (round_number + 1) * calls]:
            raw_connection.execute(create, params).fetchall()
        samples["raw"].append(calls / (time.perf_counter() - started))
    raw_connection.close()
    rates = _rounds(samples)
    groups = _since(before, ctx.engine.stats().group_commits)
    return Result(
        "concurrent_create",
        f"{TASKS} tasks create",
        "ops/s",
        rates["library"],
        rates["raw"],
        RAW_DUCKDB,
        f"raw = one connection, create_project one after another (each commits); without "
        f"group commit {rates['unbatched']:,.0f} ops/s "
        f"({rates['library'] / rates['unbatched']:.2f}x); mean group {groups.mean_size:.1f}, "
        f"max {groups.max_size}",
        extra={"without group commit ops/s": rates["unbatched"], "mean group": groups.mean_size},
    )


async def _lone(ctx: Context, name: str, call: Callable[[Session], Awaitable[object]]) -> Result:
    """One task alone, batching on against the same call with it off (the
    previous release's path): a lone call must not pay for a queue it never meets."""
    repeat = 40 if ctx.quick else 200
    async with ctx.engine.session() as on, ctx.unbatched.session() as off:
        rates = await compare_many({"on": lambda: call(on), "off": lambda: call(off)}, repeat, 9)
    return Result(
        f"lone_{name}",
        f"1 task {name}",
        "ops/s",
        rates["on"],
        rates["off"],
        UNBATCHED,
        "the same call, on an engine with coalesce_reads and group_commit off",
    )


async def bench_lone_get_by_id(ctx: Context) -> Result:
    position = iter(range(10**9))
    return await _lone(
        ctx,
        "get_by_id",
        lambda session: ProjectRepository(session).get_by_id(1 + next(position) % ctx.projects),
    )


async def bench_lone_create(ctx: Context) -> Result:
    rows = project_rows(50, seed=17)
    position = iter(range(10**9))
    return await _lone(
        ctx, "create", lambda session: ProjectRepository(session).create(rows[next(position) % 50])
    )


async def bench_listened_get_by_id(ctx: Context) -> Result:
    """One task's get_by_id on an engine with one (empty) query listener against
    the same call on the engine without: what hearing of every statement costs.
    (With nothing listening the cost is in every other benchmark's ratio.)"""
    repeat = 40 if ctx.quick else 200
    position = iter(range(10**9))

    def get(session: Session) -> Awaitable[object]:
        return ProjectRepository(session).get_by_id(1 + next(position) % ctx.projects)

    heard: list[int] = []
    async with DatabaseEngine(ctx.engine.config.database, pool_size=4) as listened:
        listened.add_query_listener(lambda event: heard.append(1))
        async with ctx.engine.session() as off, listened.session() as on:
            rates = await compare_many({"on": lambda: get(on), "off": lambda: get(off)}, repeat, 9)
    assert heard, "the listener heard nothing"
    return Result(
        "listened_get_by_id",
        "1 task get_by_id, 1 listener",
        "ops/s",
        rates["on"],
        rates["off"],
        UNLISTENED,
        "the same call on an engine without listeners",
    )


async def bench_mixed_requests(ctx: Context) -> Result:
    """A web app's request mix at concurrency 16, each request a session and one
    call: 60% get_by_id, 20% create, 10% update, 10% append_message. Requests/s
    and p99 latency with batching on and off (the engine's side of a request;
    HTTP parsing and serialisation come on top)."""
    total = 2_000
    rng = random.Random(21)
    rows = project_rows(total, seed=19)
    async with ctx.engine.session() as session:
        talk = await ConversationRepository(session).create(
            {"project_id": 1, "title": "mixed requests"}
        )
    plan = [rng.random() for _ in range(total)]
    ids = [rng.randint(1, ctx.projects) for _ in range(total)]

    async def run(engine: DatabaseEngine) -> tuple[float, float]:
        latencies: list[float] = []
        next_request = iter(range(total))

        async def request(n: int) -> None:
            started = time.perf_counter()
            async with engine.session() as session:
                projects = ProjectRepository(session)
                if plan[n] < 0.6:
                    await projects.get_by_id(ids[n])
                elif plan[n] < 0.8:
                    await projects.create(rows[n])
                elif plan[n] < 0.9:
                    await projects.update(ids[n], {"status": "active"})
                else:
                    await ConversationRepository(session).append_message(
                        talk.id, {"role": "user", "content": f"request {n}"}
                    )
            latencies.append(time.perf_counter() - started)

        async def client(_: int) -> None:
            for n in next_request:
                await request(n)

        seconds = await _in_tasks(client)
        latencies.sort()
        return total / seconds, latencies[int(0.99 * len(latencies)) - 1]

    off_rate, off_p99 = await run(ctx.unbatched)
    on_rate, on_p99 = await run(ctx.engine)
    return Result(
        "mixed_requests",
        "2,000 mixed requests (16 at once)",
        "req/s",
        on_rate,
        off_rate,
        UNBATCHED,
        f"60% get, 20% create, 10% update, 10% append; p99 {on_p99 * 1000:.1f} ms with "
        f"batching, {off_p99 * 1000:.1f} ms without",
        extra={"p99 ms": on_p99 * 1000, "p99 ms without batching": off_p99 * 1000},
    )


RAW_ARROW_INSERT = (
    "INSERT INTO projects (name, description, project_idea, architecture, status) "
    "SELECT name, description, project_idea, architecture::JSON, status FROM incoming"
)


async def bench_bulk_create(ctx: Context) -> Result:
    """The library's bulk_create (validated, audited, indexed for search, one
    transaction) beside SQLAlchemy's ORM bulk insert of the same dicts, and a
    bare Arrow insert for scale. Each side loads a fresh database the library
    migrated, in rounds whose order rotates; medians."""
    from peers import ORM_BULK_PATH, sqlalchemy_bulk_insert  # the bench extra

    count = 10_000 if ctx.quick else 100_000
    rows = project_rows(count, seed=5)

    async def library(path: Path) -> float:
        async with DatabaseEngine(path) as engine, engine.session() as session:
            started = time.perf_counter()
            await ProjectRepository(session).bulk_create(rows, returning=False)
            return count / (time.perf_counter() - started)

    async def orm(path: Path) -> float:
        async with DatabaseEngine(path):
            pass  # the library's schema, then SQLAlchemy writes into it
        return sqlalchemy_bulk_insert(path, rows)

    async def raw(path: Path) -> float:
        async with DatabaseEngine(path) as engine:
            connection = engine._root.cursor()  # type: ignore[union-attr]
            started = time.perf_counter()
            table = pa.Table.from_pylist(
                [{**row, "architecture": json.dumps(row["architecture"])} for row in rows]
            )
            connection.register("incoming", table)
            connection.execute(RAW_ARROW_INSERT)
            rate = count / (time.perf_counter() - started)
            connection.close()
            return rate

    sides: dict[str, Callable[[Path], Awaitable[float]]] = {
        "library": library,
        "orm": orm,
        "raw": raw,
    }
    samples: dict[str, list[float]] = {name: [] for name in sides}
    names = list(sides)
    for round_number in range(3):
        shift = round_number % len(names)
        for name in names[shift:] + names[:shift]:
            with tempfile.TemporaryDirectory() as directory:
                samples[name].append(await sides[name](Path(directory) / f"{name}.duckdb"))
    lib, orm_rate, raw_rate = (statistics.median(samples[name]) for name in names)
    return Result(
        "bulk_create",
        f"bulk_create ({count:,})",
        "rows/s",
        lib,
        orm_rate,
        SQLALCHEMY_ORM,
        f"SQLAlchemy 2 ORM bulk INSERT, {ORM_BULK_PATH}, via duckdb_engine, one transaction, "
        "no validation, audit or search index; raw DuckDB Arrow insert (none of those either): "
        f"{raw_rate:,.0f} rows/s ({lib / raw_rate:.2f}x)",
        extra={"raw DuckDB Arrow insert rows/s": raw_rate},
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
    raw_connection = ctx.engine._root.cursor()  # type: ignore[union-attr]

    def raw() -> None:
        status = next(statuses)
        raw_connection.begin()
        raw_connection.register("incoming", pa.table({"id": ids, "status": [status] * count}))
        raw_connection.execute(RAW_BULK_UPDATE)
        raw_connection.unregister("incoming")
        raw_connection.commit()

    async with ctx.engine.session() as session:
        repo = ProjectRepository(session)

        async def library() -> object:
            status = next(statuses)
            return await repo.bulk_update([{"id": id, "status": status} for id in ids])

        lib, raw_rate = await compare(library, raw, repeat=1, rounds=3)
    raw_connection.close()
    return Result(
        "bulk_update",
        f"bulk_update ({count:,} status)",
        "rows/s",
        lib * count,
        raw_rate * count,
        RAW_DUCKDB,
        "raw = one UPDATE ... FROM an Arrow table: no validation, version check, "
        "completed_at or audit",
    )


BENCHMARKS: dict[str, Callable[[Context], Awaitable[Result]]] = {
    "get_by_id": bench_get_by_id,
    # Before the writes: on the table as bulk_create loaded it, every project
    # has the same created_at, so no row group can be skipped and all 25,000
    # active rows compete for the newest 100 (the slow case the target is
    # about). After create has appended newer rows, zone maps let the plain
    # statement skip nearly all of them: see README's Performance section.
    "list": bench_list,
    "create": bench_create,
    "update": bench_update,
    "append_message": bench_append_message,
    "add_message": bench_add_message,
    "concurrent_get": bench_concurrent_get,
    "concurrent_create": bench_concurrent_create,
    "lone_get_by_id": bench_lone_get_by_id,
    "lone_create": bench_lone_create,
    "listened_get_by_id": bench_listened_get_by_id,
    "mixed_requests": bench_mixed_requests,
    "bulk_create": bench_bulk_create,
    "bulk_update": bench_bulk_update,
    "search": bench_search,
    "project_metrics": bench_project_metrics,
    "time_series": bench_time_series,
}

#: What needs the bench extra, and which of its modules.
NEEDS_BENCH_EXTRA = {
    "bulk_create": ("sqlalchemy", "duckdb_engine"),
    "--peers": ("sqlalchemy", "aiosqlite", "greenlet"),
}


@dataclass
class Run:
    results: list[Result] = field(default_factory=list)
    peers: list[PeerResult] = field(default_factory=list)


async def main(quick: bool, chosen: Sequence[str], with_peers: bool) -> Run:
    # 100,000 projects in both runs: lists are slow, and two-step lists pay, on
    # large tables (on 10,000 rows the one-statement query is still faster).
    count = 100_000
    analytics_rows = 50_000 if quick else 1_000_000
    lengths = (0, 1_000, 10_000) if quick else (0, 1_000, 10_000, 100_000)
    run = Run()
    with tempfile.TemporaryDirectory() as directory:
        async with (
            AsyncExitStack() as stack,
            DatabaseEngine(Path(directory) / "bench.duckdb", pool_size=4) as engine,
            DatabaseEngine(Path(directory) / "analytics.duckdb", pool_size=2) as analytics_engine,
        ):
            async with engine.session() as session:
                await ProjectRepository(session).bulk_create(project_rows(count), returning=False)
            # Analytics read only the projects table: generate it in SQL (fast), not
            # through the library (which would also build the search index).
            await analytics_engine.execute_raw(GENERATE_PROJECTS, {"n": analytics_rows})
            unbatched = await stack.enter_async_context(
                DatabaseEngine(
                    Path(directory) / "bench.duckdb",
                    pool_size=4,
                    coalesce_reads=False,
                    group_commit=False,
                )
            )
            ctx = Context(
                engine, count, quick, analytics_engine, analytics_rows, unbatched, lengths
            )
            for name in chosen:
                result = await BENCHMARKS[name](ctx)
                print(
                    f"{result.name:>16}: library {result.library_per_second:>10,.1f} {result.unit}  "
                    f"{result.baseline} {result.baseline_per_second:>10,.1f} {result.unit}  "
                    f"ratio {result.ratio:.2f}x  {result.notes}",
                    flush=True,
                )
                run.results.append(result)
            if with_peers:
                from peers import compare_with_peers  # the bench extra

                run.peers = await compare_with_peers(
                    engine, Path(directory), project_rows(50, seed=11), max(lengths), quick
                )
                for peer in run.peers:
                    rates = ", ".join(f"{n} {r:,.1f}" for n, r in peer.rates.items())
                    print(f"{peer.operation:>16}: {rates} {peer.unit}", flush=True)
    return run


def missing_extras(chosen: Sequence[str], with_peers: bool) -> list[str]:
    """What the chosen benchmarks need from the bench extra that is not installed."""
    wanted = [*chosen, *(["--peers"] if with_peers else [])]
    return [
        f"{need} needs {module}"
        for need in wanted
        for module in NEEDS_BENCH_EXTRA.get(need, ())
        if importlib.util.find_spec(module) is None
    ]


def cli(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="small sizes, for CI")
    parser.add_argument(
        "--gate",
        action="store_true",
        help="exit 1 if any ratio is below half its target (targets.py)",
    )
    parser.add_argument(
        "--peers",
        action="store_true",
        help="also time SQLite peers (SQLAlchemy ORM + aiosqlite, raw aiosqlite) side by side",
    )
    parser.add_argument(
        "--only",
        nargs="+",
        default=[],
        choices=list(BENCHMARKS),
        metavar="NAME",
        help=f"run only these benchmarks: {', '.join(BENCHMARKS)}",
    )
    parser.add_argument(
        "--postgres",
        metavar="URL",
        help="then run the same benchmarks on PostgreSQL (postgres.py) beside raw psycopg, in "
        "scratch databases created and dropped on the server URL names; reported, not gated",
    )
    args = parser.parse_args(argv)
    if args.postgres and importlib.util.find_spec("psycopg") is None:
        parser.error("--postgres needs psycopg: pip install '.[postgres]'")
    chosen = [name for name in BENCHMARKS if not args.only or name in args.only]
    missing = missing_extras(chosen, args.peers)
    if missing:
        parser.error(
            "; ".join(missing)
            + ": install the bench extra (pip install '.[bench]', or run nox -s bench)"
            + (", or leave bulk_create out with --only" if "bulk_create" in chosen else "")
        )
    run = anyio.run(main, args.quick, chosen, args.peers)
    judged = judge_all(run.results)
    print()
    print(table(judged))
    if args.postgres:
        from postgres import add_to_report, postgres_part  # psycopg: the postgres extra

        postgres_judged, server = postgres_part(args.postgres, args.quick, chosen, run.results)
    label = f"{'quick run' if args.quick else 'full run'}, {time.strftime('%Y-%m-%d')}"
    charts = write_charts(RESULTS, judged, run.peers, label)
    title = "Benchmarks (quick)" if args.quick else "Benchmarks"
    json_path, md_path = write_report(RESULTS, title, judged, run.peers, charts)
    if args.postgres:
        add_to_report(json_path, md_path, postgres_judged, server)
    print(f"wrote {json_path}, {md_path} and {len(charts)} charts in {RESULTS}")
    failed = failures(judged)
    if failed:
        print(failure_line(failed, gating=args.gate), flush=True)
        return 1 if args.gate else 0
    return 0


if __name__ == "__main__":
    sys.exit(cli())

"""Run the benchmarks: ``python benchmarks/run.py [--quick] [--only NAME ...]``.

Writes ``benchmarks/results/results.json`` and ``results.md``. ``--quick`` uses
small sizes so CI can run it in well under three minutes.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import anyio
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import Result, compare, fetch_all, write_report

from project_architect_db import (
    AnalyticsRepository,
    ConversationRepository,
    DatabaseEngine,
    ProjectRepository,
)
from project_architect_db.core.sql import get_query
from project_architect_db.search import index_terms, query_terms

RESULTS = Path(__file__).resolve().parent / "results"

#: SQLAlchemy 2 ORM + duckdb_engine bulk insert of 100k dicts on this kind of
#: machine (not installed here: it is a peer to compare with, not a dependency).
SQLALCHEMY_BULK_ROWS_PER_SECOND = 20_750

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


async def bench_get_by_id(ctx: Context) -> Result:
    rng = random.Random(1)
    ids = [rng.randint(1, ctx.projects) for _ in range(500)]
    sql = get_query("get_project").sql
    raw_connection = ctx.engine._root.cursor()  # type: ignore[union-attr]
    counter = iter(range(10**9))

    def raw() -> object:
        return fetch_all(
            raw_connection, sql, {"id": ids[next(counter) % len(ids)], "include_deleted": False}
        )

    async with ctx.engine.session() as session:
        repo = ProjectRepository(session)
        position = iter(range(10**9))

        async def library() -> object:
            return await repo.get_by_id(ids[next(position) % len(ids)])

        lib, raw_rate = await compare(library, raw, repeat=300 if ctx.quick else 2000)
    raw_connection.close()
    return Result("get_by_id", "ops/s", lib, raw_rate, f"{ctx.projects:,} projects")


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
        "search_by_name",
        "queries/s",
        lib,
        raw_rate,
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
        name,
        "runs/s",
        lib,
        raw_rate,
        f"{ctx.analytics_rows:,} projects ({1000 / lib:.0f} ms per call)",
    )


async def bench_project_metrics(ctx: Context) -> Result:
    return await _analytics_pair(
        ctx,
        "project_metrics",
        lambda repo: repo.project_metrics(),
        get_query("project_metrics").sql,
        {"start": None, "end": None},
    )


async def bench_time_series(ctx: Context) -> Result:
    return await _analytics_pair(
        ctx,
        "time_series (day)",
        lambda repo: repo.time_series_analysis("projects_created", "day"),
        get_query("time_series").sql,
        {"metric": "projects_created", "granularity": "day", "start": None, "end": None},
    )


async def bench_create(ctx: Context) -> Result:
    rows = project_rows(50, seed=11)
    repeat = 200 if ctx.quick else 1000
    insert, audit, index = (
        get_query(n).sql for n in ("insert_project", "insert_audit_entry", "insert_search_terms")
    )
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
        prepared.append((params, json.dumps(params), fields, terms, counts))
    raw_connection = ctx.engine._root.cursor()  # type: ignore[union-attr]
    counter = iter(range(10**9))

    def raw() -> None:
        params, changes, fields, terms, counts = prepared[next(counter) % len(prepared)]
        raw_connection.begin()
        new_id = raw_connection.execute(insert, params).fetchall()[0][0]
        raw_connection.execute(
            audit,
            {"entity": "project", "entity_id": new_id, "action": "create", "changes": changes},
        )
        raw_connection.execute(
            index,
            {
                "entity": "project",
                "entity_id": new_id,
                "fields": fields,
                "terms": terms,
                "counts": counts,
            },
        )
        raw_connection.commit()

    async with ctx.engine.session() as session:
        repo = ProjectRepository(session)
        position = iter(range(10**9))
        lib, raw_rate = await compare(
            lambda: repo.create(rows[next(position) % len(rows)]), raw, repeat=repeat
        )
    raw_connection.close()
    return Result(
        "create", "ops/s", lib, raw_rate, "insert + audit + search terms, one transaction"
    )


async def bench_update(ctx: Context) -> Result:
    repeat = 200 if ctx.quick else 1000
    get, update, audit = (
        get_query(n).sql for n in ("get_project", "update_project", "insert_audit_entry")
    )
    raw_connection = ctx.engine._root.cursor()  # type: ignore[union-attr]
    counter = iter(range(10**9))
    columns = ("name", "description", "project_idea", "architecture", "status")

    def raw() -> None:
        id = 501 + next(counter) % 500
        raw_connection.begin()
        cursor = raw_connection.execute(get, {"id": id, "include_deleted": False})
        names = [d[0] for d in cursor.description or ()]
        current = dict(zip(names, cursor.fetchall()[0], strict=True))
        params = {c: current[c] for c in columns} | {"status": "active"}
        raw_connection.execute(
            update, {"id": id, "version": current["version"], **params}
        ).fetchall()
        raw_connection.execute(
            audit, {"entity": "project", "entity_id": id, "action": "update", "changes": "{}"}
        )
        raw_connection.commit()

    async with ctx.engine.session() as session:
        repo = ProjectRepository(session)
        position = iter(range(10**9))
        lib, raw_rate = await compare(
            lambda: repo.update(1 + next(position) % 500, {"status": "active"}), raw, repeat=repeat
        )
    raw_connection.close()
    return Result("update", "ops/s", lib, raw_rate, "read + versioned UPDATE ... RETURNING + audit")


async def bench_list(ctx: Context) -> Result:
    repeat = 100 if ctx.quick else 500
    raw_connection = ctx.engine._root.cursor()  # type: ignore[union-attr]
    async with ctx.engine.session() as session:
        repo = ProjectRepository(session)
        query = repo.query().filter(status="active").order_by("-created_at").limit(100)
        sql, params = query._select(100, 0)
        lib, raw_rate = await compare(
            lambda: repo.list(limit=100, status="active", order_by="-created_at"),
            lambda: fetch_all(raw_connection, sql, params),
            repeat=repeat,
        )
    raw_connection.close()
    return Result(
        "list (100 rows, filtered)", "ops/s", lib, raw_rate, "status filter, newest first"
    )


async def bench_add_message(ctx: Context) -> Result:
    repeat = 200 if ctx.quick else 1000
    async with ctx.engine.session() as session:
        talks = ConversationRepository(session)
        lib_talk = await talks.create({"project_id": 1, "title": "benchmark"})
        raw_talk = await talks.create({"project_id": 1, "title": "benchmark raw"})
        message = {"role": "user", "content": "What should we build next?"}
    append, audit = get_query("append_message").sql, get_query("insert_audit_entry").sql
    raw_connection = ctx.engine._root.cursor()  # type: ignore[union-attr]

    def raw() -> None:
        raw_connection.begin()
        row = raw_connection.execute(
            append,
            {
                "conversation_id": raw_talk.id,
                "role": "user",
                "content": message["content"],
                "created_at": datetime.now(UTC),
                "metadata": None,
            },
        ).fetchall()[0]
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
        del row

    async with ctx.engine.session() as session:
        talks = ConversationRepository(session)
        lib, raw_rate = await compare(
            lambda: talks.append_message(lib_talk.id, message), raw, repeat=repeat, rounds=3
        )
    raw_connection.close()
    return Result(
        "append_message",
        "ops/s",
        lib,
        raw_rate,
        f"appends to one conversation ({3 * repeat} messages each)",
    )


async def bench_concurrent_get(ctx: Context) -> Result:
    per_task = 50 if ctx.quick else 250
    rng = random.Random(3)
    ids = [rng.randint(1, ctx.projects) for _ in range(per_task)]

    async def worker() -> None:
        async with ctx.engine.session() as session:
            repo = ProjectRepository(session)
            for id in ids:
                await repo.get_by_id(id)

    async def eight_tasks() -> None:
        async with anyio.create_task_group() as group:
            for _ in range(8):
                group.start_soon(worker)

    sql = get_query("get_project").sql
    raw_connection = ctx.engine._root.cursor()  # type: ignore[union-attr]

    def sequential() -> None:
        for _ in range(8):
            for id in ids:
                fetch_all(raw_connection, sql, {"id": id, "include_deleted": False})

    lib, raw_rate = await compare(eight_tasks, sequential, repeat=1)
    lib, raw_rate = lib * 8 * per_task, raw_rate * 8 * per_task
    raw_connection.close()
    return Result(
        "8 tasks get_by_id (pool 4)", "ops/s", lib, raw_rate, "raw = one synchronous connection"
    )


async def bench_bulk_create(ctx: Context) -> Result:
    count = 10_000 if ctx.quick else 100_000
    rows = project_rows(count, seed=5)
    with tempfile.TemporaryDirectory() as directory:
        async with (
            DatabaseEngine(Path(directory) / "bulk.duckdb") as engine,
            engine.session() as session,
        ):
            started = time.perf_counter()
            await ProjectRepository(session).bulk_create(rows, returning=False)
            lib = count / (time.perf_counter() - started)
        async with DatabaseEngine(Path(directory) / "raw.duckdb") as engine:
            connection = engine._root.cursor()  # type: ignore[union-attr]
            started = time.perf_counter()
            table = pa.Table.from_pylist(
                [{**row, "architecture": json.dumps(row["architecture"])} for row in rows]
            )
            connection.register("incoming", table)
            connection.execute(
                "INSERT INTO projects (name, description, project_idea, architecture, status) "
                "SELECT name, description, project_idea, architecture::JSON, status FROM incoming"
            )
            raw = count / (time.perf_counter() - started)
            connection.close()
    return Result(
        f"bulk_create ({count:,})",
        "rows/s",
        lib,
        raw,
        "raw = Arrow insert without validation, audit or search index; "
        f"{lib / SQLALCHEMY_BULK_ROWS_PER_SECOND:.1f}x SQLAlchemy ORM bulk insert "
        f"({SQLALCHEMY_BULK_ROWS_PER_SECOND:,} rows/s measured here, ../shared/NOTES.md)",
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
        f"bulk_update ({count:,} status)",
        "rows/s",
        lib * count,
        raw_rate * count,
        "raw = one UPDATE ... FROM an Arrow table: no validation, version check, "
        "completed_at or audit",
    )


BENCHMARKS: dict[str, Callable[[Context], Awaitable[Result]]] = {
    "get_by_id": bench_get_by_id,
    "create": bench_create,
    "update": bench_update,
    "list": bench_list,
    "add_message": bench_add_message,
    "concurrent_get": bench_concurrent_get,
    "bulk_create": bench_bulk_create,
    "bulk_update": bench_bulk_update,
    "search": bench_search,
    "project_metrics": bench_project_metrics,
    "time_series": bench_time_series,
}


async def main(quick: bool, only: list[str]) -> list[Result]:
    count = 10_000 if quick else 100_000
    analytics_rows = 50_000 if quick else 1_000_000
    results: list[Result] = []
    with tempfile.TemporaryDirectory() as directory:
        async with (
            DatabaseEngine(Path(directory) / "bench.duckdb", pool_size=4) as engine,
            DatabaseEngine(Path(directory) / "analytics.duckdb", pool_size=2) as analytics_engine,
        ):
            async with engine.session() as session:
                await ProjectRepository(session).bulk_create(project_rows(count), returning=False)
            # Analytics read only the projects table: generate it in SQL (fast), not
            # through the library (which would also build the search index).
            await analytics_engine.execute_raw(GENERATE_PROJECTS, {"n": analytics_rows})
            ctx = Context(engine, count, quick, analytics_engine, analytics_rows)
            for name, benchmark in BENCHMARKS.items():
                if only and name not in only:
                    continue
                result = await benchmark(ctx)
                print(
                    f"{result.name:>16}: library {result.library_per_second:>10,.0f} {result.unit}  "
                    f"raw {result.raw_per_second:>10,.0f} {result.unit}  ratio {result.ratio:.2f}x  {result.notes}",
                    flush=True,
                )
                results.append(result)
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes, for CI")
    parser.add_argument("--only", nargs="*", default=[], choices=sorted(BENCHMARKS))
    args = parser.parse_args()
    outcome = anyio.run(main, args.quick, args.only)
    title = "Benchmarks (quick)" if args.quick else "Benchmarks"
    json_path, md_path = write_report(outcome, RESULTS, title)
    print(f"wrote {json_path} and {md_path}")

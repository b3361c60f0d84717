"""Run the benchmarks: ``python benchmarks/run.py [--quick] [--only NAME ...]``.

Writes ``benchmarks/results/results.json`` and ``results.md``. ``--quick`` uses
small sizes so CI can run it in well under three minutes.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import anyio

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import Result, fetch_all, time_async, time_sync, write_report

from project_architect_db import AnalyticsRepository, DatabaseEngine, ProjectRepository
from project_architect_db.core.sql import get_query
from project_architect_db.search import query_terms

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


async def bench_get_by_id(ctx: Context) -> Result:
    rng = random.Random(1)
    ids = [rng.randint(1, ctx.projects) for _ in range(500)]
    sql = get_query("get_project").sql
    async with ctx.engine.session() as session:
        repo = ProjectRepository(session)
        position = iter(range(10**9))

        async def library() -> object:
            return await repo.get_by_id(ids[next(position) % len(ids)])

        lib = await time_async(library, repeat=300 if ctx.quick else 2000)
    raw_connection = ctx.engine._root.cursor()  # type: ignore[union-attr]
    counter = iter(range(10**9))

    def raw() -> object:
        return fetch_all(
            raw_connection, sql, {"id": ids[next(counter) % len(ids)], "include_deleted": False}
        )

    raw_rate = time_sync(raw, repeat=300 if ctx.quick else 2000)
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
    async with ctx.engine.session() as session:
        repo = ProjectRepository(session)
        position = iter(range(10**9))

        async def library() -> object:
            return await repo.search_by_name(queries[next(position) % len(queries)])

        lib = await time_async(library, repeat=50 if ctx.quick else 200)
        sample = await repo.search_by_name(queries[0])
    raw_connection = ctx.engine._root.cursor()  # type: ignore[union-attr]
    counter = iter(range(10**9))

    def raw() -> object:
        # The same two statements the library makes: rank ids, then fetch those rows.
        terms = stems[next(counter) % len(stems)]
        ranked = fetch_all(raw_connection, rank_sql, {"terms": terms, "limit": 20})
        return fetch_all(raw_connection, fetch_sql, {"ids": [row[0] for row in ranked]})

    raw_rate = time_sync(raw, repeat=50 if ctx.quick else 200)
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
    async with ctx.analytics_engine.session() as session:
        repo = AnalyticsRepository(session)
        lib = await time_async(lambda: library(repo), repeat=repeat, rounds=3)
    raw_connection = ctx.analytics_engine._root.cursor()  # type: ignore[union-attr]
    raw_rate = time_sync(lambda: fetch_all(raw_connection, sql, params), repeat=repeat, rounds=3)
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


BENCHMARKS: dict[str, Callable[[Context], Awaitable[Result]]] = {
    "get_by_id": bench_get_by_id,
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

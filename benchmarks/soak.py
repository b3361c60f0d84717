"""Soak test: ``python benchmarks/soak.py [--quick | --ops N] [--backend trio] [--seed S]``.

Sixteen tasks share one ``DatabaseEngine`` on a DuckDB *file* and run a fixed
number of mixed operations between them: create, get_by_id, a versioned update
of a shared ("hot") project that may lose to a concurrent writer, an update of
the same kind wrapped in ``retry_on_conflict`` (its change must land),
append_message, a filtered newest-first list, full-text search (projects and
documents) and an analytics call. ``--quick`` is the CI size (about a minute on
two cores); the default is 200,000 operations.

Short tests prove each operation right once; a soak proves that doing them many
times, concurrently, does not slowly break the process. After a warm-up (the
first 10% of the operations: DuckDB's caches, the worker threads and the pool's
connections are all in place by then), the script samples resident memory
(``VmRSS``), open file descriptors, threads (Python's and the kernel's count)
and the pool's counters, and at the end checks:

* **memory**: RSS at the end is less than 10% above RSS at the end of the
  warm-up (a leak per call would grow it without bound). Each figure is the
  median of the last five samples, since one sample moves by a few MiB with the
  queries in flight. The database file grows during the run and DuckDB caches
  it, so its buffer manager is capped with ``memory_limit`` (128MB): a growing
  database then does not read as a leak. DuckDB's own figure
  (``duckdb_memory()``) is sampled and printed beside RSS;
* **file descriptors and threads**: after the warm-up they never exceed the
  highest count seen up to its end (a leaked cursor, file or thread per call
  would), threads by at most ``THREAD_SLACK``: a worker thread that has just
  handed back its result is not yet idle, so a call arriving at that moment
  gets a new one (trio's thread cache), and with coalesced reads and group
  commit one call's answer starts the next statement at once;
* **the pool is whole**: nothing checked out, nobody waiting, and every
  connection (``pool_size + max_overflow``) can be lent at once and runs a query;
* **the audit trail matches the rows**: every row's version equals its number
  of ``create`` and ``update`` audit entries (besides ``append_message``'s,
  which name the message and leave the version alone), every row has exactly
  one ``create`` entry, no entry names a missing row, and every message has
  its append's entry and every append entry its message (none was lost);
* **no unexpected errors**: a ``ConflictError`` from a single-shot versioned
  update is an expected outcome (it is counted and reported); anything else an
  operation raises is a failure.

It prints a table (ops/s, p50 and p99 latency and outcomes per kind) and the
resource figures, and exits 1 naming every failed check. ``run_soak(config)``
returns the same figures as a ``SoakResult`` (``tests/test_soak.py`` runs it at
a tiny size on asyncio and trio).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import threading
import time
from array import array
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path

import anyio
import sniffio

from project_architect_db import (
    AnalyticsRepository,
    ConflictError,
    ConversationRepository,
    DatabaseEngine,
    DocumentRepository,
    ProjectRepository,
    retry_on_conflict,
)

FULL_OPS = 200_000
QUICK_OPS = 12_000
TASKS = 16
WARMUP_FRACTION = 0.10
SAMPLES = 100
RSS_GROWTH_LIMIT = 0.10
RSS_WINDOW = 5

WORDS = (
    "api gateway service mesh kafka stream event sourcing ledger billing invoice payment "
    "architecture microservice monolith cache redis postgres duckdb analytics dashboard "
    "pipeline deployment kubernetes container observability tracing logging search index "
    "checkout cart inventory warehouse shipping notification email mobile frontend backend"
).split()
STATUSES = ("draft", "active", "completed", "archived")
DOC_TYPES = ("requirements", "architecture", "adr", "api", "guide", "other")

#: Operation kinds and their weights in the mix.
MIX: dict[str, int] = {
    "create": 10,
    "get_by_id": 25,
    "update": 10,
    "update_retry": 5,
    "append_message": 15,
    "list": 12,
    "search": 12,
    "analytics": 1,
}


@dataclass(frozen=True)
class SoakConfig:
    ops: int = FULL_OPS
    tasks: int = TASKS
    seed: int = 20261130
    #: Projects, conversations and documents written before the soak starts.
    seed_projects: int = 2_000
    #: How many seeded projects the versioned updates fight over.
    hot_projects: int = 16
    pool_size: int = 4
    max_overflow: int = 4
    memory_limit: str = "128MB"
    #: Directory for the database file (a temporary one when None).
    directory: Path | None = None
    #: Print a line of figures every tenth of the run.
    progress: bool = False

    @property
    def warmup_ops(self) -> int:
        return max(1, int(self.ops * WARMUP_FRACTION))


@dataclass(frozen=True)
class Sample:
    op: int
    rss_kib: int
    #: What DuckDB's buffer manager holds (data blocks, query state), from duckdb_memory().
    duckdb_kib: int
    fds: int
    py_threads: int
    os_threads: int
    checked_out: int
    waiters: int
    open_connections: int


@dataclass
class KindFigures:
    kind: str
    count: int
    ops_per_second: float
    p50_ms: float
    p99_ms: float
    outcomes: dict[str, int]


@dataclass
class SoakResult:
    config: SoakConfig
    backend: str
    seconds: float
    kinds: list[KindFigures]
    warmup: Sample
    end: Sample
    #: Highest fds / threads seen up to the end of the warm-up and after it.
    max_fds_warmup: int
    max_fds_after: int
    max_threads_warmup: int
    max_threads_after: int
    max_rss_after_kib: int
    #: Median RSS of the last RSS_WINDOW samples up to the end of the warm-up, and
    #: of the run: one sample moves by a few MiB with the queries in flight.
    rss_warmup_kib: int
    rss_end_kib: int
    samples: list[Sample]
    failures: list[str] = field(default_factory=list)

    @property
    def rss_growth(self) -> float:
        """RSS growth from the end of the warm-up to the end of the run (checked)."""
        return (self.rss_end_kib - self.rss_warmup_kib) / self.rss_warmup_kib

    @property
    def passed(self) -> bool:
        return not self.failures


# -- resources -------------------------------------------------------------------------------


def _status_field(name: str) -> int:
    """A numeric field of /proc/self/status (VmRSS is in kiB)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(name + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"/proc/self/status has no {name}")


DUCKDB_MEMORY = "SELECT sum(memory_usage_bytes)::BIGINT AS used FROM duckdb_memory()"


async def take_sample(op: int, engine: DatabaseEngine) -> Sample:
    stats = engine.stats()  # before the query below borrows a connection
    duckdb_bytes = (await engine.execute_raw(DUCKDB_MEMORY))[0]["used"]
    return Sample(
        op=op,
        rss_kib=_status_field("VmRSS"),
        duckdb_kib=duckdb_bytes // 1024,
        fds=len(os.listdir("/proc/self/fd")),
        py_threads=threading.active_count(),
        os_threads=_status_field("Threads"),
        checked_out=stats.checked_out,
        waiters=stats.waiters,
        open_connections=stats.open_connections,
    )


# -- the workload ----------------------------------------------------------------------------


@dataclass
class Soak:
    """Shared state of one run: ids to pick from, the op counter, the figures."""

    config: SoakConfig
    engine: DatabaseEngine
    project_ids: list[int]
    conversation_ids: list[int]
    claimed: int = 0
    sample_every: int = 1
    started: float = field(default_factory=time.perf_counter)
    samples: list[Sample] = field(default_factory=list)
    #: Seconds per operation, as C doubles (a list of 200,000 floats would itself
    #: add ~6 MiB to the RSS being checked).
    latencies: defaultdict[str, array[float]] = field(
        default_factory=lambda: defaultdict(lambda: array("d"))
    )
    outcomes: defaultdict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    errors: list[str] = field(default_factory=list)

    def claim(self) -> int | None:
        """The number of the next operation (1-based), or None when all are claimed."""
        if self.claimed >= self.config.ops:
            return None
        self.claimed += 1
        return self.claimed

    async def sample_if_due(self, n: int) -> None:
        """Sample the resources every ``sample_every`` operations and at the
        warm-up's end."""
        if n % self.sample_every == 0 or n == self.config.warmup_ops:
            self.samples.append(await take_sample(n, self.engine))
            if self.config.progress and n % max(1, self.config.ops // 10) == 0:
                print(progress_line(self.samples[-1], self.started), flush=True)

    @property
    def hot_ids(self) -> list[int]:
        return self.project_ids[: self.config.hot_projects]


def progress_line(sample: Sample, started: float) -> str:
    return (
        f"  op {sample.op:>7,}  {time.perf_counter() - started:7.1f} s  "
        f"RSS {sample.rss_kib / 1024:6.1f} MiB (DuckDB {sample.duckdb_kib / 1024:5.1f})  "
        f"fds {sample.fds}  threads {sample.os_threads}  "
        f"pool out {sample.checked_out} waiting {sample.waiters} open {sample.open_connections}"
    )


def _words(rng: random.Random, count: int) -> str:
    return " ".join(rng.choices(WORDS, k=count))


def project_data(rng: random.Random, name: str) -> dict[str, object]:
    return {
        "name": name,
        "description": _words(rng, 8),
        "project_idea": _words(rng, 12),
        "architecture": {"framework": "FastAPI", "complexity_score": rng.randint(1, 10)},
        "status": rng.choice(STATUSES),
    }


def document_data(rng: random.Random, project_id: int, title: str) -> dict[str, object]:
    return {
        "project_id": project_id,
        "title": title,
        "doc_type": rng.choice(DOC_TYPES),
        "content": _words(rng, 30),
    }


Operation = Callable[[Soak, int, random.Random], Awaitable[str]]


async def op_create(soak: Soak, n: int, rng: random.Random) -> str:
    """A project, or (one time in three) a document of an existing project."""
    async with soak.engine.session() as session:
        if rng.random() < 1 / 3:
            project_id = rng.choice(soak.project_ids)
            await DocumentRepository(session).create(
                document_data(rng, project_id, f"{_words(rng, 3)} {n}")
            )
            return "document"
        project = await ProjectRepository(session).create(
            project_data(rng, f"{_words(rng, 2)} {n}")
        )
    soak.project_ids.append(project.id)
    return "project"


async def op_get_by_id(soak: Soak, n: int, rng: random.Random) -> str:
    async with soak.engine.session() as session:
        found = await ProjectRepository(session).get_by_id(rng.choice(soak.project_ids))
    return "found" if found is not None else "missing"


async def op_update(soak: Soak, n: int, rng: random.Random) -> str:
    """Read a hot project, then update it at the version read: a concurrent
    writer may win first, and then this one raises ConflictError (expected)."""
    target = rng.choice(soak.hot_ids)
    async with soak.engine.session() as session:
        projects = ProjectRepository(session)
        current = await projects.get_by_id(target)
        assert current is not None, f"hot project {target} vanished"
        try:
            await projects.update(
                target, {"description": f"update {n}"}, expected_version=current.version
            )
        except ConflictError:
            return "conflict"
    return "updated"


async def op_update_retry(soak: Soak, n: int, rng: random.Random) -> str:
    """The same read-modify-write, retried until it lands."""
    target = rng.choice(soak.hot_ids)
    attempts = 0

    async def attempt() -> None:
        nonlocal attempts
        attempts += 1
        async with soak.engine.transaction() as session:
            projects = ProjectRepository(session)
            current = await projects.get_by_id(target)
            assert current is not None, f"hot project {target} vanished"
            await projects.update(
                target, {"status": rng.choice(STATUSES)}, expected_version=current.version
            )

    try:
        await retry_on_conflict(attempt)
    except ConflictError:
        return "gave up"
    return "landed first try" if attempts == 1 else "landed after retry"


async def op_append_message(soak: Soak, n: int, rng: random.Random) -> str:
    async with soak.engine.session() as session:
        await ConversationRepository(session).append_message(
            rng.choice(soak.conversation_ids),
            {"role": rng.choice(["user", "assistant"]), "content": _words(rng, 10)},
        )
    return "appended"


async def op_list(soak: Soak, n: int, rng: random.Random) -> str:
    async with soak.engine.session() as session:
        rows = await ProjectRepository(session).list(
            limit=20, status=rng.choice(STATUSES), order_by="-created_at"
        )
    return "rows" if rows else "empty"


async def op_search(soak: Soak, n: int, rng: random.Random) -> str:
    async with soak.engine.session() as session:
        if rng.random() < 0.5:
            hits: Sequence[object] = await ProjectRepository(session).search_by_name(
                _words(rng, 2), limit=10
            )
        else:
            hits = await DocumentRepository(session).search(_words(rng, 2), limit=10)
    return "hits" if hits else "no hits"


async def op_analytics(soak: Soak, n: int, rng: random.Random) -> str:
    async with soak.engine.session() as session:
        analytics = AnalyticsRepository(session)
        if rng.random() < 0.5:
            await analytics.project_metrics()
            return "project_metrics"
        await analytics.document_usage_stats()
        return "document_usage_stats"


OPERATIONS: dict[str, Operation] = {
    "create": op_create,
    "get_by_id": op_get_by_id,
    "update": op_update,
    "update_retry": op_update_retry,
    "append_message": op_append_message,
    "list": op_list,
    "search": op_search,
    "analytics": op_analytics,
}


async def worker(soak: Soak, rng: random.Random) -> None:
    kinds = list(MIX)
    weights = list(MIX.values())
    while (n := soak.claim()) is not None:
        await soak.sample_if_due(n)
        kind = rng.choices(kinds, weights)[0]
        started = time.perf_counter()
        try:
            outcome = await OPERATIONS[kind](soak, n, rng)
        except Exception as error:  # every unexpected error is a failed check
            outcome = "error"
            if len(soak.errors) < 20:
                soak.errors.append(f"operation {n} ({kind}): {type(error).__name__}: {error}")
        soak.latencies[kind].append(time.perf_counter() - started)
        soak.outcomes[kind][outcome] += 1


async def seed_database(engine: DatabaseEngine, config: SoakConfig) -> tuple[list[int], list[int]]:
    """Projects, one conversation and one document each: the rows the soak reads,
    updates and appends to."""
    rng = random.Random(config.seed)
    async with engine.session() as session:
        projects = await ProjectRepository(session).bulk_create(
            [project_data(rng, f"seed {i}") for i in range(config.seed_projects)]
        )
        conversations = await ConversationRepository(session).bulk_create(
            [{"project_id": p.id, "title": f"talk {p.id}"} for p in projects]
        )
        await DocumentRepository(session).bulk_create(
            [document_data(rng, p.id, f"{_words(rng, 3)} {p.id}") for p in projects]
        )
    return [p.id for p in projects], [c.id for c in conversations]


# -- the checks ------------------------------------------------------------------------------


async def pool_whole_problems(engine: DatabaseEngine) -> list[str]:
    """Nothing checked out or waiting, and every connection can be lent at once."""
    problems = []
    stats = engine.stats()
    if (stats.checked_out, stats.waiters) != (0, 0):
        problems.append(f"pool: {stats.checked_out} checked out, {stats.waiters} waiting")
    capacity = stats.pool_size + stats.max_overflow
    try:
        async with AsyncExitStack() as stack:
            with anyio.fail_after(10):
                sessions = [
                    await stack.enter_async_context(engine.session()) for _ in range(capacity)
                ]
            for index, session in enumerate(sessions):
                if await session.execute("SELECT ? AS i", [index]) != [{"i": index}]:
                    problems.append(f"pool: connection {index} answered wrongly")
    except TimeoutError:
        problems.append(f"pool: could not lend all {capacity} connections at once")
    stats = engine.stats()
    if (stats.checked_out, stats.waiters) != (0, 0):
        problems.append(f"pool after lending all: {stats.checked_out} out, {stats.waiters} waiting")
    return problems


#: Every row whose version is not its number of create + update audit entries
#: (an appended message's entry, whose changes name the message, leaves the
#: version alone), or that has not exactly one create entry (live and
#: soft-deleted rows alike).
AUDIT_MISMATCHES = """
WITH trail AS (
    SELECT entity, entity_id,
           count(*) FILTER (WHERE action = 'create') AS creates,
           count(*) FILTER (WHERE action IN ('create', 'update')
                            AND (changes->'message') IS NULL) AS writes
    FROM audit_log GROUP BY ALL
),
row_versions AS (
    SELECT 'project' AS entity, id, version FROM projects
    UNION ALL SELECT 'conversation', id, version FROM conversations
    UNION ALL SELECT 'document', id, version FROM documents
    UNION ALL SELECT 'repository', id, version FROM repositories
)
SELECT r.entity, r.id, r.version, coalesce(t.creates, 0) AS creates,
       coalesce(t.writes, 0) AS writes
FROM row_versions AS r
LEFT JOIN trail AS t ON t.entity = r.entity AND t.entity_id = r.id
WHERE coalesce(t.writes, 0) <> r.version OR coalesce(t.creates, 0) <> 1
ORDER BY r.entity, r.id
LIMIT 10
"""

#: Audit entries naming a row that does not exist (the soak deletes nothing for good).
ORPHAN_AUDIT = """
SELECT a.entity, a.entity_id, count(*) AS entries
FROM audit_log AS a
WHERE NOT EXISTS (
    SELECT 1 FROM (
        SELECT 'project' AS entity, id FROM projects
        UNION ALL SELECT 'conversation', id FROM conversations
        UNION ALL SELECT 'document', id FROM documents
        UNION ALL SELECT 'repository', id FROM repositories
    ) AS r
    WHERE r.entity = a.entity AND r.id = a.entity_id
)
GROUP BY ALL ORDER BY ALL LIMIT 10
"""

#: Conversations start empty and only receive appends, each audited with the
#: message's position: every message has exactly its entry and every entry its
#: message, or an append was lost (or half-written).
LOST_MESSAGES = """
WITH appended AS (
    SELECT entity_id AS conversation_id,
           CAST(changes->>'$.message.position' AS BIGINT) AS position
    FROM audit_log
    WHERE entity = 'conversation' AND (changes->'message') IS NOT NULL
)
SELECT coalesce(m.conversation_id, a.conversation_id) AS conversation_id,
       coalesce(m.position, a.position) AS position,
       m.position IS NULL AS entry_without_message,
       a.position IS NULL AS message_without_entry
FROM messages AS m
FULL JOIN appended AS a USING (conversation_id, position)
WHERE m.position IS NULL OR a.position IS NULL
ORDER BY ALL LIMIT 10
"""


async def audit_problems(engine: DatabaseEngine) -> list[str]:
    problems = []
    for what, sql in (
        ("rows whose version does not match their audit trail", AUDIT_MISMATCHES),
        ("audit entries without their row", ORPHAN_AUDIT),
        ("conversations whose messages do not match their version", LOST_MESSAGES),
    ):
        rows = await engine.execute_raw(sql)
        if rows:
            problems.append(f"audit: {what} (first {len(rows)}): {rows}")
    return problems


def resource_problems(result: SoakResult) -> list[str]:
    problems = []
    if result.rss_growth >= RSS_GROWTH_LIMIT:
        problems.append(
            f"memory: RSS grew {result.rss_growth:+.1%} after the warm-up "
            f"({result.rss_warmup_kib / 1024:.1f} -> {result.rss_end_kib / 1024:.1f} MiB, "
            f"medians; limit {RSS_GROWTH_LIMIT:+.0%})"
        )
    if result.max_fds_after > result.max_fds_warmup:
        problems.append(
            f"fds: up to {result.max_fds_after} open after the warm-up, "
            f"at most {result.max_fds_warmup} before"
        )
    if result.max_threads_after > result.max_threads_warmup + THREAD_SLACK:
        problems.append(
            f"threads: up to {result.max_threads_after} after the warm-up, "
            f"at most {result.max_threads_warmup} before"
        )
    return problems


def outcome_problems(soak: Soak) -> list[str]:
    problems = list(soak.errors)
    errors = sum(outcomes["error"] for outcomes in soak.outcomes.values())
    if errors > len(soak.errors):
        problems.append(f"{errors} operations failed in all (the first {len(soak.errors)} above)")
    done = sum(len(durations) for durations in soak.latencies.values())
    if done != soak.config.ops:
        problems.append(f"ran {done} operations, not {soak.config.ops}")
    return problems


# -- figures ---------------------------------------------------------------------------------


def percentile(sorted_values: Sequence[float], fraction: float) -> float:
    index = min(len(sorted_values) - 1, round(fraction * (len(sorted_values) - 1)))
    return sorted_values[index]


def kind_figures(soak: Soak, seconds: float) -> list[KindFigures]:
    figures = []
    for kind in MIX:
        durations = sorted(soak.latencies.get(kind, []))
        if not durations:
            continue
        figures.append(
            KindFigures(
                kind=kind,
                count=len(durations),
                ops_per_second=len(durations) / seconds,
                p50_ms=1000 * percentile(durations, 0.50),
                p99_ms=1000 * percentile(durations, 0.99),
                outcomes=dict(soak.outcomes[kind]),
            )
        )
    return figures


def summarize(soak: Soak, seconds: float, end: Sample, backend: str) -> SoakResult:
    warmup_ops = soak.config.warmup_ops
    samples = sorted(soak.samples, key=lambda s: s.op)  # tasks may append out of order
    before = [s for s in samples if s.op <= warmup_ops]
    after = [s for s in samples if s.op > warmup_ops] + [end]
    warmup = next(s for s in samples if s.op == warmup_ops)
    return SoakResult(
        config=soak.config,
        backend=backend,
        seconds=seconds,
        kinds=kind_figures(soak, seconds),
        warmup=warmup,
        end=end,
        max_fds_warmup=max(s.fds for s in before),
        max_fds_after=max(s.fds for s in after),
        max_threads_warmup=max(s.os_threads for s in before),
        max_threads_after=max(s.os_threads for s in after),
        max_rss_after_kib=max(s.rss_kib for s in after),
        rss_warmup_kib=int(statistics.median(s.rss_kib for s in before[-RSS_WINDOW:])),
        rss_end_kib=int(statistics.median(s.rss_kib for s in after[-RSS_WINDOW:])),
        samples=samples,
    )


def report(result: SoakResult) -> str:
    config = result.config
    lines = [
        f"soak: {config.ops:,} operations, {config.tasks} tasks, {result.backend}, "
        f"seed {config.seed}, pool {config.pool_size}+{config.max_overflow}, "
        f"{result.seconds:.1f} s ({config.ops / result.seconds:,.0f} ops/s)",
        "",
        f"| {'kind':<12} | {'count':>7} | {'ops/s':>7} | {'p50 ms':>7} | {'p99 ms':>8} | outcomes",
        f"| {'-' * 12} | {'-' * 7}:| {'-' * 6}:| {'-' * 6}:| {'-' * 7}:| ---",
    ]
    for k in result.kinds:
        outcomes = ", ".join(f"{name} {count:,}" for name, count in sorted(k.outcomes.items()))
        lines.append(
            f"| {k.kind:<12} | {k.count:>7,} | {k.ops_per_second:>7,.1f} | {k.p50_ms:>7.2f} "
            f"| {k.p99_ms:>8.2f} | {outcomes}"
        )
    w, e = result.warmup, result.end
    lines += [
        "",
        f"RSS:     {result.rss_warmup_kib / 1024:,.1f} MiB at warm-up end (op {w.op:,}), "
        f"{result.rss_end_kib / 1024:,.1f} MiB at the end ({result.rss_growth:+.1%}, checked: "
        f"limit {RSS_GROWTH_LIMIT:+.0%}; medians of the last samples of each; "
        f"max after warm-up {result.max_rss_after_kib / 1024:,.1f} MiB)",
        f"DuckDB:  {w.duckdb_kib / 1024:,.1f} MiB at warm-up end, {e.duckdb_kib / 1024:,.1f} MiB "
        f"at the end (its buffer manager, part of RSS; memory_limit {config.memory_limit})",
        f"fds:     {w.fds} at warm-up end, max {result.max_fds_warmup} up to it, "
        f"max {result.max_fds_after} after, {e.fds} at the end",
        f"threads: {w.os_threads} at warm-up end (Python {w.py_threads}), max "
        f"{result.max_threads_warmup} up to it, max {result.max_threads_after} after, "
        f"{e.os_threads} at the end (Python {e.py_threads})",
        f"pool:    {e.open_connections} open, {e.checked_out} checked out, "
        f"{e.waiters} waiting at the end; max waiters sampled "
        f"{max(s.waiters for s in result.samples)}",
        "",
    ]
    if result.failures:
        lines.append(f"FAILED ({len(result.failures)}):")
        lines += [f"  - {failure}" for failure in result.failures]
    else:
        lines.append("all checks passed: memory, fds, threads, pool whole, audit matches rows")
    return "\n".join(lines)


# -- the run ---------------------------------------------------------------------------------


#: Threads the count may exceed its warm-up peak by (see the module docstring);
#: a thread leaked per call would exceed it within a few calls.
THREAD_SLACK = 2


async def prime(engine: DatabaseEngine) -> None:
    """Lend every connection at once and run a statement on each at the same
    time, so the pool's connections and the worker threads are all in place
    before the warm-up is counted. (The operations alone may never reach their
    peak during a short warm-up: coalesced reads and group commit serve many
    concurrent calls with one worker thread.)"""
    stats = engine.stats()
    capacity = stats.pool_size + stats.max_overflow

    async def busy() -> None:
        async with engine.session() as session:
            await session.execute("SELECT count(*) FROM range(3000000)")

    async with anyio.create_task_group() as group:
        for _ in range(capacity):
            group.start_soon(busy)


async def soak_in(directory: Path, config: SoakConfig) -> SoakResult:
    backend = sniffio.current_async_library()
    async with DatabaseEngine(
        directory / "soak.duckdb",
        pool_size=config.pool_size,
        max_overflow=config.max_overflow,
        pool_timeout=120,
        memory_limit=config.memory_limit,
        temp_directory=str(directory / "spill"),
    ) as engine:
        project_ids, conversation_ids = await seed_database(engine, config)
        await prime(engine)
        soak = Soak(config, engine, project_ids, conversation_ids)
        soak.sample_every = max(1, config.ops // SAMPLES)
        started = soak.started = time.perf_counter()
        async with anyio.create_task_group() as group:
            for index in range(config.tasks):
                group.start_soon(worker, soak, random.Random(config.seed * 1000 + index))
        seconds = time.perf_counter() - started
        result = summarize(soak, seconds, await take_sample(config.ops, engine), backend)
        result.failures += outcome_problems(soak)
        result.failures += resource_problems(result)
        result.failures += await pool_whole_problems(engine)
        result.failures += await audit_problems(engine)
    return result


async def run_soak(config: SoakConfig) -> SoakResult:
    """Run the soak under the current event loop; the figures and failed checks."""
    if config.directory is not None:
        return await soak_in(config.directory, config)
    with tempfile.TemporaryDirectory(prefix="soak-") as directory:
        return await soak_in(Path(directory), config)


def parse_args(argv: Sequence[str] | None) -> tuple[SoakConfig, str]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--ops", type=int, default=FULL_OPS, help="operations in all")
    size.add_argument(
        "--quick", action="store_true", help=f"CI size: {QUICK_OPS:,} operations (about a minute)"
    )
    parser.add_argument("--tasks", type=int, default=TASKS)
    parser.add_argument("--seed", type=int, default=SoakConfig.seed)
    parser.add_argument("--backend", choices=["asyncio", "trio"], default="asyncio")
    parser.add_argument("--seed-projects", type=int, default=SoakConfig.seed_projects)
    parser.add_argument("--memory-limit", default=SoakConfig.memory_limit)
    parser.add_argument("--directory", type=Path, help="keep the database file here")
    args = parser.parse_args(argv)
    config = SoakConfig(
        ops=QUICK_OPS if args.quick else args.ops,
        tasks=args.tasks,
        seed=args.seed,
        seed_projects=args.seed_projects,
        memory_limit=args.memory_limit,
        directory=args.directory,
        progress=True,
    )
    return config, args.backend


def main(argv: Sequence[str] | None = None) -> int:
    config, backend = parse_args(argv)
    result = anyio.run(run_soak, config, backend=backend)
    print(report(result), flush=True)
    return 0 if result.passed else 1


if __name__ == "__main__":
    sys.exit(main())

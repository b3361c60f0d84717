"""A small benchmark harness: the library beside a baseline, side by side, one run.

Each benchmark times the library operation and a baseline on the same data in
the same run, and reports both throughputs and their ratio (library /
baseline). Mostly the baseline is the equivalent raw DuckDB code (the same SQL,
synchronous, on its own connection of the same database; 1.0 means no
overhead); some benchmarks compare with something else (SQLAlchemy's ORM, or
the library itself on an empty conversation), and ``Result.baseline`` says
which. Each side's figure is its median single call over alternating rounds (or
the median of rounds, where one operation is a whole job), so a noisy neighbour
on a shared machine moves them less.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

import duckdb

# What a benchmark's library figure is divided by (``Result.baseline``). A
# target names one of these, and a result is only judged against a target with
# the same baseline, so a ratio cannot silently change its meaning.
#: The same SQL run by hand on a synchronous duckdb connection of the same database.
RAW_DUCKDB = "raw DuckDB"
#: The plain one-statement query (filter, ORDER BY, LIMIT) run by hand.
RAW_ONE_STATEMENT = "raw DuckDB, one statement"
#: The same library call on an empty conversation, in the same run.
EMPTY_CONVERSATION = "empty conversation"
#: SQLAlchemy 2 ORM bulk INSERT through duckdb_engine into a DuckDB file, same run.
SQLALCHEMY_ORM = "SQLAlchemy ORM bulk insert"
#: The same library call on an engine with ``coalesce_reads=False`` and
#: ``group_commit=False``: exactly the previous release's path, same run.
UNBATCHED = "library without batching"
#: The same library call on an engine with no query listener, same run.
UNLISTENED = "library without listener"


@dataclass
class Result:
    """One benchmark's figures. ``benchmark`` is its key in ``run.BENCHMARKS``
    and ``targets.TARGETS``; ``name`` is the label shown (it may carry sizes)."""

    benchmark: str
    name: str
    unit: str
    library_per_second: float
    baseline_per_second: float
    baseline: str = RAW_DUCKDB
    notes: str = ""
    #: Further figures worth keeping (not judged), e.g. a raw DuckDB rate beside a peer's.
    extra: dict[str, float] = field(default_factory=dict)
    #: (x, y) points for a chart, e.g. (messages in the conversation, ms per append).
    curve: list[tuple[float, float]] = field(default_factory=list)

    @property
    def ratio(self) -> float:
        return self.library_per_second / self.baseline_per_second


@dataclass
class PeerResult:
    """One operation done by the library and by each peer on the same data:
    operations per second by implementation, the library first."""

    operation: str
    unit: str
    rates: dict[str, float]
    notes: str = ""


def time_sync(operation: Callable[[], object], repeat: int, rounds: int = 5) -> float:
    """Operations per second of a synchronous callable (median of rounds)."""
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        for _ in range(repeat):
            operation()
        samples.append(repeat / (time.perf_counter() - started))
    return statistics.median(samples)


async def time_async(
    operation: Callable[[], Awaitable[object]], repeat: int, rounds: int = 5
) -> float:
    """Operations per second of an async callable (median of rounds)."""
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        for _ in range(repeat):
            await operation()
        samples.append(repeat / (time.perf_counter() - started))
    return statistics.median(samples)


async def compare(
    library: Callable[[], Awaitable[object]],
    raw: Callable[[], object],
    repeat: int,
    rounds: int = 5,
) -> tuple[float, float]:
    """Operations per second of the library and of raw DuckDB: one over the
    median time of a single call, over every call of every round.

    Rounds alternate (library first, then raw first, ...), so a neighbour that
    slows the machine for a while slows both sides alike instead of one; and
    the median call, unlike a round's mean, is not moved by the few calls a
    neighbour, a garbage collection or a checkpoint happened to stall (the
    library side, which wakes a thread per call, suffers those more).
    """
    library_times: list[float] = []
    raw_times: list[float] = []
    clock = time.perf_counter
    for round_number in range(rounds):

        async def library_round() -> None:
            for _ in range(repeat):
                started = clock()
                await library()
                library_times.append(clock() - started)

        def raw_round() -> None:
            for _ in range(repeat):
                started = clock()
                raw()
                raw_times.append(clock() - started)

        if round_number % 2 == 0:
            await library_round()
            raw_round()
        else:
            raw_round()
            await library_round()
    return 1 / statistics.median(library_times), 1 / statistics.median(raw_times)


async def compare_many(
    operations: Mapping[str, Callable[[], Awaitable[object]]], repeat: int, rounds: int = 5
) -> dict[str, float]:
    """Operations per second of each async callable (medians of rounds), by name.

    Each round runs every callable once, starting one further along than the
    round before, so none is always first or last while a neighbour is busy.
    """
    names = list(operations)
    samples: dict[str, list[float]] = {name: [] for name in names}
    for round_number in range(rounds):
        shift = round_number % len(names)
        for name in names[shift:] + names[:shift]:
            operation = operations[name]
            started = time.perf_counter()
            for _ in range(repeat):
                await operation()
            samples[name].append(repeat / (time.perf_counter() - started))
    return {name: statistics.median(samples[name]) for name in names}


def fetch_all(
    connection: duckdb.DuckDBPyConnection, sql: str, params: dict[str, object]
) -> list[tuple[object, ...]]:
    return connection.execute(sql, params).fetchall()

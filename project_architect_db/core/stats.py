"""What ``engine.stats()`` reports: pool counters, per-query timings, and how
many calls were served together (coalesced reads, group commit)."""

from __future__ import annotations

import threading

from pydantic import BaseModel, ConfigDict, computed_field

__all__ = [
    "BatchCounter",
    "BatchStats",
    "EngineStats",
    "PoolStats",
    "QueryStats",
    "QueryStatsRecorder",
]


class QueryStats(BaseModel):
    """Timings of one named query since the engine opened."""

    model_config = ConfigDict(frozen=True)

    calls: int
    total_seconds: float
    max_seconds: float


class PoolStats(BaseModel):
    """A snapshot of the connection pool."""

    model_config = ConfigDict(frozen=True)

    pool_size: int
    max_overflow: int
    open_connections: int
    checked_out: int
    idle: int
    overflow_in_use: int
    waiters: int
    total_acquisitions: int
    acquisition_timeouts: int


class BatchStats(BaseModel):
    """Calls served together since the engine opened: point reads coalesced into
    one statement, or auto-commit writes committed in one transaction."""

    model_config = ConfigDict(frozen=True)

    batches: int
    """Statements (reads) or transactions (writes) that served callers, a lone
    call's own included."""
    calls: int
    """Calls they served."""
    max_size: int
    """The most calls one batch served."""
    waits: int
    """Calls that queued behind a running batch instead of running at once."""
    wait_seconds: float
    """The time those calls spent queued, in total."""
    retried: int = 0
    """Writes only: calls taken out of a group because they failed in a way that
    aborts a transaction, and run again alone."""

    @computed_field  # type: ignore[prop-decorator]
    @property
    def mean_size(self) -> float:
        """Calls per batch (0.0 before the first)."""
        return self.calls / self.batches if self.batches else 0.0


class BatchCounter:
    """The counters behind one ``BatchStats``; changed on the event loop only."""

    __slots__ = ("batches", "calls", "max_size", "retried", "wait_seconds", "waits")

    def __init__(self) -> None:
        self.batches = 0
        self.calls = 0
        self.max_size = 0
        self.waits = 0
        self.wait_seconds = 0.0
        self.retried = 0

    def served(self, size: int) -> None:
        self.batches += 1
        self.calls += size
        self.max_size = max(self.max_size, size)

    def waited(self, seconds: float) -> None:
        self.waits += 1
        self.wait_seconds += seconds

    def snapshot(self) -> BatchStats:
        return BatchStats(
            batches=self.batches,
            calls=self.calls,
            max_size=self.max_size,
            waits=self.waits,
            wait_seconds=self.wait_seconds,
            retried=self.retried,
        )


class EngineStats(PoolStats):
    """The pool snapshot, timings of every named query that has run, and the
    batching of concurrent calls."""

    queries: dict[str, QueryStats]
    coalesced_reads: BatchStats
    """``get_by_id`` calls of auto-commit sessions and the statements that served them."""
    group_commits: BatchStats
    """Auto-commit ``create``, ``update`` and ``append_message`` calls and the
    transactions that committed them."""


class QueryStatsRecorder:
    """Per-query counters, written from worker threads, read from the event loop."""

    __slots__ = ("_lock", "_stats")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # name -> [calls, total seconds, max seconds]
        self._stats: dict[str, list[float]] = {}

    def record(self, name: str, seconds: float) -> None:
        with self._lock:
            entry = self._stats.get(name)
            if entry is None:
                self._stats[name] = [1, seconds, seconds]
            else:
                entry[0] += 1
                entry[1] += seconds
                if seconds > entry[2]:
                    entry[2] = seconds

    def snapshot(self) -> dict[str, QueryStats]:
        with self._lock:
            items = [(name, tuple(entry)) for name, entry in self._stats.items()]
        return {
            name: QueryStats(calls=int(calls), total_seconds=total, max_seconds=worst)
            for name, (calls, total, worst) in sorted(items)
        }

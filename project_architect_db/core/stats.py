"""What ``engine.stats()`` reports: pool counters and per-query timings."""

from __future__ import annotations

import threading

from pydantic import BaseModel, ConfigDict

__all__ = ["EngineStats", "PoolStats", "QueryStats", "QueryStatsRecorder"]


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


class EngineStats(PoolStats):
    """The pool snapshot plus timings of every named query that has run."""

    queries: dict[str, QueryStats]


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

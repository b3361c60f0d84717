"""What ``engine.stats()`` reports: pool counters, per-query timings, and how
many calls were served together (coalesced reads, group commit)."""

from __future__ import annotations

import math
import threading

from pydantic import BaseModel, ConfigDict, computed_field

__all__ = [
    "BatchCounter",
    "BatchStats",
    "EngineStats",
    "LatencyHistogram",
    "PoolStats",
    "QueryStats",
    "QueryStatsRecorder",
]


class QueryStats(BaseModel):
    """Timings of one named query since the engine opened (or ``reset_stats()``).

    A statement's time runs from sending it to having read its rows. The
    percentiles come from a fixed-size histogram (constant memory however many
    calls): each is within 2% of the exact nearest-rank percentile of the
    recorded times.
    """

    model_config = ConfigDict(frozen=True)

    calls: int
    """Statements run, failed ones included."""
    total_seconds: float
    max_seconds: float
    errors: int = 0
    """Statements that raised (timeouts included)."""
    timeouts: int = 0
    """Statements interrupted because their call passed ``statement_timeout``."""
    p50: float = 0.0
    """Median duration in seconds."""
    p95: float = 0.0
    p99: float = 0.0


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

    def reset(self) -> None:
        self.batches = self.calls = self.max_size = self.waits = self.retried = 0
        self.wait_seconds = 0.0

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


class LatencyHistogram:
    """Counts of durations in logarithmic buckets: constant memory, percentiles
    within ``RELATIVE_ERROR`` of the exact ones.

    Bucket ``i`` holds durations in ``(GAMMA**(i-1), GAMMA**i]`` seconds and
    answers with the value whose relative distance to both ends is
    ``RELATIVE_ERROR`` (the scheme of DDSketch). Durations from 1 us to about
    3 hours get their own buckets (577 at most, kept sparse); shorter and
    longer ones share the end buckets. The lowest and highest rank answer the
    smallest and largest duration exactly, and every answer lies between them.
    """

    RELATIVE_ERROR = 0.02
    GAMMA = (1 + RELATIVE_ERROR) / (1 - RELATIVE_ERROR)
    _LOG_GAMMA = math.log(GAMMA)
    _LOWEST = math.ceil(math.log(1e-6) / _LOG_GAMMA)
    _HIGHEST = math.ceil(math.log(1e4) / _LOG_GAMMA)

    __slots__ = ("_buckets", "count", "largest", "smallest")

    def __init__(self) -> None:
        self._buckets: dict[int, int] = {}
        self.count = 0
        self.smallest = math.inf
        self.largest = 0.0

    def add(self, seconds: float) -> None:
        if seconds > 0.0:
            index = math.ceil(math.log(seconds) / self._LOG_GAMMA)
            index = min(max(index, self._LOWEST), self._HIGHEST)
        else:
            index = self._LOWEST
        self._buckets[index] = self._buckets.get(index, 0) + 1
        self.count += 1
        self.smallest = min(self.smallest, seconds)
        self.largest = max(self.largest, seconds)

    def percentile(self, fraction: float) -> float:
        """The nearest-rank percentile (``fraction`` in (0, 1]); 0.0 when empty."""
        if not self.count:
            return 0.0
        rank = max(1, math.ceil(fraction * self.count))
        if rank == 1:
            return self.smallest
        if rank == self.count:
            return self.largest
        seen = 0
        for index in sorted(self._buckets):
            seen += self._buckets[index]
            if seen >= rank:
                estimate = 2 * self.GAMMA**index / (self.GAMMA + 1)
                return min(max(estimate, self.smallest), self.largest)
        return self.largest  # pragma: no cover (the counts add up to count)


class _QueryTimings:
    """What the recorder keeps for one named query."""

    __slots__ = ("calls", "errors", "histogram", "max_seconds", "timeouts", "total_seconds")

    def __init__(self) -> None:
        self.calls = 0
        self.errors = 0
        self.timeouts = 0
        self.total_seconds = 0.0
        self.max_seconds = 0.0
        self.histogram = LatencyHistogram()

    def snapshot(self) -> QueryStats:
        histogram = self.histogram
        return QueryStats(
            calls=self.calls,
            total_seconds=self.total_seconds,
            max_seconds=self.max_seconds,
            errors=self.errors,
            timeouts=self.timeouts,
            p50=histogram.percentile(0.50),
            p95=histogram.percentile(0.95),
            p99=histogram.percentile(0.99),
        )


class QueryStatsRecorder:
    """Per-query counters, written from worker threads, read from the event loop."""

    __slots__ = ("_lock", "_stats")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._stats: dict[str, _QueryTimings] = {}

    def record(
        self, name: str, seconds: float, *, failed: bool = False, timed_out: bool = False
    ) -> None:
        with self._lock:
            timings = self._stats.get(name)
            if timings is None:
                timings = self._stats[name] = _QueryTimings()
            timings.calls += 1
            timings.total_seconds += seconds
            if seconds > timings.max_seconds:
                timings.max_seconds = seconds
            if failed:
                timings.errors += 1
                if timed_out:
                    timings.timeouts += 1
            timings.histogram.add(seconds)

    def snapshot(self) -> dict[str, QueryStats]:
        with self._lock:
            return {name: self._stats[name].snapshot() for name in sorted(self._stats)}

    def reset(self) -> None:
        with self._lock:
            self._stats.clear()

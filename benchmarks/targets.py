"""The benchmark targets, in one place: for each gated benchmark, the ratio it
must reach and what it is compared with.

A ratio is always library throughput divided by the baseline's throughput in
the same run (higher is better). Benchmarks missing here are reported but never
judged. README's Performance section shows the same table.
"""

from __future__ import annotations

from dataclasses import dataclass

from harness import EMPTY_CONVERSATION, RAW_DUCKDB, RAW_ONE_STATEMENT, SQLALCHEMY_ORM, UNBATCHED


@dataclass(frozen=True)
class Target:
    #: library / baseline must reach this; below half of it is a gross regression.
    minimum: float
    #: What the library is divided by (a ``harness`` baseline name).
    baseline: str
    #: The contract in words.
    meaning: str

    @property
    def fail_below(self) -> float:
        """Ratios under this fail the gate (noise moves ratios, but not by half)."""
        return self.minimum / 2


TARGETS: dict[str, Target] = {
    "get_by_id": Target(0.8, RAW_DUCKDB, ">= 0.8x raw DuckDB running the same statement by hand"),
    "create": Target(
        0.8, RAW_DUCKDB, ">= 0.8x raw DuckDB doing the same writes (row + audit + terms)"
    ),
    "update": Target(
        0.8, RAW_DUCKDB, ">= 0.8x raw DuckDB doing the same read, versioned update and audit"
    ),
    "list": Target(
        1.5, RAW_ONE_STATEMENT, ">= 1.5x raw DuckDB's one-statement query (100 rows, filtered)"
    ),
    "append_message": Target(
        0.8,
        EMPTY_CONVERSATION,
        ">= 0.8x the same append on an empty conversation "
        "(at 100,000 messages; the quick run's longest is 10,000)",
    ),
    "bulk_create": Target(
        3.0,
        SQLALCHEMY_ORM,
        ">= 3x SQLAlchemy ORM bulk insert of the same rows in the same run "
        "(validated, audited, indexed, one transaction)",
    ),
    # Throughput under load (issue 13): many calls, fewer statements.
    "concurrent_get": Target(
        3.0,
        RAW_DUCKDB,
        ">= 3x one raw DuckDB connection doing the same lookups one by one "
        "(16 tasks, pool of 4, a session per call)",
    ),
    "concurrent_create": Target(
        2.0,
        RAW_DUCKDB,
        ">= 2x one raw DuckDB connection doing the same inserts (row + audit + terms) "
        "one by one (16 tasks)",
    ),
    "lone_get_by_id": Target(
        0.95, UNBATCHED, ">= 0.95x the same lone call with coalesce_reads/group_commit off"
    ),
    "lone_create": Target(
        0.95, UNBATCHED, ">= 0.95x the same lone call with coalesce_reads/group_commit off"
    ),
    # Analytics: library time at most 1.1x raw time, i.e. throughput ratio >= 1/1.1.
    "project_metrics": Target(1 / 1.1, RAW_DUCKDB, "time <= 1.1x raw SQL"),
    "time_series": Target(1 / 1.1, RAW_DUCKDB, "time <= 1.1x raw SQL"),
}

"""A small benchmark harness: the library and raw DuckDB side by side, one run.

Each benchmark times the library operation and the equivalent raw DuckDB code
(the same SQL, synchronous, on its own connection of the same database) on the
same data, and reports both throughputs and their ratio (library / raw; 1.0
means no overhead). Timings are medians of several rounds, so a noisy
neighbour on a shared machine moves them less.
"""

from __future__ import annotations

import json
import platform
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import duckdb


@dataclass
class Result:
    name: str
    unit: str
    library_per_second: float
    raw_per_second: float
    notes: str = ""
    extra: dict[str, float] = field(default_factory=dict)

    @property
    def ratio(self) -> float:
        return self.library_per_second / self.raw_per_second


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
    """Operations per second of the library and of raw DuckDB (medians of rounds).

    Rounds alternate (library first, then raw first, ...), so a neighbour that
    slows the machine for a while slows both sides alike instead of one.
    """
    library_samples: list[float] = []
    raw_samples: list[float] = []
    for round_number in range(rounds):

        async def library_round() -> None:
            started = time.perf_counter()
            for _ in range(repeat):
                await library()
            library_samples.append(repeat / (time.perf_counter() - started))

        def raw_round() -> None:
            started = time.perf_counter()
            for _ in range(repeat):
                raw()
            raw_samples.append(repeat / (time.perf_counter() - started))

        if round_number % 2 == 0:
            await library_round()
            raw_round()
        else:
            raw_round()
            await library_round()
    return statistics.median(library_samples), statistics.median(raw_samples)


def fetch_all(
    connection: duckdb.DuckDBPyConnection, sql: str, params: dict[str, object]
) -> list[tuple[object, ...]]:
    return connection.execute(sql, params).fetchall()


def write_report(results: list[Result], directory: Path, title: str) -> tuple[Path, Path]:
    """Write ``results.json`` and ``results.md``; their paths."""
    directory.mkdir(parents=True, exist_ok=True)
    meta = {
        "python": platform.python_version(),
        "duckdb": duckdb.__version__,
        "machine": platform.machine(),
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    json_path = directory / "results.json"
    json_path.write_text(
        json.dumps(
            {"meta": meta, "results": [{**asdict(r), "ratio": r.ratio} for r in results]}, indent=2
        )
    )
    lines = [
        f"# {title}",
        "",
        f"Python {meta['python']}, duckdb {meta['duckdb']}, {meta['when']}.",
        "",
        "| benchmark | library | raw duckdb | ratio | notes |",
        "| --- | ---: | ---: | ---: | --- |",
    ]
    for r in results:
        lines.append(
            f"| {r.name} | {r.library_per_second:,.0f} {r.unit} | {r.raw_per_second:,.0f} {r.unit} "
            f"| {r.ratio:.2f}x | {r.notes} |"
        )
    md_path = directory / "results.md"
    md_path.write_text("\n".join(lines) + "\n")
    return json_path, md_path

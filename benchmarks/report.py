"""``benchmarks/results/results.json`` and ``results.md``: one run's figures,
verdicts and peers, with the machine they were measured on."""

from __future__ import annotations

import json
import os
import platform
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

import duckdb
from gate import Judged, markdown_table
from harness import PeerResult


def machine() -> dict[str, str]:
    """What the figures were measured on and when."""
    return {
        "python": platform.python_version(),
        "duckdb": duckdb.__version__,
        "machine": platform.machine(),
        "cpus": str(os.cpu_count()),
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def write_report(
    directory: Path,
    title: str,
    judged: Sequence[Judged],
    peers: Sequence[PeerResult],
    charts: Sequence[Path],
) -> tuple[Path, Path]:
    """Write ``results.json`` and ``results.md``; their paths."""
    directory.mkdir(parents=True, exist_ok=True)
    meta = machine()
    results = [
        {
            **asdict(j.result),
            "ratio": j.result.ratio,
            "target": j.target.minimum if j.target else None,
            "verdict": j.verdict.value,
        }
        for j in judged
    ]
    json_path = directory / "results.json"
    json_path.write_text(
        json.dumps(
            {
                "meta": meta,
                "results": results,
                "peers": [asdict(p) for p in peers],
            },
            indent=2,
        )
    )
    lines = [
        f"# {title}",
        "",
        f"Python {meta['python']}, duckdb {meta['duckdb']}, {meta['machine']} with "
        f"{meta['cpus']} CPUs, {meta['when']}. Ratio = library ÷ baseline (higher is better); "
        "FAIL = below half the target.",
        "",
        *markdown_table(judged),
    ]
    if peers:
        names = list(dict.fromkeys(name for p in peers for name in p.rates))
        lines += [
            "",
            "## Beside SQLite peers",
            "",
            "| operation | " + " | ".join(names) + " | notes |",
            "| --- | " + " | ".join("---:" for _ in names) + " | --- |",
        ]
        for p in peers:
            cells = [f"{p.rates[n]:,.1f} {p.unit}" if n in p.rates else "-" for n in names]
            lines.append(f"| {p.operation} | " + " | ".join(cells) + f" | {p.notes} |")
    if charts:
        lines += ["", "Charts: " + ", ".join(f"[{c.name}]({c.name})" for c in charts)]
    md_path = directory / "results.md"
    md_path.write_text("\n".join(lines) + "\n")
    return json_path, md_path

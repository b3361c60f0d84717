"""README's worked session for analysts runs as written, line by line, in an
empty directory, with the installed command first on PATH."""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import duckdb

from project_architect_db.core.sql import queries

README = Path(__file__).resolve().parents[2] / "README.md"
MARKER = "<!-- analysts-session:"


def session_lines() -> list[str]:
    text = README.read_text(encoding="utf-8")
    block = re.search(re.escape(MARKER) + r".*?\n```console\n(.*?)\n```", text, re.DOTALL)
    assert block is not None, "README lost its analysts' session"
    return [line[2:] for line in block[1].splitlines() if line.startswith("$ ")]


def test_the_readme_session_runs_as_written(tmp_path: Path) -> None:
    lines = session_lines()
    assert len(lines) >= 10
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "PYTHONWARNINGS": "error",
    }
    outputs = []
    for line in lines:
        done = subprocess.run(
            line, shell=True, cwd=tmp_path, env=env, capture_output=True, text=True, check=False
        )
        assert done.returncode == 0, f"{line}\n{done.stdout}\n{done.stderr}"
        assert "Traceback" not in done.stderr, line
        outputs.append(done.stdout)

    # Each step did what the README says it does.
    assert "time_series" in outputs[1]
    assert "get_project" not in outputs[1]
    assert "-- name: time_series(metric, granularity, start, end)" in outputs[2]
    with (tmp_path / "per_day.csv").open(newline="") as per_day:
        rows = list(csv.DictReader(per_day))
    # Every day from the start given to the demo's day, which holds its three projects.
    assert rows[0]["bucket"].startswith("2026-01-01T00:00:00")
    assert sum(int(row["value"]) for row in rows) == 3
    assert rows[-1]["value"] == "3"
    [project] = json.loads(outputs[4])
    assert project["id"] == 1
    assert project["architecture"]["framework"] == "FastAPI"
    assert f"check-sql: all fine: {len(queries()) + 1} named queries" in outputs[7]
    by_name = outputs[8].splitlines()
    by_file = [json.loads(line) for line in outputs[9].splitlines()]
    assert {row["project_id"] for row in by_file} == {1, 2, 3}
    assert len(by_name) == 2 + len(by_file) + 1  # header, rule, rows, "(N rows)"
    with duckdb.connect(str(tmp_path / "copy.duckdb"), read_only=True) as copy:
        assert copy.execute("SELECT count(*) FROM projects").fetchall() == [(3,)]
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    assert 'data-chart="project_status"' in page

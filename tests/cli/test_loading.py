"""``import-projects`` through the installed command: a good file loads with a
progress bar; a file with bad lines is refused with a summary (how many lines
failed, the first ten errors with their line numbers) and nothing written."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb

from .conftest import Cli


def good(index: int) -> str:
    return json.dumps({"name": f"Project {index}", "project_idea": "A long enough idea text"})


def test_a_good_file_loads_with_a_progress_bar(cli: Cli, tmp_path: Path) -> None:
    source = tmp_path / "projects.jsonl"
    source.write_text("\n".join(good(i) for i in range(25)) + "\n\n", encoding="utf-8")
    database = tmp_path / "app.duckdb"
    done = cli("import-projects", source, "--database", database)
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"imported 25 projects into {database}\n"
    assert "25/25" in done.stderr
    with duckdb.connect(str(database), read_only=True) as connection:
        assert connection.execute("SELECT count(*) FROM projects").fetchall() == [(25,)]


def test_bad_lines_are_summarised_and_nothing_is_written(cli: Cli, tmp_path: Path) -> None:
    lines = [good(i) for i in range(40)]
    kinds = ["{not json", "[1, 2]", json.dumps({"name": ""})]
    for turn, index in enumerate(range(2, 40, 3)):  # 13 bad lines, of three kinds in turn
        lines[index] = kinds[turn % 3]
    source = tmp_path / "projects.jsonl"
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    database = tmp_path / "app.duckdb"

    done = cli("import-projects", source, "--database", database)

    assert done.returncode == 1
    assert done.stdout == ""
    summary = done.stderr.splitlines()
    assert summary[0] == (
        f"13 of 40 lines of {source} failed; nothing was written. Fix them and run the "
        "import again."
    )
    shown = summary[1:11]
    # Lines 9, 18, ... hold {"name": ""}: two errors each (empty name, no project_idea).
    assert [line.split(":")[1] for line in shown] == [
        "3", "6", "9", "9", "12", "15", "18", "18", "21", "24"
    ]  # fmt: skip
    assert (
        shown[0]
        == f"  {source}:3: not JSON (Expecting property name enclosed in double quotes at column 2)"
    )
    assert shown[1] == f"  {source}:6: expected a JSON object, got list"
    assert shown[2].startswith(f"  {source}:9: name: ")
    assert shown[3] == f"  {source}:9: project_idea: Field required"
    assert summary[11] == "  ... and 7 more errors"
    assert len(summary) == 12
    assert not database.exists()  # validated before the database was even opened


def test_a_missing_file_is_a_usage_error(cli: Cli, tmp_path: Path) -> None:
    done = cli("import-projects", tmp_path / "nope.jsonl", "--database", tmp_path / "a.duckdb")
    assert done.returncode == 2
    assert "is not a file" in done.stderr
    assert not (tmp_path / "a.duckdb").exists()

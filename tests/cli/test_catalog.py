"""``queries``, ``show`` and ``copy-sql``, and what every subcommand shares:
``--help``, exit codes, ``python -m`` being the same command."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from project_architect_db.cli import build_parser
from project_architect_db.core.sql import queries, sql_directory

from .conftest import Cli

SUBCOMMANDS = sorted(build_parser()._subparsers._group_actions[0].choices)  # type: ignore[union-attr]


def test_every_issue_subcommand_is_there() -> None:
    assert set(SUBCOMMANDS) >= {
        "queries",
        "show",
        "run",
        "check-sql",
        "snapshot",
        "export",
        "import",
        "report",
        "import-projects",
        "demo",
        "copy-sql",
    }


@pytest.mark.parametrize("command", SUBCOMMANDS)
def test_every_subcommand_has_help(cli: Cli, command: str) -> None:
    done = cli(command, "--help")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"usage: project-architect-db {command}")
    assert len(done.stdout.splitlines()) > 3


def test_python_dash_m_is_the_same_command() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "project_architect_db", "--help"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0
    assert done.stdout.startswith("usage: project-architect-db ")
    assert all(command in done.stdout for command in ("queries", "check-sql", "report"))


@pytest.mark.parametrize(
    "args", [(), ("nonsense",), ("queries", "--format", "xml"), ("show",)], ids=repr
)
def test_usage_errors_exit_2_without_a_traceback(cli: Cli, args: tuple[str, ...]) -> None:
    done = cli(*args)
    assert done.returncode == 2
    assert "usage: project-architect-db" in done.stderr
    assert "Traceback" not in done.stderr


def test_queries_as_json_lists_every_query_with_exactly_the_documented_keys(cli: Cli) -> None:
    done = cli("queries", "--format", "json")
    assert done.returncode == 0, done.stderr
    listed = json.loads(done.stdout)
    assert {item["name"] for item in listed} == set(queries())
    for item in listed:
        assert set(item) == {"name", "parameters", "operation", "file", "line", "doc"}
        query = queries()[item["name"]]
        assert item["parameters"] == list(query.parameters)
        assert item["operation"] == query.operation.value
        assert item["doc"] == query.doc.splitlines()[0]
        header = (sql_directory() / item["file"]).read_text().splitlines()[item["line"] - 1]
        assert header.startswith(f"-- name: {item['name']}")
    by_name = {item["name"]: item for item in listed}
    assert by_name["time_series"] == {
        "name": "time_series",
        "parameters": ["metric", "granularity", "start", "end"],
        "operation": "select",
        "file": "analytics/time_series.sql",
        "line": by_name["time_series"]["line"],
        "doc": by_name["time_series"]["doc"],
    }
    operations = {item["operation"] for item in listed}
    assert operations == {
        "select",
        "select one",
        "select value",
        "insert returning",
        "execute",
        "script",
    }


def test_queries_table_is_aligned_and_grep_narrows_it(cli: Cli) -> None:
    done = cli("queries", "--grep", "ANALYTICS/")
    assert done.returncode == 0, done.stderr
    header, rule, *rows = done.stdout.splitlines()
    assert header.split() == ["name", "parameters", "operation", "file", "comment"]
    assert set(rule) == {"-", " "}
    names = {row.split()[0] for row in rows}
    assert {"project_metrics", "time_series", "conversation_flow"} <= names
    assert "get_project" not in names
    # Columns line up: each column starts where its header does.
    file_column = header.index("file")
    assert all(row[file_column:].startswith("analytics/") for row in rows)
    assert cli("queries", "--grep", "no such thing anywhere").stdout.count("\n") == 2


def test_show_prints_the_query_as_written(cli: Cli) -> None:
    done = cli("show", "project_metrics")
    assert done.returncode == 0, done.stderr
    text = (sql_directory() / "analytics" / "project_metrics.sql").read_text()
    location, body = done.stdout.split("\n", 1)
    assert location == f"-- analytics/project_metrics.sql:{queries()['project_metrics'].line}"
    assert body.strip() == text.strip()  # the file's whole text: header comment, name, SQL


def test_show_unknown_name_suggests_close_ones(cli: Cli) -> None:
    done = cli("show", "project_metric")
    assert done.returncode == 2
    assert "no query named 'project_metric'" in done.stderr
    assert "Did you mean project_metrics" in done.stderr


def test_show_and_queries_read_an_edited_copy(cli: Cli, tmp_path: Path) -> None:
    copy = tmp_path / "sql"
    assert cli("copy-sql", copy).returncode == 0
    (copy / "mine.sql").write_text(
        "-- Mine.\n\n-- name: busy_projects(least)\n-- Projects with many audit entries.\n"
        "SELECT entity_id, count(*) AS n FROM audit_log GROUP BY ALL HAVING count(*) >= :least;\n"
    )
    listed = json.loads(cli("queries", "--sql-dir", copy, "--format", "json").stdout)
    [mine] = [item for item in listed if item["name"] == "busy_projects"]
    assert mine == {
        "name": "busy_projects",
        "parameters": ["least"],
        "operation": "select",
        "file": "mine.sql",
        "line": 3,
        "doc": "Projects with many audit entries.",
    }
    shown = cli("show", "busy_projects", "--sql-dir", copy)
    assert shown.stdout.startswith("-- mine.sql:3\n-- Mine.\n\n-- name: busy_projects(least)")
    assert cli("show", "busy_projects").returncode == 2  # not in the installed files


def test_copy_sql_copies_every_file_and_refuses_an_existing_target(
    cli: Cli, tmp_path: Path
) -> None:
    target = tmp_path / "edit"
    done = cli("copy-sql", target)
    assert done.returncode == 0, done.stderr
    installed = sorted(p.relative_to(sql_directory()) for p in sql_directory().rglob("*.sql"))
    assert sorted(p.relative_to(target) for p in target.rglob("*.sql")) == installed
    again = cli("copy-sql", target)
    assert again.returncode == 2
    assert "already exists" in again.stderr
    missing = cli("copy-sql", tmp_path / "no" / "such")
    assert missing.returncode == 2
    assert "does not exist" in missing.stderr
    assert not (tmp_path / "no").exists()

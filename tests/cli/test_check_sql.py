"""``check-sql``: the installed files pass; an edited copy with a broken query,
a renamed parameter, a wrong suffix, a missing query or a failing migration
fails with ``file:line: query NAME: what is wrong`` and exit code 1."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from project_architect_db.core.sql import load_catalog, migrations, queries, sql_directory
from project_architect_db.postgres.catalog import load_postgres_catalog, twin_hash
from project_architect_db.sqlcheck import check_sql

from .conftest import Cli


@pytest.fixture
def sql_copy(tmp_path: Path) -> Path:
    """An analyst's checkout of the SQL files, free to edit."""
    copy = tmp_path / "sql"
    shutil.copytree(sql_directory(), copy)
    return copy


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def line_of(path: Path, text: str) -> int:
    lines = path.read_text(encoding="utf-8").splitlines()
    return next(number for number, line in enumerate(lines, start=1) if text in line)


def test_the_installed_files_pass(cli: Cli) -> None:
    done = cli("check-sql")
    assert done.returncode == 0, done.stderr
    postgres = load_postgres_catalog()
    assert done.stdout.startswith(
        f"check-sql: all fine: {len(queries())} named queries ({len(postgres.twins)} with a "
        f"PostgreSQL twin), {len(migrations())} migrations ({len(postgres.migrations)} for "
        "PostgreSQL)"
    )
    assert done.stderr == ""


def test_a_broken_query_and_a_renamed_parameter_fail_ci(cli: Cli, sql_copy: Path) -> None:
    projects = sql_copy / "projects.sql"
    # A typo an analyst could make while editing a query the library runs...
    edit(projects, "FROM projects\nWHERE status = :status", "FROM projects\nWHER status = :status")
    # ...and a parameter renamed in the file but not in the code.
    edit(
        sql_copy / "analytics" / "cross_entity.sql",
        "-- name: cross_entity(now)^",
        "-- name: cross_entity(as_of)^",
    )
    cross = (sql_copy / "analytics" / "cross_entity.sql").read_text(encoding="utf-8")
    (sql_copy / "analytics" / "cross_entity.sql").write_text(
        cross.replace(":now", ":as_of"), encoding="utf-8"
    )

    done = cli("check-sql", "--sql-dir", sql_copy)

    assert done.returncode == 1
    broken = line_of(projects, "-- name: projects_by_status")
    renamed = line_of(sql_copy / "analytics" / "cross_entity.sql", "-- name: cross_entity")
    assert f"projects.sql:{broken}: query projects_by_status: DuckDB cannot prepare it" in (
        done.stderr
    )
    assert 'Parser Error: syntax error at or near "status"' in done.stderr
    assert (
        f"analytics/cross_entity.sql:{renamed}: query cross_entity: declares parameters "
        "(as_of) but the library passes (now)"
    ) in done.stderr
    # Its PostgreSQL twin no longer matches either: reviewing it is part of the change.
    assert "postgres/analytics/cross_entity.sql:" in done.stderr
    assert (
        "query cross_entity: takes (now) as select one, but its DuckDB twin "
        "analytics/cross_entity.sql:cross_entity takes (as_of)"
    ) in done.stderr
    assert "check-sql: 3 problem(s)" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_wrong_suffix_and_a_missing_query_are_named(sql_copy: Path) -> None:
    conversations = sql_copy / "conversations.sql"
    edit(
        conversations,
        "-- name: get_conversation(id)^",
        "-- name: get_conversation(id)",
    )
    edit(sql_copy / "audit.sql", "-- name: audit_history(", "-- name: audit_trail(")

    report = check_sql(sql_copy)

    messages = [str(failure) for failure in report.failures]
    header = line_of(conversations, "-- name: get_conversation(")
    assert (
        f"conversations.sql:{header}: query get_conversation: declared as select but the "
        "library runs it as one (expects insert returning or select one); fix its suffix on "
        "the -- name: line"
    ) in messages
    assert any(
        message.startswith(f"{sql_copy}: query audit_history: the library runs it (rows")
        for message in messages
    ), messages
    assert len(messages) == 2, messages


def test_a_failing_migration_stops_before_the_queries(sql_copy: Path) -> None:
    edit(sql_copy / "migrations" / "0002_analytics_summaries.sql", "CREATE TABLE", "CREATE TABEL")

    report = check_sql(sql_copy)

    [failure] = report.failures
    assert failure.location == "migrations/0002_analytics_summaries.sql"
    assert "no query was prepared" in failure.problem
    assert "syntax error" in failure.duckdb_message


def test_files_that_cannot_be_loaded_are_each_named(sql_copy: Path) -> None:
    (sql_copy / "notes.sql").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    (sql_copy / "scratch.sql").write_text("SELECT 1;\n", encoding="utf-8")
    (sql_copy / "twice.sql").write_text(
        "-- name: get_project(id)^\n-- Again.\nSELECT * FROM projects WHERE id = :id;\n",
        encoding="utf-8",
    )

    report = check_sql(sql_copy)

    messages = sorted(str(failure) for failure in report.failures)
    assert messages == [
        "notes.sql: is not UTF-8 text, so not a SQL file",
        "scratch.sql: holds no named query; start each statement with a line "
        "'-- name: query_name(param, ...)'",
        "twice.sql:1: query get_project: defined twice (also at projects.sql:4); rename one",
    ]


def test_a_missing_sql_directory_is_a_usage_error(cli: Cli, tmp_path: Path) -> None:
    done = cli("check-sql", "--sql-dir", tmp_path / "nowhere")
    assert done.returncode == 2
    assert "is not a directory" in done.stderr


def test_a_duckdb_query_changed_after_its_twin_was_reviewed_fails_until_reviewed(
    cli: Cli, sql_copy: Path
) -> None:
    # An analyst makes the DuckDB query also skip archived projects...
    edit(
        sql_copy / "projects.sql",
        "WHERE list_contains(CAST(:ids AS BIGINT[]), id)\n  AND deleted_at IS NULL;",
        "WHERE list_contains(CAST(:ids AS BIGINT[]), id)\n  AND deleted_at IS NULL\n"
        "  AND status <> 'archived';",
    )
    done = cli("check-sql", "--sql-dir", str(sql_copy))
    assert done.returncode == 1
    twin_line = line_of(sql_copy / "postgres" / "projects.sql", "-- name: projects_by_ids(ids)")
    new_hash = twin_hash(load_catalog(sql_copy).queries["projects_by_ids"])
    assert (
        f"postgres/projects.sql:{twin_line}: query projects_by_ids: its DuckDB twin "
        f"projects.sql:projects_by_ids changed since the twin was reviewed (sha256:81174afa92d5 "
        f"then, sha256:{new_hash} now)"
    ) in done.stderr
    assert done.stderr.count("changed since the twin was reviewed") == 1
    # ...reviews the PostgreSQL twin, makes the same change there, records the new hash.
    edit(
        sql_copy / "postgres" / "projects.sql",
        "WHERE id = ANY (CAST(:ids AS bigint[]))\n  AND deleted_at IS NULL;",
        "WHERE id = ANY (CAST(:ids AS bigint[]))\n  AND deleted_at IS NULL\n"
        "  AND status <> 'archived';",
    )
    edit(sql_copy / "postgres" / "projects.sql", "sha256:81174afa92d5", f"sha256:{new_hash}")
    done = cli("check-sql", "--sql-dir", str(sql_copy))
    assert done.returncode == 0, done.stderr


def test_a_comment_change_needs_no_review(sql_copy: Path) -> None:
    edit(
        sql_copy / "projects.sql",
        "-- in one statement (coalesced reads).",
        "-- in one statement (coalesced reads; see core/coalesce.py).",
    )
    assert check_sql(sql_copy).ok


@pytest.mark.parametrize(
    ("old", "new", "problem"),
    [
        (
            "-- twin-of: projects.sql:projects_by_ids sha256:81174afa92d5\n",
            "",
            "a PostgreSQL twin must say which DuckDB query it stands for",
        ),
        (
            "-- twin-of: projects.sql:projects_by_ids sha256:",
            "-- twin-of: documents.sql:projects_by_ids sha256:",
            "its twin-of line names documents.sql:projects_by_ids, but the DuckDB query of that "
            "name is projects.sql:projects_by_ids",
        ),
        (
            "-- name: projects_by_ids(ids)\n",
            "-- name: projects_by_ids(ids)^\n",
            "takes (ids) as select one, but its DuckDB twin projects.sql:projects_by_ids "
            "takes (ids) as select; they must match",
        ),
    ],
)
def test_a_twin_that_does_not_match_its_duckdb_query_is_named(
    sql_copy: Path, old: str, new: str, problem: str
) -> None:
    edit(sql_copy / "postgres" / "projects.sql", old, new)
    report = check_sql(sql_copy)
    assert [failure.query for failure in report.failures] == [None]
    [failure] = report.failures
    assert failure.location.startswith("postgres/projects.sql:")
    assert problem in failure.problem

"""``snapshot``, ``export`` and ``import`` through the installed command, against
real DuckDB files.

A round trip (export in either format, import into a new file) must keep every
row exactly, the schema, the sequences (the next create gets the same id) and
the full-text search answers; a hypothesis test states it for generated data
(in-process, for speed). Every bad input exits 2 (usage) or 1 (database) with a
one-paragraph message, and writes nothing.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from project_architect_db import (
    ConversationRepository,
    DatabaseEngine,
    DocumentRepository,
    ProjectRepository,
)
from project_architect_db.cli import main

from .conftest import Cli

Contents = dict[str, list[tuple[Any, ...]]]


# -- helpers -----------------------------------------------------------------------------


def contents(path: Path) -> Contents:
    """Every table's rows, in a fixed order."""
    with duckdb.connect(str(path), read_only=True) as db:
        db.execute("SET TimeZone = 'UTC'")
        tables = [
            row[0]
            for row in db.execute(
                "SELECT table_name FROM duckdb_tables() ORDER BY table_name"
            ).fetchall()
        ]
        return {t: db.execute(f'SELECT * FROM "{t}" ORDER BY ALL').fetchall() for t in tables}


def schema(path: Path) -> list[tuple[Any, ...]]:
    """The DDL of every table and index (constraints and defaults included)."""
    with duckdb.connect(str(path), read_only=True) as db:
        return db.execute(
            "SELECT 'table', table_name, sql FROM duckdb_tables() UNION ALL "
            "SELECT 'index', index_name, sql FROM duckdb_indexes() ORDER BY ALL"
        ).fetchall()


async def search_answers(path: Path) -> list[Any]:
    async with DatabaseEngine(path, pool_size=1) as engine, engine.session() as session:
        projects = ProjectRepository(session)
        documents = DocumentRepository(session)
        return [
            await projects.search_by_name("event driven payments"),
            await projects.search_by_name("split the monolith"),
            await documents.search("deployment pipeline"),
            await documents.search("architecture notes", doc_type="adr"),
        ]


async def next_ids(path: Path) -> tuple[int, int, int]:
    """The ids the next creates get (a project, its conversation and document)."""
    async with DatabaseEngine(path, pool_size=1) as engine, engine.transaction() as session:
        project = await ProjectRepository(session).create(
            {"name": "After", "project_idea": "Check the sequences"}
        )
        talk = await ConversationRepository(session).create(
            {"project_id": project.id, "title": "Next"}
        )
        document = await DocumentRepository(session).create(
            {"project_id": project.id, "title": "Next", "doc_type": "guide"}
        )
        return project.id, talk.id, document.id


def listing(directory: Path) -> list[str]:
    return sorted(str(p.relative_to(directory)) for p in directory.rglob("*"))


def assert_one_paragraph(result: subprocess.CompletedProcess[str], command: str) -> None:
    assert result.stdout == ""
    assert result.stderr.startswith(f"project-architect-db {command}: "), result.stderr
    assert "Traceback" not in result.stderr
    assert "\n\n" not in result.stderr.strip()


def empty_duckdb_file(path: Path) -> Path:
    duckdb.connect(str(path)).close()
    return path


# -- snapshot ----------------------------------------------------------------------------


def test_snapshot_writes_a_copy_anyone_can_read(
    cli: Cli, sample_database: Path, tmp_path: Path
) -> None:
    target = tmp_path / "copy.duckdb"

    result = cli("snapshot", "--database", sample_database, "--to", target)

    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    original = contents(sample_database)
    assert contents(target) == original
    assert schema(target) == schema(sample_database)
    first, *table_lines = result.stdout.splitlines()
    assert first.startswith(f"wrote {target}: a snapshot of {sample_database}, 9 tables, ")
    assert f"{sum(len(rows) for rows in original.values()):,} rows" in first
    for name, rows in original.items():
        assert any(line.split() == [name, f"{len(rows):,}"] for line in table_lines), name
    assert sorted(p.name for p in tmp_path.iterdir()) == ["copy.duckdb"]

    # --force replaces it; without it the copy is kept.
    again = cli("snapshot", "--database", sample_database, "--to", target)
    assert again.returncode == 2
    assert "already exists; choose another name or pass --force" in again.stderr
    forced = cli("snapshot", "--database", sample_database, "--to", target, "--force")
    assert forced.returncode == 0, forced.stderr
    assert contents(target) == original


def test_snapshot_takes_a_database_as_it_is_without_migrating_it(cli: Cli, tmp_path: Path) -> None:
    source = tmp_path / "old.duckdb"
    with duckdb.connect(str(source)) as db:
        db.execute("CREATE SEQUENCE note_ids START 40")
        db.execute(
            "CREATE TABLE notes (id BIGINT DEFAULT nextval('note_ids') PRIMARY KEY, body VARCHAR)"
        )
        db.execute("INSERT INTO notes (body) VALUES ('first'), ('it''s \"quoted\"')")
    before = contents(source)

    result = cli("snapshot", "--database", source, "--to", tmp_path / "copy.duckdb")

    assert result.returncode == 0, result.stderr
    assert "1 tables, 2 rows" in result.stdout
    assert contents(source) == before == contents(tmp_path / "copy.duckdb")
    with duckdb.connect(str(tmp_path / "copy.duckdb")) as copy:
        assert copy.execute("INSERT INTO notes (body) VALUES ('x') RETURNING id").fetchall() == [
            (42,)
        ]


def _snapshot_case(case: str, tmp_path: Path, sample: Path) -> tuple[list[str | Path], str]:
    out = tmp_path / "out"
    if case == "missing database":
        return ["--database", tmp_path / "nope.duckdb", "--to", out / "c.duckdb"], "does not exist"
    if case == "database is a directory":
        return ["--database", out, "--to", out / "c.duckdb"], "is a directory; give a DuckDB file"
    if case == "target exists":
        (out / "c.duckdb").write_text("mine")
        return ["--database", sample, "--to", out / "c.duckdb"], "already exists"
    if case == "target directory missing":
        return (
            ["--database", sample, "--to", out / "missing" / "c.duckdb"],
            "does not exist; create it first",
        )
    if case == "target is a directory":
        return ["--database", sample, "--to", out], "is a directory; give a file name"
    if case == "target is the database":
        database = out / "db.duckdb"
        shutil.copy(sample, database)
        return ["--database", database, "--to", database, "--force"], "is the database itself"
    if case == "backslash in target":
        return ["--database", sample, "--to", out / "a\\b.duckdb"], "backslash"
    if case == "not a database":
        (out / "notes.txt").write_text("not a database " * 100)
        return (
            ["--database", out / "notes.txt", "--to", out / "c.duckdb"],
            "not a valid DuckDB database file",
        )
    raise AssertionError(case)


SNAPSHOT_FAILURES = {
    "missing database": 2,
    "database is a directory": 2,
    "target exists": 2,
    "target directory missing": 2,
    "target is a directory": 2,
    "target is the database": 2,
    "backslash in target": 2,
    "not a database": 1,
}


@pytest.mark.parametrize(("case", "code"), SNAPSHOT_FAILURES.items())
def test_snapshot_refuses_bad_input_and_writes_nothing(
    cli: Cli, sample_database: Path, tmp_path: Path, case: str, code: int
) -> None:
    (tmp_path / "out").mkdir()
    args, message = _snapshot_case(case, tmp_path, sample_database)
    before = listing(tmp_path)
    sizes = {p: p.stat().st_size for p in tmp_path.rglob("*") if p.is_file()}

    result = cli("snapshot", *args)

    assert result.returncode == code, result.stderr
    assert message in " ".join(result.stderr.split()), result.stderr
    assert_one_paragraph(result, "snapshot")
    assert listing(tmp_path) == before
    assert {p: p.stat().st_size for p in tmp_path.rglob("*") if p.is_file()} == sizes


def test_a_database_held_by_a_running_app_gets_the_lock_message(
    cli: Cli, sample_database: Path, tmp_path: Path
) -> None:
    database = tmp_path / "app.duckdb"
    shutil.copy(sample_database, database)
    target = tmp_path / "copy.duckdb"
    with duckdb.connect(str(database)):  # this process holds it for writing, as an app would
        result = cli("snapshot", "--database", database, "--to", target)
        exported = cli("export", "--database", database, "--to", tmp_path / "export")

    assert result.returncode == 1
    assert_one_paragraph(result, "snapshot")
    text = " ".join(result.stderr.split())
    assert "is locked by another process" in text
    assert "engine.snapshot" in text
    assert exported.returncode == 1
    assert_one_paragraph(exported, "export")
    assert "is locked by another process" in exported.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["app.duckdb"]


# -- export and import ---------------------------------------------------------------------


@pytest.mark.parametrize("export_format", ["parquet", "csv"])
def test_export_then_import_keeps_rows_sequences_and_search(
    cli: Cli, sample_database: Path, tmp_path: Path, export_format: str
) -> None:
    exported = tmp_path / "export"
    imported = tmp_path / "imported.duckdb"

    result = cli(
        "export", "--database", sample_database, "--to", exported, "--format", export_format
    )

    assert result.returncode == 0, result.stderr
    assert f"as {export_format}: 9 tables" in result.stdout
    assert "project-architect-db import --database" in result.stdout
    original = contents(sample_database)
    assert sorted(p.name for p in exported.iterdir()) == sorted(
        ["schema.sql", "load.sql", *(f"{table}.{export_format}" for table in original)]
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["export"]
    # load.sql names the files where they are, for whoever runs it by hand.
    load = (exported / "load.sql").read_text()
    assert load.count(f"'{exported}/") == len(original)
    assert "-tmp" not in load

    result = cli("import", "--database", imported, "--from", exported)

    assert result.returncode == 0, result.stderr
    assert f"imported {exported} into {imported}: 9 tables" in result.stdout
    assert contents(imported) == original
    assert schema(imported) == schema(sample_database)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["export", "imported.duckdb"]

    # The same answers, and the next creates get the same ids.
    writable = tmp_path / "original.duckdb"
    shutil.copy(sample_database, writable)
    assert anyio.run(search_answers, imported) == anyio.run(search_answers, writable)
    assert anyio.run(next_ids, imported) == anyio.run(next_ids, writable)


def test_export_into_an_existing_empty_directory(
    cli: Cli, sample_database: Path, tmp_path: Path
) -> None:
    (tmp_path / "empty").mkdir()
    result = cli("export", "--database", sample_database, "--to", tmp_path / "empty")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "empty" / "projects.parquet").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty"]


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("non-empty directory", "is not empty; give a new or empty directory"),
        ("a file", "is a file; give a new directory"),
        ("missing parent", "does not exist; create it first"),
        ("bad format", "invalid choice: 'xlsx'"),
    ],
)
def test_export_refuses_bad_targets(
    cli: Cli, sample_database: Path, tmp_path: Path, case: str, message: str
) -> None:
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("mine")
    (tmp_path / "file").write_text("mine")
    target = {
        "non-empty directory": tmp_path / "full",
        "a file": tmp_path / "file",
        "missing parent": tmp_path / "missing" / "export",
        "bad format": tmp_path / "new",
    }[case]
    extra = ["--format", "xlsx"] if case == "bad format" else []
    before = listing(tmp_path)

    result = cli("export", "--database", sample_database, "--to", target, *extra)

    assert result.returncode == 2
    assert message in " ".join(result.stderr.split()), result.stderr
    assert "Traceback" not in result.stderr
    assert listing(tmp_path) == before
    assert (tmp_path / "full" / "keep.txt").read_text() == "mine"


@pytest.fixture(scope="module")
def export_directory(sample_database: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A CSV export of the sample database (shared: copy it before changing it)."""
    directory = tmp_path_factory.mktemp("export") / "sample"
    args = ["export", "--database", str(sample_database), "--to", str(directory)]
    assert main([*args, "--format", "csv"]) == 0
    return directory


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("source missing", "is not a directory; give a directory written by"),
        ("source not an export", "is not an export directory: it has no schema.sql or load.sql"),
        ("source without load.sql", "it has no load.sql"),
        ("target holds tables", "already holds tables; import only into a new file or an empty"),
        ("target directory missing", "does not exist; create it first"),
        ("target is a directory", "is a directory; give a DuckDB file"),
    ],
)
def test_import_refuses_bad_input_and_changes_nothing(
    cli: Cli,
    sample_database: Path,
    export_directory: Path,
    tmp_path: Path,
    case: str,
    message: str,
) -> None:
    source = tmp_path / "export"
    shutil.copytree(export_directory, source)
    target = tmp_path / "new.duckdb"
    if case == "source missing":
        source = tmp_path / "nowhere"
    elif case == "source not an export":
        source = tmp_path / "plain"
        source.mkdir()
        (source / "projects.csv").write_text("id\n1\n")
    elif case == "source without load.sql":
        (source / "load.sql").unlink()
    elif case == "target holds tables":
        shutil.copy(sample_database, target)
    elif case == "target directory missing":
        target = tmp_path / "missing" / "new.duckdb"
    elif case == "target is a directory":
        target = tmp_path / "export"
    before = listing(tmp_path)
    sizes = {p: p.stat().st_size for p in tmp_path.rglob("*") if p.is_file()}

    result = cli("import", "--database", target, "--from", source)

    assert result.returncode == 2
    assert message in " ".join(result.stderr.split()), result.stderr
    assert_one_paragraph(result, "import")
    assert listing(tmp_path) == before
    assert {p: p.stat().st_size for p in tmp_path.rglob("*") if p.is_file()} == sizes
    if case == "target holds tables":
        assert contents(target) == contents(sample_database)


def test_import_into_an_empty_duckdb_file(
    cli: Cli, sample_database: Path, export_directory: Path, tmp_path: Path
) -> None:
    target = empty_duckdb_file(tmp_path / "empty.duckdb")
    result = cli("import", "--database", target, "--from", export_directory)
    assert result.returncode == 0, result.stderr
    assert contents(target) == contents(sample_database)


def test_a_failed_import_leaves_no_file_and_an_empty_file_empty(
    cli: Cli, export_directory: Path, tmp_path: Path
) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(export_directory, broken)
    # A row whose id is not a number: DuckDB stops at the projects table, after
    # other tables were already loaded.
    assert (broken / "projects.csv").is_file()
    with (broken / "projects.csv").open("a") as data:
        data.write("not-a-number,x,,idea,,draft,,1,2026-01-01 00:00:00+00,,\n")
    existing = empty_duckdb_file(tmp_path / "empty.duckdb")

    for target in (tmp_path / "new.duckdb", existing):
        result = cli("import", "--database", target, "--from", broken)

        assert result.returncode == 1, result.stderr
        assert "failed, nothing was imported" in " ".join(result.stderr.split())
        assert_one_paragraph(result, "import")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken", "empty.duckdb"]
    assert contents(existing) == {}


# -- property: generated data survives the round trip -----------------------------------

_TEXT = st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00")
_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(_TEXT, max_size=10),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.text(_TEXT, max_size=5), children, max_size=3)
    ),
    max_leaves=6,
)
_PROJECTS = st.lists(
    st.fixed_dictionaries(
        {
            "name": st.text(_TEXT, min_size=1, max_size=30),
            "project_idea": st.text(_TEXT, min_size=10, max_size=60),
            "description": st.none() | st.text(_TEXT, max_size=60),
            "architecture": st.none() | st.dictionaries(st.text(_TEXT, max_size=5), _JSON),
        }
    ),
    min_size=1,
    max_size=5,
)
_MESSAGES = st.lists(
    st.fixed_dictionaries(
        {
            "role": st.sampled_from(["user", "assistant", "system"]),
            "content": st.text(_TEXT, min_size=1, max_size=40),
            "created_at": st.datetimes(
                min_value=datetime(1971, 1, 1),
                max_value=datetime(2200, 1, 1),
                timezones=st.just(UTC),
            ),
            "metadata": st.none() | st.dictionaries(st.text(_TEXT, max_size=5), _JSON, max_size=2),
        }
    ),
    max_size=3,
)


async def _fill_generated(
    path: Path, projects: list[dict[str, Any]], messages: list[dict[str, Any]]
) -> None:
    async with DatabaseEngine(path, pool_size=1) as engine, engine.session() as session:
        created = await ProjectRepository(session).bulk_create(projects)
        talks = ConversationRepository(session)
        talk = await talks.create({"project_id": created[0].id, "title": projects[0]["name"]})
        for message in messages:
            await talks.add_message(talk.id, message)
        await ProjectRepository(session).delete(created[-1].id)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(projects=_PROJECTS, messages=_MESSAGES, export_format=st.sampled_from(["parquet", "csv"]))
def test_any_stored_data_survives_export_and_import(
    projects: list[dict[str, Any]], messages: list[dict[str, Any]], export_format: str
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        base = Path(folder)
        source, exported, imported = base / "src.duckdb", base / "export", base / "dst.duckdb"
        anyio.run(_fill_generated, source, projects, messages)

        assert (
            main(
                [
                    "export",
                    "--database",
                    str(source),
                    "--to",
                    str(exported),
                    "--format",
                    export_format,
                ]
            )
            == 0
        )
        assert main(["import", "--database", str(imported), "--from", str(exported)]) == 0

        assert contents(imported) == contents(source)

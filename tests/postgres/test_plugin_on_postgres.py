"""The pytest plugin with ``--pad-database-url postgresql://...`` in a user
project: a database per xdist worker beside the named one, every test from an
empty migrated schema, nothing left on the server afterwards."""

from __future__ import annotations

import json
from typing import Any

import psycopg
import pytest

USER_TESTS = """
import json
import os
from pathlib import Path

import pytest

from project_architect_db import ProjectRepository

pytestmark = pytest.mark.anyio
RECORD = Path(__file__).with_name("record.jsonl")


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request):
    return request.param


@pytest.mark.parametrize("n", range(3))
async def test_database(pad_engine, n):
    async with pad_engine.session() as session:
        before = await ProjectRepository(session).count()
        created = await ProjectRepository(session).create({"name": f"p{n}", "project_idea": "ten letters"})
    record = {
        "database": pad_engine.config.label,
        "before": before,
        "id": created.id,
        "worker": os.environ.get("PYTEST_XDIST_WORKER"),
    }
    with RECORD.open("a") as file:
        file.write(json.dumps(record) + "\\n")
"""


def _databases(server: str) -> set[str]:
    with psycopg.connect(server) as connection:
        rows = connection.execute("SELECT datname FROM pg_database").fetchall()
    return {row[0] for row in rows}


@pytest.mark.parametrize("workers", [[], ["-n", "2"]])
def test_each_test_starts_empty_on_a_database_of_its_worker(
    pytester: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    postgres_server: str,
    pg_url: str,
    workers: list[str],
) -> None:
    # The user's database is a fresh one (pg_url), so the databases the plugin
    # makes beside it cannot be those of the run this test is part of.
    for name in ("PAD_DATABASE_URL", "PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT"):
        monkeypatch.delenv(name, raising=False)
    pytester.makeini("[pytest]\nfilterwarnings = error\n")
    pytester.makepyfile(test_url=USER_TESTS)
    before = _databases(postgres_server)
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", f"--pad-database-url={pg_url}", *workers, timeout=300
    )
    result.assert_outcomes(passed=6)
    records: list[dict[str, Any]] = [
        json.loads(line) for line in (pytester.path / "record.jsonl").read_text().splitlines()
    ]
    assert len(records) == 6
    # Every test found the tables empty and the sequences restarted.
    assert {(r["before"], r["id"]) for r in records} == {(0, 1)}
    base = pg_url.rpartition("/")[2]
    expected = {f"{base}_pad_gw0", f"{base}_pad_gw1"} if workers else {f"{base}_pad_main"}
    assert {r["database"].rpartition("/")[2] for r in records} == expected
    # The plugin's databases are gone (other tests may make databases meanwhile).
    assert {
        name for name in _databases(postgres_server) if name.startswith(f"{base}_pad_")
    } == set()
    assert base in before
    # The database the URL names was never written to.
    with psycopg.connect(pg_url) as named:
        tables = named.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
        assert tables.fetchone() == (0,)

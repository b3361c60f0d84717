"""The pytest plugin ``project_architect_db.testing``, as users get it.

Most tests here write a throwaway user project with ``pytester`` and run pytest on
it in a subprocess (``runpytest_subprocess``), so the plugin is loaded the way a
user's run loads it: through the ``pytest11`` entry point of the installed
distribution (under ``nox -s tests``, the wheel), not from this source tree. The
rest use the plugin's fixtures in this suite, where the same entry point loads it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import AsyncIterator
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import pytest
from helpers import project_data

import project_architect_db.testing as plugin
from project_architect_db import (
    DatabaseEngine,
    ProjectArchitectDBError,
    ProjectRepository,
    Session,
)
from project_architect_db.testing import ProjectFactory

EXTRA = 'pip install "project_architect_db[testing]"'

#: A user project's conftest: both anyio backends and an engine option of its own.
USER_CONFTEST = """
import sys

import pytest


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request):
    return request.param


@pytest.fixture
def pad_engine_options():
    return {"pool_size": 2, "max_overflow": 1}


def pytest_report_header(config):
    # After every plugin is registered, before collection imports the tests.
    return f"polyfactory imported at start: {'polyfactory' in sys.modules}"
"""

#: A user project's tests of every fixture and of the factories (anyio strict mode:
#: the tests are marked).
USER_TESTS = """
from pathlib import Path

import pytest

from project_architect_db import DatabaseEngine, ProjectRepository, Session
from project_architect_db.testing import ConversationFactory, ProjectFactory

pytestmark = pytest.mark.anyio


async def test_engine(pad_engine: DatabaseEngine, tmp_path: Path) -> None:
    assert pad_engine.is_open
    assert pad_engine.config.database == str(tmp_path / "pad.duckdb")
    assert (pad_engine.config.pool_size, pad_engine.config.max_overflow) == (2, 1)
    migrations = await pad_engine.execute_raw("SELECT count(*) AS n FROM schema_migrations")
    assert migrations[0]["n"] >= 1
    assert await pad_engine.execute_raw("SELECT count(*) AS n FROM projects") == [{"n": 0}]


async def test_session(pad_session: Session, pad_engine: DatabaseEngine) -> None:
    assert not pad_session.in_transaction
    project = await ProjectFactory.create(pad_session, name="Atlas")
    async with pad_engine.session() as other:  # committed at once
        assert await ProjectRepository(other).get_by_id(project.id) == project


async def test_transaction(pad_transaction: Session, pad_engine: DatabaseEngine) -> None:
    assert pad_transaction.in_transaction
    project = await ProjectFactory.create(pad_transaction)
    assert await ProjectRepository(pad_transaction).get_by_id(project.id) == project
    async with pad_engine.session() as other:  # not committed
        assert await ProjectRepository(other).get_by_id(project.id) is None


async def test_factories(pad_session: Session) -> None:
    conversations = await ConversationFactory.create_batch(pad_session, 3, title="Kickoff")
    assert {c.title for c in conversations} == {"Kickoff"}
    assert len({c.project_id for c in conversations}) == 1
    assert await ProjectRepository(pad_session).count() == 1
"""

#: A sync test that the plugin came from its entry point.
USER_PLUGIN_TEST = """
from importlib.metadata import entry_points

import project_architect_db.testing


def test_registered_through_the_entry_point(pytestconfig) -> None:
    (entry,) = [e for e in entry_points(group="pytest11") if e.name == "project_architect_db"]
    assert entry.value == "project_architect_db.testing"
    plugin = pytestconfig.pluginmanager.get_plugin("project_architect_db")
    assert plugin is project_architect_db.testing
"""

#: Records, per test, which database ``pad_engine`` opened and what it held.
URL_TESTS = """
import json
import os
from pathlib import Path

import pytest

from project_architect_db import ProjectRepository

pytestmark = pytest.mark.anyio
RECORD = Path(__file__).with_name("record.jsonl")


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.mark.parametrize("n", range(4))
async def test_database(pad_engine, n):
    async with pad_engine.session() as session:
        before = await ProjectRepository(session).count()
        await ProjectRepository(session).create({"name": f"p{n}", "project_idea": "ten letters"})
    record = {
        "database": pad_engine.config.database,
        "before": before,
        "worker": os.environ.get("PYTEST_XDIST_WORKER"),
    }
    with RECORD.open("a") as file:
        file.write(json.dumps(record) + "\\n")
"""

#: Runs pytest as if polyfactory and Faker were not installed: a finder refuses
#: them before pytest (and so the plugin) is even imported.
WITHOUT_EXTRA = """
import sys
from importlib.abc import MetaPathFinder


class NotInstalled(MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in {"polyfactory", "faker"}:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


sys.meta_path.insert(0, NotInstalled())
import pytest

sys.exit(pytest.main(sys.argv[1:]))
"""

WITHOUT_EXTRA_TESTS = """
import re
import sys

import pytest

from project_architect_db import ProjectRepository

pytestmark = pytest.mark.anyio


async def test_fixtures_work(pad_engine, pad_session, pad_transaction) -> None:
    await ProjectRepository(pad_session).create({"name": "Atlas", "project_idea": "ten letters"})
    assert await ProjectRepository(pad_transaction).count() == 1
    assert not {"polyfactory", "faker"} & set(sys.modules)


def test_a_factory_names_the_extra(pytestconfig) -> None:
    assert pytestconfig.pluginmanager.get_plugin("project_architect_db") is not None
    with pytest.raises(ImportError, match=re.escape('pip install "project_architect_db[testing]"')):
        from project_architect_db.testing import ProjectFactory  # noqa: F401
    with pytest.raises(ImportError, match="polyfactory"):
        import project_architect_db.testing as testing

        testing.RepositoryFactory
"""


@pytest.fixture
def user_project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """An empty user project (warnings are errors), in an environment of its own:
    no database override and no pytest-xdist worker of the outer run."""
    for name in ("PAD_DATABASE_URL", "PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT"):
        monkeypatch.delenv(name, raising=False)
    pytester.makeini("[pytest]\nfilterwarnings = error\n")
    return pytester


def _run(project: pytest.Pytester, *args: str) -> pytest.RunResult:
    return project.runpytest_subprocess("-p", "no:cacheprovider", *args, timeout=300)


def _records(project: pytest.Pytester) -> list[dict[str, Any]]:
    lines = (project.path / "record.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines]


# -- the plugin in a user project ----------------------------------------------------


def test_a_user_project_gets_every_fixture_and_factory_on_asyncio_and_trio(
    user_project: pytest.Pytester,
) -> None:
    user_project.makeconftest(USER_CONFTEST)
    user_project.makepyfile(test_app=USER_TESTS, test_plugin=USER_PLUGIN_TEST)
    result = _run(user_project, "-v")
    result.assert_outcomes(passed=9)
    for name in ("engine", "session", "transaction", "factories"):
        result.stdout.fnmatch_lines([f"*test_app.py::test_{name}[[]asyncio[]] PASSED*"])
        result.stdout.fnmatch_lines([f"*test_app.py::test_{name}[[]trio[]] PASSED*"])
    # Loading the plugin imported no factory dependency (the tests import them later).
    result.stdout.fnmatch_lines(["polyfactory imported at start: False"])


def test_the_plugin_lists_its_fixtures_and_can_be_switched_off(
    user_project: pytest.Pytester,
) -> None:
    listed = _run(user_project, "--fixtures")
    assert listed.ret == 0
    for fixture in ("pad_engine", "pad_session", "pad_transaction", "pad_engine_options"):
        listed.stdout.fnmatch_lines([f"{fixture}*project_architect_db*"])
    user_project.makepyfile(test_off="def test_off(pad_engine):\n    pass\n")
    off = _run(user_project, "-p", "no:project_architect_db", "test_off.py")
    off.assert_outcomes(errors=1)
    off.stdout.fnmatch_lines(["*fixture 'pad_engine' not found*"])


def test_the_plugin_and_its_fixtures_work_without_the_testing_extra(
    user_project: pytest.Pytester,
) -> None:
    user_project.makeconftest(USER_CONFTEST)
    user_project.makepyfile(test_bare=WITHOUT_EXTRA_TESTS)
    # -p no:faker: Faker's own pytest plugin is installed here, not in a bare install.
    result = user_project.run(
        sys.executable,
        "-c",
        WITHOUT_EXTRA,
        "-p",
        "no:faker",
        "-p",
        "no:cacheprovider",
        "-v",
        f"--basetemp={user_project.path / 'basetemp'}",
        timeout=300,
    )
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(["*test_fixtures_work[[]trio[]] PASSED*"])


def test_importing_the_plugin_imports_no_optional_dependency() -> None:
    code = (
        "import sys, project_architect_db.testing\n"
        "print(sorted(m for m in sys.modules "
        "if m.partition('.')[0] in {'polyfactory', 'faker', 'hypothesis'}))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert done.stdout.strip() == "[]"


# -- choosing the database: --pad-database-url and PAD_DATABASE_URL ------------------


def test_the_environment_variable_selects_an_in_memory_database_per_test(
    user_project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    user_project.makepyfile(test_url=URL_TESTS)
    monkeypatch.setenv("PAD_DATABASE_URL", "duckdb:///:memory:")
    result = _run(user_project)
    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines(
        ["project_architect_db: test database from PAD_DATABASE_URL: duckdb:///:memory:"]
    )
    records = _records(user_project)
    assert [(r["database"], r["before"]) for r in records] == [(":memory:", 0)] * 4


def test_the_option_wins_over_the_environment_and_each_test_gets_a_fresh_file(
    user_project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    user_project.makepyfile(test_url=URL_TESTS)
    from_env, from_option = user_project.path / "env.duckdb", user_project.path / "cli.duckdb"
    monkeypatch.setenv("PAD_DATABASE_URL", str(from_env))
    result = _run(user_project, f"--pad-database-url=duckdb:///{from_option}")
    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines(["*test database from --pad-database-url: duckdb:///*cli.duckdb"])
    records = _records(user_project)
    # Every test saw an empty, migrated database in that file, deleted after it.
    assert [(r["database"], r["before"]) for r in records] == [(str(from_option), 0)] * 4
    assert not from_option.exists()
    assert not from_env.exists()
    assert list(user_project.path.glob("*.wal")) == []


def test_each_xdist_worker_gets_its_own_file(
    user_project: pytest.Pytester,
) -> None:
    user_project.makepyfile(test_url=URL_TESTS)
    shared = user_project.path / "shared.duckdb"
    result = _run(user_project, "-n", "2", f"--pad-database-url={shared}")
    result.assert_outcomes(passed=4)
    records = _records(user_project)
    assert len(records) == 4
    for record in records:
        assert record["worker"] in {"gw0", "gw1"}
        assert record["database"] == str(shared.with_name(f"shared-{record['worker']}.duckdb"))
        assert record["before"] == 0
    assert list(user_project.path.glob("shared*")) == []


def test_a_file_the_plugin_did_not_create_is_never_touched(
    user_project: pytest.Pytester,
) -> None:
    user_project.makepyfile(test_url=URL_TESTS)
    precious = user_project.path / "app.duckdb"
    precious.write_text("someone's data")
    result = _run(user_project, f"--pad-database-url={precious}")
    result.assert_outcomes(errors=4)
    result.stdout.fnmatch_lines(["*--pad-database-url names*app.duckdb*which already exists*"])
    assert precious.read_text() == "someone's data"


@pytest.mark.parametrize(
    ("source", "url", "message"),
    [
        ("env", "mysql://localhost/app", "not a duckdb://, postgresql:// URL or a path"),
        ("option", "duckdb://host/app.duckdb", "has a host part"),
        ("option", "postgresql://localhost", "names no database"),
    ],
)
def test_a_url_the_engine_cannot_open_stops_the_run_with_a_usage_error(
    user_project: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    source: str,
    url: str,
    message: str,
) -> None:
    user_project.makepyfile(test_url=URL_TESTS)
    if source == "env":
        monkeypatch.setenv("PAD_DATABASE_URL", url)
        result = _run(user_project)
        named = f"PAD_DATABASE_URL={url!r}"
    else:
        result = _run(user_project, f"--pad-database-url={url}")
        named = f"--pad-database-url={url!r}"
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*{named}*{message}*"])


# -- the fixtures in this suite ---------------------------------------------------------


def test_this_suite_loads_the_plugin_through_its_entry_point(pytestconfig: pytest.Config) -> None:
    (entry,) = [e for e in entry_points(group="pytest11") if e.name == "project_architect_db"]
    assert entry.value == "project_architect_db.testing"
    assert pytestconfig.pluginmanager.get_plugin("project_architect_db") is plugin


async def test_engine_is_pad_engine_with_the_suites_options(
    engine: DatabaseEngine, pad_engine: DatabaseEngine, db_path: Path
) -> None:
    assert engine is pad_engine
    assert pad_engine.config.database == str(db_path)
    assert (pad_engine.config.pool_size, pad_engine.config.max_overflow) == (4, 4)
    assert pad_engine.config.pool_timeout == 10


async def test_pad_session_commits_every_statement(
    pad_session: Session, pad_engine: DatabaseEngine
) -> None:
    assert not pad_session.in_transaction
    project = await ProjectRepository(pad_session).create(project_data())
    async with pad_engine.session() as other:
        assert await ProjectRepository(other).get_by_id(project.id) == project


@pytest.fixture
async def gone_after_the_transaction(pad_engine: DatabaseEngine) -> AsyncIterator[list[int]]:
    """Ids of projects a test writes through ``pad_transaction``. Asked for before
    ``pad_transaction``, this fixture is torn down after it: it then checks, in a
    new session, that the ids are gone and nothing at all was left behind."""
    ids: list[int] = []
    yield ids
    assert ids, "the test wrote nothing"
    async with pad_engine.session() as session:
        projects = ProjectRepository(session)
        assert [await projects.get_by_id(id, include_deleted=True) for id in ids] == [None] * len(
            ids
        )
        assert await projects.count(include_deleted=True) == 0
        rows = await session.execute("SELECT count(*) AS n FROM audit_log")
        assert rows == [{"n": 0}]


async def test_pad_transaction_is_rolled_back_after_the_test(
    gone_after_the_transaction: list[int], pad_transaction: Session, pad_engine: DatabaseEngine
) -> None:
    assert pad_transaction.in_transaction
    projects = ProjectRepository(pad_transaction)
    first = await projects.create(project_data(name="First"))
    more = await ProjectFactory.create_batch(pad_transaction, 3)
    updated = await projects.update(first.id, {"status": "active"})
    gone_after_the_transaction.extend([first.id, *(p.id for p in more)])
    # Every statement ran in the transaction: the test sees its writes ...
    assert await projects.get_by_id(first.id) == updated
    assert await projects.count() == 4
    # ... and no other session does, before or after (it is never committed).
    async with pad_engine.session() as other:
        assert await ProjectRepository(other).count() == 0


async def test_pad_transaction_is_rolled_back_after_a_failed_statement(
    gone_after_the_transaction: list[int], pad_transaction: Session
) -> None:
    project = await ProjectRepository(pad_transaction).create(project_data())
    gone_after_the_transaction.append(project.id)
    with pytest.raises(ProjectArchitectDBError):
        await pad_transaction.execute("SELECT * FROM no_such_table")
    # The transaction is now aborted; the fixture's rollback still ends it cleanly.

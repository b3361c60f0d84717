"""pytest plugin: database fixtures for applications built on project_architect_db.

Installing the library registers this module with pytest (the ``pytest11`` entry
point ``project_architect_db``), so every test of a project that depends on it can
ask for:

``pad_engine``
    A connected, migrated :class:`~project_architect_db.DatabaseEngine` on a fresh
    DuckDB file in the test's ``tmp_path`` (``pad.duckdb``), closed after the test.
    pytest gives every test its own ``tmp_path``, and every pytest-xdist worker its
    own base directory, so no two tests, and no two workers, ever share a file.
``pad_session``
    An auto-commit session on ``pad_engine`` (``engine.session()``).
``pad_transaction``
    A session in one transaction (``engine.transaction()``) that is **rolled back**
    after the test, never committed: every statement of the test runs inside that
    transaction and nothing it writes outlives the test. (Calling ``commit()`` on
    it commits what came before and starts a new transaction; don't.)
``pad_engine_options``
    The keyword options (:class:`~project_architect_db.EngineOptions`) that
    ``pad_engine`` passes to ``DatabaseEngine``; ``{}`` by default. Override it in
    your ``conftest.py`` (as pytest-django's ``settings``), e.g.::

        @pytest.fixture
        def pad_engine_options() -> EngineOptions:
            return {"pool_size": 2, "statement_timeout": 5.0}
``pad_database_url``
    What ``pad_engine`` opens. Override it to put the database somewhere else.

The fixtures are plain ``async`` fixtures: run the tests with anyio's pytest plugin
(installed with anyio) on asyncio or trio, whichever your ``anyio_backend`` fixture
picks. This plugin does not define ``anyio_backend``: the choice is yours (anyio's
default runs every backend installed; parametrize it over ``["asyncio", "trio"]``
for both).

Choosing the database
    ``--pad-database-url URL`` on the command line, or the ``PAD_DATABASE_URL``
    environment variable (the option wins), replaces the ``tmp_path`` file:

    * ``duckdb:///:memory:``: every test gets its own in-memory database (the
      fastest choice; nothing touches the disk).
    * a file (``duckdb:////ramdisk/app.duckdb``, ``/ramdisk/app.duckdb``): each test
      still starts from a fresh migrated database in that file, which is deleted
      after the test. A DuckDB file can be opened by one process only, so under
      pytest-xdist each worker uses its own file, named after the worker
      (``app-gw0.duckdb``, ``app-gw1.duckdb``, ...). The plugin never deletes a
      file it did not create: a test finding the file already there fails and
      says so (delete the file, or pick another name).

    * ``postgresql://user:password@host:5432/dbname``: a PostgreSQL server. The
      plugin never writes to ``dbname`` itself: each pytest process (each xdist
      worker) creates its own database beside it, ``dbname_pad_main`` or
      ``dbname_pad_gw0``..., and drops it when the run ends; every test starts
      from the empty migrated schema (tables truncated, sequences restarted).
      The user needs the right to create databases.

    A bad URL stops the run, naming where it came from.

Factories
    ``ProjectFactory``, ``ConversationFactory``, ``DocumentFactory`` and
    ``RepositoryFactory`` (``from project_architect_db.testing import
    ProjectFactory``) build valid ``*Create`` models with realistic Faker values and
    write them through the repositories (see :mod:`.factories`). They need the
    ``testing`` extra (polyfactory and Faker): ``pip install
    "project_architect_db[testing]"``. This module imports them only when asked
    for, so the plugin, which every pytest run of every project that installs the
    library loads, works without the extra and never imports polyfactory, Faker or
    hypothesis.

Turn the plugin off for a run with ``-p no:project_architect_db``.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from ..core.config import MEMORY, EngineOptions, is_postgres_url, parse_database_url, redact_url
from ..core.engine import DatabaseEngine
from ..core.session import Session
from .postgres import TestDatabases

if TYPE_CHECKING:  # the real types for type checkers; at run time __getattr__ loads them
    from .factories import ConversationFactory, DocumentFactory, ProjectFactory, RepositoryFactory

__all__ = [
    "ConversationFactory",
    "DocumentFactory",
    "ProjectFactory",
    "RepositoryFactory",
    "postgres_test_database",
]

#: The command-line option that sets the test database (wins over ``_ENV_VAR``).
_OPTION = "--pad-database-url"
#: The environment variable that sets the test database.
_ENV_VAR = "PAD_DATABASE_URL"

#: The extra that brings the factories' dependencies.
_EXTRA = 'pip install "project_architect_db[testing]"'
_FACTORIES = frozenset(
    {"ConversationFactory", "DocumentFactory", "ProjectFactory", "RepositoryFactory"}
)
_FACTORY_DEPENDENCIES = frozenset({"polyfactory", "faker"})


def __getattr__(name: str) -> Any:
    """Load the factories on first use (PEP 562), so importing the plugin never
    imports polyfactory or Faker; without them, say which extra to install.

    (No ``__dir__`` lists them: pytest reads every name ``dir()`` gives of a plugin
    while looking for fixtures, which would import the factories on every run.)"""
    if name not in _FACTORIES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    try:
        from . import factories
    except ModuleNotFoundError as exc:
        missing = (exc.name or "").partition(".")[0]
        if missing not in _FACTORY_DEPENDENCIES:
            raise
        raise ImportError(
            f"project_architect_db.testing.{name} needs the 'testing' extra "
            f"(polyfactory and Faker; {missing!r} is not installed): {_EXTRA}",
            name=__name__,
        ) from exc
    return getattr(factories, name)


# -- where the test database lives ---------------------------------------------


@dataclass(frozen=True, slots=True)
class _Override:
    """The database given with ``--pad-database-url`` or ``PAD_DATABASE_URL``."""

    #: Where it came from, for messages: the option or the environment variable.
    source: str
    #: What it says, as written.
    url: str
    #: ``:memory:`` or an absolute file path (``parse_database_url``'s answer).
    database: str


_OVERRIDE = pytest.StashKey["_Override | None"]()
_POSTGRES = pytest.StashKey["TestDatabases | None"]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("project_architect_db", "project_architect_db test database")
    group.addoption(
        _OPTION,
        dest="pad_database_url",
        default=None,
        metavar="URL",
        help=(
            "database of the pad_engine fixture instead of a fresh file in each test's "
            "tmp_path: duckdb:///:memory: (a database per test), a DuckDB file (fresh "
            "per test, one per xdist worker, deleted after each test) or a postgresql:// "
            "URL (a database per xdist worker beside the one named, emptied before each "
            f"test, dropped at the end). Default: ${_ENV_VAR}."
        ),
    )


def pytest_configure(config: pytest.Config) -> None:
    """Read and check the database override once, so a bad one stops the run
    before any test with a usage error that says where it came from."""
    override = config.stash[_OVERRIDE] = _read_override(config)
    postgres = None
    if override is not None and is_postgres_url(override.database):
        workerinput: dict[str, Any] | None = getattr(config, "workerinput", None)
        worker = "main" if workerinput is None else str(workerinput["workerid"])
        postgres = TestDatabases(override.database, worker)
    config.stash[_POSTGRES] = postgres


def postgres_test_database(config: pytest.Config) -> TestDatabases | None:
    """This run's PostgreSQL test database, when ``--pad-database-url`` (or
    ``PAD_DATABASE_URL``) names a server: for a conftest that overrides
    ``pad_database_url`` and still wants to honour the option."""
    return config.stash.get(_POSTGRES, None)


def pytest_unconfigure(config: pytest.Config) -> None:
    postgres = config.stash.get(_POSTGRES, None)
    if postgres is not None:
        postgres.drop()


def pytest_report_header(config: pytest.Config) -> str | None:
    override = config.stash.get(_OVERRIDE, None)
    if override is None:
        return None
    return f"project_architect_db: test database from {override.source}: {redact_url(override.url)}"


def _read_override(config: pytest.Config) -> _Override | None:
    url: str | None = config.getoption("pad_database_url", default=None)
    source = _OPTION
    if not url:
        url, source = os.environ.get(_ENV_VAR) or None, _ENV_VAR
    if url is None:
        return None
    try:
        database = parse_database_url(url)
    except ValueError as exc:
        raise pytest.UsageError(
            f"{source}={redact_url(url)!r}: {exc}. The test database must be "
            "'duckdb:///:memory:', a DuckDB file or a postgresql:// URL."
        ) from None
    if database != MEMORY and not is_postgres_url(database):
        database = str(Path(database).absolute())  # tests may change directory
    return _Override(source=source, url=url, database=database)


def _worker_file(path: Path, config: pytest.Config) -> Path:
    """``path`` for this process: under pytest-xdist each worker gets its own file
    (a DuckDB file can be open in one process only)."""
    workerinput: dict[str, Any] | None = getattr(config, "workerinput", None)
    if workerinput is None:
        return path
    return path.with_name(f"{path.stem}-{workerinput['workerid']}{path.suffix}")


def _remove_database_file(path: Path) -> None:
    for leftover in (path, path.with_name(path.name + ".wal")):
        leftover.unlink(missing_ok=True)


# -- fixtures -------------------------------------------------------------------


@pytest.fixture
def pad_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str | Path]:
    """The database ``pad_engine`` opens: a fresh file in ``tmp_path`` unless
    ``--pad-database-url``/``PAD_DATABASE_URL`` says otherwise (see the module's
    documentation). Override it to choose the database yourself."""
    override = request.config.stash.get(_OVERRIDE, None)
    if override is None:
        yield tmp_path / "pad.duckdb"
        return
    if override.database == MEMORY:
        yield "duckdb:///:memory:"
        return
    postgres = request.config.stash.get(_POSTGRES, None)
    if postgres is not None:
        yield postgres.prepare()
        return
    path = _worker_file(Path(override.database), request.config)
    if path.exists():
        pytest.fail(
            f"{override.source} names {str(path)!r}, which already exists; the "
            "project_architect_db plugin gives each test a fresh database there and deletes "
            "it afterwards, so it never uses a file it did not create. Delete the file (it may "
            "be left over from an interrupted run) or choose another name.",
            pytrace=False,
        )
    try:
        yield path
    finally:
        _remove_database_file(path)


@pytest.fixture
def pad_engine_options() -> EngineOptions:
    """Keyword options for ``pad_engine``'s ``DatabaseEngine``; override it in a
    ``conftest.py`` to set pool sizes, ``statement_timeout``, ..."""
    return {}


@pytest.fixture
async def pad_engine(
    pad_database_url: str | Path, pad_engine_options: EngineOptions
) -> AsyncIterator[DatabaseEngine]:
    """A connected engine with every migration applied, closed after the test."""
    async with DatabaseEngine(pad_database_url, **pad_engine_options) as engine:
        yield engine


@pytest.fixture
async def pad_session(pad_engine: DatabaseEngine) -> AsyncIterator[Session]:
    """An auto-commit session on ``pad_engine``: each statement commits."""
    async with pad_engine.session() as session:
        yield session


@pytest.fixture
async def pad_transaction(pad_engine: DatabaseEngine) -> AsyncIterator[Session]:
    """A session in one transaction, rolled back after the test.

    ``engine.transaction()`` runs every statement of the session inside a
    transaction (opened with the first one) and commits on a normal exit; the
    ``rollback()`` at teardown ends that transaction first, so the exit finds
    nothing left to commit and the test's writes are gone.
    """
    async with pad_engine.transaction() as session:
        try:
            yield session
        finally:
            await session.rollback()

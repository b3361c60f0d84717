"""Test databases on a PostgreSQL server, for the pytest plugin.

The plugin never writes to the database the URL names. Each pytest process
(each xdist worker) creates a database of its own beside it, named
``<database>_pad_<worker>`` (``test_pad_main``, ``test_pad_gw0``...), dropping
one left over by an interrupted run first, and drops it when the run ends.
The database is migrated when it is made, and the tables, views, sequences
and types that leaves are noted. Every test starts from that state: before the
test, whatever a previous test created beside them is dropped, every table
but ``schema_migrations`` is truncated and every sequence restarted, in one
statement batch (a few milliseconds, where a database per test costs hundreds).
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit, urlunsplit

__all__ = ["TestDatabases"]

_SAFE_NAME = re.compile(r"[^a-z0-9_]")


class TestDatabases:
    """The per-process test database of one PostgreSQL URL."""

    __test__ = False  # not a test class, whatever pytest thinks of its name

    def __init__(self, url: str, worker: str) -> None:
        self._server_url = url
        parts = urlsplit(url)
        base = parts.path.lstrip("/")
        self.name = _SAFE_NAME.sub("_", f"{base}_pad_{worker}".lower())[:63]
        self.url = urlunsplit((parts.scheme, parts.netloc, f"/{self.name}", parts.query, ""))
        self._created = False
        #: The schema's own objects, as migrating left them: (kind, name).
        self._schema: frozenset[tuple[str, str]] = frozenset()

    def prepare(self) -> str:
        """The test database's URL: made and migrated on first use, brought back
        to the migrated state before every later test."""
        import psycopg

        if not self._created:
            with psycopg.connect(self._server_url, autocommit=True) as admin:
                self._drop(admin)  # left over by an interrupted run
                admin.execute(f'CREATE DATABASE "{self.name}"')
            self._created = True
            _migrate(self.url)
            with psycopg.connect(self.url, autocommit=True) as connection:
                self._schema = frozenset(_objects(connection))
            return self.url
        with psycopg.connect(self.url, autocommit=True) as connection:
            _reset(connection, self._schema)
        return self.url

    def drop(self) -> None:
        if not self._created:
            return
        import psycopg

        with psycopg.connect(self._server_url, autocommit=True) as admin:
            self._drop(admin)
        self._created = False

    def _drop(self, admin: Any) -> None:
        admin.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


def _migrate(url: str) -> None:
    """Apply the library's migrations (what ``pad_engine`` would do at connect)."""
    from ..core.config import EngineConfig
    from ..core.observe import QueryObserver
    from ..core.stats import QueryStatsRecorder
    from ..postgres.database import open_postgres
    from ..postgres.driver import postgres_driver

    config = EngineConfig(database=url)
    open_postgres(config, QueryObserver(QueryStatsRecorder()), postgres_driver(config.label))


#: The public schema's objects a test may create: kind for DROP, then its name.
_OBJECTS = """
SELECT CASE c.relkind WHEN 'r' THEN 'TABLE' WHEN 'p' THEN 'TABLE' WHEN 'v' THEN 'VIEW'
                      WHEN 'm' THEN 'MATERIALIZED VIEW' WHEN 'S' THEN 'SEQUENCE' END,
       quote_ident(c.relname)
FROM pg_class AS c
WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm', 'S')
UNION ALL
SELECT 'TYPE', quote_ident(t.typname)
FROM pg_type AS t
WHERE t.typnamespace = 'public'::regnamespace AND t.typtype IN ('e', 'd')
"""


def _objects(connection: Any) -> list[tuple[str, str]]:
    return [(row[0], row[1]) for row in connection.execute(_OBJECTS)]


def _reset(connection: Any, schema: frozenset[tuple[str, str]]) -> None:
    """Drop what tests created beside the schema, truncate every table but
    ``schema_migrations`` and restart every sequence: the migrated state."""
    extra = [item for item in _objects(connection) if item not in schema]
    statements = [f"DROP {kind} IF EXISTS {name} CASCADE" for kind, name in extra]
    tables = [name for kind, name in schema if kind == "TABLE" and name != "schema_migrations"]
    if tables:
        statements.append(f"TRUNCATE {', '.join(sorted(tables))} RESTART IDENTITY CASCADE")
    statements += [
        f"ALTER SEQUENCE {name} RESTART" for kind, name in sorted(schema) if kind == "SEQUENCE"
    ]
    if statements:
        connection.execute("; ".join(statements))

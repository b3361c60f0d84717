"""OpenTelemetry spans for an engine's statements (extra ``[otel]``).

``instrument(engine)`` adds a query listener that turns every statement the
engine runs (every named query, ``execute_raw``, migrations excepted as they
run before a listener can be added) into one CLIENT span, following the
database semantic conventions:

* span name and ``db.query.summary``: the named query (``get_project``), low
  cardinality by construction;
* ``db.system.name``: ``"duckdb"`` (``db.namespace``: the database file) or
  ``"postgresql"`` (``db.namespace``: the database's name);
* ``db.operation.name``: the statement's kind from DuckDB's own parser
  (``SELECT``, ``INSERT``, ``UPDATE``, ...), read once per SQL text;
* ``db.query.text``: the SQL with its placeholders (never a parameter value);
* ``db.response.returned_rows`` when the statement returns rows;
* on failure, ``error.type`` (the library error's class) and an ERROR status.

The span's start and end are the statement's own (it is made after the
statement, from its measured duration), and its parent is the span current in
the task that made the call: anyio hands the task's context to the worker
thread.
"""

from __future__ import annotations

import threading
import time
from importlib import metadata
from typing import Protocol
from urllib.parse import urlsplit

import duckdb

try:
    from opentelemetry import trace
    from opentelemetry.trace import SpanKind, Status, StatusCode, TracerProvider
except ImportError as error:  # pragma: no cover (the suite installs the extra)
    raise ImportError(
        "project_architect_db.integrations.otel needs OpenTelemetry's API: "
        'pip install "project_architect_db[otel]"'
    ) from error

from ..core.observe import QueryEvent, QueryListener

__all__ = ["instrument"]

_SCOPE = "project_architect_db"


class _Engine(Protocol):
    """What ``instrument`` needs of a ``DatabaseEngine``."""

    @property
    def config(self) -> _Config: ...

    def add_query_listener(self, listener: QueryListener) -> None: ...


class _Config(Protocol):
    @property
    def database(self) -> str: ...

    @property
    def backend(self) -> str: ...


class _Operations:
    """The statement kind of each SQL text, asked of DuckDB's parser once."""

    #: Composed SQL varies with filters and ordering; keep the cache bounded.
    LIMIT = 4096

    def __init__(self) -> None:
        self._kinds: dict[str, str] = {}
        self._lock = threading.Lock()

    def of(self, sql: str) -> str:
        kind = self._kinds.get(sql)
        if kind is None:
            kind = _parse_kind(sql)
            with self._lock:
                if len(self._kinds) < self.LIMIT:
                    self._kinds[sql] = kind
        return kind


def _parse_kind(sql: str) -> str:
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error:
        return "UNKNOWN"
    if len(statements) != 1:
        return "BATCH"
    kind: str = statements[0].type.name
    return kind


class _SpanListener:
    """The query listener ``instrument`` adds: one span per event."""

    def __init__(self, tracer: trace.Tracer, database: str, system: str) -> None:
        self._tracer = tracer
        self._database = database
        #: OpenTelemetry's db.system.name: "duckdb" or "postgresql".
        self._system = system
        self._operations = _Operations()

    def __call__(self, event: QueryEvent) -> None:
        end = time.time_ns()
        start = end - int(event.duration * 1e9)
        attributes: dict[str, str | int | bool] = {
            "db.system.name": self._system,
            "db.namespace": self._database,
            "db.operation.name": self._operations.of(event.sql),
            "db.query.summary": event.name,
            "db.query.text": event.sql,
        }
        if event.rows is not None:
            attributes["db.response.returned_rows"] = event.rows
        span = self._tracer.start_span(
            event.name, kind=SpanKind.CLIENT, attributes=attributes, start_time=start
        )
        if event.error is not None:
            span.set_attribute("error.type", type(event.error).__name__)
            span.set_status(Status(StatusCode.ERROR, str(event.error)))
        span.end(end_time=end)

    def __repr__(self) -> str:
        return f"<OpenTelemetry spans for {self._database!r}>"


def _version() -> str | None:
    """The installed library's version, for the instrumentation scope."""
    try:
        return metadata.version("project_architect_db")
    except metadata.PackageNotFoundError:  # pragma: no cover (run from a bare source tree)
        return None


def instrument(engine: _Engine, *, tracer_provider: TracerProvider | None = None) -> QueryListener:
    """Make one span per statement of ``engine``; the listener that does it.

    ``tracer_provider``: where the spans go (default: the global one set with
    ``opentelemetry.trace.set_tracer_provider``). Stop with
    ``engine.remove_query_listener(listener)``.
    """
    tracer = trace.get_tracer(_SCOPE, _version(), tracer_provider=tracer_provider)
    config = engine.config
    # On PostgreSQL the database's name, never the URL: it may hold a password.
    namespace = (
        urlsplit(config.database).path.lstrip("/")
        if config.backend == "postgresql"
        else config.database
    )
    listener = _SpanListener(tracer, namespace, config.backend)
    engine.add_query_listener(listener)
    return listener

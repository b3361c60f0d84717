"""OpenTelemetry: one CLIENT span per statement, following the database semantic
conventions, under the span of the task that made the call (SDK in-memory exporter)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from helpers import project_data
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from project_architect_db import DatabaseEngine, InvalidQueryError, ProjectRepository
from project_architect_db.integrations.otel import instrument


@pytest.fixture
def exporter() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    yield exporter
    exporter.shutdown()


@pytest.fixture
def provider(exporter: InMemorySpanExporter) -> TracerProvider:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider


def finished(exporter: InMemorySpanExporter, name: str) -> list[ReadableSpan]:
    return [span for span in exporter.get_finished_spans() if span.name == name]


async def test_one_span_per_statement_with_database_conventions(
    engine: DatabaseEngine, exporter: InMemorySpanExporter, provider: TracerProvider
) -> None:
    instrument(engine, tracer_provider=provider)
    tracer = provider.get_tracer("app")
    with tracer.start_as_current_span("POST /projects") as request:
        async with engine.session() as session:
            project = await ProjectRepository(session).create(project_data())
            await ProjectRepository(session).get_by_id(project.id)

    [create] = finished(exporter, "create_project")
    [get] = finished(exporter, "get_project")
    assert get.kind is SpanKind.CLIENT
    assert get.attributes is not None
    on_postgres = engine.config.backend == "postgresql"
    assert dict(get.attributes) == {
        "db.system.name": engine.config.backend,
        # A PostgreSQL engine's namespace is the database's name, never its URL.
        "db.namespace": engine.config.database.rpartition("/")[2]
        if on_postgres
        else engine.config.database,
        "db.operation.name": "SELECT",
        "db.query.summary": "get_project",
        "db.query.text": get.attributes["db.query.text"],
        "db.response.returned_rows": 1,
    }
    assert "$id" in str(get.attributes["db.query.text"])
    assert create.attributes is not None
    assert create.attributes["db.query.summary"] == "create_project"
    # Children of the request's span, from the worker thread that ran them.
    for span in (create, get):
        assert span.parent is not None
        assert span.parent.span_id == request.get_span_context().span_id
        assert span.status.status_code is StatusCode.UNSET
        assert span.start_time is not None
        assert span.end_time is not None
        assert span.end_time > span.start_time
    assert get.end_time is not None
    assert create.end_time is not None
    assert get.end_time >= create.end_time


async def test_the_operation_name_is_the_statement_kind_duckdb_parses(
    engine: DatabaseEngine, exporter: InMemorySpanExporter, provider: TracerProvider
) -> None:
    instrument(engine, tracer_provider=provider)
    await engine.execute_raw("CREATE TABLE notes (body VARCHAR)")
    await engine.execute_raw("INSERT INTO notes VALUES ('a'), ('b')")
    await engine.execute_raw("UPDATE notes SET body = 'c'")
    await engine.execute_raw("DELETE FROM notes")
    operations = [
        span.attributes["db.operation.name"]
        for span in finished(exporter, "execute_raw")
        if span.attributes is not None
    ]
    assert operations == ["CREATE", "INSERT", "UPDATE", "DELETE"]


async def test_a_failed_statement_span_has_error_type_and_status(
    engine: DatabaseEngine, exporter: InMemorySpanExporter, provider: TracerProvider
) -> None:
    instrument(engine, tracer_provider=provider)
    with pytest.raises(InvalidQueryError):
        await engine.execute_raw("SELECT * FROM no_such_table")
    [span] = finished(exporter, "execute_raw")
    assert span.attributes is not None
    assert span.attributes["error.type"] == "InvalidQueryError"
    assert "db.response.returned_rows" not in span.attributes
    assert span.status.status_code is StatusCode.ERROR
    assert "no_such_table" in (span.status.description or "")


async def test_removing_the_listener_stops_the_spans(
    engine: DatabaseEngine, exporter: InMemorySpanExporter, provider: TracerProvider
) -> None:
    listener = instrument(engine, tracer_provider=provider)
    await engine.execute_raw("SELECT 1")
    engine.remove_query_listener(listener)
    await engine.execute_raw("SELECT 2")
    assert len(finished(exporter, "execute_raw")) == 1
    namespace = engine.config.database
    if engine.config.backend == "postgresql":
        namespace = namespace.rpartition("/")[2]  # the database's name, not its URL
    assert repr(listener) == f"<OpenTelemetry spans for {namespace!r}>"

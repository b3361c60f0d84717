"""SQL injection: hostile text at every place user text reaches the library.

Field names, lookups, orderings, JSON paths, search text, analytics names, page
cursors and every string value are fed hostile strings (quotes, comments,
``UNION SELECT``, ``DROP TABLE``, NUL, unicode tricks, very long text). Each must
either raise a clear ``InvalidQueryError`` (names) / ``ValidationError`` (values
the database cannot store) or give exactly the right result, and the database
must be unchanged: a snapshot of every table (row count and content digest) and
of the schema (columns, tables, indexes, sequences, views, macros, types,
attached databases) is taken before and after each example.

The properties run through ``portal_engine``, so on asyncio and on trio.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pytest
from helpers import (
    GRANULARITIES,
    METRICS,
    PortalEngine,
    conversation_data,
    document_data,
    project_data,
    repository_data,
    run_in_session,
)
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from project_architect_db import (
    AnalyticsRepository,
    ConversationRepository,
    DatabaseEngine,
    Document,
    DocumentRepository,
    DocumentType,
    InvalidQueryError,
    Project,
    ProjectRepository,
    QueryBuilder,
    RepositoryRepository,
    Session,
)
from project_architect_db.search import index_terms, query_terms

PROPERTY = settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
    ],
)
SLOW_PROPERTY = settings(PROPERTY, max_examples=15)

# -- hostile strings ------------------------------------------------------------------

FRAGMENTS: list[str] = [
    "'",
    "''",
    '"',
    "--",
    "/*",
    "*/",
    "/* */",
    ";",
    "UNION SELECT",
    " UNION SELECT * FROM audit_log --",
    "DROP TABLE projects",
    "'; DELETE FROM projects; --",
    '"; DROP TABLE audit_log; --',
    "') OR 1=1 --",
    "' OR '1'='1",
    "'||(SELECT version())||'",
    "CREATE TABLE pwned (x INTEGER)",
    "ATTACH ':memory:' AS pwned",
    "COPY projects TO 'stolen.csv'",
    'name" , (SELECT 1) AS "x',
    'id" DESC; DROP TABLE projects; --',
    "\\",
    "\\'",
    "\\x00",
    "\x00",
    "$1",
    "$f0",
    "$limit",
    "?",
    ":name",
    "%",
    "_",
    "\n",
    "\r\n",
    "\t",
    "\uff07",  # fullwidth apostrophe
    "\u02bc",  # modifier letter apostrophe
    "\u202e",  # right-to-left override
    "\u200d",  # zero-width joiner
    "\u200b",  # zero-width space
    "\ufeff",  # byte order mark
    "e\u0301\u0301",  # combining acute accents
    "\u0430dmin",  # Cyrillic a: a homoglyph of "admin"
    "n\u0430me",  # homoglyph of "name"
    "\u0456d",  # homoglyph of "id"
    "\U0001f680",
    "\u2028",
    "ARCHITECTURE",
    "architecture",
]

fragments = st.sampled_from(FRAGMENTS)
#: Mixes of fragments and arbitrary text, arbitrary text alone, and very long
#: repetitions of fragments (1,000 to 60,000 characters).
HOSTILE: st.SearchStrategy[str] = st.one_of(
    fragments,
    st.lists(fragments | st.text(max_size=8), min_size=2, max_size=6).map("".join),
    st.text(max_size=40),
    st.builds(
        lambda seed, n: (seed * n)[:n],
        st.lists(fragments, min_size=1, max_size=3).map("".join),
        st.integers(1_000, 60_000),
    ),
)
#: Hostile strings short enough to keep a test quick where length is not the point.
SHORT_HOSTILE: st.SearchStrategy[str] = st.one_of(
    fragments,
    st.lists(fragments | st.text(max_size=8), min_size=2, max_size=6).map("".join),
    st.text(max_size=40),
)


def storable(text: str, low: int = 0, high: int | None = None) -> str:
    """``text`` as a valid value of a text column of ``low``..``high`` characters:
    NUL (which the schemas refuse) replaced by a quote, cut, padded with quotes."""
    text = text.replace("\x00", "'")
    if high is not None:
        text = text[:high]
    return text + "'" * (low - len(text))


def with_nul(text: str, position: int) -> str:
    position = min(position, len(text))
    return text[:position] + "\x00" + text[position:]


NUL_TEXT = st.builds(with_nul, SHORT_HOSTILE, st.integers(0, 40))

# -- what the library accepts as names ---------------------------------------------------

PROJECT_COLUMNS = frozenset(name for name in Project.model_fields if name != "architecture")
LOOKUPS = frozenset(
    {"exact", "ne", "lt", "lte", "gt", "gte", "in", "not_in", "contains", "startswith", "isnull"}
)
#: Keyword arguments of list()/count() that are not filters.
RESERVED_KWARGS = frozenset({"limit", "offset", "order_by", "include_deleted"})
#: The JSON path grammar of the README: $.key, $.key.subkey, $.key[0].
DOCUMENTED_PATH = re.compile(r"\$(?:\.[A-Za-z_][A-Za-z0-9_]*|\[[0-9]+\])+")


def is_filter_key(key: str, columns: frozenset[str] = PROJECT_COLUMNS) -> bool:
    """Whether ``key`` is a well-formed ``field`` / ``field__lookup`` filter key."""
    name, separator, lookup = key.rpartition("__")
    if not separator:
        return key in columns
    return name in columns and lookup in LOOKUPS


def names_offender(error: BaseException, key: str) -> bool:
    """The error message quotes the filter key or its field part."""
    message = str(error)
    return repr(key) in message or repr(key.rpartition("__")[0]) in message


# -- database snapshot ------------------------------------------------------------------

SCHEMA_SQL = """
SELECT 'column' AS kind, table_name || '.' || column_name || ' ' || data_type AS item
FROM duckdb_columns()  -- what information_schema.columns shows, read directly
UNION ALL SELECT 'table', schema_name || '.' || table_name FROM duckdb_tables()
UNION ALL SELECT 'index', index_name || ' ON ' || table_name FROM duckdb_indexes()
UNION ALL SELECT 'sequence', sequence_name FROM duckdb_sequences()
UNION ALL SELECT 'view', view_name FROM duckdb_views() WHERE NOT internal
UNION ALL SELECT 'type', type_name FROM duckdb_types() WHERE NOT internal
UNION ALL SELECT 'database', database_name FROM duckdb_databases()
"""
#: The tables the migrations create (a table appearing or vanishing shows in the schema part).
TABLES = (
    "analytics_summaries",
    "audit_log",
    "conversations",
    "documents",
    "projects",
    "repositories",
    "schema_migrations",
    "search_terms",
)
#: Every table's row count and a digest of its rows (the sum of their hashes), then
#: the schema: one statement.
SNAPSHOT_SQL = (
    " UNION ALL ".join(
        f"SELECT 'rows' AS kind, '{name}' AS item, count(*) AS n, "
        f'CAST(coalesce(sum(hash(x)), 0) AS VARCHAR) AS digest FROM "{name}" AS x'
        for name in TABLES
    )
    + f" UNION ALL SELECT kind, item, NULL, NULL FROM ({SCHEMA_SQL}) ORDER BY ALL"
)
#: The same on PostgreSQL: its catalog, and a digest of each table's rows as text.
POSTGRES_SCHEMA_SQL = """
SELECT 'column' AS kind, table_name || '.' || column_name || ' ' || data_type AS item
FROM information_schema.columns WHERE table_schema = 'public'
UNION ALL SELECT 'table', schemaname || '.' || tablename FROM pg_tables
    WHERE schemaname NOT IN ('pg_catalog', 'information_schema')
UNION ALL SELECT 'index', indexname || ' ON ' || tablename FROM pg_indexes
    WHERE schemaname = 'public'
UNION ALL SELECT 'sequence', sequencename FROM pg_sequences
UNION ALL SELECT 'view', viewname FROM pg_views WHERE schemaname = 'public'
UNION ALL SELECT 'type', typname FROM pg_type
    WHERE typnamespace = 'public'::regnamespace AND typtype <> 'c' AND typcategory <> 'A'
UNION ALL SELECT 'function', proname FROM pg_proc WHERE pronamespace = 'public'::regnamespace
"""
POSTGRES_SNAPSHOT_SQL = (
    " UNION ALL ".join(
        f"SELECT 'rows' AS kind, '{name}' AS item, count(*) AS n, "
        f"coalesce(md5(string_agg(md5(x::text), '' ORDER BY md5(x::text))), '') AS digest "
        f'FROM "{name}" AS x'
        for name in TABLES
    )
    + f" UNION ALL SELECT kind, item, NULL, NULL FROM ({POSTGRES_SCHEMA_SQL}) AS s"
    + " ORDER BY 1, 2, 3, 4"
)


@dataclass(frozen=True)
class Snapshot:
    schema: tuple[tuple[str, str], ...]
    #: table -> (row count, digest of its rows)
    tables: dict[str, tuple[int, str]]


async def take_snapshot(engine: DatabaseEngine) -> Snapshot:
    on_postgres = engine.config.backend == "postgresql"
    rows = await engine.execute_raw(POSTGRES_SNAPSHOT_SQL if on_postgres else SNAPSHOT_SQL)
    return Snapshot(
        schema=tuple((row["kind"], row["item"]) for row in rows if row["kind"] != "rows"),
        tables={
            row["item"]: (int(row["n"]), str(row["digest"]))
            for row in rows
            if row["kind"] == "rows"
        },
    )


def snapshot(pe: PortalEngine) -> Snapshot:
    portal, engine = pe
    return portal.call(take_snapshot, engine)


Work = Callable[[Session], Awaitable[Any]]


@dataclass(frozen=True)
class Checked:
    """What ``checked`` saw: each work's result (or the exception it raised) and
    the named queries that ran meanwhile (``list_projects`` for the composed
    list/count/exists queries of projects...)."""

    outcomes: list[Any]
    queries_run: set[str]

    def refused(self, position: int) -> InvalidQueryError:
        outcome = self.outcomes[position]
        assert isinstance(outcome, InvalidQueryError), outcome
        assert isinstance(outcome, ValueError)
        return outcome


def query_calls(engine: DatabaseEngine) -> dict[str, int]:
    return {name: stats.calls for name, stats in engine.stats().queries.items()}


def checked(pe: PortalEngine, *works: Work) -> Checked:
    """Run each ``work(session)`` in a fresh session, all in one trip to the
    portal's event loop, between two snapshots of the database, and assert that
    nothing changed. A work's exception is returned in place of its result."""
    portal, engine = pe

    async def all_works() -> tuple[Snapshot, Checked, Snapshot]:
        before = await take_snapshot(engine)
        calls_before = query_calls(engine)
        outcomes: list[Any] = []
        for work in works:
            try:
                async with engine.session() as session:
                    outcomes.append(await work(session))
            except Exception as error:  # the test asserts on its exact type
                outcomes.append(error)
        calls_after = query_calls(engine)
        after = await take_snapshot(engine)
        ran = {name for name, n in calls_after.items() if n != calls_before.get(name, 0)}
        return before, Checked(outcomes, ran), after

    before, result, after = portal.call(all_works)
    assert after.schema == before.schema
    assert after.tables == before.tables
    return result


# -- seed data -------------------------------------------------------------------------

SEED_NAMES = [
    "plain",
    "O'Brien",
    'say "hi"',
    "a -- b",
    "/* not a comment */",
    "x; y",
    "UNION SELECT",
    "DROP TABLE projects",
    "'; DELETE FROM projects; --",
    "back\\slash",
    "\uff07fullwidth\uff07",
    "\u202eevil",
    "zero\u200dwidth",
    "cafe\u0301",
    "\u0430dmin",
    "ALPHA",
    "alpha",
    "Architecture lab",
    "%_%",
    "emoji \U0001f680",
]


@dataclass(frozen=True)
class Seeded:
    pe: PortalEngine
    projects: list[Project]
    documents: list[Document]
    conversation_id: int


async def seed(engine: DatabaseEngine) -> tuple[list[Project], list[Document], int]:
    async with engine.session() as session:
        projects = ProjectRepository(session)
        documents = DocumentRepository(session)
        made = []
        for i, name in enumerate(SEED_NAMES):
            made.append(
                await projects.create(
                    project_data(
                        name=name,
                        description=None if i % 3 == 0 else f"{name} described",
                        project_idea=f"The idea of {name} architecture",
                        architecture={
                            "framework": "x" if i % 2 else name,
                            "k": name,
                            "a": {"b": ["x", name]},
                            "n": i,
                        },
                        status=["draft", "active", "completed", "archived"][i % 4],
                    )
                )
            )
        gone = await projects.create(project_data(name="deleted plain"))
        await projects.delete(gone.id)
        docs = [
            await documents.create(
                document_data(
                    project.id,
                    title=project.name,
                    content=f"{project.name} notes on architecture",
                    doc_type=["adr", "api", "guide"][i % 3],
                )
            )
            for i, project in enumerate(made[:8])
        ]
        talk = await ConversationRepository(session).create(conversation_data(made[0].id))
        await RepositoryRepository(session).create(repository_data(made[0].id))
        live = await projects.list(limit=1_000)
        return live, docs, talk.id


@pytest.fixture
def seeded(portal_engine: PortalEngine) -> Seeded:
    portal, engine = portal_engine
    projects, documents, conversation_id = portal.call(seed, engine)
    return Seeded(portal_engine, projects, documents, conversation_id)


# -- filter field names and lookups --------------------------------------------------------


def _filter_calls(key: str) -> list[Work]:
    filters: dict[str, Any] = {key: 1}
    return [
        lambda s: ProjectRepository(s).list(**filters),
        lambda s: ProjectRepository(s).count(**filters),
        lambda s: ProjectRepository(s).exists(**filters),
        lambda s: ProjectRepository(s).list_and_count(**filters),
        lambda s: ProjectRepository(s).query().filter(**filters).all(),
        lambda s: QueryBuilder(Project, s).filter(**filters).count(),
    ]


def assert_filter_key_refused(pe: PortalEngine, key: str) -> None:
    calls = _filter_calls(key)
    seen = checked(pe, *calls)
    for position in range(len(calls)):
        error = seen.refused(position)
        assert names_offender(error, key), (key, str(error)[:300])
    assert seen.queries_run == set()  # refused before any SQL ran


@PROPERTY
@given(key=HOSTILE)
def test_hostile_filter_field_names_are_refused_before_any_sql(seeded: Seeded, key: str) -> None:
    assume(not is_filter_key(key) and key not in RESERVED_KWARGS)
    assert_filter_key_refused(seeded.pe, key)


@PROPERTY
@given(field=st.sampled_from(sorted(PROJECT_COLUMNS)), lookup=HOSTILE)
def test_hostile_lookup_names_are_refused_before_any_sql(
    seeded: Seeded, field: str, lookup: str
) -> None:
    key = f"{field}__{lookup}"
    assume(not is_filter_key(key))
    assert_filter_key_refused(seeded.pe, key)


# -- ordering ---------------------------------------------------------------------------


def ordered_calls(ordering: str | list[str]) -> list[Work]:
    """list, list_and_count and QueryBuilder.order_by with this ordering."""
    fields = [ordering] if isinstance(ordering, str) else ordering
    return [
        lambda s: ProjectRepository(s).list(order_by=ordering),
        lambda s: ProjectRepository(s).list_and_count(order_by=ordering),
        lambda s: ProjectRepository(s).query().order_by(*fields).all(),
    ]


@PROPERTY
@given(hostile=HOSTILE, data=st.data())
def test_hostile_order_by_names_are_refused_before_any_sql(
    seeded: Seeded, hostile: str, data: st.DataObject
) -> None:
    assume(hostile.removeprefix("-") not in PROJECT_COLUMNS)
    valid = data.draw(st.sampled_from(["name", "-created_at", "status", "-version"]))
    pe = seeded.pe
    cases: list[tuple[str | list[str], str]] = [
        (hostile, hostile),
        ("-" + hostile, "-" + hostile),
        ([hostile], hostile),
        ([valid, hostile], hostile),
        ([hostile, "id"], hostile),
        ([valid, "-" + hostile, "id"], "-" + hostile),
    ]
    works: list[Work] = []
    offenders: list[str] = []
    for ordering, offender in cases:
        works += ordered_calls(ordering)
        offenders += [offender] * 3
    seen = checked(pe, *works)
    for position, offender in enumerate(offenders):
        assert repr(offender) in str(seen.refused(position)), position
    assert seen.queries_run == set()


async def test_order_by_refuses_bad_names_even_after_id(engine: DatabaseEngine) -> None:
    """README: "a bad order_by raises InvalidQueryError before any SQL runs". An
    ordering that names ``id`` must still have its later items checked: a name
    that is not a field, a non-string, or a repeated name is refused, as it is
    anywhere else in the list."""
    async with engine.session() as session:
        projects = ProjectRepository(session)
        await projects.create(project_data())
        orderings: list[list[Any]] = [
            ["id", "colour; DROP TABLE projects; --"],
            ["-id", 'name" DESC; DELETE FROM projects; --'],
            ["id", 5],
            ["id", "id"],
            ["name", "id", "nonsense"],
        ]
        for ordering in orderings:
            with pytest.raises(InvalidQueryError):
                await projects.list(order_by=ordering)
            with pytest.raises(InvalidQueryError):
                projects.query().order_by(*ordering)
        assert await projects.count() == 1


# -- JSON paths and JSON fields ------------------------------------------------------------


def json_at(document: Any, path: str) -> Any:
    """The value at a documented JSON path, or a sentinel when there is none."""
    missing = object()
    current = document
    for key, index in re.findall(r"\.([A-Za-z_][A-Za-z0-9_]*)|\[([0-9]+)\]", path[1:]):
        if key:
            if not isinstance(current, dict) or key not in current:
                return missing
            current = current[key]
        else:
            position = int(index)
            if not isinstance(current, list) or position >= len(current):
                return missing
            current = current[position]
    return current


PATHS = st.one_of(
    HOSTILE,
    HOSTILE.map(lambda h: "$." + h),
    HOSTILE.map(lambda h: "$.framework" + h),
    HOSTILE.map(lambda h: "$.a[0]" + h),
    st.from_regex(r"\$(\.(framework|k|a|b|n|x_1)|\[[0-2]\]){1,3}", fullmatch=True),
)


@PROPERTY
@given(path=PATHS, field=HOSTILE)
def test_hostile_json_paths_are_refused_or_match_exactly(
    seeded: Seeded, path: str, field: str
) -> None:
    assume(field != "architecture")
    seen = checked(
        seeded.pe,
        lambda s: QueryBuilder(Project, s).filter_json("architecture", path, "x").all(),
        lambda s: QueryBuilder(Project, s).filter_json(field, "$.k", "x").all(),
    )
    found = seen.outcomes[0]
    if isinstance(found, InvalidQueryError):
        assert repr(path) in str(found), str(found)[:300]
    else:
        # Accepted: only a path of the documented grammar, matched exactly.
        assert DOCUMENTED_PATH.fullmatch(path), (path, found)
        expected = [p.id for p in seeded.projects if json_at(p.architecture, path) == "x"]
        assert [p.id for p in found] == expected, path
    assert repr(field) in str(seen.refused(1))


# -- full-text search --------------------------------------------------------------------


def expected_hits(rows: Sequence[Any], fields: Sequence[str], text: str) -> set[int]:
    """Rows sharing at least one stemmed word with the search text."""
    wanted = set(query_terms(text))
    return {
        row.id
        for row in rows
        if wanted & set(index_terms({name: getattr(row, name) for name in fields})[1])
    }


@PROPERTY
@given(text=HOSTILE, doc_type=SHORT_HOSTILE)
def test_hostile_search_text_finds_exactly_the_rows_sharing_a_word(
    seeded: Seeded, text: str, doc_type: str
) -> None:
    assume(doc_type not in {t.value for t in DocumentType})
    seen = checked(
        seeded.pe,
        lambda s: ProjectRepository(s).search_by_name(text, limit=10_000),
        lambda s: DocumentRepository(s).search(text, limit=10_000),
        lambda s: DocumentRepository(s).search(text, doc_type=doc_type),
    )
    found, hits, _ = seen.outcomes
    assert len(found) == len({p.id for p in found})  # no row twice
    assert {p.id for p in found} == expected_hits(
        seeded.projects, ("name", "description", "project_idea"), text
    )
    assert {hit.item.id for hit in hits} == expected_hits(
        seeded.documents, ("title", "content"), text
    )
    assert repr(doc_type) in str(seen.refused(2))


# -- analytics names -----------------------------------------------------------------------


@PROPERTY
@given(name=HOSTILE)
def test_hostile_metric_and_granularity_names_are_refused(seeded: Seeded, name: str) -> None:
    seen = checked(
        seeded.pe,
        lambda s: AnalyticsRepository(s).time_series_analysis(name, "day"),
        lambda s: AnalyticsRepository(s).time_series_analysis("projects_created", name),
    )
    for position, valid in enumerate((METRICS, GRANULARITIES)):
        if name not in valid:
            assert repr(name) in str(seen.refused(position))
    if name not in METRICS and name not in GRANULARITIES:
        assert seen.queries_run == set()  # refused before any SQL ran


# -- keyset cursors ------------------------------------------------------------------------


def encode_cursor(payload: Any) -> str:
    text = json.dumps(payload, separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


@PROPERTY
@given(hostile=HOSTILE)
def test_hostile_cursors_are_refused_or_are_plain_positions(seeded: Seeded, hostile: str) -> None:
    by_name = [["name", False], ["id", False]]
    # Raw text, and forged cursors naming hostile fields or holding values that
    # do not fit the ordering, are refused.
    refused: list[tuple[str, str]] = [
        ("name", hostile),
        ("id", hostile),
        ("name", encode_cursor({"o": [[hostile, False], ["id", False]], "k": ["a", 1]})),
        ("name", encode_cursor({"o": by_name, "k": [hostile]})),
        ("name", encode_cursor({"o": by_name, "k": [[hostile], 1]})),
        ("id", encode_cursor({"o": [["id", False]], "k": [[hostile]]})),
        ("id", encode_cursor({"o": [["id", False]], "k": [{"x": hostile}]})),
    ]
    # A well-formed cursor holding hostile text is only a position.
    forged = encode_cursor({"o": by_name, "k": [hostile, 0]})

    def page_after(ordering: str, cursor: str, size: int) -> Work:
        return lambda s: ProjectRepository(s).query().order_by(ordering).page(size, cursor)

    works = [page_after(ordering, cursor, 3) for ordering, cursor in refused]
    works.append(page_after("name", forged, 1_000))
    seen = checked(seeded.pe, *works)
    for position in range(len(refused)):
        seen.refused(position)
    page = seen.outcomes[-1]
    if isinstance(page, InvalidQueryError):
        # Only an oversized cursor may be refused, or one holding a NUL (stored
        # text never holds one: refused like a filter value, on every backend).
        assert len(forged) > 1_000 or "\x00" in hostile, str(page)
    else:
        # (name, id) after (hostile, 0): names equal to the text count as after.
        expected = sorted(
            (p for p in seeded.projects if p.name >= hostile), key=lambda p: (p.name, p.id)
        )
        assert [p.id for p in page.items] == [p.id for p in expected]
        assert page.next_cursor is None


# -- filter values -----------------------------------------------------------------------

TEXT_LOOKUPS = ["exact", "ne", "lt", "gte", "in", "not_in", "startswith", "contains"]


def python_match(stored: str | None, lookup: str, value: Any) -> bool | None:
    """Whether the lookup keeps a stored value, or None when Python cannot say
    for sure (case folding of non-ASCII text may differ from DuckDB's lower())."""
    if lookup == "exact":
        return stored is not None and stored == value
    if lookup == "ne":
        return stored is None or stored != value
    if lookup == "lt":
        return stored is not None and stored < value
    if lookup == "gte":
        return stored is not None and stored >= value
    if lookup == "in":
        return stored is not None and stored in value
    if lookup == "not_in":
        return stored is None or stored not in value
    if lookup == "startswith":
        return stored is not None and stored.startswith(value)
    assert lookup == "contains"
    if stored is None:
        return False
    if value in stored:
        return True
    if stored.isascii() and value.isascii():
        return value.lower() in stored.lower()
    return None


@PROPERTY
@given(
    value=HOSTILE,
    others=st.lists(SHORT_HOSTILE, max_size=3),
    field=st.sampled_from(["name", "description", "project_idea"]),
    lookup=st.sampled_from(TEXT_LOOKUPS),
)
def test_hostile_filter_values_are_matched_as_plain_values(
    seeded: Seeded, value: str, others: list[str], field: str, lookup: str
) -> None:
    pe = seeded.pe
    if lookup in ("in", "not_in"):
        # Sometimes a stored value too, so the list matches something.
        argument: Any = [value, *others, seeded.projects[len(others)].name]
    else:
        argument = value
    key = f"{field}__{lookup}"
    listed, counted = checked(
        pe,
        lambda s: ProjectRepository(s).list(limit=1_000, **{key: argument}),
        lambda s: ProjectRepository(s).count(**{key: argument}),
    ).outcomes
    if any("\x00" in item for item in (argument if isinstance(argument, list) else [argument])):
        # Stored text never holds NUL: such a value is refused, on every backend.
        for refusal in (listed, counted):
            assert isinstance(refusal, InvalidQueryError), refusal
            assert "NUL" in str(refusal)
        return
    got = {p.id for p in listed}
    assert counted == len(listed)
    for project in seeded.projects:
        expected = python_match(getattr(project, field), lookup, argument)
        if expected is not None:
            assert (project.id in got) is expected, (project.id, key, argument)


# -- values are stored exactly ----------------------------------------------------------------


@SLOW_PROPERTY
@given(
    name=HOSTILE,
    description=HOSTILE,
    idea=HOSTILE,
    json_key=HOSTILE,
    json_value=HOSTILE,
    new_name=SHORT_HOSTILE,
)
def test_hostile_project_values_round_trip_exactly(
    seeded: Seeded,
    name: str,
    description: str,
    idea: str,
    json_key: str,
    json_value: str,
    new_name: str,
) -> None:
    """Hostile text stored as a project's columns (and as JSON keys and values)
    reads back equal, is found by filters on itself, and changes nothing but the
    rows the write meant to add. (NUL is refused everywhere: see
    test_nul_in_text_values_is_a_validation_error_naming_the_field.)"""
    pe = seeded.pe
    name, new_name = storable(name, 1, 255), storable(new_name, 1, 255)
    json_key, json_value = storable(json_key), storable(json_value)
    description, idea = storable(description, 0, 5_000), storable(idea, 10, 10_000)
    architecture = {"k": json_value, json_key: [json_value, {"n": 1}]}
    if json_key == "k":
        architecture = {"k": json_value}
    before = snapshot(pe)

    async def write(session: Session) -> tuple[Project, list[int]]:
        projects = ProjectRepository(session)
        created = await projects.create(
            {
                "name": name,
                "description": description,
                "project_idea": idea,
                "architecture": architecture,
            }
        )
        found = await projects.search_by_name(name, limit=10_000)
        return created, [p.id for p in found]

    created, searched = run_in_session(pe, write)
    if query_terms(name):
        assert created.id in searched

    async def read(session: Session) -> dict[str, Any]:
        projects = ProjectRepository(session)
        pid = created.id
        return {
            "fetched": await projects.get_by_id(pid),
            "exact": [p.id for p in await projects.list(name=name, limit=1_000)],
            "in": await projects.exists(id=pid, name__in=[name, new_name]),
            "startswith": await projects.exists(id=pid, name__startswith=name),
            "contains": await projects.exists(id=pid, description__contains=description),
            "idea": await projects.count(id=pid, project_idea=idea),
            "json": [
                p.id
                for p in await projects.query()
                .filter(id=pid)
                .filter_json("architecture", "$.k", json_value)
                .all()
            ],
            "updated": await projects.update(pid, {"name": new_name}, expected_version=1),
            "history": await projects.history(pid),
        }

    seen = run_in_session(pe, read)
    fetched = seen["fetched"]
    assert fetched == created
    assert (fetched.name, fetched.description, fetched.project_idea) == (name, description, idea)
    assert fetched.architecture == architecture
    assert created.id in seen["exact"]
    assert seen["in"]
    assert seen["startswith"]
    assert seen["contains"]
    assert seen["idea"] == 1
    assert seen["json"] == [created.id]
    assert seen["updated"].name == new_name
    assert seen["history"][0].changes["name"] == name
    assert seen["history"][0].changes["architecture"] == architecture
    assert seen["history"][-1].changes["name"] == {"old": name, "new": new_name}

    after = snapshot(pe)
    assert after.schema == before.schema
    indexed = run_in_session(
        pe,
        lambda s: s.execute(
            "SELECT count(*) AS n FROM search_terms WHERE entity = 'project' AND entity_id = $id",
            {"id": created.id},
        ),
    )[0]["n"]
    expected_counts = {name: count for name, (count, _) in before.tables.items()}
    expected_counts["projects"] += 1
    expected_counts["audit_log"] += 2
    expected_counts["search_terms"] += indexed
    assert {name: count for name, (count, _) in after.tables.items()} == expected_counts
    for table in before.tables.keys() - {"projects", "audit_log", "search_terms"}:
        assert after.tables[table] == before.tables[table], table


class _RollBack(Exception):
    """Raised to leave a transaction block so that it rolls back."""


@SLOW_PROPERTY
@given(
    title=HOSTILE,
    content=HOSTILE,
    other=SHORT_HOSTILE,
    json_key=SHORT_HOSTILE,
    json_value=HOSTILE,
)
def test_hostile_child_values_round_trip_exactly_on_every_write_path(
    seeded: Seeded, title: str, content: str, other: str, json_key: str, json_value: str
) -> None:
    """create, bulk_create, update, bulk_update and add_message store hostile
    text exactly, for documents, conversations (messages included) and code
    repositories; everything is written in a transaction that is rolled back."""
    pe = seeded.pe
    pid = seeded.projects[0].id
    title, short = storable(title, 1, 255), storable(other, 1, 100)
    content = storable(content)
    json_key, json_value = storable(json_key), storable(json_value)
    metadata = {json_key: json_value, "k": [json_value]}

    async def work(session: Session) -> None:
        async with session.begin():
            documents = DocumentRepository(session)
            doc = await documents.create(
                document_data(pid, title=title, content=content, metadata=metadata)
            )
            bulk = await documents.bulk_create(
                [
                    document_data(pid, title=short, content=short),
                    document_data(pid, title=title, content=content, metadata=metadata),
                ]
            )
            await documents.update(doc.id, {"content": short, "title": short})
            await documents.bulk_update([{"id": bulk[0].id, "content": content, "title": title}])
            for document_id, expected_title, expected_content in (
                (doc.id, short, short),
                (bulk[0].id, title, content),
                (bulk[1].id, title, content),
            ):
                stored = await documents.get_by_id(document_id)
                assert stored is not None
                assert (stored.title, stored.content) == (expected_title, expected_content)
            stored_bulk = await documents.get_by_id(bulk[1].id)
            assert stored_bulk is not None
            assert stored_bulk.metadata == metadata
            assert await documents.count(id=doc.id, content=short) == 1

            conversations = ConversationRepository(session)
            talk = await conversations.create(
                conversation_data(
                    pid,
                    title=title,
                    messages=[{"role": "user", "content": content or "'", "metadata": metadata}],
                )
            )
            await conversations.add_message(
                talk.id, {"role": "assistant", "content": short, "metadata": metadata}
            )
            await conversations.update(talk.id, {"title": short})
            stored_talk = await conversations.get_by_id(talk.id)
            assert stored_talk is not None
            assert stored_talk.title == short
            assert [m.content for m in stored_talk.messages] == [content or "'", short]
            assert [m.metadata for m in stored_talk.messages] == [metadata, metadata]

            repositories = RepositoryRepository(session)
            code = await repositories.create(
                repository_data(
                    pid,
                    name=title,
                    default_branch=short,
                    primary_language=short,
                    metadata=metadata,
                )
            )
            stored_code = await repositories.get_by_id(code.id)
            assert stored_code is not None
            assert (stored_code.name, stored_code.default_branch) == (title, short)
            assert (stored_code.primary_language, stored_code.metadata) == (short, metadata)
            assert await repositories.count(id=code.id, name=title, default_branch=short) == 1
            raise _RollBack

    (outcome,) = checked(pe, work).outcomes
    assert isinstance(outcome, _RollBack), outcome


# -- NUL and surrogates: values the database cannot store -----------------------------------

NulCall = Callable[[Seeded, str], Callable[[Session], Awaitable[Any]]]

NUL_TARGETS: dict[str, tuple[NulCall, tuple[Any, ...]]] = {
    "project name": (
        lambda sd, v: lambda s: ProjectRepository(s).create(project_data(name=v)),
        ("name",),
    ),
    "project description": (
        lambda sd, v: lambda s: ProjectRepository(s).create(project_data(description=v)),
        ("description",),
    ),
    "project idea": (
        lambda sd, v: (
            lambda s: ProjectRepository(s).create(
                project_data(project_idea=v + "'" * (10 - len(v)))
            )
        ),
        ("project_idea",),
    ),
    "project update": (
        lambda sd, v: lambda s: ProjectRepository(s).update(sd.projects[0].id, {"name": v}),
        ("name",),
    ),
    "project bulk_create": (
        lambda sd, v: (
            lambda s: ProjectRepository(s).bulk_create([project_data(), project_data(name=v)])
        ),
        (1, "name"),
    ),
    "project bulk_update": (
        lambda sd, v: (
            lambda s: ProjectRepository(s).bulk_update(
                [{"id": sd.projects[0].id, "description": v}]
            )
        ),
        (0, "description"),
    ),
    "document content": (
        lambda sd, v: (
            lambda s: DocumentRepository(s).create(document_data(sd.projects[0].id, content=v))
        ),
        ("content",),
    ),
    "document title update": (
        lambda sd, v: lambda s: DocumentRepository(s).update(sd.documents[0].id, {"title": v}),
        ("title",),
    ),
    "conversation title": (
        lambda sd, v: (
            lambda s: ConversationRepository(s).create(
                conversation_data(sd.projects[0].id, title=v)
            )
        ),
        ("title",),
    ),
    "message in create": (
        lambda sd, v: (
            lambda s: ConversationRepository(s).create(
                conversation_data(sd.projects[0].id, messages=[{"role": "user", "content": v}])
            )
        ),
        ("messages", 0, "content"),
    ),
    "add_message": (
        lambda sd, v: (
            lambda s: ConversationRepository(s).add_message(
                sd.conversation_id, {"role": "user", "content": v}
            )
        ),
        ("content",),
    ),
    "repository branch": (
        lambda sd, v: (
            lambda s: RepositoryRepository(s).create(
                repository_data(sd.projects[0].id, default_branch=v)
            )
        ),
        ("default_branch",),
    ),
    # JSON strings and keys too: PostgreSQL's jsonb cannot store a NUL, so both
    # backends refuse it, before anything is written.
    "project architecture value": (
        lambda sd, v: lambda s: ProjectRepository(s).create(project_data(architecture={"k": [v]})),
        ("architecture",),
    ),
    "document metadata key": (
        lambda sd, v: (
            lambda s: DocumentRepository(s).create(
                document_data(sd.projects[0].id, metadata={v: 1})
            )
        ),
        ("metadata",),
    ),
}


@PROPERTY
@given(value=NUL_TEXT, target=st.sampled_from(sorted(NUL_TARGETS)))
def test_nul_in_text_values_is_a_validation_error_naming_the_field(
    seeded: Seeded, value: str, target: str
) -> None:
    make_call, location = NUL_TARGETS[target]
    pe = seeded.pe
    (refusal,) = checked(pe, make_call(seeded, value)).outcomes
    assert isinstance(refusal, ValidationError), refusal
    nul_errors = [
        error
        for error in refusal.errors()
        if tuple(error["loc"][: len(location)]) == location and "NUL" in error["msg"]
    ]
    assert nul_errors, (target, refusal.errors())


async def test_lone_surrogates_are_refused_with_a_clear_error_and_write_nothing(
    engine: DatabaseEngine,
) -> None:
    """Text that is not valid Unicode (a lone surrogate) cannot be stored: it is
    refused with a library error (or a ValidationError), never half-written."""
    async with engine.session() as session:
        projects = ProjectRepository(session)
        project = await projects.create(project_data())
        calls: list[Callable[[], Awaitable[Any]]] = [
            lambda: projects.create(project_data(name="bad \ud800 name")),
            lambda: projects.update(project.id, {"description": "\udfff"}),
            lambda: projects.bulk_create([project_data(), project_data(name="\ud83d")]),
            lambda: projects.bulk_create([project_data(architecture={"k": "\udc00"})]),
            lambda: ConversationRepository(session).create(
                conversation_data(project.id, messages=[{"role": "user", "content": "\ud800"}])
            ),
        ]
        counts = "SELECT (SELECT count(*) FROM projects) AS p, (SELECT count(*) FROM audit_log) AS a, (SELECT count(*) FROM conversations) AS c"
        before = await session.execute(counts)
        for call in calls:
            with pytest.raises((InvalidQueryError, ValidationError)):
                await call()
        assert await session.execute(counts) == before
        assert (await projects.get_by_id(project.id)) == project
        # Filtering or searching by such text is refused or finds nothing; never an odd error.
        for lookup in ("name", "name__contains", "name__in"):
            argument: Any = ["\ud800"] if lookup == "name__in" else "\ud800"
            outcome: int | InvalidQueryError
            try:
                outcome = await projects.count(**{lookup: argument})
            except InvalidQueryError as error:
                outcome = error
            assert outcome == 0 or isinstance(outcome, InvalidQueryError), outcome
        assert await projects.search_by_name("\ud800 atlas") == [project]

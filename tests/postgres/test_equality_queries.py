"""Every named query answers the same on PostgreSQL as on DuckDB.

For each query PostgreSQL runs (every query of ``sql/`` but ``snapshot.sql``:
the shared ones, and the twins under ``sql/postgres/``), the DuckDB text runs
on DuckDB and the PostgreSQL text on PostgreSQL, over the same fixed data sets
(equality_data.py), through the connections the library uses, and what they
return is compared:

* column names, in order; rows in order (as a multiset only for the queries
  that promise no order: ``UNORDERED``);
* values: the same Python type (so ``Decimal`` against ``int`` fails), ints
  equal, floats within 1e-9 relative, datetimes equal and in UTC (a value a
  write stamps with ``now()`` matches any recent moment on the other side), JSON
  columns compared as parsed JSON (jsonb normalizes spacing, key order and
  duplicate keys); where DuckDB answers lists and structs (the analytics),
  PostgreSQL answers ``json`` that the library's connection parses into lists
  and dicts: keys in the same order, and a whole double may come back as an
  int (PostgreSQL writes ``1.0`` as ``1`` in JSON), compared by value.
* A write runs on a fresh copy of its data set, in one transaction, and is
  compared by what each statement returns, then by the whole content of every
  table and the next value of every sequence afterwards (DuckDB commits its
  copy; PostgreSQL's state is read inside the transaction, which is then
  rolled back).

Two allowances, both for how DuckDB computes, not for a PostgreSQL difference:

* ``rank_projects``/``rank_documents``: DuckDB sums each row's weights in the
  order its threads meet them, so rows holding identical terms can get scores
  one ulp apart and swap places from run to run; the twins sum in a fixed
  order, so such rows tie exactly and ``id`` orders them. Rows whose scores
  agree within 1e-12 relative are a tie: their order may differ, and where
  ``:limit`` cuts a tie either engine may keep any of its rows.
* ``project_metrics.complexity`` holds each score's JSON text, which jsonb does
  not keep (``1e2`` reads ``100``, ``7.000`` keeps its zeros where DuckDB writes
  ``7.0``): the distribution the library builds from it (``complexity_key``) is
  compared instead of the texts.

One test per query (so a failure names it), run over all its cases; a test
that every query PostgreSQL runs has cases; and one comparing the schemas.
"""

from __future__ import annotations

import contextlib
import json
import math
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from equality_data import (
    DATASETS,
    DOC_TYPES,
    NOW_REF,
    PHASES,
    PROVIDERS,
    SEQUENCES,
    STATE_ORDER,
    STATUSES,
    WORDS,
    Data,
    DuckDatabase,
    PgDatabase,
    Result,
    build_duckdb,
    build_postgres,
    create_pg_database,
    drop_pg_database,
    ts,
)
from helpers import GRANULARITIES, METRICS
from pgservers import database_url

from project_architect_db.core.sql import NamedQuery, load_catalog
from project_architect_db.postgres.catalog import PostgresCatalog, load_postgres_catalog
from project_architect_db.repositories.analytics import complexity_key

# -- the queries ------------------------------------------------------------------------


@cache
def duckdb_queries() -> dict[str, NamedQuery]:
    return load_catalog().queries


@cache
def postgres_catalog() -> PostgresCatalog:
    return load_postgres_catalog()


def postgres_query_names() -> list[str]:
    """Every query a PostgreSQL engine runs (shared and twins)."""
    return sorted(postgres_catalog().queries)


# Queries whose rows come in no defined order (compared as multisets).
UNORDERED = frozenset(
    {
        *(f"list_{t}" for t in ("projects", "conversations", "documents", "repositories")),
        *(
            f"{t}_{suffix}"
            for t in ("projects", "conversations", "documents", "repositories")
            for suffix in ("by_ids", "by_ids_including_deleted", "update_targets")
        ),
        *(
            f"bulk_{verb}_{t}"
            for verb in ("insert", "update")
            for t in ("projects", "conversations", "documents", "repositories")
        ),
        *(
            f"{verb}_{t}_of_project"
            for verb in ("soft_delete", "restore", "hard_delete")
            for t in ("conversations", "documents", "repositories")
        ),
        "insert_messages",
        "distinct_staged_words",
        "create_project",
        "create_document",
        "create_repository",
    }
)
# Analytics: DuckDB's lists of structs are json on PostgreSQL.
BUILT_JSON = frozenset(
    {"project_metrics", "conversation_flow", "document_usage", "repository_health", "cross_entity"}
)
# Stored JSON documents (jsonb on PostgreSQL, read back as text).
JSON_COLUMNS = frozenset({"architecture", "metadata", "changes", "payload"})
RANKED = frozenset({"rank_projects", "rank_documents"})


# -- comparing ----------------------------------------------------------------------------


class Mismatch(AssertionError):
    """DuckDB and PostgreSQL answered differently."""


@dataclass(frozen=True)
class Rules:
    """How to compare the values of one result."""

    #: Values written with now() are matched as "recent" from this moment on.
    started: datetime
    #: The query answers json where DuckDB answers lists and structs.
    built_json: bool = False
    #: PostgreSQL's session is not in UTC: compare instants, not offsets.
    any_zone: bool = False

    def is_now(self, value: datetime) -> bool:
        return value >= self.started - timedelta(minutes=1)


def close(a: float, b: float) -> bool:
    """Floats equal within 1e-9 relative (NaN equals NaN)."""
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return a == b or abs(a - b) <= 1e-9 * max(abs(a), abs(b))


def same_value(d: Any, p: Any, rules: Rules, where: str, column: str | None = None) -> None:
    """DuckDB's value ``d`` and PostgreSQL's ``p`` are the same to the library."""
    if d is None or p is None:
        if d is not p:
            raise Mismatch(f"{where}: duckdb {d!r}, postgres {p!r}")
    elif isinstance(d, list | dict) and rules.built_json:
        same_built_json(d, p, where)
    elif type(d) is not type(p):
        raise Mismatch(
            f"{where}: types differ: duckdb {type(d).__name__} {d!r}, "
            f"postgres {type(p).__name__} {p!r}"
        )
    elif isinstance(d, str):
        if d != p and not (column in JSON_COLUMNS and same_json_text(d, p, where)):
            raise Mismatch(f"{where}: duckdb {d!r}, postgres {p!r}")
    elif isinstance(d, float):
        if not close(d, p):
            raise Mismatch(f"{where}: duckdb {d!r}, postgres {p!r}")
    elif isinstance(d, datetime):
        if d.utcoffset() != timedelta(0) or (p.utcoffset() != timedelta(0) and not rules.any_zone):
            raise Mismatch(f"{where}: not in UTC: duckdb {d!r}, postgres {p!r}")
        if d != p and not (rules.is_now(d) and rules.is_now(p)):
            raise Mismatch(f"{where}: duckdb {d!r}, postgres {p!r}")
    elif isinstance(d, list):
        if len(d) != len(p):
            raise Mismatch(f"{where}: duckdb {len(d)} items {d!r}, postgres {len(p)} {p!r}")
        for i, (a, b) in enumerate(zip(d, p, strict=True)):
            same_value(a, b, rules, f"{where}[{i}]")
    elif d != p:
        raise Mismatch(f"{where}: duckdb {d!r}, postgres {p!r}")


def same_json_text(d: str, p: str, where: str) -> bool:
    """Two JSON texts of the same value (raises if they are not)."""
    try:
        parsed = json.loads(d), json.loads(p)
    except json.JSONDecodeError:
        return False
    same_parsed_json(*parsed, where)
    return True


def same_parsed_json(d: Any, p: Any, where: str) -> None:
    """Parsed JSON of the same value: objects by key (in any order), numbers by value."""
    if isinstance(d, bool) or isinstance(p, bool):
        equal = d is p
    elif isinstance(d, int | float) and isinstance(p, int | float):
        equal = close(float(d), float(p)) and (type(d) is not int or type(p) is not int or d == p)
    elif isinstance(d, dict) and isinstance(p, dict):
        if d.keys() != p.keys():
            raise Mismatch(f"{where}: json keys duckdb {sorted(d)}, postgres {sorted(p)}")
        for key in d:
            same_parsed_json(d[key], p[key], f"{where}.{key}")
        return
    elif isinstance(d, list) and isinstance(p, list):
        if len(d) != len(p):
            raise Mismatch(f"{where}: json duckdb {d!r}, postgres {p!r}")
        for i, (a, b) in enumerate(zip(d, p, strict=True)):
            same_parsed_json(a, b, f"{where}[{i}]")
        return
    else:
        equal = d == p
    if not equal:
        raise Mismatch(f"{where}: json duckdb {d!r}, postgres {p!r}")


def same_built_json(d: Any, p: Any, where: str) -> None:
    """DuckDB's list/struct value against the json PostgreSQL built for it
    (parsed by the library's connection): the same keys in the same order, and
    numbers by value (a whole double is written as an int)."""
    if isinstance(d, dict):
        if not isinstance(p, dict) or list(d) != list(p):
            raise Mismatch(f"{where}: duckdb {d!r}, postgres {p!r}")
        for key in d:
            same_built_json(d[key], p[key], f"{where}.{key}")
    elif isinstance(d, list):
        if not isinstance(p, list) or len(d) != len(p):
            raise Mismatch(f"{where}: duckdb {d!r}, postgres {p!r}")
        for i, (a, b) in enumerate(zip(d, p, strict=True)):
            same_built_json(a, b, f"{where}[{i}]")
    elif isinstance(d, float):
        if type(p) not in (int, float) or not close(d, float(p)):
            raise Mismatch(f"{where}: duckdb {d!r}, postgres {p!r}")
    elif d is None or isinstance(d, bool | int | str):
        if type(d) is not type(p) or d != p:
            raise Mismatch(f"{where}: duckdb {d!r}, postgres {p!r}")
    else:
        raise Mismatch(f"{where}: no rule to compare duckdb {d!r} with postgres {p!r}")


def row_key(row: tuple[Any, ...], names: list[str], rules: Rules) -> str:
    """A text that sorts equal rows of both engines alike (for multisets)."""
    parts = []
    for name, value in zip(names, row, strict=True):
        if isinstance(value, str) and name in JSON_COLUMNS:
            with contextlib.suppress(json.JSONDecodeError):
                value = json.dumps(json.loads(value), sort_keys=True)
        elif isinstance(value, datetime):
            value = "now" if rules.is_now(value) else value.astimezone(UTC).isoformat()
        elif isinstance(value, float):
            value = round(value, 6)
        parts.append(repr(value))
    return "|".join(parts)


def plainly_equal(d_row: tuple[Any, ...], p_row: tuple[Any, ...], rules: Rules) -> bool:
    """The common case, checked fast: equal rows of scalars of the same types,
    datetimes in UTC (anything else goes through same_value)."""
    if d_row != p_row:
        return False
    for a, b in zip(d_row, p_row, strict=True):
        kind = type(a)
        if kind is not type(b) or kind is list or kind is dict:
            return False
        if kind is datetime and (a.utcoffset() or (b.utcoffset() and not rules.any_zone)):
            return False
    return True


Adjust = Callable[[list[str], list[Any], list[Any]], tuple[list[Any], list[Any]]]


def same_result(
    label: str,
    d: Result,
    p: Result,
    rules: Rules,
    *,
    ordered: bool = True,
    adjust: Adjust | None = None,
) -> None:
    if d.names != p.names:
        raise Mismatch(f"{label}: columns: duckdb {d.names}, postgres {p.names}")
    if len(d.rows) != len(p.rows):
        raise Mismatch(
            f"{label}: {len(d.rows)} rows on duckdb, {len(p.rows)} on postgres"
            f"\n  duckdb   {d.rows[:5]}\n  postgres {p.rows[:5]}"
        )
    d_rows, p_rows = d.rows, p.rows
    if not ordered:
        d_rows = sorted(d_rows, key=lambda row: row_key(row, d.names, rules))
        p_rows = sorted(p_rows, key=lambda row: row_key(row, p.names, rules))
    for i, (d_row, p_row) in enumerate(zip(d_rows, p_rows, strict=True)):
        if adjust is None and plainly_equal(d_row, p_row, rules):
            continue
        d_values, p_values = list(d_row), list(p_row)
        if adjust is not None:
            d_values, p_values = adjust(d.names, d_values, p_values)
        for column, a, b in zip(d.names, d_values, p_values, strict=True):
            same_value(a, b, rules, f"{label}: row {i}, {column}", column)


def complexity_distribution(
    names: list[str], d: list[Any], p: list[Any]
) -> tuple[list[Any], list[Any]]:
    """project_metrics: the complexity distribution the library makes of each
    engine's JSON texts, instead of the texts (see the module docstring)."""
    i = names.index("complexity")

    def keyed(items: list[dict[str, Any]] | None) -> list[list[Any]] | None:
        if items is None:
            return None
        counts: dict[str, int] = {}
        for item in items:
            key = complexity_key(item["raw"])
            counts[key] = counts.get(key, 0) + int(item["n"])
        return [[key, n] for key, n in sorted(counts.items())]

    d, p = list(d), list(p)
    d[i], p[i] = keyed(d[i]), keyed(p[i])
    return d, p


ADJUST: dict[str, Adjust] = {"project_metrics": complexity_distribution}


def tied(a: float, b: float) -> bool:
    return abs(a - b) <= 1e-12 * max(abs(a), abs(b))


def same_ranking(label: str, d: Result, p: Result, everything: Result, limit: int) -> None:
    """Rankings (id, score): scores equal row by row; the ids of each run of
    tied scores equal as sets, and where ``limit`` cuts the last run, both
    engines keep rows of that tie (``everything``: DuckDB's whole ranking)."""
    if d.names != p.names:
        raise Mismatch(f"{label}: columns: duckdb {d.names}, postgres {p.names}")
    if len(d.rows) != len(p.rows):
        raise Mismatch(f"{label}: {len(d.rows)} rows on duckdb, {len(p.rows)} on postgres")
    rules = Rules(datetime.now(UTC))
    for i, (d_row, p_row) in enumerate(zip(d.rows, p.rows, strict=True)):
        same_value(d_row[1], p_row[1], rules, f"{label}: row {i} score")
    i = 0
    while i < len(d.rows):
        j = i
        while j + 1 < len(d.rows) and tied(d.rows[j + 1][1], d.rows[i][1]):
            j += 1
        d_ids = [row[0] for row in d.rows[i : j + 1]]
        p_ids = [row[0] for row in p.rows[i : j + 1]]
        if len(d.rows) == limit and j == len(d.rows) - 1:
            tie = {row[0] for row in everything.rows if tied(row[1], d.rows[i][1])}
            if not (set(d_ids) <= tie and set(p_ids) <= tie):
                raise Mismatch(
                    f"{label}: rows {i}-{j}: duckdb {d_ids}, postgres {p_ids}, tie {sorted(tie)}"
                )
        elif sorted(d_ids) != sorted(p_ids):
            raise Mismatch(f"{label}: rows {i}-{j}: duckdb {d_ids}, postgres {p_ids}")
        i = j + 1


# -- the databases ------------------------------------------------------------------------

#: The data set "base" read through a PostgreSQL session in a zone with DST:
#: the twins must not depend on the session's time zone.
NEW_YORK = "base_new_york"


class Databases:
    """Each data set in a DuckDB file and a PostgreSQL database, built when a
    test first needs it (under pytest-xdist a worker builds only what its tests
    use), with one reading connection each; everything dropped at the end."""

    def __init__(self, server: str, directory: Path) -> None:
        self.server = server
        self.directory = directory
        self.prefix = f"pad_eq_{uuid.uuid4().hex[:10]}"
        self._data: dict[str, Data] = {}
        self._duck: dict[str, DuckDatabase] = {}
        self._pg: dict[str, PgDatabase] = {}
        self._pg_names: list[str] = []

    def data(self, dataset: str) -> Data:
        if dataset not in self._data:
            self._data[dataset] = DATASETS[dataset]()
        return self._data[dataset]

    def duck_file(self, dataset: str) -> Path:
        path = self.directory / f"{dataset}.duckdb"
        if not path.exists():
            duck = duckdb_queries()
            migrations = load_catalog().migrations
            build_duckdb(path, self.data(dataset), duck["create_schema_migrations"], migrations)
        return path

    def pg_url(self, dataset: str) -> str:
        name = f"{self.prefix}_{dataset}"
        url = database_url(self.server, name)
        if name not in self._pg_names:
            self._pg_names.append(name)
            create_pg_database(self.server, name)
            catalog = postgres_catalog()
            build_postgres(
                url,
                self.data(dataset),
                catalog.queries["create_schema_migrations"],
                catalog.migrations,
            )
        return url

    def duck(self, dataset: str) -> DuckDatabase:
        dataset = "base" if dataset == NEW_YORK else dataset
        if dataset not in self._duck:
            self._duck[dataset] = DuckDatabase(self.duck_file(dataset))
        return self._duck[dataset]

    def pg(self, dataset: str) -> PgDatabase:
        if dataset not in self._pg:
            if dataset == NEW_YORK:
                self._pg[dataset] = PgDatabase(self.pg_url("base"), "America/New_York")
            else:
                self._pg[dataset] = PgDatabase(self.pg_url(dataset))
        return self._pg[dataset]

    def duck_copy(self, dataset: str) -> DuckDatabase:
        """A fresh writable copy of a data set's DuckDB file."""
        copy = self.directory / "write.duckdb"
        copy.write_bytes(self.duck_file(dataset).read_bytes())
        return DuckDatabase(copy)

    def close(self) -> None:
        for db in [*self._duck.values(), *self._pg.values()]:
            db.close()
        for name in self._pg_names:
            drop_pg_database(self.server, name)


@pytest.fixture(scope="module")
def databases(
    postgres_server: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Databases]:
    dbs = Databases(postgres_server, tmp_path_factory.mktemp("equality"))
    try:
        yield dbs
    finally:
        dbs.close()


# -- the cases ------------------------------------------------------------------------------


@dataclass
class Step:
    query: str
    params: dict[str, Any] = field(default_factory=dict)
    staged: dict[str, pa.Table] = field(default_factory=dict)


@dataclass
class Case:
    label: str
    steps: list[Step]
    write: bool = False
    dataset: str = "base"


S, I64, I32, B = pa.string(), pa.int64(), pa.int32(), pa.bool_()
TS = pa.timestamp("us", tz="UTC")
STAGED_PROJECTS = [
    ("id", I64), ("name", S), ("description", S), ("project_idea", S), ("architecture", S),
    ("status", S),
]  # fmt: skip
STAGED_CONVERSATIONS = [
    ("id", I64), ("project_id", I64), ("title", S), ("phase", S), ("messages", S),
]  # fmt: skip
STAGED_DOCUMENTS = [
    ("id", I64), ("project_id", I64), ("title", S), ("doc_type", S), ("content", S),
    ("metadata", S),
]  # fmt: skip
STAGED_REPOSITORIES = [
    ("id", I64), ("project_id", I64), ("name", S), ("url", S), ("provider", S),
    ("default_branch", S), ("primary_language", S), ("stars", I64), ("open_issues", I64),
    ("last_commit_at", TS), ("metadata", S),
]  # fmt: skip
STAGED_AUDIT = [("entity", S), ("entity_id", I64), ("action", S), ("changes", S)]
STAGED_WORDS = [("entity_id", I64), ("field", S), ("words", S)]
STAGED_STEMS = [("word", S), ("stem", S)]


def staged_table(schema: list[tuple[str, pa.DataType]], rows: list[tuple[Any, ...]]) -> pa.Table:
    return pa.table(
        {name: pa.array([row[i] for row in rows], type=t) for i, (name, t) in enumerate(schema)}
    )


def updates_schema(columns: list[tuple[str, pa.DataType]]) -> list[tuple[str, pa.DataType]]:
    """The staged updates of bulk_update: id, read version, and a set_ flag per column."""
    schema = [("id", I64), ("read_version", I32)]
    for name, t in columns:
        schema += [(f"set_{name}", B), (name, t)]
    return schema


def message_json(items: list[tuple[str, str, str, Any]]) -> str:
    return json.dumps(
        [
            {"role": role, "content": content, "created_at": at, "metadata": meta}
            for role, content, at, meta in items
        ]
    )


class Cases:
    """The cases of each query, by the query they test."""

    def __init__(self) -> None:
        self.by_query: dict[str, list[Case]] = {}

    def read(self, query: str, *param_sets: dict[str, Any], dataset: str = "base") -> None:
        for params in param_sets or ({},):
            case = Case(f"{dataset}: {query} {params}", [Step(query, params)], dataset=dataset)
            self.by_query.setdefault(query, []).append(case)

    def write(self, query: str, label: str, *steps: Step, dataset: str = "base") -> None:
        """A write case testing ``query`` (one of its steps) on a fresh copy."""
        assert query in {step.query for step in steps}, label
        case = Case(f"{dataset}: {label}", list(steps), write=True, dataset=dataset)
        self.by_query.setdefault(query, []).append(case)

    def single(self, query: str, label: str, params: dict[str, Any], **staged: pa.Table) -> None:
        self.write(query, label, Step(query, params, staged))


TABLES = ("projects", "conversations", "documents", "repositories")
ENTITIES = {
    "projects": "project",
    "conversations": "conversation",
    "documents": "document",
    "repositories": "repository",
}
TERM_SETS = [
    ["graph"], ["graph", "api"], ["api", "servic", "data"], ["nothing"], [], WORDS[:12],
    ["cach", "queue", "auth", "token"],
]  # fmt: skip
WINDOWS = [
    (None, None), (ts(30), None), (None, ts(90)), (ts(30), ts(90)), (ts(45), ts(45)),
    (ts(400), ts(500)), (ts(-400), ts(-300)), (ts(10, 3600, 5), ts(130, 7, 999999)),
]  # fmt: skip
NOWS = [
    NOW_REF, NOW_REF + timedelta(days=10), NOW_REF - timedelta(days=60),
    NOW_REF + timedelta(days=1000), ts(-10),
]  # fmt: skip


def build_cases(data: Data) -> dict[str, list[Case]]:
    """Every case, by the query it tests (ids taken from the data set "base")."""
    cases = Cases()
    read, write, single = cases.read, cases.write, cases.single
    rows = {table: data.dicts(table) for table in TABLES}
    live = {t: [r["id"] for r in rows[t] if r["deleted_at"] is None] for t in TABLES}
    dead = {t: [r["id"] for r in rows[t] if r["deleted_at"] is not None] for t in TABLES}
    P, C, D, R = ({r["id"]: r for r in rows[t]} for t in TABLES)  # by id
    live_p, dead_p = live["projects"], dead["projects"]

    # --- reads of one entity
    for table in TABLES:
        entity = ENTITIES[table]
        ids = [
            {"id": live[table][0]},
            {"id": live[table][-1]},
            {"id": dead[table][0]},
            {"id": 99999},
        ]
        read(f"get_{entity}", *ids)
        read(f"get_{entity}_including_deleted", *ids)
        read(f"list_{table}")
        id_lists = [
            {"ids": live[table][:4] + dead[table][:2] + [99999]},
            {"ids": []},
            {"ids": [live[table][1]]},
            {"ids": live[table] + dead[table]},
        ]
        read(f"{table}_by_ids", *id_lists)
        read(f"{table}_by_ids_including_deleted", *id_lists)
        read(f"{table}_update_targets", *id_lists)
    read("projects_by_status", *({"status": s} for s in [*STATUSES, "nope"]))
    of_projects = [{"project_id": p} for p in (live_p[0], live_p[3], dead_p[0], 99999)]
    read("conversations_of_project", *of_projects)
    read("documents_of_project", *of_projects)
    read("repositories_of_project", *of_projects)
    read("conversations_in_phase", *({"phase": s} for s in PHASES))
    read("documents_of_type", *({"doc_type": s} for s in DOC_TYPES))
    # The query counts back from now(): days from NOW_REF's repositories to now.
    days = (datetime.now(UTC) - NOW_REF).days
    read(
        "stale_repositories",
        *({"days": days + k} for k in (-1, 0, 3, 7, 8, 30, 45, 90, 91, 400)),
        {"days": 0},
        {"days": 100000},
    )
    read(
        "missing_live_projects",
        {"project_ids": sorted(live_p[:3] + dead_p[:2] + [99999, 100000])},
        {"project_ids": []},
        {"project_ids": live_p},
    )

    # --- messages
    positions: dict[int, list[int]] = {}
    for m in data.dicts("messages"):
        positions.setdefault(m["conversation_id"], []).append(m["position"])
    busy = max(positions, key=lambda c: len(positions[c]))
    silent = next(c for c in C if c not in positions)
    dead_c = dead["conversations"]
    read(
        "messages_page",
        {"conversation_id": busy, "after": None, "limit": 5},
        {"conversation_id": busy, "after": positions[busy][4], "limit": 10},
        {"conversation_id": busy, "after": positions[busy][4] + 1, "limit": 1000},
        {"conversation_id": busy, "after": 10**9, "limit": 10},
        {"conversation_id": busy, "after": None, "limit": 0},
        {"conversation_id": silent, "after": None, "limit": 10},
        {"conversation_id": dead_c[0], "after": None, "limit": 100},
    )
    read(
        "messages_of_conversations",
        {"ids": [busy, silent, dead_c[0], 99999]},
        {"ids": []},
        {"ids": list(C)},
    )

    # --- audit, search, migrations, summaries
    read(
        "audit_history",
        *(
            {"entity": e, "entity_id": i}
            for e, i in (
                ("project", 1), ("conversation", busy), ("conversation", live["conversations"][2]),
                ("document", 3), ("repository", 99999), ("project", busy),
            )
        ),
    )  # fmt: skip
    read("rank_projects", *({"terms": t, "limit": n} for t in TERM_SETS for n in (5, 100)))
    first_document = D[1]
    read(
        "rank_documents",
        *(
            {"terms": t, "project_id": project_id, "doc_type": doc_type, "limit": 10}
            for t in TERM_SETS[:3] + TERM_SETS[5:]
            for project_id, doc_type in (
                (None, None), (live_p[0], None), (None, "adr"), (live_p[1], "guide"),
                (dead_p[0], None), (first_document["project_id"], first_document["doc_type"]),
            )
        ),
        {"terms": WORDS[:12], "project_id": None, "doc_type": None, "limit": 1000},
    )  # fmt: skip
    read("applied_migrations")
    read("migrations_table_exists")
    read(
        "get_analytics_summary",
        {"name": "project_metrics"},
        {"name": "document_usage"},
        {"name": "missing"},
    )

    # --- analytics
    read("project_metrics", *({"start": s, "end": e} for s, e in WINDOWS))
    read("conversation_flow")
    read("document_usage")
    read("repository_health", *({"now": n} for n in NOWS))
    read("cross_entity", *({"now": n} for n in [*NOWS, ts(100), ts(150, 3600)]))
    series_windows = [
        *WINDOWS,
        (ts(31, 1800), ts(33, 7200)),
        (ts(0), ts(2)),
        (datetime(2024, 2, 29, 23, 59, 59, 999999, tzinfo=UTC), datetime(2024, 3, 4, tzinfo=UTC)),
        (ts(90), ts(30)),
    ]
    for metric in METRICS:
        for granularity in GRANULARITIES:
            for s, e in series_windows:
                # Hourly buckets over half-open ranges: for one metric only.
                if granularity == "hour" and (s is None) != (e is None) and metric != "messages":
                    continue
                read(
                    "time_series",
                    {"metric": metric, "granularity": granularity, "start": s, "end": e},
                )
    # Analytics on an empty database.
    for query, params in (
        ("project_metrics", {"start": None, "end": None}),
        ("conversation_flow", {}),
        ("document_usage", {}),
        ("repository_health", {"now": NOW_REF}),
        ("cross_entity", {"now": NOW_REF}),
        ("time_series", {"metric": "messages", "granularity": "day", "start": None, "end": None}),
        ("time_series", {"metric": "messages", "granularity": "day", "start": ts(0), "end": ts(3)}),
        (
            "time_series",
            {"metric": "projects_created", "granularity": "week", "start": ts(0), "end": None},
        ),
        ("rank_projects", {"terms": ["graph"], "limit": 5}),
        ("list_projects", {}),
    ):
        read(query, params, dataset="empty")
    # Analytics through a PostgreSQL session in America/New_York (DuckDB's is in UTC).
    around_dst = (datetime(2024, 3, 9, 12, tzinfo=UTC), datetime(2024, 3, 12, tzinfo=UTC))
    for metric in ("messages", "projects_created"):
        for granularity in GRANULARITIES:
            for s, e in [*series_windows[:5], around_dst]:
                if granularity == "hour" and (s is None or e is None):
                    continue
                read(
                    "time_series",
                    {"metric": metric, "granularity": granularity, "start": s, "end": e},
                    dataset=NEW_YORK,
                )
    for query, params in (
        ("project_metrics", {"start": None, "end": None}),
        ("conversation_flow", {}),
        ("document_usage", {}),
        ("repository_health", {"now": NOW_REF}),
        ("cross_entity", {"now": NOW_REF}),
        ("stale_repositories", {"days": days + 30}),
        ("stale_repositories", {"days": days}),
        ("repository_health", {"now": ts(79)}),
        ("cross_entity", {"now": ts(79)}),
        ("repository_health", {"now": ts(310)}),
        ("cross_entity", {"now": ts(310)}),
    ):
        read(query, params, dataset=NEW_YORK)
    # Analytics on data made of ties, and on other random data.
    for dataset in ("ties", "alt"):
        for query, params in (
            ("project_metrics", {"start": None, "end": None}),
            ("conversation_flow", {}),
            ("document_usage", {}),
            ("repository_health", {"now": NOW_REF}),
            ("cross_entity", {"now": NOW_REF}),
            ("cross_entity", {"now": ts(10, 3600)}),
            ("project_metrics", {"start": ts(20), "end": ts(120)}),
        ):
            read(query, params, dataset=dataset)
        for metric in METRICS:
            for granularity in ("day", "week", "month"):
                read(
                    "time_series",
                    {"metric": metric, "granularity": granularity, "start": None, "end": None},
                    dataset=dataset,
                )
    read("rank_projects", *({"terms": t, "limit": 50} for t in TERM_SETS), dataset="alt")
    read(
        "rank_documents",
        *({"terms": t, "project_id": None, "doc_type": None, "limit": 500} for t in TERM_SETS),
        dataset="alt",
    )

    # --- writes: projects
    p0 = next(p for p in P.values() if p["deleted_at"] is None and p["status"] != "completed")
    # A completed live project that bulk_update_projects does not stage already
    # (one staged row per id, as the library stages them).
    pc = next(
        p
        for p in P.values()
        if p["deleted_at"] is None
        and p["status"] == "completed"
        and p["completed_at"] is not None
        and p["id"] not in live_p[:4]
    )
    pd = P[dead_p[0]]
    architecture = '{"framework": "django", "complexity_score": 4, "nested": {"b": [1, 2.5, null]}}'
    for status in ("draft", "completed"):
        single(
            "create_project",
            f"create_project {status}",
            {
                "name": "New Ärger", "description": None, "project_idea": "an idea",
                "architecture": architecture, "status": status,
                "changes": json.dumps({"name": "New", "status": status}),
                "fields": ["name", "name", "project_idea"], "terms": ["new", "ärger", "idea"],
                "counts": [1, 2, 1],
            },
        )  # fmt: skip
    new_lonely = {
        "name": "x", "description": "d", "project_idea": "i", "architecture": None,
        "status": "active", "changes": "{}", "fields": [], "terms": [], "counts": [],
    }  # fmt: skip
    single("create_project", "create_project without terms", new_lonely)
    bulk_rows = [
        {
            "name": f"bulk {i}", "description": None if i % 2 else "d", "project_idea": "idea",
            "architecture": None if i == 1 else json.dumps({"framework": "f", "i": i}),
            "status": STATUSES[i % 4], "changes": json.dumps({"name": f"bulk {i}"}),
            "fields": ["name"] * (i % 3), "terms": [f"t{i}", "x", "y"][: i % 3],
            "counts": [1, 2][: i % 3],
        }
        for i in range(5)
    ]  # fmt: skip
    single("create_projects", "create_projects", {"rows": json.dumps(bulk_rows)})
    single("create_projects", "create_projects one", {"rows": json.dumps(bulk_rows[2:3])})
    changes = {
        "name": "renamed", "description": None, "project_idea": "idea 2",
        "architecture": '{"framework": "x"}', "changes": '{"name": {"old": "a", "new": "renamed"}}',
    }  # fmt: skip
    for label, row, version, status in (
        ("to completed", p0, p0["version"], "completed"),
        ("stays completed", pc, pc["version"], "completed"),
        ("leaves completed", pc, pc["version"], "archived"),
        ("stale version", p0, p0["version"] + 1, "active"),
        ("deleted", pd, pd["version"], "active"),
    ):
        params = {"id": row["id"], "version": version, **changes, "status": status}
        single("update_project", f"update_project {label}", params)
        reindexed = {**params, "fields": ["name", "description"], "terms": ["renam", "idea"]}
        single(
            "update_project_reindexed",
            f"update_project_reindexed {label}",
            {**reindexed, "counts": [1, 3]},
        )
    for pid in (p0["id"], pd["id"], 99999):
        single("soft_delete_project", f"soft_delete_project {pid}", {"id": pid})
        single("restore_project", f"restore_project {pid}", {"id": pid})
    lonely = max(P) + 1
    write(
        "hard_delete_project",
        "hard_delete_project, after its children",
        Step("create_project", new_lonely),
        Step("hard_delete_project", {"id": lonely}),
        Step("delete_messages_of_project", {"project_id": p0["id"]}),
        Step("hard_delete_conversations_of_project", {"project_id": p0["id"]}),
        Step("delete_search_terms_of_project_documents", {"project_id": p0["id"]}),
        Step("hard_delete_documents_of_project", {"project_id": p0["id"]}),
        Step("hard_delete_repositories_of_project", {"project_id": p0["id"]}),
        Step("delete_search_terms", {"entity": "project", "entity_id": p0["id"]}),
        Step("hard_delete_project", {"id": p0["id"]}),
        Step("hard_delete_project", {"id": 99999}),
    )
    next_p = max(P) + 1
    staged_projects = staged_table(
        STAGED_PROJECTS,
        [
            (next_p, "b1", None, "idea one", None, "draft"),
            (next_p + 1, "b2", "desc", "idea two",
             '{"framework": "django", "complexity_score": 2}', "completed"),
            (next_p + 2, "Ärger", "", "idea", "[]", "active"),
        ],
    )  # fmt: skip
    single("bulk_insert_projects", "bulk_insert_projects", {}, staged_projects=staged_projects)
    write(
        "audit_bulk_insert_projects",
        "bulk_insert_projects, then audit_bulk_insert_projects",
        Step("bulk_insert_projects", staged={"staged_projects": staged_projects}),
        Step("audit_bulk_insert_projects", staged={"staged_projects": staged_projects}),
    )
    single("bulk_load_projects", "bulk_load_projects", {}, staged_projects=staged_projects)
    first = [P[i] for i in live_p[:4]]
    staged_project_updates = staged_table(
        updates_schema(STAGED_PROJECTS[1:]),
        [
            (first[0]["id"], first[0]["version"], True, "n1", True, None, False, None, True,
             '{"a": 1}', True, "completed"),
            (first[1]["id"], first[1]["version"], False, None, False, None, True, "idea", False,
             None, False, None),
            (first[2]["id"], first[2]["version"] + 1, True, "stale", False, None, False, None,
             False, None, False, None),
            (pd["id"], pd["version"], True, "dead", False, None, False, None, False, None, False,
             None),
            (pc["id"], pc["version"], False, None, False, None, False, None, True, None, True,
             "active"),
        ],
    )  # fmt: skip
    single(
        "bulk_update_projects",
        "bulk_update_projects",
        {},
        staged_updates=staged_project_updates,
    )

    # --- writes: conversations and messages
    live_c = live["conversations"]
    c0, cd = C[live_c[0]], C[dead_c[0]]
    for pid in (live_p[0], dead_p[0], 99999):
        single(
            "insert_conversation",
            f"insert_conversation into project {pid}",
            {"project_id": pid, "title": "new", "phase": "design"},
        )
    for row, version in ((c0, c0["version"]), (c0, c0["version"] + 1), (cd, cd["version"])):
        single(
            "update_conversation",
            f"update_conversation {row['id']} version {version}",
            {"id": row["id"], "version": version, "title": "t2", "phase": "review"},
        )
    for cid in (c0["id"], cd["id"], 99999):
        single("bump_conversation_version", f"bump_conversation_version {cid}", {"id": cid})
        single("soft_delete_conversation", f"soft_delete_conversation {cid}", {"id": cid})
        single("restore_conversation", f"restore_conversation {cid}", {"id": cid})
        single(
            "delete_messages_of_conversation",
            f"delete_messages_of_conversation {cid}",
            {"conversation_id": cid},
        )
        write(
            "hard_delete_conversation",
            f"hard_delete_conversation {cid}, after its messages",
            Step("delete_messages_of_conversation", {"conversation_id": cid}),
            Step("hard_delete_conversation", {"id": cid}),
        )
    orphan = next(
        (c for c in C.values() if c["deleted_at"] is not None and c["project_id"] in dead_p), None
    )
    if orphan is not None:
        single(
            "restore_conversation",
            "restore_conversation of a deleted project",
            {"id": orphan["id"]},
        )
    at = datetime(2024, 9, 1, 10, 30, 0, 250000, tzinfo=UTC)
    victims = {"conversations": cd, "documents": D[dead["documents"][0]]}
    victims["repositories"] = R[dead["repositories"][0]]
    for table in ("conversations", "documents", "repositories"):
        pid = live_p[2]
        write(
            f"soft_delete_{table}_of_project",
            f"soft_delete_{table}_of_project, restored twice",
            Step(f"soft_delete_{table}_of_project", {"project_id": pid, "deleted_at": at}),
            Step(f"restore_{table}_of_project", {"project_id": pid, "deleted_at": at}),
            Step(f"restore_{table}_of_project", {"project_id": pid, "deleted_at": at}),
        )
        victim = victims[table]
        single(
            f"restore_{table}_of_project",
            f"restore_{table}_of_project of a data set's deletion",
            {"project_id": victim["project_id"], "deleted_at": victim["deleted_at"]},
        )
    write(
        "hard_delete_conversations_of_project",
        "hard_delete_conversations_of_project, after their messages",
        Step("delete_messages_of_project", {"project_id": live_p[2]}),
        Step("hard_delete_conversations_of_project", {"project_id": live_p[2]}),
    )
    write(
        "hard_delete_documents_of_project",
        "hard_delete_documents_of_project, after their search terms",
        Step("delete_search_terms_of_project_documents", {"project_id": live_p[2]}),
        Step("hard_delete_documents_of_project", {"project_id": live_p[2]}),
    )
    for pid in (live_p[2], dead_p[0], 99999):
        single(
            "hard_delete_repositories_of_project",
            f"hard_delete_repositories_of_project {pid}",
            {"project_id": pid},
        )
    said = [
        ("user", "hello", "2024-03-01T10:00:00+00:00", None),
        ("assistant", "hi", "2024-03-01T10:00:01.5+02:00", {"tokens": 3, "x": [1, None]}),
        ("system", "sys", "2024-03-01T10:00:01.000001Z", {}),
        ("user", "again", "2024-03-01T10:00:01.000001Z", None),
    ]
    single(
        "insert_messages",
        "insert_messages",
        {"conversation_id": c0["id"], "messages": message_json(said)},
    )
    single(
        "insert_messages",
        "insert_messages, none",
        {"conversation_id": c0["id"], "messages": "[]"},
    )
    for cid in (c0["id"], cd["id"], 99999):
        for meta in (None, '{"a": [1, 2], "b": "x"}'):
            single(
                "append_message",
                f"append_message to {cid} with metadata {meta}",
                {
                    "conversation_id": cid, "role": "assistant", "content": "answer",
                    "created_at": datetime(2024, 3, 2, 8, 0, 0, 1, tzinfo=UTC), "metadata": meta,
                },
            )  # fmt: skip
    next_c = max(C) + 1
    staged_conversations = {
        "staged_conversations": staged_table(
            STAGED_CONVERSATIONS,
            [
                (next_c, live_p[0], "b1", "discovery", message_json(said)),
                (next_c + 1, live_p[1], "b2", "review", "[]"),
                (next_c + 2, live_p[0], "Ärger", "design", message_json(said[1:3])),
            ],
        )
    }
    bulk_insert_conversations = Step("bulk_insert_conversations", staged=staged_conversations)
    single("bulk_insert_conversations", "bulk_insert_conversations", {}, **staged_conversations)
    write(
        "bulk_insert_staged_messages",
        "bulk_insert_conversations, then bulk_insert_staged_messages",
        bulk_insert_conversations,
        Step("bulk_insert_staged_messages", staged=staged_conversations),
        Step("messages_of_conversations", {"ids": [next_c, next_c + 1, next_c + 2]}),
    )
    write(
        "audit_bulk_insert_conversations",
        "bulk_insert_conversations, then audit_bulk_insert_conversations",
        bulk_insert_conversations,
        Step("audit_bulk_insert_conversations", staged=staged_conversations),
    )
    staged_conversation_updates = staged_table(
        updates_schema([("title", S), ("phase", S)]),
        [
            (c0["id"], c0["version"], True, "t", False, None),
            (live_c[1], C[live_c[1]]["version"], False, None, True, "review"),
            (live_c[2], C[live_c[2]]["version"] + 1, True, "stale", True, "review"),
            (cd["id"], cd["version"], True, "dead", False, None),
        ],
    )
    single(
        "bulk_update_conversations",
        "bulk_update_conversations",
        {},
        staged_updates=staged_conversation_updates,
    )
    for pid in (c0["project_id"], 99999):
        single(
            "delete_messages_of_project", f"delete_messages_of_project {pid}", {"project_id": pid}
        )

    # --- writes: documents
    live_d, dead_d = live["documents"], dead["documents"]
    d0, ddead = D[live_d[0]], D[dead_d[0]]
    for pid in (live_p[0], dead_p[0], 99999):
        single(
            "create_document",
            f"create_document in project {pid}",
            {
                "project_id": pid, "title": "Doc", "doc_type": "adr", "content": "c",
                "metadata": '{"k": [1, {"z": null}]}', "changes": '{"title": "Doc"}',
                "fields": ["title", "content"], "terms": ["doc", "c"], "counts": [1, 1],
            },
        )  # fmt: skip
    document_rows = [
        {
            "project_id": pid, "title": f"bulk {i}", "doc_type": DOC_TYPES[i % 6],
            "content": "x" * i, "metadata": None if i % 2 else json.dumps({"i": i}),
            "changes": json.dumps({"i": i}), "fields": ["title"], "terms": [f"t{i}"],
            "counts": [i + 1],
        }
        for i, pid in enumerate([live_p[0], dead_p[0], live_p[1], 99999, live_p[0]])
    ]  # fmt: skip
    single("create_documents", "create_documents", {"rows": json.dumps(document_rows)})
    document_changes = {
        "title": "T2", "doc_type": "guide", "content": "new content", "metadata": None,
        "changes": '{"title": {"old": "a", "new": "T2"}}',
    }  # fmt: skip
    for row, version in ((d0, d0["version"]), (d0, d0["version"] + 1), (ddead, ddead["version"])):
        params = {"id": row["id"], "version": version, **document_changes}
        single("update_document", f"update_document {row['id']} version {version}", params)
        single(
            "update_document_reindexed",
            f"update_document_reindexed {row['id']} version {version}",
            {**params, "fields": ["title", "content"], "terms": ["t2", "new"], "counts": [1, 1]},
        )
    for did in (d0["id"], ddead["id"], 99999):
        write(
            "record_document_access",
            f"record_document_access {did}, twice",
            Step("record_document_access", {"id": did}),
            Step("record_document_access", {"id": did}),
        )
        single("soft_delete_document", f"soft_delete_document {did}", {"id": did})
        single("restore_document", f"restore_document {did}", {"id": did})
        single("hard_delete_document", f"hard_delete_document {did}", {"id": did})
    next_d = max(D) + 1
    staged_documents = staged_table(
        STAGED_DOCUMENTS,
        [
            (next_d, live_p[0], "b1", "adr", "content", None),
            (next_d + 1, live_p[1], "b2", "api", "", '{"a": {"b": [1, 2]}}'),
        ],
    )
    single("bulk_insert_documents", "bulk_insert_documents", {}, staged_documents=staged_documents)
    write(
        "audit_bulk_insert_documents",
        "bulk_insert_documents, then audit_bulk_insert_documents",
        Step("bulk_insert_documents", staged={"staged_documents": staged_documents}),
        Step("audit_bulk_insert_documents", staged={"staged_documents": staged_documents}),
    )
    single("bulk_load_documents", "bulk_load_documents", {}, staged_documents=staged_documents)
    staged_document_updates = staged_table(
        updates_schema(STAGED_DOCUMENTS[2:]),
        [
            (d0["id"], d0["version"], True, "t", False, None, False, None, True, '{"m": 1}'),
            (live_d[1], 1, False, None, True, "guide", True, "c2", True, None),
            (live_d[2], 2, True, "stale", False, None, False, None, False, None),
            (ddead["id"], 1, True, "dead", False, None, False, None, False, None),
        ],
    )
    single(
        "bulk_update_documents",
        "bulk_update_documents",
        {},
        staged_updates=staged_document_updates,
    )

    # --- writes: repositories
    live_r, dead_r = live["repositories"], dead["repositories"]
    r0, rdead = R[live_r[0]], R[dead_r[0]]
    repository = {
        "name": "repo", "url": "https://x", "provider": "gitlab", "default_branch": "dev",
        "primary_language": None, "stars": 10**12, "open_issues": 0,
        "last_commit_at": datetime(2024, 5, 1, 1, 2, 3, 400000, tzinfo=UTC),
        "metadata": '{"topics": ["a"]}', "changes": '{"name": "repo"}',
    }  # fmt: skip
    for pid in (live_p[0], dead_p[0]):
        single(
            "create_repository",
            f"create_repository in project {pid}",
            {"project_id": pid, **repository},
        )
    repository_rows = [
        {
            "project_id": pid, "name": f"r{i}", "url": "u", "provider": PROVIDERS[i % 4],
            "default_branch": "main", "primary_language": None if i % 2 else "Go",
            "stars": i * 10, "open_issues": i,
            "last_commit_at": [None, "2024-05-01T01:02:03.4Z", "2024-05-01T03:02:03+02:00",
                               "2024-05-01T01:02:03"][i % 4],
            "metadata": None if i % 2 else json.dumps({"i": i}), "changes": json.dumps({"i": i}),
        }
        for i, pid in enumerate([live_p[0], live_p[1], dead_p[0], live_p[0]])
    ]  # fmt: skip
    single("create_repositories", "create_repositories", {"rows": json.dumps(repository_rows)})
    for row, version in ((r0, r0["version"]), (r0, r0["version"] + 1), (rdead, rdead["version"])):
        single(
            "update_repository",
            f"update_repository {row['id']} version {version}",
            {"id": row["id"], "version": version, **repository},
        )
    for rid in (r0["id"], rdead["id"], 99999):
        single("soft_delete_repository", f"soft_delete_repository {rid}", {"id": rid})
        single("restore_repository", f"restore_repository {rid}", {"id": rid})
        single("hard_delete_repository", f"hard_delete_repository {rid}", {"id": rid})
    next_r = max(R) + 1
    staged_repositories = staged_table(
        STAGED_REPOSITORIES,
        [
            (next_r, live_p[0], "b1", "u1", "github", "main", None, 0, 0, None, None),
            (next_r + 1, live_p[1], "b2", "u2", "other", "dev", "Go", 10**12, 5,
             datetime(2024, 5, 1, 1, 2, 3, 400000, tzinfo=UTC), '{"a": 1}'),
            (next_r + 2, live_p[1], "b3", "u3", "gitlab", "dev", "Rust", 1, 5,
             datetime(2024, 5, 1, 1, 2, 3, tzinfo=UTC), "{}"),
        ],
    )  # fmt: skip
    single(
        "bulk_insert_repositories",
        "bulk_insert_repositories",
        {},
        staged_repositories=staged_repositories,
    )
    write(
        "audit_bulk_insert_repositories",
        "bulk_insert_repositories, then audit_bulk_insert_repositories",
        Step("bulk_insert_repositories", staged={"staged_repositories": staged_repositories}),
        Step("audit_bulk_insert_repositories", staged={"staged_repositories": staged_repositories}),
    )
    single(
        "bulk_load_repositories",
        "bulk_load_repositories",
        {},
        staged_repositories=staged_repositories,
    )
    staged_repository_updates = staged_table(
        updates_schema(STAGED_REPOSITORIES[2:]),
        [
            (r0["id"], r0["version"], True, "n", False, None, True, "bitbucket", False, None,
             True, None, True, 7, False, None, True, None, True, '{"z": 1}'),
            (live_r[1], 1, False, None, True, "u", False, None, True, "dev", False, None, False,
             None, True, 3, True, datetime(2024, 1, 1, tzinfo=UTC), False, None),
            (live_r[2], 2, True, "stale", False, None, False, None, False, None, False, None,
             False, None, False, None, False, None, False, None),
            (rdead["id"], 1, True, "dead", False, None, False, None, False, None, False, None,
             False, None, False, None, False, None, False, None),
        ],
    )  # fmt: skip
    single(
        "bulk_update_repositories",
        "bulk_update_repositories",
        {},
        staged_updates=staged_repository_updates,
    )

    # --- writes: audit, search, summaries, migrations
    write(
        "insert_audit_entry",
        "insert_audit_entry, then audit_history",
        Step(
            "insert_audit_entry",
            {
                "entity": "document",
                "entity_id": 5,
                "action": "delete",
                "changes": '{"deleted_at": "x", "n": 1.50}',
            },
        ),
        Step("audit_history", {"entity": "document", "entity_id": 5}),
    )
    for ids in ([3, 1, 2], [], [7]):
        single(
            "insert_audit_entries",
            f"insert_audit_entries {ids}",
            {
                "entity": "project", "entity_ids": ids, "action": "restore",
                "changes": '{"restored": true}',
            },
        )  # fmt: skip
    for sequence in SEQUENCES:
        for n in (1, 5):
            write(
                "next_ids",
                f"next_ids {sequence} {n}, twice",
                Step("next_ids", {"sequence_name": sequence, "n": n}),
                Step("next_ids", {"sequence_name": sequence, "n": n}),
            )
    single("next_ids", "next_ids 0", {"sequence_name": "projects_id_seq", "n": 0})
    write(
        "next_ids",
        "next_ids on an empty database",
        Step("next_ids", {"sequence_name": "projects_id_seq", "n": 3}),
        dataset="empty",
    )
    staged_audit = staged_table(
        STAGED_AUDIT,
        [
            ("project", 1, "update", '{"name": {"old": "a", "new": "b"}}'),
            ("repository", 99999, "delete", "{}"),
            ("document", 2, "restore", '[1, 2.5, "x"]'),
        ],
    )
    single(
        "insert_staged_audit_entries",
        "insert_staged_audit_entries",
        {},
        staged_audit_entries=staged_audit,
    )
    write(
        "delete_search_terms",
        "delete_search_terms, of a project and of nothing",
        Step("delete_search_terms", {"entity": "project", "entity_id": 1}),
        Step("delete_search_terms", {"entity": "document", "entity_id": 99999}),
    )
    write(
        "delete_search_terms_of_many",
        "delete_search_terms_of_many, some and none",
        Step("delete_search_terms_of_many", {"entity": "document", "entity_ids": [1, 2, 3, 99999]}),
        Step("delete_search_terms_of_many", {"entity": "project", "entity_ids": []}),
    )
    write(
        "insert_search_terms",
        "insert_search_terms, some and none",
        Step(
            "insert_search_terms",
            {
                "entity": "project",
                "entity_id": 1,
                "fields": ["name", "description", "description"],
                "terms": ["zz", "Zz", "ärger"],
                "counts": [1, 2, 3],
            },
        ),
        Step(
            "insert_search_terms",
            {"entity": "document", "entity_id": 2, "fields": [], "terms": [], "counts": []},
        ),
    )
    staged_words = staged_table(
        STAGED_WORDS,
        [
            (1, "name", "graph  api graph"),
            (1, "description", " the data  "),
            (2, "name", ""),
            (3, "project_idea", "Ärger ärger a b c"),
            (4, "name", "x"),
        ],
    )
    staged_stems = staged_table(
        STAGED_STEMS,
        [("graph", "graph"), ("api", "api"), ("data", "data"), ("ärger", "arger"),
         ("Ärger", "arger"), ("c", "c")],
    )  # fmt: skip
    single(
        "distinct_staged_words",
        "distinct_staged_words",
        {},
        staged_search_words=staged_words,
    )
    single(
        "insert_staged_search_words",
        "insert_staged_search_words",
        {"entity": "project"},
        staged_search_words=staged_words,
        staged_stems=staged_stems,
    )
    for pid in (first_document["project_id"], 99999):
        single(
            "delete_search_terms_of_project_documents",
            f"delete_search_terms_of_project_documents {pid}",
            {"project_id": pid},
        )
    single("clear_analytics_summaries", "clear_analytics_summaries", {})
    write(
        "store_analytics_summary",
        "clear, store and read summaries",
        Step("clear_analytics_summaries"),
        Step(
            "store_analytics_summary",
            {"name": "cross_entity", "payload": '{"projects": [], "x": 1.0}'},
        ),
        Step("get_analytics_summary", {"name": "cross_entity"}),
        Step("get_analytics_summary", {"name": "project_metrics"}),
    )
    write(
        "create_schema_migrations",
        "create_schema_migrations where the table exists",
        Step("create_schema_migrations"),
        Step("migrations_table_exists"),
        Step("applied_migrations"),
    )
    write(
        "record_migration",
        "record_migration",
        Step("record_migration", {"version": 5, "name": "five"}),
        Step("applied_migrations"),
    )
    return cases.by_query


@pytest.fixture(scope="module")
def cases(databases: Databases) -> dict[str, list[Case]]:
    return build_cases(databases.data("base"))


# -- running the cases ---------------------------------------------------------------------


def run_step(db: DuckDatabase | PgDatabase, query: NamedQuery, step: Step) -> Result:
    for name, table in step.staged.items():
        db.stage(name, table)
    try:
        return db.execute(query.sql, {name: step.params[name] for name in query.parameters})
    finally:
        for name in step.staged:
            db.unstage(name)


def run_steps(case: Case, duck: DuckDatabase, pg: PgDatabase, started: datetime) -> None:
    """Run each step on both engines and compare what they return."""
    for i, step in enumerate(case.steps):
        duck_query = duckdb_queries()[step.query]
        pg_query = postgres_catalog().queries[step.query]
        label = step.query if len(case.steps) == 1 else f"step {i} ({step.query})"
        try:
            d = run_step(duck, duck_query, step)
        except Exception as exc:
            raise Mismatch(f"{label}: failed on duckdb: {type(exc).__name__}: {exc}") from exc
        try:
            p = run_step(pg, pg_query, step)
        except Exception as exc:
            raise Mismatch(f"{label}: failed on postgres: {type(exc).__name__}: {exc}") from exc
        if step.query in RANKED:
            everything = run_step(
                duck, duck_query, Step(step.query, {**step.params, "limit": 10**6})
            )
            same_ranking(label, d, p, everything, step.params["limit"])
        elif duck_query.returns_rows:
            rules = Rules(started, step.query in BUILT_JSON, case.dataset == NEW_YORK)
            same_result(
                label,
                d,
                p,
                rules,
                ordered=step.query not in UNORDERED,
                adjust=ADJUST.get(step.query),
            )


def same_state(duck: DuckDatabase, pg: PgDatabase, started: datetime) -> None:
    """Every table holds the same rows, and every sequence gives the same next id."""
    rules = Rules(started)
    for table, order in STATE_ORDER.items():
        query = f"SELECT * FROM {table} ORDER BY {order}"
        # analytics_summaries.payload is json on PostgreSQL (read back parsed): as text.
        pg_query = query.replace(
            "SELECT *", "SELECT name, built_at, CAST(payload AS text) AS payload"
        )
        if table != "analytics_summaries":
            pg_query = query
        same_result(f"afterwards, {table}", duck.execute(query), pg.execute(pg_query), rules)
    for sequence in SEQUENCES:
        query = f"SELECT nextval('{sequence}') AS next"
        d, p = duck.execute(query).rows[0][0], pg.execute(query).rows[0][0]
        if d != p:
            raise Mismatch(f"afterwards, {sequence}: next id {d} on duckdb, {p} on postgres")


def run_case(databases: Databases, case: Case) -> None:
    started = datetime.now(UTC)
    pg = databases.pg(case.dataset)
    if not case.write:
        run_steps(case, databases.duck(case.dataset), pg, started)
        return
    duck = databases.duck_copy(case.dataset)
    try:
        pg.restart_sequences()
        duck.begin()
        pg.begin()
        try:
            run_steps(case, duck, pg, started)
            duck.commit()
            same_state(duck, pg, started)
        finally:
            pg.rollback()
    finally:
        duck.close()


# -- the tests --------------------------------------------------------------------------------


@pytest.mark.parametrize("query", postgres_query_names())
def test_query_answers_the_same_on_both_engines(
    query: str, databases: Databases, cases: dict[str, list[Case]]
) -> None:
    own = cases.get(query)
    assert own, f"query {query} has no equality case: add some in build_cases()"
    failures = []
    for case in own:
        try:
            run_case(databases, case)
        except Mismatch as mismatch:
            failures.append(f"[{case.label}]\n    {mismatch}")
    assert not failures, f"{query}: {len(failures)} of {len(own)} cases differ:\n" + "\n".join(
        failures[:10]
    )


def test_every_query_postgres_runs_has_equality_cases(cases: dict[str, list[Case]]) -> None:
    runs = set(postgres_query_names())
    stepped = {step.query for own in cases.values() for case in own for step in case.steps}
    assert set(cases) == runs, (
        f"queries without cases: {sorted(runs - set(cases))}; "
        f"cases of queries PostgreSQL does not run: {sorted(set(cases) - runs)}"
    )
    assert stepped <= runs, f"steps run queries PostgreSQL does not: {sorted(stepped - runs)}"


def test_postgres_runs_every_duckdb_query_but_the_snapshots() -> None:
    catalog = postgres_catalog()
    assert catalog.problems == (), "\n".join(str(problem) for problem in catalog.problems)
    duckdb_only = {
        name for name, query in duckdb_queries().items() if query.source == "snapshot.sql"
    }
    assert set(catalog.queries) == set(duckdb_queries()) - duckdb_only


#: DuckDB's column types, as PostgreSQL's schema spells them.
POSTGRES_TYPES = {
    "BIGINT": "bigint",
    "INTEGER": "integer",
    "VARCHAR": "text",
    "JSON": "jsonb",
    "TIMESTAMP WITH TIME ZONE": "timestamp with time zone",
}


def test_schemas_are_the_same(databases: Databases) -> None:
    """Tables, columns in order, types, nullability, defaults (present or not),
    byte-order collation of every text column, and sequences."""
    duck, pg = databases.duck("empty"), databases.pg("empty")
    duck_tables = sorted(
        row[0]
        for row in duck.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'"
        ).rows
    )
    pg_tables = sorted(
        row[0]
        for row in pg.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
        ).rows
    )
    assert duck_tables == pg_tables
    problems = []
    for table in duck_tables:
        duck_columns = duck.execute(
            "SELECT column_name, data_type, is_nullable, column_default "
            "FROM information_schema.columns WHERE table_name = $t ORDER BY ordinal_position",
            {"t": table},
        ).rows
        pg_columns = pg.execute(
            "SELECT column_name, data_type, is_nullable, column_default, collation_name "
            "FROM information_schema.columns WHERE table_schema = 'public' AND table_name = $t "
            "ORDER BY ordinal_position",
            {"t": table},
        ).rows
        names = [c[0] for c in duck_columns], [c[0] for c in pg_columns]
        if names[0] != names[1]:
            problems.append(f"{table}: columns {names[0]} on duckdb, {names[1]} on postgres")
            continue
        for d, p in zip(duck_columns, pg_columns, strict=True):
            column = f"{table}.{d[0]}"
            # A stored summary is read back whole, as written: json, not jsonb.
            expected = (
                "json" if column == "analytics_summaries.payload" else POSTGRES_TYPES.get(d[1])
            )
            if expected != p[1]:
                problems.append(f"{column}: {d[1]} on duckdb, {p[1]} on postgres")
            if d[2] != p[2]:
                problems.append(f"{column}: nullable {d[2]} on duckdb, {p[2]} on postgres")
            if (d[3] is None) != (p[3] is None):
                problems.append(f"{column}: default {d[3]} on duckdb, {p[3]} on postgres")
            if p[1] == "text" and p[4] != "C":
                problems.append(f"{column}: collation {p[4]} on postgres, not C (byte order)")
    duck_sequences = sorted(
        row[0] for row in duck.execute("SELECT sequence_name FROM duckdb_sequences()").rows
    )
    pg_sequences = sorted(
        row[0]
        for row in pg.execute(
            "SELECT sequencename FROM pg_sequences WHERE schemaname = 'public'"
        ).rows
    )
    if duck_sequences != pg_sequences:
        problems.append(f"sequences: {duck_sequences} on duckdb, {pg_sequences} on postgres")
    assert not problems, "\n".join(problems)

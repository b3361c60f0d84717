"""The fixed data sets of the DuckDB/PostgreSQL equality tests, and the two
databases they are loaded into (test_equality_queries.py).

Each data set is a set of rows per table, loaded unchanged into a DuckDB file
(through Arrow) and into a PostgreSQL database (through COPY), both migrated
the way the library migrates them (its catalogs' ``create_schema_migrations``
and migration scripts), with every sequence moved past the loaded ids. The
databases are read and written with the connections the library itself uses:
a DuckDB connection in UTC, and on PostgreSQL ``postgres.connection.connect``
wrapped in ``PostgresConnection`` (UTC, ``jsonb`` as text, ``json`` as Python
values, ``$name`` placeholders turned into psycopg's, Arrow tables staged as
temporary tables).

The data sets:

* ``base`` (``make_data()``): 48 projects of every status (completed ones
  without ``completed_at``, archived ones with one), 26 architecture shapes
  (ints, 7.0, 7.000, 1.50, 1e2, a 23-digit int, "7", true, null, objects,
  arrays, a bare string, non-string frameworks, case, accents and underscores
  for collation); 160 conversations in every phase with ~2,250 messages of
  three roles (ties in time, gapped positions); phase changes in the audit
  trail (old = new, title-only changes); 220 documents, 40 % never read, tied
  access counts; 90 repositories with stars 0..10**12, open issues up to
  10**15, last commits 0, ½, 3, 7, 7.0001, 8, 30, 30.5, 45, 89, 90, 91, 120 and
  400 days before ``NOW_REF`` or none; search terms; ~15 % soft-deleted rows
  everywhere; timestamps over ~7 months with microsecond parts and exact ties.
* ``alt``: the same generator with another seed.
* ``ties`` (``tie_data()``): made of ties: two phases with equal median time
  spent in them (the name decides the bottleneck), even counts (interpolated
  medians), equal health scores, 13 equally read documents.
* ``empty``.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple

import duckdb
import psycopg
import pyarrow as pa

from project_architect_db.core.sql import Migration, NamedQuery
from project_architect_db.postgres.connection import PostgresConnection, connect

#: The moment the repositories' last commits are counted back from.
NOW_REF = datetime(2024, 7, 1, 12, 0, tzinfo=UTC)
T0 = datetime(2024, 1, 1, tzinfo=UTC)

#: Every table, with the columns the data sets fill, in the schema's order.
COLUMNS: dict[str, list[str]] = {
    "projects": [
        "id", "name", "description", "project_idea", "architecture", "status",
        "completed_at", "version", "created_at", "updated_at", "deleted_at",
    ],
    "conversations": [
        "id", "project_id", "title", "phase", "version", "created_at", "updated_at", "deleted_at",
    ],
    "messages": ["conversation_id", "position", "role", "content", "created_at", "metadata"],
    "documents": [
        "id", "project_id", "title", "doc_type", "content", "metadata", "access_count",
        "last_accessed_at", "version", "created_at", "updated_at", "deleted_at",
    ],
    "repositories": [
        "id", "project_id", "name", "url", "provider", "default_branch", "primary_language",
        "stars", "open_issues", "last_commit_at", "metadata", "version", "created_at",
        "updated_at", "deleted_at",
    ],
    "audit_log": ["id", "entity", "entity_id", "action", "changes", "at"],
    "search_terms": ["entity", "entity_id", "field", "term", "tf"],
    "analytics_summaries": ["name", "built_at", "payload"],
    "schema_migrations": ["version", "name", "applied_at"],
}  # fmt: skip
#: How each table's rows are put in one order to compare two databases' states.
STATE_ORDER = {
    "projects": "id",
    "conversations": "id",
    "messages": "conversation_id, position",
    "documents": "id",
    "repositories": "id",
    "audit_log": "id",
    "search_terms": "entity, entity_id, field, term, tf",
    "analytics_summaries": "name",
    "schema_migrations": "version",
}
#: Every sequence, and the column whose largest value it must be past.
SEQUENCES = {
    "projects_id_seq": ("projects", "id"),
    "conversations_id_seq": ("conversations", "id"),
    "documents_id_seq": ("documents", "id"),
    "repositories_id_seq": ("repositories", "id"),
    "audit_log_id_seq": ("audit_log", "id"),
    "messages_position_seq": ("messages", "position"),
}

WORDS = [
    "graph", "api", "servic", "data", "pipelin", "model", "cach", "queue", "auth", "token",
    "stream", "index", "search", "rank", "docker", "deploy", "test", "metric", "log", "trace",
    "ärger", "Zeta", "alpha", "beta", "_under", "éclair",
]  # fmt: skip
NAMES = [
    "alpha", "Alpha", "beta", "Beta", "Ärger", "zeta", "_under", "ZED", "éclair", "alpha",
    "a b", "a-b", "ab",
]  # fmt: skip
PHASES = ["discovery", "requirements", "design", "implementation", "review"]
DOC_TYPES = ["requirements", "architecture", "adr", "api", "guide", "other"]
PROVIDERS = ["github", "gitlab", "bitbucket", "other"]
STATUSES = ["draft", "active", "completed", "archived"]
ARCHITECTURES = [
    None,
    '{"framework": "django", "complexity_score": 7}',
    '{"framework":"fastapi","complexity_score":7.0}',
    '{"framework": "Django", "complexity_score": 3}',
    '{"framework": "react", "complexity_score": 7.5}',
    '{"framework": 42, "complexity_score": "7"}',
    '{"complexity_score": true}',
    '{"complexity_score": null, "framework": null}',
    '{"framework": "django"}',
    "[1, 2]",
    '"just a string"',
    '{"framework": "flask", "complexity_score": 100}',
    '{"framework": "fastapi", "complexity_score": 12345678901234567890123}',
    '{"framework": "zope", "complexity_score": {"a": 1}}',
    '{"framework": "ärger", "complexity_score": -3}',
    '{"framework": "éclair", "complexity_score": 0}',
    '{"framework": "flask", "complexity_score": 1e2}',
    '{"complexity_score": 1.50, "framework": "flask"}',
    '{"complexity_score": 7.000}',
    '{"framework": "f1"}',
    '{"framework": "f2"}',
    '{"framework": "f3"}',
    '{"framework": "f4"}',
    '{"framework": "F5"}',
    '{"framework": "_f6"}',
    '{"framework": "f 7"}',
]


def ts(days: float, seconds: int = 0, us: int = 0) -> datetime:
    """A moment ``days`` (and seconds, microseconds) after T0."""
    return T0 + timedelta(days=days, seconds=seconds, microseconds=us)


@dataclass
class Data:
    """A data set: each table's rows as tuples in the order of ``COLUMNS``."""

    rows: dict[str, list[tuple[Any, ...]]] = field(
        default_factory=lambda: {table: [] for table in COLUMNS}
    )

    def dicts(self, table: str) -> list[dict[str, Any]]:
        """The rows of ``table`` as dicts by column name (for writing cases)."""
        return [dict(zip(COLUMNS[table], row, strict=True)) for row in self.rows[table]]


# -- the data sets -----------------------------------------------------------------------


def make_data(seed: int = 20240601) -> Data:
    """A data set with a bit of everything (see the module docstring)."""
    r = random.Random(seed)
    data = Data()
    audit: list[tuple[Any, ...]] = []

    def text(n: int) -> str:
        return " ".join(r.choice(WORDS) for _ in range(n))

    def audit_entry(entity: str, entity_id: int, action: str, changes: Any, at: datetime) -> None:
        audit.append((len(audit) + 1, entity, entity_id, action, json.dumps(changes), at))

    projects: list[tuple[Any, ...]] = []
    for i in range(1, 49):
        status = r.choice(STATUSES)
        created = ts(r.randint(0, 180), r.randint(0, 86399), r.choice([0, 0, 123456, 500000]))
        if i % 7 == 0 and projects:
            created = projects[-1][8]  # a tie
        completed = None
        if status == "completed" and r.random() < 0.85:
            completed = created + timedelta(days=r.randint(0, 60), seconds=r.randint(0, 9999))
        elif status == "archived" and r.random() < 0.3:
            completed = created + timedelta(days=r.randint(1, 30))
        version = r.randint(1, 3)
        updated = created + timedelta(hours=r.randint(1, 500)) if version > 1 else None
        deleted = created + timedelta(days=r.randint(1, 40)) if r.random() < 0.15 else None
        architecture = ARCHITECTURES[i % len(ARCHITECTURES)] if i < 40 else r.choice(ARCHITECTURES)
        name = r.choice(NAMES)
        description = None if r.random() < 0.25 else text(6)
        projects.append(
            (i, name, description, text(10), architecture, status, completed, version, created,
             updated, deleted)
        )  # fmt: skip
        audit_entry("project", i, "create", {"name": name, "status": status}, created)
    data.rows["projects"] = projects

    conversations: list[tuple[Any, ...]] = []
    messages: list[list[Any]] = []
    phase_updates: list[tuple[Any, ...]] = []
    for i in range(1, 161):
        project = r.choice(projects)
        created = project[8] + timedelta(days=r.randint(0, 30), seconds=r.randint(0, 86399))
        if i % 11 == 0 and conversations:
            created = conversations[-1][5]
        phase = r.choice(PHASES)
        deleted = created + timedelta(days=3) if r.random() < 0.1 else None
        conversations.append(
            (i, project[0], f"conv {r.choice(NAMES)} {i % 9}", phase, r.randint(1, 4), created,
             None, deleted)
        )  # fmt: skip
        audit_entry("conversation", i, "create", {"title": "t", "phase": "discovery"}, created)
        at = created
        for k in range(0 if i % 13 == 0 else r.randint(0, 30)):
            at += timedelta(
                seconds=r.choice([0, 1, 30, 60, 600, 3600, 7200, 86400]),
                microseconds=r.choice([0, 1, 999999]),
            )
            role = r.choices(["user", "assistant", "system"], [45, 45, 10])[0]
            meta = None if r.random() < 0.6 else json.dumps({"tokens": r.randint(1, 500), "k": k})
            messages.append([i, None, role, f"message {k} {text(3)}", at, meta])
        # Phase changes in the audit trail.
        at = created
        previous = "discovery"
        for _ in range(r.choice([0, 0, 1, 2, 3, 4])):
            at += timedelta(hours=r.randint(1, 400), seconds=r.randint(0, 59))
            new = r.choice(PHASES)
            kind = r.random()
            changes: dict[str, Any]
            if kind < 0.15:
                changes = {"title": {"old": "a", "new": "b"}}
            elif kind < 0.25:
                changes = {"phase": {"old": previous, "new": previous}}
            else:
                changes = {
                    "phase": {"old": previous, "new": new},
                    "title": {"old": "x", "new": "y"},
                }
                previous = new
            phase_updates.append(("conversation", i, "update", changes, at))
    data.rows["conversations"] = conversations
    # Positions come from one sequence for all conversations, in time order
    # (interleaved, so each conversation's positions have gaps).
    messages.sort(key=lambda m: (m[4], m[0]))
    for position, m in enumerate(messages, start=1):
        m[1] = position * 2
    messages.sort(key=lambda m: (m[0], m[1]))
    data.rows["messages"] = [tuple(m) for m in messages]
    r.shuffle(phase_updates)
    phase_updates.sort(key=lambda u: (u[1], u[4]))  # audit ids in time order per conversation
    for update in phase_updates:
        audit_entry(*update)

    documents: list[tuple[Any, ...]] = []
    for i in range(1, 221):
        project = r.choice(projects)
        created = project[8] + timedelta(days=r.randint(0, 90), seconds=r.randint(0, 86399))
        count = 0 if r.random() < 0.4 else r.choice([1, 2, 3, 3, 5, 8, 13, 21, 21])
        title = f"{r.choice(NAMES)} doc {i % 17}"
        documents.append(
            (i, project[0], title, r.choice(DOC_TYPES), text(12),
             None if r.random() < 0.5 else json.dumps({"tags": [r.choice(WORDS)], "n": i}),
             count, created + timedelta(days=1) if count else None, 1, created, None,
             created + timedelta(days=2) if r.random() < 0.1 else None)
        )  # fmt: skip
        audit_entry("document", i, "create", {"title": title}, created)
    data.rows["documents"] = documents

    repositories: list[tuple[Any, ...]] = []
    ages = [None, 0, 0.5, 3, 7, 7.0001, 8, 30, 30.5, 45, 89, 90, 91, 120, 400]
    for i in range(1, 91):
        project = r.choice(projects)
        created = project[8] + timedelta(days=r.randint(0, 60), seconds=r.randint(0, 86399))
        age = r.choice(ages)
        last_commit = (
            None if age is None else NOW_REF - timedelta(days=age, seconds=r.choice([0, 0, 17]))
        )
        name = f"repo-{r.choice(NAMES)}"
        repositories.append(
            (i, project[0], name, f"https://example.com/{i}", r.choice(PROVIDERS),
             r.choice(["main", "master"]),
             r.choice([None, "Python", "python", "Go", "Rust", "TypeScript", "Ärlang"]),
             r.choice([0, 0, 1, 5, 10, 999, 1000, 1001, 5000, 10**12]),
             r.choice([0, 0, 1, 3, 10, 50, 200, 10**15]), last_commit,
             None if r.random() < 0.5 else json.dumps({"topics": ["x"], "i": i}), 1, created,
             None, created + timedelta(days=5) if r.random() < 0.1 else None)
        )  # fmt: skip
        audit_entry("repository", i, "create", {"name": name}, created)
    data.rows["repositories"] = repositories
    data.rows["audit_log"] = audit

    terms: list[tuple[Any, ...]] = []
    for p in projects:
        for fieldname, words in (("name", 1), ("description", 4), ("project_idea", 6)):
            for term in sorted({r.choice(WORDS[:12]) for _ in range(words)}):
                terms.append(("project", p[0], fieldname, term, r.randint(1, 3)))
    for d in documents:
        for fieldname, words in (("title", 2), ("content", 6)):
            for term in sorted({r.choice(WORDS[:12]) for _ in range(words)}):
                terms.append(("document", d[0], fieldname, term, r.randint(1, 4)))
    r.shuffle(terms)
    data.rows["search_terms"] = terms
    data.rows["analytics_summaries"] = [
        ("project_metrics", ts(100), '{"total_projects": 3, "by": {"a": 1.5}}'),
        ("document_usage", ts(101), '{"b":[1,2,3],"a":null}'),
    ]
    data.rows["schema_migrations"] = [
        (1, "initial", ts(0)),
        (2, "analytics_summaries", ts(1)),
        (3, "search_terms_without_indexes", ts(2)),
        (4, "messages_as_rows", ts(3)),
    ]
    return data


def tie_data() -> Data:
    """Small data made of ties: two phases with the same median time spent in
    them (bottleneck_phase falls back to the name), an even number of
    conversations (medians interpolate), repositories with equal scores and
    documents with equal access counts (ordered by id)."""
    data = Data()
    start = ts(10)
    data.rows["projects"] = [
        (1, "b", None, "i", '{"framework": "b"}', "active", None, 1, start, None, None),
        (2, "a", None, "i", '{"framework": "a"}', "active", None, 1, start, None, None),
    ]
    data.rows["conversations"] = [
        (i, 1 + i % 2, f"c{i}", "design", 1, start, None, None) for i in (1, 2, 3, 4)
    ]
    data.rows["messages"] = [
        (1, 1, "user", "q", start, None),
        (1, 2, "assistant", "a", start + timedelta(seconds=3), None),
        (2, 3, "user", "q", start, None),
        (2, 4, "user", "q", start + timedelta(seconds=1), None),
        (2, 5, "assistant", "a", start + timedelta(seconds=4), None),
        (3, 6, "system", "s", start, None),
    ]
    five = timedelta(hours=5)
    data.rows["audit_log"] = [
        (1, "conversation", 2, "update", '{"phase": {"old": "requirements", "new": "design"}}',
         start + five),
        (2, "conversation", 1, "update", '{"phase": {"old": "discovery", "new": "design"}}',
         start + five),
        (3, "conversation", 3, "update", '{"phase": {"old": "review", "new": "design"}}',
         start + five / 2),
        (4, "conversation", 4, "update", '{"phase": {"old": "Review", "new": "design"}}',
         start + five),
    ]  # fmt: skip
    data.rows["documents"] = [
        (i, 1, f"d{i}", "adr", "c", None, 3, start, 1, start, None, None) for i in range(1, 14)
    ]
    data.rows["repositories"] = [
        (i, 1, f"r{i}", "u", "github", "main", None, 5, 5, NOW_REF, None, 1, start, None, None)
        for i in (3, 1, 2)
    ]
    return data


DATASETS = {"base": make_data, "alt": lambda: make_data(seed=7), "ties": tie_data, "empty": Data}


# -- the two databases -------------------------------------------------------------------


class Result(NamedTuple):
    """What one statement returned: its column names and its rows."""

    names: list[str]
    rows: list[tuple[Any, ...]]


class DuckDatabase:
    """A DuckDB connection as the library opens one (UTC)."""

    def __init__(self, path: Path) -> None:
        self.connection = duckdb.connect(str(path))
        self.connection.execute("SET TimeZone = 'UTC'")

    def execute(self, sql: str, params: dict[str, Any] | None = None) -> Result:
        # A script (no parameters) may hold several statements.
        if params is None:
            cursor = self.connection.execute(sql)
        else:
            cursor = self.connection.execute(sql, params)
        if cursor.description is None:
            return Result([], [])
        return Result([d[0] for d in cursor.description], cursor.fetchall())

    def stage(self, name: str, table: pa.Table) -> None:
        self.connection.register(name, table)

    def unstage(self, name: str) -> None:
        self.connection.unregister(name)

    def begin(self) -> None:
        self.connection.execute("BEGIN")

    def commit(self) -> None:
        self.connection.execute("COMMIT")

    def close(self) -> None:
        self.connection.close()


class PgDatabase:
    """A PostgreSQL connection as the library opens one; ``timezone`` sets the
    session's zone afterwards (the twins must not depend on it)."""

    def __init__(self, url: str, timezone: str | None = None) -> None:
        self.connection = PostgresConnection(connect(url))
        if timezone is not None:
            self.connection.raw.execute(f"SET TimeZone = '{timezone}'")

    def execute(self, sql: str, params: dict[str, Any] | None = None) -> Result:
        cursor = self.connection.execute(sql, params or {})
        if cursor.description is None:
            return Result([], [])
        return Result([d.name for d in cursor.description], cursor.fetchall())

    def stage(self, name: str, table: pa.Table) -> None:
        self.connection.register(name, table)

    def unstage(self, name: str) -> None:
        self.connection.unregister(name)

    def begin(self) -> None:
        self.connection.begin()

    def rollback(self) -> None:
        self.connection.rollback()

    def restart_sequences(self) -> None:
        """Move every sequence just past its column's largest value (sequences
        are not transactional: a rolled-back write keeps the ids it drew)."""
        self.connection.raw.execute(
            "SELECT "
            + ", ".join(
                f"setval('{sequence}', coalesce((SELECT max({column}) FROM {table}), 0) + 1, false)"
                for sequence, (table, column) in SEQUENCES.items()
            )
        )

    def close(self) -> None:
        self.connection.close()


def _quoted(columns: list[str]) -> str:
    return ", ".join(f'"{column}"' for column in columns)


_DUCK_ARROW = {
    "BIGINT": pa.int64(),
    "INTEGER": pa.int32(),
    "VARCHAR": pa.string(),
    "JSON": pa.string(),
    "TIMESTAMP WITH TIME ZONE": pa.timestamp("us", tz="UTC"),
}


def build_duckdb(
    path: Path, data: Data, create_schema_migrations: NamedQuery, migrations: tuple[Migration, ...]
) -> None:
    """A DuckDB file at ``path`` migrated as the library does, holding ``data``."""
    db = DuckDatabase(path)
    try:
        db.execute(create_schema_migrations.sql)
        for migration in migrations:
            db.execute(migration.script)
        for table, columns in COLUMNS.items():
            rows = data.rows[table]
            if not rows:
                continue
            types = dict(
                db.execute(
                    "SELECT column_name, data_type FROM information_schema.columns "
                    "WHERE table_name = $t",
                    {"t": table},
                ).rows
            )
            arrow = pa.table(
                {
                    column: pa.array([row[i] for row in rows], type=_DUCK_ARROW[types[column]])
                    for i, column in enumerate(columns)
                }
            )
            db.stage("seed", arrow)
            db.execute(f"INSERT INTO {table} ({_quoted(columns)}) SELECT * FROM seed")
            db.unstage("seed")
        for sequence, (table, column) in SEQUENCES.items():
            top = db.execute(f"SELECT coalesce(max({column}), 0) FROM {table}").rows[0][0]
            if top:
                db.execute(f"SELECT max(nextval('{sequence}')) FROM range({top})")
        db.execute("CHECKPOINT")
    finally:
        db.close()


def create_pg_database(admin_url: str, name: str) -> None:
    """Create database ``name`` on the server of ``admin_url``, with an ICU
    en-US default collation when the server has ICU (so that text ordered
    without COLLATE "C" shows: ``Django``/``django``, ``ärger``/``éclair``, ``_f6``
    sort differently there), else with the server's default."""
    with psycopg.connect(admin_url, autocommit=True) as admin:
        try:
            admin.execute(
                f'CREATE DATABASE "{name}" TEMPLATE template0 LOCALE_PROVIDER icu '
                "ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'"
            )
        except psycopg.Error:
            admin.execute(f'CREATE DATABASE "{name}"')


def drop_pg_database(admin_url: str, name: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def build_postgres(
    url: str, data: Data, create_schema_migrations: NamedQuery, migrations: tuple[Migration, ...]
) -> None:
    """The (empty) PostgreSQL database at ``url`` migrated as the library does,
    holding ``data``."""
    db = PgDatabase(url)
    try:
        db.execute(create_schema_migrations.sql)
        for migration in migrations:
            db.execute(migration.script)
        raw = db.connection.raw
        for table, columns in COLUMNS.items():
            rows = data.rows[table]
            if not rows:
                continue
            with raw.cursor().copy(f"COPY {table} ({_quoted(columns)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        db.restart_sequences()
        raw.execute("ANALYZE")
    finally:
        db.close()

"""Every named query the library's code runs: its name, how the code runs it,
and the parameters the code passes. One list, so that

* a call site names a query by a constant from here, never by a string it builds;
* the runner refuses a query whose declared operation (its aiosql suffix) does
  not fit how it is run, and parameters other than the registered ones;
* ``project-architect-db check-sql`` holds the SQL files against this list
  (a renamed query or parameter fails there, before any user runs it).

How a query is run (``Use``) and the operations it accepts:

========  ===================================================================
``ROWS``  all rows: ``select`` (no suffix) or ``insert returning`` (``<!``)
``ONE``   the first row: ``select one`` (``^``) or ``insert returning``
``VALUE`` the first column of the first row: ``select value`` (``$``)
``RUN``   for its effect: ``execute`` (``!``), ``script`` (``#``), or
          ``insert returning`` when the caller does not need the rows
========  ===================================================================
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from functools import cache
from typing import Literal, TypedDict

from ..errors import InvalidQueryError
from .sql import NamedQuery, Operation, queries

__all__ = [
    "BY_TABLE",
    "CONVERSATION",
    "DOCUMENT",
    "PROJECT",
    "REGISTRY",
    "REPOSITORY",
    "ChildStatements",
    "EntityStatements",
    "Statement",
    "Use",
    "checked_against",
    "checked_query",
    "contract_problem",
]


class Use(enum.Enum):
    """How the code runs a query (the ``StatementRunner`` method it calls)."""

    ROWS = "rows"
    ONE = "one"
    VALUE = "value"
    RUN = "run"

    @property
    def accepts(self) -> frozenset[Operation]:
        return _ACCEPTS[self]


_ACCEPTS = {
    Use.ROWS: frozenset({Operation.SELECT, Operation.INSERT_RETURNING}),
    Use.ONE: frozenset({Operation.SELECT_ONE, Operation.INSERT_RETURNING}),
    Use.VALUE: frozenset({Operation.SELECT_VALUE}),
    Use.RUN: frozenset({Operation.EXECUTE, Operation.SCRIPT, Operation.INSERT_RETURNING}),
}


@dataclass(frozen=True, slots=True, eq=False)
class Statement:
    """A named query as the code runs it (compared by identity: each is declared once)."""

    name: str
    use: Use
    #: The keyword arguments the code passes, in the order the file declares them.
    parameters: tuple[str, ...] = ()
    parameter_set: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "parameter_set", frozenset(self.parameters))

    def __str__(self) -> str:
        return self.name


#: Every statement the code runs, in declaration order.
REGISTRY: list[Statement] = []


def _declare(name: str, use: Use, *parameters: str) -> Statement:
    statement = Statement(name, use, parameters)
    REGISTRY.append(statement)
    return statement


def rows(name: str, *parameters: str) -> Statement:
    return _declare(name, Use.ROWS, *parameters)


def one(name: str, *parameters: str) -> Statement:
    return _declare(name, Use.ONE, *parameters)


def value(name: str, *parameters: str) -> Statement:
    return _declare(name, Use.VALUE, *parameters)


def run(name: str, *parameters: str) -> Statement:
    return _declare(name, Use.RUN, *parameters)


@cache
def checked_query(statement: Statement) -> NamedQuery:
    """The installed query a registered statement names, once checked against it."""
    return checked_against(statement, queries().get(statement.name))


def checked_against(statement: Statement, query: NamedQuery | None) -> NamedQuery:
    """``query``, the one a catalog holds under ``statement``'s name (None: it
    holds none), if it fits how the code runs ``statement``; else the error."""
    if query is None:
        raise InvalidQueryError(
            f"the SQL files have no query {statement.name!r}; run "
            "'project-architect-db check-sql' to see what is broken"
        )
    problem = contract_problem(statement, query)
    if problem is not None:
        raise InvalidQueryError(f"{query.location}: query {query.name}: {problem}")
    return query


def contract_problem(statement: Statement, query: NamedQuery) -> str | None:
    """What is wrong between a registered statement and the query of that name."""
    if query.operation not in statement.use.accepts:
        fitting = " or ".join(sorted(op.value for op in statement.use.accepts))
        return (
            f"declared as {query.operation.value} but the library runs it as "
            f"{statement.use.value} (expects {fitting}); fix its suffix on the -- name: line"
        )
    if set(query.parameters) != statement.parameter_set:
        return (
            f"declares parameters ({', '.join(query.parameters)}) but the library passes "
            f"({', '.join(statement.parameters)})"
        )
    return None


# -- what every entity has (sql/<table>.sql) -------------------------------------


#: The parameters a recorded write takes besides the row's columns: the audit
#: entry's ``changes`` and, for a searchable entity, its search terms.
_AUDIT_PARAMETERS = ("changes",)
_TERM_PARAMETERS = ("fields", "terms", "counts")
_RECORD_PARAMETERS = frozenset(_AUDIT_PARAMETERS + _TERM_PARAMETERS)

Recorded = Literal["audited", "indexed"] | None
"""Whether an entity's create and update are recorded writes: one statement
(a data-modifying WITH) that writes the row with its audit entry (``audited``),
also with its search terms (``indexed``); None: the row alone, the library
writing the rest with a statement each."""


@dataclass(frozen=True, slots=True)
class EntityStatements:
    """The statements ``BaseRepository`` runs for one entity."""

    get: Statement  # a live row by id
    get_including_deleted: Statement  # a row by id, live or soft-deleted
    listing: Statement  # the base the QueryBuilder wraps with filters and ordering
    insert: Statement
    update: Statement
    soft_delete: Statement
    restore: Statement
    hard_delete: Statement
    by_ids: Statement  # live rows by a list of ids (coalesced reads, search hits)
    by_ids_including_deleted: Statement
    bulk_insert_rows: Statement  # bulk_insert read for its rows...
    bulk_insert: Statement  # ...or run for its effect (returning=False)
    audit_bulk_insert: Statement
    update_targets: Statement
    bulk_update: Statement
    #: Rows of another table that the read model holds, read for every row a
    #: call returns (a conversation's messages): a query of all of them by the
    #: parents' ``ids``, each with its parent's id as ``parent_id``, in order.
    children: Statement | None = field(default=None, kw_only=True)
    #: The model field they fill.
    children_field: str = field(default="", kw_only=True)
    #: Writes the children of the rows of one ``bulk_create`` chunk, from the
    #: staged parent table.
    bulk_insert_children: Statement | None = field(default=None, kw_only=True)
    # Recorded writes: one statement (data-modifying WITH, DuckDB 2.0) writes the
    # row, its audit entry and (a searchable entity) its search terms, all or
    # nothing, in place of three to five statements with BEGIN and COMMIT. Each
    # statement costs DuckDB 0.5-0.8 ms to parse, plan and run; on 100,000
    # projects a create went from 4.0 to 3.3 ms and an update from 4.1 to
    # 3.4 ms. (Sending several statements in one execute() saves nothing: DuckDB
    # still plans each one, and binds parameters only in the last.)
    #: Which: then ``insert`` is ``create_<entity>`` and ``update`` also writes
    #: the audit entry (they take ``changes``, and ``fields``, ``terms``,
    #: ``counts`` when indexed). None: ``insert_<entity>`` and ``update_<entity>``
    #: write the row alone.
    recorded: Recorded = field(default=None, kw_only=True)
    #: ``update_<entity>_reindexed`` (indexed only): an update that changes
    #: searched text, replacing the row's search terms too. (``update`` leaves
    #: them alone: the two unused parts cost about 0.6 ms even writing nothing.)
    update_reindexed: Statement | None = field(default=None, kw_only=True)
    #: ``bulk_load_<table>`` (recorded only): the rows of ``staged_<table>`` and
    #: their audit entries, returning nothing (``bulk_create(returning=False)``).
    bulk_load: Statement | None = field(default=None, kw_only=True)
    #: ``create_<table>`` (recorded only): what ``insert`` writes, for a JSON
    #: array of creates in one statement, each row back with its ``ordinal``
    #: (group commit merges concurrent creates into it).
    create_many: Statement | None = field(default=None, kw_only=True)

    def __post_init__(self) -> None:
        if self.recorded and self.children is not None:
            # A recorded create is one statement with no room for the children.
            raise ValueError(f"{self.insert.name}: an entity with children cannot be recorded")

    @property
    def insert_columns(self) -> tuple[str, ...]:
        """The columns a create writes, as the insert statement declares them."""
        return tuple(name for name in self.insert.parameters if name not in _RECORD_PARAMETERS)

    @property
    def update_columns(self) -> tuple[str, ...]:
        """The columns an update writes (besides id and version)."""
        return tuple(
            name
            for name in self.update.parameters
            if name not in ("id", "version") and name not in _RECORD_PARAMETERS
        )


@dataclass(frozen=True, slots=True)
class ChildStatements(EntityStatements):
    """A project's child entity also has the statements of the project's cascades."""

    of_project: Statement
    soft_delete_of_project: Statement
    restore_of_project: Statement
    hard_delete_of_project: Statement


class _Common(TypedDict):
    get: Statement
    get_including_deleted: Statement
    listing: Statement
    insert: Statement
    update: Statement
    soft_delete: Statement
    restore: Statement
    hard_delete: Statement
    by_ids: Statement
    by_ids_including_deleted: Statement
    bulk_insert_rows: Statement
    bulk_insert: Statement
    audit_bulk_insert: Statement
    update_targets: Statement
    bulk_update: Statement
    recorded: Recorded
    update_reindexed: Statement | None
    bulk_load: Statement | None
    create_many: Statement | None


def _common(
    entity: str,
    table: str,
    insert_columns: tuple[str, ...],
    update_columns: tuple[str, ...],
    recorded: Recorded,
) -> _Common:
    # The names follow sql/<table>.sql's convention; check-sql proves each exists
    # with these parameters and an operation that fits.
    audit = _AUDIT_PARAMETERS if recorded else ()
    terms = _TERM_PARAMETERS if recorded == "indexed" else ()
    versioned = ("id", "version", *update_columns, *audit)
    return {
        "get": one(f"get_{entity}", "id"),
        "get_including_deleted": one(f"get_{entity}_including_deleted", "id"),
        "listing": rows(f"list_{table}"),
        "insert": one(
            f"{'create' if recorded else 'insert'}_{entity}", *insert_columns, *audit, *terms
        ),
        "update": one(f"update_{entity}", *versioned),
        "recorded": recorded,
        "update_reindexed": one(f"update_{entity}_reindexed", *versioned, *terms)
        if terms
        else None,
        "bulk_load": run(f"bulk_load_{table}") if recorded else None,
        "create_many": rows(f"create_{table}", "rows") if recorded else None,
        "soft_delete": one(f"soft_delete_{entity}", "id"),
        "restore": one(f"restore_{entity}", "id"),
        "hard_delete": one(f"hard_delete_{entity}", "id"),
        "by_ids": rows(f"{table}_by_ids", "ids"),
        "by_ids_including_deleted": rows(f"{table}_by_ids_including_deleted", "ids"),
        "bulk_insert_rows": rows(f"bulk_insert_{table}"),
        "bulk_insert": run(f"bulk_insert_{table}"),
        "audit_bulk_insert": run(f"audit_bulk_insert_{table}"),
        "update_targets": rows(f"{table}_update_targets", "ids"),
        "bulk_update": rows(f"bulk_update_{table}"),
    }


def _entity(
    entity: str,
    table: str,
    insert_columns: tuple[str, ...],
    update_columns: tuple[str, ...],
    *,
    recorded: Recorded = None,
) -> EntityStatements:
    return EntityStatements(**_common(entity, table, insert_columns, update_columns, recorded))


def _child(
    entity: str,
    table: str,
    insert_columns: tuple[str, ...],
    update_columns: tuple[str, ...],
    *,
    children: Statement | None = None,
    children_field: str = "",
    bulk_insert_children: Statement | None = None,
    recorded: Recorded = None,
) -> ChildStatements:
    return ChildStatements(
        **_common(entity, table, insert_columns, update_columns, recorded),
        children=children,
        children_field=children_field,
        bulk_insert_children=bulk_insert_children,
        of_project=rows(f"{table}_of_project", "project_id"),
        soft_delete_of_project=rows(f"soft_delete_{table}_of_project", "project_id", "deleted_at"),
        restore_of_project=rows(f"restore_{table}_of_project", "project_id", "deleted_at"),
        hard_delete_of_project=rows(f"hard_delete_{table}_of_project", "project_id"),
    )


PROJECT = _entity(
    "project",
    "projects",
    ("name", "description", "project_idea", "architecture", "status"),
    ("name", "description", "project_idea", "architecture", "status"),
    recorded="indexed",
)
# -- messages of conversations (sql/messages.sql) -------------------------------------

APPEND_MESSAGE = one(
    "append_message", "conversation_id", "role", "content", "created_at", "metadata"
)
INSERT_MESSAGES = rows("insert_messages", "conversation_id", "messages")
BULK_INSERT_STAGED_MESSAGES = run("bulk_insert_staged_messages")
MESSAGES_PAGE = rows("messages_page", "conversation_id", "after", "limit")
MESSAGES_OF_CONVERSATIONS = rows("messages_of_conversations", "ids")
DELETE_MESSAGES_OF_CONVERSATION = run("delete_messages_of_conversation", "conversation_id")
DELETE_MESSAGES_OF_PROJECT = run("delete_messages_of_project", "project_id")

CONVERSATION = _child(
    "conversation",
    "conversations",
    ("project_id", "title", "phase"),
    ("title", "phase"),
    children=MESSAGES_OF_CONVERSATIONS,
    children_field="messages",
    bulk_insert_children=BULK_INSERT_STAGED_MESSAGES,
)
DOCUMENT = _child(
    "document",
    "documents",
    ("project_id", "title", "doc_type", "content", "metadata"),
    ("title", "doc_type", "content", "metadata"),
    recorded="indexed",
)
_REPOSITORY_FIELDS = (
    "name",
    "url",
    "provider",
    "default_branch",
    "primary_language",
    "stars",
    "open_issues",
    "last_commit_at",
    "metadata",
)
REPOSITORY = _child(
    "repository",
    "repositories",
    ("project_id", *_REPOSITORY_FIELDS),
    _REPOSITORY_FIELDS,
    recorded="audited",
)

# -- special to one entity ---------------------------------------------------------

PROJECTS_BY_STATUS = rows("projects_by_status", "status")
MISSING_LIVE_PROJECTS = rows("missing_live_projects", "project_ids")
CONVERSATIONS_IN_PHASE = rows("conversations_in_phase", "phase")
BUMP_CONVERSATION_VERSION = one("bump_conversation_version", "id")
DOCUMENTS_OF_TYPE = rows("documents_of_type", "doc_type")
RECORD_DOCUMENT_ACCESS = one("record_document_access", "id")
STALE_REPOSITORIES = rows("stale_repositories", "days")
NEXT_IDS = one("next_ids", "sequence_name", "n")

# -- audit trail (sql/audit.sql) --------------------------------------------------

INSERT_AUDIT_ENTRY = run("insert_audit_entry", "entity", "entity_id", "action", "changes")
INSERT_AUDIT_ENTRIES = run("insert_audit_entries", "entity", "entity_ids", "action", "changes")
INSERT_STAGED_AUDIT_ENTRIES = run("insert_staged_audit_entries")
AUDIT_HISTORY = rows("audit_history", "entity", "entity_id")

# -- full-text search (sql/search.sql) ---------------------------------------------

INSERT_SEARCH_TERMS = run("insert_search_terms", "entity", "entity_id", "fields", "terms", "counts")
DELETE_SEARCH_TERMS = run("delete_search_terms", "entity", "entity_id")
DELETE_SEARCH_TERMS_OF_MANY = run("delete_search_terms_of_many", "entity", "entity_ids")
DELETE_SEARCH_TERMS_OF_PROJECT_DOCUMENTS = run(
    "delete_search_terms_of_project_documents", "project_id"
)
DISTINCT_STAGED_WORDS = rows("distinct_staged_words")
INSERT_STAGED_SEARCH_WORDS = run("insert_staged_search_words", "entity")
RANK_PROJECTS = rows("rank_projects", "terms", "limit")
RANK_DOCUMENTS = rows("rank_documents", "terms", "project_id", "doc_type", "limit")

# -- analytics (sql/analytics/) ------------------------------------------------------

PROJECT_METRICS = one("project_metrics", "start", "end")
CONVERSATION_FLOW = one("conversation_flow")
DOCUMENT_USAGE = one("document_usage")
REPOSITORY_HEALTH = one("repository_health", "now")
CROSS_ENTITY = one("cross_entity", "now")
TIME_SERIES = rows("time_series", "metric", "granularity", "start", "end")
CLEAR_ANALYTICS_SUMMARIES = run("clear_analytics_summaries")
STORE_ANALYTICS_SUMMARY = run("store_analytics_summary", "name", "payload")
GET_ANALYTICS_SUMMARY = one("get_analytics_summary", "name")

# -- migrations (sql/schema_migrations.sql) -------------------------------------------

CREATE_SCHEMA_MIGRATIONS = run("create_schema_migrations")
APPLIED_MIGRATIONS = rows("applied_migrations")
RECORD_MIGRATION = run("record_migration", "version", "name")
MIGRATIONS_TABLE_EXISTS = value("migrations_table_exists")

# -- snapshots, export, import (sql/snapshot.sql) -----------------------------------

SNAPSHOT_SOURCE_DATABASE = value("snapshot_source_database")
ATTACH_SNAPSHOT_TARGET = run("attach_snapshot_target", "path")
COPY_DATABASE_TO_SNAPSHOT = run("copy_database_to_snapshot")
SNAPSHOT_TABLES = rows("snapshot_tables", "database")
DETACH_SNAPSHOT_TARGET = run("detach_snapshot_target")
EXPORT_DATABASE_PARQUET = run("export_database_parquet")
EXPORT_DATABASE_CSV = run("export_database_csv")
IMPORT_DATABASE = run("import_database")
DATABASE_HAS_TABLES = value("database_has_tables")
CHECKPOINT_DATABASE = run("checkpoint_database")

#: Each entity's statements by its table (the QueryBuilder knows the model's table).
BY_TABLE: dict[str, EntityStatements] = {
    "projects": PROJECT,
    "conversations": CONVERSATION,
    "documents": DOCUMENT,
    "repositories": REPOSITORY,
}

"""The Arrow paths of ``bulk_create`` and ``bulk_update``.

A bulk write stages its rows as an Arrow table that DuckDB reads by name inside
one set-based statement (``staged_<table>`` for inserts, ``staged_updates`` for
updates), with the audit entries and search terms staged the same way. The
schemas of those tables are listed in ``Staging.staged_schemas()``, which
``check-sql`` registers to prepare the bulk statements.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pyarrow as pa

from ..core import statements as sql
from ..core.runner import Row, StatementRunner
from ..errors import ConflictError, NotFoundError
from ..schemas.common import AuditAction, EntityKind
from .audit import STAGED_AUDIT_SCHEMA, AuditTrail
from .search_index import STAGED_STEMS_SCHEMA, STAGED_WORDS_SCHEMA, SearchIndex
from .values import ColumnBinding

__all__ = ["BULK_CHUNK", "Progress", "Staging", "UpdatePlan"]

Progress = Callable[[int, int], object]
"""``progress(written, total)``: told how far a bulk load has got."""

#: Rows staged and inserted per statement by bulk_create (progress is reported per chunk).
#: A 100,000-project load took 2.8-3.0 s in chunks of 10,000 and 2.6-2.8 s in
#: chunks of 25,000 or 50,000: fewer statements, each word stemmed once per
#: chunk, and fuller row groups of search terms, which made the commit's
#: checkpoint 0.2 s cheaper.
BULK_CHUNK = 25_000

UpdatePlan = tuple[int, dict[str, Any], int | None]
"""One validated item of a bulk update: id, the changes, the expected version."""


class Staging:
    """One entity's bulk writes: Arrow tables staged and the statements that
    read them, run inside the repository call's worker-thread trip.

    Built once per repository class (``BaseRepository.staging``).
    """

    __slots__ = (
        "arrow_schema",
        "audit_trail",
        "binding",
        "entity",
        "search_index",
        "statements",
        "table",
        "update_columns",
        "updates_schema",
    )

    def __init__(
        self,
        *,
        entity: EntityKind,
        table: str,
        statements: sql.EntityStatements,
        arrow_schema: pa.Schema,
        binding: ColumnBinding,
        audit_trail: AuditTrail,
        search_index: SearchIndex[Any],
    ) -> None:
        self.entity = entity
        self.table = table
        self.statements = statements
        #: Arrow types of the staged columns of a bulk insert (id first).
        self.arrow_schema = arrow_schema
        self.binding = binding
        self.audit_trail = audit_trail
        self.search_index = search_index
        self.update_columns = statements.update_columns
        #: Columns of ``staged_updates``: id, the version read, and for each
        #: updatable column whether it is set and its new value.
        fields = [pa.field("id", pa.int64()), pa.field("read_version", pa.int32())]
        for column in self.update_columns:
            fields += [pa.field(f"set_{column}", pa.bool_()), arrow_schema.field(column)]
        self.updates_schema = pa.schema(fields)

    def staged_schemas(self) -> dict[str, pa.Schema]:
        """Every Arrow table this entity's statements read, by the name it is
        registered under (``check-sql`` prepares the bulk statements against them)."""
        return {
            f"staged_{self.table}": self.arrow_schema,
            "staged_updates": self.updates_schema,
            "staged_audit_entries": STAGED_AUDIT_SCHEMA,
            "staged_search_words": STAGED_WORDS_SCHEMA,
            "staged_stems": STAGED_STEMS_SCHEMA,
        }

    # -- bulk_create ---------------------------------------------------------------

    def insert(
        self,
        db: StatementRunner,
        columns: Mapping[str, list[Any]],
        *,
        returning: bool,
        progress: Progress | None,
    ) -> list[Row]:
        """Insert the rows of ``columns`` (``ColumnBinding.columns``), audit and
        index them, ``BULK_CHUNK`` rows per statement, ids ascending in input
        order; the inserted rows in id order when ``returning``, else []. Run it
        inside one transaction: a failure in any chunk must undo them all."""
        total = len(next(iter(columns.values())))
        self._check_parents(db, columns)
        drawn = db.one(sql.NEXT_IDS, sequence_name=f"{self.table}_id_seq", n=total)
        assert drawn is not None  # an aggregate without GROUP BY always has its row
        ids: list[int] = drawn["ids"]
        staged = f"staged_{self.table}"
        rows: list[Row] = []
        for start in range(0, total, BULK_CHUNK):
            end = min(start + BULK_CHUNK, total)
            chunk = {name: values[start:end] for name, values in columns.items()}
            table = pa.table({"id": ids[start:end], **chunk}, schema=self.arrow_schema)
            self.search_index.add_many(db, ids[start:end], chunk)
            with db.staged(staged, table):
                rows.extend(self._write_chunk(db, returning=returning))
            if progress is not None:
                progress(end, total)
        rows.sort(key=lambda row: row["id"])
        return rows

    def _write_chunk(self, db: StatementRunner, *, returning: bool) -> list[Row]:
        """Write the staged rows and their audit entries; the rows when ``returning``."""
        statements = self.statements
        rows: list[Row] = []
        if returning:
            rows = db.rows(statements.bulk_insert_rows)
        elif statements.bulk_load is not None:
            # Rows and audit entries by one statement that returns nothing:
            # reading 100,000 inserted rows back into Python only to drop them
            # cost 0.3 s, four times the insert itself.
            db.run(statements.bulk_load)
        else:
            db.run(statements.bulk_insert)
        if statements.bulk_insert_children is not None:
            # The rows' children (a conversation's messages) from the same staged table.
            db.run(statements.bulk_insert_children)
        if returning or statements.bulk_load is None:
            db.run(statements.audit_bulk_insert)
        return rows

    def _check_parents(self, db: StatementRunner, columns: Mapping[str, list[Any]]) -> None:
        """A child's rows may only name live projects (the rule ``create``'s
        insert statement checks for one row)."""
        if "project_id" not in columns:
            return
        missing = db.rows(sql.MISSING_LIVE_PROJECTS, project_ids=sorted(set(columns["project_id"])))
        if missing:
            ids = [row["project_id"] for row in missing]
            raise NotFoundError(
                EntityKind.PROJECT.value,
                ids[0],
                f"bulk_create of {self.table} names projects {ids} that are missing or deleted; "
                "nothing was written",
            )

    # -- bulk_update ---------------------------------------------------------------

    def update(
        self, db: StatementRunner, plans: Sequence[UpdatePlan], current: Mapping[int, Row]
    ) -> int:
        """Apply checked update plans (``current``: each row as read, live and at
        the expected version) with one ``UPDATE ... FROM staged_updates``, audit
        them with one INSERT and re-index changed text; how many rows changed.
        A plan without changes is skipped, as ``update`` writes nothing for it."""
        writes = [plan for plan in plans if plan[1]]
        if not writes:
            return 0
        staged, audit = self._staged_updates(writes, current)
        with db.staged("staged_updates", staged):
            updated = db.rows(self.statements.bulk_update)
        if len(updated) != len(writes):
            raise ConflictError(
                self.entity.value, None, "a concurrent transaction changed some rows first"
            )
        self.audit_trail.write_staged(db, [id for id, _, _ in writes], AuditAction.UPDATE, audit)
        self.search_index.reindex_many(db, writes, current)
        return len(updated)

    def _staged_updates(
        self, writes: Sequence[UpdatePlan], current: Mapping[int, Row]
    ) -> tuple[pa.Table, list[str]]:
        """The Arrow table of a bulk update's changes, and each row's audit ``changes``."""
        columns: dict[str, list[Any]] = {"id": [], "read_version": []}
        for column in self.update_columns:
            columns[f"set_{column}"] = []
            columns[column] = []
        audit: list[str] = []
        for id, changes, _ in writes:
            row = current[id]
            columns["id"].append(id)
            columns["read_version"].append(row["version"])
            for column in self.update_columns:
                given = column in changes
                columns[f"set_{column}"].append(given)
                columns[column].append(
                    self.binding.value(column, changes[column]) if given else None
                )
            audit.append(self.audit_trail.of_update(row, changes))
        return pa.table(columns, schema=self.updates_schema), audit

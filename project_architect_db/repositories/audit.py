"""The audit trail: the ``audit_log`` entries a repository writes beside its changes.

Every entry is written by the same transaction as the change it records, inside
the repository method's one worker-thread trip, so the two commit or roll back
together. ``changes`` is JSON text:

- create: the validated item, as JSON (a counted column, such as a conversation's
  messages, as its number of items);
- update: ``{"field": {"old": ..., "new": ...}}`` for each field given;
- delete: ``{"deleted_at": ...}`` (soft) or ``{"hard": true}``; restore: ``{}``;
- a project's cascade to its children adds ``"cascade_from_project": <id>``.

``write`` is one statement of its own. Where an entity declares recorded writes
(``EntityStatements.recorded``), its create and update
entries are written by the same statement as the row instead, from the
``changes`` built here (``of_create``, ``of_update``), so they are the same.
``bulk_create`` audits in SQL (each entity's ``audit_bulk_insert`` statement, or
``bulk_load`` with the rows); ``bulk_update`` stages its entries as an Arrow
table (``write_staged``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import pyarrow as pa
from pydantic import BaseModel

from ..core import statements as sql
from ..core.runner import Row, StatementRunner
from ..schemas.common import AuditAction, EntityKind
from .values import json_value

__all__ = [
    "HARD_DELETE",
    "RESTORE",
    "STAGED_AUDIT_SCHEMA",
    "AuditTrail",
    "soft_delete",
]

#: Audit entries staged for one INSERT (``insert_staged_audit_entries``).
STAGED_AUDIT_SCHEMA = pa.schema(
    [
        ("entity", pa.string()),
        ("entity_id", pa.int64()),
        ("action", pa.string()),
        ("changes", pa.string()),
    ]
)

#: The ``changes`` of a hard delete and of a restore.
HARD_DELETE = json.dumps({"hard": True})
RESTORE = "{}"


def soft_delete(deleted_at: Any) -> str:
    """The ``changes`` of a soft delete: the ``deleted_at`` it stamped."""
    return json.dumps({"deleted_at": json_value(deleted_at)})


class AuditTrail:
    """Writes one entity's audit entries and builds their ``changes``.

    Built once per repository class (``BaseRepository.audit_trail``).
    ``json_columns`` are stored as JSON text, so an update audits their old
    value as JSON data rather than as a string; ``counted`` columns are audited
    by their number of items.
    """

    __slots__ = ("_exclude", "counted", "entity", "json_columns")

    def __init__(
        self,
        entity: EntityKind,
        json_columns: frozenset[str] = frozenset(),
        counted: frozenset[str] = frozenset(),
    ) -> None:
        self.entity = entity.value
        self.json_columns = json_columns
        self.counted = counted
        self._exclude = set(counted)

    # -- changes -----------------------------------------------------------------

    def of_create(self, item: BaseModel) -> str:
        """The ``changes`` of a create: the validated item as JSON."""
        if not self.counted:
            return json.dumps(item.model_dump(mode="json"), ensure_ascii=False)
        changes = item.model_dump(mode="json", exclude=self._exclude)
        for column in self.counted:
            changes[column] = len(getattr(item, column))
        return json.dumps(changes, ensure_ascii=False)

    def of_update(self, current: Row, changes: Mapping[str, Any]) -> str:
        """The ``changes`` of an update: old and new value of each given field."""
        return json.dumps(
            {
                column: {
                    "old": self._stored_json(column, current[column]),
                    "new": json_value(value),
                }
                for column, value in changes.items()
            },
            ensure_ascii=False,
        )

    def _stored_json(self, column: str, value: Any) -> Any:
        """A column value read from the database, as JSON for the audit trail."""
        if column in self.json_columns and isinstance(value, str):
            return json.loads(value)
        return json_value(value)

    # -- writing -----------------------------------------------------------------

    def write(self, db: StatementRunner, id: int, action: AuditAction, changes: str) -> None:
        """One entry: ``changes`` is JSON text."""
        db.run(
            sql.INSERT_AUDIT_ENTRY,
            entity=self.entity,
            entity_id=id,
            action=action.value,
            changes=changes,
        )

    def write_many(
        self,
        db: StatementRunner,
        ids: Sequence[int],
        action: AuditAction,
        changes: Mapping[str, object],
    ) -> None:
        """One entry per id, all with the same ``changes`` (a project's cascade
        to its children), in one statement; none when ``ids`` is empty."""
        if ids:
            db.run(
                sql.INSERT_AUDIT_ENTRIES,
                entity=self.entity,
                entity_ids=ids,
                action=action.value,
                changes=json.dumps(changes),
            )

    def write_staged(
        self,
        db: StatementRunner,
        ids: Sequence[int],
        action: AuditAction,
        changes: Sequence[str],
    ) -> None:
        """One entry per id with its own ``changes`` (a bulk update), staged as
        one Arrow table and written by one INSERT."""
        count = len(ids)
        entries = pa.table(
            {
                "entity": [self.entity] * count,
                "entity_id": ids,
                "action": [action.value] * count,
                "changes": changes,
            },
            schema=STAGED_AUDIT_SCHEMA,
        )
        with db.staged("staged_audit_entries", entries):
            db.run(sql.INSERT_STAGED_AUDIT_ENTRIES)

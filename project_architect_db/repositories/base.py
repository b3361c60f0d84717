"""What every entity repository does, written once.

A repository method validates its input on the event loop, then makes every
statement it needs in one worker-thread trip (``session.run_in_worker``) and
builds the read models there too. Writes and their audit entries commit
together: in their own transaction, or in the caller's when the session has one.

Statements come from ``sql/<table>.sql``; which ones, and with which
parameters, is listed once in ``core/statements.py`` (each subclass names its
``EntityStatements``).
"""

from __future__ import annotations

import builtins
import json
from collections.abc import Callable, Mapping, Sequence
from enum import Enum
from functools import cache
from operator import attrgetter
from types import TracebackType
from typing import Any, ClassVar, Generic, Literal, Self, TypeVar, overload

import pyarrow as pa
from pydantic import BaseModel, TypeAdapter
from pydantic_core import to_json, to_jsonable_python

from ..core import statements as sql
from ..core.runner import Row, StatementRunner
from ..core.session import Session
from ..errors import ConflictError, InvalidQueryError, NotFoundError
from ..gcpause import gc_paused
from ..queries.builder import QueryBuilder
from ..queries.filters import OrderBy
from ..schemas.common import (
    AuditAction,
    AuditEntry,
    CreateSchema,
    EntityKind,
    EntityModel,
    UpdateSchema,
)
from ..search import index_terms, indexable, stem, words

__all__ = ["BaseRepository"]

ModelT = TypeVar("ModelT", bound=EntityModel)

Progress = Callable[[int, int], object]
"""``progress(written, total)``: told how far a bulk load has got."""

#: Rows staged and inserted per statement by bulk_create (progress is reported per chunk).
BULK_CHUNK = 10_000
E = TypeVar("E", bound=Enum)

#: Audit entries staged for one INSERT (``insert_staged_audit_entries``).
STAGED_AUDIT_SCHEMA = pa.schema(
    [
        ("entity", pa.string()),
        ("entity_id", pa.int64()),
        ("action", pa.string()),
        ("changes", pa.string()),
    ]
)
#: Each row's words of one field, space-joined (``distinct_staged_words``).
STAGED_WORDS_SCHEMA = pa.schema(
    [("entity_id", pa.int64()), ("field", pa.string()), ("words", pa.string())]
)
#: Each distinct indexable word and its stem (``insert_staged_search_words``).
STAGED_STEMS_SCHEMA = pa.schema([("word", pa.string()), ("stem", pa.string())])


def to_param(value: Any, *, is_json: bool) -> Any:
    """A validated Python value as DuckDB takes it as a bound parameter."""
    if value is None:
        return None
    if is_json:
        return json_text(value)
    if isinstance(value, Enum):
        return value.value
    return value


def json_text(value: Any) -> str:
    """Validated JSON data as compact JSON text (pydantic_core serializes in
    Rust, about 8x faster than json.dumps on a small object)."""
    return to_json(value).decode()


def choice(enum: type[E], value: E | str, field: str) -> str:
    """The value of ``enum`` named by ``value``, or a clear InvalidQueryError."""
    try:
        return enum(value).value  # type: ignore[no-any-return]
    except ValueError:
        choices = ", ".join(member.value for member in enum)
        raise InvalidQueryError(f"{field} {value!r} is not one of: {choices}") from None


SchemaT = TypeVar("SchemaT", bound=BaseModel)


def _validated(data: Mapping[str, Any] | BaseModel, schema: type[SchemaT], method: str) -> SchemaT:
    """``data`` as a ``schema`` instance: validated from a dict, or taken as is."""
    if isinstance(data, schema):
        return data
    if isinstance(data, BaseModel):
        raise TypeError(
            f"{method} takes a {schema.__name__} or a dict, not a {type(data).__name__}"
        )
    return schema.model_validate(data)


@cache
def _list_adapter(schema: type[BaseModel]) -> TypeAdapter[Any]:
    """Validates a list of ``schema`` items; errors name the item's index."""
    return TypeAdapter(list[schema])  # type: ignore[valid-type]


class BaseRepository(Generic[ModelT]):
    """Create, read, update, soft/hard delete, restore, list, count, bulk writes
    and audit history for one entity. Subclasses name the entity and its
    schemas; they add only what is special to it."""

    entity: ClassVar[EntityKind]
    table: ClassVar[str]
    model: type[ModelT]
    create_schema: ClassVar[type[CreateSchema]]
    update_schema: ClassVar[type[UpdateSchema]]
    #: The entity's statements (core/statements.py), which also give the columns
    #: a create and an update write.
    statements: ClassVar[sql.EntityStatements]
    #: Columns stored as JSON, bound as JSON text.
    json_columns: ClassVar[frozenset[str]] = frozenset()
    #: Columns whose value a subclass's ``_column_value`` builds itself.
    custom_columns: ClassVar[frozenset[str]] = frozenset()
    #: Arrow types of the staged columns for bulk inserts.
    arrow_schema: ClassVar[pa.Schema]
    #: Text columns kept in the full-text index (empty: not searchable).
    search_fields: ClassVar[tuple[str, ...]] = ()

    def __init__(self, session: Session) -> None:
        self.session = session

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "statements" in cls.__dict__:
            #: Columns the insert statement takes, in order (besides generated ones).
            cls.insert_columns = cls.statements.insert_columns
            #: Columns the update statement writes (besides id and version).
            cls.update_columns = cls.statements.update_columns

    insert_columns: ClassVar[tuple[str, ...]]
    update_columns: ClassVar[tuple[str, ...]]

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        return None

    # -- reads -------------------------------------------------------------------

    async def get_by_id(self, id: int, *, include_deleted: bool = False) -> ModelT | None:
        """The row with this id, or None. Soft-deleted rows only with ``include_deleted``."""

        def work(db: StatementRunner) -> ModelT | None:
            row = db.one(self.statements.get, id=id, include_deleted=include_deleted)
            return None if row is None else self.model.from_row(row)

        return await self.session.run_in_worker(work, entity=self.entity, entity_id=id)

    def query(self) -> QueryBuilder[ModelT]:
        """A ``QueryBuilder`` over this entity's rows on this repository's session."""
        return QueryBuilder(self.model, self.session)

    def _filtered(
        self,
        filters: Mapping[str, Any],
        *,
        include_deleted: bool = False,
        order_by: OrderBy = None,
    ) -> QueryBuilder[ModelT]:
        query = self.query().filter(**filters)
        if order_by is not None:
            query = query.order_by(*([order_by] if isinstance(order_by, str) else order_by))
        return query.include_deleted() if include_deleted else query

    async def list(
        self,
        limit: int = 100,
        offset: int = 0,
        *,
        order_by: OrderBy = None,
        include_deleted: bool = False,
        **filters: Any,
    ) -> builtins.list[ModelT]:
        """One page of rows matching the filters (``field=value``, ``None``
        matching NULL, or ``field__lookup=value``: ne, lt, lte, gt, gte, in,
        not_in, contains, startswith, isnull), ordered by ``order_by``
        (``"-field"`` descending; ties by id)."""
        query = self._filtered(filters, include_deleted=include_deleted, order_by=order_by)
        return await query.limit(limit).offset(offset).all()

    async def list_and_count(
        self,
        limit: int = 100,
        offset: int = 0,
        *,
        order_by: OrderBy = None,
        include_deleted: bool = False,
        **filters: Any,
    ) -> tuple[builtins.list[ModelT], int]:
        """``list(...)`` and the total ``count(...)`` of matching rows, in one trip."""
        query = self._filtered(filters, include_deleted=include_deleted, order_by=order_by)
        return await query.limit(limit).offset(offset).all_and_count()

    async def count(self, *, include_deleted: bool = False, **filters: Any) -> int:
        """How many rows match the filters (same lookups as ``list``)."""
        return await self._filtered(filters, include_deleted=include_deleted).count()

    async def exists(self, *, include_deleted: bool = False, **filters: Any) -> bool:
        """Whether any row matches the filters (same lookups as ``list``)."""
        return await self._filtered(filters, include_deleted=include_deleted).exists()

    async def history(self, id: int) -> builtins.list[AuditEntry]:
        """The audit trail of one row, oldest first (empty if it never existed)."""

        def work(db: StatementRunner) -> builtins.list[AuditEntry]:
            rows = db.rows(sql.AUDIT_HISTORY, entity=self.entity.value, entity_id=id)
            return [AuditEntry.from_row(row) for row in rows]

        return await self.session.run_in_worker(work, entity=self.entity, entity_id=id)

    # -- writes ------------------------------------------------------------------

    async def create(self, data: Mapping[str, Any] | CreateSchema) -> ModelT:
        """Validate ``data``, insert it, audit it; the stored row."""
        item = self._validated_create(data)
        params = self._insert_params(item)
        changes = json.dumps(self._audit_of_create(item), ensure_ascii=False)

        def work(db: StatementRunner) -> ModelT:
            with db.atomic():
                row = db.one(self.statements.insert, **params)
                if row is None:
                    raise self._missing_parent(params)
                self._audit(db, row["id"], AuditAction.CREATE, changes)
                self._index(db, row["id"], row)
            return self.model.from_row(row)

        return await self.session.run_in_worker(work, entity=self.entity)

    async def update(
        self,
        id: int,
        data: Mapping[str, Any] | UpdateSchema,
        *,
        expected_version: int | None = None,
    ) -> ModelT:
        """Change only the fields given; the version goes up by one.

        Raises ``NotFoundError`` when no live row has this id and
        ``ConflictError`` when ``expected_version`` is not the stored version or
        a concurrent transaction changed the row first.
        """
        changes = self._validated_update(data).changes()

        def work(db: StatementRunner) -> ModelT:
            with db.atomic():
                return self._apply_update(db, id, changes, expected_version)

        return await self.session.run_in_worker(work, entity=self.entity, entity_id=id)

    async def delete(self, id: int, *, hard: bool = False) -> bool:
        """Soft delete (set ``deleted_at``) or, with ``hard=True``, remove the row
        for good. True if a row was deleted, False if there was none (for a soft
        delete: no live one)."""

        def work(db: StatementRunner) -> bool:
            with db.atomic():
                if hard:
                    gone = db.one(self.statements.hard_delete, id=id)
                    changes: dict[str, Any] = {"hard": True}
                    if gone is not None:
                        self._unindex(db, id)
                else:
                    gone = db.one(self.statements.soft_delete, id=id)
                    changes = (
                        {}
                        if gone is None
                        else {"deleted_at": to_jsonable_python(gone["deleted_at"])}
                    )
                    if gone is not None:
                        self._unindex(db, id)
                if gone is None:
                    return False
                self._audit(db, id, AuditAction.DELETE, json.dumps(changes))
                return True

        return await self.session.run_in_worker(work, entity=self.entity, entity_id=id)

    async def restore(self, id: int) -> ModelT:
        """Undo a soft delete; the live row. A row that is already live comes back
        unchanged. ``NotFoundError`` if there is no such row (or its project is
        itself deleted: restore the project first)."""

        def work(db: StatementRunner) -> ModelT:
            with db.atomic():
                row = db.one(self.statements.restore, id=id)
                if row is None:
                    return self._model_not_restored(db, id)
                self._audit(db, id, AuditAction.RESTORE, "{}")
                self._index(db, id, row)
            return self.model.from_row(row)

        return await self.session.run_in_worker(work, entity=self.entity, entity_id=id)

    @overload
    async def bulk_create(
        self,
        items: Sequence[Mapping[str, Any] | CreateSchema],
        *,
        returning: Literal[True] = True,
        progress: Progress | None = None,
    ) -> builtins.list[ModelT]: ...

    @overload
    async def bulk_create(
        self,
        items: Sequence[Mapping[str, Any] | CreateSchema],
        *,
        returning: Literal[False],
        progress: Progress | None = None,
    ) -> int: ...

    async def bulk_create(
        self,
        items: Sequence[Mapping[str, Any] | CreateSchema],
        *,
        returning: bool = True,
        progress: Progress | None = None,
    ) -> builtins.list[ModelT] | int:
        """Validate every item, then insert all of them and their audit entries
        in one transaction through Arrow: all or nothing. The created rows in
        input order (ids ascend in that order), or with ``returning=False`` just
        how many were written (faster for large loads).

        ``progress(written, total)`` is called after each chunk of
        ``BULK_CHUNK`` rows, from the worker thread: keep it quick (update a
        counter or a progress bar). Rows count as written when the whole load
        commits.
        """
        validated = self._validated_many(items)
        if not validated:
            return [] if returning else 0
        columns = self._staged_columns(validated)
        staged = f"staged_{self.table}"
        total = len(validated)

        def work(db: StatementRunner) -> builtins.list[ModelT] | int:
            rows: builtins.list[Row] = []
            with db.atomic():
                self._check_parents(db, columns)
                ids = sorted(
                    row["id"]
                    for row in db.rows(sql.NEXT_IDS, sequence_name=f"{self.table}_id_seq", n=total)
                )
                for start in range(0, total, BULK_CHUNK):
                    end = min(start + BULK_CHUNK, total)
                    chunk = {name: values[start:end] for name, values in columns.items()}
                    table = pa.table({"id": ids[start:end], **chunk}, schema=self.arrow_schema)
                    self._index_many(db, ids[start:end], chunk)
                    with db.staged(staged, table):
                        if returning:
                            rows.extend(db.rows(self.statements.bulk_insert_rows))
                        else:
                            db.run(self.statements.bulk_insert)
                        db.run(self.statements.audit_bulk_insert)
                    if progress is not None:
                        progress(end, total)
            if not returning:
                return total
            rows.sort(key=lambda row: row["id"])
            with gc_paused():
                return [self.model.from_row(row) for row in rows]

        return await self.session.run_in_worker(work, entity=self.entity)

    async def bulk_update(self, updates: Sequence[Mapping[str, Any]]) -> int:
        """Apply many updates in one transaction: each dict holds ``id``,
        optionally ``version`` (checked like ``expected_version``), and the
        fields to change. All or nothing; the number of rows updated (an item
        with no fields is checked but, as with ``update``, writes nothing).

        Set-based: the rows are read in one statement, the changes staged as an
        Arrow table and applied by one ``UPDATE ... FROM``, the audit entries
        written by one ``INSERT``; only the fields given change.
        """
        plans = self._validated_bulk_updates(updates)
        if not plans:
            return 0
        ids = [id for id, _, _ in plans]
        if len(set(ids)) != len(ids):
            duplicate = next(id for id in ids if ids.count(id) > 1)
            raise InvalidQueryError(
                f"bulk_update names {self.entity.value} {duplicate} more than once; merge its changes"
            )

        def work(db: StatementRunner) -> int:
            with db.atomic():
                current = {
                    row["id"]: row for row in db.rows(self.statements.update_targets, ids=ids)
                }
                staged, audit = self._staged_updates(plans, current)
                writes = [plan for plan in plans if plan[1]]  # like update(): {} writes nothing
                if not writes:
                    return 0
                with db.staged("staged_updates", staged):
                    updated = db.rows(self.statements.bulk_update)
                if len(updated) != len(writes):
                    raise ConflictError(
                        self.entity.value, None, "a concurrent transaction changed some rows first"
                    )
                with db.staged("staged_audit_entries", audit):
                    db.run(sql.INSERT_STAGED_AUDIT_ENTRIES)
                self._reindex_many(db, writes, current)
            return len(updated)

        return await self.session.run_in_worker(work, entity=self.entity)

    def _staged_updates(
        self,
        plans: Sequence[tuple[int, dict[str, Any], int | None]],
        current: Mapping[int, Row],
    ) -> tuple[pa.Table, pa.Table]:
        """The Arrow tables of a bulk update's changes and of its audit entries,
        after checking that every row is live and at the expected version."""
        columns: dict[str, builtins.list[Any]] = {"id": [], "read_version": []}
        for column in self.update_columns:
            columns[f"set_{column}"] = []
            columns[column] = []
        audit: builtins.list[str] = []
        for id, changes, expected in plans:
            row = self._checked_current(id, current.get(id), expected, "; nothing was updated")
            if not changes:
                continue
            columns["id"].append(id)
            columns["read_version"].append(row["version"])
            for column in self.update_columns:
                given = column in changes
                columns[f"set_{column}"].append(given)
                columns[column].append(
                    to_param(changes[column], is_json=column in self.json_columns)
                    if given
                    else None
                )
            audit.append(self._audit_of_update(row, changes))
        changes_table = pa.table(columns, schema=self._updates_schema())
        audit_table = pa.table(
            {
                "entity": [self.entity.value] * len(audit),
                "entity_id": columns["id"],
                "action": ["update"] * len(audit),
                "changes": audit,
            },
            schema=STAGED_AUDIT_SCHEMA,
        )
        return changes_table, audit_table

    @classmethod
    def _updates_schema(cls) -> pa.Schema:
        """Columns of ``staged_updates``: id, the version read, and for each
        updatable column whether it is set and its new value."""
        fields = [pa.field("id", pa.int64()), pa.field("read_version", pa.int32())]
        for column in cls.update_columns:
            fields += [pa.field(f"set_{column}", pa.bool_()), cls.arrow_schema.field(column)]
        return pa.schema(fields)

    @classmethod
    def staged_schemas(cls) -> dict[str, pa.Schema]:
        """Every Arrow table this repository's statements read, by the name it is
        registered under (``check-sql`` prepares the bulk statements against them)."""
        return {
            f"staged_{cls.table}": cls.arrow_schema,
            "staged_updates": cls._updates_schema(),
            "staged_audit_entries": STAGED_AUDIT_SCHEMA,
            "staged_search_words": STAGED_WORDS_SCHEMA,
            "staged_stems": STAGED_STEMS_SCHEMA,
        }

    def _reindex_many(
        self,
        db: StatementRunner,
        writes: Sequence[tuple[int, dict[str, Any], int | None]],
        current: Mapping[int, Row],
    ) -> None:
        """Re-index the rows of a bulk update whose searched text changed: their
        new text is the change where given, else the text they had."""
        if not self.search_fields:
            return
        touched = [
            (id, changes)
            for id, changes, _ in writes
            if not changes.keys().isdisjoint(self.search_fields)
        ]
        if not touched:
            return
        ids = [id for id, _ in touched]
        db.run(sql.DELETE_SEARCH_TERMS_OF_MANY, entity=self.entity.value, entity_ids=ids)
        self._index_many(
            db,
            ids,
            {
                name: [changes.get(name, current[id][name]) for id, changes in touched]
                for name in self.search_fields
            },
        )

    # -- helpers for subclasses ----------------------------------------------------

    async def _select(self, query: sql.Statement, **params: Any) -> builtins.list[ModelT]:
        """The rows of a fixed named query, as models."""

        def work(db: StatementRunner) -> builtins.list[ModelT]:
            return [self.model.from_row(row) for row in db.rows(query, **params)]

        return await self.session.run_in_worker(work, entity=self.entity)

    def _audit(self, db: StatementRunner, id: int, action: AuditAction, changes: str) -> None:
        db.run(
            sql.INSERT_AUDIT_ENTRY,
            entity=self.entity.value,
            entity_id=id,
            action=action.value,
            changes=changes,
        )

    def _apply_update(
        self,
        db: StatementRunner,
        id: int,
        changes: dict[str, Any],
        expected_version: int | None,
    ) -> ModelT:
        """Read the live row, check its version, write the merged row, audit."""
        current = self._checked_current(
            id, db.one(self.statements.get, id=id, include_deleted=False), expected_version
        )
        if not changes:
            return self.model.from_row(current)
        params = {
            column: (
                to_param(changes[column], is_json=column in self.json_columns)
                if column in changes
                else current[column]
            )
            for column in self.update_columns
        }
        audit = self._audit_of_update(current, changes)
        row = db.one(self.statements.update, id=id, version=current["version"], **params)
        if row is None:
            raise ConflictError(self.entity.value, id, "a concurrent transaction changed it first")
        if not changes.keys().isdisjoint(self.search_fields):
            self._unindex(db, id)
            self._index(db, id, row)
        self._audit(db, id, AuditAction.UPDATE, audit)
        return self.model.from_row(row)

    def _index(self, db: StatementRunner, id: int, values: Mapping[str, Any]) -> None:
        """Add one live row's searchable text to the full-text index (which holds
        live rows only: deletes remove a row's terms, restores put them back)."""
        if not self.search_fields:
            return
        fields, terms, counts = index_terms({name: values.get(name) for name in self.search_fields})
        if terms:
            db.run(
                sql.INSERT_SEARCH_TERMS,
                entity=self.entity.value,
                entity_id=id,
                fields=fields,
                terms=terms,
                counts=counts,
            )

    def _unindex(self, db: StatementRunner, id: int) -> None:
        if self.search_fields:
            db.run(sql.DELETE_SEARCH_TERMS, entity=self.entity.value, entity_id=id)

    def _ranked(
        self, db: StatementRunner, ranking: builtins.list[Row]
    ) -> builtins.list[tuple[ModelT, float]]:
        """The rows a ranking query chose, fetched by id, in ranking order."""
        if not ranking:
            return []
        rows = db.rows(self.statements.by_ids, ids=[hit["id"] for hit in ranking])
        by_id = {row["id"]: row for row in rows}
        return [
            (self.model.from_row(by_id[hit["id"]]), float(hit["score"]))
            for hit in ranking
            if hit["id"] in by_id
        ]

    def _index_many(
        self, db: StatementRunner, ids: Sequence[int], columns: Mapping[str, Sequence[Any]]
    ) -> None:
        """Index many rows with three statements, whatever their number.

        Python splits each text into words with the same ``words()`` as for one
        row (at C speed) and stages them space-separated (words never contain
        spaces); DuckDB lists the distinct words, Python stems each of those
        once, and DuckDB joins words to stems and counts them. Stemming word by
        word in Python took about two thirds of a 100,000-row bulk_create.
        """
        if not self.search_fields:
            return
        count = len(ids)
        staged_words = pa.table(
            {
                "entity_id": builtins.list(ids) * len(self.search_fields),
                "field": [name for name in self.search_fields for _ in range(count)],
                "words": [
                    " ".join(words(text)) if text else ""
                    for name in self.search_fields
                    for text in columns[name]
                ],
            },
            schema=STAGED_WORDS_SCHEMA,
        )
        with db.staged("staged_search_words", staged_words):
            vocabulary = [row["word"] for row in db.rows(sql.DISTINCT_STAGED_WORDS)]
            indexed = [word for word in vocabulary if indexable(word)]
            staged_stems = pa.table(
                {"word": indexed, "stem": [stem(word) for word in indexed]},
                schema=STAGED_STEMS_SCHEMA,
            )
            with db.staged("staged_stems", staged_stems):
                db.run(sql.INSERT_STAGED_SEARCH_WORDS, entity=self.entity.value)

    def _checked_current(
        self, id: int, row: Row | None, expected_version: int | None, consequence: str = ""
    ) -> Row:
        """The live row an update starts from, or the error saying why it cannot."""
        if row is None:
            raise NotFoundError(
                self.entity.value, id, f"it does not exist or is deleted{consequence}"
            )
        if expected_version is not None and row["version"] != expected_version:
            raise ConflictError(
                self.entity.value,
                id,
                f"expected version {expected_version} but it is at version {row['version']}{consequence}",
                expected_version=expected_version,
                actual_version=row["version"],
            )
        return row

    def _audit_of_update(self, current: Row, changes: Mapping[str, Any]) -> str:
        """The audit ``changes`` of an update: old and new value of each given field."""
        return json.dumps(
            {
                column: {"old": self._stored_json(column, current[column]), "new": _json(value)}
                for column, value in changes.items()
            },
            ensure_ascii=False,
        )

    def _stored_json(self, column: str, value: Any) -> Any:
        """A column value read from the database, as JSON for the audit trail."""
        if column in self.json_columns and isinstance(value, str):
            return json.loads(value)
        return _json(value)

    def _model_not_restored(self, db: StatementRunner, id: int) -> ModelT:
        existing = db.one(self.statements.get, id=id, include_deleted=True)
        if existing is None:
            raise NotFoundError(self.entity.value, id, "there is nothing to restore")
        if existing["deleted_at"] is None:
            return self.model.from_row(existing)
        raise NotFoundError(
            EntityKind.PROJECT.value,
            existing["project_id"],
            f"restore the project before its {self.entity.value} {id}",
        )

    def _missing_parent(self, params: Mapping[str, Any]) -> NotFoundError:
        return NotFoundError(
            EntityKind.PROJECT.value,
            params["project_id"],
            f"a {self.entity.value} needs a live project; create the project or restore it first",
        )

    def _check_parents(
        self, db: StatementRunner, columns: Mapping[str, builtins.list[Any]]
    ) -> None:
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

    # -- input validation --------------------------------------------------------

    def _validated_create(self, data: Mapping[str, Any] | CreateSchema) -> CreateSchema:
        return _validated(data, self.create_schema, f"{type(self).__name__}.create")

    def _validated_update(self, data: Mapping[str, Any] | UpdateSchema) -> UpdateSchema:
        return _validated(data, self.update_schema, f"{type(self).__name__}.update")

    def _validated_many(
        self, items: Sequence[Mapping[str, Any] | CreateSchema]
    ) -> builtins.list[CreateSchema]:
        # One adapter for the whole list: an error names the item's index and field.
        with gc_paused():
            validated: builtins.list[CreateSchema] = _list_adapter(
                self.create_schema
            ).validate_python(builtins.list(items))
        return validated

    def _validated_bulk_updates(
        self, updates: Sequence[Mapping[str, Any]]
    ) -> builtins.list[tuple[int, dict[str, Any], int | None]]:
        keys: builtins.list[tuple[int, int | None]] = []
        field_sets: builtins.list[dict[str, Any]] = []
        for position, item in enumerate(updates):
            if not isinstance(item, Mapping):
                raise InvalidQueryError(f"bulk_update item {position} is not a dict: {item!r}")
            fields = dict(item)
            id = fields.pop("id", None)
            version = fields.pop("version", None)
            if id is None:
                raise InvalidQueryError(f"bulk_update item {position} has no 'id'")
            for label, number in (("id", id), ("version", version)):
                if number is not None and (isinstance(number, bool) or not isinstance(number, int)):
                    raise InvalidQueryError(
                        f"bulk_update item {position}: {label} must be an int, not {number!r}"
                    )
            keys.append((id, version))
            field_sets.append(fields)
        # One adapter for the whole list: an error names the item's index and field.
        with gc_paused():
            validated: builtins.list[UpdateSchema] = _list_adapter(
                self.update_schema
            ).validate_python(field_sets)
        return [
            (id, item.changes(), version)
            for (id, version), item in zip(keys, validated, strict=True)
        ]

    # -- row building ------------------------------------------------------------

    def _column_value(self, item: CreateSchema, column: str) -> Any:
        """One column of a validated create item, as it is bound or staged."""
        return to_param(getattr(item, column), is_json=column in self.json_columns)

    def _insert_params(self, item: CreateSchema) -> dict[str, Any]:
        return {column: self._column_value(item, column) for column in self.insert_columns}

    def _audit_of_create(self, item: CreateSchema) -> dict[str, Any]:
        return item.model_dump(mode="json")

    def _staged_columns(self, items: Sequence[CreateSchema]) -> dict[str, builtins.list[Any]]:
        """Column lists for the Arrow table of a bulk insert (ids added later):
        the values ``_column_value`` gives, taken a column at a time."""
        columns: dict[str, builtins.list[Any]] = {}
        for column in self.insert_columns:
            if column in self.custom_columns:
                columns[column] = [self._column_value(item, column) for item in items]
            else:
                is_json = column in self.json_columns
                columns[column] = [
                    to_param(value, is_json=is_json) for value in map(attrgetter(column), items)
                ]
        return columns


_JSON_SCALARS = frozenset({str, int, float, bool, type(None)})


def _json(value: Any) -> Any:
    """``value`` as plain JSON data (enums as their value, datetimes as ISO text);
    plain scalars, the common case in bulk audits, pass without a call."""
    return value if type(value) in _JSON_SCALARS else to_jsonable_python(value)


def utc_column() -> pa.DataType:
    """Arrow type of a TIMESTAMPTZ column."""
    return pa.timestamp("us", tz="UTC")

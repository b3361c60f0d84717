"""What every entity repository does, written once.

A repository method validates its input on the event loop, then makes every
statement it needs in one worker-thread trip (``session.run_in_worker``) and
builds the read models there too. Writes and their audit entries commit
together: in their own transaction, or in the caller's when the session has one.

Statements come from ``sql/<table>.sql``; which ones, and with which
parameters, is listed once in ``core/statements.py`` (each subclass names its
``EntityStatements``).

This module keeps create, read, update, delete, restore, list and the
validation of input. The parts a repository uses inside its worker-thread
trip are objects built once per repository class from what the subclass
declares: ``binding`` (``values.py``: the columns a create writes),
``audit_trail`` (``audit.py``), ``search_index`` (``search_index.py``) and
``staging`` (``staging.py``: the Arrow paths of the bulk writes).
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Mapping, Sequence
from functools import cache
from types import MappingProxyType, TracebackType
from typing import Any, ClassVar, Generic, Literal, Self, TypeVar, overload

import pyarrow as pa
from pydantic import BaseModel, TypeAdapter

from ..core import statements as sql
from ..core.group_commit import Mergeable
from ..core.runner import Row, StatementRunner
from ..core.session import Session
from ..errors import ConflictError, InvalidQueryError, NotFoundError
from ..gcpause import gc_paused
from ..queries.builder import QueryBuilder
from ..queries.filters import OrderBy
from ..queries.loading import load_models
from ..schemas.common import (
    AuditAction,
    AuditEntry,
    CreateSchema,
    EntityKind,
    EntityModel,
    UpdateSchema,
)
from . import audit
from .audit import AuditTrail
from .search_index import SearchIndex
from .staging import Progress, Staging, UpdatePlan
from .values import ColumnBinding

__all__ = ["BaseRepository"]

ModelT = TypeVar("ModelT", bound=EntityModel)

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
    #: Columns whose bound value is built from the whole create item, not read
    #: from its field (a conversation's messages).
    column_builders: ClassVar[Mapping[str, Callable[[Any], Any]]] = MappingProxyType({})
    #: List columns the audit trail records by their number of items.
    audit_counted: ClassVar[frozenset[str]] = frozenset()
    #: Arrow types of the staged columns for bulk inserts.
    arrow_schema: ClassVar[pa.Schema]
    #: Text columns kept in the full-text index (empty: not searchable).
    search_fields: ClassVar[tuple[str, ...]] = ()

    # The parts a repository uses, built once per concrete class (below).
    #: Columns the insert statement takes, in order (besides generated ones).
    insert_columns: ClassVar[tuple[str, ...]]
    #: Columns the update statement writes (besides id and version).
    update_columns: ClassVar[tuple[str, ...]]
    #: How a create's columns are bound (values.py).
    binding: ClassVar[ColumnBinding]
    #: The entity's audit entries (audit.py).
    audit_trail: ClassVar[AuditTrail]
    #: The entity's full-text index entries and ranked reads (search_index.py).
    search_index: ClassVar[SearchIndex[Any]]
    #: The Arrow paths of bulk_create and bulk_update (staging.py).
    staging: ClassVar[Staging]

    def __init__(self, session: Session) -> None:
        self.session = session

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if getattr(cls, "statements", None) is None:
            return  # an abstract intermediate class: nothing to build yet
        cls.insert_columns = cls.statements.insert_columns
        cls.update_columns = cls.statements.update_columns
        cls.binding = ColumnBinding(cls.insert_columns, cls.json_columns, cls.column_builders)
        cls.audit_trail = AuditTrail(cls.entity, cls.json_columns, cls.audit_counted)
        cls.search_index = SearchIndex(
            cls.entity, cls.search_fields, cls.model, cls.statements.by_ids
        )
        cls.staging = Staging(
            entity=cls.entity,
            table=cls.table,
            statements=cls.statements,
            arrow_schema=cls.arrow_schema,
            binding=cls.binding,
            audit_trail=cls.audit_trail,
            search_index=cls.search_index,
        )

    async def __aenter__(self) -> Self:
        """``async with Repo(session) as repo:``, the form the original design
        documents. A repository holds nothing to release (the session owns the
        connection), so entering and leaving do nothing."""
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
        """The row with this id, or None. Soft-deleted rows only with ``include_deleted``.

        In an auto-commit session, calls made while another ``get_by_id`` of this
        entity runs are served together by one statement (``coalesce_reads``).
        """
        get = self._get(include_deleted)
        by_ids = (
            self.statements.by_ids_including_deleted if include_deleted else self.statements.by_ids
        )

        def one(db: StatementRunner, id: int) -> ModelT | None:
            row = db.one(get, id=id)
            return None if row is None else self._model(db, row)

        def many(db: StatementRunner, ids: builtins.list[int]) -> dict[int, ModelT]:
            return {model.id: model for model in self._models(db, db.rows(by_ids, ids=ids))}

        return await self.session.read_by_id(get, id, one, many, entity=self.entity)

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
        params = self.binding.params(item)
        changes = self.audit_trail.of_create(item)
        if self.statements.recorded:
            # The row, its audit entry and its search terms in one statement,
            # atomic on its own: no BEGIN and COMMIT around it in an auto-commit
            # session (in a caller's transaction it joins that). The terms come
            # from the values bound, which are the values stored.
            write = {**params, "changes": changes, **self.search_index.params(params)}

            def finish(row: Row | None) -> ModelT:
                if row is None:
                    raise self._missing_parent(params)
                return self.model.from_row(row)

            def record(db: StatementRunner) -> ModelT:
                return finish(db.one(self.statements.insert, **write))

            # Concurrent creates may share one statement (group commit).
            merge = None
            if self.statements.create_many is not None:
                merge = Mergeable(self.statements.create_many, write, finish)
            return await self.session.write_in_worker(record, entity=self.entity, merge=merge)

        def work(db: StatementRunner) -> ModelT:
            with db.atomic():
                row = db.one(self.statements.insert, **params)
                if row is None:
                    raise self._missing_parent(params)
                self.audit_trail.write(db, row["id"], AuditAction.CREATE, changes)
                self.search_index.add(db, row["id"], row)
                self._write_children(db, row, item)
            return self.model.from_row(row)

        return await self.session.write_in_worker(work, entity=self.entity)

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
            if self.statements.recorded:
                # A read, then one recorded write whose version check refuses a
                # row changed since the read: no transaction is needed around
                # the two (in a caller's transaction they join it).
                return self._apply_update(db, id, changes, expected_version)
            with db.atomic():
                return self._apply_update(db, id, changes, expected_version)

        return await self.session.write_in_worker(work, entity=self.entity, entity_id=id)

    async def delete(self, id: int, *, hard: bool = False) -> bool:
        """Soft delete (set ``deleted_at``) or, with ``hard=True``, remove the row
        for good. True if a row was deleted, False if there was none (for a soft
        delete: no live one)."""

        def work(db: StatementRunner) -> bool:
            with db.atomic():
                if hard:
                    self._delete_children(db, id)
                    gone = db.one(self.statements.hard_delete, id=id)
                    if gone is None:
                        return False
                    changes = audit.HARD_DELETE
                else:
                    gone = db.one(self.statements.soft_delete, id=id)
                    if gone is None:
                        return False
                    changes = audit.soft_delete(gone["deleted_at"])
                self.search_index.remove(db, id)
                self.audit_trail.write(db, id, AuditAction.DELETE, changes)
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
                self.audit_trail.write(db, id, AuditAction.RESTORE, audit.RESTORE)
                self.search_index.add(db, id, row)
                return self._model(db, row)

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
        ``BULK_CHUNK`` rows (``staging.py``), from the worker thread: keep it
        quick (update a counter or a progress bar). Rows count as written when
        the whole load commits.
        """
        validated = self._validated_many(items)
        if not validated:
            return [] if returning else 0
        # The collector stays paused for the whole load, not only for validation:
        # the columns, word texts and Arrow tables it builds are hundreds of
        # thousands of objects that all live until it ends, and collections over
        # them found nothing to free yet took 7-14% of a 100,000-row load.
        with gc_paused():
            columns = self.binding.columns(validated)
        total = len(validated)

        def work(db: StatementRunner) -> builtins.list[ModelT] | int:
            with gc_paused():
                with db.atomic():
                    rows = self.staging.insert(db, columns, returning=returning, progress=progress)
                if not returning:
                    return total
                return self._models(db, rows)

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
                for id, _, expected in plans:
                    self._checked_current(id, current.get(id), expected, "; nothing was updated")
                return self.staging.update(db, plans, current)

        return await self.session.run_in_worker(work, entity=self.entity)

    # -- protected API for subclasses ---------------------------------------------
    # Helpers an entity's own methods use inside (or as) their one worker trip.

    def _models(self, db: StatementRunner, rows: Sequence[Row]) -> builtins.list[ModelT]:
        """The read models of rows, with what they hold from other tables (a
        conversation's messages, read by one more statement for all of them)."""
        return load_models(db, self.model, self.statements, rows)

    def _model(self, db: StatementRunner, row: Row) -> ModelT:
        return self._models(db, [row])[0]

    def _write_children(self, db: StatementRunner, row: Row, item: CreateSchema) -> None:
        """Write the rows of other tables a new item brings (a conversation's
        first messages) and put them into ``row`` for its model. Nothing by default."""

    def _delete_children(self, db: StatementRunner, id: int) -> None:
        """Remove the rows of other tables that a hard delete of ``id`` takes with
        it, before the row itself. Nothing by default."""

    async def _select(self, query: sql.Statement, **params: Any) -> builtins.list[ModelT]:
        """The rows of a fixed named query, as models."""

        def work(db: StatementRunner) -> builtins.list[ModelT]:
            return self._models(db, db.rows(query, **params))

        return await self.session.run_in_worker(work, entity=self.entity)

    def _model_not_restored(self, db: StatementRunner, id: int) -> ModelT:
        """What ``restore`` gives when its restore statement changed no row: the
        row if it is already live, else ``NotFoundError`` saying why."""
        existing = db.one(self.statements.get_including_deleted, id=id)
        if existing is None:
            raise NotFoundError(self.entity.value, id, "there is nothing to restore")
        if existing["deleted_at"] is None:
            return self._model(db, existing)
        raise NotFoundError(
            EntityKind.PROJECT.value,
            existing["project_id"],
            f"restore the project before its {self.entity.value} {id}",
        )

    # -- update rules --------------------------------------------------------------

    def _apply_update(
        self,
        db: StatementRunner,
        id: int,
        changes: dict[str, Any],
        expected_version: int | None,
    ) -> ModelT:
        """Read the live row, check its version, write the merged row, audit."""
        current = self._checked_current(id, db.one(self.statements.get, id=id), expected_version)
        if not changes:
            return self._model(db, current)
        binding = self.binding
        params = {
            column: binding.value(column, changes[column]) if column in changes else current[column]
            for column in self.update_columns
        }
        changed = self.audit_trail.of_update(current, changes)
        recorded = self.statements.recorded
        reindex = self.search_index.watches(changes)
        statement = self.statements.update
        extra: dict[str, Any] = {}
        if recorded:
            # update_<entity> writes the audit entry too; update_<entity>_reindexed
            # also replaces the search terms, only when searched text changes.
            extra = {"changes": changed}
            if reindex and self.statements.update_reindexed is not None:
                statement = self.statements.update_reindexed
                extra |= self.search_index.params({**current, **params})
        row = db.one(statement, id=id, version=current["version"], **params, **extra)
        if row is None:
            raise ConflictError(self.entity.value, id, "a concurrent transaction changed it first")
        if not recorded:
            if reindex:
                self.search_index.remove(db, id)
                self.search_index.add(db, id, row)
            self.audit_trail.write(db, id, AuditAction.UPDATE, changed)
        return self._model(db, row)

    def _get(self, include_deleted: bool) -> sql.Statement:
        return self.statements.get_including_deleted if include_deleted else self.statements.get

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

    def _missing_parent(self, params: Mapping[str, Any]) -> NotFoundError:
        return NotFoundError(
            EntityKind.PROJECT.value,
            params["project_id"],
            f"a {self.entity.value} needs a live project; create the project or restore it first",
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
    ) -> builtins.list[UpdatePlan]:
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

"""Projects, and the cascades that keep their children in step."""

from __future__ import annotations

from typing import ClassVar

import pyarrow as pa

from ..core import statements as sql
from ..core.runner import StatementRunner
from ..queries.filters import check_count
from ..queries.loading import load_models
from ..schemas.analytics import ProjectMetrics
from ..schemas.common import AuditAction, EntityKind
from ..schemas.conversation import Conversation
from ..schemas.document import Document
from ..schemas.project import Project, ProjectCreate, ProjectDetail, ProjectStatus, ProjectUpdate
from ..schemas.repository import Repository
from ..search import query_terms
from . import audit
from .analytics import AnalyticsRepository, DateRange
from .base import BaseRepository
from .conversation import ConversationRepository
from .document import DocumentRepository
from .repository import RepositoryRepository
from .values import choice, json_value

__all__ = ["ProjectRepository"]


# A project's children, in the order cascades visit them: each gives its
# statements, audit trail and search index.
_CHILDREN = (ConversationRepository, DocumentRepository, RepositoryRepository)


class ProjectRepository(BaseRepository[Project]):
    """Projects. Deleting or restoring one does the same to its children."""

    entity = EntityKind.PROJECT
    table = "projects"
    model = Project
    create_schema = ProjectCreate
    update_schema = ProjectUpdate
    statements = sql.PROJECT
    json_columns: ClassVar[frozenset[str]] = frozenset({"architecture"})
    search_fields = ("name", "description", "project_idea")
    arrow_schema = pa.schema(
        [
            ("id", pa.int64()),
            ("name", pa.string()),
            ("description", pa.string()),
            ("project_idea", pa.string()),
            ("architecture", pa.string()),
            ("status", pa.string()),
        ]
    )

    async def get_by_status(self, status: ProjectStatus | str) -> list[Project]:
        """Live projects in ``status``, oldest first."""
        return await self._select(
            sql.PROJECTS_BY_STATUS, status=choice(ProjectStatus, status, "status")
        )

    async def search_by_name(self, query: str, *, limit: int = 20) -> list[Project]:
        """Live projects matching the words of ``query``, best first: rows
        matching more of the words rank higher, then a BM25-style weight in
        which the name counts three times as much as description and idea.
        Case-insensitive, English-stemmed, stop words ignored; blank text or
        stop words only give []. Sees every committed change at once."""
        terms = query_terms(query)
        check_count("limit", limit)
        if not terms or limit == 0:
            return []

        def work(db: StatementRunner) -> list[Project]:
            ranking = db.rows(sql.RANK_PROJECTS, terms=terms, limit=limit)
            return [project for project, _ in self.search_index.ranked(db, ranking)]

        return await self.session.run_in_worker(work, entity=self.entity)

    async def analytics_summary(self, date_range: DateRange | None = None) -> ProjectMetrics:
        """The same ``ProjectMetrics`` as ``AnalyticsRepository.project_metrics``."""
        return await AnalyticsRepository(self.session).project_metrics(date_range)

    async def get_with_conversations(self, id: int) -> ProjectDetail | None:
        """The live project with its live conversations, documents and
        repositories, read in one trip; None if there is no live project."""

        def work(db: StatementRunner) -> ProjectDetail | None:
            row = db.one(sql.PROJECT.get, id=id)
            if row is None:
                return None
            project = Project.from_row(row)
            return ProjectDetail(
                **dict(project),
                conversations=load_models(
                    db,
                    Conversation,
                    sql.CONVERSATION,
                    db.rows(sql.CONVERSATION.of_project, project_id=id),
                ),
                documents=[
                    Document.from_row(r) for r in db.rows(sql.DOCUMENT.of_project, project_id=id)
                ],
                repositories=[
                    Repository.from_row(r)
                    for r in db.rows(sql.REPOSITORY.of_project, project_id=id)
                ],
            )

        return await self.session.run_in_worker(work, entity=self.entity, entity_id=id)

    async def delete(self, id: int, *, hard: bool = False) -> bool:
        """Soft delete the project and its live children in one transaction (they
        share one ``deleted_at``, which is how ``restore`` finds them).

        ``hard=True`` removes the project (live or soft-deleted) and all its
        children, live or not, for good, in one transaction.
        """

        def work(db: StatementRunner) -> bool:
            with db.atomic():
                return self._hard_delete(db, id) if hard else self._soft_delete(db, id)

        return await self.session.run_in_worker(work, entity=self.entity, entity_id=id)

    async def restore(self, id: int) -> Project:
        """Undo a soft delete, bringing back the children deleted with the project
        (not those deleted on their own before it)."""

        def work(db: StatementRunner) -> Project:
            with db.atomic():
                deleted = db.one(sql.PROJECT.get_including_deleted, id=id)
                row = db.one(sql.PROJECT.restore, id=id)
                if deleted is None or row is None:
                    return self._model_not_restored(db, id)
                self.audit_trail.write(db, id, AuditAction.RESTORE, audit.RESTORE)
                self.search_index.add(db, id, row)
                for child in _CHILDREN:
                    # In id order: RETURNING gives no order, and the audit ids follow it.
                    rows = sorted(
                        db.rows(
                            child.statements.restore_of_project,
                            project_id=id,
                            deleted_at=deleted["deleted_at"],
                        ),
                        key=lambda row: int(row["id"]),
                    )
                    child.audit_trail.write_many(
                        db,
                        [r["id"] for r in rows],
                        AuditAction.RESTORE,
                        {"cascade_from_project": id},
                    )
                    for restored in rows:
                        child.search_index.add(db, restored["id"], restored)
            return Project.from_row(row)

        return await self.session.run_in_worker(work, entity=self.entity, entity_id=id)

    # -- cascades ----------------------------------------------------------------

    def _soft_delete(self, db: StatementRunner, id: int) -> bool:
        gone = db.one(sql.PROJECT.soft_delete, id=id)
        if gone is None:
            return False
        deleted_at = gone["deleted_at"]
        self.audit_trail.write(db, id, AuditAction.DELETE, audit.soft_delete(deleted_at))
        self.search_index.remove(db, id)
        cascade = {"deleted_at": json_value(deleted_at), "cascade_from_project": id}
        for child in _CHILDREN:
            ids = sorted(  # id order: RETURNING gives none, and the audit ids follow it
                r["id"]
                for r in db.rows(
                    child.statements.soft_delete_of_project, project_id=id, deleted_at=deleted_at
                )
            )
            child.audit_trail.write_many(db, ids, AuditAction.DELETE, cascade)
            child.search_index.remove_many(db, ids)
        return True

    def _hard_delete(self, db: StatementRunner, id: int) -> bool:
        gone = db.one(sql.PROJECT.hard_delete, id=id)
        if gone is None:
            return False
        self.search_index.remove(db, id)
        db.run(sql.DELETE_SEARCH_TERMS_OF_PROJECT_DOCUMENTS, project_id=id)
        self.audit_trail.write(db, id, AuditAction.DELETE, audit.HARD_DELETE)
        cascade = {"hard": True, "cascade_from_project": id}
        db.run(sql.DELETE_MESSAGES_OF_PROJECT, project_id=id)
        for child in _CHILDREN:
            ids = sorted(
                r["id"] for r in db.rows(child.statements.hard_delete_of_project, project_id=id)
            )
            child.audit_trail.write_many(db, ids, AuditAction.DELETE, cascade)
        return True

"""Documents of projects."""

from __future__ import annotations

from typing import ClassVar

import pyarrow as pa

from ..core.runner import StatementRunner
from ..errors import NotFoundError
from ..schemas.common import EntityKind
from ..schemas.document import Document, DocumentCreate, DocumentType, DocumentUpdate
from .base import BaseRepository

__all__ = ["DocumentRepository"]


class DocumentRepository(BaseRepository[Document]):
    """Documents of projects; ``record_access`` counts reads."""

    entity = EntityKind.DOCUMENT
    table = "documents"
    model = Document
    create_schema = DocumentCreate
    update_schema = DocumentUpdate
    insert_columns = ("project_id", "title", "doc_type", "content", "metadata")
    update_columns = ("title", "doc_type", "content", "metadata")
    json_columns: ClassVar[frozenset[str]] = frozenset({"metadata"})
    arrow_schema = pa.schema(
        [
            ("id", pa.int64()),
            ("project_id", pa.int64()),
            ("title", pa.string()),
            ("doc_type", pa.string()),
            ("content", pa.string()),
            ("metadata", pa.string()),
        ]
    )

    async def get_by_project(self, project_id: int) -> list[Document]:
        """The live documents of a project, oldest first."""
        return await self._select("documents_of_project", project_id=project_id)

    async def get_by_type(self, doc_type: DocumentType | str) -> list[Document]:
        """Live documents of one type, oldest first."""
        return await self._select(
            "documents_of_type", doc_type=self._choice(DocumentType, doc_type, "doc_type")
        )

    async def record_access(self, id: int) -> Document:
        """Count one read: ``access_count`` + 1 and ``last_accessed_at`` = now.
        Not a content change, so no version bump and no audit entry. Concurrent
        calls all count."""

        def bump(db: StatementRunner) -> Document:
            row = db.one("record_document_access", id=id)
            if row is None:
                raise NotFoundError(self.entity.value, id, "it does not exist or is deleted")
            return Document.from_row(row)

        return await self.session.run_in_worker(
            lambda db: db.retrying_conflicts(bump), entity=self.entity, entity_id=id
        )

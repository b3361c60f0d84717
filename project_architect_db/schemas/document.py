"""Documents: requirements, ADRs, API notes and guides of a project."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, ClassVar

from pydantic import Field

from .common import (
    CreateSchema,
    EntityModel,
    JsonObject,
    RowId,
    StorableText,
    StoredJson,
    Text,
    UpdateSchema,
)

__all__ = ["Document", "DocumentCreate", "DocumentType", "DocumentUpdate"]


class DocumentType(StrEnum):
    REQUIREMENTS = "requirements"
    ARCHITECTURE = "architecture"
    ADR = "adr"
    API = "api"
    GUIDE = "guide"
    OTHER = "other"


Title = Annotated[str, Field(min_length=1, max_length=255), StorableText]


class DocumentCreate(CreateSchema):
    project_id: RowId
    title: Title
    doc_type: DocumentType
    content: Text = ""
    metadata: JsonObject | None = None


class DocumentUpdate(UpdateSchema):
    required_fields: ClassVar[frozenset[str]] = frozenset({"title", "doc_type", "content"})

    title: Title | None = None
    doc_type: DocumentType | None = None
    content: Text | None = None
    metadata: JsonObject | None = None


class Document(EntityModel):
    """A stored document. ``access_count`` and ``last_accessed_at`` change only
    through ``record_access``."""

    table_name: ClassVar[str] = "documents"

    json_fields: ClassVar[frozenset[str]] = frozenset({"metadata"})

    project_id: int
    title: str
    doc_type: DocumentType
    content: str
    metadata: StoredJson | None = None
    access_count: int = 0
    last_accessed_at: datetime | None = None

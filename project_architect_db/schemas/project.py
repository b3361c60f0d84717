"""Projects: the software projects everything else belongs to."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, ClassVar

from pydantic import Field

from .common import CreateSchema, EntityModel, JsonObject, StorableText, StoredJson, UpdateSchema
from .conversation import Conversation
from .document import Document
from .repository import Repository

__all__ = ["Project", "ProjectCreate", "ProjectDetail", "ProjectStatus", "ProjectUpdate"]


class ProjectStatus(StrEnum):
    DRAFT = "draft"
    ACTIVE = "active"
    COMPLETED = "completed"
    ARCHIVED = "archived"


# Limits before StorableText, so pydantic checks them as text ("characters").
Name = Annotated[str, Field(min_length=1, max_length=255), StorableText]
Description = Annotated[str, Field(max_length=5000), StorableText]
Idea = Annotated[str, Field(min_length=10, max_length=10000), StorableText]


class ProjectCreate(CreateSchema):
    name: Name
    description: Description | None = None
    project_idea: Idea
    architecture: JsonObject | None = None
    status: ProjectStatus = ProjectStatus.DRAFT


class ProjectUpdate(UpdateSchema):
    required_fields: ClassVar[frozenset[str]] = frozenset({"name", "project_idea", "status"})

    name: Name | None = None
    description: Description | None = None
    project_idea: Idea | None = None
    architecture: JsonObject | None = None
    status: ProjectStatus | None = None


class Project(EntityModel):
    """A project as stored. ``completed_at`` is set by the library when the
    status becomes ``completed`` and cleared when it leaves it."""

    table_name: ClassVar[str] = "projects"

    json_fields: ClassVar[frozenset[str]] = frozenset({"architecture"})

    name: str
    description: str | None = None
    project_idea: str
    architecture: StoredJson | None = None
    status: ProjectStatus
    completed_at: datetime | None = None


class ProjectDetail(Project):
    """A project with its live conversations, documents and repositories."""

    conversations: list[Conversation] = Field(default_factory=list)
    documents: list[Document] = Field(default_factory=list)
    repositories: list[Repository] = Field(default_factory=list)

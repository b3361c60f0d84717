"""Pydantic models: what goes in (Create/Update) and what comes out (read models)."""

from .common import AuditAction, AuditEntry, EntityKind, EntityModel
from .conversation import (
    Conversation,
    ConversationCreate,
    ConversationPhase,
    ConversationUpdate,
    Message,
    MessageCreate,
    MessageRole,
)
from .document import Document, DocumentCreate, DocumentType, DocumentUpdate
from .project import Project, ProjectCreate, ProjectDetail, ProjectStatus, ProjectUpdate
from .repository import Repository, RepositoryCreate, RepositoryProvider, RepositoryUpdate
from .results import Page, SearchHit

__all__ = [
    "AuditAction",
    "AuditEntry",
    "Conversation",
    "ConversationCreate",
    "ConversationPhase",
    "ConversationUpdate",
    "Document",
    "DocumentCreate",
    "DocumentType",
    "DocumentUpdate",
    "EntityKind",
    "EntityModel",
    "Message",
    "MessageCreate",
    "MessageRole",
    "Page",
    "Project",
    "ProjectCreate",
    "ProjectDetail",
    "ProjectStatus",
    "ProjectUpdate",
    "Repository",
    "RepositoryCreate",
    "RepositoryProvider",
    "RepositoryUpdate",
    "SearchHit",
]

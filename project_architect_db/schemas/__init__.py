"""Pydantic models: what goes in (Create/Update) and what comes out (read models)."""

from .analytics import (
    ConversationFlowMetrics,
    CrossEntityMetrics,
    DocumentAccess,
    DocumentUsageStats,
    PhaseTransition,
    ProjectActivity,
    ProjectMetrics,
    RepositoryHealth,
    RepositoryHealthMetrics,
    TimeSeriesData,
    TimeSeriesPoint,
)
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
    "ConversationFlowMetrics",
    "ConversationPhase",
    "ConversationUpdate",
    "CrossEntityMetrics",
    "Document",
    "DocumentAccess",
    "DocumentCreate",
    "DocumentType",
    "DocumentUpdate",
    "DocumentUsageStats",
    "EntityKind",
    "EntityModel",
    "Message",
    "MessageCreate",
    "MessageRole",
    "Page",
    "PhaseTransition",
    "Project",
    "ProjectActivity",
    "ProjectCreate",
    "ProjectDetail",
    "ProjectMetrics",
    "ProjectStatus",
    "ProjectUpdate",
    "Repository",
    "RepositoryCreate",
    "RepositoryHealth",
    "RepositoryHealthMetrics",
    "RepositoryProvider",
    "RepositoryUpdate",
    "SearchHit",
    "TimeSeriesData",
    "TimeSeriesPoint",
]

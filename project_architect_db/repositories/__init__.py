"""Repositories: thin classes mapping the named queries of ``sql/`` to models."""

from .analytics import AnalyticsRepository
from .base import BaseRepository
from .conversation import ConversationRepository
from .document import DocumentRepository
from .project import ProjectRepository
from .repository import RepositoryRepository

__all__ = [
    "AnalyticsRepository",
    "BaseRepository",
    "ConversationRepository",
    "DocumentRepository",
    "ProjectRepository",
    "RepositoryRepository",
]

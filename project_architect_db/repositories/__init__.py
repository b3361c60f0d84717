"""Repositories: thin classes mapping the named queries of ``sql/`` to models."""

from .base import BaseRepository
from .conversation import ConversationRepository
from .document import DocumentRepository
from .project import ProjectRepository
from .repository import RepositoryRepository

__all__ = [
    "BaseRepository",
    "ConversationRepository",
    "DocumentRepository",
    "ProjectRepository",
    "RepositoryRepository",
]

"""project_architect_db: an async, raw-SQL data-access layer on embedded DuckDB.

The public API is exactly what this module exports.
"""

from .core.engine import DatabaseEngine
from .core.session import Session, SessionManager
from .core.stats import EngineStats, QueryStats
from .errors import (
    ConflictError,
    DatabaseError,
    IntegrityError,
    InvalidQueryError,
    NotFoundError,
    PoolClosedError,
    PoolTimeoutError,
    ProjectArchitectDBError,
)
from .queries.builder import QueryBuilder
from .repositories import (
    BaseRepository,
    ConversationRepository,
    DocumentRepository,
    ProjectRepository,
    RepositoryRepository,
)
from .schemas import (
    AuditEntry,
    Conversation,
    ConversationCreate,
    ConversationPhase,
    ConversationUpdate,
    Document,
    DocumentCreate,
    DocumentType,
    DocumentUpdate,
    Message,
    MessageCreate,
    MessageRole,
    Page,
    Project,
    ProjectCreate,
    ProjectDetail,
    ProjectStatus,
    ProjectUpdate,
    Repository,
    RepositoryCreate,
    RepositoryProvider,
    RepositoryUpdate,
    SearchHit,
)

__version__ = "0.1.0"

__all__ = [
    "AuditEntry",
    "BaseRepository",
    "ConflictError",
    "Conversation",
    "ConversationCreate",
    "ConversationPhase",
    "ConversationRepository",
    "ConversationUpdate",
    "DatabaseEngine",
    "DatabaseError",
    "Document",
    "DocumentCreate",
    "DocumentRepository",
    "DocumentType",
    "DocumentUpdate",
    "EngineStats",
    "IntegrityError",
    "InvalidQueryError",
    "Message",
    "MessageCreate",
    "MessageRole",
    "NotFoundError",
    "Page",
    "PoolClosedError",
    "PoolTimeoutError",
    "Project",
    "ProjectArchitectDBError",
    "ProjectCreate",
    "ProjectDetail",
    "ProjectRepository",
    "ProjectStatus",
    "ProjectUpdate",
    "QueryBuilder",
    "QueryStats",
    "Repository",
    "RepositoryCreate",
    "RepositoryProvider",
    "RepositoryRepository",
    "RepositoryUpdate",
    "SearchHit",
    "Session",
    "SessionManager",
    "__version__",
]

"""Engine options, validated once where the engine is built."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal, TypedDict
from urllib.parse import urlsplit, urlunsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

__all__ = [
    "MEMORY",
    "EngineConfig",
    "EngineOptions",
    "check_statement_timeout",
    "is_postgres_url",
    "parse_database_url",
    "redact_url",
]

MEMORY = ":memory:"
_SCHEME = "duckdb://"
_POSTGRES_SCHEMES = ("postgresql://", "postgres://")


def is_postgres_url(text: str) -> bool:
    return text.startswith(_POSTGRES_SCHEMES)


def redact_url(url: str) -> str:
    """``url`` with its password (if any) replaced by ``***``: how messages and
    logs name a PostgreSQL server."""
    if not is_postgres_url(url):
        return url
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, f"{user}:***@{host}", parts.path, parts.query, parts.fragment))


def _check_postgres_url(text: str) -> str:
    """A ``postgresql://user:password@host:port/dbname`` URL, checked for what
    libpq would refuse later with a less helpful message."""
    shown = redact_url(text) if "@" in text else text
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        raise ValueError(
            f"database_url {shown!r} is not a valid PostgreSQL URL ({exc}); write "
            "'postgresql://user:password@host:5432/dbname'"
        ) from None
    database = parts.path.lstrip("/")
    if not database or "/" in database:
        raise ValueError(
            f"database_url {shown!r} names no database; write "
            "'postgresql://user:password@host:5432/dbname'"
        )
    if port == 0:
        raise ValueError(
            f"database_url {shown!r} has port 0; PostgreSQL listens on 5432 by default"
        )
    if text.startswith("postgres://"):
        text = "postgresql://" + text[len("postgres://") :]
    return text


def parse_database_url(url: str | Path) -> str:
    """Turn a database URL or a filesystem path into what the engine opens.

    ``duckdb:///:memory:`` gives ``:memory:``; ``duckdb:///relative.duckdb`` a path
    relative to the working directory; ``duckdb:////abs/file.duckdb`` an absolute
    path; ``postgresql://user:password@host:port/dbname`` (or ``postgres://``)
    a PostgreSQL server, kept as a URL. Anything else without a scheme is
    taken as a path.
    """
    text = str(url).strip()
    if not text:
        raise ValueError("database_url is empty; use 'duckdb:///:memory:' or a file path")
    if is_postgres_url(text):
        return _check_postgres_url(text)
    if text.startswith(_SCHEME):
        rest = text[len(_SCHEME) :]
        if not rest.startswith("/"):
            raise ValueError(
                f"database_url {text!r} has a host part; write 'duckdb:///relative/path.duckdb' "
                "or 'duckdb:////absolute/path.duckdb'"
            )
        rest = rest[1:]
        if "?" in rest:
            raise ValueError(
                f"database_url {text!r} has query options; pass them as DatabaseEngine arguments"
            )
        if not rest:
            raise ValueError(f"database_url {text!r} names no database; use 'duckdb:///:memory:'")
        text = rest
    elif "://" in text:
        raise ValueError(
            f"database_url {redact_url(text)!r} is not a duckdb://, postgresql:// URL or a path"
        )
    if text == MEMORY:
        return MEMORY
    return str(Path(text).expanduser())


def check_statement_timeout(value: float | None) -> float | None:
    """The rule for ``statement_timeout``, engine-wide (``EngineConfig``) or per
    session (``engine.session(statement_timeout=...)``): positive seconds or None."""
    if value is not None and not value > 0:  # NaN too
        raise ValueError(f"statement_timeout must be positive seconds or None, not {value!r}")
    return value


class EngineConfig(BaseModel):
    """Every option of ``DatabaseEngine``, with its default, checked once.

    Pool options follow SQLAlchemy's names.
    """

    # hide_input_in_errors: a PostgreSQL URL may hold a password.
    model_config = ConfigDict(
        frozen=True, extra="forbid", use_attribute_docstrings=True, hide_input_in_errors=True
    )

    database: str
    """What the engine opens: a DuckDB file path or ``:memory:``, or a
    ``postgresql://`` URL."""
    pool_size: int = Field(default=5, ge=1)
    """Connections kept open when idle."""
    max_overflow: int = Field(default=10, ge=0)
    """Connections opened beyond ``pool_size`` under load, closed when returned:
    at most ``pool_size + max_overflow`` at once."""
    pool_timeout: float = Field(default=30.0, gt=0)
    """Seconds an acquire waits for a free connection before ``PoolTimeoutError``."""
    pool_recycle: float | None = Field(default=3600.0)
    """Connections older than this many seconds are replaced on checkout (None: never)."""
    pool_pre_ping: bool = True
    """Replace a connection found closed at its first statement and run the work again."""
    threads: int | None = Field(default=None, ge=1)
    """DuckDB's ``threads`` (None: DuckDB's default). DuckDB only."""
    memory_limit: str | None = None
    """DuckDB's ``memory_limit``, e.g. ``"2GB"`` (None: DuckDB's default). DuckDB only."""
    temp_directory: str | None = None
    """DuckDB's ``temp_directory`` for spilling (None: DuckDB's default). DuckDB only."""
    read_only: bool = False
    """Open the file read-only (several processes may then read it); on
    PostgreSQL, every transaction is read-only."""
    migrate: bool = True
    """Apply pending migrations when the engine connects."""
    statement_timeout: Annotated[float | None, AfterValidator(check_statement_timeout)] = None
    """Seconds the database work of one library call may take before it is
    interrupted, rolled back and raises ``StatementTimeoutError`` (None: no limit).
    ``engine.session()`` and ``engine.transaction()`` can override it."""
    coalesce_reads: bool = True
    """Serve concurrent ``get_by_id`` calls of auto-commit sessions that arrive
    while one runs with one statement for all of their ids (docs/design.md,
    "Throughput under load"). False: one statement per call."""
    group_commit: bool = True
    """Commit concurrent auto-commit ``create``, ``update`` and ``append_message``
    calls that arrive while another write runs in one transaction, each keeping
    its own result and error. False: one commit per call."""
    slow_query_threshold: float | None = Field(default=1.0, gt=0)
    """Log a WARNING (logger ``project_architect_db.query``) for every statement
    that takes at least this many seconds, naming the query, its duration and its
    row count (None: never)."""
    log_parameters: bool = False
    """Add the parameter values to the query log lines (slow statements, DEBUG).
    Off by default: they hold user data."""

    @model_validator(mode="after")
    def _check(self) -> EngineConfig:
        if self.backend == "postgresql":
            duckdb_only = [
                name
                for name in ("threads", "memory_limit", "temp_directory")
                if getattr(self, name) is not None
            ]
            if duckdb_only:
                raise ValueError(
                    f"{', '.join(duckdb_only)}: DuckDB-only option(s), not used by a PostgreSQL "
                    "engine; leave them out (the server's own settings apply)"
                )
        if self.read_only and self.database == MEMORY:
            raise ValueError("read_only=True needs a database file; ':memory:' is always empty")
        if self.pool_recycle is not None and self.pool_recycle <= 0:
            raise ValueError("pool_recycle must be positive seconds, or None to never recycle")
        return self

    @property
    def max_connections(self) -> int:
        return self.pool_size + self.max_overflow

    @property
    def is_memory(self) -> bool:
        return self.database == MEMORY

    @property
    def backend(self) -> Literal["duckdb", "postgresql"]:
        return "postgresql" if is_postgres_url(self.database) else "duckdb"

    @property
    def label(self) -> str:
        """How messages and logs name the database (a URL without its password)."""
        return redact_url(self.database)

    def duckdb_config(self) -> dict[str, Any]:
        """The options handed to ``duckdb.connect(config=...)``."""
        config: dict[str, Any] = {}
        if self.threads is not None:
            config["threads"] = self.threads
        if self.memory_limit is not None:
            config["memory_limit"] = self.memory_limit
        if self.temp_directory is not None:
            config["temp_directory"] = self.temp_directory
        return config


class EngineOptions(TypedDict, total=False):
    """The keyword options of ``DatabaseEngine(database_url, **options)``: the
    fields of :class:`EngineConfig` but ``database``, where their meanings and
    defaults live (a test holds the two together)."""

    pool_size: int
    max_overflow: int
    pool_timeout: float
    pool_recycle: float | None
    pool_pre_ping: bool
    threads: int | None
    memory_limit: str | None
    temp_directory: str | None
    read_only: bool
    migrate: bool
    statement_timeout: float | None
    coalesce_reads: bool
    group_commit: bool
    slow_query_threshold: float | None
    log_parameters: bool

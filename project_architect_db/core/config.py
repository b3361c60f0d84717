"""Engine options, validated once where the engine is built."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

MEMORY = ":memory:"
_SCHEME = "duckdb://"


def parse_database_url(url: str | Path) -> str:
    """Turn a database URL or a filesystem path into what ``duckdb.connect`` takes.

    ``duckdb:///:memory:`` gives ``:memory:``; ``duckdb:///relative.duckdb`` a path
    relative to the working directory; ``duckdb:////abs/file.duckdb`` an absolute
    path. Anything without the ``duckdb://`` scheme is taken as a path.
    """
    text = str(url).strip()
    if not text:
        raise ValueError("database_url is empty; use 'duckdb:///:memory:' or a file path")
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
        raise ValueError(f"database_url {text!r} is not a duckdb:// URL or a path")
    if text == MEMORY:
        return MEMORY
    return str(Path(text).expanduser())


class EngineConfig(BaseModel):
    """Everything ``DatabaseEngine`` was asked for, checked once."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    database: str
    pool_size: int = Field(default=5, ge=1)
    max_overflow: int = Field(default=10, ge=0)
    pool_timeout: float = Field(default=30.0, gt=0)
    pool_recycle: float | None = Field(default=3600.0)
    pool_pre_ping: bool = True
    threads: int | None = Field(default=None, ge=1)
    memory_limit: str | None = None
    temp_directory: str | None = None
    read_only: bool = False
    migrate: bool = True
    statement_timeout: float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _check(self) -> EngineConfig:
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

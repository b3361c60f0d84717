"""PostgreSQL's :class:`~project_architect_db.core.driver.Driver`."""

from __future__ import annotations

from functools import partial
from typing import Any

import psycopg

from ..core.driver import Driver
from ..errors import ProjectArchitectDBError
from .catalog import postgres_catalog, postgres_query
from .errors import from_postgres, is_connection_lost, is_serialization_failure

__all__ = ["postgres_driver"]


def _translate(database: str, exc: Exception, **context: Any) -> ProjectArchitectDBError:
    return from_postgres(exc, database=database, **context)


def postgres_driver(database: str) -> Driver:
    """The driver of an engine on ``database`` (its URL without the password,
    which the error messages name)."""
    return Driver(
        name="postgresql",
        error=psycopg.Error,
        interrupted=(psycopg.errors.QueryCanceled,),
        translate=partial(_translate, database),
        is_write_conflict=is_serialization_failure,
        is_connection_lost=is_connection_lost,
        query=postgres_query,
        migrations=lambda: postgres_catalog().migrations,
    )

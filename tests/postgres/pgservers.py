"""Small helpers of the PostgreSQL tests (conftest.py holds the fixtures)."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit


def database_url(server: str, name: str) -> str:
    """The URL of database ``name`` on the server of ``server``."""
    parts = urlsplit(server)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, ""))

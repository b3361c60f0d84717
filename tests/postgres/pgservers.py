"""Small helpers of the PostgreSQL tests (conftest.py holds the fixtures)."""

from __future__ import annotations

import socket
from urllib.parse import urlsplit, urlunsplit


def database_url(server: str, name: str) -> str:
    """The URL of database ``name`` on the server of ``server``."""
    parts = urlsplit(server)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, ""))


def free_port() -> int:
    """A local TCP port nothing listens on (the kernel's pick, released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])

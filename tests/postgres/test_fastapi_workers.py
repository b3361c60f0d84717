"""The example app (examples/fastapi_app) served by two uvicorn worker
processes on one PostgreSQL database: what a DuckDB file cannot do (README,
"Scaling out")."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import anyio
import httpx
import psycopg
import pytest
from pgservers import free_port

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


class Server:
    """``uvicorn fastapi_app.app:create_app --workers 2`` on a free port."""

    def __init__(self, database_url: str) -> None:
        port = free_port()
        self.base_url = f"http://127.0.0.1:{port}"
        self.process = subprocess.Popen(
            [
                *(sys.executable, "-m", "uvicorn", "fastapi_app.app:create_app", "--factory"),
                *("--workers", "2", "--port", str(port)),
            ],
            cwd=EXAMPLES,
            env={**os.environ, "APP_DATABASE_URL": database_url},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )

    def stop(self) -> str:
        """Stop it; everything it printed."""
        if self.process.poll() is None:
            self.process.terminate()
        output, _ = self.process.communicate(timeout=30)
        return output


@pytest.fixture
def server(pg_url: str) -> Iterator[Server]:
    started = Server(pg_url)
    try:
        yield started
    finally:
        started.stop()


async def test_the_example_app_serves_from_two_worker_processes(
    server: Server, pg_url: str
) -> None:
    # uvicorn serves on asyncio in its own processes; this client runs on asyncio and trio.
    async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as client:
        deadline = time.monotonic() + 60
        while True:
            try:
                if (await client.get("/projects")).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the app did not start"
            await anyio.sleep(0.2)
        created = []
        for n in range(40):
            response = await client.post(
                "/projects",
                json={"name": f"served {n}", "project_idea": "written through two processes"},
                headers={"Connection": "close"},  # a new connection: either worker may take it
            )
            assert response.status_code == 201, response.text
            created.append(response.json()["id"])
        listing = await client.get("/projects", params={"limit": 100})
        assert listing.status_code == 200
        assert listing.json()["total"] == 40
        assert sorted(item["id"] for item in listing.json()["items"]) == sorted(created)
    output = await anyio.to_thread.run_sync(server.stop)
    workers = set(re.findall(r"Started server process \[(\d+)\]", output))
    assert len(workers) == 2, output
    assert "locked" not in output
    with psycopg.connect(pg_url) as connection:
        assert connection.execute("SELECT count(*) FROM projects").fetchone() == (40,)
        audited = connection.execute(
            "SELECT count(*) FROM audit_log WHERE action = 'create'"
        ).fetchone()
        assert audited == (40,)

"""Data builders shared by the tests."""

from __future__ import annotations

from typing import Any


def project_data(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": "Atlas",
        "project_idea": "Map every service we run",
        "architecture": {"framework": "FastAPI", "complexity_score": 7},
    }
    return {**data, **overrides}


def conversation_data(project_id: int, **overrides: Any) -> dict[str, Any]:
    return {"project_id": project_id, "title": "Kickoff", **overrides}


def document_data(project_id: int, **overrides: Any) -> dict[str, Any]:
    return {
        "project_id": project_id,
        "title": "Requirements",
        "doc_type": "requirements",
        "content": "The system shall map services.",
        **overrides,
    }


def repository_data(project_id: int, **overrides: Any) -> dict[str, Any]:
    return {
        "project_id": project_id,
        "name": "atlas-api",
        "url": "https://github.com/example/atlas-api",
        "provider": "github",
        **overrides,
    }

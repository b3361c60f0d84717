"""A short tour: create a database file, write a few projects with their
conversations, documents and repositories, and print what was stored."""

from __future__ import annotations

from pathlib import Path

from .core.engine import DatabaseEngine
from .repositories import (
    ConversationRepository,
    DocumentRepository,
    ProjectRepository,
    RepositoryRepository,
)

_PROJECTS = [
    {
        "name": "Checkout service",
        "description": "Payments and order capture for the web shop",
        "project_idea": "Split checkout out of the monolith into its own service",
        "architecture": {"framework": "FastAPI", "database": "DuckDB", "complexity_score": 7},
        "status": "active",
    },
    {
        "name": "Docs portal",
        "project_idea": "One searchable place for every team's design documents",
        "architecture": {"framework": "Litestar", "complexity_score": 4},
    },
    {
        "name": "Release bot",
        "project_idea": "Automate changelogs and version bumps on every merge",
        "architecture": {"framework": "Starlette", "complexity_score": 3},
        "status": "completed",
    },
]


def fresh_database(database: str) -> Path:
    """The demo's file, emptied of an earlier run."""
    path = Path(database).resolve()
    for leftover in (path, path.with_name(path.name + ".wal")):
        leftover.unlink(missing_ok=True)
    return path


async def run_demo(path: Path) -> None:
    async with DatabaseEngine(path) as engine, engine.transaction() as session:
        projects = ProjectRepository(session)
        conversations = ConversationRepository(session)
        documents = DocumentRepository(session)
        repositories = RepositoryRepository(session)
        for data in _PROJECTS:
            project = await projects.create(data)
            talk = await conversations.create(
                {"project_id": project.id, "title": f"Kickoff: {project.name}"}
            )
            await conversations.add_message(
                talk.id, {"role": "user", "content": f"What should {project.name} do first?"}
            )
            await conversations.add_message(
                talk.id, {"role": "assistant", "content": "Write down the requirements."}
            )
            await conversations.update(talk.id, {"phase": "requirements"})
            await documents.create(
                {
                    "project_id": project.id,
                    "title": f"{project.name} requirements",
                    "doc_type": "requirements",
                    "content": data["project_idea"],
                }
            )
            slug = project.name.lower().replace(" ", "-")
            await repositories.create(
                {
                    "project_id": project.id,
                    "name": slug,
                    "url": f"https://github.com/example/{slug}",
                    "provider": "github",
                    "primary_language": "Python",
                }
            )
        for project in await projects.list(order_by="name"):
            detail = await projects.get_with_conversations(project.id)
            assert detail is not None
            framework = (detail.architecture or {}).get("framework", "?")
            print(f"#{detail.id} {detail.name} [{detail.status}] on {framework}")
            for talk in detail.conversations:
                print(
                    f"    conversation #{talk.id} {talk.title!r}: {talk.phase}, {len(talk.messages)} messages"
                )
                for message in talk.messages:
                    print(f"        {message.role}: {message.content}")
            for document in detail.documents:
                print(f"    document #{document.id} {document.title!r} ({document.doc_type})")
            for repository in detail.repositories:
                print(f"    repository #{repository.id} {repository.name} {repository.url}")
    print(f"\nWrote {len(_PROJECTS)} projects to {path}")

"""The test-data factories of ``project_architect_db.testing``: what they build is
always valid for the ``*Create`` models (200 hypothesis seeds), a seed reproduces
it, and ``create``/``create_batch`` write rows that read back as built, with a
parent project made when none is given and overrides winning over generated values.
The async tests run on asyncio and trio (the ``anyio_backend`` fixture)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from project_architect_db import (
    ConversationCreate,
    ConversationRepository,
    DocumentCreate,
    DocumentRepository,
    ProjectCreate,
    ProjectRepository,
    RepositoryCreate,
    RepositoryRepository,
    Session,
)
from project_architect_db.testing import (
    ConversationFactory,
    DocumentFactory,
    ProjectFactory,
    RepositoryFactory,
)

FACTORIES: list[tuple[Any, type[BaseModel]]] = [
    (ProjectFactory, ProjectCreate),
    (ConversationFactory, ConversationCreate),
    (DocumentFactory, DocumentCreate),
    (RepositoryFactory, RepositoryCreate),
]

#: The child factories, their repository and a field to override.
CHILDREN: list[tuple[Any, Any, str]] = [
    (ConversationFactory, ConversationRepository, "title"),
    (DocumentFactory, DocumentRepository, "title"),
    (RepositoryFactory, RepositoryRepository, "name"),
]
CHILD_IDS = ["conversation", "document", "repository"]

HOSTS = {"github": "github.com", "gitlab": "gitlab.com", "bitbucket": "bitbucket.org"}

SEEDS = st.integers(min_value=0, max_value=2**63 - 1)


# -- build: valid, realistic, reproducible ---------------------------------------


@settings(max_examples=200, deadline=None)
@given(seed=SEEDS)
def test_every_factory_builds_valid_create_models_for_any_seed(seed: int) -> None:
    for factory, model in FACTORIES:
        factory.seed_random(seed)
        built = factory.build()
        assert type(built) is model
        # Valid for the model however it travels: as Python values and as JSON.
        assert model.model_validate(built.model_dump()) == built
        assert model.model_validate_json(built.model_dump_json()) == built
        # The same seed gives the same data.
        factory.seed_random(seed)
        assert factory.build() == built


@settings(max_examples=50, deadline=None)
@given(seed=SEEDS)
def test_built_values_are_realistic(seed: int) -> None:
    for factory, _ in FACTORIES:
        factory.seed_random(seed)
    project = ProjectFactory.build()
    assert project.name.strip() == project.name != ""
    assert project.description is not None
    assert " " in project.description
    assert project.architecture is not None
    assert project.architecture["framework"]
    assert 1 <= project.architecture["complexity_score"] <= 10  # type: ignore[operator]

    conversation = ConversationFactory.build()
    roles = [message.role.value for message in conversation.messages]
    assert roles == ["user", "assistant", "user", "assistant"][: len(roles)]
    times = [message.created_at for message in conversation.messages]
    assert times == sorted(times)

    repository = RepositoryFactory.build()
    url = urlsplit(repository.url)
    assert url.scheme == "https"
    assert url.path.endswith(f"/{repository.name}")
    if repository.provider.value in HOSTS:
        assert url.netloc == HOSTS[repository.provider.value]

    document = DocumentFactory.build()
    assert document.content.count("\n\n") >= 1
    assert document.metadata is not None
    assert document.metadata["author"]


def test_overrides_win_and_are_validated() -> None:
    project = ProjectFactory.build(name="Atlas", status="active", architecture=None)
    assert (project.name, project.status.value, project.architecture) == ("Atlas", "active", None)
    repository = RepositoryFactory.build(provider="gitlab", name="atlas-api")
    assert repository.url.startswith("https://gitlab.com/")
    assert repository.url.endswith("/atlas-api")
    given_url = "https://example.com/atlas.git"
    assert RepositoryFactory.build(url=given_url).url == given_url
    assert ConversationFactory.build(messages=[]).messages == []
    with pytest.raises(ValidationError, match="name"):
        ProjectFactory.build(name="")
    with pytest.raises(ValidationError, match="project_idea"):
        ProjectFactory.build(project_idea="short")


def test_generated_text_stays_within_the_models_limits() -> None:
    """Text fields are cut to the model's max_length (read from the model, so a
    tighter schema is honoured too): many builds never exceed them."""
    ProjectFactory.seed_random(7)
    for project in ProjectFactory.batch(100):
        assert 1 <= len(project.name) <= 255
        assert 10 <= len(project.project_idea) <= 10000
        assert project.description is not None
        assert len(project.description) <= 5000


# -- create and create_batch ---------------------------------------------------------


async def test_create_writes_what_build_makes(session: Session) -> None:
    ProjectFactory.seed_random(11)
    built = ProjectFactory.build()
    ProjectFactory.seed_random(11)
    project = await ProjectFactory.create(session)
    assert project.model_dump(include=set(ProjectCreate.model_fields)) == built.model_dump()
    assert await ProjectRepository(session).get_by_id(project.id) == project


async def test_create_batch_writes_n_rows_in_order_through_bulk_create(session: Session) -> None:
    projects = await ProjectFactory.create_batch(session, 5, status="active")
    assert len(projects) == 5
    assert [p.id for p in projects] == sorted(p.id for p in projects)
    assert {p.status.value for p in projects} == {"active"}
    stored = await ProjectRepository(session).list(order_by="id")
    assert stored == projects
    # bulk_create audits every row, as a single create does.
    assert [
        entry.action.value for entry in await ProjectRepository(session).history(projects[0].id)
    ] == ["create"]


@pytest.mark.parametrize(("factory", "repository", "field"), CHILDREN, ids=CHILD_IDS)
async def test_a_child_gets_a_new_parent_project_unless_given_one(
    session: Session, factory: Any, repository: Any, field: str
) -> None:
    projects = ProjectRepository(session)
    child = await factory.create(session)
    parent = await projects.get_by_id(child.project_id)
    assert parent is not None
    assert await repository(session).get_by_id(child.id) == child

    # A second create makes a second parent: one project per call.
    other = await factory.create(session)
    assert other.project_id != child.project_id
    assert await projects.count() == 2

    # Given a project_id (and any other field), no project is made and overrides win.
    mine = await factory.create(session, project_id=parent.id, **{field: "Kickoff"})
    assert (mine.project_id, getattr(mine, field)) == (parent.id, "Kickoff")
    assert await projects.count() == 2


@pytest.mark.parametrize(("factory", "repository", "field"), CHILDREN, ids=CHILD_IDS)
async def test_create_batch_of_children_shares_one_new_parent(
    session: Session, factory: Any, repository: Any, field: str
) -> None:
    children = await factory.create_batch(session, 4)
    assert len(children) == 4
    assert len({child.project_id for child in children}) == 1
    assert await ProjectRepository(session).count() == 1
    stored = [await repository(session).get_by_id(child.id) for child in children]
    assert stored == children

    project = await ProjectFactory.create(session)
    given = await factory.create_batch(session, 3, project_id=project.id, **{field: "Same"})
    assert {(c.project_id, getattr(c, field)) for c in given} == {(project.id, "Same")}
    assert await ProjectRepository(session).count() == 2


async def test_a_created_conversation_reads_back_with_its_messages(session: Session) -> None:
    project = await ProjectFactory.create(session)
    # The same seed with the same overrides gives the same data (an override
    # leaves its field's random draw out, so it shifts what follows).
    ConversationFactory.seed_random(3)
    built = ConversationFactory.build(project_id=project.id)
    assert built.messages, "seed 3 builds a conversation with messages"
    ConversationFactory.seed_random(3)
    conversation = await ConversationFactory.create(session, project_id=project.id)
    stored = await ConversationRepository(session).get_by_id(conversation.id)
    assert stored is not None
    got = [(m.role, m.content, m.created_at, m.metadata) for m in stored.messages]
    assert got == [(m.role, m.content, m.created_at, m.metadata) for m in built.messages]


async def test_create_batch_of_zero_writes_nothing_and_a_negative_count_is_refused(
    session: Session,
) -> None:
    assert await ProjectFactory.create_batch(session, 0) == []
    assert await DocumentFactory.create_batch(session, 0) == []
    assert await ProjectRepository(session).count() == 0  # no parent for no children
    with pytest.raises(ValueError, match="count"):
        await ProjectFactory.create_batch(session, -1)


async def test_factories_write_inside_pad_transaction(pad_transaction: Session) -> None:
    documents = await DocumentFactory.create_batch(pad_transaction, 3)
    repository = await RepositoryFactory.create(pad_transaction, project_id=documents[0].project_id)
    assert pad_transaction.in_transaction
    assert await DocumentRepository(pad_transaction).count(project_id=repository.project_id) == 3

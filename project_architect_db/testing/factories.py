"""Test-data factories for the four entities, on polyfactory and Faker.

``ProjectFactory``, ``ConversationFactory``, ``DocumentFactory`` and
``RepositoryFactory`` are polyfactory ``ModelFactory`` classes of the ``*Create``
input models, so everything polyfactory offers works (``build``, ``batch``,
``seed_random``, subclassing with fields of your own); on top of it they write
rows through the repositories:

* ``Factory.build(**overrides)``: a valid ``*Create`` model (validated by pydantic
  as it is built: an override the model refuses raises its ``ValidationError``).
* ``await Factory.create(session, **overrides)``: builds one and writes it with the
  repository's ``create``; the stored read model (``Project``, ...).
* ``await Factory.create_batch(session, n, **overrides)``: builds ``n`` (each with
  the same overrides) and writes them with the repository's ``bulk_create``, in one
  transaction; the stored models, in build order. ``bulk_create`` returns them
  itself (ids ascending in input order), so nothing is read back.

``ConversationFactory``, ``DocumentFactory`` and ``RepositoryFactory`` need a
parent: without a ``project_id`` override, ``create`` first creates a project with
``ProjectFactory`` (one per call) and ``create_batch`` one project shared by the
whole batch. ``build`` never writes anything, so it leaves a random small
``project_id`` in place: pass ``project_id=`` to insert what it builds.

Values come from Faker, not polyfactory's random text: project names are catch
phrases, ideas and descriptions paragraphs, repositories get slugs, a provider's
URL, a branch and a language, conversations a few alternating user and assistant
messages; enums are picked at random. Every text fits the limits of its field,
read from the model itself (``min_length``/``max_length``, ``ge``/``le``), so a
schema that changes a limit needs no change here. Timestamps
(messages' ``created_at``, ``last_commit_at``) fall in 2025: fixed, so that
``Factory.seed_random(seed)``, which seeds the factory's own ``random.Random`` and
its own Faker instance (each factory has both, so seeding one never disturbs
another, or polyfactory's shared defaults), reproduces ``build``'s output exactly,
given the same overrides (an overridden field skips its random draws).

This module needs the ``testing`` extra: ``pip install "project_architect_db[testing]"``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from random import Random
from typing import Any
from urllib.parse import quote

from faker import Faker
from polyfactory import Ignore
from polyfactory.factories.pydantic_factory import ModelFactory
from pydantic import BaseModel, JsonValue

from ..core.session import Session
from ..repositories import (
    ConversationRepository,
    DocumentRepository,
    ProjectRepository,
    RepositoryRepository,
)
from ..schemas import (
    Conversation,
    ConversationCreate,
    Document,
    DocumentCreate,
    MessageCreate,
    MessageRole,
    Project,
    ProjectCreate,
    Repository,
    RepositoryCreate,
)
from ..schemas.limits import field_limits

__all__ = ["ConversationFactory", "DocumentFactory", "ProjectFactory", "RepositoryFactory"]

#: Timestamps fall in this window (fixed, so a seed reproduces them).
_EPOCH_START = datetime(2025, 1, 1, tzinfo=UTC)
_EPOCH_END = datetime(2026, 1, 1, tzinfo=UTC)

# Realistic vocabularies for the fields Faker has no provider for.
_FRAMEWORKS = ("FastAPI", "Django", "Litestar", "Flask", "Spring Boot", "Express", "Rails")
_PATTERNS = ("layered", "hexagonal", "event-driven", "CQRS", "microservices", "serverless")
_DATABASES = ("PostgreSQL", "DuckDB", "SQLite", "MySQL", "MongoDB", "Redis")
_LANGUAGES = ("Python", "TypeScript", "Go", "Rust", "Java", "Kotlin", "C#", "Ruby")
_BRANCHES = ("main", "main", "main", "master", "develop", "trunk")
_KINDS = ("api", "service", "web", "worker", "sdk", "cli", "infra")
_LICENSES = ("MIT", "Apache-2.0", "BSD-3-Clause", "GPL-3.0", "proprietary")
_HOSTS = {"github": "github.com", "gitlab": "gitlab.com", "bitbucket": "bitbucket.org"}


# -- the models' limits ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Limits:
    """What a field's constraints allow: lengths for text, bounds for numbers."""

    min_length: int = 0
    max_length: int | None = None
    ge: int | None = None
    le: int | None = None

    def text(self, write: Callable[[], str]) -> str:
        """Text from ``write`` that fits: more of it until long enough, then cut
        (at a word boundary when that stays long enough) to the maximum."""
        text = write().strip()
        for _ in range(1000):
            if len(text) >= self.min_length:
                break
            text = f"{text} {write().strip()}".strip()
        else:  # pragma: no cover - Faker never writes nothing a thousand times
            raise RuntimeError(f"could not write text of at least {self.min_length} characters")
        if self.max_length is not None and len(text) > self.max_length:
            text = text[: self.max_length]
            at_word = text.rsplit(" ", 1)[0].rstrip(" ,;:-")
            if len(at_word) >= max(self.min_length, 1):
                text = at_word
        return text

    def integer(self, random: Random, low: int, high: int) -> int:
        """A random integer in the realistic range ``[low, high]`` within the bounds."""
        lowest = low if self.ge is None else max(low, self.ge)
        highest = high if self.le is None else min(high, self.le)
        return random.randint(lowest, max(lowest, highest))


def _all_limits(model: type[BaseModel]) -> dict[str, _Limits]:
    """The limits of every field of ``model``, as README's field table reads
    them (``schemas.limits.field_limits``); bounds as whole numbers."""
    return {
        field.name: _Limits(
            field.min_length or 0,
            field.max_length,
            _whole(field.ge, field.gt, 1),
            _whole(field.le, field.lt, -1),
        )
        for field in field_limits(model)
    }


def _whole(inclusive: object, exclusive: object, step: int) -> int | None:
    """An inclusive whole-number bound from ``ge``/``le`` or ``gt``/``lt``."""
    if isinstance(inclusive, int):
        return inclusive
    if isinstance(exclusive, int):
        return exclusive + step
    return None


_PROJECT = _all_limits(ProjectCreate)
_CONVERSATION = _all_limits(ConversationCreate)
_MESSAGE = _all_limits(MessageCreate)
_DOCUMENT = _all_limits(DocumentCreate)
_REPOSITORY = _all_limits(RepositoryCreate)


def _project_id(random: Random, limits: _Limits) -> int:
    """A small positive id for ``build`` (``create`` sets the real parent's)."""
    return limits.integer(random, 1, 1000)


def _timestamp(faker: Faker) -> datetime:
    return faker.date_time_between(start_date=_EPOCH_START, end_date=_EPOCH_END, tzinfo=UTC)


def _check_count(n: int) -> None:
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"create_batch needs a count of zero or more items, not {n!r}")


async def _parent_id(session: Session, overrides: dict[str, Any]) -> dict[str, Any]:
    """``overrides`` with a ``project_id``: a new project's unless one is given."""
    if "project_id" in overrides:
        return overrides
    project = await ProjectFactory.create(session)
    return {**overrides, "project_id": project.id}


# -- the factories ---------------------------------------------------------------


class ProjectFactory(ModelFactory[ProjectCreate]):
    """``ProjectCreate`` with a catch-phrase name, paragraphs of description and
    idea, an architecture (framework, complexity score, patterns, database) and a
    random status."""

    __faker__ = Faker()
    __random__ = Random()

    @classmethod
    def name(cls) -> str:
        return _PROJECT["name"].text(cls.__faker__.catch_phrase)

    @classmethod
    def description(cls) -> str:
        return _PROJECT["description"].text(lambda: cls.__faker__.paragraph(nb_sentences=3))

    @classmethod
    def project_idea(cls) -> str:
        return _PROJECT["project_idea"].text(lambda: cls.__faker__.paragraph(nb_sentences=5))

    @classmethod
    def architecture(cls) -> dict[str, JsonValue]:
        random = cls.__random__
        patterns: list[JsonValue] = list(random.sample(_PATTERNS, random.randint(1, 3)))
        return {
            "framework": random.choice(_FRAMEWORKS),
            "complexity_score": random.randint(1, 10),
            "patterns": patterns,
            "database": random.choice(_DATABASES),
        }

    @classmethod
    async def create(cls, session: Session, **overrides: Any) -> Project:
        """Build a project and write it with ``ProjectRepository.create``."""
        return await ProjectRepository(session).create(cls.build(**overrides))

    @classmethod
    async def create_batch(cls, session: Session, n: int, **overrides: Any) -> list[Project]:
        """Build ``n`` projects and write them with ``bulk_create``, in order."""
        _check_count(n)
        return await ProjectRepository(session).bulk_create(cls.batch(n, **overrides))


class ConversationFactory(ModelFactory[ConversationCreate]):
    """``ConversationCreate`` with a short title, a random phase and zero to four
    messages alternating between user and assistant, a few minutes apart."""

    __faker__ = Faker()
    __random__ = Random()

    @classmethod
    def project_id(cls) -> int:
        return _project_id(cls.__random__, _CONVERSATION["project_id"])

    @classmethod
    def title(cls) -> str:
        faker = cls.__faker__
        return _CONVERSATION["title"].text(lambda: faker.sentence(nb_words=4).rstrip("."))

    @classmethod
    def messages(cls) -> list[MessageCreate]:
        faker, random = cls.__faker__, cls.__random__
        at = _timestamp(faker)
        roles = (MessageRole.USER, MessageRole.ASSISTANT)
        messages = []
        for index in range(random.randint(0, 4)):
            at += timedelta(minutes=random.randint(1, 30), seconds=random.randint(0, 59))
            content = _MESSAGE["content"].text(lambda: faker.paragraph(nb_sentences=2))
            messages.append(
                MessageCreate(
                    role=roles[index % 2],
                    content=content,
                    created_at=at,
                    metadata={"tokens": random.randint(5, 800)},
                )
            )
        return messages

    @classmethod
    async def create(cls, session: Session, **overrides: Any) -> Conversation:
        """Build a conversation (for a new project unless ``project_id`` is given)
        and write it with ``ConversationRepository.create``."""
        overrides = await _parent_id(session, overrides)
        return await ConversationRepository(session).create(cls.build(**overrides))

    @classmethod
    async def create_batch(cls, session: Session, n: int, **overrides: Any) -> list[Conversation]:
        """Build ``n`` conversations (of one new project unless ``project_id`` is
        given) and write them with ``bulk_create``, in order."""
        _check_count(n)
        if n == 0:
            return []
        overrides = await _parent_id(session, overrides)
        return await ConversationRepository(session).bulk_create(cls.batch(n, **overrides))


class DocumentFactory(ModelFactory[DocumentCreate]):
    """``DocumentCreate`` with a short title, a random type, a few paragraphs of
    content and metadata (author, tags)."""

    __faker__ = Faker()
    __random__ = Random()

    @classmethod
    def project_id(cls) -> int:
        return _project_id(cls.__random__, _DOCUMENT["project_id"])

    @classmethod
    def title(cls) -> str:
        faker = cls.__faker__
        return _DOCUMENT["title"].text(lambda: faker.sentence(nb_words=5).rstrip("."))

    @classmethod
    def content(cls) -> str:
        faker, random = cls.__faker__, cls.__random__
        return _DOCUMENT["content"].text(
            lambda: "\n\n".join(faker.paragraphs(nb=random.randint(2, 5)))
        )

    @classmethod
    def metadata(cls) -> dict[str, JsonValue]:
        faker = cls.__faker__
        tags: list[JsonValue] = list(faker.words(nb=3, unique=True))
        return {"author": faker.name(), "tags": tags}

    @classmethod
    async def create(cls, session: Session, **overrides: Any) -> Document:
        """Build a document (for a new project unless ``project_id`` is given) and
        write it with ``DocumentRepository.create``."""
        overrides = await _parent_id(session, overrides)
        return await DocumentRepository(session).create(cls.build(**overrides))

    @classmethod
    async def create_batch(cls, session: Session, n: int, **overrides: Any) -> list[Document]:
        """Build ``n`` documents (of one new project unless ``project_id`` is
        given) and write them with ``bulk_create``, in order."""
        _check_count(n)
        if n == 0:
            return []
        overrides = await _parent_id(session, overrides)
        return await DocumentRepository(session).bulk_create(cls.batch(n, **overrides))


class RepositoryFactory(ModelFactory[RepositoryCreate]):
    """``RepositoryCreate`` with a slug name, its provider's URL
    (``https://github.com/<org>/<name>``, ...), a branch, a language, star and
    issue counts, a last commit in 2025 and metadata (topics, license)."""

    __faker__ = Faker()
    __random__ = Random()

    #: Written last, from the provider and name it is built with (``process_kwargs``).
    url = Ignore()

    @classmethod
    def project_id(cls) -> int:
        return _project_id(cls.__random__, _REPOSITORY["project_id"])

    @classmethod
    def name(cls) -> str:
        faker, random = cls.__faker__, cls.__random__
        return _REPOSITORY["name"].text(lambda: f"{faker.word()}-{random.choice(_KINDS)}")

    @classmethod
    def default_branch(cls) -> str:
        return _REPOSITORY["default_branch"].text(lambda: cls.__random__.choice(_BRANCHES))

    @classmethod
    def primary_language(cls) -> str:
        return _REPOSITORY["primary_language"].text(lambda: cls.__random__.choice(_LANGUAGES))

    @classmethod
    def stars(cls) -> int:
        return _REPOSITORY["stars"].integer(cls.__random__, 0, 5000)

    @classmethod
    def open_issues(cls) -> int:
        return _REPOSITORY["open_issues"].integer(cls.__random__, 0, 250)

    @classmethod
    def last_commit_at(cls) -> datetime:
        return _timestamp(cls.__faker__)

    @classmethod
    def metadata(cls) -> dict[str, JsonValue]:
        faker, random = cls.__faker__, cls.__random__
        topics: list[JsonValue] = list(faker.words(nb=random.randint(1, 4), unique=True))
        return {"topics": topics, "license": random.choice(_LICENSES)}

    @classmethod
    def process_kwargs(cls, **kwargs: Any) -> dict[str, Any]:
        """polyfactory's values, plus the URL that goes with their provider and
        name (unless ``url`` was given)."""
        values = super().process_kwargs(**kwargs)
        if "url" not in values:
            values["url"] = cls._url(values.get("provider"), str(values.get("name", "")))
        return values

    @classmethod
    def _url(cls, provider: object, name: str) -> str:
        faker = cls.__faker__
        host = _HOSTS.get(str(provider)) or f"git.{faker.domain_name()}"
        owner = faker.slug(faker.company()) or "team"
        url = f"https://{host}/{owner}/{quote(name, safe='-._~')}"
        limit = _REPOSITORY["url"].max_length
        if limit is not None and len(url) > limit:  # a long, non-ASCII name override
            url = f"https://{host}/{owner}"
        return url

    @classmethod
    async def create(cls, session: Session, **overrides: Any) -> Repository:
        """Build a repository (for a new project unless ``project_id`` is given)
        and write it with ``RepositoryRepository.create``."""
        overrides = await _parent_id(session, overrides)
        return await RepositoryRepository(session).create(cls.build(**overrides))

    @classmethod
    async def create_batch(cls, session: Session, n: int, **overrides: Any) -> list[Repository]:
        """Build ``n`` repositories (of one new project unless ``project_id`` is
        given) and write them with ``bulk_create``, in order."""
        _check_count(n)
        if n == 0:
            return []
        overrides = await _parent_id(session, overrides)
        return await RepositoryRepository(session).bulk_create(cls.batch(n, **overrides))

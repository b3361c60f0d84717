"""Full-text search: stemming, ranking, read-your-writes, hostile input."""

from __future__ import annotations

import string

import pytest
from anyio.from_thread import BlockingPortal
from helpers import document_data, project_data
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from project_architect_db import (
    DatabaseEngine,
    DocumentRepository,
    InvalidQueryError,
    ProjectRepository,
    SearchHit,
    Session,
)
from project_architect_db.search import MAX_QUERY_TERMS, index_terms, query_terms, snippet

HOSTILE = [
    "'",
    '"',
    "%",
    "_",
    "\\",
    "%_%",
    "'; DROP TABLE projects; --",
    "architecture' OR '1'='1",
    "UNION SELECT * FROM audit_log",
    "SELECT",
    "\x00",
    "🎉🚀 architecture 🎉",
    "",
    "   \t\n ",
    "a" * 10_000,
    "architecture " * 2_000,
    "ÄRCHITECTURE İstanbul ǅ",
]


async def names(projects: ProjectRepository, query: str, **kwargs: int) -> list[str]:
    return [p.name for p in await projects.search_by_name(query, **kwargs)]


async def test_search_is_stemmed_case_insensitive_and_ignores_stop_words(session: Session) -> None:
    projects = ProjectRepository(session)
    await projects.create(
        project_data(name="Clean Architecture", project_idea="Layers and ports everywhere")
    )
    await projects.create(project_data(name="Billing", project_idea="Invoices for every customer"))
    for query in ("architecture", "architectures", "ARCHITECTURAL", "the architecture of"):
        assert await names(projects, query) == ["Clean Architecture"], query
    assert await names(projects, "invoicing customers") == ["Billing"]
    assert await names(projects, "the of and") == []


async def test_rows_matching_more_words_rank_higher(session: Session) -> None:
    projects = ProjectRepository(session)
    await projects.create(
        project_data(name="Kafka Kafka Kafka", project_idea="kafka kafka kafka kafka everywhere")
    )
    await projects.create(project_data(name="Streams", project_idea="Kafka streams for payments"))
    assert await names(projects, "kafka payments") == ["Streams", "Kafka Kafka Kafka"]


async def test_name_weighs_more_than_description_and_idea(session: Session) -> None:
    projects = ProjectRepository(session)
    await projects.create(project_data(name="Ledger", project_idea="A gateway for money transfers"))
    await projects.create(project_data(name="Gateway", project_idea="Routes money between banks"))
    await projects.create(
        project_data(name="Audit", description="Gateway logs", project_idea="Reads every request")
    )
    ranked = await names(projects, "gateway")
    assert ranked[0] == "Gateway"
    assert set(ranked) == {"Gateway", "Ledger", "Audit"}


async def test_search_reads_its_own_writes(session: Session) -> None:
    projects = ProjectRepository(session)
    project = await projects.create(
        project_data(name="Telescope", project_idea="Observe the galaxy")
    )
    assert await names(projects, "telescope") == ["Telescope"]
    await projects.update(project.id, {"name": "Microscope"})
    assert await names(projects, "telescope") == []
    assert await names(projects, "microscopes") == ["Microscope"]
    assert await names(projects, "galaxy") == ["Microscope"]
    await projects.delete(project.id)
    assert await names(projects, "microscope") == []
    await projects.restore(project.id)
    assert await names(projects, "microscope") == ["Microscope"]
    await projects.delete(project.id, hard=True)
    assert await names(projects, "microscope") == []
    left = await session.execute("SELECT count(*) AS n FROM search_terms")
    assert left[0]["n"] == 0


async def test_search_rolls_back_with_the_transaction(engine: DatabaseEngine) -> None:
    with pytest.raises(RuntimeError):
        async with engine.transaction() as session:
            await ProjectRepository(session).create(project_data(name="Phantom"))
            assert await names(ProjectRepository(session), "phantom") == ["Phantom"]
            raise RuntimeError("roll back")
    async with engine.session() as session:
        assert await names(ProjectRepository(session), "phantom") == []


async def test_bulk_created_rows_are_searchable(session: Session) -> None:
    projects = ProjectRepository(session)
    await projects.bulk_create(
        [project_data(name=f"Service {i} mesh") for i in range(30)], returning=False
    )
    await projects.bulk_create([project_data(name="Unrelated")])
    found = await projects.search_by_name("meshes", limit=100)
    assert len(found) == 30
    assert all("mesh" in p.name for p in found)
    assert len(await projects.search_by_name("mesh", limit=5)) == 5
    assert await projects.search_by_name("mesh", limit=0) == []
    with pytest.raises(InvalidQueryError, match="limit"):
        await projects.search_by_name("mesh", limit=-1)


async def test_document_search_returns_scored_hits_with_snippets(session: Session) -> None:
    projects = ProjectRepository(session)
    documents = DocumentRepository(session)
    first = await projects.create(project_data())
    second = await projects.create(project_data(name="Other"))
    filler = "Nothing to see in this paragraph at all. " * 10
    adr = await documents.create(
        document_data(
            first.id,
            title="Storage decision",
            doc_type="adr",
            content=filler + "We chose DuckDB for embedded analytics. " + filler,
        )
    )
    guide = await documents.create(
        document_data(first.id, title="Analytics guide", doc_type="guide", content="How to query.")
    )
    other = await documents.create(
        document_data(second.id, title="Notes", content="Analytics notes for another project.")
    )
    hits = await documents.search("analytics")
    assert all(isinstance(hit, SearchHit) for hit in hits)
    assert next(hit.item.id for hit in hits) == guide.id  # title weighs double
    assert {hit.item.id for hit in hits} == {adr.id, guide.id, other.id}
    assert [hit.score for hit in hits] == sorted((hit.score for hit in hits), reverse=True)
    adr_hit = next(hit for hit in hits if hit.item.id == adr.id)
    assert "analytics" in adr_hit.snippet.lower()
    assert adr_hit.snippet.startswith("…")
    assert adr_hit.snippet.endswith("…")
    assert len(adr_hit.snippet) < 200
    assert adr_hit.item == await documents.get_by_id(adr.id)
    only_adr = await documents.search("analytics", doc_type="adr")
    assert [hit.item.id for hit in only_adr] == [adr.id]
    of_second = await documents.search("analytics", project_id=second.id)
    assert [hit.item.id for hit in of_second] == [other.id]
    with pytest.raises(InvalidQueryError, match="doc_type"):
        await documents.search("analytics", doc_type="novel")
    await documents.update(guide.id, {"title": "Query guide"})
    assert guide.id not in {hit.item.id for hit in await documents.search("analytics")}


@pytest.mark.parametrize("query", HOSTILE)
async def test_hostile_search_text_is_safe(engine: DatabaseEngine, query: str) -> None:
    async with engine.session() as session:
        projects = ProjectRepository(session)
        documents = DocumentRepository(session)
        project = await projects.create(project_data(name="Architecture lab"))
        await documents.create(document_data(project.id, content="architecture notes"))
        found = await projects.search_by_name(query)
        hits = await documents.search(query)
        assert isinstance(found, list)
        assert isinstance(hits, list)
        if "architecture" in query.lower():
            assert [p.id for p in found] == [project.id]
        counts = await session.execute(
            "SELECT (SELECT count(*) FROM projects) AS p, (SELECT count(*) FROM documents) AS d"
        )
        assert counts == [{"p": 1, "d": 1}]


async def test_non_text_queries_are_refused(session: Session) -> None:
    with pytest.raises(InvalidQueryError, match="string"):
        await ProjectRepository(session).search_by_name(42)  # type: ignore[arg-type]


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(query=st.text(max_size=200))
def test_any_search_text_returns_a_list(
    portal_engine: tuple[BlockingPortal, DatabaseEngine], query: str
) -> None:
    portal, engine = portal_engine

    async def search() -> tuple[int, int]:
        async with engine.session() as session:
            projects = ProjectRepository(session)
            if not await projects.exists():
                await projects.create(project_data(name="Seed"))
            return len(await projects.search_by_name(query)), await projects.count()

    found, total = portal.call(search)
    assert 0 <= found <= total == 1


# Words, stop words, digits, underscores, mixed case, accents, scripts without
# case, and punctuation: whatever the one-row and the bulk index paths split.
INDEX_TEXT = st.lists(
    st.sampled_from(
        [*"abcXYZ019_ -.,'\n", "the", "and", "İ", "ß", "é", "ǅ", "文", "٣", "running", "Runs"]
    ),
    max_size=30,
).map("".join)


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(texts=st.lists(st.tuples(INDEX_TEXT, st.none() | INDEX_TEXT, INDEX_TEXT), max_size=8))
def test_bulk_index_equals_the_one_row_index(
    portal_engine: tuple[BlockingPortal, DatabaseEngine],
    texts: list[tuple[str, str | None, str]],
) -> None:
    """bulk_create tokenizes in Python and stems in SQL by vocabulary; create
    indexes one row in Python. Both must store exactly the same terms."""
    portal, engine = portal_engine
    items = [
        project_data(name=f"n {name}", description=description, project_idea=f"idea text {idea}")
        for name, description, idea in texts
    ]

    async def index_rows() -> tuple[
        list[list[tuple[str, str, int]]], list[list[tuple[str, str, int]]]
    ]:
        async with engine.session() as session:
            projects = ProjectRepository(session)
            bulk = await projects.bulk_create(items)
            single = [await projects.create(item) for item in items]

            async def terms(id: int) -> list[tuple[str, str, int]]:
                rows = await session.execute(
                    "SELECT field, term, tf FROM search_terms"
                    " WHERE entity = 'project' AND entity_id = $id ORDER BY field, term, tf",
                    {"id": id},
                )
                return [(row["field"], row["term"], row["tf"]) for row in rows]

            return [await terms(p.id) for p in bulk], [await terms(p.id) for p in single]

    bulk_terms, single_terms = portal.call(index_rows)
    assert bulk_terms == single_terms
    for item, stored in zip(items, single_terms, strict=True):
        fields, terms, counts = index_terms(
            {name: item.get(name) for name in ("name", "description", "project_idea")}
        )
        assert stored == sorted(zip(fields, terms, counts, strict=True))


def test_query_terms_are_distinct_stems_capped() -> None:
    assert query_terms("Running runners run RUN") == ["run", "runner"]
    words = " ".join(f"w{n}{letter}" for n in range(40) for letter in string.ascii_lowercase[:1])
    assert len(query_terms(words)) == MAX_QUERY_TERMS
    assert query_terms("") == []


def test_snippet_centres_on_the_first_match() -> None:
    text = "alpha " * 50 + "Deployment pipeline notes " + "omega " * 50
    excerpt = snippet(text, query_terms("deploying"))
    assert "Deployment" in excerpt
    assert excerpt.startswith("…")
    assert excerpt.endswith("…")
    assert snippet("short text", ["missing"]) == "short text"


async def test_project_cascade_hides_and_restores_its_documents_in_search(session: Session) -> None:
    projects = ProjectRepository(session)
    documents = DocumentRepository(session)
    project = await projects.create(project_data())
    own = await documents.create(document_data(project.id, title="Zeppelin notes"))
    await documents.create(document_data(project.id, title="Zeppelin retired"))
    await documents.delete(own.id + 1)  # deleted on its own: stays out of search
    assert [hit.item.id for hit in await documents.search("zeppelin")] == [own.id]
    await projects.delete(project.id)
    assert await documents.search("zeppelin") == []
    await projects.restore(project.id)
    assert [hit.item.id for hit in await documents.search("zeppelin")] == [own.id]

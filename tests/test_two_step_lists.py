"""Lists picked in two steps give exactly the rows of the plain ordering.

A pooled connection lets DuckDB pick a page of up to 1,000 rows in two steps
(late materialization: the top rows' row ids from the filter and order
columns, then those rows; ``core/pool.py``). The oracle here takes no such
step: the builder's own filter and order clauses (``queries/filters.py``)
with no LIMIT at all, the whole ordering read and sliced in Python, for every
ordering hypothesis draws.
"""

from __future__ import annotations

from typing import Any

from anyio.from_thread import BlockingPortal
from helpers import PortalEngine
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from project_architect_db import ConversationRepository, DatabaseEngine, ProjectRepository
from project_architect_db.core.statements import PROJECT
from project_architect_db.queries.filters import base_sql, compile_order, where_clause

FIELDS = ["name", "status", "description", "version", "created_at", "updated_at", "id"]
ORDERINGS = st.lists(
    st.tuples(st.sampled_from(FIELDS), st.booleans()),
    min_size=0,
    max_size=3,
    unique_by=lambda t: t[0],
).map(lambda terms: [("-" if descending else "") + name for name, descending in terms])
PROJECTS = st.lists(
    st.fixed_dictionaries(
        {
            "name": st.sampled_from(["a", "b", "B", "é", "z z"]),
            "project_idea": st.just("an idea worth trying"),
            "description": st.one_of(st.none(), st.sampled_from(["x", "y", ""])),
            "status": st.sampled_from(["draft", "active", "completed", "archived"]),
        }
    ),
    min_size=0,
    max_size=25,
)


async def one_statement_ids(
    session: Any, order: list[str], statuses: list[str] | None, limit: int, offset: int
) -> list[int]:
    """The ids of the page ``limit``/``offset`` cut from the whole ordering."""
    query = ProjectRepository(session).query()
    if statuses is not None:
        query = query.filter(status__in=statuses)
    if order:
        query = query.order_by(*order)
    # The builder's own order terms (with its tie-break by id) and conditions.
    where, params = where_clause(query._conditions, False)
    sql = (
        f"SELECT * FROM ({base_sql(PROJECT.listing)}) AS rows WHERE {where} "
        f"ORDER BY {compile_order(query._order)}"
    )
    rows = await session.execute(sql, params)
    return [row["id"] for row in rows][offset : offset + limit]


@given(
    projects=PROJECTS,
    order=ORDERINGS,
    statuses=st.one_of(
        st.none(), st.lists(st.sampled_from(["draft", "active", "archived"]), min_size=1)
    ),
    limit=st.integers(min_value=0, max_value=30),
    offset=st.integers(min_value=0, max_value=10),
    updated=st.lists(st.integers(min_value=0, max_value=24), max_size=5),
)
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_lists_and_pages_equal_the_plain_ordering(
    portal_engine: PortalEngine,
    projects: list[dict[str, Any]],
    order: list[str],
    statuses: list[str] | None,
    limit: int,
    offset: int,
    updated: list[int],
) -> None:
    portal, engine = portal_engine

    async def compare() -> None:
        async with engine.session() as session:
            repo = ProjectRepository(session)
            await session.execute("DELETE FROM projects")
            created = await repo.bulk_create(projects) if projects else []
            for index in updated:  # some versions and updated_at values differ
                if index < len(created):
                    await repo.update(created[index].id, {"description": f"v{index}"})
            filters: dict[str, Any] = {} if statuses is None else {"status__in": statuses}
            listed = await repo.list(limit, offset, order_by=order or None, **filters)
            expected = await one_statement_ids(session, order, statuses, limit, offset)
            assert [p.id for p in listed] == expected
            # Keyset pages, read to the end, give the whole ordering.
            query = repo.query().filter(**filters)
            if order:
                query = query.order_by(*order)
            paged: list[int] = []
            cursor = None
            while True:
                page = await query.page(7, cursor)
                paged += [p.id for p in page.items]
                if page.next_cursor is None:
                    break
                cursor = page.next_cursor
            assert paged == await one_statement_ids(session, order, statuses, 10_000, 0)

    portal.call(compare)


def test_listed_conversations_carry_their_messages(portal: BlockingPortal, db_path: Any) -> None:
    async def check() -> None:
        async with DatabaseEngine(db_path) as engine, engine.session() as session:
            project = await ProjectRepository(session).create(
                {"name": "p", "project_idea": "an idea worth trying"}
            )
            talks = ConversationRepository(session)
            for n in range(4):
                talk = await talks.create({"project_id": project.id, "title": f"t{n}"})
                for k in range(n):
                    await talks.append_message(talk.id, {"role": "user", "content": f"{n}.{k}"})
            newest_first = await talks.list(order_by="-id", limit=3)
            assert [[m.content for m in t.messages] for t in newest_first] == [
                ["3.0", "3.1", "3.2"],
                ["2.0", "2.1"],
                ["1.0"],
            ]
            page = await talks.query().order_by("id").page(2)
            assert [len(t.messages) for t in page.items] == [0, 1]

    portal.call(check)


def test_pooled_connections_pick_a_page_in_two_steps(portal: BlockingPortal, db_path: Any) -> None:
    # The setting that makes lists of large tables fast, and the plan it gives
    # (a DuckDB upgrade that dropped late materialization would show here).
    async def check() -> None:
        async with DatabaseEngine(db_path) as engine, engine.session() as session:
            [setting] = await session.execute(
                "SELECT current_setting('late_materialization_max_rows') AS n"
            )
            assert setting["n"] == 1000
            query = ProjectRepository(session).query().filter(status="active")
            sql, params = query.order_by("-created_at")._select(100, 0)
            [plan] = await session.execute(f"EXPLAIN {sql}", params)
            assert "rowid = rowid" in plan["explain_value"]

    portal.call(check)

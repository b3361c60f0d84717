"""The contract between the code and the SQL files: every statement the library
runs is registered once (core/statements.py), exists in the files with the
parameters the code passes, and is run the way its suffix declares."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import project_architect_db
from project_architect_db import DatabaseEngine, InvalidQueryError
from project_architect_db.core import statements as sql
from project_architect_db.core.runner import StatementRunner
from project_architect_db.core.sql import Operation, queries
from project_architect_db.core.statements import REGISTRY, Statement, Use, contract_problem
from project_architect_db.repositories import (
    ConversationRepository,
    DocumentRepository,
    ProjectRepository,
    RepositoryRepository,
)

PACKAGE = Path(project_architect_db.__file__).parent
RUNNER_METHODS = {"one", "rows", "value", "run"}


def test_every_registered_statement_exists_with_the_parameters_the_code_passes() -> None:
    installed = queries()
    for statement in REGISTRY:
        assert statement.name in installed, statement
        assert contract_problem(statement, installed[statement.name]) is None, statement


def test_every_query_in_the_files_is_run_by_the_library() -> None:
    # A query nobody runs is dead SQL, or a renamed one the code lost track of.
    assert set(queries()) == {statement.name for statement in REGISTRY}


def test_each_statement_is_declared_once() -> None:
    keys = [(statement.name, statement.use) for statement in REGISTRY]
    assert len(keys) == len(set(keys))


def test_repositories_take_their_columns_from_the_registered_statements() -> None:
    for repository in (
        ProjectRepository,
        ConversationRepository,
        DocumentRepository,
        RepositoryRepository,
    ):
        statements = repository.statements
        # A recorded write also takes its audit entry's changes (and search terms).
        recorded = {
            None: (),
            "audited": ("changes",),
            "indexed": ("changes", "fields", "terms", "counts"),
        }[statements.recorded]
        assert (*repository.insert_columns, *recorded) == statements.insert.parameters
        assert set(repository.update_columns) | {"id", "version"} | set(recorded[:1]) == set(
            statements.update.parameters
        )
        # Staged for bulk_create: the insert's columns, then the columns only a
        # builder makes (a conversation's messages, written by their own statement).
        staged_only = [c for c in repository.column_builders if c not in repository.insert_columns]
        assert [field.name for field in repository.arrow_schema][1:] == [
            *repository.insert_columns,
            *staged_only,
        ]


def test_no_call_site_names_a_query_by_a_string() -> None:
    """Every runner call passes a registered Statement, never a literal or f-string."""
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in RUNNER_METHODS
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id in {"db", "runner"}
                and node.args
                and isinstance(node.args[0], ast.Constant | ast.JoinedStr)
            ):
                offenders.append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
    assert offenders == []


@pytest.mark.parametrize(
    ("use", "fits"),
    [
        (Use.ROWS, {Operation.SELECT, Operation.INSERT_RETURNING}),
        (Use.ONE, {Operation.SELECT_ONE, Operation.INSERT_RETURNING}),
        (Use.VALUE, {Operation.SELECT_VALUE}),
        (Use.RUN, {Operation.EXECUTE, Operation.SCRIPT, Operation.INSERT_RETURNING}),
    ],
)
def test_each_use_accepts_only_the_operations_that_fit(use: Use, fits: set[Operation]) -> None:
    assert use.accepts == fits
    get_project = queries()["get_project"]  # select one
    statement = Statement("get_project", use, ("id",))
    problem = contract_problem(statement, get_project)
    if Operation.SELECT_ONE in fits:
        assert problem is None
    else:
        assert problem is not None
        assert "declared as select one" in problem
        assert "fix its suffix" in problem


async def test_the_runner_refuses_a_use_or_parameters_other_than_registered(
    engine: DatabaseEngine,
) -> None:
    async with engine.session() as session:

        def wrong_use(db: StatementRunner) -> object:
            return db.rows(sql.PROJECT.get, id=1)

        def missing_parameter(db: StatementRunner) -> object:
            return db.one(sql.PROJECT.get)

        def extra_parameter(db: StatementRunner) -> object:
            return db.one(sql.PROJECT.get, id=1, limit=3)

        for work, needle in (
            (wrong_use, "registered as one(id), not run as rows"),
            (missing_parameter, "not run as one()"),
            (extra_parameter, "not run as one(id, limit)"),
        ):
            with pytest.raises(InvalidQueryError, match=r"statement 'get_project'") as refused:
                await session.run_in_worker(work)
            assert needle in str(refused.value)

        def right(db: StatementRunner) -> object:
            return db.one(sql.PROJECT.get, id=1)

        assert await session.run_in_worker(right) is None


async def test_a_statement_missing_from_the_files_is_refused_by_name(
    engine: DatabaseEngine,
) -> None:
    ghost = Statement("get_ghost", Use.ONE, ("id",))

    async with engine.session() as session:
        with pytest.raises(InvalidQueryError, match=r"no query 'get_ghost'.*check-sql"):
            await session.run_in_worker(lambda db: db.one(ghost, id=1))


async def test_several_statements_of_your_own_in_one_worker_trip(engine: DatabaseEngine) -> None:
    """The public extension point: Session.run_in_worker with the exported runner."""
    from project_architect_db import StatementRunner as PublicRunner

    def work(db: PublicRunner) -> list[object]:
        with db.atomic():
            db.raw("CREATE TABLE notes (n INTEGER)", None)
            db.raw("INSERT INTO notes VALUES ($n), ($m)", {"n": 1, "m": 2})
            return [row["total"] for row in db.raw("SELECT sum(n) AS total FROM notes", None)]

    async with engine.session() as session:
        assert await session.run_in_worker(work) == [3]
        assert engine.stats().queries["execute_raw"].calls == 3

"""The SQL files: found, parsed, documented, and shipped."""

import re

from project_architect_db.core.sql import migrations, queries, sql_directory


def test_sql_directory_holds_the_query_files_and_migrations() -> None:
    directory = sql_directory()
    for name in (
        "projects.sql",
        "conversations.sql",
        "documents.sql",
        "repositories.sql",
        "audit.sql",
    ):
        assert (directory / name).is_file(), name
    assert (directory / "migrations" / "0001_initial.sql").is_file()


def test_every_named_query_has_a_comment_for_analysts() -> None:
    undocumented = [name for name, query in queries().items() if len(query.doc) < 15]
    assert undocumented == []


def test_every_declared_parameter_is_used_and_every_used_one_declared() -> None:
    for name, query in queries().items():
        used = set(re.findall(r"\$([A-Za-z_][A-Za-z0-9_]*)", query.sql))
        assert used == set(query.parameters), name


def test_migrations_are_numbered_from_one_without_gaps() -> None:
    versions = [migration.version for migration in migrations()]
    assert versions == list(range(1, len(versions) + 1))

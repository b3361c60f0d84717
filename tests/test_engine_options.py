"""Engine options live once, in ``EngineConfig``: ``DatabaseEngine`` takes them as
``**options: Unpack[EngineOptions]``, so callers get types while the defaults and
the checks stay in the config model."""

from __future__ import annotations

import inspect
import re
from pathlib import Path
from typing import get_type_hints

import pytest
from pydantic import ValidationError

from project_architect_db import DatabaseEngine
from project_architect_db.core.config import EngineConfig, EngineOptions, check_statement_timeout

REPOSITORY = Path(__file__).resolve().parents[1]


def test_engine_options_are_the_config_fields_but_database() -> None:
    fields = {
        name: field.annotation
        for name, field in EngineConfig.model_fields.items()
        if name != "database"
    }
    assert get_type_hints(EngineOptions) == fields
    assert EngineOptions.__required_keys__ == frozenset()


def test_the_engine_repeats_no_option_and_no_default() -> None:
    parameters = inspect.signature(DatabaseEngine).parameters
    assert [(p.name, p.kind) for p in parameters.values()] == [
        ("database_url", inspect.Parameter.POSITIONAL_OR_KEYWORD),
        ("options", inspect.Parameter.VAR_KEYWORD),
    ]
    assert DatabaseEngine(":memory:").config == EngineConfig(database=":memory:")


def test_options_reach_engine_config() -> None:
    options: EngineOptions = {
        "pool_size": 2,
        "max_overflow": 0,
        "pool_timeout": 1.5,
        "pool_recycle": None,
        "pool_pre_ping": False,
        "threads": 1,
        "memory_limit": "100MB",
        "temp_directory": "/tmp/spill",
        "read_only": False,
        "migrate": False,
        "statement_timeout": 2.0,
        "coalesce_reads": False,
        "group_commit": False,
        "slow_query_threshold": 0.25,
        "log_parameters": True,
    }
    config = DatabaseEngine("duckdb:///app.duckdb", **options).config
    assert config.model_dump() == {"database": "app.duckdb", **options}


def test_an_unknown_option_is_refused_by_name() -> None:
    with pytest.raises(ValidationError, match="pool_sise") as info:
        DatabaseEngine(":memory:", pool_sise=4)  # type: ignore[call-arg]
    assert info.value.errors()[0]["type"] == "extra_forbidden"


@pytest.mark.parametrize("value", [0, -1.0, float("nan")])
def test_statement_timeout_has_one_rule_engine_wide_and_per_session(value: float) -> None:
    with pytest.raises(ValueError, match="statement_timeout must be positive") as rule:
        check_statement_timeout(value)
    with pytest.raises(ValidationError) as engine_wide:
        DatabaseEngine(":memory:", statement_timeout=value)
    # The engine-wide error carries the rule's own message.
    assert str(rule.value) in str(engine_wide.value)


async def test_per_session_statement_timeout_is_checked_before_the_engine_is_used() -> None:
    engine = DatabaseEngine(":memory:")  # never opened: the option is refused first
    with pytest.raises(ValueError, match="statement_timeout must be positive") as info:
        engine.session(statement_timeout=0)
    assert not isinstance(info.value, ValidationError)


def test_mypy_checks_the_options_of_a_call(tmp_path: Path) -> None:
    from mypy import api  # a test dependency (pyproject's [test] extra)

    snippet = tmp_path / "snippet.py"
    snippet.write_text(
        "from project_architect_db import DatabaseEngine\n"
        "good = DatabaseEngine('a.duckdb', pool_size=4, statement_timeout=None)\n"
        "typo = DatabaseEngine('a.duckdb', pool_sise=4)\n"
        "wrong = DatabaseEngine('a.duckdb', pool_size='4')\n",
        encoding="utf-8",
    )
    out, _, _ = api.run(
        [
            "--strict",
            "--config-file",
            str(REPOSITORY / "pyproject.toml"),
            "--cache-dir",
            str(tmp_path / "mypy-cache"),
            str(snippet),
        ]
    )
    # mypy names the file as it was given or relative to the working directory
    # (nox runs pytest with a relative TMPDIR): match on the file's name.
    errors = re.findall(rf"^\S*{re.escape(snippet.name)}:(\d+): error: .*\[([\w-]+)\]$", out, re.M)
    assert errors == [("3", "call-arg"), ("4", "arg-type")], out

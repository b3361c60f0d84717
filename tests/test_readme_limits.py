"""README's generated blocks (field limits, time-series names) are what the
library's models and checks say, so README cannot drift from them."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from helpers import GRANULARITIES as DOCUMENTED_GRANULARITIES
from helpers import METRICS as DOCUMENTED_METRICS

from project_architect_db import AnalyticsRepository, DatabaseEngine, InvalidQueryError
from project_architect_db.schemas import TimeSeriesData
from project_architect_db.schemas.analytics import GRANULARITIES, METRICS
from project_architect_db.schemas.limits import (
    INPUT_MODELS,
    README_BLOCKS,
    REGENERATE,
    field_limits,
    main,
    readme_block,
    replace_readme_blocks,
)

README = Path(__file__).resolve().parent.parent / "README.md"


@pytest.mark.parametrize("name", sorted(README_BLOCKS))
def test_readme_block_is_the_generated_one(name: str) -> None:
    block = readme_block(README.read_text(encoding="utf-8"), name)
    assert block is not None, f"README lost its <!-- {name}:start/end --> markers"
    assert block == README_BLOCKS[name](), (
        f"README's {name} block is out of date; regenerate it with: {REGENERATE}"
    )


def test_field_limits_sit_between_repositories_and_filters() -> None:
    headings = re.findall(r"^##+ .*$", README.read_text(encoding="utf-8"), re.M)
    at = headings.index("### Field limits")
    assert headings[at - 1 : at + 2] == [
        "### Repositories",
        "### Field limits",
        "### Filters and queries",
    ]


def test_every_field_of_every_input_model_is_in_the_table() -> None:
    table = README_BLOCKS["field-limits"]()
    for model in INPUT_MODELS:
        section = table.split(f"**`{model.__name__}`**", 1)[1].split("\n\n**`", 1)[0]
        rows = re.findall(r"^\| `(\w+)` \|", section, re.M)
        assert rows == list(model.model_fields), model.__name__


def json_schema_limits(schema: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    """The limits pydantic's JSON schema gives a property (``| None`` unwrapped)."""
    options = [s for s in schema.get("anyOf", [schema]) if s.get("type") != "null"]
    [option] = options
    if "$ref" in option:
        option = defs[option["$ref"].rsplit("/", 1)[1]]
    keys = {"minLength", "maxLength", "minimum", "maximum", "enum"}
    return {key: value for key, value in option.items() if key in keys}


@pytest.mark.parametrize("model", INPUT_MODELS, ids=lambda model: model.__name__)
def test_described_limits_are_the_ones_pydantic_enforces(model: Any) -> None:
    """An independent reading of the same constraints: pydantic's JSON schema."""
    schema = model.model_json_schema()
    for field in field_limits(model):
        expected = json_schema_limits(schema["properties"][field.name], schema.get("$defs", {}))
        described = {
            "minLength": field.min_length,
            "maxLength": field.max_length,
            "minimum": field.ge,
            "maximum": field.le,
            "enum": list(field.choices) or None,
        }
        assert {k: v for k, v in described.items() if v is not None} == expected, field.name
        assert field.required == (field.name in schema.get("required", [])), field.name


def test_regenerating_rewrites_a_stale_copy_and_check_says_how(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    readme = tmp_path / "README.md"
    current = README.read_text(encoding="utf-8")
    stale = current.replace("| `name` | text | required | 1 to 255 characters |", "| `name` |")
    assert stale != current
    readme.write_text(stale, encoding="utf-8")
    assert main(["--check", str(readme)]) == 1
    assert REGENERATE in capsys.readouterr().err
    assert main(["--write", str(readme)]) == 0
    assert readme.read_text(encoding="utf-8") == replace_readme_blocks(current) == current
    assert main(["--check", str(readme)]) == 0


# -- time series ---------------------------------------------------------------------------


def documented_time_series() -> tuple[list[str], list[str]]:
    """The metric names and granularities README's Analytics section lists."""
    text = README.read_text(encoding="utf-8")
    analytics = text.split("### Analytics\n", 1)[1].split("\n### ", 1)[0]
    block = readme_block(analytics, "time-series-names")
    assert block is not None, "README's Analytics section lost the time-series names"
    found = re.fullmatch(r"- `metric`: (.*)\n- `granularity`: (.*)\n", block)
    assert found is not None, block
    return re.findall(r"`(\w+)`", found[1]), re.findall(r"`(\w+)`", found[2])


def test_readme_lists_the_time_series_names_the_library_accepts() -> None:
    metrics, granularities = documented_time_series()
    assert tuple(metrics) == METRICS == DOCUMENTED_METRICS
    assert tuple(granularities) == GRANULARITIES == DOCUMENTED_GRANULARITIES
    # The result model takes exactly the same names.
    assert TimeSeriesData.model_json_schema()["properties"]["metric"]["enum"] == metrics


async def test_every_documented_name_runs_and_any_other_is_refused(
    engine: DatabaseEngine,
) -> None:
    metrics, granularities = documented_time_series()
    async with engine.session() as session:
        analytics = AnalyticsRepository(session)
        for metric in metrics:
            for granularity in granularities:
                result = await analytics.time_series_analysis(metric, granularity)
                assert (result.metric, result.granularity) == (metric, granularity)
        with pytest.raises(InvalidQueryError, match="is not one of"):
            await analytics.time_series_analysis("visits", "day")
        with pytest.raises(InvalidQueryError, match="is not one of"):
            await analytics.time_series_analysis(metrics[0], "year")

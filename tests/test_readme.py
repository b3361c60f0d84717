"""README's usage example runs as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"


def test_readme_usage_example_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Whole programs (they end in anyio.run); the other blocks are fragments of them.
    blocks = [
        block
        for block in re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
        if "anyio.run(" in block
    ]
    assert blocks, "README has no runnable python example"
    monkeypatch.chdir(tmp_path)
    for block in blocks:
        exec(compile(block, str(README), "exec"), {"__name__": "readme_example"})
    assert (tmp_path / "projects.duckdb").is_file()

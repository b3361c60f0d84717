"""README's usage example runs as written and prints what README says it prints."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"


def test_readme_usage_example_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    text = README.read_text(encoding="utf-8")
    # Whole programs (they end in anyio.run); the other blocks are fragments of them.
    blocks = [
        block for block in re.findall(r"```python\n(.*?)```", text, re.S) if "anyio.run(" in block
    ]
    assert blocks, "README has no runnable python example"
    monkeypatch.chdir(tmp_path)
    for block in blocks:
        exec(compile(block, str(README), "exec"), {"__name__": "readme_example"})
    assert (tmp_path / "projects.duckdb").is_file()

    printed = capsys.readouterr().out
    # What it did: the project, updated to active (version 2), then a
    # conversation on it holding the one message appended.
    assert re.fullmatch(
        r"project (\d+) 'Checkout service': active, version 2\n"
        r"conversation (\d+) 'Kickoff': 1 message\(s\)\n",
        printed,
    ), printed
    # ... and exactly what README shows under "it prints" (a fresh database: ids 1).
    shown = re.search(r"anyio\.run\(main\)\n```\n\n[^\n]*prints:\n\n```text\n(.*?)```", text, re.S)
    assert shown is not None, "README no longer shows what its example prints"
    assert printed == shown[1]

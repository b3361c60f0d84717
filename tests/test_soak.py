"""The soak script (benchmarks/soak.py) at a tiny size, on asyncio and trio: it
runs every kind of operation and its checks pass (fds, threads, pool whole,
audit matches rows; resident memory only means something at full size). No
timing is asserted."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "soak.py"


def load_soak() -> ModuleType:
    """benchmarks/ is not a package: load the script by its path."""
    if "soak" in sys.modules:
        return sys.modules["soak"]
    spec = importlib.util.spec_from_file_location("soak", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["soak"] = module  # dataclasses look their module up while being built
    spec.loader.exec_module(module)
    return module


async def test_a_tiny_soak_passes_every_check(tmp_path: Path, anyio_backend: str) -> None:
    soak = load_soak()
    config = soak.SoakConfig(
        ops=400, tasks=16, seed_projects=40, hot_projects=4, directory=tmp_path
    )
    result = await soak.run_soak(config)
    assert result.backend == anyio_backend
    # Every check but resident memory: 400 operations are too few for "growth after
    # warm-up" to mean anything (a few MiB of noise is more than 10% of nothing),
    # so the memory check is proved by the full soak, not here.
    failures = [f for f in result.failures if not f.startswith("memory:")]
    assert failures == [], soak.report(result)
    assert sum(k.count for k in result.kinds) == 400
    assert {k.kind for k in result.kinds} == set(soak.MIX)
    errors = {k.kind: k.outcomes.get("error", 0) for k in result.kinds}
    assert set(errors.values()) == {0}, errors
    # The pool ended whole and the figures made it into the report.
    assert (result.end.checked_out, result.end.waiters) == (0, 0)
    assert ("all checks passed" in soak.report(result)) is result.passed


def test_main_exits_1_and_names_the_failed_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    soak = load_soak()
    monkeypatch.setattr(soak, "RSS_GROWTH_LIMIT", -1.0)  # any RSS figure now fails
    argv = ["--ops", "100", "--seed-projects", "20", "--directory", str(tmp_path)]
    assert soak.main(argv) == 1
    output = capsys.readouterr().out
    assert "FAILED (" in output
    assert "  - memory: RSS grew" in output
    assert "| get_by_id" in output


def test_quick_is_the_ci_size() -> None:
    soak = load_soak()
    config, backend = soak.parse_args(["--quick", "--backend", "trio", "--seed", "3"])
    assert (config.ops, config.seed, backend) == (soak.QUICK_OPS, 3, "trio")

"""The benchmark gate's decisions and the charts it writes, on made-up results.

Nothing here times anything: the figures are invented so each verdict is
known in advance. ``benchmarks/`` is not a package, so its modules are
imported from that folder; none of them needs the ``bench`` extra.
"""

from __future__ import annotations

import importlib.util
import json
import re
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
if str(BENCHMARKS) not in sys.path:
    sys.path.insert(0, str(BENCHMARKS))

import charts  # noqa: E402
import gate  # noqa: E402
import harness  # noqa: E402
import report  # noqa: E402
import targets  # noqa: E402

SVG = "{http://www.w3.org/2000/svg}"


def result(
    benchmark: str,
    ratio: float,
    baseline: str = harness.RAW_DUCKDB,
    curve: list[tuple[float, float]] | None = None,
) -> harness.Result:
    """A result whose library figure is ``ratio`` times its baseline's."""
    return harness.Result(
        benchmark, benchmark, "ops/s", 100.0 * ratio, 100.0, baseline, curve=curve or []
    )


TARGET = targets.Target(0.8, harness.RAW_DUCKDB, "made up")
MADE_UP = {"thing": TARGET}


@pytest.mark.parametrize(
    ("ratio", "verdict"),
    [
        (1.2, gate.Verdict.PASS),
        (0.8, gate.Verdict.PASS),  # the target itself passes
        (0.79, gate.Verdict.BELOW),
        (0.4, gate.Verdict.BELOW),  # half the target is still only below it
        (0.39, gate.Verdict.FAIL),
        (0.0, gate.Verdict.FAIL),
    ],
)
def test_verdict_by_ratio(ratio: float, verdict: gate.Verdict) -> None:
    assert gate.judge(result("thing", ratio), MADE_UP).verdict is verdict


def test_a_benchmark_without_target_is_reported_but_never_fails() -> None:
    judged = gate.judge_all([result("other", 0.01)], MADE_UP)
    assert judged[0].verdict is gate.Verdict.UNTARGETED
    assert gate.failures(judged) == []


def test_a_result_against_another_baseline_than_its_target_is_refused() -> None:
    with pytest.raises(ValueError, match="thing: measured against"):
        gate.judge(result("thing", 1.0, baseline=harness.SQLALCHEMY_ORM), MADE_UP)


def test_failures_name_each_failing_benchmark_its_ratio_and_target() -> None:
    made_up = {"a": TARGET, "b": targets.Target(3.0, harness.RAW_DUCKDB, "made up"), "c": TARGET}
    judged = gate.judge_all([result("a", 0.3), result("b", 1.2), result("c", 0.7)], made_up)
    failed = gate.failures(judged)
    assert failed == [
        "a 0.30x (target >= 0.80x, fails below 0.40x)",
        "b 1.20x (target >= 3.00x, fails below 1.50x)",
    ]
    line = gate.failure_line(failed)
    assert "\n" not in line
    assert line.startswith("benchmark gate FAILED (2): a 0.30x")
    assert gate.failure_line(failed, gating=False).startswith("the benchmark gate (--gate) would")


def test_the_table_shows_ratio_target_and_verdict_of_each_benchmark() -> None:
    judged = gate.judge_all([result("thing", 0.9), result("other", 2.0)], MADE_UP) + gate.judge_all(
        [result("thing", 0.1)], MADE_UP
    )
    text = gate.table(judged)
    lines = text.splitlines()
    assert len(lines) == 2 + 3  # header, rule, three results
    cells = [re.split(r"\s{2,}", line.strip()) for line in lines[2:]]
    assert cells[0][3:] == ["0.90x", ">= 0.80x", "PASS"]
    assert cells[1][3:] == ["2.00x", "-", "no target"]
    assert cells[2][3:] == ["0.10x", ">= 0.80x", "FAIL"]


def test_every_target_names_a_known_baseline_and_a_positive_ratio() -> None:
    baselines = {
        harness.RAW_DUCKDB,
        harness.RAW_ONE_STATEMENT,
        harness.EMPTY_CONVERSATION,
        harness.SQLALCHEMY_ORM,
        harness.UNBATCHED,
    }
    for name, target in targets.TARGETS.items():
        assert target.baseline in baselines, name
        assert target.minimum > 0, name
    # The contract of issue 12, item 6.
    assert targets.TARGETS["list"].minimum == 1.5
    assert targets.TARGETS["bulk_create"].minimum == 3.0
    assert targets.TARGETS["project_metrics"].minimum == pytest.approx(1 / 1.1)
    # The contract of issue 13.
    assert targets.TARGETS["concurrent_get"].minimum == 3.0
    assert targets.TARGETS["concurrent_create"].minimum == 2.0
    assert targets.TARGETS["lone_get_by_id"].minimum == 0.95
    assert targets.TARGETS["lone_create"].minimum == 0.95


def parse(path: Path) -> ET.Element:
    return ET.fromstring(path.read_text(encoding="utf-8"))


def with_class(root: ET.Element, tag: str, name: str) -> list[ET.Element]:
    return [e for e in root.iter(SVG + tag) if e.get("class") == name]


def test_charts_are_svg_with_one_bar_per_result_and_one_mark_per_target(
    tmp_path: Path,
) -> None:
    judged = gate.judge_all(
        [
            result("get_by_id", 0.85),
            result("list", 0.5, harness.RAW_ONE_STATEMENT),
            result("search", 0.96),  # no target
            result(
                "append_message",
                0.95,
                harness.EMPTY_CONVERSATION,
                curve=[(0.0, 3.0), (1000.0, 3.1), (10000.0, 3.2)],
            ),
            result('odd <name> & "quotes"', 1.0),  # escaped, still well-formed
        ]
    )
    written = charts.write_charts(tmp_path, judged, [], "test run")
    assert [p.name for p in written] == ["ratios.svg", "append.svg"]

    ratios = parse(tmp_path / "ratios.svg")
    assert ratios.tag == SVG + "svg"
    assert len(with_class(ratios, "rect", "bar")) == 5
    assert len(with_class(ratios, "line", "target")) == 3  # get_by_id, list, append_message
    assert "test run" in (ratios.findtext(SVG + "title") or "")

    append = parse(tmp_path / "append.svg")
    assert len(with_class(append, "circle", "point")) == 3


def test_peers_chart_has_one_bar_per_implementation_and_operation(tmp_path: Path) -> None:
    peers = [
        harness.PeerResult("get_by_id", "ops/s", {"this library": 600.0, "raw aiosqlite": 9e3}),
        harness.PeerResult("create", "ops/s", {"this library": 150.0, "raw aiosqlite": 1.6e3}),
    ]
    written = charts.write_charts(tmp_path, [], peers, "test run")
    assert {p.name for p in written} == {"ratios.svg", "peers.svg"}
    assert len(with_class(parse(tmp_path / "peers.svg"), "rect", "bar")) == 4


def test_a_chart_this_run_has_no_data_for_is_removed(tmp_path: Path) -> None:
    stale = tmp_path / "append.svg"
    stale.write_text("<svg/>")
    charts.write_charts(tmp_path, gate.judge_all([result("get_by_id", 1.0)]), [], "test run")
    assert not stale.exists()
    assert (tmp_path / "ratios.svg").exists()


def test_report_keeps_ratio_target_and_verdict(tmp_path: Path) -> None:
    judged = gate.judge_all([result("get_by_id", 0.3)])
    json_path, md_path = report.write_report(tmp_path, "Benchmarks (test)", judged, [], [])
    saved = json.loads(json_path.read_text())
    assert saved["results"][0]["verdict"] == "FAIL"
    assert saved["results"][0]["target"] == 0.8
    assert "| get_by_id |" in md_path.read_text()


def test_a_missing_bench_extra_is_a_clear_usage_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = importlib.util.spec_from_file_location("benchmarks_run", BENCHMARKS / "run.py")
    assert spec is not None
    assert spec.loader is not None
    run = importlib.util.module_from_spec(spec)
    sys.modules["benchmarks_run"] = run  # dataclasses look their module up while being built
    spec.loader.exec_module(run)
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(SystemExit) as stopped:
        run.cli(["--quick", "--peers", "--only", "get_by_id", "bulk_create"])
    assert stopped.value.code == 2
    error = capsys.readouterr().err
    assert "bulk_create needs sqlalchemy" in error
    assert "--peers needs aiosqlite" in error
    assert "pip install '.[bench]'" in error

"""The benchmark gate: each result judged against its target, the table that
shows it, and the decision whether the run fails.

Verdicts: PASS at or above the target; "below target" under it but not under
half of it (work to do, or noise on a shared machine); FAIL under half the
target, a gross regression that noise does not explain. Only FAIL fails the
gate.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from harness import Result
from targets import TARGETS, Target


class Verdict(StrEnum):
    PASS = "PASS"
    BELOW = "below target"
    FAIL = "FAIL"
    UNTARGETED = "no target"


@dataclass(frozen=True)
class Judged:
    result: Result
    target: Target | None
    verdict: Verdict


def judge(result: Result, targets: Mapping[str, Target] = TARGETS) -> Judged:
    """``result`` against its target (none: never fails).

    Raises ``ValueError`` when the result was measured against another baseline
    than its target names: the ratio would mean something else.
    """
    target = targets.get(result.benchmark)
    if target is None:
        return Judged(result, None, Verdict.UNTARGETED)
    if result.baseline != target.baseline:
        raise ValueError(
            f"{result.benchmark}: measured against {result.baseline!r}, "
            f"but its target is against {target.baseline!r}"
        )
    if result.ratio >= target.minimum:
        verdict = Verdict.PASS
    elif result.ratio >= target.fail_below:
        verdict = Verdict.BELOW
    else:
        verdict = Verdict.FAIL
    return Judged(result, target, verdict)


def judge_all(results: Sequence[Result], targets: Mapping[str, Target] = TARGETS) -> list[Judged]:
    return [judge(result, targets) for result in results]


def failures(judged: Sequence[Judged]) -> list[str]:
    """One phrase per FAIL: the benchmark, its ratio and its target."""
    return [
        f"{j.result.benchmark} {j.result.ratio:.2f}x (target {_ratio(j.target.minimum)}, "
        f"fails below {j.target.fail_below:.2f}x)"
        for j in judged
        if j.verdict is Verdict.FAIL and j.target is not None
    ]


def failure_line(failed: Sequence[str], *, gating: bool = True) -> str:
    """The one line printed when ratios are below half their targets: the gate's
    failure, or (``gating`` off) what would fail it."""
    said = "benchmark gate FAILED" if gating else "the benchmark gate (--gate) would fail"
    return f"{said} ({len(failed)}): " + "; ".join(failed)


def _ratio(value: float) -> str:
    return f">= {value:.2f}x"


def _row(j: Judged) -> list[str]:
    r = j.result
    return [
        r.name,
        f"{r.library_per_second:,.1f} {r.unit}",
        f"{r.baseline_per_second:,.1f} {r.unit} ({r.baseline})",
        f"{r.ratio:.2f}x",
        _ratio(j.target.minimum) if j.target else "-",
        j.verdict.value,
    ]


HEADER = ["benchmark", "library", "baseline", "ratio", "target", "verdict"]


def table(judged: Sequence[Judged]) -> str:
    """The results as aligned plain text, for the console."""
    rows = [HEADER, *(_row(j) for j in judged)]
    widths = [max(len(row[k]) for row in rows) for k in range(len(HEADER))]
    right = {1, 2, 3, 4}  # numbers line up on the right
    lines = [
        "  ".join(
            cell.rjust(widths[k]) if k in right else cell.ljust(widths[k])
            for k, cell in enumerate(row)
        ).rstrip()
        for row in rows
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def markdown_table(judged: Sequence[Judged]) -> list[str]:
    """The results as a Markdown table, with each benchmark's notes."""
    lines = [
        "| " + " | ".join([*HEADER, "notes"]) + " |",
        "| --- | ---: | ---: | ---: | ---: | --- | --- |",
    ]
    for j in judged:
        lines.append("| " + " | ".join([*_row(j), j.result.notes]) + " |")
    return lines

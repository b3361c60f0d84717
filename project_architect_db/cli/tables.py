"""Aligned text tables for the terminal."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TextIO

__all__ = ["print_table", "truncate"]


def truncate(text: str, width: int) -> str:
    """``text`` on one line, cut to ``width`` characters with an ellipsis."""
    flat = " ".join(text.split()) if ("\n" in text or "\t" in text) else text
    return flat if len(flat) <= width else flat[: max(width - 1, 0)] + "…"


def print_table(
    header: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    max_width: int = 40,
    stream: TextIO | None = None,
) -> None:
    """Columns aligned to their widest cell; cells longer than ``max_width`` are cut."""
    out = stream or sys.stdout
    cells = [[truncate(cell, max_width) for cell in row] for row in rows]
    widths = [len(name) for name in header]
    for row in cells:
        widths = [max(width, len(cell)) for width, cell in zip(widths, row, strict=True)]
    line = "  ".join(name.ljust(width) for name, width in zip(header, widths, strict=True))
    out.write(line.rstrip() + "\n")
    out.write("  ".join("-" * width for width in widths) + "\n")
    for row in cells:
        out.write(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
            + "\n"
        )

"""Fixed-width terminal tables (the `rich` format) drawn without importing rich: the layout of
rich's SIMPLE_HEAD box (header, a rule, rows, a rule before totals) in a few lines of Python,
so `cnncost table vgg19` starts fast.  Tables take their natural width; numbers never wrap.
Colour (bold header and totals, dim --show-work lines) only when asked, as ANSI codes.
"""
from __future__ import annotations

import os
import sys

GAP = "   "
RULE = "\u2500"
BOLD, DIM, RESET = "\x1b[1m", "\x1b[2m", "\x1b[0m"


def use_color(color: bool | None) -> bool:
    """Colour when asked, or by default when stdout is a terminal and NO_COLOR is unset."""
    if color is not None:
        return color
    return sys.stdout.isatty() and "NO_COLOR" not in os.environ


def grid(header: list, rows: list, *, right=frozenset(), styles: list | None = None, total: list | None = None,
         color: bool = False) -> list[str]:
    """Lines of an aligned table.  Cells may hold several lines ('\\n'); `styles[i]` is None or
    'dim' for row i; `total` is a last row set off by a rule."""
    body = [header] + rows + ([total] if total else [])
    split = [[str(c).split("\n") for c in r] for r in body]
    widths = [max(len(line) for r in split for line in r[i]) for i in range(len(header))]

    def fmt(cells, style=None) -> list[str]:
        height = max(len(c) for c in cells)
        out = []
        for k in range(height):
            parts = []
            for i, c in enumerate(cells):
                text = c[k] if k < len(c) else ""
                parts.append(text.rjust(widths[i]) if i in right else text.ljust(widths[i]))
            line = GAP.join(parts).rstrip()
            if color and style:
                line = f"{BOLD if style == 'bold' else DIM}{line}{RESET}"
            out.append(line)
        return out

    rule = RULE * len(GAP.join(" " * w for w in widths))
    lines = fmt(split[0], "bold") + [rule]
    for i, cells in enumerate(split[1:len(rows) + 1]):
        lines += fmt(cells, styles[i] if styles else None)
    if total:
        lines += [rule] + fmt(split[-1], "bold")
    return lines

"""A View as the terminal table of `--format rich`: title, aligned columns, TOTAL, notes, footer.

Drawn by `cnncost.render.text` (no rich import).  A closed-form TOTAL too long for a cell is
listed under the table instead.
"""
from __future__ import annotations

from cnncost.render.format import NUMERIC, View
from cnncost.render.text import grid, use_color

#: a total cell longer than this moves the TOTAL row under the table
LONG = 40


def long_total(v: View) -> bool:
    return any(len(v.total[k]) > LONG for k, _ in v.columns)


def total_lines(v: View) -> list:
    return ["TOTAL"] + [f"  {header}: {v.total[k]}" for k, header in v.columns if k not in ("name", "kind")]


def render(v: View, *, color: bool | None = None) -> str:
    keys = [k for k, _ in v.columns]
    right = {i for i, k in enumerate(keys) if k in NUMERIC}
    rows, styles = [], []
    for i, cells in enumerate(v.rows):
        rows.append([("  " * v.depths[i] + cells[k]) if k == "name" else cells[k] for k in keys])
        styles.append(None)
        if v.work and v.work[i]:
            rows.append([v.work[i].get(k, "") for k in keys])
            styles.append("dim")
    long = long_total(v)
    total = None if long else [v.total[k] for k in keys]
    lines = [v.title, ""] + grid([h for _, h in v.columns], rows, right=right, styles=styles, total=total,
                                 color=use_color(color))
    lines += [""] + (total_lines(v) if long else []) + v.notes + v.footer
    return "\n".join(lines) + "\n"

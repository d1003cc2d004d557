"""A View as the terminal table of `--format rich`: title, aligned columns, TOTAL, notes, footer,
fitted to the terminal's width (`cnncost.render.text`; no rich import).

Counts offer three forms, tried in order until the table fits: '3,211,264 (3.2M)', '3,211,264',
'3.2M'; then columns go by their priority (`format.COLUMNS`).  When the counts are shortened the
exact totals follow the table, so every exact figure is still on screen.  `--show-work`
arithmetic is a dim line under its row.  A closed-form TOTAL too long for a cell is listed under
the table instead.
"""
from __future__ import annotations

from cnncost.render.format import View, text
from cnncost.render.text import Column, draw, dropped_note, terminal_width, use_color, wrap_text

#: a total cell longer than this moves the TOTAL row under the table
LONG = 40
FORMS = ("full", "exact", "short")
#: labels of the --show-work entries
WORK_LABELS = {"weights": "weights", "biases": "biases", "activations": "activations", "macs": "MACs",
               "flops": "FLOPs"}


def long_total(v: View) -> bool:
    return any(len(v.total[c.key]) > LONG for c in v.columns)


def total_lines(v: View) -> list:
    return ["TOTAL"] + [f"  {c.header}: {v.total[c.key]}" for c in v.columns if c.key not in ("name", "kind")]


def _forms(v: View, col, with_total: bool) -> list:
    if not col.numeric:
        cells = [("  " * v.depths[i] + r["name"]) if col.key == "name" else r[col.key] for i, r in enumerate(v.rows)]
        return [cells + ([v.total[col.key]] if with_total else [])]
    plus = " + ?" if col.key in v.incomplete else ""
    forms = []
    for form in FORMS if col.key != "rf" else ("full",):
        cells = [text(col.key, x[col.key], form) for x in v.values]
        if with_total:
            cells.append(text(col.key, v.total_values[col.key], form) + plus)
        forms.append(cells)
    return forms


def work_line(work: dict) -> str:
    """One row's --show-work cells as 'weights (3*3*64)*128 = 73,728; MACs ...'."""
    parts = []
    for key, cell in work.items():
        for line in cell.split("\n"):
            parts.append(f"{WORK_LABELS[key]} {line}" if key in WORK_LABELS and ": " not in line else line)
    return ";  ".join(parts)


def exact_totals(v: View) -> str:
    return "TOTAL exactly: " + ", ".join(f"{c.header} {text(c.key, v.total_values[c.key], 'exact')}"
                                         f"{' + ?' if c.key in v.incomplete else ''}"
                                         for c in v.columns if c.numeric and c.key != "rf")


def render(v: View, *, color: bool | None = None, width: int | None = None) -> str:
    """`width`: None fits the terminal ($COLUMNS, else the tty, else 80); 0 draws every column in full."""
    w = terminal_width(width)
    long = long_total(v)
    cols = [Column(c.header, _forms(v, c, not long), right=c.numeric, priority=c.priority, key=c.key,
                   wrap=c.key == "output_shape") for c in v.columns]
    spans = {i: "  " * v.depths[i] + "-> " + work_line(cells) for i, cells in enumerate(v.work or []) if cells}
    table, dropped, level = draw(cols, len(v.rows), total=not long, spans=spans, width=w, color=use_color(color))
    notes = ([dropped_note(dropped)] if dropped else []) + ([exact_totals(v)] if level == 2 and not long else [])
    after = (total_lines(v) if long else []) + notes + v.notes + v.footer
    out = wrap_text(v.title, w) + [""] + table + [""]
    for line in after:
        out += wrap_text(line, w, "    ")
    return "\n".join(out) + "\n"

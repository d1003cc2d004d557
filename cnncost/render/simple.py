"""Small tables (model list, inception comparison, receptive fields, formulas) in any text format.

A table is a title, a header, rows of strings and notes; `render` draws it as a terminal table
(`rich` format, `cnncost.render.text`), Markdown or CSV.  JSON output is built by each command from its raw values instead.
"""
from __future__ import annotations

import csv
import io


def render(fmt: str, title: str, header: list, rows: list, notes: list = (), right: set = frozenset(), *,
           priority: dict | None = None, wrap=frozenset(), width: int | None = None) -> str:
    """`right` holds the indices of right-aligned (numeric) columns.  The terminal table fits
    `width` (None: the terminal's, 0: no limit): columns in `wrap` wrap at spaces, and column i
    is dropped when still too wide, highest `priority[i]` first.  CSV cells should be plain values
    (exact numbers without separators), as callers pass them."""
    if fmt == "csv":
        buf = io.StringIO()
        out = csv.writer(buf, lineterminator="\n")
        out.writerow(header)
        out.writerows([[getattr(c, "plain", c) for c in r] for r in rows])
        return buf.getvalue()
    if fmt == "markdown":
        from cnncost.render.markdown import table
        parts = [f"**{title}**", "", table(header, [[str(c) for c in r] for r in rows], right)]
        if notes:
            parts += [""] + [f"- {n}" for n in notes]
        return "\n".join(parts) + "\n"
    from cnncost.render.text import grid, terminal_width, wrap_text
    w = terminal_width(width)
    lines = (wrap_text(title, w) + [""] if title else []) + grid(header, rows, right=right, width=width,
                                                                   priority=priority, wrap=wrap)
    for note in [""] + list(notes) if notes else []:
        lines += wrap_text(note, w, "    ")
    return "\n".join(lines) + "\n"

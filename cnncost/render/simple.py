"""Small tables (model list, inception comparison, receptive fields, formulas) in any text format.

A table is a title, a header, rows of strings and notes; `render` draws it as a terminal table
(`rich` format, `cnncost.render.text`), Markdown or CSV.  JSON output is built by each command from its raw values instead.
"""
from __future__ import annotations

import csv
import io


def render(fmt: str, title: str, header: list, rows: list, notes: list = (), right: set = frozenset()) -> str:
    """`right` holds the indices of right-aligned (numeric) columns."""
    if fmt == "csv":
        buf = io.StringIO()
        out = csv.writer(buf, lineterminator="\n")
        out.writerow(header)
        out.writerows(rows)
        return buf.getvalue()
    if fmt == "markdown":
        from cnncost.render.markdown import table
        parts = [f"**{title}**", "", table(header, rows, right)]
        if notes:
            parts += [""] + [f"- {n}" for n in notes]
        return "\n".join(parts) + "\n"
    return _text(title, header, rows, notes, right)


def _text(title, header, rows, notes, right) -> str:
    from cnncost.render.text import grid
    lines = [title, ""] + grid(header, rows, right=right) + ([""] + list(notes) if notes else [])
    return "\n".join(lines) + "\n"

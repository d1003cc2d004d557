"""A View as a GitHub-flavoured Markdown table (layer names are dotted paths, so depth shows)."""
from __future__ import annotations

from cnncost.render.format import View


def cell(text: str) -> str:
    """Escape pipes and turn line breaks into <br> so one cell stays one cell."""
    return str(text).replace("|", "\\|").replace("\n", "<br>")


def code(text: str) -> str:
    """Each line as a code span (formulas keep their '*'), lines joined by <br>."""
    return "<br>".join(f"`{line}`" for line in str(text).split("\n") if line)


def table(header: list, rows: list, right: set | frozenset = frozenset()) -> str:
    """A Markdown table from header texts and rows of cell texts; columns in `right` right-aligned."""
    rule = ["---:" if i in right else "---" for i in range(len(header))]
    lines = ["| " + " | ".join(cell(h) for h in header) + " |", "|" + "|".join(rule) + "|"]
    lines += ["| " + " | ".join(cell(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def render(v: View) -> str:
    keys = [c.key for c in v.columns]
    right = {i for i, c in enumerate(v.columns) if c.numeric}
    rows = []
    for i, cells in enumerate(v.rows):
        rows.append([cells[k] for k in keys])
        if v.work and v.work[i]:
            rows.append([code(v.work[i][k]) if v.work[i].get(k) else "" for k in keys])
    rows.append([f"**{v.total[k]}**" if v.total[k] else "" for k in keys])
    parts = [f"**{v.title}**", "", table([c.header for c in v.columns], rows, right), ""]
    parts += [f"- {line.strip()}" for line in v.notes + v.footer]
    return "\n".join(parts) + "\n"

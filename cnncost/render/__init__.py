"""Renderers: a Report as a rich table, Markdown, CSV or JSON (`render(report, fmt, ...)`).

Each format lives in its own module and is imported only when used.  The `rich` format is a
terminal table fitted to the terminal's width, drawn by `cnncost.render.text` without importing
rich (startup time).
"""
from __future__ import annotations

from cnncost.errors import CostError

FORMATS = ("rich", "markdown", "csv", "json")


def check_format(fmt: str) -> str:
    if fmt not in FORMATS:
        raise CostError(f"unknown format {fmt!r}; known: {', '.join(FORMATS)}")
    return fmt


def render(report, fmt: str = "rich", *, no_bias: bool = False, show_work: bool = False,
           color: bool | None = None, width: int | None = None, title: str | None = None, extra=()) -> str:
    """The per-layer table of `report` as text in `fmt`; the rich table fits `width` columns
    (None: the terminal's; 0: no limit, every column in full); `extra` names optional columns."""
    check_format(fmt)
    if fmt == "json":
        from cnncost.render import json
        return json.render(report, no_bias=no_bias)
    if fmt == "csv":
        from cnncost.render import csv
        return csv.render(report, no_bias=no_bias, show_work=show_work, extra=extra)
    from cnncost.render.format import view
    v = view(report, no_bias=no_bias, show_work=show_work, title_text=title, extra=extra)
    if fmt == "markdown":
        from cnncost.render import markdown
        return markdown.render(v)
    from cnncost.render import terminal
    return terminal.render(v, color=color, width=width)

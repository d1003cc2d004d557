"""Terminal tables (the `rich` format) drawn without importing rich, fitted to the terminal width.

The layout is rich's SIMPLE_HEAD box (header, a rule, rows, a rule before totals).  A table
wider than the terminal is fitted the way rich fits one, in this order:
1. each column's narrower form (a column may offer several, e.g. '3,211,264 (3.2M)' then '3.2M');
2. text columns wrap at spaces (numbers never wrap);
3. columns are dropped, highest `priority` first (0 = never dropped); `fit` says which.
Rows may also be a plain string: a line spanning the table (e.g. --show-work arithmetic), wrapped
to the width.  Colour (bold header and totals, dim span lines) only when asked, as ANSI codes.
"""
from __future__ import annotations

import os
import sys
import textwrap

GAP = "  "
RULE = "\u2500"
BOLD, DIM, RESET = "\x1b[1m", "\x1b[2m", "\x1b[0m"
#: a wrapped text column keeps at least this many characters
MIN_WRAP = 20
#: width when stdout is not a terminal and COLUMNS is unset (rich's default)
DEFAULT_WIDTH = 80


def rule_char() -> str:
    """The rule under the header: a box-drawing line on a UTF-8 terminal; '-' in a pipe or file,
    so that every line there has as many bytes as columns (awk, cut and diff count bytes)."""
    encoding = (getattr(sys.stdout, "encoding", None) or "").lower().replace("-", "")
    return RULE if sys.stdout.isatty() and encoding == "utf8" else "-"


def use_color(color: bool | None) -> bool:
    """Colour when asked, or by default when stdout is a terminal and NO_COLOR is unset."""
    if color is not None:
        return color
    return sys.stdout.isatty() and "NO_COLOR" not in os.environ


def terminal_width(width: int | None = None) -> int | None:
    """`width` if given (0 or less: unlimited, None returned); else $COLUMNS; else the terminal's
    width when stdout is one; else 80."""
    if width is not None:
        return width if width > 0 else None
    env = os.environ.get("COLUMNS", "")
    if env.isdigit() and int(env) > 0:
        return int(env)
    try:
        if sys.stdout.isatty():
            return os.get_terminal_size(sys.stdout.fileno()).columns
    except (OSError, ValueError, AttributeError):
        pass
    return DEFAULT_WIDTH


class Column:
    """One column: `forms[0]` the full cells (one per body row, then the total if any), later forms
    narrower alternatives of the same cells.  `priority` 0 is never dropped; higher goes first."""

    def __init__(self, header: str, forms: list, right: bool = False, priority: int = 0, wrap: bool = False,
                 key: str = ""):
        self.header, self.forms, self.right, self.priority, self.wrap, self.key = \
            header, forms, right, priority, wrap, key
        self._natural: dict = {}

    def cells(self, level: int) -> list:
        return self.forms[min(level, len(self.forms) - 1)]

    def natural(self, level: int) -> int:
        """Width of the widest cell (or the header) in form `level`, computed once."""
        level = min(level, len(self.forms) - 1)
        if level not in self._natural:
            self._natural[level] = max([_width(self.header)] + [_width(c) for c in self.forms[level]])
        return self._natural[level]


def _width(text) -> int:
    text = str(text)
    if "\n" not in text:
        return len(text)
    return max(len(line) for line in text.split("\n"))


def _min_width(col: Column, level: int) -> int:
    """Narrowest a column may be: MIN_WRAP for wrapping text (longer words break), else natural."""
    return min(MIN_WRAP, col.natural(level)) if col.wrap else col.natural(level)


def _total(widths: list) -> int:
    return sum(widths) + len(GAP) * (len(widths) - 1)


def _squeeze(cols: list, level: int, width: int) -> list | None:
    """Column widths that fit `width`, shrinking wrapping columns (widest first), or None."""
    widths = [c.natural(level) for c in cols]
    floor = [_min_width(c, level) for c in cols]
    excess = _total(widths) - width
    while excess > 0:
        i = max((j for j in range(len(cols)) if widths[j] > floor[j]), key=lambda j: widths[j] - floor[j],
                default=None)
        if i is None:
            return None
        cut = min(excess, widths[i] - floor[i], max(1, (widths[i] - floor[i] + 1) // 2))
        widths[i] -= cut
        excess -= cut
    return widths


def fit(cols: list, width: int | None) -> tuple[list, int, list, list]:
    """(columns kept, form level, their widths, headers dropped) for a table `width` wide (None: any)."""
    levels = max(len(c.forms) for c in cols)
    if width is None:
        return cols, 0, [c.natural(0) for c in cols], []
    for level in range(levels):
        if _total([c.natural(level) for c in cols]) <= width:
            return cols, level, [c.natural(level) for c in cols], []
    level, kept = levels - 1, list(cols)
    while True:
        widths = _squeeze(kept, level, width)
        droppable = [c for c in kept if c.priority > 0]
        if widths is not None or not droppable:
            break
        worst = max(droppable, key=lambda c: (c.priority, kept.index(c)))
        kept.remove(worst)
    if widths is None:  # only columns that are never dropped: let them overflow
        widths = [_min_width(c, level) for c in kept]
    return kept, level, widths, [c.header for c in cols if c not in kept]


def _lines(text: str, width: int, wrap: bool) -> list[str]:
    out = []
    for line in str(text).split("\n"):
        out += (textwrap.wrap(line, width, break_on_hyphens=False) or [""]) if wrap and len(line) > width else [line]
    return out


def wrap_text(text: str, width: int | None, indent: str = "") -> list[str]:
    """A note or span line wrapped at spaces to `width`, continuation lines indented."""
    lead = text[:len(text) - len(text.lstrip(" "))]
    if width is None or len(text) <= width:
        return [text]
    return textwrap.wrap(text.strip(), width, initial_indent=lead, subsequent_indent=lead + (indent or "  "),
                         break_on_hyphens=False, break_long_words=True)


def draw(cols: list, rows: int, *, total: bool = False, spans: dict | None = None, width: int | None = None,
         color: bool = False) -> tuple[list[str], list[str], int]:
    """(lines, dropped headers, form level used) of the table: `rows` body rows (cells `col.forms[..][i]`), then the
    total row (the cells after the body) set off by a rule.  `spans` maps a body row index to
    text drawn under that row across the table, dimmed and wrapped."""
    kept, level, widths, dropped = fit(cols, width)
    rule_width = _total(widths)

    def line_set(cells, style=None) -> list[str]:
        split = [_lines(c, w, col.wrap) for c, w, col in zip(cells, widths, kept)]
        out = []
        for k in range(max(len(s) for s in split)):
            parts = [(s[k] if k < len(s) else "") for s in split]
            parts = [p.rjust(w) if col.right else p.ljust(w) for p, w, col in zip(parts, widths, kept)]
            line = GAP.join(parts).rstrip()
            out.append(f"{BOLD if style == 'bold' else DIM}{line}{RESET}" if color and style else line)
        return out

    lines = line_set([c.header for c in kept], "bold") + [rule_char() * rule_width]
    for i in range(rows):
        lines += line_set([c.cells(level)[i] for c in kept])
        if spans and spans.get(i):
            for text in spans[i].split("\n"):
                lines += [f"{DIM}{s}{RESET}" if color else s
                          for s in wrap_text("  " + text, max(width or 0, rule_width) or None, "     ")]
    if total:
        lines += [rule_char() * rule_width] + line_set([c.cells(level)[rows] for c in kept], "bold")
    return lines, dropped, level


def grid(header: list, rows: list, *, right=frozenset(), total: list | None = None, color: bool = False,
         width: int | None = None, priority: dict | None = None, wrap=frozenset()) -> list[str]:
    """Lines of a simple table from a header and rows of cells, fitted to `width` (None: the
    terminal's; 0: natural width).
    `priority[i]` lets column i be dropped when the table is too wide; columns in `wrap` wrap."""
    body = rows + ([total] if total else [])
    cols = [Column(h, _cell_forms([r[i] for r in body]), right=i in right, priority=(priority or {}).get(i, 0),
                   wrap=i in wrap) for i, h in enumerate(header)]
    w = terminal_width(width)
    lines, dropped, _ = draw(cols, len(rows), total=bool(total), width=w, color=color)
    if dropped:
        lines += wrap_text(dropped_note(dropped), w, " ")
    return lines


def _cell_forms(cells: list) -> list:
    """A column's forms: a cell with `.forms` (e.g. `format.Num`) offers narrower texts; others are
    the same text in every form."""
    n = max((len(c.forms) for c in cells if hasattr(c, "forms")), default=1)
    return [[(c.forms[min(k, len(c.forms) - 1)] if hasattr(c, "forms") else str(c)) for c in cells]
            for k in range(n)]


def dropped_note(dropped: list) -> str:
    return f"(not shown, too narrow a terminal: {', '.join(dropped)}; --wide shows every column)"

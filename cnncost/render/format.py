"""What every renderer shows, as text: a Report becomes a `View` (header, columns, cells, footer).

Numbers are exact first, human units beside them: 3211264 -> "3,211,264 (3.2M)"; a narrow
terminal gets the human units alone ("3.2M", `short`), and from 10^15 an exponent ("3.9e15").
Unknown costs (ops no rule knows) are "?", never 0.  Symbolic sizes print as sympy writes them.
Memory is in binary units (MiB, GiB, up to PiB, then "8.19e25 B").  The rich and markdown renderers draw a View; CSV and JSON use the raw
values (`plain`, `jsonable`).
"""
from __future__ import annotations

from fractions import Fraction
from typing import NamedTuple

from cnncost.sizes import exact, is_concrete


class Col(NamedTuple):
    """A per-layer column: the Row/total key it shows, its header, and the priority by which a
    narrow terminal drops it (0: never; the highest goes first).  `optional` columns appear only
    when a command asks for them (`view(..., extra=(key, ...))`)."""
    key: str
    header: str
    priority: int
    numeric: bool = True
    optional: bool = False


#: every per-layer column, in order: the one place a column is declared
COLUMNS = (
    Col("name", "layer", 0, numeric=False),
    Col("kind", "kind", 6, numeric=False),
    Col("output_shape", "output (HxWxC)", 1, numeric=False),
    Col("weights", "weights", 9),
    Col("biases", "biases", 10),
    Col("params", "params", 2),
    Col("activations", "activations", 5),
    Col("macs", "MACs", 4),
    Col("flops", "FLOPs", 3),
    Col("rf", "RF", 7),
    Col("backward_flops", "backward FLOPs", 3, optional=True),
    Col("saved_bytes", "saved", 2, optional=True),
)
#: columns that hold bytes: shown in binary units (MiB, GiB)
BYTE_COLUMNS = frozenset({"saved_bytes"})
#: counts from this size up get human units beside them
HUMAN_FROM = 10_000
NUMERIC = frozenset(c.key for c in COLUMNS if c.numeric)
#: row.work keys shown in their own column under --show-work; the others join the FLOPs cell
WORK_COLUMNS = ("weights", "biases", "activations", "macs", "flops")
#: from this size on, human units become an exponent: 3.9e15 rather than thousands of P
EXPONENT_FROM = 10 ** 15
#: an exact number longer than this many digits is written with an exponent on screen (CSV and
#: JSON keep every digit)
MAX_DIGITS = 30


def _exponent(x, digits: int = 1) -> str:
    """3.9e15, never 3.9e+15; also for integers beyond a float's range (3^10000 -> 1.6e4771)."""
    if isinstance(x, int) and x.bit_length() > 1000:
        import math
        e = math.floor(math.log10(abs(x)))
        text = f"{10 ** (math.log10(abs(x)) - e):.{digits}f}"
        if text.startswith("10"):
            text, e = f"{1:.{digits}f}", e + 1
        return f"{'-' if x < 0 else ''}{text}e{e}"
    mantissa, _, exp = f"{float(x):.{digits}e}".partition("e")
    return f"{mantissa}e{int(exp)}"


def digits(x) -> str:
    """Exact with thousands separators ('3,211,264'), or an exponent beyond MAX_DIGITS digits."""
    if is_concrete(x) and not isinstance(x, Fraction) and abs(x) >= 10 ** MAX_DIGITS:
        return _exponent(x)
    return exact(x)


def short(x) -> str:
    """Human units alone, narrowest form: 999, 36.9K, 3.2M, 143.7M, 19.6G, 1.2T, 3.9e15; '?' unknown."""
    if x is None:
        return "?"
    if not is_concrete(x):
        return str(x)
    if abs(x) < 1000:
        return exact(x)
    if abs(x) >= EXPONENT_FROM:
        return _exponent(x)
    v = float(x)
    for prefix in ("K", "M", "G", "T"):
        v /= 1000
        if abs(v) < 999.95 or prefix == "T":
            return f"{v:.1f}{prefix}"
    return _exponent(x)  # pragma: no cover


def count(x) -> str:
    """Exact with human units beside: '3,211,264 (3.2M)'; '64'; '?' for unknown; expressions as text."""
    if x is None:
        return "?"
    if not is_concrete(x):
        return str(x)
    if isinstance(x, int) and abs(x) >= 10 ** MAX_DIGITS:
        return short(x)
    text = exact(x)
    return f"{text} ({short(x)})" if abs(x) >= HUMAN_FROM else text


class Num:
    """A count in a small table: `str()` is the full text ('32,896 (32.9K)'), `forms` the texts a
    narrow terminal may use instead, `plain` the exact value for CSV ('32896')."""
    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value

    def __str__(self) -> str:
        return count(self.value)

    @property
    def forms(self) -> tuple:
        return tuple(text("macs", self.value, f) for f in ("full", "exact", "short"))

    @property
    def plain(self) -> str:
        return plain(self.value)


def _join(values) -> str:
    """'224x224x3', 'HxWx3'; spaced, 'floor(H/2) x floor(W/2) x 64', when a size is a compound expression."""
    sep = "x" if all(is_concrete(v) or str(v).isidentifier() for v in values) else " x "
    return sep.join(str(v) for v in values)


def shape(s) -> str:
    """(C, H, W) -> 'HxWxC' (how users type --input); (F,) -> 'F'."""
    s = tuple(s)
    return _join((s[1], s[2], s[0]) if len(s) == 3 else s)


def rf(value) -> str:
    """RF size: '11', or 'hxw' when not square."""
    if isinstance(value, tuple):
        return _join(value)
    return exact(value)


def nbytes(n) -> str:
    """Bytes in binary units: '548.05 MiB', '1.07 GiB', up to PiB, then an exponent ('6.8e19 B');
    expressions as '<expr> bytes'; None (unknown) as '?'."""
    if n is None:
        return "?"
    if not is_concrete(n):
        return f"{n} bytes"
    if abs(n) >= 2 ** 60:
        return f"{_exponent(n, 2)} B"
    for unit, scale in (("PiB", 2 ** 50), ("TiB", 2 ** 40), ("GiB", 2 ** 30), ("MiB", 2 ** 20), ("KiB", 2 ** 10)):
        if abs(n) >= scale:
            return f"{n / scale:.2f} {unit}"
    return f"{n} B"


def plain(x):
    """Exact value for CSV: ints without separators, expressions as text, '' for unknown."""
    if x is None:
        return ""
    if isinstance(x, tuple):
        return "x".join(str(v) for v in x)
    return str(x)


def jsonable(x):
    """Exact value for JSON: ints stay ints, Fractions and expressions become strings, None stays null."""
    if x is None or isinstance(x, (bool, str, float)):
        return x
    if isinstance(x, int):
        return x
    if isinstance(x, Fraction):
        return int(x) if x.denominator == 1 else str(x)
    if isinstance(x, (tuple, list)):
        return [jsonable(v) for v in x]
    if isinstance(x, dict):
        return {str(k): jsonable(v) for k, v in x.items()}
    if getattr(x, "is_Integer", False):
        return int(x)
    return str(x)


class View:
    """A report laid out for the table renderers: `columns` (Col), per row the raw values
    (`values`, key -> number/expression/text) and their full text (`rows`, key -> text), the same
    for the TOTAL (`total_values`, `total`), and `work`: per row the --show-work arithmetic
    (key -> text) or None.  `incomplete` holds the keys of totals that leave unknown ops out ('+ ?')."""

    def __init__(self, title: str, notes: list, columns: list, rows: list, depths: list, total: dict,
                 footer: list, work: list | None = None, values: list = (), total_values: dict | None = None,
                 incomplete: frozenset = frozenset()):
        self.title, self.notes, self.columns, self.rows, self.depths = title, notes, columns, rows, depths
        self.total, self.footer, self.work = total, footer, work
        self.values, self.total_values, self.incomplete = list(values), dict(total_values or {}), incomplete


def params_of(row_or_total, no_bias: bool):
    weights = row_or_total["weights"] if isinstance(row_or_total, dict) else row_or_total.weights
    if no_bias:
        return weights
    return row_or_total["params"] if isinstance(row_or_total, dict) else row_or_total.params


def columns(no_bias: bool, extra=()) -> list:
    """The columns shown: every non-optional one plus the optional ones named in `extra`; with
    --no-bias the biases and params columns go (weights is then the parameter count)."""
    cols = [c for c in COLUMNS if not c.optional or c.key in extra]
    if no_bias:
        cols = [Col(c.key, c.header, 2) if c.key == "weights" else c for c in cols
                if c.key not in ("biases", "params")]
    return cols


def value(item, key: str):
    """The raw value of column `key` for a Row or the report's total dict (None: unknown)."""
    if isinstance(item, dict):
        return item.get("rf" if key == "rf" else key)
    if key == "rf":
        return item.rf_size
    if key in item.train:
        return item.train[key]
    return getattr(item, key, None)


def text(key: str, x, form: str = "full") -> str:
    """A cell: shapes as HxWxC, RF as 'h x w' when not square, counts in `form` ('full':
    '3,211,264 (3.2M)', 'exact': '3,211,264', 'short': '3.2M')."""
    if key == "output_shape":
        return shape(x)
    if key == "rf":
        return rf(x)
    if key in ("name", "kind"):
        return str(x)
    if key in BYTE_COLUMNS:
        return "?" if x is None else nbytes(x)
    if form == "short":
        return short(x)
    if form == "exact":
        return "?" if x is None else digits(x)
    return count(x)


def row_cells(row, no_bias: bool, cols=None) -> dict:
    return {c.key: text(c.key, value(row, c.key)) for c in (cols or columns(no_bias))}


def total_cells(report, no_bias: bool, cols=None) -> dict:
    out = {}
    for c in cols or columns(no_bias):
        x = value(report.total, c.key)
        out[c.key] = "TOTAL" if c.key == "name" else "" if c.key == "kind" else \
            text(c.key, x) + (" + ?" if c.numeric and report.partial(c.key) else "")
    return out


def _trim(text: str) -> str:
    """'4096 = 4,096' says nothing more than '4,096'."""
    left, sep, right = text.partition(" = ")
    return right if sep and left.replace(",", "") == right.replace(",", "") else text


def work_cells(row) -> dict | None:
    """--show-work: each column's arithmetic under it; other work (pooling ops, notes) goes under FLOPs."""
    if not row.work:
        return None
    cells = {k: _trim(row.work[k]) for k in WORK_COLUMNS if k in row.work}
    extra = [f"{k}: {v}" for k, v in row.work.items() if k not in WORK_COLUMNS]
    if extra:
        cells["flops"] = "\n".join(extra + ([cells["flops"]] if "flops" in cells else []))
    return cells


def title(report, no_bias: bool) -> str:
    return (f"{report.model}: input {shape(report.input_shape)}, batch {exact(report.batch)}, "
            f"convention {report.convention}, {report.dtype}" + (", params without biases" if no_bias else ""))


def notes(report, no_bias: bool) -> list:
    out = ["weights and biases are per model; activations, MACs and FLOPs are for the whole batch"
           if report.batch != 1 else "activations = output elements of the layers the convention counts"]
    if getattr(report, "folded", False) and any(len(r.members) > 1 for r in report.rows):
        out.append("activation, dropout and flatten layers are folded into the row of the layer they follow, "
                   "as the papers count them (--expand: every module its own row)")
    if no_bias:
        out.append("--no-bias: parameters are counted without biases (the weights column), rows and total")
    return out


def memory_lines(report) -> list:
    """The memory footer; with unknown ops every figure is a lower bound, marked '+ ?'."""
    m = report.memory
    plus = " + ?" if report.partial("memory") else ""

    def b(key):
        return nbytes(m[key]) + plus
    lines = [
        f"memory ({m['dtype']}, {m['bytes_per_element']} bytes per number): parameters {b('parameters')}",
        f"  inference: input {nbytes(m['input'])}, all layer outputs {b('activations_all')}, "
        f"peak layer in+out {b('inference_peak')}",
    ]
    if not getattr(report, "training", None):   # the step's memory is the replayed one of --training
        lines.append("  training step: --training gives backward FLOPs, saved bytes and the peak memory "
                     "of one step (--optimizer sgd|momentum|adam|adamw)")
    return lines


def unknown_line(report) -> str | None:
    if report.complete:
        return None
    n = sum(report.unknown.values())
    ops = ", ".join(f"{op} x{k}" for op, k in report.unknown.items())
    if not report.partial("params"):
        return (f"incomplete: {n} ops whose FLOPs depend on the values ({ops}); their FLOPs show as ?, "
                f"and the FLOP total (+ ?) leaves them out")
    return f"incomplete: {n} unknown ops ({ops}); their costs show as ?, and the totals (+ ?) leave them out"


def footer(report) -> list:
    from cnncost.conventions import get
    lines = [f"convention {report.convention}: {get(report.convention).summary}"]
    lines += memory_lines(report)
    if report.training:
        from cnncost.training.text import footer_lines
        lines += footer_lines(report)
    if (line := unknown_line(report)):
        lines.append(line)
    return lines


def view(report, *, no_bias: bool = False, show_work: bool = False, extra=(), title_text: str | None = None) -> View:
    """`extra`: keys of optional columns to show.  `title_text` replaces the default title."""
    cols = columns(no_bias, extra)
    return View(
        title=title_text or title(report, no_bias), notes=notes(report, no_bias), columns=cols,
        rows=[row_cells(r, no_bias, cols) for r in report.rows], depths=[r.depth for r in report.rows],
        total=total_cells(report, no_bias, cols), footer=footer(report),
        work=[work_cells(r) for r in report.rows] if show_work else None,
        values=[{c.key: value(r, c.key) for c in cols} for r in report.rows],
        total_values={c.key: value(report.total, c.key) for c in cols},
        incomplete=frozenset(c.key for c in cols if c.numeric and report.partial(c.key)),
    )

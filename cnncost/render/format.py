"""What every renderer shows, as text: a Report becomes a `View` (header, columns, cells, footer).

Numbers are exact first, human units beside them: 3211264 -> "3,211,264 (3.2M)".  Unknown costs
(ops no rule knows) are "?", never 0.  Symbolic sizes print as sympy writes them.  Memory is in
binary units (MiB, GiB).  The rich and markdown renderers draw a View; CSV and JSON use the raw
values (`plain`, `jsonable`).
"""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from cnncost.sizes import exact, human, is_concrete

#: (key, header) of the per-layer columns, in order
COLUMNS = (
    ("name", "layer"), ("kind", "kind"), ("output_shape", "output (HxWxC)"),
    ("weights", "weights"), ("biases", "biases"), ("params", "params"),
    ("activations", "activations"), ("macs", "MACs"), ("flops", "FLOPs"), ("rf", "RF"),
)
#: counts from this size up get human units beside them
HUMAN_FROM = 10_000
NUMERIC = frozenset({"weights", "biases", "params", "activations", "macs", "flops", "rf"})
#: row.work keys shown in their own column under --show-work; the others join the FLOPs cell
WORK_COLUMNS = ("weights", "biases", "activations", "macs", "flops")


def count(x) -> str:
    """Exact with human units beside: '3,211,264 (3.2M)'; '64'; '?' for unknown; expressions as text."""
    if x is None:
        return "?"
    if not is_concrete(x):
        return str(x)
    text = exact(x)
    return f"{text} ({human(x)})" if abs(x) >= HUMAN_FROM else text


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
    """Bytes in binary units: '548.05 MiB', '1.07 GiB'; expressions as '<expr> bytes'."""
    if not is_concrete(n):
        return f"{n} bytes"
    for unit, scale in (("GiB", 2 ** 30), ("MiB", 2 ** 20), ("KiB", 2 ** 10)):
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


@dataclass
class View:
    """A report laid out as text cells: `rows` and `total` map column keys to strings, `work` holds
    the --show-work cells under each row (None when not asked)."""
    title: str
    notes: list
    columns: list            # (key, header)
    rows: list               # dicts key -> text
    depths: list
    total: dict
    footer: list
    work: list | None = None  # per row: dict key -> text, or None


def params_of(row_or_total, no_bias: bool):
    weights = row_or_total["weights"] if isinstance(row_or_total, dict) else row_or_total.weights
    if no_bias:
        return weights
    return row_or_total["params"] if isinstance(row_or_total, dict) else row_or_total.params


def columns(no_bias: bool) -> list:
    cols = [c for c in COLUMNS if not (no_bias and c[0] == "biases")]
    if no_bias:
        cols = [(k, "params (no biases)" if k == "params" else h) for k, h in cols]
    return cols


def row_cells(row, no_bias: bool) -> dict:
    return {
        "name": row.name, "kind": row.kind, "output_shape": shape(row.output_shape),
        "weights": count(row.weights), "biases": count(row.biases), "params": count(params_of(row, no_bias)),
        "activations": count(row.activations), "macs": count(row.macs), "flops": count(row.flops),
        "rf": rf(row.rf_size),
    }


def total_cells(report, no_bias: bool) -> dict:
    t = report.total
    plus = "" if report.complete else " + ?"
    cells = {"name": "TOTAL", "kind": "", "output_shape": shape(t["output_shape"]), "rf": rf(t["rf"])}
    for key in ("weights", "biases", "activations", "macs", "flops"):
        cells[key] = count(t[key]) + plus
    cells["params"] = count(params_of(t, no_bias)) + plus
    return cells


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
    if no_bias:
        out.append("--no-bias: the params column counts weights only (biases excluded), rows and total")
    return out


def memory_lines(report) -> list:
    m = report.memory
    return [
        f"memory ({m['dtype']}, {m['bytes_per_element']} bytes per number): parameters {nbytes(m['parameters'])}",
        f"  inference: input {nbytes(m['input'])}, all layer outputs {nbytes(m['activations_all'])}, "
        f"peak layer in+out {nbytes(m['inference_peak'])}",
        f"  training (params + grads + optimiser state + saved outputs): SGD {nbytes(m['training_sgd'])}, "
        f"SGD-momentum {nbytes(m['training_momentum'])}, Adam {nbytes(m['training_adam'])}",
    ]


def unknown_line(report) -> str | None:
    if report.complete:
        return None
    n = sum(report.unknown.values())
    ops = ", ".join(f"{op} x{k}" for op, k in report.unknown.items())
    return f"incomplete: {n} unknown ops ({ops}); their costs show as ?, and the totals leave them out"


def footer(report) -> list:
    from cnncost.conventions import get
    lines = [f"convention {report.convention}: {get(report.convention).summary}"]
    lines += memory_lines(report)
    if (line := unknown_line(report)):
        lines.append(line)
    return lines


def view(report, *, no_bias: bool = False, show_work: bool = False) -> View:
    return View(
        title=title(report, no_bias), notes=notes(report, no_bias), columns=columns(no_bias),
        rows=[row_cells(r, no_bias) for r in report.rows], depths=[r.depth for r in report.rows],
        total=total_cells(report, no_bias), footer=footer(report),
        work=[work_cells(r) for r in report.rows] if show_work else None,
    )

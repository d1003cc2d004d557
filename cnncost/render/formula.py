"""`cnncost formula`: a model's totals in closed form in the input height H and width W.

The model is analysed once on a symbolic input HxWxC (sizes as sympy expressions, floors where
strides round) and once on its default input; each closed form is evaluated at the default
input and must equal the numeric run, which the output shows ("agrees").
"""
from __future__ import annotations

from cnncost.render.format import Num, jsonable, rf as rf_text, shape
from cnncost.sizes import evaluate, exact, is_concrete

QUANTITIES = (("params", "params"), ("weights", "weights"), ("biases", "biases"),
              ("activations", "activations"), ("macs", "MACs"), ("flops", "FLOPs"),
              ("output_shape", "output shape"), ("rf", "receptive field"))


def _at(x, values: dict):
    if x is None:                      # unknown (a receptive field after an op with no window)
        return None
    if isinstance(x, tuple):
        return tuple(_at(v, values) for v in x)
    return evaluate(x, values)


def closed_forms(model: str, channels: str | None = None, *, convention: str = "cnncost",
                 options: dict | None = None) -> dict:
    from cnncost.resolve import analyze, resolve
    from cnncost.sizes import parse_size, symbol
    options = options or {}
    resolved = resolve(model, **options)
    default = resolved.input_shape
    if len(default) == 3:
        c = parse_size(channels, "--channels") if channels is not None else default[0]
        sym_input = (c, symbol("H"), symbol("W"))
        values = {"H": default[1], "W": default[2]}
        num_input = (c if is_concrete(c) else default[0], default[1], default[2])
        if not is_concrete(c):
            values[str(c)] = default[0]
    else:
        sym_input, values, num_input = (symbol("F"),), {"F": default[0]}, default
    sym = analyze(model, sym_input, convention=convention, **options)
    num = analyze(model, num_input, convention=convention, **options)
    rows = []
    for key, label in QUANTITIES:
        form = sym.total[key]
        at = _at(form, values)
        rows.append({"quantity": key, "label": label, "formula": form, "at_default": at,
                     "numeric": num.total[key], "agrees": _same(at, num.total[key])})
    return {"model": resolved.label or model, "input": sym_input, "default_input": num_input, "convention": sym.convention,
            "rows": rows}


def _same(a, b) -> bool:
    if isinstance(a, tuple) or isinstance(b, tuple):
        a = a if isinstance(a, tuple) else (a, a)
        b = b if isinstance(b, tuple) else (b, b)
    return a == b


def _text(key, x, fmt: str = "rich"):
    """A cell: shapes as HxWxC, counts as Num (plain exact value in CSV), expressions as text."""
    if key == "output_shape":
        return shape(x)
    if key == "rf":
        return rf_text(x)
    return Num(x) if is_concrete(x) else str(x)


def _closed(key, x, fmt: str) -> str:
    """A closed form: a constant stays exact ('11,689,512'; plain in CSV) however narrow the terminal."""
    if key in ("output_shape", "rf") or not is_concrete(x):
        return str(_text(key, x))
    return str(x) if fmt == "csv" else exact(x)


def render(result: dict, fmt: str, width: int | None = None) -> str:
    if fmt == "json":
        from cnncost.render.json import dumps
        return dumps({"model": result["model"], "input": shape(result["input"]),
                      "default_input": shape(result["default_input"]), "convention": result["convention"],
                      "formulas": {r["quantity"]: jsonable(r["formula"]) for r in result["rows"]},
                      "at_default": {r["quantity"]: jsonable(r["at_default"]) for r in result["rows"]},
                      "agrees": all(r["agrees"] for r in result["rows"])})
    from cnncost.render.simple import render as table
    default = shape(result["default_input"])
    rows = [[r["label"], _closed(r["quantity"], r["formula"], fmt), _text(r["quantity"], r["at_default"]),
             "yes" if r["agrees"] else "NO"] for r in result["rows"]]
    title = f"{result['model']}: closed forms for input {shape(result['input'])}, convention {result['convention']}"
    notes = ["floor(x) rounds down where a stride does not divide the size; activations, MACs and FLOPs are per sample",
             f"'agrees': the formula at {default} equals a separate numeric run on {default}"]
    return table(fmt, title, ["quantity", "closed form", f"at {default}", "agrees"], rows, notes, right={2},
                 wrap={1}, width=width)

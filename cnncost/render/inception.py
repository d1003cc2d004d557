"""`cnncost inception`: the naive inception module against the one with 1x1 reductions
(Szegedy et al. 2015, Figure 2a vs 2b), per branch and in total, and how much the reductions save.

Both modules come from the zoo (`inception-naive`, `inception-reduced`); c1, c3, c5 go to both,
r3, r5 and pool_proj to the reduced one only.  Saving = naive / reduced.
"""
from __future__ import annotations

from cnncost.errors import CostError
from cnncost.render.format import Num, count, jsonable, shape
from cnncost.sizes import is_concrete

NAIVE, REDUCED = "inception-naive", "inception-reduced"
SHARED = ("c1", "c3", "c5")


def branches(report) -> list[dict]:
    """Sum each branch of the module's concatenation: rows named <concat>.<branch>.<layer>."""
    concat = next((r for r in report.rows if r.kind == "concat"), None)
    if concat is None:
        raise CostError(f"{report.model}: no concatenation found; not an inception module")
    prefix = concat.name + "."
    out: dict[str, dict] = {}
    for r in report.rows:
        if not r.name.startswith(prefix):
            continue
        key = r.name[len(prefix):].split(".")[0]
        b = out.setdefault(key, {"branch": key, "output_shape": r.output_shape, "params": 0, "weights": 0,
                                 "macs": 0, "flops": 0, "layers": []})
        b["output_shape"] = r.output_shape
        b["layers"].append(r.name)
        for k in ("params", "weights", "macs", "flops"):
            b[k] = b[k] + getattr(r, k)
    return list(out.values())


def ratio(a, b):
    """a / b exactly: a Fraction for numbers, a simplified expression otherwise."""
    if is_concrete(a) and is_concrete(b):
        from fractions import Fraction
        return Fraction(a, b)
    import sympy
    x = sympy.simplify(sympy.sympify(a) / b)
    if x.is_Rational:
        from fractions import Fraction
        return Fraction(int(x.p), int(x.q))
    return x


def ratio_text(x) -> str:
    if is_concrete(x):
        return f"{float(x):.2f}x"
    return f"{x}"


def compare(input_text: str | None, options: dict, *, convention: str = "cnncost") -> dict:
    from cnncost.resolve import analyze
    naive_opts = {k: v for k, v in options.items() if k in SHARED}
    naive = analyze(NAIVE, input_text, convention=convention, **naive_opts)
    reduced = analyze(REDUCED, input_text, convention=convention, **options)
    saving = {k: ratio(naive.total[k], reduced.total[k]) for k in ("macs", "flops", "params")}
    return {"naive": naive, "reduced": reduced, "saving": saving}


def as_json(cmp: dict) -> dict:
    from cnncost.render.json import as_dict
    out = {}
    for key in ("naive", "reduced"):
        d = as_dict(cmp[key])
        d["branches"] = [{k: jsonable(v) for k, v in b.items()} for b in branches(cmp[key])]
        out[key] = d
    out["saving"] = {k: jsonable(v) for k, v in cmp["saving"].items()}
    out["saving_float"] = {k: float(v) for k, v in cmp["saving"].items() if is_concrete(v)}
    return out


def render(cmp: dict, fmt: str, width: int | None = None) -> str:
    if fmt == "json":
        from cnncost.render.json import dumps
        return dumps(as_json(cmp))
    from cnncost.render.simple import render as table
    naive, reduced = cmp["naive"], cmp["reduced"]
    rows = []
    for label, report in (("naive", naive), ("reduced", reduced)):
        for b in branches(report):
            rows.append([label, b["branch"], shape(b["output_shape"]), Num(b["params"]), Num(b["macs"]),
                         Num(b["flops"])])
        t = report.total
        rows.append([label, "TOTAL", shape(t["output_shape"]), Num(t["params"]), Num(t["macs"]), Num(t["flops"])])
    s = cmp["saving"]
    title = (f"inception module, input {shape(naive.input_shape)}: naive (Fig. 2a) vs 1x1 reductions (Fig. 2b), "
             f"convention {naive.convention}")
    notes = ["saving (naive / reduced): " + "; ".join(
                 f"{label} {count(naive.total[k])} / {count(reduced.total[k])} = {ratio_text(s[k])}"
                 for k, label in (("macs", "MACs"), ("flops", "FLOPs"), ("params", "params"))),
             f"naive output {shape(naive.total['output_shape'])} (the pool branch passes all input channels); "
             f"reduced output {shape(reduced.total['output_shape'])}",
             "source: Szegedy et al. 2015, Going Deeper with Convolutions, Figure 2"]
    return table(fmt, title, ["module", "branch", "output (HxWxC)", "params", "MACs", "FLOPs"], rows, notes,
                 right={3, 4, 5}, width=width)

"""`cnncost rf`: the receptive field of a stack of identical layers (with the proof from
`cnncost.receptive.proof`), or of every layer of a model (size, jump, start per axis).

Per layer (Araujo et al. 2019, Distill, eq. 1-3): size += d*(k-1)*jump, jump *= s.
"""
from __future__ import annotations

from cnncost.render.format import Num, digits, jsonable, rf as rf_text, shape
from cnncost.sizes import exact, is_concrete

#: a concrete stack up to this depth also lists its layers one by one
MAX_LISTED = 64


def stack(n_text: str, k_text: str, s_text: str = "1", d_text: str = "1") -> dict:
    """The RF of n stacked layers and, when all sizes are numbers, each layer's size and jump."""
    from cnncost import receptive
    from cnncost.sizes import parse_size
    n, k = parse_size(n_text, "--stack"), parse_size(k_text, "--kernel")
    s, d = parse_size(s_text, "--stride"), parse_size(d_text, "--dilation")
    result = {"stack": n, "kernel": k, "stride": s, "dilation": d, "rf": receptive.stack_rf(n, k, s, d)}
    layers = []
    if all(is_concrete(v) for v in (n, k, s, d)) and n <= MAX_LISTED:
        size, jump = 1, 1
        for i in range(1, n + 1):
            size, jump = size + d * (k - 1) * jump, jump * s
            layers.append({"layer": i, "rf": size, "jump": jump})
    result["layers"] = layers
    result["proof"] = [{"statement": p.statement, "expression": str(p.expression), "verified": bool(p.verified)}
                       for p in receptive.proof()]
    return result


def stack_table(n_text, k_text, s_text, d_text, fmt: str, width: int | None = None) -> str:
    r = stack(n_text, k_text, s_text, d_text)
    if fmt == "json":
        from cnncost.render.json import dumps
        return dumps(jsonable(r))
    from cnncost.render.simple import render
    n, k, s, d = (str(r[key]) for key in ("stack", "kernel", "stride", "dilation"))
    if fmt == "csv":  # one table: the result; the proof is in the other formats
        return render(fmt, "", ["stack", "kernel", "stride", "dilation", "rf"], [[n, k, s, d, str(r["rf"])]])
    title = f"{n} stacked {k}x{k} layers, stride {s}, dilation {d}: receptive field {digits(r['rf'])}"
    if r["layers"]:
        out = render(fmt, title, ["layer", "RF", "jump"],
                     [[str(x["layer"]), Num(x["rf"]), Num(x["jump"])] for x in r["layers"]], right={0, 1, 2},
                     width=width)
    else:
        out = render(fmt, title, ["quantity", "value"], [["receptive field", Num(r["rf"])]], right={1}, width=width)
    out += "\n" + render(fmt, "proof (sympy)", ["step", "statement", "checked expression", "verified"],
                         [[str(i), p["statement"], p["expression"], "yes" if p["verified"] else "NO"]
                          for i, p in enumerate(r["proof"], 1)],
                         notes=["rule per layer: RF += d*(k-1)*jump, jump *= s (Araujo et al. 2019, Distill)"],
                         wrap={1, 2}, width=width)
    return out


def model_rows(report) -> list[dict]:
    rows = []
    for row in report.rows:
        h, w = row.rf
        rows.append({"name": row.name, "kind": row.kind, "depth": row.depth,
                     "output_shape": jsonable(row.output_shape), "output": shape(row.output_shape),
                     "rf": jsonable(row.rf_size),
                     "h": {"size": jsonable(h.size), "jump": jsonable(h.jump), "start": jsonable(h.start)},
                     "w": {"size": jsonable(w.size), "jump": jsonable(w.jump), "start": jsonable(w.start)}})
    return rows


def _axis_text(h, w) -> str:
    """One value when both axes agree, else 'h x w'."""
    a, b = exact(h), exact(w)
    return a if a == b else f"{a} x {b}"


def _short(v) -> str:
    """A field value in at most about 9 characters: exact when short, else 3 significant digits."""
    text = exact(v)
    if len(text) <= 9 or not is_concrete(v):
        return text
    return f"{float(v):.3g}".replace("e+", "e")


class AxisCell:
    """A size, jump or start per axis for the table renderer: the exact text, and a short form a
    narrow terminal may use (a detection head's views multiply jumps into dozens of digits)."""
    __slots__ = ("h", "w")

    def __init__(self, h, w):
        self.h, self.w = h, w

    def __str__(self) -> str:
        return _axis_text(self.h, self.w)

    @property
    def forms(self) -> tuple:
        a, b = _short(self.h), _short(self.w)
        return str(self), a if exact(self.h) == exact(self.w) else f"{a} x {b}"

    @property
    def plain(self) -> str:
        return str(self)


def model_table(name: str, input_text: str | None, fmt: str, width: int | None = None, options=None) -> str:
    from cnncost.resolve import analyze
    report = analyze(name, input_text, **(options or {}))
    if fmt == "json":
        from cnncost.render.json import dumps
        return dumps({"model": report.model, "input": shape(report.input_shape), "layers": model_rows(report),
                      "rf": jsonable(report.total["rf"])})
    from cnncost.render.simple import render
    rows = [["  " * r.depth + r.name if fmt == "rich" else r.name, r.kind, shape(r.output_shape),
             AxisCell(r.rf[0].size, r.rf[1].size), AxisCell(r.rf[0].jump, r.rf[1].jump),
             AxisCell(r.rf[0].start, r.rf[1].start)] for r in report.rows]
    title = f"{report.model}: receptive field per layer, input {shape(report.input_shape)}"
    notes = [f"final receptive field {rf_text(report.total['rf'])} input pixels",
             "size: input pixels one output sees; jump: input pixels between neighbouring outputs; start: centre of "
             "the first output's field (input pixel i at i; negative = in the padding)"]
    return render(fmt, title, ["layer", "kind", "output (HxWxC)", "RF size", "jump", "start"], rows, notes,
                  right={3, 4, 5}, priority={1: 3, 5: 2, 4: 1}, wrap={0}, width=width)

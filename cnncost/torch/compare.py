"""`cnncost compare MODEL`: per module, cnncost's counts beside fvcore's.

cnncost counts FLOPs in fvcore's convention (`cnncost.conventions.FVCORE`) from the spec; fvcore
counts the same module by jit-tracing one forward pass (`FlopCountAnalysis`,
`ActivationCountAnalysis`, `parameter_count`).  A zoo model is built with `cnncost.torch.build`
(module paths = row names); a `source:name` model is read with `cnncost.torch.read`.  A module's
cnncost count is the sum of its rows: its own calls (`path`, `path#2`) and everything inside it
(`path.child`, `path.op`).  Every difference gets a reason from `KNOWN` (docs/fvcore-differences.md),
or is flagged as unexplained.
"""
from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass, field

from cnncost.errors import CostError

#: why cnncost and fvcore may differ on a module (docs/fvcore-differences.md lists them per op)
KNOWN = {
    "unknown": "contains ops cnncost has no rule for ({ops}): their cost is unknown here; fvcore counts "
               "them with its own handler or skips them",
    "uncalled": "never called in the eval-mode forward pass: fvcore.parameter_count counts its parameters, "
                "cnncost counts only what the forward pass uses",
    "shared": "called more than once: cnncost counts shared parameters once, at the first call",
}
UNEXPLAINED = "unexplained difference: please report it"


def module_of(row_name: str) -> str:
    """'layer1.0.relu#2' -> 'layer1.0.relu'."""
    return row_name.split("#")[0]


def rows_under(rows, path: str) -> list:
    """A module's rows: its own calls and every row named inside it."""
    if path == "":
        return list(rows)
    return [r for r in rows if module_of(r.name) == path or r.name.startswith(path + ".")]


def _sum(rows, attr):
    values = [getattr(r, attr) for r in rows]
    return None if any(v is None for v in values) else sum(values)


@dataclass
class Line:
    path: str
    depth: int
    ours: dict            # params, flops, activations (None = unknown)
    theirs: dict
    reason: str = ""

    @property
    def same(self) -> bool:
        return self.ours == self.theirs


@dataclass
class Comparison:
    name: str
    input_shape: tuple
    lines: list
    unknown: dict = field(default_factory=dict)       # op -> count (cnncost)
    unsupported: dict = field(default_factory=dict)   # op -> count (fvcore skipped)
    notes: list = field(default_factory=list)

    @property
    def differences(self) -> list:
        return [line for line in self.lines if not line.same]


def _module_for(resolved):
    """The nn.Module to measure: the read module, or the zoo spec built."""
    module = getattr(resolved.model, "module", None)
    if module is None:
        from cnncost.torch.build import build
        import torch
        torch.manual_seed(0)
        module = build(resolved.spec, resolved.input_shape)
    return module.eval()


def fvcore_counts(module, input_shape: tuple) -> dict:
    """fvcore's FLOPs and activations by module (one jit trace each) and parameter_count."""
    import torch
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from fvcore.nn import ActivationCountAnalysis, FlopCountAnalysis, parameter_count
    except ImportError:
        raise CostError("compare needs fvcore: pip install fvcore") from None
    x = torch.zeros(1, *input_shape)
    logging.disable(logging.WARNING)
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            flops = FlopCountAnalysis(module, x).unsupported_ops_warnings(False).uncalled_modules_warnings(False)
            acts = ActivationCountAnalysis(module, x).unsupported_ops_warnings(False).uncalled_modules_warnings(False)
            return {"flops": dict(flops.by_module()), "activations": dict(acts.by_module()),
                    "params": dict(parameter_count(module)), "unsupported": dict(flops.unsupported_ops())}
    finally:
        logging.disable(logging.NOTSET)


def compare(name: str, input=None, depth: int | None = None) -> Comparison:
    """cnncost (fvcore convention) beside fvcore for every module of `name` up to `depth`."""
    from cnncost.resolve import resolve
    from cnncost.sizes import is_concrete
    from cnncost.walk import analyze

    resolved = resolve(name, input)
    shape = resolved.input_shape
    if not all(is_concrete(s) for s in shape):
        raise CostError("compare runs fvcore on a real input: give a numeric --input, e.g. 224x224x3")
    module = _module_for(resolved)
    report = analyze(resolved.spec, shape, convention="fvcore", name=name)
    fv = fvcore_counts(module, shape)
    unused = getattr(resolved.model, "unused", {}) or {}
    shared = {module_of(r.name) for r in report.rows if "#" in r.name and r.params == 0}
    whole = {module_of(r.name) for r in report.rows}
    lines, inside = [], 0
    for path, m in module.named_modules():
        d = 0 if path == "" else path.count(".") + 1
        if depth is not None and d > depth:
            continue
        rows = rows_under(report.rows, path)
        if not rows and any(path.startswith(w + ".") for w in whole):
            inside += 1                # part of a module read whole (Swin's attention.qkv): its row holds it
            continue
        ours = {"params": _sum(rows, "params"), "flops": _sum(rows, "flops"), "activations": _sum(rows, "activations")}
        theirs = {"params": fv["params"].get(path, 0), "flops": fv["flops"].get(path, 0),
                  "activations": fv["activations"].get(path, 0)}
        line = Line(path or "(model)", d, ours, theirs)
        if not line.same:
            line.reason = _reason(path, rows, unused, shared, ours, theirs)
        lines.append(line)
    notes = [f"FLOPs in fvcore's convention: {_convention_summary()}"]
    if inside:
        notes.append(f"{inside} modules inside layers read whole (a window or multi-head attention's "
                     f"projections) are not listed: their layer's row holds their parameters and work")
    if unused or getattr(resolved.model, "method", "") == "run":     # the reader's notes
        notes.append(resolved.model.notes)
    return Comparison(name, tuple(shape), lines, dict(report.unknown), fv["unsupported"], notes)


def _convention_summary() -> str:
    from cnncost.conventions import FVCORE
    return FVCORE.summary


def _related(path: str, other: str) -> bool:
    """`path` is `other`, inside it, or contains it."""
    return path == "" or path == other or path.startswith(other + ".") or other.startswith(path + ".")


def _reason(path, rows, unused, shared, ours, theirs) -> str:
    unknown = sorted({r.kind for r in rows if not r.known})
    reasons = [KNOWN["unknown"].format(ops=", ".join(unknown))] if unknown else []
    if ours["params"] != theirs["params"]:
        why = [KNOWN["uncalled"]] if any(_related(path, u) for u in unused) else []
        why += [KNOWN["shared"]] if any(_related(path, s) for s in shared) else []
        reasons += why or ([] if unknown else [UNEXPLAINED])
    if (ours["flops"], ours["activations"]) != (theirs["flops"], theirs["activations"]) and not unknown:
        reasons.append(UNEXPLAINED)
    return "; ".join(dict.fromkeys(reasons))


# --- output -----------------------------------------------------------------------------------------

def _n(v) -> str:
    return "unknown" if v is None else f"{v:,}"


HEADER = ["module", "params", "fvcore params", "FLOPs", "fvcore FLOPs", "activations", "fvcore activations", "reason"]
#: a narrow terminal drops these columns first (highest first), then wraps the reason
PRIORITY = {5: 3, 6: 4, 7: 2}


def _cells(line: Line, fmt: str = "rich") -> list:
    """CSV: the plain path and exact numbers ('' when unknown); otherwise the indented path and
    numbers that shorten to fit the terminal (`Num`), a '*' marking a count that differs."""
    if fmt == "csv":
        nums = [line.ours[k] if i == 0 else line.theirs[k] for k in ("params", "flops", "activations") for i in (0, 1)]
        return [line.path] + ["" if v is None else v for v in nums] + [line.reason]
    cells = [("  " * line.depth) + line.path]
    for key in ("params", "flops", "activations"):
        mark = line.ours[key] != line.theirs[key]
        cells += [_Marked(line.ours[key], mark), _Marked(line.theirs[key], mark)]
    return cells + [line.reason]


class _Marked:
    """A count cell (`render.format.Num` forms), 'unknown' for None, '*' after it when the two differ."""

    def __init__(self, value, mark: bool):
        from cnncost.render.format import Num
        self.num, self.mark = Num(value), mark

    def _text(self, text: str) -> str:
        return ("unknown" if self.num.value is None else text) + (" *" if self.mark else "")

    def __str__(self) -> str:
        return self._text(_n(self.num.value))

    @property
    def forms(self) -> tuple:
        return tuple(self._text(t) for t in self.num.forms)


def _footer(cmp: Comparison) -> list:
    n = len(cmp.differences)
    lines = [f"{len(cmp.lines)} modules, {n} with differences" + ("" if n else ": every count equals fvcore's")]
    if cmp.unknown:
        lines.append("cnncost has no rule for: " + ", ".join(f"{op} x{k}" for op, k in cmp.unknown.items()))
    if cmp.unsupported:
        skipped = sorted(cmp.unsupported.items())
        lines.append("fvcore skipped (counted 0): " + ", ".join(f"{op} x{k}" for op, k in skipped))
    return lines + cmp.notes


def render(cmp: Comparison, fmt: str = "rich", only_differences: bool = False, color: bool | None = None,
           width: int | None = None) -> str:
    """The comparison as a terminal table fitted to `width` (None: the terminal's; 0: no limit),
    differing counts marked '*', or Markdown, CSV (plain exact numbers) or JSON."""
    from cnncost.sizes import format_input
    lines = cmp.differences if only_differences else cmp.lines
    title = f"{cmp.name}: cnncost vs fvcore, input {format_input(cmp.input_shape)}, batch 1"
    if fmt == "json":
        import json
        return json.dumps({"model": cmp.name, "input": list(cmp.input_shape),
                           "modules": [{"module": l.path, "cnncost": l.ours, "fvcore": l.theirs, "reason": l.reason}
                                       for l in lines],
                           "unknown": cmp.unknown, "fvcore_unsupported": cmp.unsupported, "notes": cmp.notes},
                          indent=2) + "\n"
    if fmt not in ("rich", "markdown", "csv"):
        raise CostError(f"unknown format {fmt!r}; known: rich, markdown, csv, json")
    from cnncost.render.simple import render as simple
    footer = _footer(cmp) + (["*: cnncost and fvcore differ"] if fmt != "csv" and cmp.differences else [])
    return simple(fmt, title, HEADER, [_cells(line, fmt) for line in lines], footer, right=set(range(1, 7)),
                  priority=PRIORITY, wrap={7}, width=width)

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
    lines = []
    for path, m in module.named_modules():
        d = 0 if path == "" else path.count(".") + 1
        if depth is not None and d > depth:
            continue
        rows = rows_under(report.rows, path)
        ours = {"params": _sum(rows, "params"), "flops": _sum(rows, "flops"), "activations": _sum(rows, "activations")}
        theirs = {"params": fv["params"].get(path, 0), "flops": fv["flops"].get(path, 0),
                  "activations": fv["activations"].get(path, 0)}
        line = Line(path or "(model)", d, ours, theirs)
        if not line.same:
            line.reason = _reason(path, rows, unused, shared, ours, theirs)
        lines.append(line)
    notes = [f"FLOPs in fvcore's convention: {_convention_summary()}"]
    if unused or getattr(resolved.model, "method", "") == "hooks":     # the reader's notes
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


def _cells(line: Line) -> list:
    return [("  " * line.depth) + line.path, _n(line.ours["params"]), _n(line.theirs["params"]),
            _n(line.ours["flops"]), _n(line.theirs["flops"]), _n(line.ours["activations"]),
            _n(line.theirs["activations"]), line.reason]


def _footer(cmp: Comparison) -> list:
    n = len(cmp.differences)
    lines = [f"{len(cmp.lines)} modules, {n} with differences" + ("" if n else ": every count equals fvcore's")]
    if cmp.unknown:
        lines.append("cnncost has no rule for: " + ", ".join(f"{op} x{k}" for op, k in cmp.unknown.items()))
    if cmp.unsupported:
        skipped = sorted(cmp.unsupported.items())
        lines.append("fvcore skipped (counted 0): " + ", ".join(f"{op} x{k}" for op, k in skipped))
    return lines + cmp.notes


def render(cmp: Comparison, fmt: str = "rich", only_differences: bool = False, color: bool | None = None) -> str:
    """The comparison as a terminal table (differences in red), Markdown, CSV or JSON."""
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
    if fmt in ("markdown", "csv"):
        from cnncost.render.simple import render as simple
        return simple(fmt, title, HEADER, [_cells(l) for l in lines], _footer(cmp), right=set(range(1, 7)))
    if fmt != "rich":
        raise CostError(f"unknown format {fmt!r}; known: rich, markdown, csv, json")
    return _rich(title, lines, _footer(cmp), color)


def _rich(title, lines, footer, color) -> str:
    import io
    import sys
    from rich import box
    from rich.console import Console
    from rich.table import Table

    t = Table(box=box.SIMPLE_HEAD, pad_edge=False, title=title, title_justify="left")
    for i, h in enumerate(HEADER):
        t.add_column(h, justify="right" if 0 < i < 7 else "left", no_wrap=i < 7)
    for line in lines:
        cells = _cells(line)
        for j, key in enumerate(("params", "flops", "activations")):
            if line.ours[key] != line.theirs[key]:
                cells[1 + 2 * j] = f"[bold red]{cells[1 + 2 * j]}[/]"
                cells[2 + 2 * j] = f"[bold red]{cells[2 + 2 * j]}[/]"
        t.add_row(*cells)
    buf = io.StringIO()
    tty = sys.stdout.isatty() if color is None else color
    console = Console(file=buf, width=10_000 if not tty else None, force_terminal=tty, no_color=not tty,
                      highlight=False)
    console.print(t)
    for f in footer:
        console.print(f, markup=False)
    return "\n".join(l.rstrip() for l in buf.getvalue().splitlines()) + "\n"

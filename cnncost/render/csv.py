"""A Report as CSV: one row per layer then TOTAL, exact values only (no human units, no thousands
separators, names without indentation), '' for an unknown cost.

The `complete` column is false for a layer no rule knows, and on the TOTAL row when such layers
exist (the totals then leave them out).  With --no-bias the parameter count is the `weights`
column and there are no `biases` or `params` columns.
"""
from __future__ import annotations

import csv
import io

from cnncost.render.format import columns, plain, shape, value

LEADING = ["name", "depth", "kind", "output_shape"]


def header(no_bias: bool = False, extra=()) -> list:
    keys = [c.key for c in columns(no_bias, extra) if c.numeric]
    return LEADING + keys + ["complete"]


def render(report, *, no_bias: bool = False, show_work: bool = False, extra=()) -> str:
    keys = header(no_bias, extra)[len(LEADING):-1]
    buf = io.StringIO()
    out = csv.writer(buf, lineterminator="\n")
    out.writerow(header(no_bias, extra) + (["work"] if show_work else []))
    for r in report.rows:
        line = [r.name, r.depth, r.kind, shape(r.output_shape)] + [plain(value(r, k)) for k in keys] + \
            ["true" if r.known else "false"]
        out.writerow(line + (["; ".join(f"{k}: {v}" for k, v in r.work.items())] if show_work else []))
    t = report.total
    out.writerow(["TOTAL", "", "", shape(t["output_shape"])] + [plain(value(t, k)) for k in keys] +
                 ["true" if report.complete else "false"] + ([""] if show_work else []))
    return buf.getvalue()

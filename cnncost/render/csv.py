"""A Report as CSV: one row per layer then TOTAL, exact values only (no human units), '' if unknown."""
from __future__ import annotations

import csv
import io

from cnncost.render.format import params_of, plain, shape

HEADER = ["name", "depth", "kind", "output_shape", "weights", "biases", "params", "activations",
          "macs", "flops", "rf"]


def render(report, *, no_bias: bool = False, show_work: bool = False) -> str:
    buf = io.StringIO()
    out = csv.writer(buf, lineterminator="\n")
    out.writerow(HEADER + (["work"] if show_work else []))
    for r in report.rows:
        line = [r.name, r.depth, r.kind, shape(r.output_shape), plain(r.weights), plain(r.biases),
                plain(params_of(r, no_bias)), plain(r.activations), plain(r.macs), plain(r.flops), plain(r.rf_size)]
        out.writerow(line + (["; ".join(f"{k}: {v}" for k, v in r.work.items())] if show_work else []))
    t = report.total
    out.writerow(["TOTAL", "", "", shape(t["output_shape"]), plain(t["weights"]), plain(t["biases"]),
                  plain(params_of(t, no_bias)), plain(t["activations"]), plain(t["macs"]), plain(t["flops"]),
                  plain(t["rf"])] + ([""] if show_work else []))
    return buf.getvalue()

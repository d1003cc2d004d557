"""A Report as one JSON object: exact integers, expressions as strings, null for unknown costs.

    {"model", "input", "batch", "convention", "dtype", "params_include_biases",
     "layers": [...], "total": {..., "complete"}, "memory": {..., "complete"}, "complete", "unknown"}

When `complete` is false some ops have no rule: their costs are null and every total (and memory
figure) is the sum of the known rows only, a lower bound.  Where the only unknowns are
value-dependent ops (`unknown` keys ending "(value-dependent)", nms), only their FLOPs are null:
`memory.complete` stays true.
"""
from __future__ import annotations

import json

from cnncost.render.format import jsonable, params_of, shape


def rf_detail(rf_pair) -> dict:
    return {axis: {"size": jsonable(r.size), "jump": jsonable(r.jump), "start": jsonable(r.start)}
            for axis, r in zip(("h", "w"), rf_pair)}


def layer(row, no_bias: bool = False) -> dict:
    return {
        "name": row.name, "kind": row.kind, "depth": row.depth,
        "input_shape": jsonable(row.input_shape), "output_shape": jsonable(row.output_shape),
        "output": shape(row.output_shape),
        "weights": jsonable(row.weights), "biases": jsonable(row.biases),
        "params": jsonable(params_of(row, no_bias)),
        "activations": jsonable(row.activations), "macs": jsonable(row.macs), "flops": jsonable(row.flops),
        "rf": jsonable(row.rf_size), "rf_detail": rf_detail(row.rf),
        "known": row.known, "work": dict(row.work),
        "elements": jsonable(row.elements), "members": list(row.members or (row.name,)),
        **{k: jsonable(v) for k, v in row.train.items()},
    }


def _elements(rows):
    from cnncost.sizes import add, tidy
    return tidy(add(*[r.elements for r in rows if r.elements is not None])) if rows else 0


def total(report, no_bias: bool = False) -> dict:
    t = report.total
    out = {k: jsonable(t[k]) for k in ("name", "output_shape", "weights", "biases", "activations", "macs", "flops", "rf")}
    out["params"] = jsonable(params_of(t, no_bias))
    out["output"] = shape(t["output_shape"])
    out["complete"] = report.complete   # false: the sums leave out the unknown ops
    out["elements"] = jsonable(t["elements"]) if "elements" in t else jsonable(_elements(report.rows))
    for k in ("backward_flops", "grad_input_flops", "grad_weight_flops", "training_flops",
              "saved_bytes", "peak_bytes"):
        if k in t:
            out[k] = jsonable(t[k])
    return out


def as_dict(report, *, no_bias: bool = False) -> dict:
    return {
        "model": report.model, "input": shape(report.input_shape), "input_shape": jsonable(report.input_shape),
        "batch": jsonable(report.batch), "convention": report.convention, "dtype": report.dtype,
        "params_include_biases": not no_bias,
        "layers": [layer(r, no_bias) for r in report.rows],
        "total": total(report, no_bias),
        "memory": {**jsonable(report.memory), "complete": not report.partial("memory")},
        "complete": report.complete, "unknown": dict(report.unknown),
        **({"training": jsonable({k: v for k, v in report.training.items() if k != "peak_candidates"})}
           if report.training else {}),
    }


def dumps(obj) -> str:
    return json.dumps(obj, indent=2) + "\n"


def render(report, *, no_bias: bool = False) -> str:
    return dumps(as_dict(report, no_bias=no_bias))

"""One training step's cost for a report: per row the backward FLOPs (grad-input and grad-weight
apart) and the bytes autograd saves; in total the training FLOPs (forward + backward), the saved
bytes and the step's peak memory for an optimizer and a training dtype.

Rules: `cnncost.training.backward` (FLOPs), `cnncost.training.saved` (what each op keeps),
`cnncost.training.peak` (the step replayed); docs/memory.md gives the measured agreement.
"""
from __future__ import annotations

from dataclasses import replace

from cnncost.errors import CostError
from cnncost.sizes import add, is_concrete, tidy
from cnncost.training.backward import backward
from cnncost.training.peak import OPTIMIZERS, peak_at, step_peaks
from cnncost.training.saved import storages
from cnncost.training.tensors import has_weights, tensors

DEVICES = ("cpu", "cuda")


def check_optimizer(optimizer: str) -> str:
    if optimizer not in OPTIMIZERS:
        raise CostError(f"unknown optimizer {optimizer!r}; known: {', '.join(OPTIMIZERS)}")
    return optimizer


def _sum(values):
    known = [v for v in values if v is not None]
    return tidy(add(*known)) if known else 0


def _accumulations(report, t) -> dict:
    """cnncost convention: a tensor read by n rows gets n gradients, summed with n-1 additions per element."""
    out = {}
    for i, readers in t.readers.items():
        if i >= 0 and len(readers) > 1 and t.needs_grad[i]:
            out[i] = (len(readers) - 1) * report.rows[i].elements
    return out


def training(report, *, optimizer: str = "adam", dtype: str = "fp32", device: str = "cpu", frozen=()):
    """The report with `row.train` and `report.training` filled in (unfolded rows; fold afterwards)."""
    if report.folded:
        raise CostError("training costs need the unfolded rows; fold after computing them")
    check_optimizer(optimizer)
    if device not in DEVICES:
        raise CostError(f"unknown device {device!r}; known: {', '.join(DEVICES)}")
    frozen = frozenset(frozen)
    t = tensors(report, dtype, frozen)
    per_row, keys = storages(report, t, device, frozen)
    extra = _accumulations(report, t) if report.convention == "cnncost" else {}
    b = report.batch
    rows = []
    for i, r in enumerate(report.rows):
        needs = any(t.needs_grad[j] for j in r.inputs if j >= 0)
        bw = backward(r, report.convention, b, needs, has_weights(r) and r.name not in frozen)
        saved = None if per_row[i] is None else tidy(add(per_row[i][0], per_row[i][1] * b))
        if bw is None:
            train = {"grad_input_flops": None, "grad_weight_flops": None, "backward_flops": None}
        else:
            gi = tidy(add(bw[0], extra.get(i, 0)))
            train = {"grad_input_flops": gi, "grad_weight_flops": bw[1], "backward_flops": tidy(add(gi, bw[1]))}
        train["saved_bytes"] = saved
        rows.append(replace(r, train=train))
    unknown = sorted({r.kind for r in rows if r.train["backward_flops"] is None or r.train["saved_bytes"] is None})
    backward_total = _sum(r.train["backward_flops"] for r in rows)
    total = {
        "optimizer": optimizer, "dtype": dtype, "device": device,
        "backward_flops": backward_total,
        "grad_input_flops": _sum(r.train["grad_input_flops"] for r in rows),
        "grad_weight_flops": _sum(r.train["grad_weight_flops"] for r in rows),
        "training_flops": tidy(add(report.total["flops"], backward_total)),
        "saved_bytes": tidy(add(*[v["size"][0] + v["size"][1] * b for v in keys.values()])) if keys else 0,
        "peak_bytes": None, "peak_phase": None, "unknown": unknown,
    }
    sizes_known = all(is_concrete(v) for v in t.per_sample.values()) and is_concrete(report.total["params"])
    if not sizes_known:
        total["peak_note"] = "it needs numeric input sizes; the batch may be a symbol"
    elif not unknown and report.complete:
        peaks = step_peaks(report, t, keys, optimizer, device, frozen)
        total["peak_bytes"], total["peak_phase"] = peak_at(peaks, b)
        total["peak_candidates"] = peaks
    keep = ("backward_flops", "grad_input_flops", "grad_weight_flops", "training_flops", "saved_bytes", "peak_bytes")
    return replace(report, rows=tuple(rows), training=total, total={**report.total, **{k: total[k] for k in keep}})


def training_flops(report, frozen=()):
    """Forward + backward FLOPs of one training step under the report's convention (what a
    trainer's MFU and cost model should use instead of 3 x forward)."""
    rows = training(report, frozen=frozen)
    return rows.training["training_flops"]

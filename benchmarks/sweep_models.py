"""Proof sweep: every torchvision model and a set of timm models read by cnncost, checked against
independent counters, with read + analyse time beside fvcore's.

Per model (untrained, nothing downloaded; natural inputs from `cnncost.torch.sources`):
- output shape: the spec's output vs the first tensor a real forward pass returns;
- params: the report's total vs sum(numel) of the parameters some executed op reads;
- FLOPs, torch convention vs `torch.utils.flop_counter.FlopCounterMode` on the same inputs
  (forward, autograd on, on meta tensors as the reader runs: the same ATen ops);
- FLOPs, fvcore convention vs `fvcore.nn.FlopCountAnalysis` (one-input image models);
- time: cnncost read + analyse (first call) vs fvcore's FlopCountAnalysis(...).total() (first call),
  timed one after the other before any real forward of the model (a forward first would warm
  oneDNN's kernel cache for fvcore's traced forward), each after `gc.collect()`, so neither pays
  for a full collection of garbage the other left.
A model that cannot be read gets one line saying why.  Results are written after every model to
benchmarks/results/sweep_models.json and .md, so a sweep cut short keeps what finished.

    nice python benchmarks/sweep_models.py                 # everything (long: real forwards)
    python benchmarks/sweep_models.py --only resnet18 timm:vit_tiny_patch16_224
"""
from __future__ import annotations

import argparse
import gc
import json
import logging
import os
import statistics
import sys
import time
import warnings

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
RESULTS = os.path.join(HERE, "results")

#: timm models across families (CNNs, ViT/DeiT, Swin, ConvNeXt, EfficientNet, MobileViT, LeViT, RegNet, ...)
TIMM = ["resnet18", "resnet50", "resnet50d", "seresnext26d_32x4d", "densenet121", "efficientnet_b0",
        "efficientnet_lite0", "tf_efficientnet_b0", "mobilenetv2_100", "mobilenetv3_large_100", "mixnet_s",
        "regnetx_002", "regnety_002", "ghostnet_100", "dla34", "dpn68", "cspresnet50", "hrnet_w18_small",
        "convnext_tiny", "convnext_atto", "vit_tiny_patch16_224", "vit_small_patch16_224", "deit_tiny_patch16_224",
        "swin_tiny_patch4_window7_224", "mobilevit_xxs", "levit_128s", "efficientformer_l1", "poolformer_s12",
        "coat_lite_tiny", "resmlp_12_224", "mixer_b16_224", "repvgg_a0", "nfnet_l0", "rexnet_100"]


def flop_counter_total(module, shapes, layout) -> int:
    """FlopCounterMode's total on one forward of meta tensors (autograd on), or real CPU tensors
    where the model needs values, the same inputs the reader runs."""
    from torch.utils.flop_counter import FlopCounterMode
    from cnncost.torch import runmodel
    for device in ("meta", "cpu"):
        ctx = runmodel._on_meta(module) if device == "meta" else runmodel.contextlib.nullcontext()
        try:
            with ctx, FlopCounterMode(display=False) as fc, warnings.catch_warnings():
                warnings.simplefilter("ignore")
                args, _ = runmodel._tensors(shapes, device, layout)
                module(*args)
            return fc.get_total_flops(), device
        except Exception:
            if device == "cpu":
                raise
    raise AssertionError("unreachable")


def fvcore_total(module, shape):
    """fvcore's total and time, with the analysis (for `explain_fvcore`) and, per aten::einsum call,
    (fvcore's count, the count before numpy's rounding): fvcore's own einsum handler, wrapped to
    record, so its totals are unchanged."""
    from fvcore.nn import FlopCountAnalysis
    logging.disable(logging.WARNING)
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            x = torch.randn(1, *shape)
            einsums = []
            t = time.perf_counter()
            fa = FlopCountAnalysis(module, x).set_op_handle("aten::einsum", _einsum_recorder(einsums))
            total = fa.total()
            return total, time.perf_counter() - t, fa, einsums
    finally:
        logging.disable(logging.NOTSET)


# Why fvcore's total differs from cnncost's in fvcore's convention (docs/fvcore-differences.md,
# "Models where the totals differ").  Each cause is computed from the report and fvcore's analysis
# and checked against both; a row is "explained" only when cnncost's total minus the signed causes
# equals fvcore's total exactly.

def _einsum_recorder(records: list):
    from fvcore.nn.jit_handles import einsum_flop_jit

    def handle(inputs, outputs):
        value = einsum_flop_jit(inputs, outputs)
        records.append((value, _einsum_unrounded(inputs, value)))
        return value
    return handle


def _einsum_unrounded(inputs, value):
    """fvcore counts an einsum it has no closed form for as numpy's `einsum_path` "Optimized FLOP
    count" / 2, read back from text printed as `%.3e` (4 significant digits).  For two operands with
    a summed index that count is 2 x the product of all index sizes: return that product (the MACs)
    when the rounding reproduces fvcore's value, else None."""
    import numpy as np
    from fvcore.nn.jit_handles import get_shape
    equation = inputs[0].toIValue().replace(" ", "")
    shapes = [get_shape(v) for v in inputs[1].node().inputs()]
    if "..." in equation or "->" not in equation or len(shapes) != 2:
        return None
    lhs, out = equation.split("->")
    sizes = {}
    for term, shape in zip(lhs.split(","), shapes):
        if shape is None or len(term) != len(shape):
            return None
        sizes.update(zip(term, shape))
    if not set(lhs) - {","} - set(out):
        return None                                     # no summed index: not a product of MACs
    macs = 1
    for n in sizes.values():
        macs *= n
    if value == macs or value == float(np.floor(float(f"{2 * macs:.3e}") / 2)):
        return macs
    return None


def _owner(name: str, paths: set) -> str:
    """The module whose forward made a cnncost row: the row's module, or for a function row
    (`blocks.0.attn.bmm`) the module it was called in."""
    base = name.split("#")[0]
    return base if base in paths else (base.rsplit(".", 1)[0] if "." in base else "")


def _own(per_module: dict, path: str):
    """fvcore attributes an op to every ancestor: a module's own ops are its counts minus its
    direct children's."""
    from collections import Counter
    own = Counter(per_module.get(path, {}))
    prefix = path + "." if path else ""
    for key, counts in per_module.items():
        if key.startswith(prefix) and key != path and "." not in key[len(prefix):]:
            own.subtract(counts)
    return own


def explain_fvcore(report, module, fa, einsums) -> tuple:
    """([(cause, FLOPs cnncost counts minus fvcore's)], closes): the known causes, each checked."""
    from collections import defaultdict
    paths = {n for n, _ in module.named_modules()}
    rows = report.rows
    owners = [_owner(r.name, paths) for r in rows]
    counts = fa.by_module_and_operator()
    unsupported = {p: fa.unsupported_ops(p) for p in counts}
    causes = []

    # nn.MultiheadAttention under no_grad: fused aten::_native_multi_head_attention, no handler, 0
    mha = defaultdict(list)
    for r in rows:
        if r.kind == "mha":
            mha[r.name.split("#")[0]].append(r.flops)
    fused = [p for p, f in mha.items() if fa.by_module()[p] == 0
             and _own(unsupported, p)["aten::_native_multi_head_attention"] == len(f)]
    if fused:
        n = sum(sum(mha[p]) for p in fused)
        causes.append((f"fvcore skips nn.MultiheadAttention's no-grad fused path "
                       f"(aten::_native_multi_head_attention x{len(fused)}, no handler); cnncost counts its "
                       f"projections", n))

    # weight standardisation (timm's StdConv2d, ScaledStdConv2d): aten::batch_norm in training mode
    # on the weight, 5 per weight element (4 without affine); cnncost: an op on parameters, no row
    std, per = [], set()
    for name, m in module.named_modules():
        bn = _own(counts, name)["batch_norm"]
        w = getattr(m, "weight", None)
        if bn and isinstance(w, torch.Tensor) and bn in (4 * w.numel(), 5 * w.numel()) and not any(
                r.kind == "bn" and r.flops for r, o in zip(rows, owners) if o == name):
            std.append(bn)
            per.add(bn // w.numel())
    if std:
        causes.append((f"fvcore counts weight standardisation (aten::batch_norm in training mode on the weights "
                       f"of {len(std)} convolutions, {' or '.join(map(str, sorted(per)))} per element); cnncost "
                       f"reads ops on parameters as constants", -sum(std)))

    # aten::einsum: fvcore reads numpy's count printed to 4 significant digits
    rounded = [(v, u) for v, u in einsums if u is not None and v != u]
    if rounded and all(u is not None for _, u in einsums):
        causes.append((f"fvcore rounds aten::einsum counts to 4 significant digits (numpy einsum_path's "
                       f"printed count; {len(rounded)} of {len(einsums)} calls)",
                       int(sum(u - v for v, u in rounded))))
    gap = report.total["flops"] - fa.total()
    return causes, bool(causes) and report.complete and gap == sum(n for _, n in causes)


def one(name: str) -> dict:
    from cnncost.torch import read, sources
    from cnncost.walk import analyze
    if name.startswith("timm:"):
        module, shapes = sources.timm_model(name[5:])
        layout = "batch"
    else:
        module = sources.torchvision_model(name)
        shapes, layout = sources.torchvision_inputs(name)
    module.eval()
    row = {"model": name, "inputs": [list(s) for s in shapes]}
    gc.collect()
    t = time.perf_counter()
    r = read.read_module(module, shapes if len(shapes) > 1 else shapes[0], name=name, layout=layout)
    rep = analyze(r.spec, r.input_shape, convention="torch")
    row["read_s"] = time.perf_counter() - t
    if layout == "batch" and len(shapes) == 1:     # fvcore's first call, before any forward of this model
        gc.collect()
        fv, fv_s, fa, einsums = fvcore_total(module, shapes[0])
    row.update(method=r.method, complete=rep.complete, unknown=dict(rep.unknown), notes=r.notes)
    used = sum(p.numel() for n, p in module.named_parameters()) - sum(r.unused.values())
    row.update(params=rep.total["params"], params_used=used, params_ok=rep.total["params"] == used)
    row["flops_torch"] = rep.total["flops"]
    fc, device = flop_counter_total(module, shapes, layout)
    row.update(flop_counter=fc, flop_counter_device=device, torch_ok=rep.complete and rep.total["flops"] == fc)
    from cnncost.torch.runmodel import _tensors
    from cnncost.torch.runread import sample_shape
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        args, _ = _tensors(shapes, "cpu", layout)
        out = module(*args)
    first = next(t for t in torch.utils._pytree.tree_leaves(out) if isinstance(t, torch.Tensor))
    row.update(out_shape=list(rep.total["output_shape"]), real_shape=list(sample_shape(first)))
    row["shape_ok"] = tuple(rep.total["output_shape"]) == sample_shape(first)
    if layout == "batch" and len(shapes) == 1:
        ours = analyze(r.spec, r.input_shape, convention="fvcore")
        gc.collect()                     # fvcore again, now that the model has run once (as timed before)
        warm_s = fvcore_total(module, shapes[0])[1]
        row.update(fvcore=fv, fvcore_s=fv_s, fvcore_after_forward_s=warm_s, flops_fvcore=ours.total["flops"],
                   fvcore_ok=ours.complete and ours.total["flops"] == fv, speedup=fv_s / row["read_s"],
                   speedup_after_forward=warm_s / row["read_s"])
        if not row["fvcore_ok"]:
            causes, closes = explain_fvcore(ours, module, fa, einsums)
            row.update(fvcore_why=causes, fvcore_explained=closes)
    return row


def _spread(done: list) -> str:
    """Quartiles by reader, and the median against fvcore timed after the model has run once."""
    text = []
    for method in ("fx", "run"):
        sp = sorted(r["speedup"] for r in done if r.get("speedup") and r["method"] == method)
        if len(sp) >= 4:
            q = statistics.quantiles(sp, n=4)
            text.append(f"{method}-read ({len(sp)}): quartiles {q[0]:.1f}x / {q[1]:.1f}x / {q[2]:.1f}x")
    warm = [r["speedup_after_forward"] for r in done if r.get("speedup_after_forward")]
    if warm:
        text.append(f"against fvcore timed after one real forward of the model: median {statistics.median(warm):.1f}x")
    return (" " + "; ".join(text) + ".") if text else ""


def markdown(rows: list) -> str:
    def ok(v):
        return "-" if v is None else ("yes" if v else "**no**")
    lines = ["# cnncost on torchvision and timm models", "",
             "Generated by `benchmarks/sweep_models.py`: untrained models, natural inputs, batch 1.",
             "torch = FLOPs equal FlopCounterMode's (torch convention); fvcore = equal FlopCountAnalysis's "
             "(fvcore convention); speedup = fvcore time / cnncost read+analyse time, first calls.", ""]
    done = [r for r in rows if "error" not in r]
    speed = [r["speedup"] for r in done if r.get("speedup")]
    if speed:
        lines += [f"Models read: {len(done)} of {len(rows)}; complete (every op known): "
                  f"{sum(r['complete'] for r in done)}; output shapes equal: {sum(r['shape_ok'] for r in done)}; "
                  f"params equal: {sum(r['params_ok'] for r in done)}; torch FLOPs equal: "
                  f"{sum(r['torch_ok'] for r in done)}; fvcore FLOPs equal: "
                  f"{sum(bool(r.get('fvcore_ok')) for r in done)} of {len(speed)}; fvcore differences fully "
                  f"explained: {sum(bool(r.get('fvcore_explained')) for r in done)} (listed under the table).",
                  f"Speedup over fvcore's first call: median {statistics.median(speed):.1f}x, min {min(speed):.1f}x, "
                  f"max {max(speed):.1f}x over {len(speed)} models.{_spread(done)}", ""]
    lines += ["| model | reader | shape | params | torch FLOPs | fvcore FLOPs | speedup | unknown ops |",
              "|---|---|---|---|---|---|---|---|"]
    why = []
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['model']} | cannot read: {r['error'][:150]} | | | | | | |")
            continue
        unknown = ", ".join(f"{k} x{v}" for k, v in r["unknown"].items())
        sp = f"{r['speedup']:.1f}x" if r.get("speedup") else "-"
        fv = ok(r.get("fvcore_ok"))
        if r.get("fvcore_why") or (r.get("fvcore_why") == [] and r["complete"]):
            why.append(r)
            fv = ("differs: explained" if r.get("fvcore_explained") else fv) + f" [{len(why)}]"
        lines.append(f"| {r['model']} | {r['method']} | {ok(r['shape_ok'])} | {ok(r['params_ok'])} | "
                     f"{ok(r['torch_ok'])} | {fv} | {sp} | {unknown[:200]} |")
    if why:
        lines += ["", "Why fvcore's total differs (cnncost's FLOPs in fvcore's convention minus fvcore's; "
                  "docs/fvcore-differences.md):", ""]
        for i, r in enumerate(why, 1):
            gap = r["flops_fvcore"] - r["fvcore"]
            rest = gap - sum(n for _, n in r["fvcore_why"])
            causes = "; ".join(f"{c}: {n:+,}" for c, n in r["fvcore_why"]) or "no known cause"
            end = ("closes exactly" if r.get("fvcore_explained") else "cnncost's count is incomplete"
                   if not r["complete"] else f"**{rest:+,.0f} unexplained**")
            lines.append(f"{i}. {r['model']}: {gap:+,.0f} = {causes}; {end}.")
    return "\n".join(lines) + "\n"


def interleaved(names: list) -> list:
    """Round-robin over families (torchvision subpackage or timm), so a sweep cut short covers them all."""
    from cnncost.torch.sources import family
    groups: dict = {}
    for n in names:
        groups.setdefault("timm" if n.startswith("timm:") else family(n), []).append(n)
    out, lists = [], list(groups.values())
    while any(lists):
        for g in lists:
            if g:
                out.append(g.pop(0))
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", nargs="*", help="model names (timm:NAME for timm)")
    ap.add_argument("--out", default="sweep_models", help="results file stem under benchmarks/results/")
    opts = ap.parse_args(argv)
    import torchvision
    names = opts.only or interleaved([*torchvision.models.list_models(), *(f"timm:{n}" for n in TIMM)])
    rows = []
    os.makedirs(RESULTS, exist_ok=True)
    for name in names:
        t = time.perf_counter()
        try:
            row = one(name)
        except Exception as err:
            row = {"model": name, "error": f"{type(err).__name__}: {str(err).strip().splitlines()[0] if str(err).strip() else ''}"}
        row["wall_s"] = time.perf_counter() - t
        rows.append(row)
        print(json.dumps({k: row.get(k) for k in ("model", "method", "shape_ok", "params_ok", "torch_ok",
                                                    "fvcore_ok", "speedup", "error", "wall_s")}), flush=True)
        with open(os.path.join(RESULTS, f"{opts.out}.json"), "w") as f:
            json.dump({"torch": torch.__version__, "threads": torch.get_num_threads(), "rows": rows}, f, indent=1,
                      default=str)
        with open(os.path.join(RESULTS, f"{opts.out}.md"), "w") as f:
            f.write(markdown(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())

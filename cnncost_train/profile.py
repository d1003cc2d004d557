"""`cnncost-train profile`: each layer's measured time beside the calculator's FLOPs, bytes and intensity.

The model is `cnncost.torch.build(spec)`, whose leaf module at path p is the analyze() row named p.
One forward pass with forward pre-hooks records each leaf's input; then every leaf runs alone on
its recorded input: forward (training mode, no autograd graph) and forward + backward (autograd on,
input and parameter gradients, backward from a fixed random output gradient).  Residual adds
(rows without a module) are timed as `a + b` on random tensors of their shape; rows whose module is
a container (concatenations) are left untimed (their time is in the whole model's).  The whole
model is timed the same way.  Timer: `roofline.timer` (CUDA events, warm-up, median of repeats;
perf_counter on the CPU).  The model and inputs are cast to --dtype (no autocast).

Per layer, with e the bytes per element of the dtype:
    FLOPs        = the analyze() row's flops for the batch (convention --convention; forward)
    bytes        = e x (input elements + output elements + parameters)        (each read or written once)
    intensity    = FLOPs / bytes
    fwd+bwd      : FLOPs x 3 and bytes x 3 (backward ~ two passes like the forward; Kaplan et al. 2020 s2.1)
    achieved     = FLOPs / time, bytes / time;  roofline: see `roofline` (bound time / measured time)
Whole model: FLOPs and bytes are the sums over the rows (layer-by-layer execution, nothing fused).
"""
from __future__ import annotations

import math
import statistics
import sys
from dataclasses import dataclass, field
from pathlib import Path

from cnncost.errors import CostError

ZOO = ("alexnet", "vgg19", "googlenet", "resnet18", "resnet50", "resnet44", "davidnet")
DTYPES = ("bf16", "fp16", "fp32")
BYTES_FORMULA = "bytes = element size x (input elements + output elements + parameters), per layer; " \
                "fwd+bwd: 3 x FLOPs and 3 x bytes"


def parse_input(text: str | None) -> tuple | None:
    """'HxWxC' -> (C, H, W); 'F' -> (F,)."""
    if text is None:
        return None
    try:
        parts = [int(p) for p in text.lower().split("x")]
    except ValueError:
        parts = []
    if len(parts) == 1 and parts[0] > 0:
        return (parts[0],)
    if len(parts) != 3 or min(parts) < 1:
        raise CostError(f"--input must be HxWxC (e.g. 32x32x3) or a feature count, got {text!r}")
    h, w, c = parts
    return (c, h, w)


def torch_dtype(name: str):
    import torch
    try:
        return {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}[name]
    except KeyError:
        raise CostError(f"--dtype must be one of {', '.join(DTYPES)}, got {name!r}") from None


@dataclass
class Options:
    model: str | None = None
    batch: int = 64
    dtype: str = "bf16"
    input: str | None = None
    zoo: bool = False
    models: list = field(default_factory=lambda: list(ZOO))
    convention: str = "cnncost"
    repeats: int = 10
    warmup: int = 3
    out: Path | None = None
    device: str | None = None
    smoke: bool = False


def layer_bytes(in_elems: int, out_elems: int, params: int, elem: int) -> int:
    return elem * (in_elems + out_elems + params)


def row_elements(row, batch: int) -> tuple[int, int]:
    """(input, output) elements a row reads and writes for the batch: an add reads two tensors of the
    output's shape, a concatenation reads exactly what it writes, other layers read their input shape."""
    out = batch * math.prod(row.output_shape)
    if row.kind in ("add", "mul"):
        return 2 * out, out
    if row.kind == "concat":
        return out, out
    s = row.input_shape
    n = sum(math.prod(t) for t in s) if s and isinstance(s[0], tuple) else math.prod(s)
    return batch * n, out


def row_bytes(row, batch: int, elem: int) -> int:
    return layer_bytes(*row_elements(row, batch), int(row.params or 0), elem)


def _leaf_inputs(module, x):
    """{path: args of the first call} for every leaf module, from one forward pass (no grad)."""
    import torch
    seen, handles = {}, []
    for name, m in module.named_modules():
        if name and not any(True for _ in m.children()):
            def pre(mod, args, name=name):
                if name not in seen:
                    seen[name] = tuple(a.detach().clone() if torch.is_tensor(a) else a for a in args)
            handles.append(m.register_forward_pre_hook(pre))
    try:
        with torch.no_grad():
            module(x)
    finally:
        for h in handles:
            h.remove()
    return seen


def _time_pair(fn_args, device, opts: Options, call):
    """(forward s, forward+backward s) of call(*args) on fresh leaf copies of the inputs."""
    import torch
    cuda = str(device).startswith("cuda")
    args = tuple(a.detach().clone().requires_grad_(a.is_floating_point()) if torch.is_tensor(a) else a
                 for a in fn_args)
    with torch.no_grad():
        out = call(*args)
    grad = torch.randn_like(out)

    def fwd():
        with torch.no_grad():
            call(*args)

    def fwd_bwd():
        call(*args).backward(grad)

    def inner(fn):
        if not cuda:
            return 1
        once = max(torch.finfo(torch.float32).tiny, _time(fn, 1, 1, 1))
        return max(1, min(50, math.ceil(2e-3 / once)))

    def _time(fn, warmup, repeats, k):
        from cnncost_train.roofline import timer
        return timer(fn, device, warmup=warmup, repeats=repeats, inner=k)

    needs_grad = any(torch.is_tensor(a) and a.requires_grad for a in args) or any(
        p.requires_grad for p in getattr(call, "parameters", lambda: [])())
    f = _time(fwd, opts.warmup, opts.repeats, inner(fwd))
    fb = _time(fwd_bwd, opts.warmup, opts.repeats, inner(fwd_bwd)) if needs_grad else None
    return f, fb, out.numel()


def _roof(flops, nbytes, seconds, peak, bw):
    from cnncost_train import roofline
    if seconds is None or seconds <= 0:
        return {}
    bound = roofline.bound_seconds(flops, nbytes, peak, bw)
    return {"tflops": flops / seconds / 1e12, "gbs": nbytes / seconds / 1e9, "bound_s": bound,
            "fraction": bound / seconds}


def profile_layers(spec, input_shape, opts: Options, device, probes) -> dict:
    """Per-layer and whole-model rows for one spec (see the module docstring)."""
    import torch

    from cnncost import walk
    from cnncost.torch.build import build
    dtype = torch_dtype(opts.dtype)
    elem = torch.empty((), dtype=dtype).element_size()
    report = walk.analyze(spec, tuple(input_shape), batch=opts.batch, convention=opts.convention)
    model = build(spec, tuple(input_shape)).to(device=device, dtype=dtype).train()
    g = torch.Generator(device=device).manual_seed(0)
    x = torch.randn(opts.batch, *input_shape, device=device, generator=g).to(dtype)
    inputs = _leaf_inputs(model, x)
    modules = dict(model.named_modules())
    peak, bw = probes["matmul"]["flops_per_s"], probes["copy"]["bytes_per_s"]
    rows = []
    for r in report.rows:
        flops, nbytes = int(r.flops or 0), row_bytes(r, opts.batch, elem)
        f = fb = None
        note = ""
        if r.name in inputs:
            f, fb, _ = _time_pair(inputs[r.name], device, opts, modules[r.name])
        elif r.kind == "add":
            a, b = (torch.randn(opts.batch, *r.output_shape, device=device, generator=g).to(dtype) for _ in range(2))
            f, fb, _ = _time_pair((a, b), device, opts, torch.add)
            note = "timed as a + b"
        else:
            note = "container: untimed (in the whole model's time)"
        row = {"name": r.name, "kind": r.kind, "flops": flops, "bytes": nbytes,
               "intensity": flops / nbytes if nbytes else None, "fwd_s": f, "fwd_bwd_s": fb, "note": note}
        row |= {f"fwd_{k}": v for k, v in _roof(flops, nbytes, f, peak, bw).items()}
        row |= {f"fwd_bwd_{k}": v for k, v in _roof(3 * flops, 3 * nbytes, fb, peak, bw).items()}
        rows.append(row)
    f, fb, _ = _time_pair((x,), device, opts, model)
    tf, tb = sum(r["flops"] for r in rows), sum(r["bytes"] for r in rows)
    total = {"name": "TOTAL (whole model)", "kind": "model", "flops": tf, "bytes": tb, "intensity": tf / tb,
             "fwd_s": f, "fwd_bwd_s": fb, "note": "",
             "sum_layers_fwd_s": math.fsum(r["fwd_s"] for r in rows if r["fwd_s"] is not None),
             "sum_layers_fwd_bwd_s": math.fsum(r["fwd_bwd_s"] for r in rows if r["fwd_bwd_s"] is not None)}
    total |= {f"fwd_{k}": v for k, v in _roof(tf, tb, f, peak, bw).items()}
    total |= {f"fwd_bwd_{k}": v for k, v in _roof(3 * tf, 3 * tb, fb, peak, bw).items()}
    return {"rows": rows, "total": total, "params": int(report.total["params"])}


def probe(device, dtype_name: str, smoke: bool) -> dict:
    from cnncost_train import roofline
    dtype = torch_dtype(dtype_name)
    small = smoke or not str(device).startswith("cuda")
    return {"matmul": roofline.matmul_rate(device, dtype, n=256 if smoke else None, repeats=3 if small else 10),
            "copy": roofline.copy_bandwidth(device, dtype, mbytes=8 if smoke else None, repeats=3 if small else 10)}


def _model_shape(name: str, opts: Options):
    from cnncost import zoo
    m = zoo.get(name)
    return m.spec, (parse_input(opts.input) or tuple(m.input_shape))


def run(opts: Options, console=None) -> dict:
    import torch
    from rich.console import Console

    from cnncost_train import common
    console = console or Console()
    if opts.batch < 1 or opts.repeats < 1 or opts.warmup < 0:
        raise CostError("--batch and --repeats must be at least 1, --warmup at least 0")
    if not opts.zoo and not opts.model:
        raise CostError("name a MODEL to profile, or pass --zoo")
    torch_dtype(opts.dtype)
    device = common.resolve_device(opts.device, opts.smoke)
    if device.startswith("cuda"):
        torch.backends.cudnn.benchmark = True
    out = Path(opts.out) if opts.out else Path("runs") / ("profile-zoo" if opts.zoo else f"profile-{opts.model}")
    probes = probe(device, opts.dtype, opts.smoke)
    head = {"device": common.device_name(device), "torch": torch.__version__, "dtype": opts.dtype,
            "batch": opts.batch, "convention": opts.convention, "repeats": opts.repeats, "warmup": opts.warmup,
            "bytes_formula": BYTES_FORMULA, "probes": probes,
            "command": " ".join(["cnncost-train", *sys.argv[1:]])}
    console.print(f"profile on {head['device']}, {opts.dtype}, batch {opts.batch}: matmul "
                  f"{probes['matmul']['flops_per_s'] / 1e12:.3f} TFLOP/s, copy "
                  f"{probes['copy']['bytes_per_s'] / 1e9:.1f} GB/s", highlight=False)
    if opts.zoo:
        return run_zoo(opts, device, probes, head, out, console)
    spec, shape = _model_shape(opts.model, opts)
    res = profile_layers(spec, shape, opts, device, probes)
    common.write_csv(out / "layers.csv", res["rows"] + [res["total"]])
    summary = head | {"model": opts.model, "input_shape": list(shape), "params": res["params"], "total": res["total"]}
    common.write_json(out / "profile.json", summary | {"rows": res["rows"]})
    print_layers(res, console, opts)
    console.print(f"results: {out / 'layers.csv'}, {out / 'profile.json'}", highlight=False)
    return summary | {"rows": res["rows"]}


def run_zoo(opts: Options, device, probes, head, out: Path, console) -> dict:
    from cnncost import walk
    from cnncost.torch.build import build
    from cnncost_train import common, roofline
    import torch
    dtype = torch_dtype(opts.dtype)
    elem = torch.empty((), dtype=dtype).element_size()
    peak, bw = probes["matmul"]["flops_per_s"], probes["copy"]["bytes_per_s"]
    rows = []
    for name in opts.models:
        spec, shape = _model_shape(name, opts)
        report = walk.analyze(spec, shape, batch=opts.batch, convention=opts.convention)
        model = build(spec, shape).to(device=device, dtype=dtype).train()
        x = torch.randn(opts.batch, *shape, device=device).to(dtype)
        f, fb, _ = _time_pair((x,), device, opts, model)
        flops = int(report.total["flops"])
        nbytes = sum(row_bytes(r, opts.batch, elem) for r in report.rows)
        row = {"model": name, "input_shape": "x".join(map(str, shape)), "batch": opts.batch, "flops": flops,
               "bytes": nbytes, "intensity": flops / nbytes, "fwd_s": f, "fwd_bwd_s": fb}
        row |= {f"fwd_{k}": v for k, v in _roof(flops, nbytes, f, peak, bw).items()}
        row |= {f"fwd_bwd_{k}": v for k, v in _roof(3 * flops, 3 * nbytes, fb, peak, bw).items()}
        rows.append(row)
        console.print(f"{name}: {flops / 1e9:.3f} GFLOP fwd, {f * 1e3:.3f} ms fwd, {fb * 1e3:.3f} ms fwd+bwd",
                      highlight=False)
        del model, x
    fits = {}
    if len(rows) >= 2:
        fits["fwd"] = roofline.loglog_fit([r["flops"] for r in rows], [r["fwd_s"] for r in rows])
        fits["fwd_bwd"] = roofline.loglog_fit([3 * r["flops"] for r in rows], [r["fwd_bwd_s"] for r in rows])
    common.write_csv(out / "zoo.csv", rows)
    summary = head | {"models": rows, "fits": fits}
    common.write_json(out / "zoo.json", summary)
    if fits:
        plot_zoo(rows, fits, out / "zoo_time_vs_flops.png", head)
    console.print(f"fit log10 t = a + b log10 FLOPs: " + "; ".join(
        f"{k}: b = {v['slope']:.3f}, R² = {v['r2']:.4f}" for k, v in fits.items()), highlight=False)
    console.print(f"results: {out / 'zoo.csv'}, {out / 'zoo.json'}, {out / 'zoo_time_vs_flops.png'}",
                  highlight=False)
    return summary


def plot_zoo(rows, fits, path: Path, head: dict):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6.4, 4.6))
    for key, mult, marker, label in (("fwd", 1, "o", "forward"), ("fwd_bwd", 3, "s", "forward+backward (3x FLOPs)")):
        xs = [mult * r["flops"] for r in rows]
        ys = [r[f"{key}_s"] for r in rows]
        ax.scatter(xs, ys, marker=marker, label=label)
        fit = fits[key]
        lo, hi = min(xs), max(xs)
        line = [lo, hi]
        ax.plot(line, [10 ** (fit["intercept"] + fit["slope"] * math.log10(v)) for v in line], lw=1,
                label=f"fit: slope {fit['slope']:.2f}, R² = {fit['r2']:.3f}")
        for r, xv, yv in zip(rows, xs, ys):
            ax.annotate(r["model"], (xv, yv), fontsize=7, xytext=(3, 3), textcoords="offset points")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(f"computed FLOPs per batch of {head['batch']} (cnncost)")
    ax.set_ylabel("measured time (s, median)")
    ax.set_title(f"{head['device']}, {head['dtype']}", fontsize=9)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def print_layers(res: dict, console, opts: Options, top: int = 15):
    from rich.table import Table
    t = Table(title=f"slowest {top} layers by forward+backward time (all rows in layers.csv)")
    for c in ("layer", "kind", "MFLOP", "MB", "FLOP/B", "fwd ms", "fwd+bwd ms", "TFLOP/s", "GB/s", "of roof"):
        t.add_column(c, justify="right")
    fmt = lambda v, f, s=1.0: "-" if v is None else format(v * s, f)
    rows = sorted(res["rows"], key=lambda r: -(r["fwd_bwd_s"] or r["fwd_s"] or 0))[:top] + [res["total"]]
    for r in rows:
        t.add_row(r["name"], r["kind"], fmt(r["flops"], ".2f", 1e-6), fmt(r["bytes"], ".2f", 1e-6),
                  fmt(r["intensity"], ".1f"), fmt(r["fwd_s"], ".3f", 1e3), fmt(r["fwd_bwd_s"], ".3f", 1e3),
                  fmt(r.get("fwd_bwd_tflops"), ".3f"), fmt(r.get("fwd_bwd_gbs"), ".1f"),
                  fmt(r.get("fwd_bwd_fraction"), ".0%"))
    console.print(t)
    tot = res["total"]
    console.print(f"sum of layer times: fwd {tot['sum_layers_fwd_s'] * 1e3:.3f} ms, fwd+bwd "
                  f"{tot['sum_layers_fwd_bwd_s'] * 1e3:.3f} ms (whole model {tot['fwd_s'] * 1e3:.3f} / "
                  f"{(tot['fwd_bwd_s'] or 0) * 1e3:.3f} ms)", highlight=False)

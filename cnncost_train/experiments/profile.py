"""`cnncost-train profile`: each layer's measured time beside the calculator's FLOPs, bytes, roofline bound
and predicted time.

The model is `cnncost.torch.build(spec)`, whose leaf module at path p is the analyze() row named p.
One forward pass with forward pre-hooks records each leaf's input; then every leaf runs alone on
its recorded input: forward (training mode, no autograd graph) and forward + backward (autograd on,
parameter gradients, and input gradients except for a layer that reads the network input, as in a
training step; backward from a fixed random output gradient).  Residual adds
(rows without a module) are timed as `a + b` on random tensors of their shape; rows whose module is
a container (concatenations) are left untimed (their time is in the whole model's).  The whole
model is timed the same way.  Timer: `roofline.timer` (CUDA events, warm-up, median of repeats;
perf_counter on the CPU).  The model and inputs are cast to --dtype (no autocast).

Per layer (bytes: `layer_bytes`; e the bytes per element of the dtype):
    FLOPs      = the analyze() row's flops for the batch (convention --convention; forward)
    fwd+bwd    : forward + backward FLOPs (`step_time.pass_flops`) and 3 x bytes
    bound      = max(FLOPs / P, bytes / W(S)), W(S) the cache-aware copy roof at the layer's forward
                 working set S (`roofline.bandwidth_at`);  fraction = bound / measured
    predicted  = max(FLOPs / P, bytes / W), W the DRAM copy rate (`step_time`: two device constants)
Whole model: FLOPs, bytes, bound and predicted time are sums over the rows (layer by layer, nothing
fused).  Measurements that contradict themselves are named (`contradictions`).
"""
from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Optional

import typer

from cnncost.errors import CostError
from cnncost_train.engine import options
from cnncost_train.predict.layer_bytes import FORMULA as BYTES_FORMULA, row_bytes

ZOO = ("alexnet", "vgg19", "googlenet", "resnet18", "resnet50", "resnet44", "davidnet")
SMOKE_ZOO = ("lenet5", "resnet20")
DTYPES = ("bf16", "fp16", "fp32")
PREDICTION = "t = sum over layers of max(FLOPs / P, bytes / W); P = matmul probe, W = copy probe (largest buffer)"


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
    batch: int | None = None          # default 64 (2 with --smoke)
    dtype: str | None = None          # default bf16 (fp32 with --smoke: a CPU's bf16 kernels are slow)
    input: str | None = None
    zoo: bool = False
    models: list | None = None        # default ZOO (SMOKE_ZOO with --smoke)
    convention: str = "cnncost"
    repeats: int = 10
    warmup: int = 3
    out: Path | None = None
    device: str | None = None
    smoke: bool = False
    threads: int | None = None


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


def _time_pair(fn_args, device, opts: Options, call, input_grad: bool = True):
    """(forward s, forward+backward s) of call(*args) on fresh leaf copies of the inputs; the inputs get
    gradients only with input_grad (a training step computes none for the network's input)."""
    import torch
    from cnncost_train.predict.roofline import timer
    cuda = str(device).startswith("cuda")
    args = tuple(a.detach().clone().requires_grad_(input_grad and a.is_floating_point()) if torch.is_tensor(a)
                 else a for a in fn_args)
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
        once = max(torch.finfo(torch.float32).tiny, timer(fn, device, warmup=1, repeats=1))
        return max(1, min(50, math.ceil(2e-3 / once)))

    needs_grad = any(torch.is_tensor(a) and a.requires_grad for a in args) or any(
        p.requires_grad for p in getattr(call, "parameters", lambda: [])())
    f = timer(fwd, device, warmup=opts.warmup, repeats=opts.repeats, inner=inner(fwd))
    fb = timer(fwd_bwd, device, warmup=opts.warmup, repeats=opts.repeats, inner=inner(fwd_bwd)) if needs_grad else None
    return f, fb, out.numel()


def _roof(flops, nbytes, seconds, peak, bw):
    from cnncost_train.predict import roofline
    if seconds is None or seconds <= 0:
        return {}
    bound = roofline.bound_seconds(flops, nbytes, peak, bw)
    return {"tflops": flops / seconds / 1e12, "gbs": nbytes / seconds / 1e9, "bound_s": bound,
            "fraction": bound / seconds}


def _costs(report, batch: int, elem: int, probes: dict) -> list[dict]:
    """Per row: counts, the cache-aware roof and the two-constant predictions (no timing)."""
    from cnncost_train.predict import roofline, step_time
    peak, dram = probes["matmul"]["flops_per_s"], probes["copy"]["bytes_per_s"]
    curve = probes.get("copy_curve")
    backward = step_time.backward_flops(report)
    rows = []
    for r, bwd in zip(report.rows, backward):
        flops, nbytes = int(r.flops or 0), row_bytes(r, batch, elem)
        train_flops, _ = step_time.pass_flops(flops, bwd)
        train_bytes = step_time.BACKWARD_BYTES_FACTOR * nbytes
        roof = roofline.bandwidth_at(curve, nbytes) if curve else dram
        rows.append({"name": r.name, "kind": r.kind, "flops": flops, "bytes": nbytes, "train_flops": train_flops,
                     "intensity": flops / nbytes if nbytes else None, "roof_bytes_per_s": roof,
                     "fwd_pred_s": step_time.predict_seconds(flops, nbytes, peak, dram),
                     "fwd_bwd_pred_s": step_time.predict_seconds(train_flops, train_bytes, peak, dram),
                     "_train_bytes": train_bytes})
    return rows


def _with_times(row: dict, f, fb, peak) -> dict:
    row = row | {"fwd_s": f, "fwd_bwd_s": fb}
    row |= {f"fwd_{k}": v for k, v in _roof(row["flops"], row["bytes"], f, peak, row["roof_bytes_per_s"]).items()}
    row |= {f"fwd_bwd_{k}": v for k, v in _roof(row["train_flops"], row["_train_bytes"], fb, peak,
                                                 row["roof_bytes_per_s"]).items()}
    return row


def _sum_rows(rows: list[dict]) -> dict:
    """Whole-model counts and prediction: sums over the rows (layer by layer)."""
    out = {k: sum(r[k] for r in rows) for k in ("flops", "bytes", "train_flops", "fwd_pred_s", "fwd_bwd_pred_s")}
    return out | {"intensity": out["flops"] / out["bytes"] if out["bytes"] else None}


def profile_layers(spec, input_shape, opts: Options, device, probes) -> dict:
    """Per-layer and whole-model rows for one spec (see the module docstring)."""
    import torch

    from cnncost import walk
    from cnncost.torch.build import build
    from cnncost_train.predict import contradictions, step_time
    dtype = torch_dtype(opts.dtype or "bf16")
    elem = torch.empty((), dtype=dtype).element_size()
    batch = opts.batch or 64
    report = walk.analyze(spec, tuple(input_shape), batch=batch, convention=opts.convention)
    model = build(spec, tuple(input_shape)).to(device=device, dtype=dtype).train()
    g = torch.Generator(device=device).manual_seed(0)
    x = torch.randn(batch, *input_shape, device=device, generator=g).to(dtype)
    inputs = _leaf_inputs(model, x)
    modules = dict(model.named_modules())
    peak = probes["matmul"]["flops_per_s"]
    rows = []
    for r, c in zip(report.rows, _costs(report, batch, elem, probes)):
        f = fb = None
        note = ""
        if r.name in inputs:
            first = all(j < 0 for j in getattr(r, "inputs", ()) or (0,))     # reads the network input only
            f, fb, _ = _time_pair(inputs[r.name], device, opts, modules[r.name], input_grad=not first)
        elif r.kind == "add":
            a, b = (torch.randn(batch, *r.output_shape, device=device, generator=g).to(dtype) for _ in range(2))
            f, fb, _ = _time_pair((a, b), device, opts, torch.add)
            note = "timed as a + b"
        else:
            note = "container: untimed (in the whole model's time)"
        rows.append(_with_times(c, f, fb, peak) | {"note": note})
    f, fb, _ = _time_pair((x,), device, opts, model, input_grad=False)
    total = {"name": "TOTAL (whole model)", "kind": "model", **_sum_rows(rows), "fwd_s": f, "fwd_bwd_s": fb,
             "note": "", "sum_layers_fwd_s": math.fsum(r["fwd_s"] for r in rows if r["fwd_s"] is not None),
             "sum_layers_fwd_bwd_s": math.fsum(r["fwd_bwd_s"] for r in rows if r["fwd_bwd_s"] is not None)}
    for k, flops_key in (("fwd", "flops"), ("fwd_bwd", "train_flops")):
        bound = math.fsum(r.get(f"{k}_bound_s") or 0 for r in rows)
        measured = total[f"{k}_s"]
        if measured:
            total |= {f"{k}_bound_s": bound, f"{k}_fraction": bound / measured,
                      f"{k}_tflops": total[flops_key] / measured / 1e12}
    timed = [r for r in rows if r["fwd_bwd_s"] and r["fwd_bwd_pred_s"]]
    total["layer_rank_spearman"] = step_time.spearman([r["fwd_bwd_pred_s"] for r in timed],
                                                      [r["fwd_bwd_s"] for r in timed])
    for r in rows:
        r.pop("_train_bytes")
    return {"rows": rows, "total": total, "params": int(report.total["params"]),
            "warnings": contradictions.check(rows, total)}


def probe(device, dtype_name: str, smoke: bool) -> dict:
    """The matmul rate P, the copy rate of the largest buffer (DRAM) W and the copy rate by buffer size."""
    from cnncost_train.predict import roofline
    dtype = torch_dtype(dtype_name)
    small = smoke or not str(device).startswith("cuda")
    curve = roofline.copy_curve(device, dtype, sizes_mib=(1 / 16, 1) if smoke else None, repeats=2 if smoke else 5)
    return {"matmul": roofline.matmul_rate(device, dtype, n=256 if smoke else None, repeats=3 if small else 10),
            "copy": curve[-1], "copy_curve": curve}


def _model_shape(name: str, opts: Options):
    from cnncost import zoo
    m = zoo.get(name)
    return m.spec, (parse_input(opts.input) or tuple(m.input_shape))


def run(opts: Options, console=None) -> dict:
    import torch
    from rich.console import Console

    from cnncost_train.engine import outputs
    from cnncost_train.experiments import profile_display as show
    from cnncost_train.predict import step_time
    console = console or Console()
    if opts.smoke:          # every path in seconds: tiny batch, one timed repeat
        opts.batch, opts.repeats, opts.warmup = opts.batch or 2, min(opts.repeats, 2), min(opts.warmup, 1)
        opts.dtype = opts.dtype or "fp32"
    opts.batch, opts.dtype = opts.batch or 64, opts.dtype or "bf16"
    if opts.batch < 1 or opts.repeats < 1 or opts.warmup < 0:
        raise CostError("--batch and --repeats must be at least 1, --warmup at least 0")
    if opts.threads is not None and opts.threads < 1:
        raise CostError(f"--threads must be at least 1, got {opts.threads}")
    if not opts.zoo and not opts.model:
        raise CostError("name a MODEL to profile, or pass --zoo")
    torch_dtype(opts.dtype)
    device = options.resolve_device(opts.device, opts.smoke)
    if opts.threads:
        torch.set_num_threads(opts.threads)
    if device.startswith("cuda"):
        torch.backends.cudnn.benchmark = True
    out = Path(opts.out) if opts.out else Path("runs") / ("profile-zoo" if opts.zoo else f"profile-{opts.model}")
    probes = probe(device, opts.dtype, opts.smoke)
    head = {"device": options.device_name(device), "torch": torch.__version__, "dtype": opts.dtype,
            "batch": opts.batch, "convention": opts.convention, "repeats": opts.repeats, "warmup": opts.warmup,
            "threads": torch.get_num_threads(), "bytes_formula": BYTES_FORMULA, "prediction": PREDICTION,
            "training_flops": step_time.training_flops_source(), "probes": probes,
            "command": " ".join(["cnncost-train", *sys.argv[1:]])}
    show.print_probes(head, console)
    if opts.zoo:
        return run_zoo(opts, device, probes, head, out, console)
    spec, shape = _model_shape(opts.model, opts)
    res = profile_layers(spec, shape, opts, device, probes)
    outputs.write_csv(out / "layers.csv", res["rows"] + [res["total"]])
    summary = head | {"model": opts.model, "input_shape": list(shape), "params": res["params"],
                      "total": res["total"], "warnings": res["warnings"]}
    outputs.write_json(out / "profile.json", summary | {"rows": res["rows"]})
    show.print_layers(res, console)
    console.print(f"results: {out / 'layers.csv'}, {out / 'profile.json'}", highlight=False)
    return summary | {"rows": res["rows"]}


def run_zoo(opts: Options, device, probes, head, out: Path, console) -> dict:
    import torch

    from cnncost import walk
    from cnncost.torch.build import build
    from cnncost_train.engine import outputs
    from cnncost_train.experiments import profile_display as show
    from cnncost_train.predict import contradictions, roofline
    dtype = torch_dtype(opts.dtype)
    elem = torch.empty((), dtype=dtype).element_size()
    peak = probes["matmul"]["flops_per_s"]
    rows = []
    for name in opts.models or (SMOKE_ZOO if opts.smoke else ZOO):
        spec, shape = _model_shape(name, opts)
        report = walk.analyze(spec, shape, batch=opts.batch, convention=opts.convention)
        model = build(spec, shape).to(device=device, dtype=dtype).train()
        x = torch.randn(opts.batch, *shape, device=device).to(dtype)
        f, fb, _ = _time_pair((x,), device, opts, model, input_grad=False)
        costs = _costs(report, opts.batch, elem, probes)
        row = {"model": name, "input_shape": "x".join(map(str, shape)), "batch": opts.batch, **_sum_rows(costs),
               "fwd_s": f, "fwd_bwd_s": fb}
        for k, flops_key, bytes_key in (("fwd", "flops", "bytes"), ("fwd_bwd", "train_flops", "_train_bytes")):
            bound = math.fsum(roofline.bound_seconds(c[flops_key], c[bytes_key], peak, c["roof_bytes_per_s"])
                              for c in costs)
            row |= {f"{k}_bound_s": bound, f"{k}_fraction": bound / row[f"{k}_s"] if row[f"{k}_s"] else None}
        rows.append(row)
        show.print_zoo_row(row, console)
        del model, x
    fits = {}
    if len(rows) >= 2:
        fits["fwd"] = roofline.loglog_fit([r["flops"] for r in rows], [r["fwd_s"] for r in rows])
        fits["fwd_bwd"] = roofline.loglog_fit([r["train_flops"] for r in rows], [r["fwd_bwd_s"] for r in rows])
    warnings = contradictions.check(rows)
    outputs.write_csv(out / "zoo.csv", rows)
    summary = head | {"models": rows, "fits": fits, "warnings": warnings}
    outputs.write_json(out / "zoo.json", summary)
    if fits:
        show.plot_zoo(rows, fits, out / "zoo_time_vs_flops.png", head)
    show.print_zoo_end(fits, warnings, out, console)
    return summary


def command(
    model: Annotated[Optional[str], typer.Argument(help="Zoo model (or use --zoo).", show_default=False)] = None,
    batch: Annotated[Optional[int], typer.Option("--batch", help="Batch size (default 64; 2 with --smoke).",
                                                 show_default=False)] = None,
    dtype: Annotated[Optional[str], typer.Option("--dtype", help="bf16 (default; fp32 with --smoke), fp16 or fp32 "
                                                 "(model and inputs cast).", show_default=False)] = None,
    input: Annotated[Optional[str], typer.Option("--input", help="Input HxWxC (default: the zoo entry's).",
                                                 show_default=False)] = None,
    zoo: Annotated[bool, typer.Option("--zoo", help="Whole-model time vs FLOPs for the zoo list; CSV + PNG.")] = False,
    models: Annotated[Optional[list[str]], typer.Option("--models", help="Models for --zoo (default: alexnet vgg19 "
                                                        "googlenet resnet18 resnet50 resnet44 davidnet).",
                                                        show_default=False)] = None,
    repeats: Annotated[int, typer.Option("--repeats", help="Timed repeats (median).")] = 10,
    warmup: Annotated[int, typer.Option("--warmup", help="Untimed calls first.")] = 3,
    threads: Annotated[Optional[int], typer.Option("--threads", help="CPU threads for torch (default: torch's).",
                                                   show_default=False)] = None,
    convention: Annotated[str, typer.Option("--convention", help="FLOP convention for the counts.")] = "cnncost",
    out: options.Out = None, device: options.Device = None, smoke: options.Smoke = False,
):
    """Per-layer and whole-model time beside FLOPs, bytes, the roofline bound and the predicted time."""
    with options.cli_errors():
        run(Options(model=model, batch=batch, dtype=dtype, input=input, zoo=zoo, convention=convention,
                    repeats=repeats, warmup=warmup, out=out, device=device, smoke=smoke, threads=threads,
                    models=list(models) if models else None))


def register(app):
    app.command("profile")(command)

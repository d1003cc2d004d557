"""`cnncost-train scaling`: data-parallel training with DistributedDataParallel, measured and predicted.

ResNet-50 from the cnncost spec (zoo `resnet50`, small_input=True: 3x3/1 stem, no max-pool) on
Fashion-MNIST (1x28x28).  One process per learner, spawned by torch.multiprocessing, or launched by
torchrun (same entry point: `torchrun --nproc_per_node=N -m cnncost_train.experiments.scaling CONFIG.json`);
backend gloo on CPU, nccl on GPUs.  Strong scaling keeps the global batch at 256 (256/N per learner),
weak scaling 64 per learner.  All-reduce variants (DDP communication hooks / NCCL settings):
  default         DDP's bucketed all-reduce
  reduce-bcast    dist.reduce to rank 0, then dist.broadcast (hook in engine/ddp_worker.py)
  fp16            torch's fp16_compress_hook (gradients sent as fp16)
  nccl-ring/tree  NCCL_ALGO=Ring / Tree (nccl only)
Each learner draws its slice of one seeded global permutation per epoch.  Times come from the
training loop's clock (steps only) on every rank; the slowest rank's time is reported.
Throughput = global batch x steps / time; strong efficiency = X_N / (N X_1), weak = t_1 / t_N
(t the time per iteration); cost = N x run hours x --gpu-hour-price.
Resume: every finished (mode, learners, variant) is kept in results.json and not run again.
"""
from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Optional

import typer

from cnncost.errors import CostError
from cnncost_train.engine import options

VARIANTS = ("default", "reduce-bcast", "fp16", "nccl-ring", "nccl-tree")
NCCL_ALGO = {"nccl-ring": "Ring", "nccl-tree": "Tree"}
PRESET_LEARNERS = (1, 2, 4, 8, 16)
PREDICT_LEARNERS = tuple(2 ** k for k in range(11))   # 1 .. 1024


@dataclass
class Options:
    learners: list = field(default_factory=lambda: [1, 2])
    modes: list = field(default_factory=lambda: ["strong", "weak"])
    variants: list = field(default_factory=lambda: ["default"])
    variant_learners: int | None = None   # learner count for the non-default variants (default: the largest)
    epochs: float = 1.0
    max_steps: int | None = None           # cap per run (e.g. for a quick measurement)
    global_batch: int = 256
    per_learner: int = 64
    backend: str | None = None
    device: str | None = None
    model: str = "resnet50"
    data_dir: Path | None = None
    out: Path | None = None
    smoke: bool = False
    resume: bool = False
    seed: int = 0
    lr: float = 0.1
    gpu_hour_price: float = 2.0
    predict: bool = False
    links: list = field(default_factory=lambda: ["nvlink", "pcie", "100gbe"])
    matmul_rate: float | None = None
    threads: int | None = None             # CPU threads per learner (default: cores / learners; 1 for --smoke)
    torchrun_config: bool = False           # only write out/config-<N>.json for torchrun, run nothing
    synthetic: bool = False                # random 28x28x1 images (timing only; no Fashion-MNIST needed)
    warmup: int = 3                        # untimed steps before each run's clock


# ---------------------------------------------------------------- plan, summarise, predict

def plan(o: Options) -> dict[int, list[dict]]:
    """Jobs per learner count: every mode with the default all-reduce, the other variants (strong
    scaling) at `variant_learners`."""
    bad = [v for v in o.variants if v not in VARIANTS]
    if bad:
        raise CostError(f"unknown all-reduce variant {bad[0]!r}; choose from {', '.join(VARIANTS)}")
    if any(n < 1 for n in o.learners):
        raise CostError("--learners must be positive")
    if any(m not in ("strong", "weak") for m in o.modes):
        raise CostError("--mode must be strong or weak")
    vn = o.variant_learners or max(o.learners)
    jobs: dict[int, list[dict]] = {}
    for n in sorted(set(o.learners)):
        for mode in o.modes:
            if mode == "strong" and o.global_batch % n:
                raise CostError(f"strong scaling needs the global batch {o.global_batch} divisible by {n} learners")
            b = o.global_batch // n if mode == "strong" else o.per_learner
            jobs.setdefault(n, []).append({"mode": mode, "variant": "default", "per_learner_batch": b})
    for v in o.variants:
        if v != "default":
            jobs.setdefault(vn, []).append({"mode": "strong", "variant": v, "per_learner_batch": o.global_batch // vn})
    return jobs


def key(r: dict) -> str:
    return f"{r['mode']}/{r['learners'] if 'learners' in r else r['n']}/{r['variant']}"


def summarise(rows: list[dict], price: float) -> list[dict]:
    """Adds efficiency (vs the one-learner run of the same mode and variant 'default'), run time and cost."""
    base = {r["mode"]: r for r in rows if r["learners"] == 1 and r["variant"] == "default"}
    for r in rows:
        r["run_s"] = r["train_s"]
        r["cost"] = r["learners"] * r["train_s"] / 3600 * price
        b = base.get(r["mode"])
        if b is None:
            r["efficiency"] = None
        elif r["mode"] == "strong":
            r["efficiency"] = r["images_per_s"] / (r["learners"] * b["images_per_s"])
        else:
            r["efficiency"] = b["s_per_iter"] / r["s_per_iter"]
    return rows


def predictions(o: Options, fwd_flops: int, params: int, rate: float, step_flops: int | None = None) -> list[dict]:
    from cnncost_train.predict import data_parallel as cm
    out = []
    for ln in o.links:
        lk = cm.link(ln)
        for alg in cm.ALGORITHMS:
            for mode in o.modes:
                for r in cm.curve(PREDICT_LEARNERS, mode=mode, global_batch=o.global_batch, per_learner=o.per_learner,
                                  fwd_flops=fwd_flops, params=params, matmul_rate=rate, lk=lk, algorithm=alg,
                                  step_flops=step_flops):
                    out.append({"kind": "predicted", "link": ln, "algorithm": alg, "mode": mode, **r})
    return out


def disagreements(measured: list[dict], o: Options, fwd_flops: int, params: int, rate: float,
                  step_flops: int | None = None) -> list[dict]:
    """Measured / predicted step time per measured run (predicted with a zero-cost link, i.e. compute only,
    and with each preset), so the compute constant and the link figures can be judged apart."""
    from cnncost_train.predict import data_parallel as cm
    rows = []
    for r in measured:
        comp = cm.compute_seconds(fwd_flops, r["per_learner_batch"], rate, step_flops)
        row = {"run": key(r), "measured_s_per_iter": r["s_per_iter"], "predicted_compute_s": comp,
               "measured_over_compute": r["s_per_iter"] / comp}
        for ln in o.links:
            row[f"predicted_ring_{ln}_s"] = cm.step_seconds(r["learners"], fwd_flops=fwd_flops, params=params,
                                                            per_learner_batch=r["per_learner_batch"],
                                                            matmul_rate=rate, lk=cm.link(ln), step_flops=step_flops)
        rows.append(row)
    return rows


def plot(path: Path, measured: list[dict], predicted: list[dict], price: float):
    """scaling.png: throughput, epoch time, cost, strong- and weak-scaling efficiency, all-reduce variants.
    Measured curves are black (strong) and grey (weak) with markers; each predicted link/algorithm has its
    own colour, dashed for strong and dotted for weak scaling, so no two lines look alike.  Returns the figure."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(2, 3, figsize=(16, 10))
    (ax_t, ax_time, ax_cost), (ax_strong, ax_weak, ax_var) = axes
    eff_ax = {"strong": ax_strong, "weak": ax_weak}
    combos = sorted({(p["link"], p["algorithm"]) for p in predicted})
    colour = {c: plt.get_cmap("tab10")(i % 10) for i, c in enumerate(combos)}
    for mode, marker, shade, dash in (("strong", "o", "black", "--"), ("weak", "s", "grey", ":")):
        m = sorted((r for r in measured if r["mode"] == mode and r["variant"] == "default"), key=lambda r: r["learners"])
        if m:
            n = [r["learners"] for r in m]
            kw = dict(marker=marker, lw=2, color=shade, label=f"measured, {mode}")
            ax_t.plot(n, [r["images_per_s"] for r in m], **kw)
            ax_time.plot(n, [r["epoch_s"] for r in m], **kw)
            ax_cost.plot(n, [r["epoch_s"] * r["learners"] / 3600 * price for r in m], **kw)
            eff_ax[mode].plot(n, [r["efficiency"] for r in m], **kw)
        for combo in combos:
            rows = sorted((p for p in predicted if p["mode"] == mode and (p["link"], p["algorithm"]) == combo),
                          key=lambda p: p["learners"])
            if not rows:
                continue
            n = [p["learners"] for p in rows]
            kw = dict(ls=dash, lw=1.2, color=colour[combo], label=f"predicted, {mode}, {combo[0]} {combo[1]}")
            ax_t.plot(n, [p["images_per_s"] for p in rows], **kw)
            epoch = [p["step_s"] * 60000 / (p["learners"] * p["per_learner_batch"]) for p in rows]
            ax_time.plot(n, epoch, **kw)
            ax_cost.plot(n, [e * k / 3600 * price for e, k in zip(epoch, n)], **kw)
            one = rows[0]                               # N = 1
            eff = ([p["images_per_s"] / (p["learners"] * one["images_per_s"]) for p in rows] if mode == "strong"
                   else [one["step_s"] / p["step_s"] for p in rows])
            eff_ax[mode].plot(n, eff, **kw)
    var = [r for r in measured if r["mode"] == "strong"]
    if var:
        ax_var.bar([f"{r['variant']}\nN={r['learners']}" for r in var], [r["images_per_s"] for r in var])
    ax_var.set_title("measured throughput by all-reduce (strong)")
    ax_var.set_ylabel("images/s")
    for ax, title, ylab in ((ax_t, "throughput", "images/s"), (ax_time, "time per epoch (60k images)", "s"),
                            (ax_cost, f"cost per epoch at ${price}/learner-hour", "$"),
                            (ax_strong, "strong-scaling efficiency X_N / (N X_1)", "efficiency"),
                            (ax_weak, "weak-scaling efficiency t_1 / t_N", "efficiency")):
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_title(title)
        ax.set_xlabel("learners")
        ax.set_ylabel(ylab)
    handles = {}
    for ax in (ax_t, ax_strong, ax_weak):
        for h, lab in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(lab, h)
    fig.legend(list(handles.values()), list(handles), loc="lower center", ncol=3, fontsize=8,
               title="measured: solid with markers; predicted: dashed (strong), dotted (weak)")
    fig.tight_layout(rect=(0, 0.17, 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return fig


def run(o: Options) -> dict:
    from cnncost_train.engine.ddp_worker import launch, model_spec
    import torch
    from rich.console import Console

    from cnncost_train.engine import outputs, resume_guard
    from cnncost_train.predict.training_flops import forward_cost, matmul_probe

    console = Console(stderr=True)
    out = Path(o.out or "runs/scaling")
    out.mkdir(parents=True, exist_ok=True)
    if o.smoke:
        o.epochs, o.global_batch, o.per_learner, o.max_steps = 1.0, 32, 16, o.max_steps or 4
    backend = o.backend or ("nccl" if (o.device or "").startswith("cuda") or (o.device is None and not o.smoke
                                                                                and torch.cuda.is_available()) else "gloo")
    if backend not in ("gloo", "nccl"):
        raise CostError(f"--backend must be gloo or nccl, got {backend!r}")
    if backend == "nccl" and not torch.cuda.is_available():
        raise CostError("--backend nccl needs CUDA devices; use gloo on the CPU")
    if backend == "gloo" and any(v in NCCL_ALGO for v in o.variants):
        raise CostError("nccl-ring / nccl-tree select NCCL's algorithm (NCCL_ALGO) and need --backend nccl")
    if backend == "nccl" and max(o.learners) > torch.cuda.device_count():
        raise CostError(f"{max(o.learners)} nccl learners need as many GPUs on this node; "
                        f"{torch.cuda.device_count()} here (use torchrun across nodes)")
    jobs = plan(o)
    results_path = out / "results.json"
    base_cfg = {"backend": backend, "smoke": o.smoke, "model": o.model, "data_dir": str(o.data_dir) if o.data_dir else None,
                "epochs": o.epochs, "max_steps": o.max_steps, "seed": o.seed, "lr": o.lr, "warmup": o.warmup,
                "synthetic": o.synthetic}
    resume_guard.check(out / "config.json", {**base_cfg, "threads": o.threads, "global_batch": o.global_batch,
                                             "per_learner": o.per_learner}, o.resume)
    done = {}
    if o.resume and results_path.is_file():
        prev = json.loads(results_path.read_text())
        if prev.get("smoke") != o.smoke or prev.get("backend") != backend:
            raise CostError(f"{results_path} was written by another --smoke/--backend setting; use another --out")
        done = {key(r): r for r in prev["measured"]}
    if o.resume:   # rows from torchrun launches (rank 0 writes part-<N>.jsonl) count as done too
        for part in sorted(out.glob("part-*.jsonl")):
            for line in part.read_text().splitlines():
                r = json.loads(line)
                if r.get("backend") == backend and r.get("smoke") == o.smoke and key(r) not in done:
                    done[key(r)] = r
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    measured = list(done.values())
    with outputs.progress(console) as prog:
        task = prog.add_task("scaling runs", total=sum(len(j) for j in jobs.values()), info="")
        for n, js in jobs.items():
            todo = [j for j in js if f"{j['mode']}/{n}/{j['variant']}" not in done]
            prog.advance(task, len(js) - len(todo))
            groups = [[j] for j in todo if j["variant"] in NCCL_ALGO] + [[j for j in todo if j["variant"] not in NCCL_ALGO]]
            for g in groups:
                if not g:
                    continue
                prog.update(task, info=f"{n} learner(s): {', '.join(j['mode'] + '/' + j['variant'] for j in g)}")
                cfg = {**base_cfg, "jobs": g, "learners": n, "threads": o.threads or (1 if o.smoke or backend == "nccl" else max(1, cpus // n)),
                       "result": str(out / f"part-{n}{'-' + g[0]['variant'] if g[0]['variant'] in NCCL_ALGO else ''}.jsonl"), "nccl_algo": NCCL_ALGO.get(g[0]["variant"])}
                if o.torchrun_config:
                    outputs.write_json(out / f"config-{n}{'-' + g[0]['variant'] if len(g) == 1 and g[0]['variant'] in NCCL_ALGO else ''}.json", cfg)
                    continue
                rows = launch(n, cfg)
                measured = [r for r in measured if key(r) not in {key(x) for x in rows}] + rows
                prog.advance(task, len(g))
                outputs.write_json(results_path, {"smoke": o.smoke, "backend": backend, "measured": measured})
    if o.torchrun_config:
        console.print(f"wrote {out}/config-*.json; run each with torchrun --nproc_per_node=N -m cnncost_train.experiments.scaling FILE")
        return {}
    measured = summarise(measured, o.gpu_hour_price)
    spec = model_spec({"smoke": o.smoke, "model": o.model})
    fc = forward_cost(spec, (1, 28, 28))
    device = "cuda" if backend == "nccl" else "cpu"
    rate = o.matmul_rate or matmul_probe(device, n=256 if o.smoke else None, repeats=3 if o.smoke else 10)["flops_per_s"]
    result = {"smoke": o.smoke, "backend": backend, "model": "resnet-cifar depth 8 width 4 (smoke)" if o.smoke else
              f"{o.model} small_input, 1x28x28", "forward_flops_per_image": fc.flops,
              "step_flops_per_image": fc.train_flops, "step_flops_source": fc.step_source, "params": fc.params,
              "grad_bytes_fp32": 4 * fc.params, "matmul_rate_flops_per_s": rate, "gpu_hour_price": o.gpu_hour_price,
              "synthetic_data": o.synthetic, "measured": measured}
    outputs.write_csv(out / "measured.csv", measured)
    predicted = []
    if o.predict:
        predicted = predictions(o, fc.flops, fc.params, rate, fc.step_flops)
        result["predicted"] = predicted
        result["disagreement"] = disagreements(measured, o, fc.flops, fc.params, rate, fc.step_flops)
        outputs.write_csv(out / "predicted.csv", predicted)
        outputs.write_csv(out / "disagreement.csv", result["disagreement"])
    outputs.write_json(results_path, result)
    plot(out / "scaling.png", measured, predicted, o.gpu_hour_price)
    for r in sorted(measured, key=key):
        eff = "-" if r["efficiency"] is None else f"{r['efficiency']:.2f}"
        console.print(f"{key(r):28s} {r['images_per_s']:10.1f} img/s  {r['s_per_iter'] * 1e3:8.2f} ms/iter  eff {eff}")
    console.print(f"wrote {out}/results.json, measured.csv, scaling.png" + (", predicted.csv, disagreement.csv"
                                                                            if o.predict else ""))
    return result


def command(
    learners: Annotated[list[int], typer.Option("--learners", help="Learner counts, one run each (repeat the option).")] = [1, 2],
    mode: Annotated[list[str], typer.Option("--mode", help="strong (global batch 256) and/or weak (64 per learner).")] = ["strong", "weak"],
    variant: Annotated[list[str], typer.Option("--variant", help="All-reduce: default, reduce-bcast, fp16, nccl-ring, "
                                               "nccl-tree (non-default ones at the largest learner count).")] = ["default"],
    epochs: Annotated[float, typer.Option("--epochs", help="Epochs per run (may be fractional).")] = 1.0,
    max_steps: Annotated[Optional[int], typer.Option("--max-steps", help="Cap on steps per run.", show_default=False)] = None,
    backend: Annotated[Optional[str], typer.Option("--backend", help="gloo or nccl (default: nccl on CUDA, else gloo).",
                                                   show_default=False)] = None,
    threads: Annotated[Optional[int], typer.Option("--threads", help="CPU threads per learner (default cores/N).",
                                                   show_default=False)] = None,
    price: Annotated[float, typer.Option("--gpu-hour-price", help="Price of one learner-hour (for cost).")] = 2.0,
    predict: Annotated[bool, typer.Option("--predict", help="Add the cost model's curves for 1..1024 learners.")] = False,
    link: Annotated[list[str], typer.Option("--link", help="Link presets for --predict: nvlink, pcie, 100gbe.")] = ["nvlink", "pcie", "100gbe"],
    matmul_rate: Annotated[Optional[float], typer.Option("--matmul-rate", help="FLOP/s for the model (default: measured).",
                                                         show_default=False)] = None,
    warmup: Annotated[int, typer.Option("--warmup", help="Untimed steps before each run's clock.")] = 3,
    synthetic: Annotated[bool, typer.Option("--synthetic", help="Random 28x28x1 images of the same shapes "
                                            "(timing without Fashion-MNIST).")] = False,
    torchrun_config: Annotated[bool, typer.Option("--torchrun-config", help="Only write config-<N>.json under --out "
                                                  "for `torchrun -m cnncost_train.experiments.scaling FILE` (multi-GPU/multi-node).")] = False,
    data_dir: options.DataDir = None, out: options.Out = None, smoke: options.Smoke = False,
    resume: options.Resume = False, seed: options.Seed = 0, device: options.Device = None,
):
    """DDP ResNet-50 on Fashion-MNIST: strong/weak scaling, all-reduce variants, predicted curves to 1024 learners."""
    with options.cli_errors():
        from cnncost_train.predict import data_parallel
        for ln in link:
            data_parallel.link(ln)
        run(Options(learners=list(learners), modes=list(mode), variants=list(variant), epochs=epochs,
                    max_steps=max_steps, backend=backend, threads=threads, gpu_hour_price=price, predict=predict,
                    links=list(link), matmul_rate=matmul_rate, data_dir=data_dir, out=out, smoke=smoke,
                    resume=resume, seed=seed, device=device, torchrun_config=torchrun_config, synthetic=synthetic,
                    warmup=warmup))


def register(app):
    app.command("scaling")(command)


if __name__ == "__main__":   # torchrun --nproc_per_node=N -m cnncost_train.experiments.scaling CONFIG.json
    from cnncost_train.engine.ddp_worker import worker
    worker(0, 1, json.loads(Path(sys.argv[1]).read_text()))

"""`cnncost-train scaling`: data-parallel training with DistributedDataParallel, measured and predicted.

ResNet-50 from the cnncost spec (zoo `resnet50`, small_input=True: 3x3/1 stem, no max-pool) on
Fashion-MNIST (1x28x28).  One process per learner, spawned by torch.multiprocessing, or launched by
torchrun (same entry point: `torchrun --nproc_per_node=N -m cnncost_train.scaling CONFIG.json`);
backend gloo on CPU, nccl on GPUs.  Strong scaling keeps the global batch at 256 (256/N per learner),
weak scaling 64 per learner.  All-reduce variants (DDP communication hooks / NCCL settings):
  default         DDP's bucketed all-reduce
  reduce-bcast    dist.reduce to rank 0, then dist.broadcast (hook below)
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
import socket
import sys
from dataclasses import dataclass, field
from pathlib import Path

from cnncost.errors import CostError

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


# ---------------------------------------------------------------- communication hooks

def reduce_broadcast_(tensor, world: int, group=None):
    """Mean over ranks in place: dist.reduce (sum) to rank 0, divide, dist.broadcast from rank 0."""
    import torch.distributed as dist
    dist.reduce(tensor, dst=0, group=group)
    tensor.div_(world)
    dist.broadcast(tensor, src=0, group=group)
    return tensor


def reduce_broadcast_hook(group, bucket):
    """DDP communication hook: the bucket's gradients averaged by reduce-then-broadcast."""
    import torch
    import torch.distributed as dist
    buf = bucket.buffer()
    reduce_broadcast_(buf, dist.get_world_size(group), group)
    fut = torch.futures.Future()
    fut.set_result(buf)
    return fut


def register_variant(ddp, variant: str):
    if variant == "reduce-bcast":
        ddp.register_comm_hook(None, reduce_broadcast_hook)
    elif variant == "fp16":
        from torch.distributed.algorithms.ddp_comm_hooks.default_hooks import fp16_compress_hook
        ddp.register_comm_hook(None, fp16_compress_hook)


# ---------------------------------------------------------------- one learner

def model_spec(cfg: dict):
    from cnncost import zoo
    if cfg["smoke"]:   # toy: a CIFAR-style ResNet-8 of width 4 (seconds on a CPU)
        return zoo.get("resnet-cifar", depth=8, width=4, classes=10).spec
    return zoo.get(cfg["model"], classes=10, small_input=True).spec


def load_data(cfg: dict):
    from cnncost_train import data
    if cfg.get("synthetic"):   # timing without the data set: same shapes, class-coloured random pixels
        return data.synthetic(512 if cfg["smoke"] else 60000, 64, shape=(28, 28, 1), seed=0)
    try:
        ds = data.load_fashion_mnist(cfg["data_dir"])
    except data.DataError:
        if not cfg["smoke"]:
            raise
        return data.synthetic(512, 64, shape=(28, 28, 1), seed=0)
    return ds.subset(512, 64) if cfg["smoke"] else ds


def worker(rank: int, world: int, cfg: dict):
    """Run every job of cfg['jobs'] in one process group; rank 0 writes cfg['result'] (JSON lines)."""
    import torch
    import torch.distributed as dist
    import torch.nn.functional as F
    from torch.nn.parallel import DistributedDataParallel as DDP

    from cnncost.torch.build import build
    from cnncost_train.cost import Clock
    from cnncost_train.loop import Loop

    torch.set_num_threads(max(1, cfg["threads"]))
    import warnings
    warnings.filterwarnings("ignore", message="Grad strides do not match")   # 1-channel conv1: size-1 dim strides
    if cfg["backend"] == "nccl" and cfg.get("nccl_algo"):
        os.environ["NCCL_ALGO"] = cfg["nccl_algo"]
    if not dist.is_initialized():
        if "RANK" in os.environ and "WORLD_SIZE" in os.environ:   # torchrun
            dist.init_process_group(cfg["backend"])
        else:
            dist.init_process_group(cfg["backend"], init_method=f"tcp://127.0.0.1:{cfg['port']}", rank=rank,
                                    world_size=world)
    rank, world = dist.get_rank(), dist.get_world_size()
    if cfg.get("learners", world) != world:
        raise CostError(f"config planned for {cfg['learners']} learners, started with {world}")
    cuda = cfg["backend"] == "nccl"
    dev = torch.device(f"cuda:{int(os.environ.get('LOCAL_RANK', rank)) % torch.cuda.device_count()}" if cuda else "cpu")
    if cuda:
        torch.cuda.set_device(dev)
    ds = load_data(cfg)
    x_all = torch.from_numpy(ds.train_x).to(dev).permute(0, 3, 1, 2).contiguous().float().div_(255)
    x_all = (x_all - ds.mean[0]) / ds.std[0]
    y_all = torch.from_numpy(ds.train_y).to(dev)
    spec = model_spec(cfg)
    rows = []
    for job in cfg["jobs"]:
        b = job["per_learner_batch"]
        gb = b * world
        spe = len(y_all) // gb
        if spe < 1:
            raise CostError(f"global batch {gb} is larger than the {len(y_all)} training images")
        total = max(1, round(cfg["epochs"] * spe))
        if cfg.get("max_steps"):
            total = min(total, cfg["max_steps"])
        torch.manual_seed(cfg["seed"])
        net = build(spec, (1, 28, 28)).to(dev)
        ddp = DDP(net, device_ids=[dev.index] if cuda else None)
        register_variant(ddp, job["variant"])
        opt = torch.optim.SGD(ddp.parameters(), lr=cfg["lr"], momentum=0.9, nesterov=True, weight_decay=5e-4)

        def step(x, y, i):
            out = ddp(x)
            loss = F.cross_entropy(out, y)
            loss.backward()
            opt.step()
            opt.zero_grad(set_to_none=True)
            return loss.detach() * len(y), (out.detach().argmax(1) == y).sum()

        def batches(epoch, first):
            g = torch.Generator().manual_seed(cfg["seed"] * 1_000_003 + epoch)
            perm = torch.randperm(len(y_all), generator=g).to(dev)
            for k in range(first, spe):
                idx = perm[k * gb + rank * b: k * gb + (rank + 1) * b]
                yield x_all[idx], y_all[idx]

        if cfg.get("warmup"):   # untimed steps (allocator, thread pools, NCCL set-up), then back to the start
            init = {k: v.clone() for k, v in net.state_dict().items()}
            Loop(step=step, batches=batches, total_steps=cfg["warmup"], steps_per_epoch=spe, clock=Clock(dev)).run()
            net.load_state_dict(init)
            opt.state.clear()
        clock = Clock(dev)
        state = Loop(step=step, batches=batches, total_steps=total, steps_per_epoch=spe, clock=clock).run()
        secs = torch.tensor([clock.seconds().get("train", 0.0)], dtype=torch.float64, device=dev)
        dist.all_reduce(secs, op=dist.ReduceOp.MAX)
        train_s = float(secs)
        rows.append({**job, "learners": world, "global_batch": gb, "steps": total, "steps_per_epoch": spe,
                     "train_s": train_s, "s_per_iter": train_s / total, "images_per_s": gb * total / train_s,
                     "epoch_s": train_s / total * spe, "train_loss": state.history[-1]["train_loss"],
                     "backend": cfg["backend"], "smoke": cfg["smoke"]})
        del ddp, net, opt
    if rank == 0:
        Path(cfg["result"]).write_text("".join(json.dumps(r) + "\n" for r in rows))
    dist.barrier()
    dist.destroy_process_group()


def _spawn_entry(rank, world, cfg):
    worker(rank, world, cfg)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch(world: int, cfg: dict):
    """world processes by torch.multiprocessing.spawn; one learner runs in this process (a group of one;
    start-up lies outside the clock either way)."""
    import torch
    import torch.multiprocessing as mp
    cfg = {**cfg, "port": _free_port()}
    if world == 1:
        threads = torch.get_num_threads()
        try:
            worker(0, 1, cfg)
        finally:
            torch.set_num_threads(threads)
    else:
        mp.spawn(_spawn_entry, args=(world, cfg), nprocs=world, join=True)
    return [json.loads(line) for line in Path(cfg["result"]).read_text().splitlines()]


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


def predictions(o: Options, fwd_flops: int, params: int, rate: float) -> list[dict]:
    from cnncost_train import costmodel as cm
    out = []
    for ln in o.links:
        lk = cm.link(ln)
        for alg in cm.ALGORITHMS:
            for mode in o.modes:
                for r in cm.curve(PREDICT_LEARNERS, mode=mode, global_batch=o.global_batch, per_learner=o.per_learner,
                                  fwd_flops=fwd_flops, params=params, matmul_rate=rate, lk=lk, algorithm=alg):
                    out.append({"kind": "predicted", "link": ln, "algorithm": alg, "mode": mode, **r})
    return out


def disagreements(measured: list[dict], o: Options, fwd_flops: int, params: int, rate: float) -> list[dict]:
    """Measured / predicted step time per measured run (predicted with a zero-cost link, i.e. compute only,
    and with each preset), so the compute constant and the link figures can be judged apart."""
    from cnncost_train import costmodel as cm
    rows = []
    for r in measured:
        comp = cm.compute_seconds(fwd_flops, r["per_learner_batch"], rate)
        row = {"run": key(r), "measured_s_per_iter": r["s_per_iter"], "predicted_compute_s": comp,
               "measured_over_compute": r["s_per_iter"] / comp}
        for ln in o.links:
            row[f"predicted_ring_{ln}_s"] = cm.step_seconds(r["learners"], fwd_flops=fwd_flops, params=params,
                                                            per_learner_batch=r["per_learner_batch"],
                                                            matmul_rate=rate, lk=cm.link(ln))
        rows.append(row)
    return rows


def plot(path: Path, measured: list[dict], predicted: list[dict], price: float):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(2, 3, figsize=(16, 9))
    (ax_t, ax_time, ax_cost), (ax_eff, ax_var, ax_blank) = axes
    ax_blank.axis("off")
    for mode, marker in (("strong", "o"), ("weak", "s")):
        m = sorted((r for r in measured if r["mode"] == mode and r["variant"] == "default"), key=lambda r: r["learners"])
        if m:
            n = [r["learners"] for r in m]
            ax_t.plot(n, [r["images_per_s"] for r in m], marker=marker, lw=2, label=f"measured, {mode}")
            ax_time.plot(n, [r["epoch_s"] for r in m], marker=marker, lw=2, label=f"measured, {mode}")
            ax_cost.plot(n, [r["epoch_s"] * r["learners"] / 3600 * price for r in m], marker=marker, lw=2,
                         label=f"measured, {mode}")
            if mode == "weak":
                ax_eff.plot(n, [r["efficiency"] for r in m], marker=marker, lw=2, label="measured, weak")
        for p_ in sorted({(p["link"], p["algorithm"]) for p in predicted}):
            rows = [p for p in predicted if p["mode"] == mode and (p["link"], p["algorithm"]) == p_]
            if not rows:
                continue
            n = [p["learners"] for p in rows]
            lab = f"predicted, {mode}, {p_[0]} {p_[1]}"
            ax_t.plot(n, [p["images_per_s"] for p in rows], ls="--", lw=1, label=lab)
            epoch = [p["step_s"] * 60000 / (p["learners"] * p["per_learner_batch"]) for p in rows]
            ax_time.plot(n, epoch, ls="--", lw=1, label=lab)
            ax_cost.plot(n, [e * k / 3600 * price for e, k in zip(epoch, n)], ls="--", lw=1, label=lab)
            if mode == "weak":
                ax_eff.plot(n, [rows[0]["step_s"] / p["step_s"] for p in rows], ls="--", lw=1, label=lab)
    var = [r for r in measured if r["mode"] == "strong"]
    if var:
        ax_var.bar([f"{r['variant']}\nN={r['learners']}" for r in var], [r["images_per_s"] for r in var])
    ax_var.set_title("measured throughput by all-reduce (strong)")
    ax_var.set_ylabel("images/s")
    for ax, title, ylab in ((ax_t, "throughput", "images/s"), (ax_time, "time per epoch (60k images)", "s"),
                            (ax_cost, f"cost per epoch at ${price}/learner-hour", "$"),
                            (ax_eff, "weak-scaling efficiency t1/tN", "efficiency")):
        ax.set_xscale("log", base=2)
        if ax is not ax_eff:
            ax.set_yscale("log")
        ax.set_title(title)
        ax.set_xlabel("learners")
        ax.set_ylabel(ylab)
    handles, labels = ax_t.get_legend_handles_labels()
    ax_blank.legend(handles, labels, loc="center", fontsize=7, title="solid: measured; dashed: predicted")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def run(o: Options) -> dict:
    import torch
    from rich.console import Console

    from cnncost_train import common
    from cnncost_train.cost import forward_cost, matmul_probe

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
    base_cfg = {"backend": backend, "smoke": o.smoke, "model": o.model, "data_dir": str(o.data_dir) if o.data_dir else None,
                "epochs": o.epochs, "max_steps": o.max_steps, "seed": o.seed, "lr": o.lr, "warmup": o.warmup,
                "synthetic": o.synthetic}
    measured = list(done.values())
    with common.progress(console) as prog:
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
                    common.write_json(out / f"config-{n}{'-' + g[0]['variant'] if len(g) == 1 and g[0]['variant'] in NCCL_ALGO else ''}.json", cfg)
                    continue
                rows = launch(n, cfg)
                measured = [r for r in measured if key(r) not in {key(x) for x in rows}] + rows
                prog.advance(task, len(g))
                common.write_json(results_path, {"smoke": o.smoke, "backend": backend, "measured": measured})
    if o.torchrun_config:
        console.print(f"wrote {out}/config-*.json; run each with torchrun --nproc_per_node=N -m cnncost_train.scaling FILE")
        return {}
    measured = summarise(measured, o.gpu_hour_price)
    spec = model_spec({"smoke": o.smoke, "model": o.model})
    fc = forward_cost(spec, (1, 28, 28))
    device = "cuda" if backend == "nccl" else "cpu"
    rate = o.matmul_rate or matmul_probe(device, n=256 if o.smoke else None, repeats=3 if o.smoke else 10)["flops_per_s"]
    result = {"smoke": o.smoke, "backend": backend, "model": "resnet-cifar depth 8 width 4 (smoke)" if o.smoke else
              f"{o.model} small_input, 1x28x28", "forward_flops_per_image": fc.flops, "params": fc.params,
              "grad_bytes_fp32": 4 * fc.params, "matmul_rate_flops_per_s": rate, "gpu_hour_price": o.gpu_hour_price,
              "synthetic_data": o.synthetic, "measured": measured}
    common.write_csv(out / "measured.csv", measured)
    predicted = []
    if o.predict:
        predicted = predictions(o, fc.flops, fc.params, rate)
        result["predicted"] = predicted
        result["disagreement"] = disagreements(measured, o, fc.flops, fc.params, rate)
        common.write_csv(out / "predicted.csv", predicted)
        common.write_csv(out / "disagreement.csv", result["disagreement"])
    common.write_json(results_path, result)
    plot(out / "scaling.png", measured, predicted, o.gpu_hour_price)
    for r in sorted(measured, key=key):
        eff = "-" if r["efficiency"] is None else f"{r['efficiency']:.2f}"
        console.print(f"{key(r):28s} {r['images_per_s']:10.1f} img/s  {r['s_per_iter'] * 1e3:8.2f} ms/iter  eff {eff}")
    console.print(f"wrote {out}/results.json, measured.csv, scaling.png" + (", predicted.csv, disagreement.csv"
                                                                            if o.predict else ""))
    return result


if __name__ == "__main__":   # torchrun --nproc_per_node=N -m cnncost_train.scaling CONFIG.json
    worker(0, 1, json.loads(Path(sys.argv[1]).read_text()))

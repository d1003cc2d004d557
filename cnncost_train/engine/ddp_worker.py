"""One learner of data-parallel training (DistributedDataParallel) and its launcher: the process that
`cnncost-train scaling` spawns per learner (torch.multiprocessing), or that torchrun starts
(`torchrun --nproc_per_node=N -m cnncost_train.experiments.scaling CONFIG.json`).

All-reduce variants: DDP's default bucketed all-reduce; reduce-bcast (dist.reduce to rank 0, then
dist.broadcast, the hook below); fp16 (torch's fp16_compress_hook); nccl-ring/tree (NCCL_ALGO).
Each learner draws its slice of one seeded global permutation per epoch; times come from the
training loop's clock (steps only); rank 0 writes the rows.
"""
from __future__ import annotations

import json
import os
import socket
from pathlib import Path

from cnncost.errors import CostError


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
    from cnncost_train.engine import data
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
    from cnncost_train.engine.clock import Clock
    from cnncost_train.engine.loop import Loop

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

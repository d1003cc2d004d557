"""Predicted data-parallel step time: compute + all-reduce, to plan past the machines we can measure.

    step(N) = compute + allreduce(N)
    compute = S x b / R              S one image's training-step FLOPs, forward + backward, counted by the
                                     calculator (training_flops.ForwardCost.step_flops), or 3 x F without that
                                     count (F forward FLOPs per image, cnncost.analyze, convention cnncost); b
                                     the per-learner batch, R a measured dense matmul rate (matmul_probe)
    ring:   2 (N-1)/N x G / W + 2 (N-1) x L          G gradient bytes = params x bytes per value,
    tree:   2 G / W + 2 ceil(log2 N) x L             W link bandwidth (bytes/s), L per-message latency

The ring formula is the reduce-scatter + all-gather bound of Patarasuk & Yuan 2009 ("Bandwidth optimal
all-reduce algorithms for clusters of workstations", JPDC 69).  "Tree likewise": a pipelined reduce up a
binary tree and broadcast down it (NCCL's double binary tree; Sanders, Speck & Traeff 2009, Parallel
Computing 35) moves each byte twice over the busiest link and pays one latency per level each way.
N = 1 does no all-reduce.  The model adds the two parts (no overlap of the all-reduce with the
backward pass, which DDP does bucket by bucket), so it is an upper bound for a well-overlapped run.
Link presets are nominal per-direction figures; measure your own and pass them as options.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from cnncost.errors import CostError


@dataclass(frozen=True)
class Link:
    name: str
    bandwidth: float   # bytes/s, one direction, per learner
    latency: float     # seconds per message
    source: str


LINKS = {
    "nvlink": Link("nvlink", 300e9, 3e-6, "NVLink 3 (A100): 12 links x 25 GB/s per direction (NVIDIA A100 datasheet)"),
    "pcie": Link("pcie", 32e9, 5e-6, "PCIe 4.0 x16: 16 GT/s x 16 lanes x 128/130 / 8 = 31.5 GB/s per direction"),
    "100gbe": Link("100gbe", 12.5e9, 20e-6, "100 Gb/s Ethernet: 100e9 / 8 = 12.5 GB/s; ~20 us per message (TCP/RoCE)"),
}
ALGORITHMS = ("ring", "tree")


def link(name: str | None = None, bandwidth: float | None = None, latency: float | None = None) -> Link:
    """A preset, optionally with its bandwidth or latency replaced; or a custom link from both figures."""
    if name is None:
        if bandwidth is None or latency is None:
            raise CostError("a custom link needs both --bandwidth (bytes/s) and --latency (s)")
        return Link("custom", float(bandwidth), float(latency), "given on the command line")
    if name not in LINKS:
        raise CostError(f"unknown link {name!r}; presets: {', '.join(LINKS)}")
    base = LINKS[name]
    return Link(base.name, float(bandwidth or base.bandwidth), float(base.latency if latency is None else latency),
                base.source)


def compute_seconds(fwd_flops: int, per_learner_batch: int, matmul_rate: float,
                    step_flops: int | None = None) -> float:
    """S x b / R, S = step_flops (forward + backward per image) or 3 x F when it is None."""
    if matmul_rate <= 0:
        raise CostError(f"matmul rate must be positive, got {matmul_rate}")
    return (3 * fwd_flops if step_flops is None else step_flops) * per_learner_batch / matmul_rate


def allreduce_seconds(n: int, grad_bytes: float, lk: Link, algorithm: str = "ring") -> float:
    """ring: 2(N-1)/N G/W + 2(N-1) L;  tree: 2 G/W + 2 ceil(log2 N) L;  0 for N = 1."""
    if n < 1:
        raise CostError(f"learner count must be at least 1, got {n}")
    if n == 1:
        return 0.0
    if algorithm == "ring":
        return 2 * (n - 1) / n * grad_bytes / lk.bandwidth + 2 * (n - 1) * lk.latency
    if algorithm == "tree":
        return 2 * grad_bytes / lk.bandwidth + 2 * math.ceil(math.log2(n)) * lk.latency
    raise CostError(f"all-reduce algorithm must be one of {', '.join(ALGORITHMS)}, got {algorithm!r}")


def step_seconds(n: int, *, fwd_flops: int, params: int, per_learner_batch: int, matmul_rate: float, lk: Link,
                 algorithm: str = "ring", bytes_per_value: int = 4, step_flops: int | None = None) -> float:
    return (compute_seconds(fwd_flops, per_learner_batch, matmul_rate, step_flops)
            + allreduce_seconds(n, params * bytes_per_value, lk, algorithm))


def curve(learners, *, mode: str, global_batch: int = 256, per_learner: int = 64, **kw) -> list[dict]:
    """Predicted rows per learner count: step seconds, images/s, per-learner batch.  Strong scaling keeps
    the global batch (learner counts above it are skipped: less than one image each); weak keeps b."""
    rows = []
    for n in learners:
        if mode == "strong":
            if n > global_batch:
                continue
            b = global_batch / n
        elif mode == "weak":
            b = per_learner
        else:
            raise CostError(f"mode must be strong or weak, got {mode!r}")
        t = step_seconds(n, per_learner_batch=b, **kw)
        rows.append({"learners": n, "per_learner_batch": b, "step_s": t, "images_per_s": n * b / t})
    return rows

"""Cost beside speed: the calculator's FLOPs for a training run, and the device's measured matrix rate.

Training FLOPs = S x (images trained on) + F x (test images) x (TTA views), F the forward FLOPs per
image from `cnncost.analyze` (convention `cnncost`: 2 FLOPs per MAC plus bias, pooling,
normalisation and activation work; `macs` are reported too) and S the FLOPs of one image's training
step, forward + backward, counted by the calculator per layer (`cnncost.training.step`: grad-input
and grad-weight products, no grad-input for a first layer whose input needs none).  Where that count
is not available S = 3 x F, the usual estimate (the backward costs about twice the forward; Kaplan
et al. 2020, section 2.1); `step_source` says which.  S is linear in the batch, so it is counted at
batch 1.  MFU = achieved FLOP/s / the dense matrix rate measured by `matmul_probe` (bf16 on CUDA,
fp32 on CPU).
"""
from __future__ import annotations

import time
from dataclasses import dataclass

from cnncost import walk


@dataclass(frozen=True)
class ForwardCost:
    flops: int      # per image, convention 'cnncost'
    macs: int       # per image
    params: int
    convention: str = "cnncost"
    step_flops: int | None = None     # forward + backward per image (None: use 3 x flops)
    step_source: str = "3 x forward"

    @property
    def train_flops(self) -> int:
        """One image's training step: the calculator's forward + backward, else 3 x forward."""
        return 3 * self.flops if self.step_flops is None else self.step_flops


def count_step_flops(report) -> tuple[int | None, str]:
    """(forward + backward FLOPs of the report, source), or (None, '3 x forward') without a count."""
    try:
        from cnncost.training.step import training_flops as calculator
        return int(calculator(report)), "forward + backward (cnncost.training)"
    except Exception:       # no calculator, or a layer kind it cannot count: the 3 x estimate
        return None, "3 x forward"


def forward_cost(model_spec, input_shape) -> ForwardCost:
    report = walk.analyze(model_spec, tuple(input_shape))
    step, source = count_step_flops(report)
    return ForwardCost(int(report.total["flops"]), int(report.total["macs"]), int(report.total["params"]),
                       step_flops=step, step_source=source)


def training_flops(fwd_flops: int, train_images: int, eval_images: int, tta_views: int,
                   step_flops: int | None = None) -> int:
    """S x images trained on + F x eval images x TTA views (S = step_flops, or 3 x F when None)."""
    step = 3 * fwd_flops if step_flops is None else step_flops
    return step * train_images + fwd_flops * eval_images * tta_views


def matmul_probe(device: str, n: int | None = None, repeats: int = 10) -> dict:
    """Dense matrix-product rate (FLOP/s) on the device: the median over `repeats` single n x n x n
    products (2 n^3 FLOPs each) after warm-up, on random operands (zeros run faster on some GPUs).
    bf16 on CUDA (CUDA events), fp32 on the CPU (perf_counter)."""
    import statistics

    import torch
    cuda = str(device).startswith("cuda")
    dtype = torch.bfloat16 if cuda else torch.float32
    n = n or (8192 if cuda else 1024)
    g = torch.Generator(device=device).manual_seed(0)
    a = torch.randn(n, n, device=device, dtype=dtype, generator=g)
    b = torch.randn(n, n, device=device, dtype=dtype, generator=g)
    for _ in range(3):
        c = a @ b
    times = []
    for _ in range(repeats):
        if cuda:
            start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            c = a @ b
            stop.record()
            stop.synchronize()
            times.append(start.elapsed_time(stop) / 1000)
        else:
            t0 = time.perf_counter()
            c = a @ b
            times.append(time.perf_counter() - t0)
    del c
    return {"flops_per_s": 2 * n ** 3 / statistics.median(times), "n": n,
            "dtype": str(dtype).replace("torch.", ""), "repeats": repeats}

"""Cost beside speed: the calculator's FLOPs for a training run, and the device's measured matrix rate.

Training FLOPs = F x 3 x (images trained on) + F x (test images) x (TTA views), F the forward
FLOPs per image from `cnncost.analyze` (convention `cnncost`: 2 FLOPs per MAC plus bias, pooling,
normalisation and activation work; `macs` are reported too).  The factor 3 is the usual
forward + backward estimate (the backward pass costs about twice the forward: one product for
the input gradient and one for the weight gradient; Kaplan et al. 2020, section 2.1).
MFU = achieved FLOP/s / the dense matrix rate measured by `matmul_probe` (bf16 on CUDA, fp32 on CPU).
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


def forward_cost(model_spec, input_shape) -> ForwardCost:
    report = walk.analyze(model_spec, tuple(input_shape))
    return ForwardCost(int(report.total["flops"]), int(report.total["macs"]), int(report.total["params"]))


def training_flops(fwd_flops: int, train_images: int, eval_images: int, tta_views: int) -> int:
    """F x 3 x images trained on + F x eval images x TTA views."""
    return 3 * fwd_flops * train_images + fwd_flops * eval_images * tta_views


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


class Clock:
    """Sums timed segments: CUDA events on a GPU (read once, at the end), perf_counter on the CPU."""

    def __init__(self, device):
        import torch
        self.cuda = str(device).startswith("cuda")
        self._torch = torch
        self.segments: dict[str, list] = {}
        self._open = None

    def start(self, phase: str):
        if self._open is not None:
            raise RuntimeError(f"clock already running ({self._open[0]})")
        if self.cuda:
            ev = self._torch.cuda.Event(enable_timing=True)
            ev.record()
            self._open = (phase, ev)
        else:
            self._open = (phase, time.perf_counter())

    def stop(self):
        if self._open is None:
            return
        phase, begin = self._open
        if self.cuda:
            end = self._torch.cuda.Event(enable_timing=True)
            end.record()
            self.segments.setdefault(phase, []).append((begin, end))
        else:
            self.segments.setdefault(phase, []).append(time.perf_counter() - begin)
        self._open = None

    @property
    def running(self) -> bool:
        return self._open is not None

    def seconds(self) -> dict[str, float]:
        """Seconds per phase (synchronises on a GPU)."""
        self.stop()
        out = {}
        for phase, parts in self.segments.items():
            if self.cuda:
                parts[-1][1].synchronize()
                out[phase] = sum(b.elapsed_time(e) for b, e in parts) / 1000
            else:
                out[phase] = sum(parts)
        return out

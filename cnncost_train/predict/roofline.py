"""Roofline arithmetic and the short probes it needs (Williams, Waterman & Patterson 2009, CACM 52(4)).

    intensity I = FLOPs / bytes                      (FLOP per byte moved)
    attainable  = min(P, I x W)                      (P: measured matmul FLOP/s, W: measured copy bytes/s)
    bound time  = max(FLOPs / P, bytes / W)          (the least time the roofline allows)
    fraction    = bound time / measured time         (= achieved FLOP/s / attainable; 1 = on the roof)

P: rate of n x n x n products (2 n^3 FLOPs each) in the profiled dtype; W: rate of `dst.copy_(src)`,
counted as 2 x its bytes (one read, one write); both from the fastest of their samples, since a roof
is the most the device did, not what it usually does.  A working set that fits a cache
is copied faster than one that streams from DRAM, so one large-buffer W is no bound for small
layers: `copy_curve` measures W at buffer sizes from cache-sized to far past the last-level cache
and `bandwidth_at` takes the roof for a working set from it.  Timing: `timer` (CUDA events around
`inner` calls after warm-up on a GPU, perf_counter on the CPU; median over repeats, divided by
`inner`).  Also the log-log least-squares fit used by --zoo.
"""
from __future__ import annotations

import math
import statistics
import time


def timer(fn, device, *, warmup: int = 3, repeats: int = 10, inner: int = 1, best: bool = False) -> float:
    """Median (with best=True: least) seconds per call of fn() over `repeats` samples of `inner` calls each,
    after `warmup` calls."""
    import torch
    cuda = str(device).startswith("cuda")
    for _ in range(warmup):
        fn()
    if cuda:
        torch.cuda.synchronize(device)
    samples = []
    for _ in range(repeats):
        if cuda:
            a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            a.record()
            for _ in range(inner):
                fn()
            b.record()
            b.synchronize()
            samples.append(a.elapsed_time(b) / 1000 / inner)
        else:
            t0 = time.perf_counter()
            for _ in range(inner):
                fn()
            samples.append((time.perf_counter() - t0) / inner)
    return min(samples) if best else statistics.median(samples)


def matmul_rate(device, dtype, n: int | None = None, repeats: int = 10) -> dict:
    """Dense product rate in FLOP/s: 2 n^3 / the least time of one n x n x n product (random operands)."""
    import torch
    n = n or (8192 if str(device).startswith("cuda") else 1024)
    g = torch.Generator(device=device).manual_seed(0)
    a = torch.randn(n, n, device=device, generator=g).to(dtype)
    b = torch.randn(n, n, device=device, generator=g).to(dtype)
    t = timer(lambda: a @ b, device, repeats=repeats, best=True)
    return {"flops_per_s": 2 * n ** 3 / t, "n": n, "seconds": t, "dtype": str(dtype).replace("torch.", "")}


def copy_bandwidth(device, dtype, mbytes: float | None = None, repeats: int = 10) -> dict:
    """Copy rate in bytes/s: 2 x buffer bytes (read + write) / the least time of dst.copy_(src); a sample
    copies a small buffer several times (about 16 MiB in all) so that it is not all timer overhead."""
    import torch
    mbytes = mbytes or (1024 if str(device).startswith("cuda") else 64)
    elem = torch.empty((), dtype=dtype).element_size()
    src = torch.randn(max(1, int(mbytes * 2 ** 20) // elem), device=device).to(dtype)
    dst = torch.empty_like(src)
    nbytes = src.numel() * elem
    inner = max(1, min(64, 2 ** 24 // nbytes))
    t = timer(lambda: dst.copy_(src), device, repeats=repeats, inner=inner, best=True)
    return {"bytes_per_s": 2 * nbytes / t, "buffer_bytes": nbytes, "seconds": t}


COPY_SIZES_MIB = {"cuda": (1, 4, 16, 64, 256, 1024), "cpu": (0.25, 1, 4, 16, 64)}


def copy_curve(device, dtype, sizes_mib=None, repeats: int = 5) -> list[dict]:
    """`copy_bandwidth` at each buffer size (ascending; default COPY_SIZES_MIB: from inside the caches to
    far past the last-level cache: 50 MB of L2 on an H100)."""
    kind = "cuda" if str(device).startswith("cuda") else "cpu"
    return [copy_bandwidth(device, dtype, mbytes=s, repeats=repeats) for s in sorted(sizes_mib or COPY_SIZES_MIB[kind])]


def bandwidth_at(curve: list[dict], working_set: float) -> float:
    """The roof for a working set of S bytes: the highest copy rate measured at any buffer at least as large
    as the largest probed buffer not above S (the smallest probed buffer when S is below them all).  Rates
    fall as a buffer outgrows each cache, so this is at or above the rate a set of S bytes meets; taking the
    highest over the larger buffers keeps it so where a small buffer's rate is lowered by overhead."""
    sizes = sorted(curve, key=lambda c: c["buffer_bytes"])
    below = [i for i, c in enumerate(sizes) if c["buffer_bytes"] <= working_set]
    start = below[-1] if below else 0
    return max(c["bytes_per_s"] for c in sizes[start:])


def bound_seconds(flops: float, nbytes: float, peak_flops: float, bandwidth: float) -> float:
    """max(FLOPs / P, bytes / W)."""
    return max(flops / peak_flops, nbytes / bandwidth)


def attainable(intensity: float, peak_flops: float, bandwidth: float) -> float:
    """min(P, I x W) in FLOP/s."""
    return min(peak_flops, intensity * bandwidth)


def loglog_fit(xs, ys) -> dict:
    """Least squares log10 y = a + b log10 x; R^2 = 1 - SS_res / SS_tot of the logs."""
    if len(xs) != len(ys) or len(xs) < 2:
        raise ValueError(f"a fit needs two or more (x, y) pairs, got {len(xs)}")
    if any(v <= 0 for v in (*xs, *ys)):
        raise ValueError("log-log fit needs positive values")
    lx, ly = [math.log10(v) for v in xs], [math.log10(v) for v in ys]
    mx, my = statistics.fmean(lx), statistics.fmean(ly)
    sxx = math.fsum((u - mx) ** 2 for u in lx)
    if sxx == 0:
        raise ValueError("log-log fit needs two distinct x values")
    b = math.fsum((u - mx) * (v - my) for u, v in zip(lx, ly)) / sxx
    a = my - b * mx
    ss_tot = math.fsum((v - my) ** 2 for v in ly)
    ss_res = math.fsum((v - (a + b * u)) ** 2 for u, v in zip(lx, ly))
    return {"intercept": a, "slope": b, "r2": 1.0 if ss_tot == 0 else 1 - ss_res / ss_tot, "n": len(xs)}

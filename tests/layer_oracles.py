"""Independent counts for the layer tests: a spec is built into an nn.Module and held against
PyTorch itself (the shape of a real forward, sum(numel) of the parameters, FlopCounterMode) and
fvcore, never against the calculator's own output.  Imports torch lazily."""
from __future__ import annotations

import logging
import warnings

BATCH = 2


def forward_input(shape, dtype=None, device="cpu", batch=BATCH):
    import torch
    if dtype is torch.long:
        return torch.randint(0, 5, (batch, *shape), device=device) if device == "cpu" else \
            torch.zeros((batch, *shape), dtype=torch.long, device=device)
    return torch.randn(batch, *shape, device=device)


def built(model, shape):
    import torch
    from cnncost.torch.build import build
    torch.manual_seed(0)
    return build(model, shape).eval()


def torch_counts(model, shape, dtype=None):
    """(output shape, params, biases, FlopCounterMode FLOPs) of the built module for a batch of BATCH.
    FLOPs are counted on the meta device, where torch runs the decomposed matmuls of attention and
    recurrent layers (its CPU kernels for those hide them from the counter)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode
    module = built(model, shape)
    with torch.no_grad():
        out = module(forward_input(shape, dtype))
    params = sum(p.numel() for p in module.parameters())
    biases = sum(p.numel() for n, p in module.named_parameters() if n.rsplit(".", 1)[-1].startswith(("bias", "b_", "in_proj_bias")))
    meta = module.to("meta")
    with FlopCounterMode(display=False) as counter:
        meta(forward_input(shape, dtype, "meta"))
    return tuple(out.shape), params, biases, counter.get_total_flops()


def fvcore_flops(model, shape, dtype=None):
    """fvcore's FlopCountAnalysis total for a batch of BATCH (eval mode, no_grad), warnings silenced."""
    import torch
    from fvcore.nn import FlopCountAnalysis
    module = built(model, shape)
    logging.disable(logging.WARNING)
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            return FlopCountAnalysis(module, forward_input(shape, dtype)).total()
    finally:
        logging.disable(logging.NOTSET)


def ours(model, shape, convention="torch"):
    from cnncost.walk import analyze
    return analyze(model, shape, batch=BATCH, convention=convention)


def check(model, shape, *, dtype=None, fvcore=True):
    """Assert the calculator equals PyTorch (and fvcore) on `model` for per-sample input `shape`."""
    report = ours(model, shape)
    out, params, biases, flops = torch_counts(model, shape, dtype)
    assert (BATCH, *report.total["output_shape"]) == out
    assert report.total["params"] == params
    assert report.total["biases"] == biases
    assert report.total["flops"] == flops
    if fvcore:
        assert ours(model, shape, "fvcore").total["flops"] == fvcore_flops(model, shape, dtype)
    return report

"""The measuring side of a training step: torch's own instruments on a real forward and backward.

These are the independent sources the calculator's training counts are held against:

- `backward_flops`: `torch.utils.flop_counter.FlopCounterMode` around a real `loss.backward()`,
  the backward pass's FLOPs split into grad-input and grad-weight work with torch's own formulas
  (`convolution_backward` by its output mask; a backward `mm` by whether its result has the
  weight's shape);
- `saved_bytes`: the unique storages that `torch.autograd.graph.saved_tensors_hooks` sees during
  one train-mode forward, the module's own parameters and buffers left out (fp32, or under
  `torch.autocast(cpu, bf16)`);
- `step_peak`: the peak of live tensor storages during one steady-state training step (forward,
  cross-entropy loss, backward, optimizer step, `zero_grad(set_to_none=True)`), measured by
  `torch.distributed._tools.mem_tracker.MemTracker`, which tracks every tensor storage through a
  TorchDispatchMode and weak references, on CPU as on a GPU.
"""
from __future__ import annotations

import contextlib

import torch
import torch.nn.functional as F
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import FlopCounterMode, conv_backward_flop

aten = torch.ops.aten


def _batch(module, input_shape: tuple, batch: int, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(batch, *input_shape, generator=g)


def _loss(out):
    """Cross-entropy against class 0 for a (N, K) output; the mean of squares otherwise."""
    if out.dim() == 2:
        return F.cross_entropy(out.float(), torch.zeros(out.shape[0], dtype=torch.long))
    return out.float().pow(2).mean()


class _SplitBackward(TorchDispatchMode):
    """Counts convolution_backward and backward mm/addmm by torch's formulas, input and weight apart."""

    def __init__(self, weight_shapes: set):
        super().__init__()
        self.weight_shapes = weight_shapes
        self.grad_input = 0
        self.grad_weight = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        if func is aten.convolution_backward.default:
            mask = args[-1]
            if mask[0]:
                self.grad_input += conv_backward_flop(*args[:-1], [True, False, False], out_val=out)
            if mask[1]:
                self.grad_weight += conv_backward_flop(*args[:-1], [False, True, False], out_val=out)
        elif func in (aten.mm.default, aten.addmm.default):
            a, b = (args[0], args[1]) if func is aten.mm.default else (args[1], args[2])
            flops = 2 * a.shape[0] * a.shape[1] * b.shape[1]
            if tuple(out.shape) in self.weight_shapes or tuple(out.shape[::-1]) in self.weight_shapes:
                self.grad_weight += flops
            else:
                self.grad_input += flops
        return out


def backward_flops(module: torch.nn.Module, input_shape: tuple, batch: int = 2) -> dict:
    """FlopCounterMode's forward and backward FLOPs of one train-mode step, and the backward split
    into grad_input and grad_weight (torch's formulas applied op by op)."""
    module.train()
    x = _batch(module, input_shape, batch)
    with FlopCounterMode(display=False) as fwd:
        out = module(x)
    loss = _loss(out)
    weights = {tuple(p.shape) for p in module.parameters() if p.dim() >= 2}
    split = _SplitBackward(weights)
    with FlopCounterMode(display=False) as bwd, split:
        loss.backward()
    return {"forward": fwd.get_total_flops(), "backward": bwd.get_total_flops(),
            "grad_input": split.grad_input, "grad_weight": split.grad_weight}


def _storage(t: torch.Tensor):
    s = t.untyped_storage()
    return s.data_ptr(), s.nbytes()


def saved_tensors(module: torch.nn.Module, input_shape: tuple, batch: int = 2, autocast: str | None = None,
                  dtype: torch.dtype | None = None) -> dict:
    """Every storage autograd saves during one train-mode forward: data_ptr -> (bytes, dtype, module
    path, shape).  Parameters' and buffers' own storages are left out; a storage saved twice (shared
    by two ops, or changed in place) appears once.  `autocast='bf16'`: under torch.autocast;
    `dtype`: a copy of the module and the batch in that format (pure bf16/fp16 training)."""
    if dtype is not None:
        import copy
        module = copy.deepcopy(module).to(dtype)
    module.train()
    own = {t.untyped_storage().data_ptr() for t in [*module.parameters(), *module.buffers()]}
    x = _batch(module, input_shape, batch)
    if dtype is not None:
        x = x.to(dtype)
    where = ["input"]
    saved: dict = {}
    hooks = []
    for path, m in module.named_modules():
        if not list(m.children()):
            hooks.append(m.register_forward_pre_hook(lambda mod, args, path=path: where.__setitem__(0, path)))

    def pack(t):
        if isinstance(t, torch.Tensor) and t.device.type != "meta":
            ptr, nbytes = _storage(t)
            if ptr not in own and nbytes and ptr not in saved:
                saved[ptr] = (nbytes, t.dtype, where[0], tuple(t.shape))
        return t

    amp = torch.autocast("cpu", dtype=torch.bfloat16) if autocast == "bf16" else contextlib.nullcontext()
    try:
        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t), amp:
            out = module(x)
    finally:
        for h in hooks:
            h.remove()
    del out
    return saved


def saved_bytes(module: torch.nn.Module, input_shape: tuple, batch: int = 2, autocast: str | None = None,
                dtype: torch.dtype | None = None) -> int:
    """Bytes of the unique non-parameter storages saved for backward in one train-mode forward."""
    return sum(v[0] for v in saved_tensors(module, input_shape, batch, autocast, dtype).values())


OPTIMIZERS = {
    "sgd": lambda ps: torch.optim.SGD(ps, lr=0.01),
    "momentum": lambda ps: torch.optim.SGD(ps, lr=0.01, momentum=0.9),
    "adam": lambda ps: torch.optim.Adam(ps, lr=1e-3),
    "adamw": lambda ps: torch.optim.AdamW(ps, lr=1e-3),
}


def step_peak(module: torch.nn.Module, input_shape: tuple, batch: int, optimizer: str = "sgd") -> dict:
    """Peak bytes of live tensor storages in one steady-state training step (the second step: the
    optimizer's state already exists), by MemTracker; also its category breakdown at the peak."""
    from torch.distributed._tools.mem_tracker import MemTracker
    module.train()
    opt = OPTIMIZERS[optimizer](module.parameters())
    x = _batch(module, input_shape, batch)

    def step():
        _loss(module(x)).backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
    step()
    tracker = MemTracker()
    tracker.track_external(module, opt, x)
    with tracker:
        step()
    peak = tracker.get_tracker_snapshot("peak")[torch.device("cpu")]
    return {"total": peak["Total"], **{str(getattr(k, "value", k)): v for k, v in peak.items() if k != "Total"}}


def cuda_step_peak(module: torch.nn.Module, input_shape: tuple, batch: int, optimizer: str = "sgd") -> int:
    """`torch.cuda.max_memory_allocated` over one steady-state step on the GPU (allocator blocks,
    cuDNN workspaces included), for a device check; the CPU figure above is the tests' reference."""
    module = module.cuda().train()
    opt = OPTIMIZERS[optimizer](module.parameters())
    x = _batch(module, input_shape, batch).cuda()

    def step():
        out = module(x)
        F.cross_entropy(out.float(), torch.zeros(out.shape[0], dtype=torch.long, device="cuda")).backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
    step()
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    step()
    torch.cuda.synchronize()
    return torch.cuda.max_memory_allocated()

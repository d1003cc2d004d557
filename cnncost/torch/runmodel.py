"""Run a model once under the run-time reader (`cnncost.torch.runread`) and assemble its spec.

Inputs are given per sample, one shape per positional argument: `((3, 224, 224),)` is one image,
`((3, 224, 224), (3, 224, 224))` two (RAFT), `((T, F),)` a sequence (laid out (T, 1, F) when the
model's attention and recurrent layers take the batch second).  `layout="list"` passes the
images as a list of unbatched tensors (torchvision's detection models).  Several inputs are packed
into one spec input of their total size, each taken back out by a zero-cost Slice and Reshape, so
the calculator's input (and its memory) is exactly what the model reads.

The run tries meta tensors first (nothing is computed); a model whose Python needs values, or
that makes tensors on the CPU itself, runs again on real CPU tensors drawn with seed 0.
"""
from __future__ import annotations

import contextlib
import warnings

import torch

from cnncost import spec
from cnncost.errors import CostError
from cnncost.torch.runcalls import Functions
from cnncost.torch.runread import RunReader, sample_shape

SEED = 0


def _tensors(shapes: tuple, device: str, layout: str):
    g = torch.Generator().manual_seed(SEED)
    if layout == "list":
        made = [torch.rand(s, generator=g).to(device) for s in shapes]
        return [made], made
    if layout == "sequence":                 # (T, F) per sample as (T, 1, F): the batch second
        made = [torch.randn((s[0], 1, *s[1:]) if len(s) == 2 else (1, *s), generator=g).to(device) for s in shapes]
        return made, made
    made = [torch.randn((1, *s), generator=g).to(device) for s in shapes]
    return made, made


def sequence_layout(module: torch.nn.Module, shapes: tuple) -> bool:
    """True when a (T, F) input should be laid out (T, 1, F): the model's attention and recurrent
    layers all take the batch second (batch_first=False, PyTorch's default)."""
    from cnncost.torch.ops import SEQUENCE_MODULES
    layers = [m for m in module.modules() if type(m) in SEQUENCE_MODULES]
    return (any(len(s) == 2 for s in shapes) and bool(layers)
            and not any(getattr(m, "batch_first", False) for m in layers))


@contextlib.contextmanager
def _on_meta(module: torch.nn.Module):
    """Parameters and buffers swapped for meta tensors of the same shape while the block runs."""
    from torch.nn.utils.stateless import _reparametrize_module
    swap = {n: torch.nn.Parameter(torch.empty_like(t, device="meta"), t.requires_grad)
            for n, t in module.named_parameters(remove_duplicate=False)}
    swap.update((n, torch.empty_like(t, device="meta")) for n, t in module.named_buffers(remove_duplicate=False))
    kept = [(m, dict(m.__dict__)) for m in module.modules()]
    try:
        with _reparametrize_module(module, swap, tie_weights=True, strict=False):
            yield {id(swap[n]): n for n, _ in module.named_parameters()}
    finally:                    # attributes a forward caches (detection's anchors) made of meta tensors
        for m, before in kept:
            for k in [k for k in m.__dict__ if k not in before]:
                del m.__dict__[k]
            m.__dict__.update((k, v) for k, v in before.items() if m.__dict__.get(k) is not v)


def _run_once(module, shapes, layout, device, name):
    params_ctx = _on_meta(module) if device == "meta" else contextlib.nullcontext(
        {id(p): n for n, p in module.named_parameters()})
    with params_ctx as params:
        reader = RunReader(module, params, meta=device == "meta")
        args, inputs = _tensors(shapes, device, layout)
        packed = _bind_inputs(reader, inputs, layout)
        handles = reader.hooks()
        try:
            with warnings.catch_warnings(), Functions(reader), reader:
                warnings.simplefilter("ignore")
                out = module(*args)
        finally:
            for h in handles:
                h.remove()
        return reader, out, packed


def _bind_inputs(reader: RunReader, inputs: list, layout: str) -> tuple:
    """The spec's input shape; each input tensor bound to its node."""
    if layout == "sequence" and len(inputs) == 1 and inputs[0].dim() == 3:
        t = inputs[0]
        reader.shape[spec.INPUT] = (t.shape[0], t.shape[2])
        reader.node_of[t] = reader.emit(spec.Reshape(tuple(t.shape)), [spec.INPUT], "", "batch_second")
        return reader.shape[spec.INPUT]
    if len(inputs) == 1:
        reader.node_of[inputs[0]] = spec.INPUT
        reader.shape[spec.INPUT] = sample_shape(inputs[0])
        return reader.shape[spec.INPUT]
    total = sum(t.numel() for t in inputs)
    reader.shape[spec.INPUT] = (total,)
    start = 0
    for i, t in enumerate(inputs):
        n = t.numel()
        cut = reader.emit(spec.Slice(0, start, start + n), [spec.INPUT], "", f"input{i + 1}_slice")
        reader.node_of[t] = reader.emit(spec.Reshape(sample_shape(t)), [cut], "", f"input{i + 1}")
        start += n
    return (total,)


def run_model(module: torch.nn.Module, shapes: tuple, name: str, layout: str = "batch"):
    """(Graph spec, reader, input shape for the calculator, output tensors, device used)."""
    if not all(isinstance(s, int) for shape in shapes for s in shape):
        raise CostError(f"{name}: reading a model as it runs needs numeric input sizes")
    if layout == "batch" and sequence_layout(module, shapes):
        layout = "sequence"
    try:
        reader, out, packed = _run_once(module, shapes, layout, "meta", name)
        device = "meta"
    except CostError:
        raise
    except Exception as meta_err:                       # the model needs values: run it for real
        try:
            reader, out, packed = _run_once(module, shapes, layout, "cpu", name)
        except CostError:
            raise
        except Exception as err:
            raise CostError(f"{name}: its forward pass raised {type(err).__name__}: "
                            f"{_first_line(err)}{_inputs_hint(module, shapes)}") from None
        device = "cpu"
        reader.notes.append(f"ran on CPU tensors (seed {SEED}): on meta tensors it raised "
                            f"{type(meta_err).__name__}: {_first_line(meta_err)[:100]}")
    outs = [t for t in torch.utils._pytree.tree_leaves(out) if isinstance(t, torch.Tensor)]
    tracked = [t for t in outs if reader.is_tracked(t)]
    if not tracked:
        raise CostError(f"{name}: its output does not depend on its input: nothing to count")
    output = reader.node(tracked[0])
    if output == spec.INPUT:
        raise CostError(f"{name}: the model returns its input unchanged: nothing to count")
    if reader.on_parameters:
        ops = ", ".join(f"{op} x{n}" for op, n in reader.on_parameters.most_common())
        reader.notes.append(f"arithmetic on parameters alone, which the input does not reach, is not counted "
                            f"(weight standardisation, for one): {ops}")
    if layout == "sequence":
        reader.notes.append("the (T, F) input was given as (T, 1, F): the model's attention and recurrent "
                            "layers take the batch second (batch_first=False)")
    if len(outs) > 1:
        reader.notes.append(f"the model returns {len(outs)} tensors; the table ends at the first, "
                            f"{output}; every op that ran is counted")
    graph = spec.Graph(reader.nodes, output, name=name)
    return graph, reader, packed, outs, device


def _first_line(err: Exception) -> str:
    text = str(err).strip().splitlines()
    return text[0] if text else type(err).__name__


def _inputs_hint(module, shapes) -> str:
    """Which positional inputs forward() wants beyond those given, if any."""
    import inspect
    try:
        params = list(inspect.signature(module.forward).parameters.values())
    except (TypeError, ValueError):
        return ""
    needed = [p.name for p in params if p.default is inspect.Parameter.empty
              and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if len(needed) > len(shapes):
        missing = ", ".join(needed[len(shapes):])
        return f" (forward() takes {len(needed)} inputs ({', '.join(needed)}); give --input once per input: missing {missing})"
    return ""

"""Calls the run-time reader takes whole (`cnncost.torch.runread`): a call of a module it knows by
type (forward pre/post hooks, as torch's ModuleTracker tracks the module stack) is one row made from
the module's attributes, the ATen operators it runs rolled up inside it; attention and recurrent
modules read their (T, F) sequences with the batch axis where the module takes it; and
`F.scaled_dot_product_attention` (a `TorchFunctionMode`) is one row whichever kernel runs."""
from __future__ import annotations

import torch
from torch.overrides import TorchFunctionMode
from torch.utils._pytree import tree_leaves

from cnncost import rules, spec
from cnncost.errors import CostError
from cnncost.torch import aten, ops
from cnncost.torch.aten_call import sample_shape


def _numel(shape) -> int:
    n = 1
    for s in shape:
        n *= s
    return n


class ModuleCalls:
    """Mixin of `RunReader`: its module hooks and the calls it reads whole."""

    def pre(self, m, args, kwargs):
        path = self.paths.get(id(m), type(m).__name__)
        self.stack.append(path)
        if self.inside:
            self.inside += 1
            self.frames.append(None)
            return
        tensors = [t for t in tree_leaves((args, kwargs)) if isinstance(t, torch.Tensor)]
        if not tensors or not self.is_tracked(tensors[0]):
            self.frames.append(None)
            return
        k = self.calls[path] + 1
        who = path if k == 1 else f"{path}#{k}"
        try:
            if type(m) in ops.SEQUENCE_MODULES:
                layer = ops.SEQUENCE_MODULES[type(m)](m, kwargs, args)
                inputs = self.sequence_inputs(m, tensors)
            else:
                layer, inputs = ops.module_op(m, sample_shape(tensors[0]), who), [(tensors[0], None)]
                if layer is not None:
                    rules.cost(layer, sample_shape(tensors[0]), who)     # the rule must take this input
        except CostError:
            layer = None
        if layer is None or not all(want is None or _numel(want) == t.numel() for t, want in inputs):
            self.frames.append(None)
            return
        self.frames.append((who, layer, inputs))
        self.inside = 1

    def sequence_inputs(self, m, tensors) -> list:
        """(tensor, per-sample (T, F) shape) for attention's query/key/value or a recurrent layer's
        input: the batch axis is axis 0 if batch_first, else axis 1."""
        n = 3 if isinstance(m, torch.nn.MultiheadAttention) else 1
        picked = tensors[:n]
        if n == 3 and all(t is picked[0] for t in picked):
            picked = picked[:1]
        return [(t, self.sequence_shape(t, getattr(m, "batch_first", False))) for t in picked]

    @staticmethod
    def sequence_shape(t, batch_first: bool) -> tuple:
        if t.dim() == 3:
            return (t.shape[1], t.shape[2]) if batch_first else (t.shape[0], t.shape[2])
        return tuple(t.shape)

    def post(self, m, args, out):
        path = self.stack.pop()
        frame = self.frames.pop()
        if frame is None:
            if self.inside:
                self.inside -= 1
            return
        self.inside = 0
        who, layer, inputs = frame
        self.calls[path] += 1
        outs = [t for t in tree_leaves(out) if isinstance(t, torch.Tensor)]
        if not outs:
            return
        weights = list(m.parameters())
        shares = path if self.calls[path] > 1 and weights else None
        self.taken.add(who)
        names = [self.as_shape(t, want, path) for t, want in inputs]
        want_out = self.sequence_shape(outs[0], m.batch_first) if type(m) in ops.SEQUENCE_MODULES else None
        name = self.attempt([layer], names, outs[0], path, "", weights, name=who, shares=shares, out_shape=want_out)
        if name is None and isinstance(layer, spec.Flatten):     # over several boxes (a detection head)
            name = self.attempt([spec.Reshape(sample_shape(outs[0]))], names, outs[0], path, "", name=who)
        if name is None:
            label = type(m).__name__
            name = self.emit(spec.Opaque(label, sample_shape(outs[0])), names[:1], path, "", name=who)
            self.notes.append(f"{who}: the rule for {label} does not give the shape the run gave: unknown")
        elif want_out is not None and want_out != sample_shape(outs[0]):
            name = self.emit(spec.Reshape(sample_shape(outs[0])), [name], path, "layout")
        self.origin[name] = path
        self.bind(outs, name, f"{type(m).__name__} output", path)

    def as_shape(self, t, want, owner: str) -> str:
        """The node of tensor t, viewed as per-sample shape `want` (a (T, 1, F) sequence as (T, F))."""
        name = self.node(t)
        if want is None or self.shape[name] == tuple(want):
            return name
        return self.emit(spec.Reshape(tuple(want)), [name], owner, "layout")

    def attention(self, args, kwargs, out):
        """F.scaled_dot_product_attention as one row whatever kernel ran: on meta tensors PyTorch
        decomposes it (mul, bmm, softmax, bmm), on CPU and GPU it runs a fused kernel."""
        names = ("query", "key", "value", "attn_mask", "dropout_p", "is_causal")
        a = dict(zip(names, args), **kwargs)
        q, k, v, mask = a.get("query"), a.get("key"), a.get("value"), a.get("attn_mask")
        owner = self.stack[-1] if self.stack else ""
        layer = spec.ScaledDotProductAttention(a.get("dropout_p", 0.0), bool(a.get("is_causal", False)), a.get("scale"),
                                               bool(a.get("enable_gqa", False)))
        inputs = [q, k, v] + ([mask] if isinstance(mask, torch.Tensor) else [])
        name = self.attempt([layer], inputs, out, owner, "scaled_dot_product_attention", constants=True)
        return name

    def hooks(self) -> list:
        handles = []
        for _, m in self.root.named_modules():
            handles.append(m.register_forward_pre_hook(self.pre, with_kwargs=True))
            handles.append(m.register_forward_hook(self.post))
        return handles


class Functions(TorchFunctionMode):
    """Python-level functions the reader takes whole (`F.scaled_dot_product_attention`): the ATen
    operators they run are rolled up into one row, as a known module's are."""

    def __init__(self, reader):
        super().__init__()
        self.reader = reader

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        r = self.reader
        if func is not torch.nn.functional.scaled_dot_product_attention or r.inside or not args \
                or not r.is_tracked(args[0]):
            return func(*args, **kwargs)
        r.inside = 1
        try:
            out = func(*args, **kwargs)
        finally:
            r.inside = 0
        name = r.attention(args, kwargs, out)
        if name is None:
            r.unknown(aten.Call(torch.ops.aten.scaled_dot_product_attention.default, args, kwargs, [out], r),
                      [out], r.stack[-1] if r.stack else "", "scaled_dot_product_attention")
        else:
            r.bind([out], name, "aten.scaled_dot_product_attention", r.stack[-1] if r.stack else "")
        return out

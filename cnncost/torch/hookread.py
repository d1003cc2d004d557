"""Fallback reader for modules fx cannot trace (data-dependent control flow, forward hooks that
change outputs): run one forward pass with a hook on every leaf module, in execution order.

Leaf modules still become spec layers made from their attributes, and their input comes from the
leaf that produced that very tensor, so chains of modules are read exactly.  What happens between
leaves (residual additions, concatenations, reshapes written in `forward`) is invisible to hooks:
a tensor no hooked leaf produced, or one changed in place since (its version counter moved), enters
as one `Opaque` op ("between modules") with the shape the forward pass gave it, read after the
previously produced tensor.  Its cost is unknown, never zero, and receptive fields through it
are not meaningful.
"""
from __future__ import annotations

from collections import Counter

import torch

from cnncost import rules, spec
from cnncost.errors import CostError
from cnncost.torch import ops

BETWEEN = "between modules"


def _leaves(module: torch.nn.Module):
    for path, m in module.named_modules():
        if path and (type(m) in ops.MODULES or not any(True for _ in m.children())):
            yield path, m


class HookReader:
    def __init__(self, root: torch.nn.Module, input_shape: tuple):
        if not all(isinstance(s, int) for s in input_shape):
            raise CostError("reading a model fx cannot trace runs it once: give a numeric input size")
        self.root, self.input_shape = root, tuple(input_shape)
        self.nodes, self.shape, self.origin = [], {spec.INPUT: self.input_shape}, {}
        self.made: dict = {}            # id(tensor) -> (node name, tensor version, tensor)
        self.calls = Counter()
        self.used: set = set()
        self.last = spec.INPUT
        self.between = 0
        self.inside = 0

    def source(self, t: torch.Tensor) -> str:
        known = self.made.get(id(t))
        if known is not None and known[2] is t and known[1] == t._version:
            return known[0]
        self.between += 1
        name = f"between{self.between}"
        self.add(name, spec.Opaque(BETWEEN, tuple(t.shape[1:])), self.last, t)
        return name

    def add(self, name, op, src, out: torch.Tensor, shares=None):
        self.nodes.append(spec.Node(name, op, (src,), shares))
        self.shape[name] = rules.cost(op, self.shape[src], name).out if not isinstance(op, spec.Opaque) \
            else tuple(op.out_shape)
        self.made[id(out)] = (name, out._version, out)
        self.last = name

    def pre(self, path):
        def hook(m, args):
            self.inside += 1
        return hook

    def post(self, path):
        def hook(m, args, out):
            self.inside -= 1
            if self.inside:                       # a known leaf inside another leaf: the outer one counts
                return
            self.calls[path] += 1
            k = self.calls[path]
            name = path if k == 1 else f"{path}#{k}"
            tensors = [a for a in args if isinstance(a, torch.Tensor)]
            if not tensors or not isinstance(out, torch.Tensor):
                return
            src = self.source(tensors[0])
            op = ops.module_op(m, self.shape[src], name)
            has_params = any(True for _ in m.parameters())
            if op is None:
                op = spec.Opaque(type(m).__name__, tuple(out.shape[1:]))
            else:
                self.used.update(id(p) for p in m.parameters())
            self.add(name, op, src, out, path if k > 1 and has_params else None)
            self.origin[name] = (path, k)
        return hook

    def read(self, name: str | None = None) -> spec.Graph:
        x = torch.zeros(1, *self.input_shape)
        self.made[id(x)] = (spec.INPUT, x._version, x)
        handles = []
        for path, m in _leaves(self.root):
            handles.append(m.register_forward_pre_hook(self.pre(path)))
            handles.append(m.register_forward_hook(self.post(path)))
        try:
            with torch.no_grad():
                y = self.root(x)
        finally:
            for h in handles:
                h.remove()
        if isinstance(y, (tuple, list)):
            y = next((t for t in y if isinstance(t, torch.Tensor)), None)
        if not isinstance(y, torch.Tensor) or not self.nodes:
            raise CostError("the model's forward pass returned no tensor made by its modules")
        output = self.source(y)
        return spec.Graph(self.nodes, output, name=name)


def read_hooks(module: torch.nn.Module, input_shape: tuple, name: str | None = None):
    reader = HookReader(module, input_shape)
    return reader.read(name), reader

"""Receptive fields measured on a real network: which input pixels get a non-zero gradient from one
output position.

The model is copied, traced with fx and linearised so that every pixel in the field counts: every
activation but a gate becomes the identity (ReLU and friends have zero-gradient regions), max
pooling becomes average pooling with the same window (max routes the gradient to one pixel), and
gates stay smooth (see _GATES).  With random weights in float64, a pixel inside the field then gets
a non-zero gradient almost surely.  `measure` returns, per target, the rows and columns of the
input that do; `expected` gives the interval the calculator's (size, jump, start) gives for the
same output position, clipped to the part of the image the layer reads at all.
"""
from __future__ import annotations

import copy
import math
import operator

import torch
import torch.nn.functional as F
from torch import fx, nn

from cnncost.torch import ops
from cnncost.torch.fxtrace import Tracer

#: gates (sigmoid; hard-sigmoid, which is zero below -3, becomes sigmoid) stay: removing them lets
#: squeeze-and-excitation products underflow to zero; their gradient is positive everywhere
_GATES = {"sigmoid", "hardsigmoid"}
_IDENTITY_MODULES = tuple(c for c, fn in ops.ACTIVATION_MODULES.items() if fn not in _GATES)
_IDENTITY_FUNCTIONS = {f for f, fn in ops.ACTIVATION_FUNCTIONS.items() if fn not in _GATES}
_IDENTITY_METHODS = {m for m, fn in ops.ACTIVATION_METHODS.items() if fn not in _GATES}


def linearised(module: nn.Module, outputs: list) -> fx.GraphModule:
    """A float64 linearised copy of the part of `module` that computes the fx nodes named in
    `outputs` (returned as a tuple): activations removed, max pooling averaged, gates smooth.
    Only the submodules and tensors those nodes need are copied."""
    graph = Tracer().trace(module)
    by_name = {n.name: n for n in graph.nodes}
    out_node = next(n for n in graph.nodes if n.op == "output")
    out_node.args = (tuple(by_name[n] for n in outputs),)
    for node in reversed(list(graph.nodes)):          # drop what the outputs do not need
        if node.op not in ("placeholder", "output") and not node.users:
            graph.erase_node(node)
    parts = {}
    for node in list(graph.nodes):
        if node.op == "call_module":
            sub = module.get_submodule(node.target)
            if isinstance(sub, _IDENTITY_MODULES):
                node.replace_all_uses_with(node.args[0])
                graph.erase_node(node)
            elif isinstance(sub, nn.Hardsigmoid):
                parts[node.target] = nn.Sigmoid()
            elif isinstance(sub, nn.MaxPool2d):
                parts[node.target] = nn.AvgPool2d(sub.kernel_size, sub.stride, sub.padding, sub.ceil_mode)
            elif isinstance(sub, nn.AdaptiveMaxPool2d):
                parts[node.target] = nn.AdaptiveAvgPool2d(sub.output_size)
            else:
                parts[node.target] = copy.deepcopy(sub).double().eval()
        elif node.op == "get_attr":
            value = operator.attrgetter(node.target)(module)
            parts[node.target] = value.detach().double() if isinstance(value, torch.Tensor) else copy.deepcopy(value)
        elif node.op == "call_function" and node.target in _IDENTITY_FUNCTIONS:
            node.replace_all_uses_with(node.args[0] if node.args else node.kwargs["input"])
            graph.erase_node(node)
        elif node.op == "call_function" and node.target is F.hardsigmoid:
            node.target, node.args, node.kwargs = torch.sigmoid, node.args[:1], {}
        elif node.op == "call_method" and node.target in _IDENTITY_METHODS:
            node.replace_all_uses_with(node.args[0])
            graph.erase_node(node)
        elif node.op == "call_function" and node.target is F.max_pool2d:
            a = ops.bind(ops.SIGNATURES[F.max_pool2d], node.args, node.kwargs)
            node.target = F.avg_pool2d
            node.args = (a["input"], a["kernel_size"], a["stride"], a["padding"], a["ceil_mode"])
            node.kwargs = {}
        elif node.op == "call_function" and node.target is F.adaptive_max_pool2d:
            node.target = F.adaptive_avg_pool2d
            node.args, node.kwargs = node.args[:2], {}
    graph.lint()
    return fx.GraphModule(parts, graph)


def measure(module: nn.Module, input_shape: tuple, targets: dict, seed: int = 0) -> dict:
    """{key: ((first row, last row), (first col, last col))} of the input pixels with a non-zero
    gradient, for targets {key: (fx node name, (i, j))}: output position (i, j) of that node's
    (C, H, W) output, summed over channels; position None sums every position (the part of the
    image the node reads at all)."""
    nodes = list(dict.fromkeys(node for node, _ in targets.values()))
    gm = linearised(module, nodes)
    torch.manual_seed(seed)
    x = torch.randn(1, *input_shape, dtype=torch.float64, requires_grad=True)
    outs = dict(zip(nodes, gm(x)))
    result = {}
    for key, (node, position) in targets.items():
        y = outs[node]
        picked = y[0].sum() if position is None else y[0, :, position[0], position[1]].sum()
        (grad,) = torch.autograd.grad(picked, x, retain_graph=True)
        hit = grad[0].abs().sum(0) != 0
        rows, cols = hit.any(1).nonzero().flatten(), hit.any(0).nonzero().flatten()
        result[key] = ((int(rows.min()), int(rows.max())), (int(cols.min()), int(cols.max()))) if len(rows) else None
    return result


def centre(shape: tuple) -> tuple:
    """The middle output position of a (C, H, W) shape."""
    return (shape[1] - 1) // 2, (shape[2] - 1) // 2


def expected(rf: tuple, position: tuple, read: tuple) -> tuple:
    """The calculator's field of output `position` (per axis: centre start + i*jump, half-width
    (size-1)/2), clipped to the part of the image the layer reads at all, `read` = ((r0, r1), (c0, c1)):
    a pixel no position reads (the last column under a floor-mode window that does not reach it)
    is in no field, as one past the border is not.  None: the field lies wholly in the padding."""
    if read is None:
        return None
    out = []
    for r, i, (lo, hi) in zip(rf, position, read):
        c, half = r.start + i * r.jump, (r.size - 1) / 2
        out.append((max(lo, math.ceil(c - half)), min(hi, math.floor(c + half))))
    return None if any(a > b for a, b in out) else tuple(out)

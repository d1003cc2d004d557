"""The spec's second interpretation: an `nn.Module` that trains exactly what the calculator counts.

One builder per layer kind, mirroring `cnncost.rules`.  Shapes are threaded through with the
rules themselves (so in_channels and in_features are the calculator's), and modules are named
with the walk's `Namer` in the walk's order, so every leaf module's path equals its row name:
`build(spec, shape).get_submodule(row.name)`.
"""
from __future__ import annotations

import torch
from torch import nn
import torch.nn.functional as F

from cnncost import rules, spec
from cnncost.errors import CostError
from cnncost.torch import layer_modules as lm
from cnncost.walk import Namer, branch_prefix, root as _root

BUILDERS: dict[type, callable] = {}


def builder(*kinds: type):
    def register(fn):
        for kind in kinds:
            BUILDERS[kind] = fn
        return fn
    return register


class Seq(nn.Module):
    """Children run in insertion order (an nn.Sequential whose children may have any name)."""

    def forward(self, x):
        for m in self._modules.values():
            x = m(x)
        return x


class Branches(nn.Module):
    """Each child sees the input; outputs are concatenated along channels."""

    def forward(self, x):
        return torch.cat([m(x) for m in self._modules.values()], dim=1)


class Residual(nn.Module):
    """body(x) + shortcut(x); the body's layers are this module's children, before `shortcut`."""

    def forward(self, x):
        y = x
        for name, m in self._modules.items():
            if name != "shortcut":
                y = m(y)
        return y + (self.shortcut(x) if "shortcut" in self._modules else x)


class Scale(nn.Module):
    def __init__(self, factor: float):
        super().__init__()
        self.factor = factor

    def forward(self, x):
        return x * self.factor

    def extra_repr(self):
        return f"factor={self.factor}"


class ShortcutPad(nn.Module):
    """He et al. 2016 option A: x[:, :, ::s, ::s], zero channels split before and after."""

    def __init__(self, in_channels: int, out_channels: int, stride: int):
        super().__init__()
        self.stride, extra = stride, out_channels - in_channels
        self.before, self.after = extra // 2, extra - extra // 2

    def forward(self, x):
        x = x[:, :, ::self.stride, ::self.stride]
        return F.pad(x, (0, 0, 0, 0, self.before, self.after))


def _padding(layer: spec.ConvNd):
    if isinstance(layer.padding, str):
        return layer.padding
    return tuple(p[0] for p in layer.pads)


def _nd(family: str, dims: int):
    return getattr(nn, f"{family}{dims}d")


@builder(spec.ConvNd, spec.Conv1d, spec.Conv2d, spec.Conv3d)
def _conv(layer: spec.ConvNd, shape):
    return _nd("Conv", layer.dims)(shape[0], layer.out_channels, layer.kernel, layer.stride, _padding(layer),
                                   layer.dilation, layer.groups, layer.bias, layer.padding_mode)


@builder(spec.ConvTransposeNd, spec.ConvTranspose1d, spec.ConvTranspose2d, spec.ConvTranspose3d)
def _conv_transpose(layer: spec.ConvTransposeNd, shape):
    return _nd("ConvTranspose", layer.dims)(shape[0], layer.out_channels, layer.kernel, layer.stride, layer.padding,
                                            layer.output_padding, layer.groups, layer.bias, layer.dilation)


@builder(spec.PoolNd, spec.Pool1d, spec.Pool2d, spec.Pool3d)
def _pool(layer: spec.PoolNd, shape):
    if layer.mode == "max":
        return _nd("MaxPool", layer.dims)(layer.kernel, layer.stride, layer.padding, layer.dilation,
                                          ceil_mode=layer.ceil_mode)
    return _nd("AvgPool", layer.dims)(layer.kernel, layer.stride, layer.padding, ceil_mode=layer.ceil_mode,
                                      count_include_pad=layer.count_include_pad)


@builder(spec.AdaptivePoolNd, spec.AdaptivePool1d, spec.AdaptivePool2d, spec.AdaptivePool3d)
def _adaptive(layer: spec.AdaptivePoolNd, shape):
    return _nd("AdaptiveMaxPool" if layer.mode == "max" else "AdaptiveAvgPool", layer.dims)(layer.output_size)


@builder(spec.Upsample)
def _upsample(layer: spec.Upsample, shape):
    return nn.Upsample(layer.size, layer.scale_factor, layer.mode, layer.align_corners)


@builder(spec.Linear)
def _linear(layer: spec.Linear, shape):
    return nn.Linear(shape[-1], layer.out_features, layer.bias)


@builder(spec.BatchNorm)
def _bn(layer: spec.BatchNorm, shape):
    return _nd("BatchNorm", max(1, len(shape) - 1))(shape[0], eps=layer.eps, momentum=layer.momentum,
                                                    affine=layer.affine,
                                                    track_running_stats=layer.track_running_stats)


@builder(spec.InstanceNorm)
def _instance_norm(layer: spec.InstanceNorm, shape):
    return _nd("InstanceNorm", len(shape) - 1)(shape[0], eps=layer.eps, momentum=layer.momentum, affine=layer.affine,
                                               track_running_stats=layer.track_running_stats)


@builder(spec.GroupNorm)
def _group_norm(layer: spec.GroupNorm, shape):
    return nn.GroupNorm(layer.num_groups, shape[0], layer.eps, layer.affine)


@builder(spec.Embedding)
def _embedding(layer: spec.Embedding, shape):
    return nn.Embedding(layer.num_embeddings, layer.embedding_dim, layer.padding_idx)


@builder(spec.LRN)
def _lrn(layer: spec.LRN, shape):
    return nn.LocalResponseNorm(layer.size, layer.alpha, layer.beta, layer.k)


_ACTIVATIONS = {
    "relu": nn.ReLU, "relu6": nn.ReLU6, "leaky_relu": nn.LeakyReLU, "elu": nn.ELU, "gelu": nn.GELU,
    "sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "silu": nn.SiLU, "hardswish": nn.Hardswish,
    "hardsigmoid": nn.Hardsigmoid, "softmax": lambda: nn.Softmax(dim=1), "identity": nn.Identity,
}


@builder(spec.Activation)
def _act(layer: spec.Activation, shape):
    return _ACTIVATIONS[layer.fn]()


@builder(spec.Dropout)
def _dropout(layer: spec.Dropout, shape):
    return nn.Dropout(layer.p)


@builder(spec.Flatten)
def _flatten(layer: spec.Flatten, shape):
    return nn.Flatten(lm.torch_dim(layer.start), lm.torch_dim(layer.end))


@builder(spec.Scale)
def _scale(layer: spec.Scale, shape):
    return Scale(layer.factor)


@builder(spec.ShortcutPad)
def _shortcut(layer: spec.ShortcutPad, shape):
    return ShortcutPad(shape[0], layer.out_channels, layer.stride)


builder(spec.Add)(lambda layer, shape: lm.Add())
builder(spec.Mul)(lambda layer, shape: lm.Mul())
builder(spec.Cat)(lambda layer, shape: lm.Cat(layer.axis))
builder(spec.Param)(lambda layer, shape: lm.Param(layer.shape))
builder(spec.Reshape)(lambda layer, shape: lm.Reshape(rules.cost(layer, shape, "reshape").out))
builder(spec.View)(lambda layer, shape: nn.Sequential(        # axes start..end merged, then split into sizes
    nn.Flatten(layer.start % len(shape) + 1, layer.end % len(shape) + 1),
    nn.Unflatten(layer.start % len(shape) + 1, layer.sizes)))
builder(spec.Permute)(lambda layer, shape: lm.Permute(layer.dims))
builder(spec.Slice)(lambda layer, shape: lm.Slice(layer.axis, layer.start, layer.stop, layer.step, len(shape)))
builder(spec.Mean)(lambda layer, shape: lm.Mean(layer.axes, layer.keepdim))
builder(spec.Unary)(lambda layer, shape: lm.Unary(layer.fn, layer.value))
builder(spec.Binary)(lambda layer, shape: lm.Binary(layer.op))
builder(spec.Softmax)(lambda layer, shape: lm.Softmax(layer.axis, layer.log))
builder(spec.Reduce)(lambda layer, shape: lm.Reduce(layer.op, layer.axes, layer.keepdim))
builder(spec.Stack)(lambda layer, shape: lm.Stack(layer.axis))
builder(spec.Pad)(lambda layer, shape: lm.Pad(layer.pads, layer.mode, layer.value))
builder(spec.Select)(lambda layer, shape: lm.Select(layer.axis, layer.index))
builder(spec.Expand)(lambda layer, shape: lm.Expand(rules.cost(layer, shape, "expand").out))
builder(spec.Repeat)(lambda layer, shape: lm.Repeat(layer.repeats))
builder(spec.Roll)(lambda layer, shape: lm.Roll(layer.shifts, layer.axes))
builder(spec.Where)(lambda layer, shape: lm.Where())
builder(spec.TopK)(lambda layer, shape: lm.TopK(layer.k, layer.axis))
builder(spec.PixelShuffle)(lambda layer, shape: nn.PixelShuffle(layer.upscale_factor))
builder(spec.RoIAlign)(lambda layer, shape: lm.RoIAlign(layer.output_size, layer.spatial_scale, layer.sampling_ratio,
                                                        layer.aligned))
builder(spec.Ternary)(lambda layer, shape: lm.Ternary(layer.op, layer.value))
builder(spec.GridSample)(lambda layer, shape: lm.GridSample(layer.mode, layer.padding_mode, layer.align_corners))
builder(spec.Unfold)(lambda layer, shape: nn.Unfold(layer.kernel_size, layer.dilation, layer.padding, layer.stride))
builder(spec.Constant)(lambda layer, shape: lm.Constant(layer.shape))
builder(spec.MatMul)(lambda layer, shape: lm.MatMul())
builder(spec.AddMatMul)(lambda layer, shape: lm.AddMatMul(layer.beta, layer.alpha))
builder(spec.Einsum)(lambda layer, shape: lm.Einsum(layer.equation))
builder(spec.ScaledDotProductAttention)(lambda layer, shape: lm.ScaledDotProductAttention(
    layer.dropout_p, layer.is_causal, layer.scale, layer.enable_gqa))


builder(spec.PatchMerge)(lambda layer, shape: lm.PatchMerge())


@builder(spec.WindowAttention)
def _window_attention(layer: spec.WindowAttention, shape):
    try:
        from torchvision.models import swin_transformer as swin
    except ImportError:
        raise CostError(f"{layer.name or 'WindowAttention'}: building Swin's window attention needs torchvision") from None
    cls = swin.ShiftedWindowAttention if layer.version == 1 else swin.ShiftedWindowAttentionV2
    return cls(layer.dim, list(layer.window), list(layer.shift), layer.num_heads, layer.qkv_bias, layer.proj_bias)


@builder(spec.MultiheadAttention)
def _mha(layer: spec.MultiheadAttention, shapes):
    return lm.MultiheadAttention(layer.embed_dim, layer.num_heads, layer.dropout, layer.bias, layer.add_bias_kv,
                                 layer.add_zero_attn, layer.kdim, layer.vdim, layer.batch_first,
                                 need_weights=layer.need_weights)


@builder(spec.Recurrent)
def _recurrent(layer: spec.Recurrent, shape):
    options = dict(num_layers=layer.num_layers, bias=layer.bias, batch_first=layer.batch_first,
                   dropout=layer.dropout, bidirectional=layer.bidirectional)
    if layer.mode == "rnn":
        options["nonlinearity"] = layer.nonlinearity
    if layer.proj_size:
        options["proj_size"] = layer.proj_size
    return lm.RECURRENT[layer.mode](shape[-1], layer.hidden_size, **options)


builder(spec.LayerNorm)(lambda layer, shape: nn.LayerNorm(layer.shape, layer.eps, elementwise_affine=layer.affine,
                                                          bias=layer.bias))


class Graph(nn.Module):
    """Runs a spec.Graph: each node's module (at its dotted path) on the outputs of the nodes it names.
    A node `path#k` calls the module at `path` again."""

    def __init__(self, steps: list, output: str):
        super().__init__()
        self._steps, self._output = steps, output   # [(node name, module path, input names)]

    def forward(self, x):
        env = {spec.INPUT: x}
        for name, path, inputs in self._steps:
            env[name] = self.get_submodule(path)(*(env[i] for i in inputs))
        return env[self._output]


def _place(parent: nn.Module, path: str, module: nn.Module):
    """Add `module` at dotted `path` under `parent`, making plain containers for missing parents."""
    *parents, leaf = path.split(".")
    for p in parents:
        if not hasattr(parent, p) or not isinstance(getattr(parent, p), nn.Module):
            parent.add_module(p, nn.Module())
        parent = getattr(parent, p)
    parent.add_module(leaf, module)


class _Builder:
    def __init__(self):
        self.name = Namer()

    def into(self, parent: nn.Module, node, shape: tuple, prefix: str) -> tuple:
        """Add the modules for `node` to `parent`; return the node's output shape."""
        if isinstance(node, spec.Sequence):
            if node.name is not None:
                sub = Seq()
                parent.add_module(node.name, sub)
                parent, prefix = sub, f"{prefix}{node.name}."
            for child in node.layers:
                shape = self.into(parent, child, shape, prefix)
            return shape
        if isinstance(node, spec.Concat):
            who = self.name(node, prefix, "concat")
            module = Branches()
            parent.add_module(who[len(prefix):], module)
            outs = []
            for i, branch in enumerate(node.branches):
                inner = branch_prefix(branch, f"{who}.", i)
                target = module
                if inner != f"{who}.":
                    target = Seq()
                    module.add_module(f"b{i + 1}", target)
                outs.append(self.into(target, branch, shape, inner))
            return (sum(o[0] for o in outs), *outs[0][1:])
        if isinstance(node, spec.Residual):
            who = self.name(node, prefix, "block")
            module = Residual()
            parent.add_module(who[len(prefix):], module)
            out = self.into(module, node.body, shape, f"{who}.")
            if node.shortcut is not None:
                short = Seq()
                module.add_module("shortcut", short)
                self.into(short, node.shortcut, shape, f"{who}.shortcut.")
            return out
        if isinstance(node, spec.Graph):
            if node.name is None:
                raise CostError(f"{prefix or 'model'}: a graph inside a sequence needs a name")
            module = Graph([], node.output)
            parent.add_module(node.name, module)
            return self.graph(module, node, shape, f"{prefix}{node.name}.")
        if isinstance(node, spec.Opaque):
            raise CostError(f"{prefix}{node.name or node.op}: cannot build {node.op!r}, an op no rule knows")
        kind = rules.kind(node)
        who = self.name(node, prefix, kind)
        out = rules.cost(node, (shape,) if spec.takes_many(node) else shape, who).out
        try:
            make = BUILDERS[type(node)]
        except KeyError:
            raise CostError(f"{who}: no PyTorch builder for {type(node).__name__}") from None
        parent.add_module(who[len(prefix):], make(node, shape))
        return out


    def graph(self, module: "Graph", node: spec.Graph, shape: tuple, prefix: str) -> tuple:
        """Fill `module` with the node modules at their node names (dotted paths nest)."""
        from dataclasses import replace
        shapes, steps = {spec.INPUT: shape}, []
        for n in node.nodes:
            ins = [shapes[i] for i in n.inputs]
            who, op = f"{prefix}{n.name}", n.op
            path = n.name.split("#")[0]
            sub = None
            if isinstance(op, spec.Graph):
                sub = Graph([], op.output)
                shapes[n.name] = self.graph(sub, op, ins[0], f"{who}.")
            elif isinstance(op, spec.CONTAINERS):
                sub = Seq()
                shapes[n.name] = self.into(sub, replace(op, name=None), ins[0], f"{who}.")
            elif isinstance(op, spec.Opaque):
                raise CostError(f"{who}: cannot build {op.op!r}, an op no rule knows")
            else:
                sourceless = isinstance(op, (spec.Param, spec.Constant))
                arg = tuple(ins) if isinstance(op, spec.MERGES) else (() if sourceless else ins[0])
                shapes[n.name] = rules.cost(op, arg, who).out
                if "#" not in n.name and n.shares is None:
                    try:
                        sub = BUILDERS[type(op)](op, arg)
                    except KeyError:
                        raise CostError(f"{who}: no PyTorch builder for {type(op).__name__}") from None
            if sub is not None:
                _place(module, path, sub)
            steps.append((n.name, n.shares.split("#")[0] if n.shares else path, n.inputs))
        module._steps, module._output = steps, node.output
        return shapes[node.output]


def build(model, input_shape: tuple) -> nn.Module:
    """An nn.Module for a spec and a per-sample input shape (C, H, W) or (F,)."""
    spec_root = _root(model)
    if isinstance(spec_root, spec.Graph):
        root = Graph([], spec_root.output)
        _Builder().graph(root, spec_root, tuple(input_shape), "")
        return root
    root = Seq()
    _Builder().into(root, spec_root, tuple(input_shape), "")
    return root

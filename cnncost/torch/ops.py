"""PyTorch modules and functions as spec layers: the reader's dictionary.

Every spec layer here is made from module attributes (in_channels, kernel_size, stride, padding,
dilation, groups, bias, eps, ...) or from the literal arguments of a call, never from a traced
shape.  A module's declared input size (in_channels, in_features, num_features,
normalized_shape) is checked against the calculator's shape, so a wrong shape fails loudly.
Layers carry their row name, so their own checks name the row.  `None` means "no rule knows this":
the reader makes it an `Opaque` op with unknown cost.
"""
from __future__ import annotations

import operator
import sys

import torch
import torch.nn.functional as F
from torch import nn

from cnncost import spec
from cnncost.errors import CostError


def _pair(v):
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


class DeclaredMismatch(CostError):
    """A module's declared input size is not the calculator's: the reader misread the model."""


def _check(who: str, what: str, declared, calculated):
    if declared != calculated:
        raise DeclaredMismatch(f"{who}: the module declares {what} {declared} but the calculator's input gives {calculated}")


def _conv(m: nn.Conv2d, shape, who):
    if m.padding_mode != "zeros":
        return None
    _check(who, "in_channels", m.in_channels, shape[0])
    padding = m.padding if isinstance(m.padding, str) else _pair(m.padding)
    return spec.Conv2d(m.out_channels, _pair(m.kernel_size), _pair(m.stride), padding, _pair(m.dilation),
                       m.groups, m.bias is not None, name=who)


def _linear(m: nn.Linear, shape, who):
    _check(who, "in_features", m.in_features, shape[-1])
    return spec.Linear(m.out_features, m.bias is not None, name=who)


def _bn(m, shape, who):
    _check(who, "num_features", m.num_features, shape[0])
    return spec.BatchNorm(m.affine, m.eps, name=who)


def _maxpool(m: nn.MaxPool2d, shape, who):
    if _pair(m.dilation) != (1, 1) or m.return_indices:
        return None
    return spec.Pool2d("max", _pair(m.kernel_size), _pair(m.stride if m.stride is not None else m.kernel_size),
                       _pair(m.padding), m.ceil_mode, name=who)


def _avgpool(m: nn.AvgPool2d, shape, who):
    if m.divisor_override is not None:
        return None
    return spec.Pool2d("avg", _pair(m.kernel_size), _pair(m.stride if m.stride is not None else m.kernel_size),
                       _pair(m.padding), m.ceil_mode, m.count_include_pad, name=who)


def adaptive(mode: str, output_size, shape):
    """AdaptiveXPool2d(output_size); a None size keeps the input's size."""
    if len(shape) != 3:
        return None
    oh, ow = _pair(output_size)
    return spec.AdaptivePool2d(mode, (shape[1] if oh is None else oh, shape[2] if ow is None else ow))


def flatten(start: int, end: int, shape):
    """torch.flatten(x, start, end) on a batched tensor of len(shape)+1 dims, per sample."""
    ndim = len(shape) + 1
    start, end = start % ndim, end % ndim
    if start == 0:
        return None          # would merge the batch dimension
    if start == 1 and end == ndim - 1:
        return spec.Flatten()
    a, b = start - 1, end - 1
    merged = 1
    for s in shape[a:b + 1]:
        merged = merged * s
    return spec.Reshape((*shape[:a], merged, *shape[b + 1:]))


def _softmax(m: nn.Softmax, shape, who):
    return spec.Activation("softmax") if len(shape) == 1 and m.dim in (1, -1) else None


def _ln(m: nn.LayerNorm, shape, who):
    return spec.LayerNorm(tuple(m.normalized_shape), m.eps, m.elementwise_affine,
                          m.elementwise_affine and getattr(m, "bias", None) is not None)


ACTIVATION_MODULES = {
    nn.ReLU: "relu", nn.ReLU6: "relu6", nn.LeakyReLU: "leaky_relu", nn.ELU: "elu", nn.GELU: "gelu",
    nn.Sigmoid: "sigmoid", nn.Tanh: "tanh", nn.SiLU: "silu", nn.Hardswish: "hardswish",
    nn.Hardsigmoid: "hardsigmoid", nn.Identity: "identity",
}

#: exact module type -> fn(module, calculator's input shape, row name) -> spec layer or None
MODULES = {
    nn.Conv2d: _conv,
    nn.Linear: _linear,
    nn.BatchNorm1d: _bn,
    nn.BatchNorm2d: _bn,
    nn.MaxPool2d: _maxpool,
    nn.AvgPool2d: _avgpool,
    nn.AdaptiveAvgPool2d: lambda m, shape, who: adaptive("avg", m.output_size, shape),
    nn.AdaptiveMaxPool2d: lambda m, shape, who: None if m.return_indices else adaptive("max", m.output_size, shape),
    nn.Dropout: lambda m, shape, who: spec.Dropout(m.p),
    nn.Dropout2d: lambda m, shape, who: spec.Dropout(m.p),
    nn.Flatten: lambda m, shape, who: flatten(m.start_dim, m.end_dim, shape),
    nn.LayerNorm: _ln,
    nn.LocalResponseNorm: lambda m, shape, who: spec.LRN(m.size, m.alpha, m.beta, m.k),
    nn.Softmax: _softmax,
    **{cls: (lambda fn: lambda m, shape, who: spec.Activation(fn))(fn) for cls, fn in ACTIVATION_MODULES.items()},
}


def _convnd(kind):
    """Conv1d/Conv3d and the transposed convolutions, from the module's attributes."""
    def make(m, shape, who):
        if m.padding_mode != "zeros" or isinstance(m.padding, str) and kind in (spec.ConvTranspose1d,
                                                                             spec.ConvTranspose2d, spec.ConvTranspose3d):
            return None
        _check(who, "in_channels", m.in_channels, shape[0])
        if issubclass(kind, spec.ConvTransposeNd):
            return kind(m.out_channels, tuple(m.kernel_size), tuple(m.stride), tuple(m.padding),
                        tuple(m.output_padding), m.groups, m.bias is not None, tuple(m.dilation), name=who)
        padding = m.padding if isinstance(m.padding, str) else tuple(m.padding)
        return kind(m.out_channels, tuple(m.kernel_size), tuple(m.stride), padding, tuple(m.dilation), m.groups,
                    m.bias is not None, name=who)
    return make


def _pool(kind, mode):
    def make(m, shape, who):
        if getattr(m, "return_indices", False) or getattr(m, "divisor_override", None) is not None:
            return None
        stride = m.stride if m.stride is not None else m.kernel_size
        if mode == "max":
            return kind(mode, m.kernel_size, stride, m.padding, m.ceil_mode, dilation=m.dilation, name=who)
        return kind(mode, m.kernel_size, stride, m.padding, m.ceil_mode, m.count_include_pad, name=who)
    return make


def _adaptive_nd(kind, mode):
    def make(m, shape, who):
        size = m.output_size if isinstance(m.output_size, (tuple, list)) else (m.output_size,) * kind.dims
        if getattr(m, "return_indices", False) or len(shape) != kind.dims + 1:
            return None
        size = tuple(shape[1 + i] if s is None else s for i, s in enumerate(size))
        return kind(mode, size, name=who)
    return make


def _group_norm(m: nn.GroupNorm, shape, who):
    _check(who, "num_channels", m.num_channels, shape[0])
    return spec.GroupNorm(m.num_groups, m.affine, m.eps, name=who)


def _upsample(m: nn.Upsample, shape, who):
    if m.recompute_scale_factor:
        return None
    return spec.Upsample(m.size, m.scale_factor, m.mode, m.align_corners, name=who)


MODULES.update({
    nn.Conv1d: _convnd(spec.Conv1d), nn.Conv3d: _convnd(spec.Conv3d),
    nn.ConvTranspose1d: _convnd(spec.ConvTranspose1d), nn.ConvTranspose2d: _convnd(spec.ConvTranspose2d),
    nn.ConvTranspose3d: _convnd(spec.ConvTranspose3d),
    nn.BatchNorm3d: _bn, nn.GroupNorm: _group_norm, nn.Upsample: _upsample,
    nn.MaxPool1d: _pool(spec.Pool1d, "max"), nn.MaxPool3d: _pool(spec.Pool3d, "max"),
    nn.AvgPool1d: _pool(spec.Pool1d, "avg"), nn.AvgPool3d: _pool(spec.Pool3d, "avg"),
    nn.AdaptiveAvgPool1d: _adaptive_nd(spec.AdaptivePool1d, "avg"),
    nn.AdaptiveAvgPool3d: _adaptive_nd(spec.AdaptivePool3d, "avg"),
    nn.AdaptiveMaxPool1d: _adaptive_nd(spec.AdaptivePool1d, "max"),
    nn.AdaptiveMaxPool3d: _adaptive_nd(spec.AdaptivePool3d, "max"),
    nn.Dropout1d: lambda m, shape, who: spec.Dropout(m.p), nn.Dropout3d: lambda m, shape, who: spec.Dropout(m.p),
})


def _swin_attention(m: nn.Module, shape, who):
    """torchvision's ShiftedWindowAttention(V2) (V2 has the position-bias MLP `cpb_mlp`)."""
    from cnncost.rules.attention import CPB_HIDDEN
    dim, v2 = m.qkv.in_features, hasattr(m, "cpb_mlp")
    if m.qkv.out_features != 3 * dim or (m.proj.in_features, m.proj.out_features) != (dim, dim):
        return None
    if v2 and [(type(x), getattr(x, "out_features", None)) for x in m.cpb_mlp] != \
            [(nn.Linear, CPB_HIDDEN), (nn.ReLU, None), (nn.Linear, m.num_heads)]:
        return None
    return spec.WindowAttention(dim, m.num_heads, tuple(m.window_size), tuple(m.shift_size), m.qkv.bias is not None,
                                m.proj.bias is not None, version=2 if v2 else 1, name=who)


def _library_modules():
    """Modules of other libraries known by type once the library is loaded (importing torchvision
    here would cost a second): torchvision's Swin window attention."""
    swin = sys.modules.get("torchvision.models.swin_transformer")
    if swin is not None and getattr(swin, "ShiftedWindowAttention", None) not in MODULES:
        MODULES.update({swin.ShiftedWindowAttention: _swin_attention, swin.ShiftedWindowAttentionV2: _swin_attention})


#: methods a subclass may define and still compute what its base computes
_HARMLESS = {"__init__", "extra_repr", "__repr__", "reset_parameters", "__module__", "__qualname__", "__doc__",
             "__annotations__", "__constants__", "__dict__", "__weakref__", "__firstlineno__", "__static_attributes__",
             "__parameters__", "__orig_bases__", "__slotnames__"}
_BASES: dict = {}


def known_type(m: nn.Module):
    """The known module type `m` is read as: its own, or the known base of a subclass that overrides
    nothing the base defines but `__init__` and its repr (torchvision's Conv3DSimple is an
    nn.Conv3d with a helper of its own); None."""
    _library_modules()
    t = type(m)
    if t in MODULES:
        return t
    if t not in _BASES:
        base = next((b for b in t.__mro__[1:] if b in MODULES), None)
        between = t.__mro__[:t.__mro__.index(base)] if base is not None else ()
        _BASES[t] = base if base is not None and not any(k not in _HARMLESS and hasattr(base, k)
                                                         for c in between for k in vars(c)) else None
    return _BASES[t]


def knows(m: nn.Module) -> bool:
    """Whether a module is read by type (a leaf of the fx trace, one row of the run-time reader)."""
    return known_type(m) is not None


def library_function(target):
    """The spec layer a library function traced whole by fx stands for: torchvision's Swin patch
    merging gather (`torch.fx.wrap`ped, so fx sees one call)."""
    swin = sys.modules.get("torchvision.models.swin_transformer")
    if swin is not None and target is getattr(swin, "_patch_merging_pad", None):
        return spec.PatchMerge
    return None


def module_op(m: nn.Module, shape: tuple, who: str):
    """The spec layer for a leaf module on the calculator's input shape, or None if unknown."""
    t = known_type(m)
    make = MODULES.get(t) if t is not None else None
    return None if make is None else make(m, shape, who)


#: functions (and tensor methods, by name) that are one activation
ACTIVATION_FUNCTIONS = {
    F.relu: "relu", torch.relu: "relu", F.relu6: "relu6", F.gelu: "gelu", F.silu: "silu",
    F.hardswish: "hardswish", F.hardsigmoid: "hardsigmoid", F.leaky_relu: "leaky_relu", F.elu: "elu",
    torch.sigmoid: "sigmoid", F.sigmoid: "sigmoid", torch.tanh: "tanh", F.tanh: "tanh",
}
ACTIVATION_METHODS = {"relu": "relu", "relu_": "relu", "sigmoid": "sigmoid", "sigmoid_": "sigmoid",
                      "tanh": "tanh", "tanh_": "tanh"}

#: calls that return their input unchanged at inference (dropout in eval mode is handled apart)
ALIAS_METHODS = {"contiguous", "clone", "detach", "float", "to", "type_as"}

#: argument names of functions the reader maps, to bind positional and keyword arguments alike
SIGNATURES = {
    F.max_pool2d: ("input", "kernel_size", "stride", "padding", "dilation", "ceil_mode", "return_indices"),
    F.avg_pool2d: ("input", "kernel_size", "stride", "padding", "ceil_mode", "count_include_pad",
                   "divisor_override"),
    F.adaptive_avg_pool2d: ("input", "output_size"),
    F.adaptive_max_pool2d: ("input", "output_size", "return_indices"),
    F.layer_norm: ("input", "normalized_shape", "weight", "bias", "eps"),
    F.batch_norm: ("input", "running_mean", "running_var", "weight", "bias", "training", "momentum", "eps"),
    F.dropout: ("input", "p", "training", "inplace"),
    F.dropout2d: ("input", "p", "training", "inplace"),
    torch.flatten: ("input", "start_dim", "end_dim"),
    torch.cat: ("tensors", "dim"),
    torch.concat: ("tensors", "dim"),
    torch.permute: ("input", "dims"),
    torch.transpose: ("input", "dim0", "dim1"),
    torch.reshape: ("input", "shape"),
    torch.chunk: ("input", "chunks", "dim"),
    torch.split: ("tensor", "split_size_or_sections", "dim"),
    torch.mean: ("input", "dim", "keepdim"),
    torch.squeeze: ("input", "dim"),
    torch.unsqueeze: ("input", "dim"),
    torch.add: ("input", "other", "alpha"),
    F.linear: ("input", "weight", "bias"),
    F.interpolate: ("input", "size", "scale_factor", "mode", "align_corners", "recompute_scale_factor", "antialias"),
    torch.mul: ("input", "other"),
}
METHOD_SIGNATURES = {
    "flatten": ("start_dim", "end_dim"), "chunk": ("chunks", "dim"), "split": ("split_size", "dim"),
    "mean": ("dim", "keepdim"), "transpose": ("dim0", "dim1"), "squeeze": ("dim",), "unsqueeze": ("dim",),
    "size": ("dim",), "add": ("other", "alpha"), "mul": ("other",), "div": ("other",),
}
DEFAULTS = {"stride": None, "padding": 0, "dilation": 1, "ceil_mode": False, "return_indices": False,
            "count_include_pad": True, "divisor_override": None, "weight": None, "bias": None, "eps": 1e-5,
            "p": 0.5, "training": True, "inplace": False, "start_dim": 0, "end_dim": -1, "dim": 0,
            "keepdim": False, "alpha": 1}
#: defaults that differ by function
SPECIAL_DEFAULTS = {("mean", "dim"): None, ("squeeze", "dim"): None, ("size", "dim"): None,
                    ("batch_norm", "training"): False, ("interpolate", "mode"): "nearest"}


def bind(names: tuple, args: tuple, kwargs: dict, fname: str = "") -> dict:
    """Positional and keyword arguments by name, with PyTorch's defaults for the rest."""
    bound = dict(zip(names, args))
    bound.update(kwargs)
    for n in names:
        if n not in bound:
            bound[n] = SPECIAL_DEFAULTS.get((fname, n), DEFAULTS.get(n))
    return bound


def stochastic_depth_functions() -> tuple:
    """torchvision.ops.stochastic_depth (an identity at inference), if torchvision is installed."""
    try:
        from torchvision.ops import stochastic_depth
    except ImportError:  # pragma: no cover
        return ()
    return (stochastic_depth,)


ADD_FUNCTIONS = {operator.add, operator.iadd, torch.add}
MUL_FUNCTIONS = {operator.mul, operator.imul, torch.mul}
DIV_FUNCTIONS = {operator.truediv, operator.itruediv, torch.div}


def _mha(m: nn.MultiheadAttention, kwargs: dict, args: tuple):
    need = kwargs.get("need_weights", args[4] if len(args) > 4 else True)
    return spec.MultiheadAttention(m.embed_dim, m.num_heads, m.dropout, m.in_proj_bias is not None,
                                   m.bias_k is not None, m.add_zero_attn, m.kdim if m.kdim != m.embed_dim else None,
                                   m.vdim if m.vdim != m.embed_dim else None, m.batch_first, bool(need))


def _recurrent(mode: str):
    def make(m, kwargs, args):
        return spec.Recurrent(mode, m.hidden_size, m.num_layers, m.bias, m.batch_first, m.dropout, m.bidirectional,
                              getattr(m, "proj_size", 0), getattr(m, "nonlinearity", "tanh"))
    return make


#: modules over (T, F) sequences, read by the run-time reader only (it sees every tensor argument):
#: exact type -> fn(module, forward's keyword arguments, positional arguments) -> spec layer
SEQUENCE_MODULES = {
    nn.MultiheadAttention: _mha,
    nn.LSTM: _recurrent("lstm"), nn.GRU: _recurrent("gru"), nn.RNN: _recurrent("rnn"),
}


def fresh_name(taken: set, owner: str, base: str) -> str:
    """A row name not yet in `taken` (which it joins): `owner.base`, then `owner.base_1`, ..."""
    stem = f"{owner}.{base}" if owner else base
    name, k = stem, 0
    while name in taken:
        k += 1
        name = f"{stem}_{k}"
    taken.add(name)
    return name

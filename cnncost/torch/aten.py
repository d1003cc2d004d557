"""ATen operators as spec layers: the run-time reader's dictionary (`cnncost.torch.runread`).

A handler gets one executed operator as a `Call` (its arguments, its outputs, and the reader's
view of each tensor) and returns `(layer, input tensors)`, `SAME` (a view or copy that changes
nothing: the output is its input's node), or None (no rule: the reader makes a named unknown row).
Layers are made from the operator's literal arguments and its weights' shapes
(`aten.convolution`'s weight gives out_channels and the kernel), never from a measured cost.

Shapes are per sample: the reader runs batch 1, and a tensor whose leading size is 1 (with two
or more dimensions) is seen without it (`Call.shape`), so every count equals the one-sample count
whatever the layout (an `(L, 1, E)` sequence keeps all three sizes; its count is the same).
"""
from __future__ import annotations

import torch

from cnncost import spec
from cnncost.torch import aten_index
from cnncost.torch.aten_call import BATCHED, SAME, Call  # noqa: F401  (the reader reads them here)
from cnncost.torch.aten_index import SIDE  # noqa: F401
from cnncost.torch.aten_shape import LAYOUT, MULTI, _cat, _layout, _pad, _select, _slice, _stack  # noqa: F401

aten = torch.ops.aten

#: unary activations: op overload packet -> spec activation
ACTIVATIONS = {
    aten.relu: "relu", aten.relu_: "relu", aten.gelu: "gelu", aten.gelu_: "gelu", aten.silu: "silu",
    aten.silu_: "silu", aten.sigmoid: "sigmoid", aten.sigmoid_: "sigmoid", aten.tanh: "tanh",
    aten.tanh_: "tanh", aten.hardswish: "hardswish", aten.hardswish_: "hardswish",
    aten.hardsigmoid: "hardsigmoid", aten.hardsigmoid_: "hardsigmoid", aten.leaky_relu: "leaky_relu",
    aten.leaky_relu_: "leaky_relu", aten.elu: "elu", aten.elu_: "elu",
}

#: products torch's FlopCounterMode counts: read even where only parameters reach them
PRODUCTS = {aten.mm, aten.addmm, aten.bmm, aten.baddbmm, aten.convolution, aten._convolution}

#: in-place ops that overwrite a tensor with a constant
FILLS = {aten.fill_, aten.zero_}

#: ops whose result depends on a tensor's shape only, never on its values: constants
FROM_SHAPE = {aten.new_zeros, aten.new_ones, aten.new_full, aten.new_empty, aten.zeros_like, aten.ones_like,
              aten.empty_like, aten.full_like, aten.new_empty_strided, aten.sym_size, aten.sym_numel}


def _batch_norm_meta(args, kwargs):
    """Eval-mode batch norm on meta tensors: (empty_like(x), two empty statistics), what its Python
    meta kernel returns (torch._decomp native_batch_norm_helper), without the slow decomposition."""
    training = args[5] if len(args) > 5 else kwargs.get("training", False)
    x = args[0]
    if training or x.device.type != "meta":
        return None
    empty = x.new_empty((0,))
    return torch.empty_like(x), empty, x.new_empty((0,))


def _elementwise_meta(args, kwargs):
    """a (op) b on meta tensors: an empty tensor of the broadcast shape and promoted dtype (what the
    Python reference kernel computes, far slower); in-place ops return their first argument."""
    a, b = args[0], args[1] if len(args) > 1 else kwargs.get("other")
    if kwargs.keys() - {"other", "alpha"} or not isinstance(a, torch.Tensor) or a.device.type != "meta":
        return None
    if isinstance(b, torch.Tensor) and b.device.type != "meta":
        return None
    shape = torch.broadcast_shapes(a.shape, b.shape) if isinstance(b, torch.Tensor) else a.shape
    return shape, torch.result_type(a, b)


def _out_of_place(args, kwargs):
    found = _elementwise_meta(args, kwargs)
    return None if found is None else torch.empty(found[0], dtype=found[1], device="meta")


def _in_place(args, kwargs):
    found = _elementwise_meta(args, kwargs)
    return None if found is None or tuple(found[0]) != tuple(args[0].shape) else args[0]


#: op -> fn(args, kwargs) giving its outputs on meta tensors faster than its meta kernel, or None
META_SHORTCUTS = {aten.native_batch_norm: _batch_norm_meta,
                  **{p: _out_of_place for p in (aten.add, aten.sub, aten.mul)},
                  **{p: _in_place for p in (aten.add_, aten.sub_, aten.mul_)}}


def _activation(c: Call):
    x = c.args[0]
    if not c.tracked(x):
        return None
    fn = ACTIVATIONS[c.packet]
    return spec.Activation(fn), [x]


def _hardtanh(c: Call):
    lo, hi = c.arg(1, "min_val", -1.0), c.arg(2, "max_val", 1.0)
    if (lo, hi) == (0.0, 6.0) and c.tracked(c.args[0]):
        return spec.Activation("relu6"), [c.args[0]]
    return None


CONVS = {1: spec.Conv1d, 2: spec.Conv2d, 3: spec.Conv3d}
TRANSPOSED = {1: spec.ConvTranspose1d, 2: spec.ConvTranspose2d, 3: spec.ConvTranspose3d}


def _conv(c: Call):
    """aten.convolution: out_channels and kernel from the weight ((out, in/g, *k), transposed
    (in, out/g, *k)), the rest from the arguments."""
    x, w, b = c.args[0], c.args[1], c.arg(2, "bias")
    stride, padding, dilation = c.arg(3, "stride"), c.arg(4, "padding"), c.arg(5, "dilation")
    transposed, output_padding, groups = c.arg(6, "transposed", False), c.arg(7, "output_padding"), c.arg(8, "groups", 1)
    dims = w.dim() - 2
    shape = c.shape(x)
    if dims not in CONVS or not c.tracked(x) or len(shape) not in (dims + 1, dims + 2):
        return None
    n = shape[0] if len(shape) == dims + 2 else 1      # images the model batched itself (RAFT's two frames)
    kernel = tuple(w.shape[2:])
    out = w.shape[1] * groups if transposed else w.shape[0]
    if transposed:
        layer = TRANSPOSED[dims](out * n, kernel, tuple(stride), tuple(padding), tuple(output_padding),
                                 groups * n, b is not None, tuple(dilation))
    else:
        layer = CONVS[dims](out * n, kernel, tuple(stride), tuple(padding), tuple(dilation), groups * n, b is not None)
    if n == 1:
        return layer, [x], [w, b]
    # n images as one grouped convolution over n*C channels: exactly n times the MACs of one
    return [spec.Reshape((n * shape[1], *shape[2:])), layer, spec.Reshape(c.shape(c.out))], [x], [w, b], BATCHED


def _addmm(c: Call):
    """bias + x @ W^T as Linear(out_features) when W is a weight (a parameter, or its transpose)."""
    bias, x, w = c.args[0], c.args[1], c.args[2]
    if not c.tracked(x) or c.tracked(w) or w.dim() != 2:
        return None
    return spec.Linear(w.shape[1], True), [x], [w, bias]


def _mm(c: Call):
    """x @ W (W a weight) is Linear without bias; a product of two activations is MatMul."""
    x, w = c.args[0], c.args[1]
    if not c.tracked(x):
        return spec.MatMul(), [x, w]
    if not c.tracked(w) and w.dim() == 2 and c.packet is aten.mm:
        return spec.Linear(w.shape[1], False), [x], [w]
    return spec.MatMul(), [x, w], [w]


def _baddbmm(c: Call):
    beta, alpha = c.kwargs.get("beta", 1), c.kwargs.get("alpha", 1)
    return spec.AddMatMul(beta, alpha), [c.args[0], c.args[1], c.args[2]], [c.args[0], c.args[2]]


def _sdpa(c: Call):
    """The fused attention kernels (q, k, v, ...): one ScaledDotProductAttention row."""
    q, k, v = c.args[:3]
    mask = c.kwargs.get("attn_mask")
    if c.packet is aten._scaled_dot_product_flash_attention_for_cpu:
        dropout, causal = c.arg(3, "dropout_p", 0.0), c.arg(4, "is_causal", False)
        mask = c.kwargs.get("attn_mask")
    else:
        dropout, causal = c.kwargs.get("dropout_p", 0.0), c.kwargs.get("is_causal", False)
    layer = spec.ScaledDotProductAttention(dropout, bool(causal), c.kwargs.get("scale"))
    return layer, [q, k, v] + ([mask] if isinstance(mask, torch.Tensor) else [])


def _group_norm(c: Call):
    x, w, groups, eps = c.args[0], c.arg(1, "weight"), c.arg(6, "group"), c.arg(7, "eps", 1e-5)
    if not c.tracked(x):
        return None
    return spec.GroupNorm(groups, w is not None, eps), [x], [w, c.arg(2, "bias")]


UPSAMPLE = {aten.upsample_nearest1d: "nearest", aten.upsample_nearest2d: "nearest", aten.upsample_nearest3d: "nearest",
            aten._upsample_nearest_exact1d: "nearest-exact", aten._upsample_nearest_exact2d: "nearest-exact",
            aten._upsample_nearest_exact3d: "nearest-exact", aten.upsample_linear1d: "linear",
            aten.upsample_bilinear2d: "bilinear", aten.upsample_bicubic2d: "bicubic",
            aten.upsample_trilinear3d: "trilinear"}


def _upsample(c: Call):
    """F.interpolate: the output size the run gave, the mode from the kernel's name."""
    x = c.args[0]
    if not c.tracked(x) or len(c.shape(x)) < 2:
        return None
    mode = UPSAMPLE[c.packet]
    align = c.arg(2, "align_corners") if mode in ("linear", "bilinear", "bicubic", "trilinear") else None
    size = tuple(c.out.shape[2:])
    layer = spec.Upsample(size=size if len(size) > 1 else size[0], mode=mode, align_corners=bool(align)
                          if align is not None else None)
    if len(c.shape(x)) not in (len(size) + 1, len(size) + 2):
        return None
    return _per_channel(c, x, len(size), layer)      # several images (Keypoint R-CNN's boxes): on N*C channels


UNARY = {aten.exp: "exp", aten.log: "log", aten.log2: "log2", aten.logical_not: "not", aten.bitwise_not: "not",
         aten.sqrt: "sqrt", aten.rsqrt: "rsqrt", aten.reciprocal: "reciprocal",
         aten.abs: "abs", aten.neg: "neg", aten.sin: "sin", aten.cos: "cos", aten.erf: "erf",
         aten.floor: "floor", aten.ceil: "ceil", aten.round: "round", aten.sign: "sign", aten.clamp: "clamp",
         aten.clamp_min: "clamp", aten.clamp_max: "clamp", aten.pow: "pow", aten.exp_: "exp", aten.sqrt_: "sqrt",
         aten.clamp_: "clamp", aten.neg_: "neg"}


def _unary(c: Call):
    x = c.args[0]
    if not c.tracked(x):
        return None
    fn = UNARY[c.packet]
    k = c.args[1] if len(c.args) > 1 else None
    if fn == "pow" and not isinstance(k, (int, float)):
        return None
    return spec.Unary(fn, k if isinstance(k, (int, float)) and not isinstance(k, bool) else None), [x]


REDUCE = {aten.sum: "sum", aten.amax: "amax", aten.amin: "amin", aten.var: "var", aten.std: "std",
          aten.logsumexp: "logsumexp", aten.prod: "prod", aten.norm: "norm", aten.linalg_vector_norm: "norm",
          aten.argmax: "argmax", aten.argmin: "argmin"}


def _reduce(c: Call):
    x = c.args[0]
    if not c.tracked(x):
        return None
    dims = c.arg(1, "dim")
    if c.packet is aten.linalg_vector_norm:
        dims = c.arg(2, "dim")
    if dims is None or dims == []:
        dims = list(range(x.dim()))
    dims = [dims] if isinstance(dims, int) else list(dims)
    axes = [c.axis(x, d) for d in dims]
    axes = [a for a in axes if a is not None]
    if c.packet is aten.linalg_vector_norm:
        keepdim = c.arg(3, "keepdim", False)
    elif c.packet in (aten.var, aten.std):
        keepdim = c.kwargs.get("keepdim", False)
    else:
        keepdim = c.arg(2, "keepdim", False)
    if not axes:
        return None
    return spec.Reduce(REDUCE[c.packet], tuple(axes), bool(keepdim)), [x]


def _softmax(c: Call):
    x = c.args[0]
    axis = c.axis(x, c.arg(1, "dim"))
    if not c.tracked(x) or axis is None:
        return None
    return spec.Softmax(axis, c.packet is aten._log_softmax), [x]


def _batch_norm(c: Call):
    x, w = c.args[0], c.args[1]
    if not c.tracked(x):
        return None
    if c.packet in (aten.native_batch_norm, aten.batch_norm) and c.arg(5, "training", False):
        # statistics of this batch: on one sample, each channel over its positions, as instance
        # norm (F.instance_norm runs it so, on the images viewed as one sample of N*C channels)
        if x.dim() < 3 or x.shape[0] != 1:
            return None
        eps = c.arg(7, "eps", 1e-5)
        return spec.InstanceNorm(w is not None, eps), [x], [w, c.args[2]]
    eps = c.args[-1] if isinstance(c.args[-1], float) else 1e-5
    layer = spec.BatchNorm(w is not None, eps)
    shape = c.shape(x)
    if x.dim() >= 2 and x.shape[0] != 1 and len(shape) == x.dim():
        # (N, C, ...) with N not the batch (LeViT's BatchNorm1d over flattened tokens): channels first
        n = len(shape)
        order = (1, 0, *range(2, n))
        return [spec.Permute(order), layer, spec.Permute(order)], [x], [w, c.args[2]]
    return layer, [x], [w, c.args[2]]


def _layer_norm(c: Call):
    x, shape, w, b = c.args[0], c.arg(1, "normalized_shape"), c.arg(2, "weight"), c.arg(3, "bias")
    if not c.tracked(x):
        return None
    return spec.LayerNorm(tuple(shape), c.arg(4, "eps", 1e-5), w is not None, b is not None), [x], [w, b]


POOLS = {1: spec.Pool1d, 2: spec.Pool2d, 3: spec.Pool3d}
ADAPTIVE = {1: spec.AdaptivePool1d, 2: spec.AdaptivePool2d, 3: spec.AdaptivePool3d}


def _max_pool(c: Call):
    x, kernel = c.args[0], tuple(c.arg(1, "kernel_size"))
    n = 3 if "3d" in c.packet.__name__ else 2
    kernel = kernel * n if len(kernel) == 1 else kernel
    stride = tuple(c.arg(2, "stride") or ()) or kernel
    if not c.tracked(x) or len(c.shape(x)) not in (n + 1, n + 2):
        return None
    return _per_channel(c, x, n, POOLS[n]("max", kernel, _n(stride, n), _n(c.arg(3, "padding", 0), n),
                                          bool(c.arg(5, "ceil_mode", False)), dilation=_n(c.arg(4, "dilation", 1), n)))


def _avg_pool(c: Call):
    x, kernel = c.args[0], tuple(c.arg(1, "kernel_size"))
    n = 3 if "3d" in c.packet.__name__ else 2
    kernel = kernel * n if len(kernel) == 1 else kernel
    stride = tuple(c.arg(2, "stride") or ()) or kernel
    if not c.tracked(x) or len(c.shape(x)) not in (n + 1, n + 2) or c.arg(6, "divisor_override") is not None:
        return None
    layer = POOLS[n]("avg", kernel, _n(stride, n), _n(c.arg(3, "padding", 0), n), bool(c.arg(4, "ceil_mode", False)),
                     bool(c.arg(5, "count_include_pad", True)))
    return _per_channel(c, x, n, layer)


def _per_channel(c: Call, x, n: int, layer):
    """A per-channel layer on (N, C, *spatial) with N images the model batched itself: on N*C channels."""
    shape = c.shape(x)
    if len(shape) == n + 1:
        return layer, [x]
    return [spec.Reshape((shape[0] * shape[1], *shape[2:])), layer, spec.Reshape(c.shape(c.out))], [x]


def _adaptive(mode):
    def handler(c: Call):
        x = c.args[0]
        size = tuple(c.arg(1, "output_size"))
        n = len(size)
        if not c.tracked(x) or n not in ADAPTIVE or len(c.shape(x)) != n + 1:
            return None
        return ADAPTIVE[n](mode, size), [x]
    return handler


def _n(v, n: int) -> tuple:
    v = tuple(v) if isinstance(v, (tuple, list)) else (v,)
    return v * n if len(v) == 1 else v


def _mean(c: Call):
    x, dims, keepdim = c.args[0], c.arg(1, "dim"), c.arg(2, "keepdim", False)
    if not c.tracked(x) or not dims:
        return None
    axes = [c.axis(x, d) for d in dims]
    if any(a is None for a in axes):
        return None
    return spec.Mean(tuple(axes), bool(keepdim)), [x]


def _binary(op: str):
    """a (op) b: two tensors -> Add / Mul / Binary; a scalar -> Scale (x * k, x / k) or Unary (x + k);
    a tensor the input does not reach (a parameter) -> the reader supplies its Param node."""
    def handler(c: Call):
        a, b = c.args[0], c.args[1] if len(c.args) > 1 else c.kwargs.get("other")
        alpha = c.kwargs.get("alpha", c.args[2] if len(c.args) > 2 else 1)
        if alpha != 1:
            return None
        ta, tb = isinstance(a, torch.Tensor) and c.tracked(a), isinstance(b, torch.Tensor) and c.tracked(b)
        if not (ta or tb):
            return None
        if not isinstance(b, torch.Tensor) or not isinstance(a, torch.Tensor):
            x, k = (a, b) if ta else (b, a)
            if isinstance(k, bool) or not isinstance(k, (int, float)):
                return None
            if op in ("mul", "div") and ta:
                return spec.Scale(1 / k if op == "div" else k), [x]
            fn = op if ta else {"sub": "sub", "div": "reciprocal"}.get(op, op)
            return (spec.Unary(fn, k), [x]) if fn in spec.UNARY else None
        merge = {"add": spec.Add, "mul": spec.Mul}.get(op)
        return (merge() if merge else spec.Binary(op)), [a, b]
    return handler


def _compare(op: str):
    """x > k and friends (control flow reads them): one comparison per element; x stands in for k."""
    def handler(c: Call):
        x, k = c.args[0], c.args[1]
        if not c.tracked(x) or isinstance(k, torch.Tensor):
            return _binary(op)(c) if isinstance(k, torch.Tensor) else None
        return spec.Binary(op), [x, x]
    return handler


def _ternary(c: Call):
    """addcmul / addcdiv(a, b, c, value): a + value * b (op) c."""
    a, b, d = c.args[0], c.args[1], c.args[2]
    if not any(c.tracked(t) for t in (a, b, d)):
        return None
    return spec.Ternary(c.packet.__name__.rstrip("_"), c.kwargs.get("value", 1)), [a, b, d]


def _rsub(c: Call):
    x, k = c.args[0], c.args[1]
    if not c.tracked(x) or not isinstance(k, (int, float)) or c.arg(2, "alpha", 1) != 1:
        return None
    return spec.Unary("sub", k), [x]


#: op overload packet -> handler(Call) -> (layer, inputs[, weights]) | SAME | None
HANDLERS = {
    **{p: _activation for p in ACTIVATIONS},
    **{p: _layout for p in LAYOUT},
    aten.hardtanh: _hardtanh, aten.hardtanh_: _hardtanh,
    aten.convolution: _conv, aten._convolution: _conv,
    aten.addmm: _addmm, aten.mm: _mm,
    aten.native_batch_norm: _batch_norm, aten._native_batch_norm_legit_no_training: _batch_norm,
    aten.batch_norm: _batch_norm,
    aten.native_layer_norm: _layer_norm,
    aten.max_pool2d_with_indices: _max_pool, aten.max_pool2d: _max_pool, aten.max_pool3d_with_indices: _max_pool,
    aten.avg_pool2d: _avg_pool, aten.avg_pool3d: _avg_pool,
    aten._adaptive_avg_pool2d: _adaptive("avg"), aten.adaptive_avg_pool2d: _adaptive("avg"),
    aten._adaptive_avg_pool3d: _adaptive("avg"), aten.adaptive_avg_pool3d: _adaptive("avg"),
    aten.adaptive_max_pool2d: _adaptive("max"), aten.adaptive_max_pool3d: _adaptive("max"),
    aten.mean: _mean, aten.cat: _cat, aten.slice: _slice, aten.select: _select,
    aten.add: _binary("add"), aten.add_: _binary("add"), aten.sub: _binary("sub"), aten.sub_: _binary("sub"),
    aten.mul: _binary("mul"), aten.mul_: _binary("mul"), aten.div: _binary("div"), aten.div_: _binary("div"),
    aten.maximum: _binary("maximum"), aten.minimum: _binary("minimum"), aten.rsub: _rsub,
    aten.gt: _compare("gt"), aten.lt: _compare("lt"), aten.eq: _compare("eq"), aten.ge: _compare("ge"),
    aten.le: _compare("le"), aten.ne: _compare("ne"),
    **{p: _binary(op) for op, ps in (("and", (aten.bitwise_and, aten.logical_and)),
                                      ("or", (aten.bitwise_or, aten.logical_or)),
                                      ("xor", (aten.bitwise_xor, aten.logical_xor)),
                                      ("remainder", (aten.remainder,)), ("floor_divide", (aten.floor_divide,)))
       for p in ps},
    aten.addcmul: _ternary, aten.addcmul_: _ternary, aten.addcdiv: _ternary, aten.addcdiv_: _ternary,
    **aten_index.HANDLERS,
    aten.bmm: _mm, aten.baddbmm: _baddbmm, aten.native_group_norm: _group_norm,
    aten._scaled_dot_product_flash_attention_for_cpu: _sdpa, aten._scaled_dot_product_efficient_attention: _sdpa,
    aten._scaled_dot_product_flash_attention: _sdpa,
    aten._softmax: _softmax, aten._safe_softmax: _softmax, aten._log_softmax: _softmax,
    aten.constant_pad_nd: _pad, aten.reflection_pad1d: _pad, aten.reflection_pad2d: _pad,
    aten.replication_pad1d: _pad, aten.replication_pad2d: _pad, aten.stack: _stack,
    **{p: _upsample for p in UPSAMPLE}, **{p: _unary for p in UNARY}, **{p: _reduce for p in REDUCE},
}


#: ops that move values without arithmetic: on parameters alone they are no uncounted work
MOVES = {*LAYOUT, aten.cat, aten.slice, aten.select, aten.stack, aten.constant_pad_nd, aten.split,
         aten.split_with_sizes, aten.unbind, aten.repeat, aten.index, aten.gather, aten.index_select}


def arithmetic(packet) -> bool:
    """An op a rule counts (not a view, copy or gather): on parameters alone, work left uncounted."""
    return packet in HANDLERS and packet not in MOVES and packet not in PRODUCTS


def handle(call: Call):
    fn = HANDLERS.get(call.packet) or aten_index.BY_NAME.get(call.schema.name)
    return None if fn is None else fn(call)


"""nn.Modules for spec kinds that PyTorch has as functions, or whose module returns more than the
spec's one output (recurrent layers, attention).  Tensors are batch-first: (B, *per-sample shape);
a Param operand has no batch axis."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def torch_dim(axis: int) -> int:
    """Per-sample axis -> tensor dim (the batch is dim 0); negative axes count from the end as they are."""
    return axis + 1 if axis >= 0 else axis


class Add(nn.Module):
    def forward(self, a, b):
        return a + b


class Mul(nn.Module):
    def forward(self, a, b):
        return a * b


class Cat(nn.Module):
    def __init__(self, axis: int):
        super().__init__()
        self.dim = torch_dim(axis)

    def forward(self, *xs):
        return torch.cat(xs, dim=self.dim)


class Param(nn.Module):
    """Holds one learned tensor (initialised to ones, as a layer scale before training) and returns it."""

    def __init__(self, shape: tuple):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(shape))

    def forward(self):
        return self.weight


class Reshape(nn.Module):
    def __init__(self, shape: tuple):
        super().__init__()
        self.shape = tuple(shape)

    def forward(self, x):
        return x.reshape(x.shape[0], *self.shape)


class Permute(nn.Module):
    def __init__(self, dims: tuple):
        super().__init__()
        self.dims = tuple(d % len(dims) for d in dims)

    def forward(self, x):
        return x.permute(0, *(d + 1 for d in self.dims))


class Slice(nn.Module):
    def __init__(self, axis: int, start: int, stop, step: int, ndim: int):
        super().__init__()
        index = [slice(None)] * (ndim + 1)
        index[torch_dim(axis)] = slice(start, stop, step)
        self.index = tuple(index)

    def forward(self, x):
        return x[self.index]


class Mean(nn.Module):
    def __init__(self, axes: tuple, keepdim: bool):
        super().__init__()
        self.dims, self.keepdim = tuple(torch_dim(a) for a in axes), keepdim

    def forward(self, x):
        return x.mean(self.dims, keepdim=self.keepdim)


_UNARY = {"exp": torch.exp, "log": torch.log, "sqrt": torch.sqrt, "rsqrt": torch.rsqrt,
          "reciprocal": torch.reciprocal, "abs": torch.abs, "neg": torch.neg, "sin": torch.sin, "cos": torch.cos,
          "erf": torch.erf, "square": torch.square, "floor": torch.floor, "ceil": torch.ceil, "round": torch.round,
          "sign": torch.sign, "log2": torch.log2, "not": torch.logical_not}
_WITH_VALUE = {"pow": torch.pow, "add": torch.add, "sub": torch.sub, "mul": torch.mul, "div": torch.div,
               "remainder": torch.remainder, "floor_divide": torch.floor_divide}
#: spec.Binary ops named otherwise in torch (the logical forms: they take float tensors)
_BINARY = {"and": torch.logical_and, "or": torch.logical_or, "xor": torch.logical_xor}


class Unary(nn.Module):
    def __init__(self, fn: str, value=None):
        super().__init__()
        self.fn, self.value = fn, value

    def forward(self, x):
        if self.fn == "clamp":
            bound = 1.0 if self.value is None else self.value
            return x.clamp(-bound, bound)
        if self.fn in _WITH_VALUE:
            return _WITH_VALUE[self.fn](x, 2.0 if self.value is None else self.value)
        return _UNARY[self.fn](x)


class Binary(nn.Module):
    def __init__(self, op: str):
        super().__init__()
        self.op = op

    def forward(self, a, b):
        return _BINARY.get(self.op, getattr(torch, self.op, None))(a, b)


class Softmax(nn.Module):
    def __init__(self, axis: int, log: bool):
        super().__init__()
        self.dim, self.log = torch_dim(axis), log

    def forward(self, x):
        return (F.log_softmax if self.log else F.softmax)(x, self.dim)


class Reduce(nn.Module):
    def __init__(self, op: str, axes: tuple, keepdim: bool):
        super().__init__()
        self.op, self.dims, self.keepdim = op, tuple(torch_dim(a) for a in axes), keepdim

    def forward(self, x):
        if self.op in ("argmax", "argmin"):
            return getattr(torch, self.op)(x, self.dims[0], self.keepdim)
        if self.op in ("all", "any"):
            return getattr(torch, self.op)(x != 0, self.dims, self.keepdim)
        if self.op == "prod":       # torch.prod reduces one dim at a time
            for d in sorted(self.dims, key=lambda d: d % x.dim(), reverse=True):
                x = torch.prod(x, d, keepdim=self.keepdim)
            return x
        if self.op == "norm":
            return torch.linalg.vector_norm(x, dim=self.dims, keepdim=self.keepdim)
        return getattr(torch, self.op)(x, self.dims, keepdim=self.keepdim)


class Stack(nn.Module):
    def __init__(self, axis: int):
        super().__init__()
        self.dim = torch_dim(axis)

    def forward(self, *xs):
        return torch.stack(xs, self.dim)


class Pad(nn.Module):
    def __init__(self, pads: tuple, mode: str, value: float):
        super().__init__()
        self.pads, self.mode, self.value = tuple(pads), mode, value

    def forward(self, x):
        return F.pad(x, self.pads, self.mode, self.value if self.mode == "constant" else None)


class MatMul(nn.Module):
    def forward(self, a, b):
        return torch.matmul(a, b)


class AddMatMul(nn.Module):
    """torch.addmm for matrices, torch.baddbmm for batches of matrices, else the same sum."""

    def __init__(self, beta: float, alpha: float):
        super().__init__()
        self.beta, self.alpha = beta, alpha

    def forward(self, c, a, b):
        if a.dim() == b.dim() == 2:
            return torch.addmm(c, a, b, beta=self.beta, alpha=self.alpha)
        if a.dim() == b.dim() == 3:
            return torch.baddbmm(c, a, b, beta=self.beta, alpha=self.alpha)
        return self.beta * c + self.alpha * torch.matmul(a, b)


class Einsum(nn.Module):
    """The per-sample equation with a batch letter added to every operand that has a batch axis."""

    def __init__(self, equation: str):
        super().__init__()
        self.equation = equation

    def forward(self, *xs):
        lhs, _, rhs = self.equation.partition("->")
        terms = lhs.split(",")
        if "->" not in self.equation:
            letters = "".join(terms)
            rhs = "".join(sorted(c for c in set(letters) if letters.count(c) == 1))
        batch = next(c for c in "zyxwvutsrqponmlkjihgfedcbaZYXWVUTSRQPONMLKJIHGFEDCBA" if c not in self.equation)
        batched = [x.dim() == len(t) + 1 for x, t in zip(xs, terms)]
        terms = [batch + t if b else t for t, b in zip(terms, batched)]
        return torch.einsum(f"{','.join(terms)}->{batch if any(batched) else ''}{rhs}", *xs)


class ScaledDotProductAttention(nn.Module):
    def __init__(self, dropout_p: float, is_causal: bool, scale, enable_gqa: bool):
        super().__init__()
        self.options = dict(dropout_p=dropout_p, is_causal=is_causal, scale=scale, enable_gqa=enable_gqa)

    def forward(self, q, k, v, mask=None):
        options = dict(self.options, dropout_p=self.options["dropout_p"] if self.training else 0.0)
        return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, **options)


class MultiheadAttention(nn.MultiheadAttention):
    """nn.MultiheadAttention returning the attention output only; inputs (query) or (query, key,
    value), batch-first tensors (transposed for the module when batch_first is False)."""

    def __init__(self, *args, need_weights: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        self.need_weights = need_weights

    def forward(self, q, k=None, v=None):
        k = q if k is None else k
        v = k if v is None else v
        if not self.batch_first:
            q, k, v = (t.transpose(0, 1) for t in (q, k, v))
        out = super().forward(q, k, v, need_weights=self.need_weights)[0]
        return out if self.batch_first else out.transpose(0, 1)


def _output_only(cls):
    class OutputOnly(cls):
        """The recurrent module's output sequence only (not the final states); batch-first tensors."""

        def forward(self, x):
            if not self.batch_first:
                x = x.transpose(0, 1)
            out = super().forward(x)[0]
            return out if self.batch_first else out.transpose(0, 1)
    OutputOnly.__name__ = OutputOnly.__qualname__ = cls.__name__
    return OutputOnly


RECURRENT = {"rnn": _output_only(nn.RNN), "lstm": _output_only(nn.LSTM), "gru": _output_only(nn.GRU)}


class Select(nn.Module):
    def __init__(self, axis: int, index: int):
        super().__init__()
        self.dim, self.index = torch_dim(axis), index

    def forward(self, x):
        return x.select(self.dim, self.index)


class Expand(nn.Module):
    def __init__(self, shape: tuple):
        super().__init__()
        self.shape = tuple(shape)

    def forward(self, x):
        lead = len(self.shape) - (x.dim() - 1)
        if lead:
            x = x.reshape(x.shape[0], *(1,) * lead, *x.shape[1:])
        return x.expand(x.shape[0], *self.shape)


class Repeat(nn.Module):
    def __init__(self, repeats: tuple):
        super().__init__()
        self.repeats = tuple(repeats)

    def forward(self, x):
        lead = len(self.repeats) - (x.dim() - 1)
        if lead:
            x = x.reshape(x.shape[0], *(1,) * lead, *x.shape[1:])
        return x.repeat(1, *self.repeats)


class Roll(nn.Module):
    def __init__(self, shifts: tuple, axes: tuple):
        super().__init__()
        self.shifts, self.dims = tuple(shifts), tuple(torch_dim(a) for a in axes)

    def forward(self, x):
        return torch.roll(x, self.shifts, self.dims)


class PatchMerge(nn.Module):
    """(B, H, W, C) -> (B, ceil(H/2), ceil(W/2), 4C): zero-pad to even sizes, stack each 2x2
    neighbourhood into channels, (0, 0), (1, 0), (0, 1), (1, 1) first to last."""

    def forward(self, x):
        h, w = x.shape[-3], x.shape[-2]
        x = F.pad(x, (0, 0, 0, w % 2, 0, h % 2))
        return torch.cat([x[..., i::2, j::2, :] for j in (0, 1) for i in (0, 1)], -1)


class Where(nn.Module):
    def forward(self, condition, a, b):
        return torch.where(condition > 0, a, b)


class TopK(nn.Module):
    def __init__(self, k: int, axis: int):
        super().__init__()
        self.k, self.dim = k, torch_dim(axis)

    def forward(self, x):
        return torch.topk(x, self.k, self.dim).values


class RoIAlign(nn.Module):
    """torchvision.ops.roi_align per image: boxes (B, K, 4) -> (B, K, C, oh, ow)."""

    def __init__(self, output_size, spatial_scale: float, sampling_ratio: int, aligned: bool):
        super().__init__()
        self.options = dict(output_size=tuple(output_size), spatial_scale=spatial_scale,
                            sampling_ratio=sampling_ratio, aligned=aligned)

    def forward(self, features, boxes):
        from torchvision.ops import roi_align
        out = roi_align(features, list(boxes), **self.options)
        return out.reshape(boxes.shape[0], boxes.shape[1], *out.shape[1:])


class Ternary(nn.Module):
    def __init__(self, op: str, value: float):
        super().__init__()
        self.fn, self.value = getattr(torch, op), value

    def forward(self, a, b, c):
        return self.fn(a, b, c, value=self.value)


class GridSample(nn.Module):
    """F.grid_sample with any leading sizes: features (B, *n, C, H, W), grid (B, *n, Ho, Wo, 2)."""

    def __init__(self, mode: str, padding_mode: str, align_corners: bool):
        super().__init__()
        self.options = dict(mode=mode, padding_mode=padding_mode, align_corners=align_corners)

    def forward(self, features, grid):
        lead = features.shape[:-3]
        out = F.grid_sample(features.reshape(-1, *features.shape[-3:]), grid.reshape(-1, *grid.shape[-3:]),
                            **self.options)
        return out.reshape(*lead, *out.shape[1:])


class Constant(nn.Module):
    """A tensor made without the input (zeros here: its values do not change a count)."""

    def __init__(self, shape: tuple):
        super().__init__()
        self.register_buffer("value", torch.zeros(shape))

    def forward(self):
        return self.value

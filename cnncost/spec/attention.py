"""Attention: F.scaled_dot_product_attention and nn.MultiheadAttention (arguments as in PyTorch).
Per-sample shapes: q (..., L, E), k (..., S, E), v (..., S, Ev); MultiheadAttention's inputs are
(L, E) sequences per sample whether batch_first or not (the batch axis is never part of a sample)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from cnncost.errors import CostError
from cnncost.spec.checks import choice, count, ints, label, probability, put


@dataclass(frozen=True)
class ScaledDotProductAttention:
    """softmax(q k^T * scale + mask) v; inputs (q, k, v) or (q, k, v, attn_mask)."""
    dropout_p: float = 0.0
    is_causal: bool = False
    scale: float | None = None
    enable_gqa: bool = False
    name: str | None = field(default=None, kw_only=True)
    arity: ClassVar = (3, 4)

    def __post_init__(self):
        probability(self.dropout_p, "dropout_p", label(self, self.name))


@dataclass(frozen=True)
class MultiheadAttention:
    """nn.MultiheadAttention: inputs (query) for self-attention or (query, key, value).
    `need_weights` (PyTorch's forward argument) also returns the attention weights averaged over
    heads, which costs their sum."""
    embed_dim: int
    num_heads: int
    dropout: float = 0.0
    bias: bool = True
    add_bias_kv: bool = False
    add_zero_attn: bool = False
    kdim: int | None = None
    vdim: int | None = None
    batch_first: bool = False
    need_weights: bool = True
    name: str | None = field(default=None, kw_only=True)
    arity: ClassVar = (1, 3)

    def __post_init__(self):
        who = label(self, self.name)
        count(self.embed_dim, "embed_dim", who)
        count(self.num_heads, "num_heads", who)
        probability(self.dropout, "dropout", who)
        if self.embed_dim % self.num_heads:
            raise CostError(f"{who}: embed_dim {self.embed_dim} is not divisible by num_heads {self.num_heads}")
        for v, what in ((self.kdim, "kdim"), (self.vdim, "vdim")):
            if v is not None:
                count(v, what, who)


@dataclass(frozen=True)
class WindowAttention:
    """Swin's (shifted) window multi-head self-attention over an (H, W, C) map, channels last, as
    torchvision's ShiftedWindowAttention (Liu et al. 2021, "Swin Transformer", sec. 3.2) and, with
    `version=2`, ShiftedWindowAttentionV2 (Liu et al. 2022, "Swin Transformer V2", sec. 3.1: cosine
    attention with a learnt logit scale per head, the position bias from a 2-512-heads MLP over
    log-spaced relative coordinates).  The map is padded to multiples of `window`, rolled by `shift`
    along each axis longer than one window (with the mask that keeps rolled-in tokens apart), cut
    into windows that attend within themselves, and put back: the output is (H, W, C)."""
    dim: int
    num_heads: int
    window: tuple = (7, 7)
    shift: tuple = (0, 0)
    qkv_bias: bool = True
    proj_bias: bool = True
    version: int = 1
    name: str | None = field(default=None, kw_only=True)

    def __post_init__(self):
        who = label(self, self.name)
        count(self.dim, "dim", who)
        count(self.num_heads, "num_heads", who)
        put(self, window=ints(self.window, "window", who, 1), shift=ints(self.shift, "shift", who, 0))
        if self.dim % self.num_heads:
            raise CostError(f"{who}: dim {self.dim} is not divisible by num_heads {self.num_heads}")
        choice(self.version, (1, 2), "version", who)

"""Attention: F.scaled_dot_product_attention and nn.MultiheadAttention (arguments as in PyTorch).
Per-sample shapes: q (..., L, E), k (..., S, E), v (..., S, Ev); MultiheadAttention's inputs are
(L, E) sequences per sample whether batch_first or not (the batch axis is never part of a sample)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from cnncost.errors import CostError
from cnncost.spec.checks import count, label, probability


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

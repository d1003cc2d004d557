"""FLOP conventions as data: FLOPs per MAC, FLOPs per unit of each non-MAC category, and which
layer kinds count as activations.  The rules emit counts by category; a convention weighs them.
docs/conventions.md states each entry with its source.
"""
from __future__ import annotations

from dataclasses import dataclass

from cnncost.errors import CostError

#: elementary operations per element for each activation (our convention; see docs/conventions.md)
ACTIVATION_FLOPS = {
    "relu": 1,         # max(x, 0)
    "relu6": 2,        # min(max(x, 0), 6)
    "leaky_relu": 2,   # compare, multiply
    "elu": 3,          # compare, exp, subtract (multiply by alpha folded)
    "gelu": 8,         # tanh form: cube, 2 multiply-adds, tanh, add, 2 multiplies
    "sigmoid": 4,      # negate, exp, add, divide
    "tanh": 5,         # 2 exps folded into one, add, subtract, divide, scale
    "silu": 5,         # sigmoid, multiply
    "hardswish": 4,    # add, clamp (2), multiply-divide folded
    "hardsigmoid": 3,  # add, clamp (2)
    "softmax": 3,      # exp, add into the sum, divide
    "identity": 0,
}


@dataclass(frozen=True)
class Convention:
    name: str
    summary: str
    per_mac: int
    per_op: dict          # category -> FLOPs per counted unit; a category not listed costs 0
    activation_kinds: frozenset | None = None  # layer kinds whose outputs count as activations; None = all

    def flops(self, macs, ops: dict):
        total = self.per_mac * macs
        for category, count in ops.items():
            weight = self.per_op.get(category, 0)
            if weight:
                total = total + weight * count
        return total

    def counts_activations(self, kind: str) -> bool:
        return self.activation_kinds is None or kind in self.activation_kinds

    def flops_work(self, macs, ops: dict) -> str:
        """The FLOP sum written out: '2*115,605,504 + 1*3,211,264 (bias)'."""
        from cnncost.sizes import exact
        terms = [f"{self.per_mac}*{exact(macs)}"] if macs != 0 else []
        terms += [f"{self.per_op[c]}*{exact(n)} ({c})" for c, n in ops.items() if self.per_op.get(c, 0)]
        return " + ".join(terms) or "0"


CNNCOST = Convention(
    name="cnncost",
    summary="2 FLOPs per MAC, +1 per bias add, plus pooling, normalisation, activation and add work",
    per_mac=2,
    per_op={"bias": 1, "max_cmp": 1, "avg_ops": 1, "adaptive_avg": 1, "adaptive_max": 1,
            "bn_affine": 2, "bn_plain": 2, "lrn": 1, "add": 1, "scale": 1,
            "mul": 1, "mean": 1, "ln_affine": 7, "ln_plain": 5,
            **{f"act:{fn}": n for fn, n in ACTIVATION_FLOPS.items()}},
)

FVCORE = Convention(
    name="fvcore",
    summary="fvcore's FlopCountAnalysis: 1 per fused multiply-add; batch norm (eval) 2 per element "
            "with affine, 1 without; adaptive average pooling 1 per input element; the rest ignored",
    per_mac=1,
    per_op={"adaptive_avg_input": 1, "bn_affine": 2, "bn_plain": 1,
            # aten::layer_norm: 5 per input element with a weight, 4 without (fvcore jit_handles.norm_flop_counter)
            "ln_affine": 5, "ln_plain": 4},
    activation_kinds=frozenset({"conv", "fc"}),
)

MACS = Convention(
    name="macs",
    summary="MACs only: 1 per multiply-accumulate, nothing else (the 'FLOPs' of many papers' tables)",
    per_mac=1,
    per_op={},
)

CONVENTIONS = {c.name: c for c in (CNNCOST, FVCORE, MACS)}


def get(name: str) -> Convention:
    try:
        return CONVENTIONS[name]
    except KeyError:
        raise CostError(f"unknown convention {name!r}; known: {', '.join(CONVENTIONS)}") from None

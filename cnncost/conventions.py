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
    "log_softmax": 3,  # exp, add into the sum, subtract (the log of the sum is per row)
}

#: elementwise functions of one tensor (spec.UNARY) and binary operations (spec.BINARY): 1 each,
#: a clamp 2 (two compares); transcendental functions count 1, a convention, not a cost on a device
FUNCTION_FLOPS = {**{fn: 1 for fn in ("exp", "log", "sqrt", "rsqrt", "reciprocal", "abs", "neg", "sin", "cos",
                                      "erf", "square", "pow", "floor", "ceil", "round", "sign", "add", "sub",
                                      "mul", "div", "maximum", "minimum", "atan2", "eq", "lt", "gt", "where",
                                      "log2", "not", "remainder", "floor_divide", "ne", "le", "ge", "and", "or",
                                      "xor")},
                  "clamp": 2, "addcmul": 2, "addcdiv": 2}

#: reductions per input element: one add or compare; var/std 3 (subtract the mean, square, add),
#: norm 2 (square, add), logsumexp 2 (exp, add)
REDUCTION_FLOPS = {"sum": 1, "mean": 1, "amax": 1, "amin": 1, "prod": 1, "var": 3, "std": 3, "norm": 2,
                   "logsumexp": 2, "argmax": 1, "argmin": 1, "all": 1, "any": 1, "topk": 1}


@dataclass(frozen=True)
class Convention:
    name: str
    summary: str
    per_mac: int
    per_op: dict          # category -> FLOPs per counted unit; a category not listed costs 0
    activation_kinds: frozenset | None = None  # layer kinds whose outputs count as activations; None = all
    skip_kinds: frozenset = frozenset()  # layer kinds the counter has no handler for: 0 FLOPs, MACs and all
    skip_marks: frozenset = frozenset()  # op categories that mark a row the counter does not see (0 FLOPs)
    #: whether work that depends on the values (category 'data:OP': nms's IoUs) would count; a rule
    #: cannot give it, so under such a convention the row's FLOPs are unknown and the total incomplete
    counts_value_work: bool = False
    #: op categories whose counts are activations under this convention, for a layer read whole whose
    #: kind does not count (fvcore counts the outputs of the products inside Swin's attention)
    activation_ops: frozenset = frozenset()

    def flops(self, macs, ops: dict):
        total = self.per_mac * macs
        for category, count in ops.items():
            weight = self.per_op.get(category, 0)
            if weight:
                total = total + weight * count
        return total

    def counts_flops(self, kind: str, ops: dict = {}) -> bool:
        return kind not in self.skip_kinds and not self.skip_marks.intersection(ops)

    def knows_flops(self, ops: dict) -> bool:
        """False when the row holds value-dependent work this convention would count."""
        return not (self.counts_value_work and any(c.startswith("data:") for c in ops))

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
            "mul": 1, "mean": 1, "ln_affine": 7, "ln_plain": 5, "in_affine": 7, "in_plain": 5,
            "gn_affine": 7, "gn_plain": 5, "interp_taps": 2,
            **{f"act:{fn}": n for fn, n in ACTIVATION_FLOPS.items()},
            **{f"fn:{fn}": n for fn, n in FUNCTION_FLOPS.items()},
            **{f"reduce:{op}": n for op, n in REDUCTION_FLOPS.items()}},
    counts_value_work=True,
)

FVCORE = Convention(
    name="fvcore",
    summary="fvcore's FlopCountAnalysis: 1 per fused multiply-add; batch norm (eval) 2 per element "
            "with affine, 1 without; layer, group and instance norm 5 (4 without affine); adaptive average "
            "pooling 1 per input element; nearest/bilinear 2-D upsampling 1/4 per output; the rest ignored",
    per_mac=1,
    per_op={"adaptive_avg_input": 1, "bn_affine": 2, "bn_plain": 1,
            # aten::layer_norm: 5 per input element with a weight, 4 without (fvcore jit_handles.norm_flop_counter)
            "ln_affine": 5, "ln_plain": 4,
            # aten::group_norm and aten::instance_norm: the same norm_flop_counter
            "gn_affine": 5, "gn_plain": 4, "in_affine": 5, "in_plain": 4,
            # aten::upsample_nearest2d: 1 per output element; aten::upsample_bilinear2d: 4 (other modes: no handler)
            "upsample_nearest2d": 1, "upsample_bilinear2d": 4,
            # MultiheadAttention without weights runs aten::scaled_dot_product_attention: its products uncounted
            "sdpa_macs": -1},
    activation_kinds=frozenset({"conv", "conv1d", "conv3d", "convtranspose1d", "convtranspose2d", "convtranspose3d",
                                "fc", "matmul", "addmm", "einsum"}),
    # no handler for aten::rnn_tanh/rnn_relu/lstm/gru or aten::scaled_dot_product_attention: fvcore counts 0
    skip_kinds=frozenset({"rnn", "lstm", "gru", "sdpa"}),
    # a convolution with padding='same' or 'valid' traces as aten::_convolution_mode: no handler
    skip_marks=frozenset({"padding_string"}),
    activation_ops=frozenset({"product_outputs"}),
)

MACS = Convention(
    name="macs",
    summary="MACs only: 1 per multiply-accumulate, nothing else (the 'FLOPs' of many papers' tables)",
    per_mac=1,
    per_op={},
)

TORCH = Convention(
    name="torch",
    summary="torch.utils.flop_counter.FlopCounterMode: 2 FLOPs per MAC of convolutions (transposed too), "
            "matrix products (mm, addmm, bmm, baddbmm, as matmul, linear, einsum, attention and recurrent "
            "layers decompose) and attention's two products; bias adds and every other op 0",
    per_mac=2,
    per_op={},
)

CONVENTIONS = {c.name: c for c in (CNNCOST, FVCORE, MACS, TORCH)}


def get(name: str) -> Convention:
    try:
        return CONVENTIONS[name]
    except KeyError:
        raise CostError(f"unknown convention {name!r}; known: {', '.join(CONVENTIONS)}") from None

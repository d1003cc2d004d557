"""Single-input layers that are neither convolution, pooling nor normalisation: fully connected,
embedding, activations and other elementwise functions, softmax, dropout, constant scaling."""
from __future__ import annotations

from dataclasses import dataclass, field

from cnncost.errors import CostError
from cnncost.spec.checks import choice, count, label, probability

#: activation functions the calculator and the builder both know (docs/conventions.md gives their FLOPs)
ACTIVATIONS = ("relu", "relu6", "leaky_relu", "elu", "gelu", "sigmoid", "tanh", "silu",
               "hardswish", "hardsigmoid", "softmax", "identity")
#: elementwise functions of one tensor (a constant operand, as in x + 1 or x ** 2, is part of `fn`)
UNARY = ("exp", "log", "log2", "sqrt", "rsqrt", "reciprocal", "abs", "neg", "sin", "cos", "erf", "square",
         "pow", "clamp", "floor", "ceil", "round", "sign", "not", "add", "sub", "mul", "div", "remainder",
         "floor_divide")


@dataclass(frozen=True)
class Linear:
    """Fully connected layer over the last dimension."""
    out_features: int
    bias: bool = True
    name: str | None = field(default=None, kw_only=True)

    def __post_init__(self):
        count(self.out_features, "out_features", label(self, self.name))


@dataclass(frozen=True)
class Embedding:
    """Lookup table: integer indices of any shape -> (*shape, embedding_dim); no arithmetic."""
    num_embeddings: int
    embedding_dim: int
    padding_idx: int | None = None
    name: str | None = field(default=None, kw_only=True)

    def __post_init__(self):
        who = label(self, self.name)
        count(self.num_embeddings, "num_embeddings", who)
        count(self.embedding_dim, "embedding_dim", who)


@dataclass(frozen=True)
class Activation:
    fn: str = "relu"
    name: str | None = field(default=None, kw_only=True)

    def __post_init__(self):
        if self.fn not in ACTIVATIONS:
            raise CostError(f"{label(self, self.name)}: unknown activation {self.fn!r}; known: {', '.join(ACTIVATIONS)}")


@dataclass(frozen=True)
class Unary:
    """An elementwise function of one tensor (torch.exp, x.sqrt(), x + c, x.clamp(a, b), ...)."""
    fn: str
    value: float | None = None   # the constant of add/sub/mul/div/pow, clamp's bound (cost does not depend on it)
    name: str | None = field(default=None, kw_only=True)

    def __post_init__(self):
        choice(self.fn, UNARY, "elementwise function", label(self, self.name))


@dataclass(frozen=True)
class Softmax:
    """softmax (or log_softmax) along per-sample `axis` (nn.Softmax(dim=1) on NCHW is axis 0)."""
    axis: int = 0
    log: bool = False
    name: str | None = field(default=None, kw_only=True)


@dataclass(frozen=True)
class Dropout:
    p: float = 0.5
    name: str | None = field(default=None, kw_only=True)

    def __post_init__(self):
        probability(self.p, "dropout probability", label(self, self.name))


@dataclass(frozen=True)
class Scale:
    """Multiply by a constant (DavidNet scales its logits by 0.125)."""
    factor: float
    name: str | None = field(default=None, kw_only=True)


@dataclass(frozen=True)
class ShortcutPad:
    """Parameter-free shortcut of He et al. 2016 option A: subsample by `stride`, zero-pad channels."""
    out_channels: int
    stride: int = 2
    name: str | None = field(default=None, kw_only=True)

    def __post_init__(self):
        who = label(self, self.name)
        count(self.out_channels, "out_channels", who)
        count(self.stride, "stride", who)

"""Receptive field of stacked filters, with a sympy proof of the closed form.

Layer i (kernel k, stride s, dilation d) widens the field by d*(k-1) times the jump (product of
the strides before it) (Araujo et al. 2019, Distill, "Computing Receptive Fields of CNNs", eq. 2):
    r_0 = 1,  r_i = r_{i-1} + d*(k-1)*s^(i-1)
so n identical layers see  1 + d*(k-1)*(s^n - 1)/(s - 1)  pixels (s > 1), 1 + n*d*(k-1) (s = 1):
at stride 1, N stacked FxF filters see N*F - N + 1 (three 3x3 -> 7, as one 7x7; Simonyan &
Zisserman 2015, section 2.3; three 5x5 -> 13).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from cnncost.errors import CostError
from cnncost.sizes import is_concrete


def _check(value, what: str, minimum: int):
    if is_concrete(value):
        if value < minimum or int(value) != value:
            raise CostError(f"stack_rf: {what} must be an integer >= {minimum}, got {value!r}")
    elif not hasattr(value, "free_symbols") or isinstance(value, bool):
        raise CostError(f"stack_rf: {what} must be an integer or a sympy symbol, got {value!r}")


def stack_rf(n, kernel, stride=1, dilation=1):
    """RF size of n stacked layers: 1 + sum_{i=1..n} d*(k-1)*s^(i-1).  Ints give an int; any symbol
    gives a sympy expression (a symbolic stride gives the geometric form, valid for s > 1, in a
    Piecewise with the s = 1 case)."""
    for value, what, minimum in ((n, "n", 0), (kernel, "kernel", 1), (stride, "stride", 1), (dilation, "dilation", 1)):
        _check(value, what, minimum)
    grow = dilation * (kernel - 1)
    if is_concrete(stride):
        if stride == 1:
            return 1 + n * grow
        if is_concrete(n):
            return 1 + grow * (stride ** n - 1) // (stride - 1)
        import sympy
        return 1 + grow * (sympy.Integer(stride) ** n - 1) / (stride - 1)
    import sympy
    return sympy.Piecewise((1 + n * grow, sympy.Eq(stride, 1)), (1 + grow * (stride ** n - 1) / (stride - 1), True))


class Step(NamedTuple):
    """One line of the proof: what is claimed, the expression sympy checked, whether it holds."""
    statement: str
    expression: object
    verified: bool


def _zero(expr) -> bool:
    import sympy
    return sympy.simplify(expr) == 0


def proof() -> list[Step]:
    """Induction proof that N stacked FxF stride-1 convolutions see N*F - N + 1 pixels, then the
    general form with stride s and dilation d, a parameter comparison and two instances.
    Each step's `expression` is what sympy reduced (to 0, or to a polynomial checked positive)."""
    import sympy
    N, F, s, d, k, a, b = sympy.symbols("N F s d k a b", positive=True, integer=True)
    claim = N * F - N + 1
    steps = []

    def add(statement, expr, ok):
        steps.append(Step(statement, expr, bool(ok)))

    r, j = sympy.symbols("r j", positive=True, integer=True)
    layer = r + d * (k - 1) * j  # Araujo et al. eq. 2: size_out = size_in + d*(k-1)*jump_in
    rec = layer.subs({d: 1, k: F, j: 1}) - (r + F - 1)
    add("Recurrence: a stride-1 FxF layer (d = 1, jump 1) maps r to r + d*(k-1)*jump = r + F - 1; "
        "r(0) = 1 (a pixel sees itself)", rec, _zero(rec))
    base0 = claim.subs(N, 0) - 1
    add("Claim r(N) = N*F - N + 1. Base case N = 0: 0*F - 0 + 1 = 1", base0, _zero(base0))
    base1 = claim.subs(N, 1) - (1 + F - 1)
    add("Base case N = 1: 1*F - 1 + 1 = 1 + (F - 1) = F, one filter sees F pixels", base1, _zero(base1))
    step = (claim + F - 1) - claim.subs(N, N + 1)
    add("Induction step: (N*F - N + 1) + (F - 1) = (N+1)*F - (N+1) + 1", step, _zero(step))
    add("Therefore N stacked FxF stride-1 filters see N*F - N + 1 pixels", claim,
        all(x.verified for x in steps))

    general = 1 + d * (k - 1) * (s ** N - 1) / (s - 1)
    g0 = general.subs(N, 0) - 1
    add("General (stride s > 1, dilation d): R(N) = 1 + d*(k-1)*(s^N - 1)/(s - 1); base N = 0 gives 1", g0, _zero(g0))
    g_step = general + d * (k - 1) * s ** N - general.subs(N, N + 1)
    add("General step: layer N+1 adds d*(k-1) times the jump s^N: R(N) + d*(k-1)*s^N - R(N+1) = 0",
        g_step, _zero(g_step))
    s1 = (1 + N * d * (k - 1)).subs(d, 1).subs(k, F) - claim
    add("At s = 1 the sum is 1 + N*d*(k-1); with d = 1, k = F it is the claim", s1, _zero(s1))

    gap = sympy.expand(((N * (F - 1) + 1) ** 2 - N * F ** 2).subs({N: 2 + b, F: 2 + a}))
    positive = all(c > 0 for c in sympy.Poly(gap, a, b).coeffs())
    add("Parameters, N >= 2 and F >= 2: (N*F - N + 1)^2 - N*F^2 > 0 (N = 2+b, F = 2+a: every "
        "coefficient positive), so one filter of the same field always has more weights", gap, positive)

    for n_, f_, rf in ((3, 5, 13), (3, 3, 7)):
        e = claim.subs({N: n_, F: f_}) - rf
        add(f"{n_} stacked {f_}x{f_} -> {n_}*{f_} - {n_} + 1 = {rf}", e, _zero(e))
    return steps


@dataclass(frozen=True)
class Comparison:
    """A stack of n fxf convolutions (C -> C channels, each followed by ReLU) against one filter
    of the same receptive field; weights exclude biases.  Numbers come from `analyze()`."""
    n: int
    f: int
    channels: int
    rf: int             # of the stack, and the single filter's kernel size
    stack_weights: int
    single_weights: int
    stack_nonlinearities: int
    single_nonlinearities: int

    @property
    def saving(self) -> float:
        """single / stack weights: (nf-n+1)^2 / (n*f^2)."""
        return self.single_weights / self.stack_weights


def compare_stack_vs_single(n: int, f: int, channels: int) -> Comparison:
    """Build both as specs and count them with `analyze()`: the stack has n*f*f*C*C weights and n
    ReLUs, the single (nf-n+1)x(nf-n+1) filter (nf-n+1)^2*C*C weights and one ReLU."""
    from cnncost.spec import Activation, Conv2d, seq
    from cnncost.walk import analyze
    for value, what in ((n, "n"), (f, "f"), (channels, "channels")):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise CostError(f"compare: {what} must be a positive integer, got {value!r}")
    rf = stack_rf(n, f)
    relu = lambda i: Activation("relu", name=f"relu{i}")  # noqa: E731
    stack = seq(*[layer for i in range(1, n + 1) for layer in (Conv2d(channels, f, bias=False, name=f"conv{i}"),
                                                                relu(i))])
    single = seq(Conv2d(channels, rf, bias=False, name="conv1"), relu(1))
    shape = (channels, rf, rf)
    a, b = analyze(stack, shape), analyze(single, shape)
    if a.total["rf"] != rf or b.total["rf"] != rf:  # the walk's own receptive field must agree
        raise CostError(f"compare: receptive fields disagree ({a.total['rf']}, {b.total['rf']}, {rf})")
    count = lambda r: sum(1 for row in r.rows if row.kind == "relu")  # noqa: E731
    return Comparison(n, f, channels, rf, a.total["weights"], b.total["weights"], count(a), count(b))

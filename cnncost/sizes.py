"""Arithmetic over sizes that are Python ints or sympy expressions.

Every formula in the calculator is written once against these helpers.  With int arguments they
stay in plain Python and never import sympy (numeric tables start fast); sympy is imported the
first time a size is symbolic, the way einops touches a framework only when handed its tensor.
"""
from __future__ import annotations

import math
import re
from fractions import Fraction

from cnncost.errors import CostError


def is_concrete(x) -> bool:
    t = type(x)
    if t is int or t is Fraction:          # the common case, without isinstance's MRO walk
        return True
    return isinstance(x, (int, Fraction)) and not isinstance(x, bool)


def _sympy():
    import sympy
    return sympy


def symbol(name: str):
    """A positive integer size symbol such as H, W, C or B."""
    return _sympy().Symbol(name, positive=True, integer=True)


def _sym(x):
    if isinstance(x, Fraction):
        return _sympy().Rational(x.numerator, x.denominator)
    return x


def _unwrap(a, fn):
    """floor(floor(x) + k) / n) = floor((x + k) / n) for integers k and n > 0 (likewise ceiling):
    drop the inner rounding so nested pooling reads floor(H/4), not floor(floor(H/2)/2)."""
    if isinstance(a, fn):
        return a.args[0]
    if a.is_Add:
        inner = [t for t in a.args if isinstance(t, fn)]
        if len(inner) == 1:
            rest = a - inner[0]
            if rest.is_integer:
                return inner[0].args[0] + rest
    return a


def floordiv(a, b):
    """floor(a / b)."""
    if is_concrete(a) and is_concrete(b):
        return int(a // b)
    sp = _sympy()
    a = _unwrap(sp.sympify(_sym(a)), sp.floor) if is_concrete(b) else sp.sympify(_sym(a))
    return sp.floor(a / _sym(b))


def ceildiv(a, b):
    """ceil(a / b)."""
    if is_concrete(a) and is_concrete(b):
        return int(-(-a // b))
    sp = _sympy()
    a = _unwrap(sp.sympify(_sym(a)), sp.ceiling) if is_concrete(b) else sp.sympify(_sym(a))
    return sp.ceiling(a / _sym(b))


def half(x):
    """x / 2, exact: an int when x is even, else a Fraction; a Rational multiple for expressions."""
    if type(x) is int and not x % 2:
        return x // 2
    return Fraction(x, 2) if is_concrete(x) else _sym(x) / 2


def add(*xs):
    """Sum that mixes Fractions with sympy expressions safely."""
    if all(is_concrete(x) for x in xs):
        return sum(xs, 0)
    return sum((_sym(x) for x in xs), 0)


def smax(*xs):
    if all(is_concrete(x) for x in xs):
        return max(xs)
    return _sympy().Max(*(_sym(x) for x in xs))


def smin(*xs):
    if all(is_concrete(x) for x in xs):
        return min(xs)
    return _sympy().Min(*(_sym(x) for x in xs))


def prod(xs, start=1):
    return math.prod(xs, start=start)


def tidy(x):
    """An int for whole numbers, a simplified expression otherwise."""
    if isinstance(x, Fraction):
        return int(x) if x.denominator == 1 else x
    if is_concrete(x):
        return x
    return int(x) if getattr(x, "is_Integer", False) else x


def equal(a, b) -> bool:
    """Sizes are equal for every value of their symbols (decided by sympy when symbolic)."""
    if is_concrete(a) and is_concrete(b):
        return a == b
    sp = _sympy()
    diff = sp.expand(sp.sympify(_sym(a)) - _sym(b))
    return diff == 0 or sp.simplify(diff) == 0


def at_least(x, minimum: int) -> bool | None:
    """True/False for numbers; None (unknown) when the size is symbolic."""
    return x >= minimum if is_concrete(x) else None


def evaluate(x, values: dict):
    """Substitute {name: int} into a size and return an int (or Fraction)."""
    if is_concrete(x):
        return x
    sp = _sympy()
    v = x.subs({sp.Symbol(k, positive=True, integer=True): n for k, n in values.items()})
    if v.is_Integer:
        return int(v)
    if v.is_Rational:
        return Fraction(int(v.p), int(v.q))
    raise CostError(f"cannot evaluate {x} at {values}")


_SIZE = re.compile(r"^(?:[1-9][0-9]*|[A-Za-z][A-Za-z0-9_]*)$")


def parse_size(text: str, what: str = "size"):
    """'224' -> 224, 'H' -> the symbol H; anything else is an error."""
    text = text.strip()
    if not _SIZE.match(text):
        if re.match(r"^-?[0-9]+(\.[0-9]*)?$", text):
            raise CostError(f"{what} must be a positive integer or a symbol name, got {text!r}")
        raise CostError(f"{what} {text!r} is neither a positive integer nor a symbol name")
    return int(text) if text[0].isdigit() else symbol(text)


def parse_input(text: str) -> tuple:
    """'224x224x3' (HxWxC) -> (C, H, W); a single number or symbol -> (F,) features."""
    parts = [p for p in re.split(r"[x×,]", text.strip())] if text.strip() else []
    if len(parts) not in (1, 3) or any(not p.strip() for p in parts):
        raise CostError(f"--input must look like HxWxC (e.g. 224x224x3) or a feature count, got {text!r}")
    sizes = [parse_size(p, "input size") for p in parts]
    if len(sizes) == 1:
        return (sizes[0],)
    h, w, c = sizes
    return (c, h, w)


def format_input(shape: tuple) -> str:
    """(C, H, W) -> 'HxWxC', the way users type it."""
    if len(shape) == 3:
        c, h, w = shape
        return f"{h}x{w}x{c}"
    return "x".join(str(s) for s in shape)


def exact(x) -> str:
    """3211264 -> '3,211,264'; expressions as sympy prints them; None (unknown) -> '?'."""
    if x is None:
        return "?"
    if isinstance(x, Fraction):
        return str(x) if x.denominator != 1 else f"{int(x):,}"
    if is_concrete(x):
        return f"{x:,}"
    return str(x)


def human(x, unit: str = "", base: int = 1000) -> str:
    """3211264 -> '3.2M'; expressions unchanged."""
    if not is_concrete(x):
        return str(x)
    x = float(x)
    for prefix in ("", "K", "M", "G", "T", "P"):
        if abs(x) < base or prefix == "P":
            text = f"{x:.0f}" if prefix == "" else (f"{x:.1f}" if abs(x) < 100 else f"{x:.0f}")
            return f"{text}{prefix}{unit}"
        x /= base
    return str(x)  # pragma: no cover


def numel_of(shape) -> object:
    """Number of elements in a per-sample shape."""
    return prod(shape)

"""Validation helpers for the spec: what a layer can check by itself, with the one-line message
the CLI prints (`CostError`)."""
from __future__ import annotations

from cnncost.errors import CostError


def label(obj, name: str | None) -> str:
    return name or type(obj).__name__


def ints(value, what: str, who: str, minimum: int, n: int = 2) -> tuple:
    """Normalise an int or an n-tuple of ints (one per spatial axis), each >= minimum."""
    items = (value,) * n if not isinstance(value, (tuple, list)) else tuple(value)
    if len(items) != n:
        many = "a pair" if n == 2 else f"{n} integers"
        raise CostError(f"{who}: {what} must be an integer or {many}, got {value!r}")
    for v in items:
        if isinstance(v, bool) or not isinstance(v, int):
            raise CostError(f"{who}: {what} must be an integer, got {v!r}")
        if v < minimum:
            kind = "positive" if minimum == 1 else "non-negative"
            raise CostError(f"{who}: {what} must be {kind}, got {v}")
    return items


def count(value, what: str, who: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        kind = "a positive" if minimum == 1 else "a non-negative"
        raise CostError(f"{who}: {what} must be {kind} integer, got {value!r}")
    return value


def choice(value, options, what: str, who: str):
    if value not in options:
        raise CostError(f"{who}: {what} must be one of {', '.join(map(str, options))}, got {value!r}")
    return value


def probability(value, what: str, who: str):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
        raise CostError(f"{who}: {what} must be in [0, 1), got {value!r}")
    return value


def axes(value, who: str, what: str) -> tuple:
    items = tuple(value) if isinstance(value, (tuple, list)) else (value,)
    for a in items:
        if isinstance(a, bool) or not isinstance(a, int):
            raise CostError(f"{who}: {what} must be integers, got {value!r}")
    return items


def put(obj, **values):
    """Set fields of a frozen dataclass in __post_init__ (normalised values)."""
    for key, value in values.items():
        object.__setattr__(obj, key, value)

"""Run statistics: mean, sample std, and a one-sided t-test of the mean against a target.

Student's t with v degrees of freedom: P(T > t) = I_x(v/2, 1/2) / 2 for t >= 0, x = v/(v + t^2)
(Abramowitz & Stegun 26.7.1 with 26.5.27), I the regularised incomplete beta function, computed
from its continued fraction (DLMF 8.17.22) with the modified Lentz method, using the symmetry
I_x(a, b) = 1 - I_{1-x}(b, a) where the fraction converges slowly (x > (a+1)/(a+b+2)).
"""
from __future__ import annotations

import math

_TINY = 1e-300


def _beta_fraction(a: float, b: float, x: float, eps: float = 1e-15, max_terms: int = 10000) -> float:
    """1/F with F = 1 + d1/(1 + d2/(1 + ...)) (DLMF 8.17.22), F evaluated by modified Lentz:
    f0 = C0 = 1, D0 = 0; D = 1/(1 + d_j D), C = 1 + d_j/C, f *= C D until C D = 1."""
    f, c, d = 1.0, 1.0, 0.0
    for i in range(1, max_terms + 1):
        m = i // 2
        if i % 2 == 0:
            num = m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m))
        else:
            num = -((a + m) * (a + b + m) * x) / ((a + 2 * m) * (a + 2 * m + 1))
        d = 1.0 + num * d
        d = 1.0 / (d if abs(d) > _TINY else _TINY)
        c = 1.0 + num / c
        c = c if abs(c) > _TINY else _TINY
        step = c * d
        f *= step
        if abs(1.0 - step) < eps:
            return 1.0 / f
    raise ArithmeticError(f"incomplete beta fraction did not converge for a={a}, b={b}, x={x}")


def betainc(a: float, b: float, x: float) -> float:
    """Regularised incomplete beta I_x(a, b) for a, b > 0 and 0 <= x <= 1."""
    if not (a > 0 and b > 0) or not 0 <= x <= 1:
        raise ValueError(f"betainc needs a, b > 0 and 0 <= x <= 1, got a={a}, b={b}, x={x}")
    if x == 0 or x == 1:
        return float(x)
    if x > (a + 1) / (a + b + 2):
        return 1.0 - betainc(b, a, 1.0 - x)
    log_front = (math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
                 + a * math.log(x) + b * math.log1p(-x))
    return math.exp(log_front) / a * _beta_fraction(a, b, x)


def t_sf(t: float, df: float) -> float:
    """P(T > t) for Student's t with df degrees of freedom."""
    if df <= 0:
        raise ValueError(f"degrees of freedom must be positive, got {df}")
    if math.isinf(t):
        return 0.0 if t > 0 else 1.0
    tail = 0.5 * betainc(df / 2, 0.5, df / (df + t * t))
    return tail if t >= 0 else 1.0 - tail


def t_cdf(t: float, df: float) -> float:
    return 1.0 - t_sf(t, df)


def mean_std(values) -> tuple[float, float]:
    """Mean and sample standard deviation (n - 1); std is 0 for a single value."""
    values = [float(v) for v in values]
    n = len(values)
    if n == 0:
        raise ValueError("no values")
    mean = math.fsum(values) / n
    if n == 1:
        return mean, 0.0
    return mean, math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (n - 1))


def t_test_greater(values, target: float) -> dict:
    """One-sided one-sample t-test of H1: mean > target.  p is None for fewer than 2 values."""
    mean, std = mean_std(values)
    n = len(values)
    if n < 2:
        return {"n": n, "mean": mean, "std": std, "t": None, "df": None, "p": None}
    if std == 0:
        t = math.inf if mean > target else (-math.inf if mean < target else 0.0)
        p = 0.0 if mean > target else (1.0 if mean < target else 0.5)
        return {"n": n, "mean": mean, "std": std, "t": t, "df": n - 1, "p": p}
    t = (mean - target) / (std / math.sqrt(n))
    return {"n": n, "mean": mean, "std": std, "t": t, "df": n - 1, "p": t_sf(t, n - 1)}

"""The t-test against tabulated critical values of Student's t (e.g. NIST/SEMATECH e-Handbook of
Statistical Methods, table 1.3.6.7.2: upper critical values t_{1-alpha, v}) and closed forms."""
import math

import pytest

from cnncost_train.engine import stats


@pytest.mark.parametrize("t, df, alpha", [
    (6.314, 1, 0.05), (2.920, 2, 0.05), (2.015, 5, 0.05), (1.812, 10, 0.05), (1.676, 50, 0.05),
    (12.706, 1, 0.025), (2.571, 5, 0.025), (2.228, 10, 0.025), (2.009, 50, 0.025),
    (3.365, 5, 0.01), (2.764, 10, 0.01), (2.403, 50, 0.01), (4.032, 5, 0.005), (2.678, 50, 0.005),
])
def test_upper_tail_matches_table(t, df, alpha):
    # the table rounds t to 3 decimals, which moves the tail by at most a few 1e-4 here
    assert stats.t_sf(t, df) == pytest.approx(alpha, abs=4e-4)


@pytest.mark.parametrize("t", [-3.0, -0.7, 0.0, 0.4, 1.0, 2.5, 10.0])
def test_closed_forms_df1_df2(t):
    # df = 1 is the Cauchy distribution: F(t) = 1/2 + atan(t)/pi; df = 2: F(t) = 1/2 + t / (2 sqrt(2 + t^2))
    assert stats.t_cdf(t, 1) == pytest.approx(0.5 + math.atan(t) / math.pi, abs=1e-12)
    assert stats.t_cdf(t, 2) == pytest.approx(0.5 + t / (2 * math.sqrt(2 + t * t)), abs=1e-12)


def test_large_df_tends_to_normal():
    # Phi(1.959964) = 0.975
    assert stats.t_sf(1.959964, 10 ** 7) == pytest.approx(0.025, abs=1e-6)


@pytest.mark.parametrize("a, b, x", [(1, 3, 0.2), (2.5, 1, 0.7), (2, 3, 0.4), (0.5, 0.5, 0.9)])
def test_betainc_closed_forms(a, b, x):
    # I_x(1, b) = 1 - (1-x)^b; I_x(a, 1) = x^a; I_x(2, 3) = 1 - (1-x)^4 - 4x(1-x)^3;
    # I_x(1/2, 1/2) = (2/pi) asin(sqrt x)
    want = {(1, 3): 1 - (1 - x) ** 3, (2.5, 1): x ** 2.5, (2, 3): 1 - (1 - x) ** 4 - 4 * x * (1 - x) ** 3,
            (0.5, 0.5): 2 / math.pi * math.asin(math.sqrt(x))}[(a, b)]
    assert stats.betainc(a, b, x) == pytest.approx(want, abs=1e-13)


def test_t_test_by_hand():
    # 94.1, 94.2, 94.3: mean 94.2, sample std 0.1, t = 0.2 / (0.1 / sqrt 3) = 2 sqrt 3, df 2
    r = stats.t_test_greater([94.1, 94.2, 94.3], 94.0)
    t = 2 * math.sqrt(3)
    assert r["mean"] == pytest.approx(94.2) and r["std"] == pytest.approx(0.1)
    assert r["t"] == pytest.approx(t) and r["df"] == 2
    assert r["p"] == pytest.approx(0.5 - t / (2 * math.sqrt(2 + t * t)), abs=1e-12)


def test_t_test_edge_cases():
    assert stats.t_test_greater([94.5], 94.0)["p"] is None
    assert stats.t_test_greater([94.5, 94.5], 94.0)["p"] == 0.0
    assert stats.t_test_greater([93.0, 93.0], 94.0)["p"] == 1.0
    with pytest.raises(ValueError):
        stats.betainc(1, 1, 1.5)

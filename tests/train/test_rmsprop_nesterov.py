"""RMSProp with Nesterov momentum (Goodfellow et al. 2016, Algorithm 8.6) against the update by hand."""
import math

import pytest

torch = pytest.importorskip("torch")
from cnncost_train.engine.rmsprop_nesterov import RMSPropNesterov  # noqa: E402


def test_two_steps_by_hand():
    # loss = 0.5 * sum(p^2), so the gradient is p itself; lr 0.1, rho 0.9, momentum 0.5, delta 0
    p = torch.tensor([1.0, -2.0], dtype=torch.float64, requires_grad=True)
    opt = RMSPropNesterov([p], lr=0.1, rho=0.9, momentum=0.5, delta=0.0)
    expected = []
    phi, r, v = [1.0, -2.0], [0.0, 0.0], [0.0, 0.0]
    # step 1, element 0: g = 1; r = 0.1 * 1 = 0.1; g/sqrt(r) = sqrt(10) = 3.16228;
    # v = -0.1 * 3.16228 = -0.316228; phi = 1 + 0.5 * (-0.316228) - 0.316228 = 0.525658
    for _ in range(2):
        for k in range(2):
            g = phi[k]
            r[k] = 0.9 * r[k] + 0.1 * g * g
            s = g / math.sqrt(r[k])
            v[k] = 0.5 * v[k] - 0.1 * s
            phi[k] = phi[k] + 0.5 * v[k] - 0.1 * s
        expected.append(list(phi))
    assert expected[0] == pytest.approx([1 - 0.15 * math.sqrt(10), -2 + 0.15 * math.sqrt(10)])
    assert expected[0][0] == pytest.approx(0.525658, abs=1e-6)
    for want in expected:
        opt.zero_grad()
        (0.5 * (p * p).sum()).backward()
        opt.step()
        assert p.detach().tolist() == pytest.approx(want, rel=1e-12)


def test_same_trajectory_as_algorithm_8_6_with_lookahead_gradient():
    """Algorithm 8.6 as written: gradient at theta + alpha v; our stored point is phi = theta + alpha v."""
    A = [[3.0, 1.0], [1.0, 2.0]]      # loss 0.5 x^T A x - b^T x
    b = [1.0, -1.0]
    grad = lambda x: [A[i][0] * x[0] + A[i][1] * x[1] - b[i] for i in range(2)]
    lr, rho, alpha, delta = 0.05, 0.9, 0.8, 1e-8
    theta, v, r = [0.5, 0.5], [0.0, 0.0], [0.0, 0.0]
    x = torch.tensor(theta, dtype=torch.float64, requires_grad=True)
    opt = RMSPropNesterov([x], lr=lr, rho=rho, momentum=alpha, delta=delta)
    At, bt = torch.tensor(A, dtype=torch.float64), torch.tensor(b, dtype=torch.float64)
    for _ in range(20):
        g = grad([theta[i] + alpha * v[i] for i in range(2)])
        for i in range(2):
            r[i] = rho * r[i] + (1 - rho) * g[i] ** 2
            v[i] = alpha * v[i] - lr * g[i] / (math.sqrt(r[i]) + delta)
            theta[i] += v[i]
        opt.zero_grad()
        (0.5 * x @ At @ x - bt @ x).backward()
        opt.step()
        assert x.detach().tolist() == pytest.approx([theta[i] + alpha * v[i] for i in range(2)], rel=1e-10)


def test_weight_decay_adds_l2_gradient():
    p = torch.tensor([2.0], dtype=torch.float64, requires_grad=True)
    opt = RMSPropNesterov([p], lr=0.01, rho=0.5, momentum=0.9, delta=0.0, weight_decay=0.25)
    p.grad = torch.tensor([1.0], dtype=torch.float64)
    opt.step()
    g = 1.0 + 0.25 * 2.0                       # 1.5
    s = g / math.sqrt(0.5 * g * g)             # sqrt(2)
    v = -0.01 * s
    assert p.item() == pytest.approx(2.0 + 0.9 * v - 0.01 * s, rel=1e-12)


def test_rejects_bad_hyper_parameters():
    w = [torch.zeros(1, requires_grad=True)]
    for kw in ({"lr": -1}, {"rho": 1.0}, {"momentum": 1.5}):
        with pytest.raises(ValueError):
            RMSPropNesterov(w, **kw)

"""RMSProp with Nesterov momentum as a `torch.optim.Optimizer` (torch has none).

Goodfellow, Bengio & Courville 2016, "Deep Learning", Algorithm 8.6 (after Hinton's RMSProp,
lecture 6e, and Sutskever et al. 2013's Nesterov momentum): with decay rho, momentum alpha,
learning rate eps and a small delta,
    g      = grad L(theta + alpha v)            (gradient at the look-ahead point)
    r     <- rho r + (1 - rho) g*g
    v     <- alpha v - eps g / (sqrt(r) + delta)
    theta <- theta + v
torch hands `step()` the gradient at the stored parameters, so we store the look-ahead point
phi = theta + alpha v instead (as torch's SGD(nesterov=True) does); then g = grad L(phi) and
    phi   <- phi + alpha v_new - eps g / (sqrt(r) + delta)
which is the same trajectory (phi_t - alpha v_t = theta_t).  L2 regularisation (weight_decay
lambda) adds lambda * phi to g.  State per parameter: r ("square_avg") and v ("momentum_buffer").
"""
from __future__ import annotations

import torch


class RMSPropNesterov(torch.optim.Optimizer):
    def __init__(self, params, lr: float = 1e-3, rho: float = 0.9, momentum: float = 0.9, delta: float = 1e-8,
                 weight_decay: float = 0.0):
        for name, v, lo in (("lr", lr, 0.0), ("rho", rho, 0.0), ("momentum", momentum, 0.0), ("delta", delta, 0.0),
                            ("weight_decay", weight_decay, 0.0)):
            if not v >= lo:
                raise ValueError(f"RMSPropNesterov: {name} must be >= {lo}, got {v}")
        if rho >= 1 or momentum >= 1:
            raise ValueError(f"RMSPropNesterov: rho and momentum must be below 1, got {rho}, {momentum}")
        super().__init__(params, dict(lr=lr, rho=rho, momentum=momentum, delta=delta, weight_decay=weight_decay))

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            lr, rho, mu, delta, wd = (group[k] for k in ("lr", "rho", "momentum", "delta", "weight_decay"))
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad if wd == 0 else p.grad.add(p, alpha=wd)
                st = self.state[p]
                if not st:
                    st["square_avg"] = torch.zeros_like(p)
                    st["momentum_buffer"] = torch.zeros_like(p)
                r, v = st["square_avg"], st["momentum_buffer"]
                r.mul_(rho).addcmul_(g, g, value=1 - rho)
                scaled = g / (r.sqrt() + delta)
                v.mul_(mu).sub_(scaled, alpha=lr)
                p.add_(v, alpha=mu).sub_(scaled, alpha=lr)
        return loss

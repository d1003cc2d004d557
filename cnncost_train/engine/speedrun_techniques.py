"""The speedrun techniques applied to a built module (none of them changes the architecture the calculator counts).

- Patch whitening (Page 2019, "bag of tricks"; Jordan 2024, arXiv:2404.00498): the first conv's
  k x k x C filters are the eigenvectors v_i of the (uncentred) covariance of the training set's
  k x k patches, scaled by 1/sqrt(lambda_i + eps), and their negatives (2 C k^2 filters in all).
- Dirac init: the first in_channels filters of each 3x3 conv start as the identity (the rest keep
  PyTorch's default init), as in airbench94.
- Frozen BN scales: weight fixed at 1, only the bias trains.
- Lookahead (Zhang et al. 2019, arXiv:1907.08610) in airbench94's form: every k steps
  slow <- slow + (1 - d)(fast - slow), fast <- slow, over every float tensor of the state dict
  (running BN statistics too), with d = alpha (t/T)^p; at the end fast <- slow.
"""
from __future__ import annotations

import torch
from torch import nn

from cnncost.errors import CostError


def patches(x: torch.Tensor, kh: int, kw: int) -> torch.Tensor:
    """All kh x kw patches of NCHW images, stride 1, flattened channel-major: (N*H'*W', C*kh*kw)."""
    n, c = x.shape[:2]
    p = x.unfold(2, kh, 1).unfold(3, kw, 1)          # N, C, H', W', kh, kw
    return p.permute(0, 2, 3, 1, 4, 5).reshape(-1, c * kh * kw)


def whitening_filters(x: torch.Tensor, kh: int, kw: int, eps: float) -> torch.Tensor:
    """(C k^2, C, kh, kw) filters, the largest eigenvalue's first: v_i / sqrt(lambda_i + eps)."""
    p = patches(x.float(), kh, kw)
    cov = p.T @ p / len(p)
    values, vectors = torch.linalg.eigh(cov)          # ascending; columns are eigenvectors
    filters = (vectors.T / (values[:, None] + eps).sqrt()).flip(0)
    return filters.reshape(-1, x.shape[1], kh, kw)


@torch.no_grad()
def init_whitening(conv: nn.Conv2d, x: torch.Tensor, eps: float = 5e-4):
    """Set conv.weight to the whitening filters of x (NCHW, normalised) and their negatives."""
    kh, kw = conv.kernel_size
    need = 2 * conv.in_channels * kh * kw
    if conv.out_channels != need or conv.stride != (1, 1):
        raise CostError(f"patch whitening needs a stride-1 first conv with 2*C*k*k = {need} filters, "
                        f"got {conv.out_channels} (stride {conv.stride})")
    f = whitening_filters(x, kh, kw, eps)
    conv.weight.copy_(torch.cat([f, -f]).to(conv.weight.dtype))


@torch.no_grad()
def dirac_init(module: nn.Module, skip=()):
    """Identity init of the first in_channels filters of every 3x3, stride-1, ungrouped conv (not in `skip`)."""
    for m in module.modules():
        if (isinstance(m, nn.Conv2d) and m not in skip and m.kernel_size == (3, 3) and m.groups == 1
                and m.stride == (1, 1) and m.out_channels >= m.in_channels):
            nn.init.dirac_(m.weight[:m.in_channels])


def batchnorms(module: nn.Module) -> list:
    return [m for m in module.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]


def configure_bn(module: nn.Module, *, freeze_weight: bool, momentum: float | None):
    for bn in batchnorms(module):
        if momentum is not None:
            bn.momentum = momentum
        if freeze_weight and bn.weight is not None:
            with torch.no_grad():
                bn.weight.fill_(1)
            bn.weight.requires_grad_(False)


def reset_parameters(module: nn.Module):
    """PyTorch's default init for every module that has one (BN running statistics included)."""
    for m in module.modules():
        if m is not module and hasattr(m, "reset_parameters"):
            m.reset_parameters()


def param_groups(module: nn.Module, lr: float, weight_decay: float, bias_lr_scale: float = 1.0) -> list:
    """Two SGD groups: BN biases (lr x s, weight decay / s) and the rest; frozen parameters left out."""
    bn_biases = {id(bn.bias) for bn in batchnorms(module) if bn.bias is not None}
    biases, rest = [], []
    for p in module.parameters():
        (biases if id(p) in bn_biases else rest).append(p)
    groups = [{"params": rest, "lr": lr, "weight_decay": weight_decay, "base_lr": lr}]
    if biases:
        groups.append({"params": biases, "lr": lr * bias_lr_scale, "weight_decay": weight_decay / bias_lr_scale,
                       "base_lr": lr * bias_lr_scale})
    return groups


class Lookahead:
    """Slow weights over the state dict's float tensors; `update(decay)` pulls them toward the fast
    weights by (1 - decay) and copies them back (decay = 1: fast <- slow)."""

    def __init__(self, module: nn.Module):
        self.module = module
        self.fast = [t for t in module.state_dict().values() if t.is_floating_point()]
        self.slow = [t.detach().clone() for t in self.fast]

    @torch.no_grad()
    def update(self, decay: float):
        if decay != 1.0:
            torch._foreach_lerp_(self.slow, self.fast, 1.0 - decay)
        torch._foreach_copy_(self.fast, self.slow)

    def state_dict(self) -> list:
        return [t.clone() for t in self.slow]

    def load_state_dict(self, slow: list):
        for s, t in zip(self.slow, slow):
            s.copy_(t)

    @staticmethod
    def decay(step: int, total: int, alpha: float, power: float) -> float:
        return alpha * (step / total) ** power

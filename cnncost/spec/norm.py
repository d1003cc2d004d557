"""Normalisation layers; arguments as in PyTorch (less the channel count, which the input gives).
BatchNorm normalises per channel (axis 0 of the per-sample shape) over the batch and every other
axis, so one spec serves BatchNorm1d/2d/3d and `F.batch_norm`; InstanceNorm per channel over the
spatial axes of one sample; GroupNorm over groups of channels; LayerNorm over trailing axes."""
from __future__ import annotations

from dataclasses import dataclass, field

from cnncost.errors import CostError
from cnncost.spec.checks import axes, count, label, put


@dataclass(frozen=True)
class BatchNorm:
    """Batch normalisation over axis 0 of a sample (channels, or features after Linear)."""
    affine: bool = True
    eps: float = 1e-5
    momentum: float | None = 0.1
    track_running_stats: bool = True
    name: str | None = field(default=None, kw_only=True)


@dataclass(frozen=True)
class InstanceNorm:
    """Instance normalisation of (C, *spatial): each channel of each sample over its spatial axes;
    PyTorch's default is affine=False, track_running_stats=False."""
    affine: bool = False
    eps: float = 1e-5
    momentum: float | None = 0.1
    track_running_stats: bool = False
    name: str | None = field(default=None, kw_only=True)


@dataclass(frozen=True)
class GroupNorm:
    """Group normalisation (Wu & He 2018): channels split into `num_groups` groups, each normalised
    over its channels and every spatial position; weight and bias per channel if affine."""
    num_groups: int
    affine: bool = True
    eps: float = 1e-5
    name: str | None = field(default=None, kw_only=True)

    def __post_init__(self):
        count(self.num_groups, "num_groups", label(self, self.name))


@dataclass(frozen=True)
class LayerNorm:
    """Layer normalisation over the last len(shape) dimensions, which must equal `shape`."""
    shape: tuple
    eps: float = 1e-5
    affine: bool = True
    bias: bool = True
    name: str | None = field(default=None, kw_only=True)

    def __post_init__(self):
        who = label(self, self.name)
        shape = axes(self.shape, who, "normalized sizes")
        if not shape or any(s < 1 for s in shape):
            raise CostError(f"{who}: normalized sizes must be positive, got {self.shape!r}")
        put(self, shape=shape)


@dataclass(frozen=True)
class LRN:
    """Local response normalisation across channels (Krizhevsky et al. 2012, section 3.3)."""
    size: int = 5
    alpha: float = 1e-4
    beta: float = 0.75
    k: float = 2.0
    name: str | None = field(default=None, kw_only=True)

    def __post_init__(self):
        count(self.size, "size", label(self, self.name))

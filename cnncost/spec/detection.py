"""Detection ops with a fixed cost: torchvision.ops.roi_align.  (nms computes as many IoUs as the
boxes' values decide: `cnncost.spec.indexing.ValueDependent`.)"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from cnncost.errors import CostError
from cnncost.spec.checks import ints, label, put


@dataclass(frozen=True)
class RoIAlign:
    """roi_align(features, boxes, output_size, spatial_scale, sampling_ratio, aligned) (He et al.
    2017, Mask R-CNN): inputs features (C, H, W) and K boxes (K, 4) of one image; output
    (K, C, oh, ow); rois (K, 5), as torchvision's kernel takes them, lead with the image index.
    `sampling_ratio` must be positive: with -1 the sample count depends on each box's size, which
    only a run knows."""
    output_size: int | tuple
    spatial_scale: float = 1.0
    sampling_ratio: int = 2
    aligned: bool = False
    name: str | None = field(default=None, kw_only=True)
    arity: ClassVar = (2, 2)

    def __post_init__(self):
        who = label(self, self.name)
        put(self, output_size=ints(self.output_size, "output_size", who, 1))
        if isinstance(self.sampling_ratio, bool) or not isinstance(self.sampling_ratio, int) or self.sampling_ratio < 1:
            raise CostError(f"{who}: sampling_ratio must be a positive integer (an adaptive one depends on the "
                            f"boxes), got {self.sampling_ratio!r}")

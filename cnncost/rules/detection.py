"""Detection ops: RoIAlign (He et al. 2017, section 3): each of oh*ow bins of each box averages
sampling_ratio^2 bilinear samples of every channel."""
from __future__ import annotations

from cnncost import spec
from cnncost.errors import CostError
from cnncost.rules.core import UNKNOWN, Cost, dims_text, line, rule, shown


@rule(spec.RoIAlign)
def roi_align(layer: spec.RoIAlign, shapes, who):
    """out (K, C, oh, ow); per output: sr^2 samples of 4 bilinear taps ('interp_taps') and their
    mean (sr^2 'avg_ops').  Where a box lies is data: the field is unknown."""
    features, boxes = shapes
    boxes = (1, *boxes) if len(boxes) == 1 else boxes     # one box, its batch-like axis dropped
    if len(features) != 3 or len(boxes) != 2 or boxes[-1] not in (4, 5):
        raise CostError(f"{who}: roi_align needs features CxHxW and boxes Kx4 (or Kx5 rois), got {dims_text(features)} "
                        f"and {dims_text(boxes)}")
    c = features[0]
    k = boxes[0]
    oh, ow = layer.output_size
    samples = layer.sampling_ratio ** 2
    outs = shown(k, c, oh, ow)
    taps = shown((k, c, oh, ow), samples, 4)
    return Cost((k, c, oh, ow), ops={"interp_taps": taps[0], "avg_ops": samples * outs[0]}, window=UNKNOWN,
                work={"activations": line(outs), "interp_taps": line(taps)})

"""Training recipes as data: everything that is not architecture, by name.

`davidnet`: Page 2018, "How to train your ResNet" part 4 (myrtle.ai), the 24-epoch DAWNBench
recipe: batch 512, SGD Nesterov 0.9, weight decay 5e-4, learning rate piecewise linear
0 -> 0.4 at epoch 5 -> 0 at epoch 24 (for the mean loss), plain cross-entropy, reflect-pad-4
crop, flip, cutout 8x8.

`fast`: ours; the ideas of the public record line (Page 2019 part 7 "bag of tricks"; Jordan
2024, arXiv:2404.00498, airbench94), with its published hyperparameters: patch-whitening 2x2
first layer (frozen weights, bias trained for 3 epochs), frozen BN scales with BN momentum 0.4
and eps 1e-12, identity (Dirac) init of each conv's first in_channels filters, label smoothing
0.2, Nesterov SGD momentum 0.85 at batch 1024 with lr 1.5 for the mean loss and 64x for BN
biases, triangular lr 0.2 -> 1 at 23% -> 0.07, Lookahead every 5 steps with
alpha = 0.95^5 (t/T)^3, alternating flip + 2-pixel translate, flip + translate TTA, bf16
channels-last, compiled model.

Learning-rate knots are (fraction of training steps, multiplier of `lr`), linear in between.
Weight decay is PyTorch's coupled SGD parameter; for BN biases the lr is multiplied by
`bias_lr_scale` and the weight decay divided by it, so their product (the decay per step) is kept.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

from cnncost.errors import CostError


@dataclass(frozen=True)
class Recipe:
    name: str
    model: str                      # zoo name
    summary: str
    epochs: float
    batch_size: int
    lr: float                       # peak learning rate for the mean loss
    lr_knots: tuple                 # ((fraction of steps, multiplier), ...)
    momentum: float = 0.9
    nesterov: bool = True
    weight_decay: float = 5e-4
    bias_lr_scale: float = 1.0      # BN biases: lr x scale, weight decay / scale
    label_smoothing: float = 0.0
    crop_pad: int = 4               # random translate by up to this many pixels, reflect padding
    flip: str = "random"            # 'random', 'alternate' or 'none'
    cutout: int = 0                 # cutout square size (0 = off)
    tta: int = 0                    # 0 none, 1 flip, 2 flip + 1-pixel translates
    model_options: dict = field(default_factory=dict)
    whiten: bool = False            # patch-whitening init of the first conv from training patches
    whiten_images: int = 5000
    whiten_eps: float = 5e-4
    whiten_bias_epochs: float = 0   # train the whitening conv's bias for this many epochs, then freeze
    freeze_bn_weight: bool = False  # BN scales fixed at 1
    bn_momentum: float | None = None  # PyTorch convention (weight of the new batch)
    dirac_init: bool = False        # identity init of the first in_channels filters of 3x3 convs
    lookahead_every: int = 0        # 0 = off
    lookahead_alpha: float = 0.95 ** 5
    lookahead_power: float = 3.0
    bf16: bool = True
    channels_last: bool = True
    compile: bool = True
    eval_batch: int = 2000

    def with_(self, **changes) -> "Recipe":
        return replace(self, **changes)


RECIPES = {
    "davidnet": Recipe(
        name="davidnet", model="davidnet",
        summary="Page 2018: DavidNet, 24 epochs, batch 512, SGD Nesterov, lr 0->0.4->0, cutout 8",
        epochs=24, batch_size=512, lr=0.4, lr_knots=((0, 0), (5 / 24, 1), (1, 0)),
        momentum=0.9, weight_decay=5e-4, crop_pad=4, flip="random", cutout=8, tta=0),
    "fast": Recipe(
        name="fast", model="speedrun",
        summary="ours: whitening, frozen BN scales, label smoothing, Lookahead, TTA, bf16, compiled",
        epochs=10.4, batch_size=1024, lr=1.5, lr_knots=((0, 0.2), (0.23, 1), (1, 0.07)),
        momentum=0.85, weight_decay=0.0153 / 11.5, bias_lr_scale=64, label_smoothing=0.2,
        crop_pad=2, flip="alternate", cutout=0, tta=2,
        whiten=True, whiten_bias_epochs=3, freeze_bn_weight=True, bn_momentum=0.4, dirac_init=True,
        lookahead_every=5),
}


def get(name: str) -> Recipe:
    try:
        return RECIPES[name]
    except KeyError:
        raise CostError(f"unknown recipe {name!r}; known: {', '.join(RECIPES)}") from None


def lr_multiplier(knots: tuple, fraction: float) -> float:
    """Piecewise-linear interpolation of the knots at `fraction` of training (clamped at the ends)."""
    xs, ys = [k[0] for k in knots], [k[1] for k in knots]
    if fraction <= xs[0]:
        return ys[0]
    for (x0, y0), (x1, y1) in zip(knots, knots[1:]):
        if fraction <= x1:
            return y0 + (y1 - y0) * (fraction - x0) / (x1 - x0) if x1 > x0 else y1
    return ys[-1]


# ---------------------------------------------------------------- ResNet-44 (cutout and batch augmentation)
# He et al. 2016 (arXiv:1512.03385, section 4.2): SGD momentum 0.9 (not Nesterov), weight decay 1e-4,
# lr 0.1 divided by 10 at 32k and 48k of 64k iterations, i.e. at 50% and 75% of training (the
# fractions we keep when the epoch budget changes); 4-pixel pad + random 32x32 crop + flip; test on
# the original images.  Batch 64 as in Hoffer et al. 2019 (arXiv:1901.09335) for ResNet-44; their
# reference run adds cutout (DeVries & Taylor 2017: one 16x16 hole) to the same recipe.
_STEP_DECAYS = ((0, 1), (0.5, 1), (0.5, 0.1), (0.75, 0.1), (0.75, 0.01), (1, 0.01))
RECIPES["resnet44"] = Recipe(
    name="resnet44", model="resnet44",
    summary="He et al. 2016: ResNet-44, batch 64, SGD 0.9, wd 1e-4, lr 0.1 /10 at 50% and 75%, pad-4 crop + flip",
    epochs=100, batch_size=64, lr=0.1, lr_knots=_STEP_DECAYS, momentum=0.9, nesterov=False,
    weight_decay=1e-4, crop_pad=4, flip="random", cutout=0, tta=0)
RECIPES["resnet44-cutout"] = RECIPES["resnet44"].with_(
    name="resnet44-cutout", cutout=16,
    summary="Hoffer et al. 2019 reference: the resnet44 recipe plus cutout 16x16 (DeVries & Taylor 2017)")

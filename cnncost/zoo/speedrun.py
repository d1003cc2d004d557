"""The network of `cnncost-train speedrun --recipe fast`: the layout of the public CIFAR-10 speed
record line (Jordan 2024, "94% on CIFAR-10 in 3.29 seconds on a single GPU", arXiv:2404.00498,
airbench94), counted here so that `cnncost table speedrun` is exactly what the recipe trains.

whiten: 2x2 conv, no padding, 3 -> 24 (= 2 x 3*2*2: the patch-whitening filters and their
negatives; set from data by the trainer), GELU | three blocks of conv 3x3 -> max-pool 2 -> BN ->
GELU -> conv 3x3 -> BN -> GELU, widths 64, 256, 256 | max-pool 3 (3x3 -> 1x1) | linear -> 10
without bias | logits x 1/9.  Convs in the blocks have no bias (BN follows); BN eps 1e-12.
Spatial sizes for 32x32: 31 (whiten) -> 15 -> 7 -> 3 -> 1.
"""
from __future__ import annotations

from cnncost.spec import Activation, BatchNorm, Conv2d, Flatten, Linear, MaxPool2d, Scale, seq
from cnncost.zoo import register


def _block(width: int, name: str):
    return seq(Conv2d(width, 3, padding=1, bias=False, name="conv1"), MaxPool2d(2, name="pool"),
               BatchNorm(eps=1e-12, name="bn1"), Activation("gelu", name="act1"),
               Conv2d(width, 3, padding=1, bias=False, name="conv2"),
               BatchNorm(eps=1e-12, name="bn2"), Activation("gelu", name="act2"), name=name)


@register("speedrun", input_shape=(3, 32, 32),
          source="Jordan 2024, arXiv:2404.00498 (airbench94 layout); the `fast` recipe of cnncost-train",
          summary="CIFAR-10 speed-record net: 2x2 whitening conv, three conv-pool-BN-GELU blocks",
          notes="First conv is set from data (patch whitening) and not trained; BN scales frozen at 1.")
def speedrun(classes: int = 10, widths: tuple = (64, 256, 256), in_channels: int = 3, scale: float = 1 / 9):
    """whiten(2x2, 2*in*4) - GELU - block1 - block2 - block3 - pool 3 - flatten - fc - scale."""
    w1, w2, w3 = widths
    return seq(Conv2d(2 * in_channels * 4, 2, padding=0, bias=True, name="whiten"), Activation("gelu", name="act"),
               _block(w1, "block1"), _block(w2, "block2"), _block(w3, "block3"),
               MaxPool2d(3, name="pool"), Flatten(name="flatten"), Linear(classes, bias=False, name="fc"),
               Scale(scale, name="scale"), name="speedrun")

"""DavidNet: the ResNet-9 of David Page's cifar10-fast (2018, "How to train your ResNet",
https://github.com/davidcpage/cifar10-fast, `net()` in experiments.ipynb / core.py).

prep conv 64 | layer1: conv 128, max-pool 2, residual of two conv 128 | layer2: conv 256,
max-pool 2 | layer3: conv 512, max-pool 2, residual of two conv 512 | global max-pool | linear
512 -> 10 without bias | multiply the logits by 0.125.  Every conv is 3x3, padding 1, no bias,
followed by BatchNorm and ReLU; the residuals add an identity shortcut (no ReLU after the add).
"""
from __future__ import annotations

from cnncost.spec import AdaptivePool2d, Flatten, Linear, MaxPool2d, Residual, Scale, seq
from cnncost.zoo import register
from cnncost.zoo.blocks import conv_bn_relu


def _layer(out: int, name: str, residual: bool):
    res = (Residual(seq(conv_bn_relu(out, name="res1"), conv_bn_relu(out, name="res2")), name="res"),)
    return seq(*conv_bn_relu(out).layers, MaxPool2d(2, name="pool"), *(res if residual else ()), name=name)


@register("davidnet", input_shape=(3, 32, 32), source="Page 2018, How to train your ResNet (cifar10-fast)",
          summary="ResNet-9 of cifar10-fast (DAWNBench CIFAR-10 in 79 s on one V100)",
          notes="Logits scaled by 0.125 (Scale layer); global max-pool, not average.")
def davidnet(classes: int = 10, widths: tuple = (64, 128, 256, 512), scale: float = 0.125):
    """prep - layer1 (+res) - layer2 - layer3 (+res) - pool - flatten - fc - scale."""
    c0, c1, c2, c3 = widths
    return seq(conv_bn_relu(c0, name="prep"),
               _layer(c1, "layer1", True), _layer(c2, "layer2", False), _layer(c3, "layer3", True),
               AdaptivePool2d("max", 1, name="pool"), Flatten(name="flatten"),
               Linear(classes, bias=False, name="fc"), Scale(scale, name="scale"))

"""VGG: Simonyan & Zisserman 2015, "Very Deep Convolutional Networks for Large-Scale Image
Recognition" (ICLR), Table 1 configurations A, B, D, E (VGG-11, -13, -16, -19).

3x3 convolutions, stride 1, padding 1, each followed by ReLU; 2x2 max-pool stride 2 after each
block; fc 4096-4096-1000 with ReLU, dropout 0.5 after fc6 and fc7 (section 3.1).  No adaptive
pooling (torchvision's AdaptiveAvgPool2d(7) is an identity at 224 and has no parameters, so the
counts equal torchvision's vgg11/13/16/19).
"""
from __future__ import annotations

from cnncost.spec import BatchNorm, Flatten, Linear, MaxPool2d, seq
from cnncost.zoo import register
from cnncost.zoo.blocks import conv_relu, fc_relu_dropout

PAPER = "Simonyan & Zisserman 2015, Very Deep Convolutional Networks (ICLR), Table 1"

#: convolutions per block (64, 128, 256, 512, 512 filters) for each configuration of Table 1
CONFIGS = {"A": (1, 1, 2, 2, 2), "B": (2, 2, 2, 2, 2), "D": (2, 2, 3, 3, 3), "E": (2, 2, 4, 4, 4)}
WIDTHS = (64, 128, 256, 512, 512)
DEPTHS = {"A": 11, "B": 13, "D": 16, "E": 19}


def vgg(config: str = "D", classes: int = 1000, dropout: float = 0.5, batch_norm: bool = False):
    """Blocks of conv<b>_<i> (+ bn<b>_<i>) + relu<b>_<i>, then pool<b>; then fc6, fc7, fc8."""
    layers = []
    for b, (n, width) in enumerate(zip(CONFIGS[config], WIDTHS), start=1):
        for i in range(1, n + 1):
            conv, relu = conv_relu(f"conv{b}_{i}", width, 3, padding=1)
            layers += [conv, BatchNorm(name=f"bn{b}_{i}"), relu] if batch_norm else [conv, relu]
        layers.append(MaxPool2d(2, 2, name=f"pool{b}"))
    layers += [Flatten(name="flatten"), *fc_relu_dropout("fc6", 4096, dropout),
               *fc_relu_dropout("fc7", 4096, dropout), Linear(classes, name="fc8")]
    return seq(*layers)


def _register(config: str):
    depth = DEPTHS[config]

    @register(f"vgg{depth}", input_shape=(3, 224, 224), source=PAPER,
              summary=f"VGG-{depth} (configuration {config}): {sum(CONFIGS[config])} 3x3 convs + 3 FC layers",
              notes="batch_norm=True inserts BatchNorm after each conv, as torchvision's vgg*_bn "
                    "(conv biases kept, as there).")
    def factory(classes: int = 1000, dropout: float = 0.5, batch_norm: bool = False):
        return vgg(config, classes=classes, dropout=dropout, batch_norm=batch_norm)

    factory.__name__ = f"vgg{depth}"
    return factory


vgg11, vgg13, vgg16, vgg19 = (_register(c) for c in CONFIGS)

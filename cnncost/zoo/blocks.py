"""Building blocks shared by the zoo modules (not a model file: registers nothing).

Each helper returns spec layers with meaningful names, so every zoo model names its rows the
same way: `conv_relu("conv1_1", ...)` gives conv1_1 + relu1_1, `conv_bn_relu(..., name="prep")`
gives prep.conv, prep.bn, prep.relu.
"""
from __future__ import annotations

from cnncost.spec import Activation, BatchNorm, Conv2d, Dropout, Linear, seq


def suffix(name: str, prefix: str) -> str:
    """'conv3_2' -> '3_2': the part of a layer name after its kind, to name its companions."""
    return name[len(prefix):] if name.startswith(prefix) else name


def conv_relu(name: str, out_channels: int, kernel, stride=1, padding=0, groups=1, bias=True) -> tuple:
    """Conv2d named `name` followed by its ReLU named relu<suffix> (conv1 -> relu1)."""
    return (Conv2d(out_channels, kernel, stride, padding, groups=groups, bias=bias, name=name),
            Activation("relu", name=f"relu{suffix(name, 'conv')}"))


def conv_bn(out_channels: int, kernel=3, stride=1, padding=1, *, conv="conv", bn="bn") -> tuple:
    """Conv2d without bias (batch norm supplies the shift) followed by BatchNorm."""
    return (Conv2d(out_channels, kernel, stride, padding, bias=False, name=conv), BatchNorm(name=bn))


def conv_bn_relu(out_channels: int, kernel=3, stride=1, padding=1, *, name: str | None = None):
    """Named Sequence conv -> bn -> relu (He et al. 2016; Page 2018's `conv_bn`)."""
    return seq(*conv_bn(out_channels, kernel, stride, padding), Activation("relu", name="relu"), name=name)


def fc_relu_dropout(name: str, out_features: int, dropout: float = 0.5) -> tuple:
    """fc<i> -> relu<i> -> drop<i> (the Caffe order of AlexNet's and VGG's fc6/fc7)."""
    n = suffix(name, "fc")
    layers = (Linear(out_features, name=name), Activation("relu", name=f"relu{n}"))
    return layers + ((Dropout(dropout, name=f"drop{n}"),) if dropout > 0 else ())

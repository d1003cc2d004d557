"""Small networks for 28x28 / 32x32 inputs: MiniGoogLeNet and LeNet-5.

MiniGoogLeNet: the "small Inception" of Zhang et al. 2017, "Understanding deep learning requires
rethinking generalization" (ICLR; arXiv:1611.03530, Figure 3 / appendix; Table 1: 1,649,402
parameters on 28x28x3 crops), the network Smith uses for his cyclical learning-rate and batch-size
studies.  Three modules:
  conv module  (k, s): conv kxk/s (same padding when s = 1, none when s = 2; no bias) - BN - ReLU
  inception    (c1, c3): conv module 1x1 (c1) | conv module 3x3 (c3), concatenated: c1 + c3 channels
  downsample   (c3): conv module 3x3/2 valid (c3) | max-pool 3x3/2, concatenated: c3 + input channels
Network: conv 3x3 96 - incep(32,32) - incep(32,48) - down(80) - incep(112,48) - incep(96,64) -
incep(80,80) - incep(48,96) - down(96) - incep(176,160) - incep(176,160) - global avg pool -
dropout 0.5 - fc(classes).  Spatial sizes: 28 -> 13 -> 6, 32 -> 15 -> 7.
Parameters: ours carry BN scale and shift (2 per channel, 1,712 conv channels); Zhang et al.'s
1,649,402 is the same network with a shift only (TF-slim batch_norm's default, scale=False), i.e.
ours minus 1,712.

LeNet-5: LeCun et al. 1998, "Gradient-based learning applied to document recognition" (Proc. IEEE
86(11)), Figure 2: C1 6@5x5 - S2 - C3 16@5x5 - S4 - C5 120 - F6 84 - output 10.  Modern form:
max-pool 2x2 for the trainable subsampling, ReLU for the scaled tanh, C3 fully connected (the paper
connects each C3 map to a subset of S2 maps: 1,516 weights instead of 2,416) and a linear output
layer for the RBF units.  On 28x28 inputs C1 pads by 2, so C5 still sees 5x5 maps as in the paper's
32x32 input.
"""
from __future__ import annotations

from cnncost.spec import (Activation, BatchNorm, Concat, Conv2d, Dropout, Flatten, GlobalPool, Linear,
                          MaxPool2d, seq)
from cnncost.zoo import register

ZHANG = "Zhang et al. 2017, Understanding deep learning requires rethinking generalization (arXiv:1611.03530), Fig. 3"
LECUN = "LeCun et al. 1998, Gradient-based learning applied to document recognition, Fig. 2"

#: the network's stages: ("i", c1, c3) inception, ("d", c3) downsample
STAGES = (("i", 32, 32), ("i", 32, 48), ("d", 80), ("i", 112, 48), ("i", 96, 64), ("i", 80, 80),
          ("i", 48, 96), ("d", 96), ("i", 176, 160), ("i", 176, 160))


def conv_module(out: int, kernel: int, stride: int = 1, *, name: str | None = None):
    """conv kxk/s - BN - ReLU; 'same' padding at stride 1, none ('valid') at stride 2."""
    return seq(Conv2d(out, kernel, stride, padding="same" if stride == 1 else 0, bias=False, name="conv"),
               BatchNorm(name="bn"), Activation("relu", name="relu"), name=name)


def inception_module(c1: int, c3: int, *, name: str | None = None):
    return Concat((conv_module(c1, 1, name="1x1"), conv_module(c3, 3, name="3x3")), name=name)


def downsample_module(c3: int, *, name: str | None = None):
    return Concat((conv_module(c3, 3, 2, name="3x3"), seq(MaxPool2d(3, 2, name="max"), name="pool")), name=name)


@register("minigooglenet", input_shape=(1, 28, 28), source=ZHANG,
          summary="MiniGoogLeNet (small Inception of Zhang et al. 2017, Smith's CLR/CBS network); option classes")
def minigooglenet(classes: int = 10, dropout: float = 0.5):
    layers = [conv_module(96, 3, name="stem")]
    for i, st in enumerate(STAGES, start=1):
        layers.append(inception_module(st[1], st[2], name=f"incep{i}") if st[0] == "i"
                      else downsample_module(st[1], name=f"down{i}"))
    layers += [GlobalPool("avg", name="gap"), Flatten(name="flatten")]
    if dropout > 0:
        layers.append(Dropout(dropout, name="drop"))
    layers.append(Linear(classes, name="fc"))
    return seq(*layers)


@register("lenet5", input_shape=(1, 28, 28), source=LECUN,
          summary="LeNet-5 (LeCun et al. 1998) with max-pool and ReLU, C3 fully connected; option classes, pad")
def lenet5(classes: int = 10, pad: int = 2):
    return seq(Conv2d(6, 5, padding=pad, name="c1"), Activation("relu", name="relu1"), MaxPool2d(2, name="s2"),
               Conv2d(16, 5, name="c3"), Activation("relu", name="relu3"), MaxPool2d(2, name="s4"),
               Flatten(name="flatten"), Linear(120, name="c5"), Activation("relu", name="relu5"),
               Linear(84, name="f6"), Activation("relu", name="relu6"), Linear(classes, name="out"))

"""GoogLeNet and its inception module: Szegedy et al. 2015, "Going Deeper with Convolutions"
(CVPR; arXiv:1409.4842, 2014), Figure 2 (the module), Table 1 and Figure 3 (the network).

An inception module runs 1x1, 3x3 and 5x5 convolutions and a 3x3 max-pool side by side on the
same input and concatenates their outputs along channels.  The naive module (Fig. 2a) applies
the 3x3 and 5x5 filters to every input channel and passes the pool's channels through; the
module with dimension reductions (Fig. 2b) puts 1x1 convolutions of r3/r5 filters before the
3x3/5x5 and a 1x1 projection after the pool.  Every convolution is followed by ReLU (section 5).

GoogLeNet (Table 1): the auxiliary classifiers used only in training (section 5) are left out;
they do not run at inference.  LRN (size 5, alpha 1e-4, beta 0.75, k 1, as in the BVLC Caffe
reference model) follows pool1 and conv2 as in Figure 3; max-pools use ceil mode (Caffe) so
112 -> 56 -> 28 -> 14 -> 7 as in Table 1.
"""
from __future__ import annotations

from cnncost.spec import (LRN, Activation, AvgPool2d, Concat, Conv2d, Dropout, Flatten, Linear, MaxPool2d,
                          seq)
from cnncost.zoo import register

PAPER = "Szegedy et al. 2015, Going Deeper with Convolutions (CVPR; arXiv:1409.4842)"

#: Table 1: name -> (#1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5, pool proj)
TABLE1 = {
    "3a": (64, 96, 128, 16, 32, 32), "3b": (128, 128, 192, 32, 96, 64),
    "4a": (192, 96, 208, 16, 48, 64), "4b": (160, 112, 224, 24, 64, 64), "4c": (128, 128, 256, 24, 64, 64),
    "4d": (112, 144, 288, 32, 64, 64), "4e": (256, 160, 320, 32, 128, 128),
    "5a": (256, 160, 320, 32, 128, 128), "5b": (384, 192, 384, 48, 128, 128),
}


def _conv(out: int, kernel: int, name: str, relu: str) -> tuple:
    return Conv2d(out, kernel, padding="same", name=name), Activation("relu", name=relu)


def _pool() -> MaxPool2d:
    return MaxPool2d(3, 1, padding=1, name="max")


def inception(c1: int, r3: int, c3: int, r5: int, c5: int, pool_proj: int, *, name: str | None = None) -> Concat:
    """Figure 2b: branches 1x1 | 1x1(r3) -> 3x3 | 1x1(r5) -> 5x5 | 3x3/1 max-pool -> 1x1(pool_proj);
    output channels c1 + c3 + c5 + pool_proj."""
    return Concat((
        seq(*_conv(c1, 1, "conv", "relu"), name="1x1"),
        seq(*_conv(r3, 1, "reduce", "relu_reduce"), *_conv(c3, 3, "conv", "relu"), name="3x3"),
        seq(*_conv(r5, 1, "reduce", "relu_reduce"), *_conv(c5, 5, "conv", "relu"), name="5x5"),
        seq(_pool(), *_conv(pool_proj, 1, "proj", "relu"), name="pool"),
    ), name=name)


def inception_naive(c1: int, c3: int, c5: int, *, name: str | None = None) -> Concat:
    """Figure 2a: branches 1x1 | 3x3 | 5x5 | 3x3/1 max-pool; output channels c1 + c3 + c5 + C_in."""
    return Concat((
        seq(*_conv(c1, 1, "conv", "relu"), name="1x1"),
        seq(*_conv(c3, 3, "conv", "relu"), name="3x3"),
        seq(*_conv(c5, 5, "conv", "relu"), name="5x5"),
        seq(_pool(), name="pool"),
    ), name=name)


FIGURE2 = ("The classic module figure's input 28x28x256 with 128 1x1, 192 3x3 and 96 5x5 filters "
           "(the counts of the widely used illustration, not of a Table 1 row).")


@register("inception-naive", input_shape=(256, 28, 28), source=PAPER + ", Figure 2a",
          summary="Naive inception module: 1x1, 3x3, 5x5 convs and 3x3 max-pool in parallel, concatenated",
          notes=FIGURE2 + " Output channels c1 + c3 + c5 + input channels (672 at the defaults).")
def naive_module(c1: int = 128, c3: int = 192, c5: int = 96):
    return seq(inception_naive(c1, c3, c5, name="inception"))


@register("inception-reduced", input_shape=(256, 28, 28), source=PAPER + ", Figure 2b",
          summary="Inception module with 1x1 dimension reductions before the 3x3/5x5 and after the pool",
          notes=FIGURE2 + " Reductions r3 = r5 = pool_proj = 64 give 480 output channels.")
def reduced_module(c1: int = 128, r3: int = 64, c3: int = 192, r5: int = 64, c5: int = 96, pool_proj: int = 64):
    return seq(inception(c1, r3, c3, r5, c5, pool_proj, name="inception"))


@register("googlenet", input_shape=(3, 224, 224), source=PAPER + ", Table 1 and Figure 3",
          summary="GoogLeNet (Inception v1): 9 inception modules, 22 layers with parameters",
          notes="No auxiliary classifiers (training only). Table 1 disagrees with its own filter counts in places "
                "(docs/architectures.md): conv1 is listed as 2.7K params / 34M ops, but 7*7*3*64 = 9,408 weights "
                "and 112*112*64*147 = 118,013,952 MACs; 5a is listed as 1072K / 54M, its filters give 1,042,432 "
                "weights and 51,079,168 MACs; the params of 4a, 4c, 4d, 4e and 5b differ by 3K-35K. We count the "
                "layers as specified; the other ops figures agree to within 1M.")
def googlenet(classes: int = 1000, dropout: float = 0.4, lrn: bool = True, reductions: bool = True):
    """conv1 7x7/2 - pool - conv2 (1x1 64, 3x3 192) - pool - 3a, 3b - pool - 4a..4e - pool - 5a, 5b
    - 7x7 avg-pool - dropout - fc.  reductions=False builds every module naive (Fig. 2a) with Table 1's
    #1x1, #3x3 and #5x5: the what-if of section 4, where pooled channels pile up from stage to stage."""
    norm = (lambda n: (LRN(5, 1e-4, 0.75, 1.0, name=n),)) if lrn else (lambda n: ())

    def blocks(*names):
        if reductions:
            return [inception(*TABLE1[n], name=n) for n in names]
        return [inception_naive(*(TABLE1[n][i] for i in (0, 2, 4)), name=n) for n in names]
    return seq(
        Conv2d(64, 7, 2, 3, name="conv1"), Activation("relu", name="relu1"),
        MaxPool2d(3, 2, ceil_mode=True, name="pool1"), *norm("lrn1"),
        *_conv(64, 1, "conv2_reduce", "relu2_reduce"), *_conv(192, 3, "conv2", "relu2"),
        *norm("lrn2"), MaxPool2d(3, 2, ceil_mode=True, name="pool2"),
        *blocks("3a", "3b"), MaxPool2d(3, 2, ceil_mode=True, name="pool3"),
        *blocks("4a", "4b", "4c", "4d", "4e"), MaxPool2d(3, 2, ceil_mode=True, name="pool4"),
        *blocks("5a", "5b"), AvgPool2d(7, 1, name="pool5"),
        Flatten(name="flatten"), *((Dropout(dropout, name="dropout"),) if dropout > 0 else ()),
        Linear(classes, name="fc"),
    )

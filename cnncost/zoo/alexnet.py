"""AlexNet: Krizhevsky, Sutskever & Hinton 2012, "ImageNet Classification with Deep Convolutional
Neural Networks" (NIPS), Figure 2 and sections 3.2-3.5; and torchvision's single-tower variant.

Two-GPU connectivity (section 3.2, Figure 2): conv2, conv4 and conv5 see only the kernel maps on
their own GPU (groups=2); conv3 and the fully connected layers see both.  LRN (size 5, alpha 1e-4,
beta 0.75, k 2; section 3.3) follows the ReLU of conv1 and conv2; max-pooling is 3x3 stride 2
(overlapping, section 3.4); dropout 0.5 follows fc6 and fc7 (section 4.2).

Input size: the paper says 224x224x3, but then conv1 (11x11, stride 4, no padding) gives
(224-11)/4+1 = 54.25, not the 55x55 of Figure 2.  227x227 gives (227-11)/4+1 = 55 exactly, as
in Caffe's reference model, so 227 is the default.
"""
from __future__ import annotations

from cnncost.spec import LRN, AdaptivePool2d, Dropout, Flatten, Linear, MaxPool2d, seq
from cnncost.zoo import register
from cnncost.zoo.blocks import conv_relu, fc_relu_dropout

PAPER = "Krizhevsky, Sutskever & Hinton 2012, ImageNet Classification with Deep CNNs (NIPS), Fig. 2, sec. 3"
NOTES = ("Input 227x227x3, not the paper's 224: with conv1 11x11/4 unpadded, 227 gives the 55x55 of "
         "Figure 2 ((227-11)/4+1 = 55), 224 does not.")


def _lrn(name: str) -> LRN:
    return LRN(size=5, alpha=1e-4, beta=0.75, k=2.0, name=name)


@register("alexnet", input_shape=(3, 227, 227), source=PAPER,
          summary="AlexNet as in the paper: two-GPU grouping (conv2, conv4, conv5 groups=2), LRN, dropout",
          notes=NOTES + " conv3 and the FC layers connect across both GPUs.")
def alexnet(groups: int = 2, classes: int = 1000, dropout: float = 0.5, lrn: bool = True):
    """conv1 96@11x11/4 - conv2 256@5x5 - conv3 384@3x3 - conv4 384@3x3 - conv5 256@3x3 - fc 4096-4096-classes."""
    norm = (lambda name: (_lrn(name),)) if lrn else (lambda name: ())
    return seq(
        *conv_relu("conv1", 96, 11, stride=4), *norm("lrn1"), MaxPool2d(3, 2, name="pool1"),
        *conv_relu("conv2", 256, 5, padding=2, groups=groups), *norm("lrn2"), MaxPool2d(3, 2, name="pool2"),
        *conv_relu("conv3", 384, 3, padding=1),
        *conv_relu("conv4", 384, 3, padding=1, groups=groups),
        *conv_relu("conv5", 256, 3, padding=1, groups=groups), MaxPool2d(3, 2, name="pool5"),
        Flatten(name="flatten"),
        *fc_relu_dropout("fc6", 4096, dropout), *fc_relu_dropout("fc7", 4096, dropout),
        Linear(classes, name="fc8"),
    )


@register("alexnet-1gpu", input_shape=(3, 227, 227), source=PAPER,
          summary="AlexNet on one GPU: the paper's layers with every layer fully connected across channels",
          notes=NOTES + " Without groups conv2, conv4 and conv5 see all input channels (+1,413,120 weights).")
def alexnet_1gpu(classes: int = 1000, dropout: float = 0.5, lrn: bool = True):
    return alexnet(groups=1, classes=classes, dropout=dropout, lrn=lrn)


@register("alexnet-tv", input_shape=(3, 224, 224),
          source="torchvision.models.alexnet (after Krizhevsky 2014, One weird trick, arXiv:1404.5997)",
          summary="torchvision's AlexNet: 64/192/384/256/256 filters, padded conv1, no LRN, adaptive pool 6x6",
          notes="Dropout precedes fc6 and fc7 (torchvision's order); AdaptiveAvgPool2d(6) makes any input >= 63 "
                "give 256x6x6 to fc6 (an identity at 224).")
def alexnet_tv(classes: int = 1000, dropout: float = 0.5):
    drop = (lambda name: (Dropout(dropout, name=name),)) if dropout > 0 else (lambda name: ())
    return seq(
        *conv_relu("conv1", 64, 11, stride=4, padding=2), MaxPool2d(3, 2, name="pool1"),
        *conv_relu("conv2", 192, 5, padding=2), MaxPool2d(3, 2, name="pool2"),
        *conv_relu("conv3", 384, 3, padding=1),
        *conv_relu("conv4", 256, 3, padding=1),
        *conv_relu("conv5", 256, 3, padding=1), MaxPool2d(3, 2, name="pool5"),
        AdaptivePool2d("avg", 6, name="avgpool"), Flatten(name="flatten"),
        *drop("drop6"), *fc_relu_dropout("fc6", 4096, 0), *drop("drop7"), *fc_relu_dropout("fc7", 4096, 0),
        Linear(classes, name="fc8"),
    )


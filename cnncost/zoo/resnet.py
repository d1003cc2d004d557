"""ResNets: He, Zhang, Ren & Sun 2016, "Deep Residual Learning for Image Recognition" (CVPR).

ImageNet models (Table 1) in torchvision's layout: convolutions without bias, each followed by
BatchNorm; a projection shortcut (1x1 conv + BN, option B) wherever the shape changes; ReLU
after the addition.  Bottleneck blocks put the stride on the 3x3 convolution, as torchvision
does ("ResNet v1.5"); the paper puts it on the first 1x1.  Parameter counts are unaffected;
MACs of the first block of stages 2-4 are higher with the stride on the 3x3.

CIFAR models (section 4.2, Table 6): 6n+2 layers, a 3x3 conv of 16 filters, three stages of n
basic blocks with 16, 32 and 64 filters (feature maps 32, 16, 8), global average pooling and a
10-way fc.  Shortcuts are identities, with option A (subsample, zero-pad channels:
`ShortcutPad`) where the shape changes, so the shortcuts add no parameters.

`small_input=True` (for 28x28 or 32x32 images, e.g. Fashion-MNIST at input_shape (1, 28, 28)) replaces
the 7x7/2 conv and the max-pool by a 3x3/1 conv (pad 1), as in the CIFAR variants of the paper's
section 4.2; the stages are unchanged, so feature maps are 28, 14, 7, 4 for a 28x28 input.  The
input channels come from the input shape given to `analyze`/`build`.

Every block is a named Sequence (layer1.0, ...) holding the Residual `res` and the ReLU after it.
"""
from __future__ import annotations

from cnncost.errors import CostError
from cnncost.spec import Activation, GlobalPool, Linear, MaxPool2d, Residual, ShortcutPad, Flatten, seq
from cnncost.zoo import register
from cnncost.zoo.blocks import conv_bn

PAPER = "He, Zhang, Ren & Sun 2016, Deep Residual Learning for Image Recognition (CVPR)"
TORCHVISION = PAPER + ", Table 1; layout of torchvision.models.resnet"


def _block(body: tuple, shortcut, name: str):
    return seq(Residual(seq(*body), shortcut, name="res"), Activation("relu", name="relu"), name=name)


def basic_block(planes: int, stride: int, shortcut, name: str):
    """3x3 conv-BN-ReLU, 3x3 conv-BN, + shortcut, ReLU (Figure 5 left)."""
    return _block((*conv_bn(planes, 3, stride, 1, conv="conv1", bn="bn1"), Activation("relu", name="relu1"),
                   *conv_bn(planes, 3, 1, 1, conv="conv2", bn="bn2")), shortcut, name)


def bottleneck(planes: int, stride: int, shortcut, name: str, stride_on_3x3: bool = True):
    """1x1 (planes) - 3x3 (planes) - 1x1 (4*planes), BN after each, + shortcut, ReLU (Figure 5 right);
    the stride on the 3x3 (torchvision) or on the first 1x1 (the paper)."""
    s1, s3 = (1, stride) if stride_on_3x3 else (stride, 1)
    return _block((*conv_bn(planes, 1, s1, 0, conv="conv1", bn="bn1"), Activation("relu", name="relu1"),
                   *conv_bn(planes, 3, s3, 1, conv="conv2", bn="bn2"), Activation("relu", name="relu2"),
                   *conv_bn(4 * planes, 1, 1, 0, conv="conv3", bn="bn3")), shortcut, name)


#: depth -> (block kind, expansion, blocks per stage) from Table 1
IMAGENET = {18: ("basic", 1, (2, 2, 2, 2)), 34: ("basic", 1, (3, 4, 6, 3)), 50: ("bottleneck", 4, (3, 4, 6, 3)),
            101: ("bottleneck", 4, (3, 4, 23, 3)), 152: ("bottleneck", 4, (3, 8, 36, 3))}
TORCHVISION_PARAMS = {18: 11_689_512, 34: 21_797_672, 50: 25_557_032, 101: 44_549_160, 152: 60_192_808}


def resnet(depth: int = 50, classes: int = 1000, stride_on_3x3: bool = True, small_input: bool = False):
    """conv1 7x7/2 64 - maxpool 3x3/2 - layer1..layer4 (64, 128, 256, 512 planes) - avgpool - fc.
    stride_on_3x3=False puts a bottleneck's stride on its first 1x1, as the paper does;
    small_input=True uses a 3x3/1 conv1 and no max-pool (for 28x28 / 32x32 images)."""
    if depth not in IMAGENET:
        raise CostError(f"resnet: depth must be one of {', '.join(map(str, IMAGENET))}, got {depth}")
    kind, expansion, counts = IMAGENET[depth]
    def make(planes, stride, shortcut, name):
        if kind == "basic":
            return basic_block(planes, stride, shortcut, name)
        return bottleneck(planes, stride, shortcut, name, stride_on_3x3)

    stages, channels = [], 64
    for i, (planes, n) in enumerate(zip((64, 128, 256, 512), counts), start=1):
        blocks = []
        for j in range(n):
            stride = 2 if i > 1 and j == 0 else 1
            out = planes * expansion
            shortcut = seq(*conv_bn(out, 1, stride, 0)) if stride != 1 or channels != out else None
            blocks.append(make(planes, stride, shortcut, str(j)))
            channels = out
        stages.append(seq(*blocks, name=f"layer{i}"))
    stem = ((*conv_bn(64, 3, 1, 1, conv="conv1", bn="bn1"), Activation("relu", name="relu")) if small_input else
            (*conv_bn(64, 7, 2, 3, conv="conv1", bn="bn1"), Activation("relu", name="relu"),
             MaxPool2d(3, 2, 1, name="maxpool")))
    return seq(*stem, *stages,
               GlobalPool("avg", name="avgpool"), Flatten(name="flatten"), Linear(classes, name="fc"))


def _register_imagenet(depth: int):
    kind = IMAGENET[depth][0]

    @register(f"resnet{depth}", input_shape=(3, 224, 224), source=TORCHVISION,
              summary=f"ResNet-{depth} (ImageNet, {kind} blocks, torchvision layout: "
                      f"{TORCHVISION_PARAMS[depth]:,} params)",
              notes="Projection shortcuts (1x1 conv + BN) on shape changes. " +
                    ("Stride 2 on the 3x3 of the bottleneck, as torchvision; stride_on_3x3=False strides the "
                     "first 1x1 as the paper does (fewer MACs, same params)." if kind == "bottleneck" else "") +
                    " small_input=True: 3x3/1 stem without max-pool for 28x28/32x32 inputs (any channel count).")
    def factory(classes: int = 1000, stride_on_3x3: bool = True, small_input: bool = False):
        return resnet(depth, classes, stride_on_3x3, small_input)

    factory.__name__ = f"resnet{depth}"
    return factory


resnet18, resnet34, resnet50, resnet101, resnet152 = (_register_imagenet(d) for d in IMAGENET)

#: CIFAR depths of He et al. 2016 Table 6 and their published parameter counts (in millions)
CIFAR_TABLE6 = {20: 0.27, 32: 0.46, 44: 0.66, 56: 0.85, 110: 1.7}


def cifar_resnet(depth: int = 20, classes: int = 10, width: int = 16):
    """conv 3x3 (width) - 3 stages of n = (depth-2)/6 basic blocks (width, 2*width, 4*width) - avgpool - fc."""
    if isinstance(depth, bool) or not isinstance(depth, int) or depth < 8 or (depth - 2) % 6:
        raise CostError(f"CIFAR ResNet depth must be 6n+2 with n >= 1 (8, 14, 20, 32, 44, 56, 110, ...), "
                        f"got {depth!r}")
    n = (depth - 2) // 6
    stages = []
    for i, planes in enumerate((width, 2 * width, 4 * width), start=1):
        blocks = []
        for j in range(n):
            stride = 2 if i > 1 and j == 0 else 1
            shortcut = seq(ShortcutPad(planes, stride, name="pad")) if stride != 1 else None
            blocks.append(basic_block(planes, stride, shortcut, str(j)))
        stages.append(seq(*blocks, name=f"layer{i}"))
    return seq(*conv_bn(width, 3, 1, 1, conv="conv1", bn="bn1"), Activation("relu", name="relu"), *stages,
               GlobalPool("avg", name="avgpool"), Flatten(name="flatten"), Linear(classes, name="fc"))


CIFAR_NOTES = ("Option A shortcuts (stride-2 subsampling + zero channel padding) add no parameters; "
               "counts equal the common option-A implementation.")


@register("resnet-cifar", input_shape=(3, 32, 32), source=PAPER + ", section 4.2, Table 6",
          summary="CIFAR ResNet of any depth 6n+2 (option depth=...)", notes=CIFAR_NOTES, shown=("depth",))
def resnet_cifar(depth: int = 20, classes: int = 10, width: int = 16):
    return cifar_resnet(depth, classes, width)


def _register_cifar(depth: int):
    @register(f"resnet{depth}", input_shape=(3, 32, 32), source=PAPER + ", section 4.2, Table 6",
              summary=f"ResNet-{depth} for CIFAR-10 (n={(depth - 2) // 6}; Table 6: {CIFAR_TABLE6[depth]}M params)",
              notes=CIFAR_NOTES)
    def factory(classes: int = 10, width: int = 16):
        return cifar_resnet(depth, classes, width)

    factory.__name__ = f"resnet{depth}"
    return factory


resnet20, resnet32, resnet44, resnet56, resnet110 = (_register_cifar(d) for d in CIFAR_TABLE6)

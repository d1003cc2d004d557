"""ResNets against hand arithmetic, He et al. 2016 (Table 1, Table 6) and torchvision."""
import pytest

from cnncost import analyze, zoo
from cnncost.errors import CostError
from cnncost.zoo.resnet import cifar_resnet


def report(name, **opts):
    m = zoo.get(name, **opts)
    return analyze(m.spec, m.input_shape)


def test_resnet18_by_hand():
    stem = 7 * 7 * 3 * 64 + 2 * 64                                          # conv1 + bn1
    layer1 = 4 * 9 * 64 * 64 + 4 * 2 * 64
    layer2 = 9 * 64 * 128 + 3 * 9 * 128 * 128 + 64 * 128 + 5 * 2 * 128     # 4 convs + 1x1 projection, 5 BNs
    layer3 = 9 * 128 * 256 + 3 * 9 * 256 * 256 + 128 * 256 + 5 * 2 * 256
    layer4 = 9 * 256 * 512 + 3 * 9 * 512 * 512 + 256 * 512 + 5 * 2 * 512
    fc = 512 * 1000 + 1000
    assert stem + layer1 + layer2 + layer3 + layer4 + fc == 11_689_512
    assert report("resnet18").total["params"] == 11_689_512


def test_resnet_names_and_bottleneck_stride():
    r = report("resnet50")
    by = {row.name: row for row in r.rows}
    # stride on the 3x3 (torchvision): the first 1x1 of layer2.0 keeps 56x56, the 3x3 halves it
    assert by["layer2.0.res.conv1"].output_shape == (128, 56, 56)
    assert by["layer2.0.res.conv2"].output_shape == (128, 28, 28)
    assert by["layer1.0.res.shortcut.conv"].output_shape == (256, 56, 56)   # 64 -> 256 projection
    assert "layer1.1.res.shortcut.conv" not in by                           # identity
    assert by["layer4.2.relu"].output_shape == (2048, 7, 7)
    assert by["fc"].output_shape == (1000,)
    assert all(row.biases == 0 for row in r.rows if row.kind == "conv")
    # 50 = 1 + 3*(3+4+6+3) convs on the main path + fc
    main = [row for row in r.rows if row.kind == "conv" and "shortcut" not in row.name]
    assert len(main) + 1 == 50


def test_imagenet_depth_check():
    from cnncost.zoo.resnet import resnet
    with pytest.raises(CostError, match="depth"):
        resnet(42)


@pytest.mark.torch
@pytest.mark.parametrize("depth,expected", [(18, 11_689_512), (34, 21_797_672), (50, 25_557_032),
                                            (101, 44_549_160), (152, 60_192_808)])
def test_equals_torchvision(depth, expected):
    pytest.importorskip("torchvision")
    import torch
    import torchvision
    with torch.device("meta"):
        net = getattr(torchvision.models, f"resnet{depth}")()
    layers = (torch.nn.Conv2d, torch.nn.BatchNorm2d, torch.nn.Linear)
    theirs = [(m.weight.numel(), 0 if m.bias is None else m.bias.numel())
              for m in net.modules() if isinstance(m, layers)]
    r = report(f"resnet{depth}")
    assert [(row.weights, row.biases) for row in r.rows if row.kind in ("conv", "bn", "fc")] == theirs
    assert r.total["params"] == sum(p.numel() for p in net.parameters()) == expected


@pytest.mark.torch
@pytest.mark.parametrize("depth", [18, 50])
def test_flops_equal_fvcore(depth):
    pytest.importorskip("fvcore")
    import torch
    import torchvision
    from fvcore.nn import FlopCountAnalysis
    # 128x128 keeps the forward pass fast; the rules are the same at any size
    fl = FlopCountAnalysis(getattr(torchvision.models, f"resnet{depth}")().eval(), torch.zeros(1, 3, 128, 128))
    fl.unsupported_ops_warnings(False)
    m = zoo.get(f"resnet{depth}")
    assert analyze(m.spec, (3, 128, 128), convention="fvcore").total["flops"] == fl.total()


# He et al. 2016 section 4.2: 6n+2 layers, 16/32/64 filters; Table 6 params in millions
TABLE6 = {20: 0.27, 32: 0.46, 44: 0.66, 56: 0.85, 110: 1.7}
PUBLISHED = {20: 269_722, 32: 464_154, 44: 658_586, 56: 853_018, 110: 1_727_962}


def cifar_by_hand(n):
    """stem conv 3x3x3x16 + BN; per stage, blocks of two 3x3 convs + 2 BNs; option A adds nothing."""
    total = 9 * 3 * 16 + 2 * 16
    for cin, c in ((16, 16), (16, 32), (32, 64)):
        total += 9 * cin * c + 9 * c * c + 4 * c              # first block (may widen)
        total += (n - 1) * (2 * 9 * c * c + 4 * c)            # the rest
    return total + 64 * 10 + 10


@pytest.mark.parametrize("depth", TABLE6)
def test_cifar_params(depth):
    r = report(f"resnet{depth}")
    n = (depth - 2) // 6
    assert r.total["params"] == cifar_by_hand(n) == PUBLISHED[depth]
    assert round(r.total["params"] / 1e6, 2 if depth < 100 else 1) == TABLE6[depth]
    assert sum(1 for row in r.rows if row.kind in ("conv", "fc")) == depth
    assert r.total["output_shape"] == (10,)


def test_cifar_shapes_and_option_a():
    r = report("resnet20")
    by = {row.name: row for row in r.rows}
    # feature maps 32, 16, 8 with 16, 32, 64 filters (section 4.2)
    assert by["layer1.2.relu"].output_shape == (16, 32, 32)
    assert by["layer2.0.res.shortcut.pad"].output_shape == (32, 16, 16)
    assert by["layer3.2.relu"].output_shape == (64, 8, 8)
    pads = [row for row in r.rows if row.kind == "shortcut"]
    assert [p.name for p in pads] == ["layer2.0.res.shortcut.pad", "layer3.0.res.shortcut.pad"]
    assert all(p.params == 0 and p.macs == 0 for p in pads)


def test_cifar_generic_depth():
    assert analyze(cifar_resnet(8), (3, 32, 32)).total["params"] == cifar_by_hand(1)
    assert analyze(zoo.get("resnet-cifar", depth=1202).spec, (3, 32, 32)).total["params"] == cifar_by_hand(200)
    for bad in (21, 2, 0, "20", 20.0):
        with pytest.raises(CostError, match="6n\\+2"):
            cifar_resnet(bad)
    with pytest.raises(CostError, match="6n\\+2"):
        zoo.get("resnet-cifar", depth=51)


def test_paper_stride_placement_and_table1_flops():
    v15, v1 = report("resnet50"), report("resnet50", stride_on_3x3=False)
    assert v1.total["params"] == v15.total["params"] == 25_557_032
    by = {row.name: row for row in v1.rows}
    assert by["layer2.0.res.conv1"].output_shape == (128, 28, 28)   # the paper: stride on the first 1x1
    # only the first 1x1 of layer2.0/3.0/4.0 changes: it runs at 4x the positions when not strided
    diff = sum(3 * (h // 2) ** 2 * cout * cin for h, cin, cout in ((56, 256, 128), (28, 512, 256), (14, 1024, 512)))
    assert diff == 231_211_008
    assert v15.total["macs"] - v1.total["macs"] == diff
    # He et al. 2016 Table 1 "FLOPs" (multiply-adds): 1.8, 3.6, 3.8, 7.6, 11.3 x 10^9
    for depth, paper in ((18, 1.8), (34, 3.6), (50, 3.8), (101, 7.6), (152, 11.3)):
        macs = report(f"resnet{depth}", stride_on_3x3=False).total["macs"]
        assert abs(macs / 1e9 - paper) < 0.1, depth

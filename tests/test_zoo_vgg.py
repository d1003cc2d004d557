"""VGG counts against hand arithmetic from Simonyan & Zisserman 2015 Table 1 and against torchvision."""
import pytest

from cnncost import analyze, zoo

# Table 1 of the paper, typed here from the paper: conv widths per configuration, "M" = max-pool
TABLE1 = {
    "A": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "B": [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "D": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
    "E": [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M"],
}
NAMES = {"A": "vgg11", "B": "vgg13", "D": "vgg16", "E": "vgg19"}
# torchvision's documented parameter counts (torchvision.models docs, "Params" column)
TORCHVISION = {"vgg11": 132_863_336, "vgg13": 133_047_848, "vgg16": 138_357_544, "vgg19": 143_667_240}


def by_hand(config):
    """3x3 conv weights 9*C_in*C_out + C_out biases; fc 25088-4096-4096-1000 with biases."""
    weights = biases = 0
    cin = 3
    for v in TABLE1[config]:
        if v != "M":
            weights, biases, cin = weights + 9 * cin * v, biases + v, v
    for fin, fout in ((512 * 7 * 7, 4096), (4096, 4096), (4096, 1000)):
        weights, biases = weights + fin * fout, biases + fout
    return weights, biases


def report(name, **opts):
    m = zoo.get(name, **opts)
    return analyze(m.spec, m.input_shape)


@pytest.mark.parametrize("config", TABLE1)
def test_params_by_hand_equal_torchvision_figure(config):
    name = NAMES[config]
    w, b = by_hand(config)
    r = report(name)
    assert (r.total["weights"], r.total["biases"]) == (w, b)
    assert w + b == TORCHVISION[name]
    # depth = convs + 3 FC layers (the "11 weight layers" etc. of Table 1)
    assert sum(1 for row in r.rows if row.kind in ("conv", "fc")) == int(name[3:])
    assert f"configuration {config}" in zoo.entry(name).summary


def test_vgg19_weights_without_biases():
    # biases: 64*2 + 128*2 + 256*4 + 512*8 = 5,504 conv, 4096 + 4096 + 1000 = 9,192 fc
    assert report("vgg19").total["weights"] == 143_667_240 - 5_504 - 9_192 == 143_652_544


def test_vgg16_names_shapes_and_macs():
    r = report("vgg16")
    by = {row.name: row for row in r.rows}
    assert by["conv1_1"].output_shape == (64, 224, 224)
    assert by["pool5"].output_shape == (512, 7, 7)
    assert [row.name for row in r.rows][:5] == ["conv1_1", "relu1_1", "conv1_2", "relu1_2", "pool1"]
    assert by["conv5_3"].macs == 14 * 14 * 512 * 9 * 512
    # MACs by hand: per conv H*W*C_out*9*C_in at the resolution of its block, plus the FC layers
    macs, cin, size = 0, 3, 224
    for v in TABLE1["D"]:
        if v == "M":
            size //= 2
        else:
            macs, cin = macs + size * size * v * 9 * cin, v
    macs += 25088 * 4096 + 4096 * 4096 + 4096 * 1000
    assert r.total["macs"] == macs


def test_batch_norm_option_adds_gamma_beta():
    plain, bn = report("vgg11"), report("vgg11", batch_norm=True)
    convs = [64, 128, 256, 256, 512, 512, 512, 512]
    assert bn.total["params"] - plain.total["params"] == 2 * sum(convs)


@pytest.mark.torch
@pytest.mark.parametrize("name", ["vgg11", "vgg19"])
def test_equals_torchvision(name):
    pytest.importorskip("torchvision")
    import torch
    import torchvision
    with torch.device("meta"):   # shapes only: no memory, no initialisation
        net = getattr(torchvision.models, name)()
    theirs = [(m.weight.numel(), m.bias.numel()) for m in net.modules()
              if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    r = report(name)
    assert [(row.weights, row.biases) for row in r.rows if row.kind in ("conv", "fc")] == theirs
    assert r.total["params"] == sum(p.numel() for p in net.parameters())


@pytest.mark.torch
def test_vgg11_bn_equals_torchvision():
    pytest.importorskip("torchvision")
    import torch
    import torchvision
    with torch.device("meta"):
        net = torchvision.models.vgg11_bn()
    assert report("vgg11", batch_norm=True).total["params"] == sum(p.numel() for p in net.parameters())


@pytest.mark.torch
def test_vgg11_flops_equal_fvcore():
    pytest.importorskip("fvcore")
    import torch
    import torchvision
    from fvcore.nn import FlopCountAnalysis
    fl = FlopCountAnalysis(torchvision.models.vgg11().eval(), torch.zeros(1, 3, 224, 224))
    fl.unsupported_ops_warnings(False)
    m = zoo.get("vgg11")
    ours = analyze(m.spec, m.input_shape, convention="fvcore").total["flops"]
    # torchvision adds AdaptiveAvgPool2d(7) on the 7x7x512 map, which fvcore counts 1 per input
    # element; our VGG (the paper's) has no such layer
    assert ours + 512 * 7 * 7 == fl.total()

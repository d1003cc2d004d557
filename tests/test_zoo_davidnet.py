"""DavidNet (Page 2018, cifar10-fast ResNet-9) against hand arithmetic."""
from cnncost import analyze, zoo


def report(**opts):
    m = zoo.get("davidnet", **opts)
    return analyze(m.spec, m.input_shape)


def conv_bn(cin, cout):
    """3x3 conv without bias + BatchNorm (gamma and beta per channel)."""
    return 9 * cin * cout + 2 * cout


def test_params_by_hand():
    by_hand = (conv_bn(3, 64)                                    # prep
               + conv_bn(64, 128) + 2 * conv_bn(128, 128)        # layer1 + its residual
               + conv_bn(128, 256)                               # layer2
               + conv_bn(256, 512) + 2 * conv_bn(512, 512)       # layer3 + its residual
               + 512 * 10)                                       # fc, no bias
    assert by_hand == 6_573_120
    r = report()
    assert r.total["params"] == by_hand
    assert r.total["biases"] == 64 + 128 * 3 + 256 + 512 * 3   # only the BN betas


def test_layout_names_and_shapes():
    r = report()
    by = {row.name: row for row in r.rows}
    expect = {"prep.conv": (64, 32, 32), "layer1.pool": (128, 16, 16), "layer1.res.res2.relu": (128, 16, 16),
              "layer1.res.add": (128, 16, 16), "layer2.pool": (256, 8, 8), "layer3.pool": (512, 4, 4),
              "layer3.res.add": (512, 4, 4), "pool": (512, 1, 1), "fc": (10,), "scale": (10,)}
    for name, shape in expect.items():
        assert by[name].output_shape == shape, name
    assert by["pool"].kind == "adaptive_maxpool"
    assert by["fc"].biases == 0
    assert "layer2.res.add" not in by
    convs = [row for row in r.rows if row.kind == "conv"]
    assert len(convs) == 8 and all(row.biases == 0 for row in convs)
    assert sum(1 for row in r.rows if row.kind == "bn") == sum(1 for row in r.rows if row.kind == "relu") == 8
    assert zoo.get("davidnet").spec.layers[-1].factor == 0.125
    # conv MACs at 32x32: prep at 32, layer1 conv at 32, res at 16, layer2 at 16, layer3 at 8, res at 4
    macs = (32 * 32 * 9 * 3 * 64 + 32 * 32 * 9 * 64 * 128 + 2 * 16 * 16 * 9 * 128 * 128
            + 16 * 16 * 9 * 128 * 256 + 8 * 8 * 9 * 256 * 512 + 2 * 4 * 4 * 9 * 512 * 512)
    assert sum(row.macs for row in convs) == macs


def test_options():
    r = report(classes=100, widths=(32, 64, 128, 256))
    assert r.total["output_shape"] == (100,)
    assert r.total["params"] == (conv_bn(3, 32) + conv_bn(32, 64) + 2 * conv_bn(64, 64) + conv_bn(64, 128)
                                 + conv_bn(128, 256) + 2 * conv_bn(256, 256) + 256 * 100)

"""AlexNet counts against hand arithmetic from the paper's layer table (Krizhevsky et al. 2012,
Figure 2 and section 3) and, for the torchvision variant, against torchvision itself."""
import pytest

from cnncost import analyze, zoo
from cnncost.errors import CostError


def report(name, **opts):
    m = zoo.get(name, **opts)
    return analyze(m.spec, m.input_shape)


def rows(r):
    return {row.name: row for row in r.rows}


# (name, kernel, input channels seen by each filter, filters) of the paper; grouped layers see half the
# previous layer's maps (Figure 2: "kernels of the second, fourth, and fifth convolutional layers are
# connected only to those kernel maps in the previous layer which reside on the same GPU")
PAPER_GROUPED = [("conv1", 11, 3, 96), ("conv2", 5, 96 // 2, 256), ("conv3", 3, 256, 384),
                 ("conv4", 3, 384 // 2, 384), ("conv5", 3, 384 // 2, 256)]
FC = [("fc6", 256 * 6 * 6, 4096), ("fc7", 4096, 4096), ("fc8", 4096, 1000)]


def test_grouped_params_layer_by_layer():
    by = rows(report("alexnet"))
    total = 0
    for name, k, cin, cout in PAPER_GROUPED:
        assert by[name].weights == k * k * cin * cout, name
        assert by[name].biases == cout, name
        total += k * k * cin * cout + cout
    for name, fin, fout in FC:
        assert (by[name].weights, by[name].biases) == (fin * fout, fout), name
        total += fin * fout + fout
    # written out: 34,944 + 307,456 + 885,120 + 663,936 + 442,624 + 37,752,832 + 16,781,312 + 4,097,000
    assert total == 34_944 + 307_456 + 885_120 + 663_936 + 442_624 + 37_752_832 + 16_781_312 + 4_097_000
    assert total == 60_965_224
    assert report("alexnet").total["params"] == 60_965_224


def test_ungrouped_params_differ_only_in_conv2_conv4_conv5():
    one, two = rows(report("alexnet-1gpu")), rows(report("alexnet"))
    # without groups every filter sees all input maps: twice the weights in the grouped layers
    extra = {"conv2": 5 * 5 * 48 * 256, "conv4": 3 * 3 * 192 * 384, "conv5": 3 * 3 * 192 * 256}
    for name in two:
        assert one[name].weights - two[name].weights == extra.get(name, 0), name
    assert sum(extra.values()) == 1_413_120
    assert report("alexnet-1gpu").total["params"] == 60_965_224 + 1_413_120 == 62_378_344
    assert report("alexnet", groups=1).total["params"] == 62_378_344


def test_paper_shapes_at_227():
    by = rows(report("alexnet"))
    # Figure 2: 55x55x96 (conv1), 27x27x256 (conv2), 13x13x384, 13x13x384, 13x13x256; 6x6x256 into fc6
    expect = {"conv1": (96, 55, 55), "pool1": (96, 27, 27), "conv2": (256, 27, 27), "pool2": (256, 13, 13),
              "conv3": (384, 13, 13), "conv4": (384, 13, 13), "conv5": (256, 13, 13), "pool5": (256, 6, 6),
              "fc8": (1000,)}
    for name, shape in expect.items():
        assert by[name].output_shape == shape, name


def test_paper_neuron_counts():
    # section 3: "the number of neurons in the network's remaining layers is given by
    # 253,440-186,624-64,896-64,896-43,264-4096-4096-1000"; conv1's 253,440 is not 55*55*96
    by = rows(report("alexnet"))
    ours = [by[n].elements for n in ("conv2", "conv3", "conv4", "conv5", "fc6", "fc7", "fc8")]
    assert ours == [186_624, 64_896, 64_896, 43_264, 4096, 4096, 1000]
    assert by["conv1"].elements == 55 * 55 * 96 == 290_400 != 253_440


def test_224_does_not_give_55():
    m = zoo.get("alexnet")
    by = rows(analyze(m.spec, (3, 224, 224)))
    assert by["conv1"].output_shape == (96, 54, 54)   # floor((224 - 11) / 4) + 1 = 54
    assert "227" in m.notes


def test_layer_order_lrn_and_dropout():
    r = report("alexnet")
    names = [row.name for row in r.rows]
    assert names[:8] == ["conv1", "relu1", "lrn1", "pool1", "conv2", "relu2", "lrn2", "pool2"]
    assert names[-8:] == ["flatten", "fc6", "relu6", "drop6", "fc7", "relu7", "drop7", "fc8"]
    lrn = zoo.get("alexnet").spec.layers[2]
    assert (lrn.size, lrn.alpha, lrn.beta, lrn.k) == (5, 1e-4, 0.75, 2.0)   # section 3.3
    pool = zoo.get("alexnet").spec.layers[3]
    assert (pool.kernel, pool.stride) == ((3, 3), (2, 2))                    # section 3.4, z=3 s=2
    assert "lrn1" not in [row.name for row in report("alexnet", lrn=False).rows]
    assert "drop6" not in [row.name for row in report("alexnet", dropout=0).rows]


def test_grouped_macs_are_half_in_grouped_layers():
    one, two = rows(report("alexnet-1gpu")), rows(report("alexnet"))
    assert two["conv2"].macs == 27 * 27 * 256 * (5 * 5 * 48)
    for name in ("conv2", "conv4", "conv5"):
        assert one[name].macs == 2 * two[name].macs
    assert one["conv3"].macs == two["conv3"].macs == 13 * 13 * 384 * (3 * 3 * 256)


def test_bad_groups_is_a_cost_error():
    with pytest.raises(CostError, match="groups"):
        report("alexnet", groups=5)   # 96 input maps do not split into 5 groups


def test_tv_by_hand():
    # features: 3*64*121+64, 64*192*25+192, 192*384*9+384, 384*256*9+256, 256*256*9+256; classifier 9216-4096-4096-1000
    by_hand = (23_296 + 307_392 + 663_936 + 884_992 + 590_080
               + 9216 * 4096 + 4096 + 4096 * 4096 + 4096 + 4096 * 1000 + 1000)
    assert by_hand == 61_100_840
    r = report("alexnet-tv")
    assert r.total["params"] == by_hand
    assert rows(r)["avgpool"].output_shape == (256, 6, 6)
    names = [row.name for row in r.rows]
    assert names.index("drop6") < names.index("fc6") < names.index("drop7") < names.index("fc7")


@pytest.mark.torch
def test_tv_equals_torchvision_layer_by_layer():
    pytest.importorskip("torchvision")
    import torch
    import torchvision
    with torch.device("meta"):   # shapes only: no memory, no initialisation
        net = torchvision.models.alexnet()
    theirs = [(m.weight.numel(), m.bias.numel()) for m in net.modules()
              if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    r = report("alexnet-tv")
    ours = [(row.weights, row.biases) for row in r.rows if row.kind in ("conv", "fc")]
    assert ours == theirs
    assert r.total["params"] == sum(p.numel() for p in net.parameters()) == 61_100_840
    assert tuple(net.features(torch.zeros(1, 3, 224, 224, device="meta")).shape[1:]) == rows(r)["pool5"].output_shape

"""Rows as the papers count them: ReLU, dropout and flatten fold into the layer they follow.

Expected values are hand arithmetic from the VGG paper's Table 1 (configuration E, 224x224x3) and
the classic per-layer table (tables/vgg19.md): conv, pool and FC outputs only."""
import re
from pathlib import Path

from cnncost.fold import fold
from cnncost.resolve import analyze

# conv outputs (2 + 2 + 4 + 4 + 4 convs), 2x2 pool outputs, fc6, fc7, fc8
CONV = 2 * 224 * 224 * 64 + 2 * 112 * 112 * 128 + 4 * 56 * 56 * 256 + 4 * 28 * 28 * 512 + 4 * 14 * 14 * 512
POOL = 112 * 112 * 64 + 56 * 56 * 128 + 28 * 28 * 256 + 14 * 14 * 512 + 7 * 7 * 512
PAPER = CONV + POOL + 4096 + 4096 + 1000
# every module: each conv's ReLU, flatten (25,088), fc6/fc7's ReLU and dropout
EVERY = 2 * CONV + POOL + 7 * 7 * 512 + 3 * 4096 + 3 * 4096 + 1000


def test_vgg19_folds_to_the_papers_rows_and_total():
    report = fold(analyze("vgg19"))
    assert PAPER == 16_391_656
    assert report.total["activations"] == PAPER
    assert report.total["activations"] + 224 * 224 * 3 == 16_542_184     # with the input
    assert report.total["elements"] == EVERY                              # JSON keeps both
    assert len(report.rows) == 16 + 5 + 3                                 # Table 1: 16 convs, 5 pools, 3 FC
    assert report.rows[0].members == ("conv1_1", "relu1_1")
    assert report.rows[-3].members == ("fc6", "relu6", "drop6")
    pool5 = next(r for r in report.rows if r.name == "pool5")
    assert pool5.members == ("pool5", "flatten") and pool5.output_shape == (512, 7, 7)


def test_vgg19_total_equals_the_committed_table():
    text = Path(__file__).resolve().parents[1].joinpath("tables", "vgg19.md").read_text()
    total = re.search(r"\| TOTAL \| \*\*([\d,]+)\*\*", text).group(1)
    assert int(total.replace(",", "")) == fold(analyze("vgg19")).total["activations"]


def test_folding_keeps_every_other_total():
    full = analyze("resnet50")
    folded = fold(full)
    for key in ("weights", "biases", "params", "macs", "flops", "rf"):
        assert folded.total[key] == full.total[key]
    assert sum(r.flops for r in folded.rows) == full.total["flops"]
    assert sum(len(r.members) for r in folded.rows) == len(full.rows)


def test_alexnet_by_hand():
    # conv1 55*55*96, lrn1, pool1 27*27*96, conv2 27*27*256, lrn2, pool2 13*13*256,
    # conv3/conv4 13*13*384, conv5 13*13*256, pool5 6*6*256, fc6, fc7 4096, fc8 1000
    expected = (2 * 55 * 55 * 96 + 27 * 27 * 96 + 2 * 27 * 27 * 256 + 13 * 13 * 256 + 2 * 13 * 13 * 384
                + 13 * 13 * 256 + 6 * 6 * 256 + 2 * 4096 + 1000)
    assert fold(analyze("alexnet")).total["activations"] == expected


def test_a_relu_after_a_residual_add_folds_into_the_add():
    report = fold(analyze("resnet20"))
    add = next(r for r in report.rows if r.name == "layer1.0.res.add")
    assert add.members == ("layer1.0.res.add", "layer1.0.relu")


def test_a_relu_whose_input_has_two_readers_keeps_its_row():
    from cnncost import spec
    from cnncost.walk import analyze as run
    net = spec.seq(spec.Conv2d(8, 3, padding=1, name="conv"),
                   spec.Residual(spec.seq(spec.Activation("relu", name="relu")), name="block"))
    report = fold(run(net, (3, 8, 8)))
    assert [r.members for r in report.rows] == [("conv",), ("block.relu",), ("block.add",)]

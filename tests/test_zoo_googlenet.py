"""Inception modules and GoogLeNet against hand arithmetic and Szegedy et al. 2015 Table 1
(params in K = 1024, ops in M = 1e6 multiply-adds, as printed in the table)."""
import pytest
import sympy

from cnncost import analyze, zoo
from cnncost.errors import CostError


def report(name, shape=None, **opts):
    m = zoo.get(name, **opts)
    return analyze(m.spec, shape or m.input_shape)


def conv_macs(r):
    return sum(row.macs for row in r.rows if row.kind == "conv")


def test_naive_module_at_28x28x256():
    r = report("inception-naive")
    hw = 28 * 28
    # 1x1: 784*256*128, 3x3: 784*9*256*192, 5x5: 784*25*256*96
    assert conv_macs(r) == hw * 256 * 128 + hw * 9 * 256 * 192 + hw * 25 * 256 * 96 == 854_196_224
    assert r.total["output_shape"] == (128 + 192 + 96 + 256, 28, 28) == (672, 28, 28)
    assert r.total["weights"] == 256 * 128 + 9 * 256 * 192 + 25 * 256 * 96


def test_reduced_module_at_28x28x256():
    r = report("inception-reduced")
    hw = 28 * 28
    by_hand = (hw * 256 * 128                      # 1x1
               + hw * 256 * 64 + hw * 9 * 64 * 192  # 1x1 reduce 64, 3x3 192
               + hw * 256 * 64 + hw * 25 * 64 * 96  # 1x1 reduce 64, 5x5 96
               + hw * 256 * 64)                     # pool projection 64
    assert conv_macs(r) == by_hand == 271_351_808
    assert r.total["output_shape"] == (480, 28, 28)
    assert 854_196_224 / by_hand == pytest.approx(3.148, abs=1e-3)


def test_module_names_and_relus():
    r = report("inception-reduced")
    names = [row.name for row in r.rows]
    for n in ("inception.1x1.conv", "inception.3x3.reduce", "inception.3x3.conv", "inception.5x5.reduce",
              "inception.5x5.conv", "inception.pool.max", "inception.pool.proj", "inception"):
        assert n in names
    convs = [row for row in r.rows if row.kind == "conv"]
    assert sum(1 for row in r.rows if row.kind == "relu") == len(convs) == 6


def test_module_options_and_symbolic_input():
    H, W = sympy.symbols("H W", positive=True, integer=True)
    r = report("inception-naive", (192, H, W), c1=64, c3=128, c5=32)
    per_pixel = 192 * 64 + 9 * 192 * 128 + 25 * 192 * 32
    assert sympy.simplify(conv_macs(r) - per_pixel * H * W) == 0
    assert r.total["output_shape"][0] == 64 + 128 + 32 + 192
    r = report("inception-reduced", (192, 28, 28), c1=64, r3=96, c3=128, r5=16, c5=32, pool_proj=32)
    assert r.total["output_shape"] == (256, 28, 28)   # Table 1, inception (3a)


def test_module_bad_filter_count_is_a_cost_error():
    with pytest.raises(CostError, match="out_channels"):
        zoo.get("inception-reduced", r3=0)


# Table 1: name -> (input channels, output HxW, #1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5, pool proj,
#                   params K, ops M)
TABLE1 = {
    "3a": (192, 28, 64, 96, 128, 16, 32, 32, 159, 128),
    "3b": (256, 28, 128, 128, 192, 32, 96, 64, 380, 304),
    "4a": (480, 14, 192, 96, 208, 16, 48, 64, 364, 73),
    "4b": (512, 14, 160, 112, 224, 24, 64, 64, 437, 88),
    "4c": (512, 14, 128, 128, 256, 24, 64, 64, 463, 100),
    "4d": (512, 14, 112, 144, 288, 32, 64, 64, 580, 119),
    "4e": (528, 14, 256, 160, 320, 32, 128, 128, 840, 170),
    "5a": (832, 7, 256, 160, 320, 32, 128, 128, 1072, 54),
    "5b": (832, 7, 384, 192, 384, 48, 128, 128, 1388, 71),
}


def module_weights(cin, c1, r3, c3, r5, c5, pp):
    return cin * (c1 + r3 + r5 + pp) + 9 * r3 * c3 + 25 * r5 * c5


def block_sums(r):
    weights, macs = {}, {}
    for row in r.rows:
        top = row.name.split(".")[0]
        weights[top] = weights.get(top, 0) + (row.weights or 0)
        macs[top] = macs.get(top, 0) + (row.macs or 0)
    return weights, macs


@pytest.fixture(scope="module")
def googlenet():
    return report("googlenet")


def test_blocks_by_hand(googlenet):
    weights, macs = block_sums(googlenet)
    by = {row.name: row for row in googlenet.rows}
    for name, (cin, hw, *filters, _, _) in TABLE1.items():
        w = module_weights(cin, *filters)
        assert weights[name] == w, name
        assert macs[name] == hw * hw * w, name
        c1, _, c3, _, c5, pp = filters
        assert by[name].output_shape == (c1 + c3 + c5 + pp, hw, hw), name


# rows where the table's params column agrees with the filter counts (to the K shown)
PARAMS_AGREE = {"3a", "3b", "4b"}


def test_against_table1(googlenet):
    weights, macs = block_sums(googlenet)
    for name, (*_, params_k, ops_m) in TABLE1.items():
        if name != "5a":   # every ops figure but 5a's agrees to within the table's rounding
            assert abs(macs[name] / 1e6 - ops_m) < 1, name
        agrees = abs(weights[name] / 1024 - params_k) <= 1
        assert agrees == (name in PARAMS_AGREE), name
    # conv2 (1x1 reduce 64 + 3x3 192) 112K / 360M; linear 1000K / 1M
    w2 = weights["conv2_reduce"] + weights["conv2"]
    assert w2 == 64 * 64 + 9 * 64 * 192 and round(w2 / 1024) == 112
    assert round((macs["conv2_reduce"] + macs["conv2"]) / 1e6) == 360
    assert weights["fc"] == 1024 * 1000 and weights["fc"] / 1024 == 1000 and round(macs["fc"] / 1e6) == 1


def test_table1_discrepancies_documented(googlenet):
    weights, macs = block_sums(googlenet)
    # conv1: the table's 2.7K / 34M, but 7x7x3 filters x 64 at 112x112 give:
    assert weights["conv1"] == 7 * 7 * 3 * 64 == 9_408
    assert macs["conv1"] == 112 * 112 * 64 * (7 * 7 * 3) == 118_013_952
    # 5a: table 1072K / 54M; the table's own filter counts give 1,042,432 (1018K) and 51.1M
    assert weights["5a"] == 1_042_432 and macs["5a"] == 7 * 7 * 1_042_432 == 51_079_168
    notes = zoo.entry("googlenet").notes
    assert "2.7K" in notes and "1072K" in notes and "auxiliary" in notes


def test_table1_output_sizes(googlenet):
    by = {row.name: row for row in googlenet.rows}
    expect = {"conv1": (64, 112, 112), "pool1": (64, 56, 56), "conv2": (192, 56, 56), "pool2": (192, 28, 28),
              "pool3": (480, 14, 14), "pool4": (832, 7, 7), "pool5": (1024, 1, 1), "fc": (1000,)}
    for name, shape in expect.items():
        assert by[name].output_shape == shape, name
    assert not any("aux" in row.name for row in googlenet.rows)
    dropout = [row for row in googlenet.rows if row.kind == "dropout"]
    assert len(dropout) == 1 and zoo.get("googlenet").spec.layers[-2].p == 0.4
    assert [row.name for row in googlenet.rows if row.kind == "lrn"] == ["lrn1", "lrn2"]


def test_total_by_hand(googlenet):
    w = 7 * 7 * 3 * 64 + 64 * 64 + 9 * 64 * 192 + 1024 * 1000
    b = 64 + 64 + 192 + 1000
    for cin, hw, c1, r3, c3, r5, c5, pp, *_ in TABLE1.values():
        w += module_weights(cin, c1, r3, c3, r5, c5, pp)
        b += c1 + r3 + c3 + r5 + c5 + pp
    assert (googlenet.total["weights"], googlenet.total["biases"]) == (w, b)


def test_all_naive_what_if():
    r = report("googlenet", reductions=False)
    by = {row.name: row for row in r.rows}
    # the pool branch passes its input through: 3a gets 192 and gives 64 + 128 + 32 + 192 = 416
    assert by["3a"].output_shape == (416, 28, 28)
    assert by["3b"].output_shape == (128 + 192 + 96 + 416, 28, 28)
    _, macs = block_sums(r)
    assert macs["3a"] == 28 * 28 * (192 * 64 + 9 * 192 * 128 + 25 * 192 * 32)
    channels = 192
    for name, (_, _, c1, _, c3, _, c5, *_rest) in TABLE1.items():
        channels = c1 + c3 + c5 + channels
        assert by[name].output_shape[0] == channels, name

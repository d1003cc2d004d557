"""Recipes as data and the fast recipe's network: counts against hand arithmetic and real modules."""
import pytest

from cnncost import analyze, zoo
from cnncost_train.engine import recipes
from cnncost_train.predict.training_flops import training_flops


def test_davidnet_recipe_is_pages():
    # Page 2018 (myrtle.ai, "How to train your ResNet" 4): batch 512, 24 epochs, lr 0 -> 0.4 at epoch 5 -> 0,
    # Nesterov 0.9, weight decay 5e-4, cutout 8x8, pad 4 crop, flip, no label smoothing
    r = recipes.get("davidnet")
    assert (r.batch_size, r.epochs, r.lr, r.momentum, r.nesterov, r.weight_decay, r.cutout, r.crop_pad) == \
        (512, 24, 0.4, 0.9, True, 5e-4, 8, 4)
    assert r.label_smoothing == 0 and r.model == "davidnet"
    at = lambda epoch: r.lr * recipes.lr_multiplier(r.lr_knots, epoch / 24)
    assert at(0) == 0 and at(2.5) == pytest.approx(0.2) and at(5) == pytest.approx(0.4)
    assert at(14.5) == pytest.approx(0.2) and at(24) == 0


def test_lr_multiplier_interpolates_and_clamps():
    knots = ((0, 0.2), (0.23, 1), (1, 0.07))
    assert recipes.lr_multiplier(knots, 0.115) == pytest.approx(0.6)
    assert recipes.lr_multiplier(knots, 0.615) == pytest.approx(1 - 0.93 * 0.5)
    assert recipes.lr_multiplier(knots, -1) == 0.2 and recipes.lr_multiplier(knots, 2) == 0.07


def test_fast_recipe_lr_and_decay_from_airbench94():
    # airbench94 (Jordan 2024): lr 11.5 and weight decay 0.0153 "per 1024 examples", divided by
    # 1024 * (1 + 1/(1 - momentum)) for the summed loss; as PyTorch's coupled SGD parameter wd/lr.
    r = recipes.get("fast")
    scale = 1024 * (1 + 1 / (1 - 0.85))
    lr_sum, wd = 11.5 / scale, 0.0153 * 1024 / scale
    assert r.lr == pytest.approx(lr_sum * 1024)                 # mean loss over batch 1024
    assert r.weight_decay == pytest.approx(wd / (lr_sum * 1024))


def test_unknown_recipe():
    with pytest.raises(Exception, match="unknown recipe 'nope'; known: davidnet, fast"):
        recipes.get("nope")


def test_speedrun_macs_by_hand():
    # MACs = out_channels * in_channels/groups * kh * kw * H_out * W_out per conv; fc in*out
    hand = (24 * 3 * 2 * 2 * 31 * 31          # whiten 2x2, 32 -> 31
            + 64 * 24 * 9 * 31 * 31           # block1.conv1 at 31x31
            + 64 * 64 * 9 * 15 * 15           # block1.conv2 after pool: 15x15
            + 256 * 64 * 9 * 15 * 15          # block2.conv1
            + 256 * 256 * 9 * 7 * 7           # block2.conv2
            + 256 * 256 * 9 * 7 * 7           # block3.conv1
            + 256 * 256 * 9 * 3 * 3           # block3.conv2
            + 256 * 10)                       # fc
    r = analyze(zoo.get("speedrun").spec, (3, 32, 32))
    assert r.total["macs"] == hand == 118_147_360
    assert r.total["output_shape"] == (10,)


def test_speedrun_spec_builds_what_is_counted():
    torch = pytest.importorskip("torch")
    from cnncost.torch.build import build
    spec = zoo.get("speedrun").spec
    r = analyze(spec, (3, 32, 32))
    m = build(spec, (3, 32, 32))
    assert sum(p.numel() for p in m.parameters()) == r.total["params"]
    assert m(torch.randn(2, 3, 32, 32)).shape == (2, 10)
    for row in r.rows:
        if row.kind != "add":
            m.get_submodule(row.name)         # every row is a module of that path


def test_training_flops_formula():
    # F x 3 x images seen + F x test images x views: 2 x 3 x 100 + 2 x 10 x 6
    assert training_flops(2, 100, 10, 6) == 600 + 120

"""The data-parallel cost model's formulas, by hand; the trained nets' parameter counts vs torch."""
import math

import pytest

from cnncost import walk, zoo
from cnncost.errors import CostError
from cnncost_train.predict import data_parallel as cm

LINK = cm.Link("test", bandwidth=10e9, latency=1e-5, source="made up for the test")


def test_ring_allreduce_by_hand():
    # N = 4, G = 100 MB: 2 * 3/4 * 100e6 / 10e9 = 0.015 s; latency 2 * 3 * 1e-5 = 6e-5 s
    assert cm.allreduce_seconds(4, 100e6, LINK, "ring") == pytest.approx(0.015 + 6e-5, rel=1e-12)
    # N = 2: 2 * 1/2 * 100e6 / 10e9 = 0.01; 2 * 1 * 1e-5
    assert cm.allreduce_seconds(2, 100e6, LINK, "ring") == pytest.approx(0.01 + 2e-5, rel=1e-12)
    assert cm.allreduce_seconds(1, 100e6, LINK, "ring") == 0.0


def test_tree_allreduce_by_hand():
    # N = 8: 2 * 100e6 / 10e9 = 0.02 s; levels log2 8 = 3, latency 2 * 3 * 1e-5
    assert cm.allreduce_seconds(8, 100e6, LINK, "tree") == pytest.approx(0.02 + 6e-5, rel=1e-12)
    # N = 5 needs ceil(log2 5) = 3 levels too
    assert cm.allreduce_seconds(5, 100e6, LINK, "tree") == pytest.approx(0.02 + 6e-5, rel=1e-12)
    assert cm.allreduce_seconds(1, 100e6, LINK, "tree") == 0.0
    # at 1024 learners the tree pays 2*10 latencies, the ring 2*1023
    assert cm.allreduce_seconds(1024, 0, LINK, "tree") == pytest.approx(20e-5)
    assert cm.allreduce_seconds(1024, 0, LINK, "ring") == pytest.approx(2046e-5)


def test_compute_and_step_by_hand():
    # 3 * 1e9 FLOPs * 64 images / 1e12 FLOP/s = 0.192 s
    assert cm.compute_seconds(10 ** 9, 64, 1e12) == pytest.approx(0.192)
    # + ring for N = 4, 25e6 params * 4 bytes = 100 MB
    t = cm.step_seconds(4, fwd_flops=10 ** 9, params=25_000_000, per_learner_batch=64, matmul_rate=1e12, lk=LINK)
    assert t == pytest.approx(0.192 + 0.015 + 6e-5)
    half = cm.step_seconds(4, fwd_flops=10 ** 9, params=25_000_000, per_learner_batch=64, matmul_rate=1e12, lk=LINK,
                           bytes_per_value=2)
    assert half == pytest.approx(0.192 + 0.0075 + 6e-5)


def test_compute_uses_the_counted_training_step():
    # a counted step of 2.5e9 FLOPs per image instead of 3 x 1e9: 2.5e9 * 64 / 1e12 = 0.16 s
    assert cm.compute_seconds(10 ** 9, 64, 1e12, step_flops=25 * 10 ** 8) == pytest.approx(0.16)
    t = cm.step_seconds(1, fwd_flops=10 ** 9, params=0, per_learner_batch=64, matmul_rate=1e12, lk=LINK,
                        step_flops=25 * 10 ** 8)
    assert t == pytest.approx(0.16)


def test_forward_cost_counts_the_step_with_the_calculator():
    from cnncost import walk, zoo
    from cnncost.training.step import training_flops
    from cnncost_train.predict.training_flops import forward_cost
    m = zoo.get("resnet20")
    fc = forward_cost(m.spec, (3, 32, 32))
    assert fc.step_flops == training_flops(walk.analyze(m.spec, (3, 32, 32))) and fc.train_flops == fc.step_flops
    assert fc.step_source.startswith("forward + backward")


def test_curves_strong_and_weak():
    kw = dict(fwd_flops=10 ** 9, params=0, matmul_rate=1e12, lk=LINK)
    strong = cm.curve([1, 4, 256, 512], mode="strong", global_batch=256, **kw)
    assert [r["learners"] for r in strong] == [1, 4, 256]          # 512 learners: half an image each, skipped
    assert [r["per_learner_batch"] for r in strong] == [256, 64, 1]
    # no gradient bytes: step = 3e9 * b / 1e12 + 2(N-1) 1e-5
    assert strong[1]["step_s"] == pytest.approx(3e-3 * 64 + 6e-5)
    weak = cm.curve([1, 1024], mode="weak", per_learner=64, **kw)
    assert weak[1]["images_per_s"] == pytest.approx(1024 * 64 / (0.192 + 2046e-5))


def test_presets_and_errors():
    assert cm.LINKS["100gbe"].bandwidth == 100e9 / 8
    assert cm.LINKS["pcie"].bandwidth == pytest.approx(16e9 * 16 * 128 / 130 / 8, rel=0.02)
    assert cm.link("pcie", latency=1e-3).latency == 1e-3
    with pytest.raises(CostError):
        cm.link("infiniband")
    with pytest.raises(CostError):
        cm.link(None, bandwidth=1e9)
    with pytest.raises(CostError):
        cm.allreduce_seconds(2, 1, LINK, "butterfly")
    with pytest.raises(CostError):
        cm.allreduce_seconds(0, 1, LINK)


def test_resnet50_small_input_params_by_hand():
    """torchvision ResNet-50: 25,557,032 params (He et al. 2016; torchvision docs).  Small input: conv1
    7x7x3x64 = 9,408 becomes 3x3x1x64 = 576; fc 2048x1000+1000 = 2,049,000 becomes 2048x10+10 = 20,490."""
    want = 25_557_032 - 9_408 + 576 - 2_049_000 + 20_490
    spec = zoo.get("resnet50", classes=10, small_input=True).spec
    rep = walk.analyze(spec, (1, 28, 28))
    assert rep.total["params"] == want == 23_519_690
    assert rep.total["output_shape"] == (10,)
    # default stays the ImageNet model
    assert walk.analyze(zoo.get("resnet50").spec, (3, 224, 224)).total["params"] == 25_557_032


def test_mlp_batchnorm_params_by_hand_and_torch():
    torch = pytest.importorskip("torch")
    from cnncost.torch.build import build
    # 2-16-32-1 with BN: fc1 2*16+16 = 48, bn1 2*16 = 32, fc2 16*32+32 = 544, bn2 64, fc3 32+1 = 33
    spec = zoo.get("mlp", hidden=(16, 32), classes=1, batchnorm=True).spec
    assert walk.analyze(spec, (2,)).total["params"] == 48 + 32 + 544 + 64 + 33
    for hidden in [(512,), (256, 256), (16, 32, 64), (128, 256, 128)]:
        spec = zoo.get("mlp", hidden=hidden, classes=1, batchnorm=len(hidden) > 1).spec
        m = build(spec, (2,))
        assert walk.analyze(spec, (2,)).total["params"] == sum(p.numel() for p in m.parameters())
        assert m(torch.zeros(4, 2)).shape == (4, 1)
        n_bn = sum(isinstance(x, torch.nn.BatchNorm1d) for x in m.modules())
        assert n_bn == (len(hidden) if len(hidden) > 1 else 0)

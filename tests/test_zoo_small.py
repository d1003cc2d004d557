"""MiniGoogLeNet (Zhang et al. 2017, Fig. 3; Smith's CLR/CBS network) and LeNet-5 (LeCun et al. 1998):
parameter counts by hand arithmetic, the papers' figures, the builder's sum(numel) and a forward pass."""
import pytest

from cnncost import zoo
from cnncost.walk import analyze

torch = pytest.importorskip("torch")
from cnncost.torch.build import build  # noqa: E402


def mini_weights(c_in: int) -> int:
    """Conv weights (no bias) by hand: inception(c1, c3) on k channels = k*c1 + 9*k*c3 -> c1 + c3 channels;
    downsample(c3) on k = 9*k*c3 -> c3 + k channels (the max-pool passes k through)."""
    stem = 3 * 3 * c_in * 96                       # -> 96
    body = (96 * 32 + 9 * 96 * 32                  # incep(32,32)  96 -> 64:  30,720
            + 64 * 32 + 9 * 64 * 48                # incep(32,48)  64 -> 80:  29,696
            + 9 * 80 * 80                          # down(80)      80 -> 160: 57,600
            + 160 * 112 + 9 * 160 * 48             # incep(112,48)    -> 160: 87,040
            + 160 * 96 + 9 * 160 * 64              # incep(96,64)     -> 160: 107,520
            + 160 * 80 + 9 * 160 * 80              # incep(80,80)     -> 160: 128,000
            + 160 * 48 + 9 * 160 * 96              # incep(48,96)     -> 144: 145,920
            + 9 * 144 * 96                         # down(96)     144 -> 240: 124,416
            + 240 * 176 + 9 * 240 * 160            # incep(176,160)   -> 336: 387,840
            + 336 * 176 + 9 * 336 * 160)           # incep(176,160)   -> 336: 542,976
    assert body == 1_641_728
    return stem + body + 336 * 10                  # fc weights


CONV_CHANNELS = 96 + 32 + 32 + 32 + 48 + 80 + 112 + 48 + 96 + 64 + 80 + 80 + 48 + 96 + 96 + 176 + 160 + 176 + 160


def test_minigooglenet_matches_zhang_et_al_count():
    assert CONV_CHANNELS == 1712
    # Zhang et al. 2017, Table 1: "Inception" 1,649,402 parameters (28x28x3 crops), with one BN shift per
    # channel (TF-slim batch_norm default scale=False); ours has scale and shift.
    assert mini_weights(3) + 10 + CONV_CHANNELS == 1_649_402
    for c in (3, 1):
        hand = mini_weights(c) + 10 + 2 * CONV_CHANNELS
        model = build(zoo.get("minigooglenet").spec, (c, 28, 28))
        assert sum(p.numel() for p in model.parameters()) == hand
        assert analyze(zoo.get("minigooglenet").spec, (c, 28, 28)).total["params"] == hand


@pytest.mark.parametrize("shape, sizes", [((1, 28, 28), (13, 6)), ((3, 32, 32), (15, 7))])
def test_minigooglenet_forward_and_downsampling(shape, sizes):
    model = build(zoo.get("minigooglenet").spec, shape).eval()
    seen = []
    for name in ("down3", "down8"):
        model.get_submodule(name).register_forward_hook(lambda m, i, o: seen.append(tuple(o.shape)))
    with torch.no_grad():
        out = model(torch.zeros(2, *shape))
    assert out.shape == (2, 10)
    assert seen == [(2, 160, sizes[0], sizes[0]), (2, 240, sizes[1], sizes[1])]


def test_lenet5_counts_per_layer_as_lecun_1998():
    # LeCun et al. 1998, section II-B: C1 156 trainable parameters, C5 48,120, F6 10,164.  C3 there is
    # partially connected (1,516); ours connects all 6 maps: 16 * (6*25 + 1).
    hand = {"c1": 6 * (25 + 1), "c3": 16 * (6 * 25 + 1), "c5": 120 * (16 * 5 * 5 + 1), "f6": 84 * (120 + 1),
            "out": 10 * (84 + 1)}
    assert (hand["c1"], hand["c5"], hand["f6"]) == (156, 48_120, 10_164)
    model = build(zoo.get("lenet5").spec, (1, 28, 28))
    for name, n in hand.items():
        assert sum(p.numel() for p in model.get_submodule(name).parameters()) == n
    assert sum(p.numel() for p in model.parameters()) == sum(hand.values()) == 61_706
    assert model(torch.zeros(1, 1, 28, 28)).shape == (1, 10)
    report = analyze(zoo.get("lenet5").spec, (1, 28, 28))
    assert sum(r.params for r in report.rows if r.name in hand) == report.total["params"] == 61_706

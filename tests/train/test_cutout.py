"""The cutout demo, and the ResNet-44 recipes (He et al. 2016; Hoffer et al. 2019)."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from typer.testing import CliRunner  # noqa: E402

from cnncost_train.engine import augment, recipes  # noqa: E402
from cnncost_train.experiments import cutout_demo  # noqa: E402
from cnncost_train.cli import app  # noqa: E402

def test_cutout_pixels_by_hand():
    """Inside the clipped square: the mean colour (zero after normalisation); outside: the image unchanged."""
    rng = np.random.default_rng(1)
    imgs = rng.integers(0, 256, (6, 32, 32, 3), dtype=np.uint8)
    mean, std = (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)
    cut, centres = cutout_demo.apply(imgs, mean, std, 16, seed=3)
    fill = np.round(np.array(mean) * 255).astype(int)          # 125, 123, 114
    assert fill.tolist() == [125, 123, 114]
    for img, out, (cy, cx) in zip(imgs, cut, centres):
        r0, r1 = max(0, cy - 8), min(32, cy + 8)               # rows cy-8 .. cy+7, clipped to the image
        c0, c1 = max(0, cx - 8), min(32, cx + 8)
        inside = np.zeros((32, 32), bool)
        inside[r0:r1, c0:c1] = True
        assert (out[inside] == fill).all()
        # outside: normalise then undo, rounded: equal to the original within one level
        assert np.abs(out[~inside].astype(int) - img[~inside].astype(int)).max() <= 1
        assert inside.sum() == (r1 - r0) * (c1 - c0) <= 256

def test_demo_and_training_call_the_same_cutout(monkeypatch):
    calls = []
    real = augment.cutout

    def spy(x, size, *a, **k):
        calls.append(size)
        return real(x, size, *a, **k)
    monkeypatch.setattr(augment, "cutout", spy)
    imgs = np.zeros((2, 32, 32, 3), np.uint8)
    cutout_demo.apply(imgs, (0.5,) * 3, (0.25,) * 3, 16, seed=0)
    t = torch.from_numpy(imgs)
    g = torch.Generator().manual_seed(0)
    draw = augment.draw_epoch(2, 32, 32, generator=g, device="cpu", pad=4, cutout_size=16)
    augment.augmented_batch(t, torch.zeros(2, dtype=torch.long), draw, 0, 2, torch.full((3,), 0.5),
                            torch.full((3,), 0.25), cutout_size=16)
    assert calls == [16, 16]

def test_cutout_demo_cli_writes_png(tmp_path, tiny_cifar):
    data = tiny_cifar
    out = tmp_path / "demo"
    res = CliRunner().invoke(app, ["cutout-demo", "--n", "1", "--size", "8", "--out", str(out),
                                   "--data-dir", str(data), "--smoke"])
    assert res.exit_code == 0, res.output
    assert (out / "cutout.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    import json
    meta = json.loads((out / "cutout.json").read_text())
    assert meta["size"] == 8 and len(meta["images"]) == len(meta["centres_yx"]) <= 10

def test_cutout_demo_missing_data_is_one_line(tmp_path):
    res = CliRunner().invoke(app, ["cutout-demo", "--out", str(tmp_path / "o"), "--data-dir", str(tmp_path)])
    assert res.exit_code == 2 and "CIFAR-10 not found" in res.output

def test_resnet44_recipe_is_he_et_al():
    r = recipes.get("resnet44")
    # He et al. 2016 s4.2: momentum 0.9, weight decay 0.0001, lr 0.1; batch 64 (Hoffer et al. 2019)
    assert (r.model, r.batch_size, r.lr, r.momentum, r.nesterov, r.weight_decay) == ("resnet44", 64, 0.1, 0.9, False, 1e-4)
    assert (r.crop_pad, r.flip, r.cutout, r.tta) == (4, "random", 0, 0)
    assert recipes.get("resnet44-cutout").cutout == 16
    # lr /10 at 32k and 48k of 64k iterations: 50% and 75% of training
    m = lambda f: recipes.lr_multiplier(r.lr_knots, f)
    assert [m(0), m(0.3), m(0.5), m(0.501), m(0.7), m(0.751), m(1.0)] == [1, 1, 1, 0.1, 0.1, 0.01, 0.01]

def test_resnet44_builds_with_paper_parameter_count():
    from cnncost import zoo
    from cnncost.torch.build import build
    m = build(zoo.get("resnet44").spec, (3, 32, 32))
    n = sum(p.numel() for p in m.parameters())
    # He et al. 2016 Table 6: 0.66M.  Option A by hand: 3x3 convs 16/32/64 wide, 7 blocks per stage:
    # conv1 3*9*16 = 432; stage 1: 14 convs * 16*9*16 = 32,256; stage 2: 32*9*16 + 13 * 32*9*32 = 4,608 + 119,808;
    # stage 3: 64*9*32 + 13 * 64*9*64 = 18,432 + 479,232; BN 2*(16 + 14*16 + 14*32 + 14*64) = 3,168; fc 64*10 + 10 = 650
    assert n == 432 + 32256 + 4608 + 119808 + 18432 + 479232 + 3168 + 650 == 658586

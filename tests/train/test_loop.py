"""The training loop on CPU at toy size: resume after SIGINT gives the same weights as an
uninterrupted run; a NaN loss stops the run and keeps the last good checkpoint; the tricks
(whitening, Lookahead) against their definitions."""
import math
import os
import signal

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from cnncost import zoo  # noqa: E402
from cnncost_train.engine import checkpoint, data, recipes, speedrun_techniques  # noqa: E402
from cnncost_train.engine.loop import Diverged, Hook, Interrupted  # noqa: E402
from cnncost_train.engine.trainer import DeviceData, Trainer  # noqa: E402

WIDTHS = (8, 16, 16)


def tiny_trainer(epochs=2.5, recipe="fast"):
    ds = data.synthetic(96, 40, seed=3)
    r = recipes.get(recipe).with_(epochs=epochs, batch_size=32, compile=False, eval_batch=40, whiten_images=64,
                                  whiten_bias_epochs=1, model_options={"widths": WIDTHS})
    spec = zoo.get("speedrun", widths=WIDTHS).spec
    return Trainer(r, spec, DeviceData.from_dataset(ds, "cpu"), "cpu")


class SignalAt(Hook):
    def __init__(self, step):
        self.step = step

    def after_step(self, loop):
        if loop.state.step == self.step:
            os.kill(os.getpid(), signal.SIGINT)


def states_equal(a, b):
    return all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("stop_step", [4, 6])   # mid-epoch, and exactly at an epoch's end (3 steps/epoch)
def test_resume_after_sigint_equals_uninterrupted(tmp_path, stop_step):
    t = tiny_trainer()
    full = t.train(7, checkpoint_path=tmp_path / "full.pt")
    full_state = {k: v.clone() for k, v in t.module.state_dict().items()}
    assert full["steps"] == 8 and len(full["history"]) == 3         # ceil(2.5 * 3) steps, last epoch partial

    ck = tmp_path / "run.pt"
    with pytest.raises(Interrupted, match=f"SIGINT at step {stop_step} of 8"):
        t.train(7, checkpoint_path=ck, hooks=[SignalAt(stop_step)])
    assert checkpoint.load(ck, "cpu")["loop"]["step"] == stop_step
    resumed = t.train(7, checkpoint_path=ck, resume=True)
    assert resumed["resumed"] and resumed["acc"] == full["acc"]
    assert states_equal(t.module.state_dict(), full_state)
    assert [r["train_loss"] for r in resumed["history"]] == pytest.approx([r["train_loss"] for r in full["history"]])
    clock = [r["train_s"] for r in resumed["history"]]       # the training clock continues over the resume
    assert clock == sorted(clock) and clock[-1] > clock[0] > 0 and resumed["train_s"] == pytest.approx(clock[-1])


def test_resume_refuses_another_seed(tmp_path):
    t = tiny_trainer(epochs=1)
    t.train(1, checkpoint_path=tmp_path / "c.pt")
    with pytest.raises(Exception, match="another recipe, seed or epoch count"):
        t.train(2, checkpoint_path=tmp_path / "c.pt", resume=True)


class PoisonAt(Hook):
    """Set one conv's weights to NaN at the start of an epoch (as a blown-up update would)."""

    def __init__(self, trainer, epoch):
        self.t, self.epoch = trainer, epoch

    def epoch_start(self, loop, epoch):
        if epoch == self.epoch:
            with torch.no_grad():
                self.t.module.get_submodule("block2.conv1").weight.fill_(math.nan)


def test_nan_stops_and_keeps_last_good_checkpoint(tmp_path):
    t = tiny_trainer(epochs=3)
    ck = tmp_path / "run.pt"
    with pytest.raises(Diverged, match="training loss became NaN in epoch 2"):
        t.train(0, checkpoint_path=ck, hooks=[PoisonAt(t, 1)])
    saved = checkpoint.load(ck, "cpu")
    assert saved["loop"]["step"] == 3 and len(saved["loop"]["history"]) == 1
    assert all(torch.isfinite(v).all() for v in saved["model"].values() if v.is_floating_point())


def test_whitening_filters_whiten_patches():
    # conv outputs of the first C k^2 filters have covariance diag(lambda / (lambda + eps)), off-diagonal 0
    g = torch.Generator().manual_seed(0)
    x = torch.randn(64, 3, 8, 8, generator=g) * torch.tensor([1.0, 2.0, 0.5])[:, None, None]
    x = x + 0.5 * x.roll(1, dims=3)                         # correlate neighbouring pixels
    conv = torch.nn.Conv2d(3, 24, 2, bias=False)
    speedrun_techniques.init_whitening(conv, x, eps=5e-4)
    y = torch.nn.functional.conv2d(x.double(), conv.weight[:12].double())
    flat = y.permute(1, 0, 2, 3).reshape(12, -1)
    cov = flat @ flat.T / flat.shape[1]
    p = torch.nn.functional.unfold(x.double(), 2).transpose(1, 2).reshape(-1, 12)   # independent patch extraction
    lam = torch.linalg.eigvalsh(p.T @ p / len(p)).flip(0)
    assert torch.allclose(cov.diagonal(), lam / (lam + 5e-4), atol=1e-5)
    assert (cov - torch.diag(cov.diagonal())).abs().max() < 1e-5
    assert torch.equal(conv.weight[12:], -conv.weight[:12])


def test_lookahead_update_by_hand():
    m = torch.nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        m.weight.fill_(1.0)
    la = speedrun_techniques.Lookahead(m)
    with torch.no_grad():
        m.weight.fill_(3.0)
    la.update(0.75)                   # slow = 1 + 0.25 * (3 - 1) = 1.5, fast <- slow
    assert m.weight.item() == 1.5 and la.slow[0].item() == 1.5
    with torch.no_grad():
        m.weight.fill_(9.0)
    la.update(1.0)                    # decay 1: fast <- slow unchanged
    assert m.weight.item() == 1.5
    assert speedrun_techniques.Lookahead.decay(50, 100, 0.95 ** 5, 3) == pytest.approx(0.95 ** 5 / 8)


def test_frozen_bn_and_groups():
    t = tiny_trainer(epochs=1)
    t.reset(0)
    bns = speedrun_techniques.batchnorms(t.module)
    assert all(not b.weight.requires_grad and torch.all(b.weight == 1) and b.momentum == 0.4 for b in bns)
    g = t.optimizer.param_groups
    assert g[1]["lr"] == pytest.approx(64 * g[0]["lr"]) and g[1]["weight_decay"] == pytest.approx(g[0]["weight_decay"] / 64)
    assert {id(p) for p in g[1]["params"]} == {id(b.bias) for b in bns}
    # dirac: block1.conv2 (8 -> 8) starts as the identity
    conv = t.module.get_submodule("block1.conv2")
    x = torch.randn(1, 8, 5, 5)
    assert torch.allclose(conv(x), x)


def test_davidnet_trains_on_cpu():
    ds = data.synthetic(64, 20, seed=1)
    r = recipes.get("davidnet").with_(epochs=1, batch_size=32, compile=False, eval_batch=20)
    spec = zoo.get("davidnet", widths=(8, 8, 8, 8)).spec
    res = Trainer(r, spec, DeviceData.from_dataset(ds, "cpu"), "cpu").train(0)
    assert res["steps"] == 2 and res["images_seen"] == 64 and 0 <= res["acc"] <= 100 and res["tta_views"] == 1
    assert np.isfinite(res["history"][0]["train_loss"])

"""Batch augmentation (Hoffer et al. 2019): the M-times batch, and resumable sweeps."""
import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from typer.testing import CliRunner  # noqa: E402

from cnncost_train.cli import app  # noqa: E402
from cnncost_train.engine import augment, data, recipes  # noqa: E402
from cnncost_train.engine.batch_augment_trainer import BatchAugmentTrainer, multi_batch  # noqa: E402
from cnncost_train.engine.trainer import DeviceData, Trainer  # noqa: E402
from cnncost_train.experiments import batch_augment as ba  # noqa: E402

def reference(img, dy, dx, flip, cy, cx, pad, size, mean, std):
    """By hand with numpy: reflect-pad, crop at (pad + dy, pad + dx), mirror, normalise, zero the square."""
    h, w, _ = img.shape
    p = np.pad(img.astype(np.float64), ((pad, pad), (pad, pad), (0, 0)), mode="reflect")
    crop = p[pad + dy: pad + dy + h, pad + dx: pad + dx + w]
    if flip:
        crop = crop[:, ::-1]
    x = (crop / 255 - np.array(mean)) / np.array(std)
    for i in range(h):
        for j in range(w):
            if cy - size // 2 <= i < cy - size // 2 + size and cx - size // 2 <= j < cx - size // 2 + size:
                x[i, j] = 0
    return x.transpose(2, 0, 1)


def test_batch_holds_m_independent_augmented_copies():
    rng = np.random.default_rng(0)
    n, m, pad, size = 10, 4, 2, 4
    imgs = torch.from_numpy(rng.integers(0, 256, (n, 8, 8, 3), dtype=np.uint8))
    labels = torch.arange(n)
    mean, std = (0.5, 0.4, 0.3), (0.2, 0.25, 0.3)
    draws = [augment.draw_epoch(n, 8, 8, generator=torch.Generator().manual_seed(k), device="cpu", pad=pad,
                                cutout_size=size) for k in range(m)]
    idx = torch.tensor([7, 2, 5])
    x, y = multi_batch(imgs, labels, idx, draws, torch.tensor(mean), torch.tensor(std), cutout_size=size,
                          channels_last=False)
    assert x.shape == (m * 3, 3, 8, 8)
    assert y.tolist() == [7, 2, 5] * m                         # each sample M times, copy-major
    for k, d in enumerate(draws):
        for b, i in enumerate(idx.tolist()):
            want = reference(imgs[i].numpy(), int(d.dy[i]), int(d.dx[i]), bool(d.flip[i]), int(d.cy[i]),
                             int(d.cx[i]), pad, size, mean, std)
            np.testing.assert_allclose(x[k * 3 + b].double().numpy(), want, atol=1e-5)
    # independent: the copies of one image got different augmentation draws (and so different pixels)
    params = {(int(d.dy[i]), int(d.dx[i]), bool(d.flip[i]), int(d.cy[i]), int(d.cx[i])) for d in draws for i in [7]}
    assert len(params) > 1
    assert not torch.equal(x[0], x[3])

def _trainer(m, ds):
    d = DeviceData.from_dataset(ds, "cpu")
    r = recipes.get("resnet44-cutout").with_(batch_size=8, epochs=1, compile=False)
    from cnncost import zoo
    return BatchAugmentTrainer(r, zoo.get("resnet20").spec, d, "cpu", m)

def test_m1_is_the_baseline_and_m_copies_share_the_order():
    ds = data.synthetic(32, 8)
    t1, t4 = _trainer(1, ds), _trainer(4, ds)
    base = list(Trainer._batches(t1, 5)(0, 0))                 # the trainer's own batches
    mine = list(t1._batches(5)(0, 0))
    assert len(base) == len(mine) == 32 // 8
    assert all(torch.equal(a[0], b[0]) and torch.equal(a[1], b[1]) for a, b in zip(base, mine))
    four = list(t4._batches(5)(0, 0))
    assert four[0][0].shape[0] == 4 * 8
    assert torch.equal(four[0][0][:8], base[0][0])            # copy 0 = the baseline's batch
    assert all(torch.equal(four[0][1][8 * k: 8 * k + 8], base[0][1]) for k in range(4))

def test_time_to_target_by_hand():
    hist = [{"epoch": 1, "test_acc": 90.0, "train_s_total": 10.0}, {"epoch": 2, "test_acc": 94.0, "train_s_total": 21.0},
            {"epoch": 3, "test_acc": 95.0, "train_s_total": 30.0}]
    assert ba.time_to_target(hist, 94.0) == (2, 21.0)
    assert ba.time_to_target(hist, 96.0) == (None, None)
    s = ba.summarize_run(2, hist, "done", 100, 7, 94.0, 64)
    assert (s["batch_images"], s["best_acc"], s["final_acc"], s["train_flops_done"]) == (128, 95.0, 95.0, 300)

def _run(args):
    return CliRunner().invoke(app, ["batch-augment", "--model", "resnet20", "--smoke", *args])

def test_sweep_resumes_and_accumulates(tmp_path, tiny_cifar):
    dd = tiny_cifar
    out = tmp_path / "ba"
    common = ["--data-dir", str(dd), "--out", str(out)]
    r1 = _run(["--m", "1", *common])
    assert r1.exit_code == 0, r1.output
    res1 = json.loads((out / "results.json").read_text())
    assert list(res1["runs"]) == ["1"] and res1["runs"]["1"]["status"] == "done"
    again = _run(["--m", "1", *common])                        # results exist: --resume needed
    assert again.exit_code == 2 and "--resume" in again.output
    r2 = _run(["--m", "1", "2", "--resume", *common])
    assert r2.exit_code == 0, r2.output
    assert "M=1: done in an earlier invocation, not re-run" in r2.output
    res2 = json.loads((out / "results.json").read_text())
    assert res2["runs"]["1"] == res1["runs"]["1"]               # untouched
    run2, run1 = res2["runs"]["2"], res2["runs"]["1"]
    # 130 training images, batch 64: 2 steps per epoch; M = 2 doubles the images and the FLOPs per epoch
    assert (run1["batch_images"], run2["batch_images"]) == (64, 128)
    assert run2["train_flops_per_epoch"] == 2 * run1["train_flops_per_epoch"]
    from cnncost import analyze, zoo
    from cnncost.training.step import training_flops
    step = training_flops(analyze(zoo.get("resnet20").spec, (3, 32, 32)))    # forward + backward, one image
    assert run1["train_flops_per_epoch"] == step * 2 * 64
    rows = (out / "table.csv").read_text().splitlines()
    assert len(rows) == 3 and rows[0].startswith("m,")
    assert (out / "error_vs_epoch.png").read_bytes()[:4] == b"\x89PNG"
    assert (out / "checkpoints" / "m2.pt").is_file()

def test_time_budget_stops_cleanly_and_resumes(tmp_path, tiny_cifar):
    dd = tiny_cifar
    out = tmp_path / "ba"
    common = ["--m", "1", "--epochs", "2", "--data-dir", str(dd), "--out", str(out)]
    r1 = _run(["--time-budget", "0", *common])
    assert r1.exit_code == 0, r1.output
    assert "time budget reached" in r1.output                  # every call trains at least one epoch
    run = json.loads((out / "results.json").read_text())["runs"]["1"]
    assert run["status"] == "partial" and [h["epoch"] for h in run["history"]] == [1]
    r2 = _run(["--resume", *common])
    assert r2.exit_code == 0, r2.output
    run = json.loads((out / "results.json").read_text())["runs"]["1"]
    assert run["status"] == "done" and [h["epoch"] for h in run["history"]] == [1, 2]
    t = [h["train_s_total"] for h in run["history"]]
    assert 0 < t[0] < t[1]                                     # the clock adds up across invocations

"""The lr_min/lr_max and b_min/b_max pick rules on synthetic curves, the CLR and CBS schedules by
hand, the seeded hold-out, the index stream and batch accumulation."""
import math

import numpy as np
import pytest

from cnncost.errors import CostError
from cnncost_train.engine import schedules

torch = pytest.importorskip("torch")
from cnncost_train.engine import study_run  # noqa: E402


def test_pick_lr_rule():
    rates = [10.0 ** e for e in range(-9, 2)]       # 1e-9 .. 1e1, 11 points
    loss = [2.30, 2.30, 2.30, 2.30, 2.29, 2.20, 2.0, 1.2, 0.8, 0.85, math.nan]
    # L0 = 2.30, Lmin = 0.8, drop = 1.5: lr_min = first L <= 2.15 -> 2.0 at 1e-3;
    # lr_max: from argmin (1e-1) on while L <= 0.95 -> 0.85 at 1e0, then NaN stops it
    assert schedules.pick_lr(rates, loss) == (1e-3, 1e0)
    assert schedules.pick_lr(rates[:9], loss[:9]) == (1e-3, 1e-1)
    assert schedules.pick_lr([1, 2, 3], [1.0, 1.5, math.inf]) == (1, 1)        # never fell: the first rate


def test_pick_batch_rule():
    batches = [64 * 2 ** k for k in range(8)]
    loss = [1.0, 0.9, 0.6, 0.45, 0.42, 0.41, 0.40, 0.40]
    # drop = 0.6: b_min = first L <= 0.94 -> 128; b_max = first L <= 0.46 -> 512
    assert schedules.pick_batch(batches, loss) == (128, 512)
    assert schedules.pick_batch([64, 128], [0.5, 0.7]) == (64, 64)
    with pytest.raises(CostError):
        schedules.pick_batch([], [])


def test_clr_exp_range_by_hand():
    s = 4
    assert [schedules.triangle(i, s) for i in (0, 2, 4, 6, 8, 12)] == [0, 0.5, 1, 0.5, 0, 1]
    assert schedules.clr(4, 0.01, 0.11, s, 1.0) == pytest.approx(0.11)
    assert schedules.clr(2, 0.01, 0.11, s, 0.5) == pytest.approx(0.01 + 0.1 * 0.5 * 0.25)
    assert schedules.clr(8, 0.01, 0.11, s, 0.9) == pytest.approx(0.01)


def test_cbs_mirrors_a_decaying_rate():
    assert schedules.cbs(0, 64, 256, 1, 1.0) == 256                   # trough of the lr cycle: largest batch
    assert schedules.cbs(1, 64, 256, 1, 1.0) == 64                    # peak of the lr cycle: smallest batch
    # gamma 0.5 at i = 1: 1/B = 1/256 + (1/64 - 1/256) * 1 * 0.5 = 2.5/256 -> B = 102.4 -> 102
    assert schedules.cbs(1, 64, 256, 1, 0.5) == 102
    peaks = [schedules.cbs(i, 64, 256, 10, 0.99) for i in (10, 30, 50)]
    assert peaks == sorted(peaks) and peaks[0] < peaks[-1] <= 256   # the batch grows as the amplitude decays


def test_holdout_is_seeded_disjoint_and_complete():
    tr, va = study_run.holdout(50, 10, seed=3)
    assert len(va) == 10 and len(tr) == 40 and set(tr) | set(va) == set(range(50)) and not set(tr) & set(va)
    assert np.array_equal(va, study_run.holdout(50, 10, seed=3)[1])
    assert not np.array_equal(va, study_run.holdout(50, 10, seed=4)[1])
    with pytest.raises(CostError):
        study_run.holdout(10, 10, 0)


def _tensors(n=10, n_test=4):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n + n_test, 1, 28, 28, generator=g)
    y = torch.randint(0, 10, (n + n_test,), generator=g)
    e = torch.zeros(0, 1, 28, 28)
    return study_run.Tensors(x[:n], y[:n], e, torch.zeros(0, dtype=torch.long), x[n:], y[n:])


def test_index_stream_visits_each_image_once_per_pass():
    t = _tensors()
    run = study_run.Run(study_run.RunSpec("k", "lenet5", batch=3, total_steps=7, steps_per_epoch=3), t, "cpu")
    stream = torch.cat([run.indices(i) for i in range(7)]).tolist()      # 21 positions, spanning 3 passes
    assert sorted(stream[:10]) == list(range(10)) and sorted(stream[10:20]) == list(range(10))
    big = study_run.Run(study_run.RunSpec("b", "lenet5", batch=25, total_steps=1, steps_per_epoch=1), t, "cpu")
    assert len(big.indices(0)) == 25                                      # batch > set: images repeat


def test_accumulated_batch_gives_the_same_step():
    t = _tensors(16)
    out = []
    for chunk in (16, 4):
        run = study_run.Run(study_run.RunSpec("a", "lenet5", "sgd", 0.1, 16, 1, 1, max_batch=chunk), t, "cpu")
        x, y = next(run.batches(0, 0))
        run.step(x, y, 0)
        out.append(torch.cat([p.detach().flatten() for p in run.model.parameters()]))
        assert run.chunk == chunk
    assert torch.allclose(out[0], out[1], atol=1e-6)


def test_interrupted_run_resumes_to_the_same_weights(tmp_path):
    from cnncost_train.engine.loop import Interrupted
    t = _tensors(12)
    spec = lambda: study_run.RunSpec("r", "lenet5", "rmsprop-nesterov", 1e-3, 4, 9, 3)
    ref = study_run.Run(spec(), t, "cpu")
    ref.train(None, False)

    def stop(loop, row):
        if row["epoch"] == 1:
            loop.flag["stop"] = "SIGINT"
    with pytest.raises(Interrupted):
        study_run.Run(spec(), t, "cpu").train(tmp_path / "r.pt", False, stop)
    again = study_run.Run(spec(), t, "cpu")
    res = again.train(tmp_path / "r.pt", True)
    assert res["resumed"] and res["epochs"] == 3 and res["steps"] == 9
    for a, b in zip(ref.model.parameters(), again.model.parameters()):
        assert torch.equal(a, b)


def test_validation_plateau_stops_before_the_cap():
    t = _tensors(12)
    t.val_x, t.val_y = t.test_x, t.test_y
    # lr 0: the validation loss never improves, so with patience 2 the run stops after epoch 3 of 10
    res = study_run.Run(study_run.RunSpec("p", "lenet5", "sgd", 0.0, 4, 30, 3, patience=2), t, "cpu").train(None, False)
    assert res["epochs"] == 3 and res["steps"] == 9
    assert res["history"][-1]["stopped"] == "validation plateau"


def test_single_run_stops_when_smoothed_loss_passes_four_times_its_minimum():
    t = _tensors(64)
    lr = lambda i: 1e-4 * 1e6 ** (i / 39)                 # 1e-4 .. 1e2 over 40 steps
    res = study_run.Run(study_run.RunSpec("s", "lenet5", "sgd", lr, 4, 40, 16, record_iters=True, stop_above=4.0),
                    t, "cpu").train(None, False)
    losses = [v for h in [*res["history"], res["tail"]] for v in h.get("iter_loss", [])]
    lrs = [v for h in [*res["history"], res["tail"]] for v in h.get("iter_lr", [])]
    assert lrs == pytest.approx([lr(i) for i in range(len(lrs))])
    avg, best, stop = 0.0, math.inf, None                   # the rule by hand: bias-corrected EMA, beta 0.98
    for i, v in enumerate(losses):
        avg = 0.98 * avg + 0.02 * v
        s = avg / (1 - 0.98 ** (i + 1))
        if not math.isfinite(s) or s > 4 * best:
            stop = i + 1
            break
        best = min(best, s)
    assert stop is not None and res["steps"] == stop == len(losses) < 40

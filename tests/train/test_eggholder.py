"""The Eggholder function, its data and the depth-vs-width sweep at smoke size."""
import csv
import math

import numpy as np
import pytest

from cnncost_train.experiments import eggholder as eg


def test_known_minimum():
    """Surjanovic & Bingham, Virtual Library of Simulation Experiments (sfu.ca/~ssurjano/egg.html):
    global minimum f(512, 404.2319) = -959.6407."""
    assert eg.eggholder(512.0, 404.2319) == pytest.approx(-959.6407, abs=1e-3)
    # by hand at the origin: -(47) sin(sqrt(47)) - 0
    assert eg.eggholder(0.0, 0.0) == pytest.approx(-47 * math.sin(math.sqrt(47)))
    # no point of a grid goes below the minimum
    g = np.linspace(-512, 512, 401)
    x1, x2 = np.meshgrid(g, g)
    assert eg.eggholder(x1, x2).min() >= -959.6407 - 1e-3


def test_torch_and_numpy_agree():
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(1).uniform(-512, 512, (100, 2))
    t = torch.tensor(x)
    assert np.allclose(eg.eggholder(t[:, 0], t[:, 1]).numpy(), eg.eggholder(x[:, 0], x[:, 1]))


def test_data_noise_split_seed():
    tx, ty, vx, vy = eg.make_data(50_000, noise=0.3, seed=3)
    assert tx.shape == (40_000, 2) and vx.shape == (10_000, 2) and ty.shape == (40_000,)
    assert tx.min() >= -512 and tx.max() <= 512
    resid = np.concatenate([ty - eg.eggholder(tx[:, 0], tx[:, 1]), vy - eg.eggholder(vx[:, 0], vx[:, 1])])
    assert resid.std() == pytest.approx(0.3, rel=0.02)              # 0.3 is the standard deviation
    _, ty2, _, _ = eg.make_data(50_000, noise=0.09, noise_is="variance", seed=3)
    assert np.allclose(ty2, ty)                                    # variance 0.09 = std 0.3, same draws
    assert np.array_equal(eg.make_data(1000, seed=3)[0], eg.make_data(1000, seed=3)[0])
    assert not np.array_equal(eg.make_data(1000, seed=3)[0], eg.make_data(1000, seed=4)[0])


def test_architectures_by_hand():
    archs = eg.architectures()
    assert sum(len(h) == 1 for h in archs) == 6
    # pairs with a + b <= 512: a in {16..256} each takes b in {16, ..., 256} (5 values); a = 512 none
    assert sum(len(h) == 2 for h in archs) == 25
    assert (256, 256) in archs and (128, 256, 128) in archs
    assert (512, 16) not in archs and (256, 256, 16) not in archs
    assert all(sum(h) <= 512 for h in archs)


def test_cli_smoke_writes_and_resumes(tmp_path):
    pytest.importorskip("torch")
    from typer.testing import CliRunner

    from cnncost.torch.build import build
    from cnncost_train.cli import app
    out = tmp_path / "egg"
    r = CliRunner().invoke(app, ["eggholder", "--smoke", "--out", str(out)])
    assert r.exit_code == 0, r.output
    rows = list(csv.DictReader(open(out / "nets.csv")))
    archs = eg.architectures((16, 32), 64)
    assert [r["hidden"] for r in rows] == ["-".join(map(str, h)) for h in archs]
    for row in rows:
        h = tuple(int(w) for w in row["hidden"].split("-"))
        m = build(eg.net_spec(h), (2,))
        assert int(row["params"]) == sum(p.numel() for p in m.parameters())
        assert math.isfinite(float(row["test_rmse"])) and float(row["test_rmse"]) > 0
        assert float(row["train_s_per_net"]) * 2 == pytest.approx(float(row["group_train_s"]))
    assert (out / "eggholder.png").stat().st_size > 1000 and (out / "results.json").is_file()
    r2 = CliRunner().invoke(app, ["eggholder", "--smoke", "--out", str(out), "--resume"])
    assert r2.exit_code == 0, r2.output
    again = list(csv.DictReader(open(out / "nets.csv")))
    assert [r["group_train_s"] for r in again] == [r["group_train_s"] for r in rows]   # nothing re-trained
    bad = CliRunner().invoke(app, ["eggholder", "--smoke", "--out", str(out), "--noise-is", "sd"])
    assert bad.exit_code == 2


def test_vmapped_copies_match_separate_nets():
    """A stacked forward equals each copy's own module in training mode (BN on batch statistics)."""
    torch = pytest.importorskip("torch")
    from torch.func import functional_call, replace_all_batch_norm_modules_, stack_module_state, vmap

    from cnncost.torch.build import build
    nets = []
    for k in range(3):
        torch.manual_seed(k)
        m = build(eg.net_spec((16, 32)), (2,))
        replace_all_batch_norm_modules_(m)
        nets.append(m)
    p, b = stack_module_state(nets)
    base = replace_all_batch_norm_modules_(build(eg.net_spec((16, 32)), (2,))).to("meta")
    x = torch.randn(50, 2)
    out = vmap(lambda p_, b_, x_: functional_call(base, (p_, b_), (x_,)), in_dims=(0, 0, None))(p, b, x)
    for k, m in enumerate(nets):
        assert torch.allclose(out[k], m(x), atol=1e-6)

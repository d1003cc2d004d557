"""The studies' bad inputs and divergences, as a user meets them: a bad option is one line and exit 2;
a run whose loss becomes NaN or infinite is one line and exit 1, and what was measured before it is kept
in results.json.  Toy size (--smoke on generated Fashion-MNIST / CIFAR-10)."""
import json
import math

import pytest

pytest.importorskip("torch")
from typer.testing import CliRunner  # noqa: E402

from cnncost_train.cli import app  # noqa: E402
from cnncost_train.engine import schedules  # noqa: E402
from cnncost_train.engine.loop import Diverged  # noqa: E402
from data_files import write_fashion  # noqa: E402

INF = math.inf


@pytest.fixture(scope="module")
def fashion(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    write_fashion(root / "fashion-mnist", n=(200, 40))
    return root


def one_error_line(r, code, *needles):
    assert r.exit_code == code, (r.exit_code, r.output, r.exception)
    errors = [ln for ln in r.stderr.splitlines() if ln.startswith("error: ")]
    assert len(errors) == 1 and "Traceback" not in r.output, r.output
    for n in needles:
        assert n in errors[0], errors[0]
    return errors[0]


def test_unknown_optimizer_is_one_line(tiny_cifar, tmp_path):
    r = CliRunner().invoke(app, ["optimizers", "--smoke", "--data-dir", str(tiny_cifar), "--method", "adamw",
                                 "--out", str(tmp_path)])
    one_error_line(r, 2, "'adamw'", "rmsprop-nesterov")
    assert not (tmp_path / "results.json").exists()          # refused before any training


@pytest.mark.parametrize("n", ["0", "2", "-5"])
def test_eggholder_too_few_points_is_one_line(tmp_path, n):
    r = CliRunner().invoke(app, ["eggholder", "--smoke", "--n", n, "--out", str(tmp_path)])
    one_error_line(r, 2, "--n")


# picks with diverged runs: non-finite losses count as +inf; the reference L0 is the first x's loss, or the
# largest finite loss when the first x diverged; nothing finite is a divergence, not a crash

def test_pick_batch_when_small_batches_diverge():
    # L0 -> 2.0 (largest finite), Lmin 1.0, drop 1.0: b_min first L <= 1.9 (256), b_max first L <= 1.1 (512)
    assert schedules.pick_batch([64, 128, 256, 512, 1024], [INF, 2.0, 1.5, 1.0, 1.05]) == (256, 512)
    assert schedules.pick_batch([64, 128], [math.nan, 3.0]) == (128, 128)     # one finite loss: no drop


def test_pick_lr_when_the_first_rate_diverges():
    # L0 -> 4.0, Lmin 1.0, drop 3.0: lr_min first L <= 3.7 (1e-2); lr_max last from argmin with L <= 1.3 (1e-1)
    assert schedules.pick_lr([1e-4, 1e-3, 1e-2, 1e-1, 1.0], [INF, 4.0, 1.0, 1.2, INF]) == (1e-2, 1e-1)


@pytest.mark.parametrize("pick, values", [(schedules.pick_batch, [64, 128]), (schedules.pick_lr, [0.1, 1.0])])
def test_picks_with_every_run_diverged(pick, values):
    with pytest.raises(Diverged, match="every run diverged"):
        pick(values, [INF, math.nan])


def test_batch_range_all_diverged_exits_1_and_keeps_runs(fashion, tmp_path):
    r = CliRunner().invoke(app, ["batch-range", "--smoke", "--data-dir", str(fashion), "--lr", "1e20",
                                 "--batch", "64", "--batch", "128", "--out", str(tmp_path)])
    one_error_line(r, 1, "diverged", str(tmp_path))
    res = json.loads((tmp_path / "results.json").read_text())
    assert set(res["runs"]) == {"b64", "b128"} and all(v["diverged"] for v in res["runs"].values())
    assert (tmp_path / "batch_range.csv").is_file()


def test_clr_divergence_exits_1_and_keeps_history(fashion, tmp_path):
    r = CliRunner().invoke(app, ["clr", "--smoke", "--data-dir", str(fashion), "--lr-min", "1e5", "--lr-max", "1e6",
                                 "--out", str(tmp_path)])
    one_error_line(r, 1, "diverged", str(tmp_path))
    run = json.loads((tmp_path / "results.json").read_text())["runs"]["clr"]
    assert run["diverged"] and run["epochs"] == len(run["history"])
    assert (tmp_path / "history.csv").is_file()

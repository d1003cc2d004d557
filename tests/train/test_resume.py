"""Resume on CPU at toy size: a run with dropout continues with the same random masks (the generators'
state is in the checkpoint), the clocks continue across a resume (wall_s >= train_s here; the speedrun
trainer's train_s in test_loop.py), a speedrun's '[resumed]' marker is printed as text, and `--resume`
refuses options that change results."""
import json

import pytest

torch = pytest.importorskip("torch")
from rich.console import Console  # noqa: E402
from typer.testing import CliRunner  # noqa: E402

from cnncost_train.cli import app  # noqa: E402
from cnncost_train.engine import data  # noqa: E402
from cnncost_train.engine import study_run as study  # noqa: E402
from cnncost_train.engine.loop import Interrupted  # noqa: E402
from cnncost_train.experiments import speedrun  # noqa: E402
from data_files import write_fashion  # noqa: E402


def dropout_run():
    t = study.tensors(data.synthetic(48, 16, seed=1), "cpu")
    spec = study.RunSpec("mlp-dropout", "mlp", "sgd", 0.05, 16, total_steps=9, steps_per_epoch=3, seed=5,
                         model_opts={"hidden": (64, 64), "dropout_in": 0.2, "dropout_hidden": 0.5})
    return lambda: study.Run(spec, t, "cpu")


def stop_after_epoch(n):
    def on_epoch(loop, row):
        if row["epoch"] == n:
            loop.flag["stop"] = "SIGTERM"      # what the signal handler sets: the loop saves and stops
    return on_epoch


def test_dropout_run_resumes_exactly(tmp_path):
    make = dropout_run()
    full = make().train(None, False)
    ck = tmp_path / "run.pt"
    with pytest.raises(Interrupted, match="SIGTERM at step 3 of 9"):
        make().train(ck, False, stop_after_epoch(1))
    resumed = make().train(ck, True)
    assert resumed["resumed"] and resumed["epochs"] == 3
    assert [h["train_loss"] for h in resumed["history"]] == [h["train_loss"] for h in full["history"]]
    assert [h["test_loss"] for h in resumed["history"]] == [h["test_loss"] for h in full["history"]]
    # the clocks run on over the resume: wall time (steps + evaluation) is never below the training clock
    assert resumed["wall_s"] >= resumed["train_s"] == resumed["history"][-1]["train_s"]
    walls = [h["wall_s"] for h in resumed["history"]]
    assert walls == sorted(walls) and all(h["wall_s"] >= h["train_s"] for h in resumed["history"])


def test_resumed_marker_is_printed():
    res = {"acc": 93.5, "time_s": 1.0, "init_s": 0.1, "train_s": 0.8, "eval_s": 0.1, "resumed": True}
    console = Console(record=True, width=200)
    console.print(speedrun.run_line(0, 1, 0, res), markup=False, highlight=False)
    assert console.export_text().rstrip().endswith("[resumed]")


def one_error_line(r, *needles):
    assert r.exit_code == 2, (r.output, r.exception)
    errors = [ln for ln in r.stderr.splitlines() if ln.startswith("error: ")]
    assert len(errors) == 1 and "Traceback" not in r.output, r.output
    for n in needles:
        assert n in errors[0], errors[0]


def test_eggholder_resume_refuses_other_epochs_or_seeds(tmp_path):
    base = ["eggholder", "--smoke", "--max-units", "16", "--out", str(tmp_path)]
    assert CliRunner().invoke(app, [*base, "--epochs", "1"]).exit_code == 0
    assert json.loads((tmp_path / "config.json").read_text())["epochs"] == 1
    one_error_line(CliRunner().invoke(app, [*base, "--epochs", "2", "--resume"]), "epochs 1 -> 2")
    one_error_line(CliRunner().invoke(app, [*base, "--epochs", "1", "--seed", "3", "--resume"]), "seed 0 -> 3")
    r = CliRunner().invoke(app, [*base, "--epochs", "1", "--resume"])      # same options: nothing re-trained
    assert r.exit_code == 0, r.output


def test_study_resume_refuses_another_validation_split(tmp_path):
    write_fashion(tmp_path / "data" / "fashion-mnist", n=(120, 20))
    base = ["lr-range", "--smoke", "--data-dir", str(tmp_path / "data"), "--n", "1", "--out", str(tmp_path / "o")]
    assert CliRunner().invoke(app, [*base, "--val", "10"]).exit_code == 0
    one_error_line(CliRunner().invoke(app, [*base, "--val", "20", "--resume"]), "val_images 10 -> 20")


def test_scaling_resume_refuses_other_steps(tmp_path):
    base = ["scaling", "--smoke", "--synthetic", "--learners", "1", "--torchrun-config", "--out", str(tmp_path)]
    assert CliRunner().invoke(app, [*base, "--max-steps", "2"]).exit_code == 0
    one_error_line(CliRunner().invoke(app, [*base, "--max-steps", "3", "--resume"]), "max_steps 2 -> 3")

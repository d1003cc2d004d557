"""The training-dynamics study commands at toy size (--smoke on CPU, generated data): each writes its
JSON, CSV and PNG; --resume keeps finished runs; picks flow lr-range -> clr / batch-range -> cbs;
missing inputs are one-line errors."""
import json

import pytest

torch = pytest.importorskip("torch")
from typer.testing import CliRunner  # noqa: E402

from cnncost_train.cli import app  # noqa: E402
from data_files import write_cifar, write_fashion  # noqa: E402

run = CliRunner().invoke


@pytest.fixture(scope="module")
def fashion(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    write_fashion(root / "fashion-mnist", n=(200, 40))
    return root


def ok(args):
    r = run(app, args)
    assert r.exit_code == 0, r.output
    return r


def summary_line(r, start, out):
    """The line a study ends with: what it picked and where its results are."""
    line = [ln for ln in r.stderr.splitlines() if ln.startswith(start)]
    assert len(line) == 1 and f"results in {out}" in line[0], r.stderr
    return line[0]


def test_data_summary(fashion, tmp_path):
    ok(["data-summary", "fashion-mnist", "--smoke", "--val", "30", "--data-dir", str(fashion), "--out", str(tmp_path)])
    s = json.loads((tmp_path / "summary.json").read_text())
    assert (s["total"], s["train"], s["validation"], s["test"]) == (240, 170, 30, 40)
    assert sum(c["train"] + c["validation"] for c in s["per_class"]) == 200
    assert (tmp_path / "samples.png").stat().st_size > 0 and (tmp_path / "classes.csv").is_file()


@pytest.mark.parametrize("smoke", [[], ["--smoke"]])
def test_missing_data_is_one_line(tmp_path, monkeypatch, smoke):
    """An explicit --data-dir is the only place read, even where a system copy exists (here a fake one)."""
    from cnncost_train.engine import data
    write_fashion(tmp_path / "system", n=(30, 10))
    monkeypatch.setattr(data, "FASHION_SYSTEM", tmp_path / "system")
    (tmp_path / "empty").mkdir()
    r = run(app, ["data-summary", *smoke, "--data-dir", str(tmp_path / "empty"), "--out", str(tmp_path / "o")])
    assert r.exit_code == 2 and "Fashion-MNIST not found" in r.output and "Traceback" not in r.output
    assert str(tmp_path / "system") not in r.output and not (tmp_path / "o").exists()


def test_lr_range_clr_batch_range_cbs_chain(fashion, tmp_path):
    d = ["--smoke", "--data-dir", str(fashion), "--val", "40"]
    r = ok(["lr-range", *d, "--n", "3", "--lo", "1e-4", "--hi", "1e1", "--out", str(tmp_path / "lr-range")])
    res = json.loads((tmp_path / "lr-range" / "results.json").read_text())
    assert f"lr_min {res['picks']['lr_min']:.3g}" in summary_line(r, "lr-range: ", tmp_path / "lr-range")
    assert set(res["runs"]) == {"lr0", "lr1", "lr2", "single"}
    for f in ("study.csv", "single.csv", "lr_range.png"):
        assert (tmp_path / "lr-range" / f).stat().st_size > 0
    picks = res["picks"]
    assert 1e-4 <= picks["lr_min"] <= picks["lr_max"] <= 1e1

    # resume: a finished run is kept as stored, a missing one is trained
    res["runs"]["lr0"]["final_train_loss"] = 123.0
    del res["runs"]["lr2"]
    (tmp_path / "lr-range" / "results.json").write_text(json.dumps(res))
    ok(["lr-range", *d, "--n", "3", "--lo", "1e-4", "--hi", "1e1", "--out", str(tmp_path / "lr-range"), "--resume"])
    again = json.loads((tmp_path / "lr-range" / "results.json").read_text())
    assert again["runs"]["lr0"]["final_train_loss"] == 123.0 and "lr2" in again["runs"]
    picks = again["picks"]                       # recomputed from the stored (edited) losses
    assert picks["lr_min"] == pytest.approx(10 ** -1.5)   # L0 = 123 now: the second rate is already 10% down
    r = run(app, ["lr-range", *d, "--n", "4", "--out", str(tmp_path / "lr-range"), "--resume"])
    assert r.exit_code == 2 and "other options" in r.output

    ok(["clr", *d, "--max-epochs", "2", "--out", str(tmp_path / "clr")])          # lr_min/lr_max from lr-range
    c = json.loads((tmp_path / "clr" / "results.json").read_text())
    assert (c["meta"]["lr_min"], c["meta"]["lr_max"]) == (picks["lr_min"], picks["lr_max"])
    assert 1 <= c["runs"]["clr"]["epochs"] <= 2
    assert (tmp_path / "clr" / "clr.png").is_file() and (tmp_path / "clr" / "history.csv").is_file()

    r = ok(["batch-range", *d, "--batch", "64", "--batch", "128", "--max-batch", "64",
            "--out", str(tmp_path / "batch-range")])
    b = json.loads((tmp_path / "batch-range" / "results.json").read_text())
    assert f"b_min {b['picks']['b_min']}," in summary_line(r, "batch-range: ", tmp_path / "batch-range")
    assert b["picks"]["lr_min"] == picks["lr_min"] and b["picks"]["b_min"] in (64, 128)
    assert [b["runs"][k]["accumulated"] for k in ("b64", "b128")] == [False, True]
    assert (tmp_path / "batch-range" / "batch_range.png").is_file()

    r = ok(["cbs", *d, "--b-min", "16", "--b-max", "64", "--max-epochs", "1", "--out", str(tmp_path / "cbs")])
    s = json.loads((tmp_path / "cbs" / "results.json").read_text())
    assert "b_min 16, b_max 64" in summary_line(r, "cbs: ", tmp_path / "cbs")
    header = (tmp_path / "cbs" / "compare.csv").read_text().splitlines()[0].split(",")
    assert "test_acc_at_best_val" in header and "final_test_acc" in header and "best_test_acc" not in header
    assert [r["run"] for r in s["compare"]] == ["clr", "cbs"] and s["meta"]["lr"] == picks["lr_min"]
    for f in ("cbs.png", "compare.csv", "compare.png", "history.csv"):
        assert (tmp_path / "cbs" / f).is_file()
    assert not list((tmp_path / "cbs" / "checkpoints").glob("*.pt"))               # finished: checkpoint removed


def test_clr_without_picks_is_one_line(fashion, tmp_path):
    r = run(app, ["clr", "--smoke", "--data-dir", str(fashion), "--out", str(tmp_path / "clr")])
    assert r.exit_code == 2 and "--lr-min" in r.output


def test_optimizers_smoke(tmp_path):
    write_cifar(tmp_path / "data", per_batch=26)
    out = tmp_path / "out"
    r = ok(["optimizers", "--smoke", "--data-dir", str(tmp_path / "data"), "--out", str(out),
            "--method", "rmsprop-nesterov", "--method", "adadelta"])
    summary_line(r, "optimizers: best final test accuracy", out)
    res = json.loads((out / "results.json").read_text())
    assert set(res["runs"]) == {"rmsprop-nesterov", "adadelta", "rmsprop-nesterov-dropout", "adadelta-dropout"}
    assert res["runs"]["adadelta-dropout"]["dropout"] is True
    for f in ("summary.csv", "epochs.csv", "loss_no_dropout.png", "loss_dropout.png"):
        assert (out / f).stat().st_size > 0

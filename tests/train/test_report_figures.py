"""What the trainer shows: plots (labelled for what they plot, readable when one point diverged or one
epoch ran, distinct lines), the speedrun summary on a CPU, and comparison tables that never pick an epoch
by its test accuracy.  Inputs are hand-made rows; expected values are hand arithmetic."""
import math
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("matplotlib")
from rich.console import Console  # noqa: E402

from cnncost_train.engine import study_setup  # noqa: E402
from cnncost_train.experiments import batch_augment, lr_range, scaling, speedrun  # noqa: E402


def test_batch_augment_plot_says_test_error_and_marks_single_epochs(tmp_path):
    results = {"config": {"model": "resnet20", "recipe": {"name": "resnet44-cutout"}},
               "runs": {"1": {"history": [{"epoch": 1, "test_acc": 40.0}]},
                        "2": {"history": [{"epoch": 1, "test_acc": 45.0}]}}}
    fig = batch_augment.plot(results, tmp_path / "e.png", 94.0)
    ax = fig.axes[0]
    assert "test error" in ax.get_ylabel() and "validation" not in ax.get_ylabel()
    curves = [ln for ln in ax.get_lines() if ln.get_label().startswith("M=")]
    assert len(curves) == 2 and all(ln.get_marker() not in (None, "None", "", " ") for ln in curves)
    assert list(curves[0].get_ydata()) == [60.0] and (tmp_path / "e.png").stat().st_size > 0


def test_lr_range_plot_is_log_log_and_skips_diverged_points(tmp_path):
    rows = [{"lr": 1e-3, "final_train_loss": 2.3}, {"lr": 1e-1, "final_train_loss": 0.5},
            {"lr": 10.0, "final_train_loss": math.inf}]
    fig = lr_range.plot(tmp_path / "lr.png", rows, [], (1e-3, 1e-1), "lenet5")
    ax = fig.axes[0]
    assert (ax.get_xscale(), ax.get_yscale()) == ("log", "log")
    y = ax.get_lines()[0].get_ydata()
    assert list(y[:2]) == [2.3, 0.5] and math.isnan(y[2])


def test_scaling_plot_has_distinct_lines_and_a_strong_scaling_efficiency_panel(tmp_path):
    measured = [{"mode": m, "variant": "default", "learners": n, "images_per_s": ips, "epoch_s": 60000 / ips,
                 "efficiency": e} for m, n, ips, e in (("strong", 1, 100.0, 1.0), ("strong", 2, 150.0, 0.75),
                                                      ("weak", 1, 100.0, 1.0), ("weak", 2, 160.0, 0.8))]
    predicted = [{"link": ln, "algorithm": alg, "mode": m, "learners": n, "per_learner_batch": 64,
                  "step_s": 0.1 * n ** 0.5, "images_per_s": 640 * n / n ** 0.5}
                 for ln in ("nvlink", "pcie", "100gbe") for alg in ("ring", "tree") for m in ("strong", "weak")
                 for n in (1, 2, 4)]
    fig = scaling.plot(tmp_path / "s.png", measured, predicted, 2.0)
    titles = {ax.get_title(): ax for ax in fig.axes}
    strong = next(ax for t, ax in titles.items() if t.startswith("strong-scaling efficiency"))
    throughput = titles["throughput"]
    styles = [(tuple(ln.get_color()) if not isinstance(ln.get_color(), str) else ln.get_color(), ln.get_linestyle())
              for ln in throughput.get_lines()]
    assert len(styles) == 2 + 12 and len(set(styles)) == len(styles)
    # measured strong efficiency as given; predicted X_N / (N X_1): (640*4/2) / (4*640) = 0.5 at N = 4
    lines = {ln.get_label(): ln for ln in strong.get_lines()}
    assert list(lines["measured, strong"].get_ydata()) == [1.0, 0.75]
    assert lines["predicted, strong, pcie ring"].get_ydata()[-1] == pytest.approx(0.5)


def fake_summary(device):
    class Fwd:
        flops, macs, params, convention = 1_000_000, 500_000, 1000, "cnncost"
    run = {"acc": 50.0, "resumed": False, "time_s": 0.1, "init_s": 0.01, "train_s": 0.08, "eval_s": 0.01,
           "images_seen": 100, "test_images": 10, "tta_views": 1}
    probe = {"flops_per_s": 2e9, "dtype": "float32"}
    return speedrun.summarize([run], Fwd, None, probe, device)


def test_speedrun_summary_on_cpu_says_na_not_zero():
    s = fake_summary("cpu")
    # 3 x 1e6 x 100 training + 1e6 x 10 x 1 evaluation = 3.1e8 FLOPs in 0.1 s = 3.1 GFLOP/s
    assert s["cost"]["achieved_flops_per_s"] == pytest.approx(3.1e9) and s["cost"]["mfu"] is None
    console = Console(record=True, width=80)
    speedrun.print_summary({**s, "recipe": {"name": "fast"}, "device": "CPU (x86_64, 2 threads)", "warmup": None},
                           console, Path("out"))
    text = console.export_text()
    assert "3.1 GFLOP/s" in text and "n/a on CPU" in text and "0.0 TFLOP/s" not in text
    assert fake_summary("cuda")["cost"]["mfu"] == pytest.approx(3.1e9 / 2e9)


def test_compare_reports_test_accuracy_at_the_validation_pick_and_the_last_epoch():
    history = [{"val_acc": 50.0, "test_acc": 60.0}, {"val_acc": 70.0, "test_acc": 65.0},
               {"val_acc": 70.0, "test_acc": 80.0}, {"val_acc": 68.0, "test_acc": 72.0}]
    row = study_setup.compare_row("cbs", {"history": history, "images": 1000, "epochs": 4})
    assert row == {"run": "cbs", "best_val_acc": 70.0, "test_acc_at_best_val": 65.0, "final_test_acc": 72.0,
                   "images": 1000, "epochs": 4}

"""The per-layer profiler, roofline arithmetic and the log-log fit, checked by hand."""
import json
import math
import time

import pytest

torch = pytest.importorskip("torch")
from typer.testing import CliRunner  # noqa: E402

from cnncost import analyze, spec as S  # noqa: E402
from cnncost.errors import CostError  # noqa: E402
from cnncost_train.experiments import profile  # noqa: E402
from cnncost_train.predict import contradictions, roofline, step_time  # noqa: E402
from cnncost_train.experiments import profile_display  # noqa: E402
from cnncost_train.cli import app  # noqa: E402

TINY = S.seq(S.Conv2d(4, 3, padding=1, bias=False, name="conv"), S.BatchNorm(name="bn"),
             S.Activation("relu", name="relu"),
             S.Residual(S.seq(S.Conv2d(4, 3, padding=1, bias=False, name="c2")), name="res"),
             S.GlobalPool("avg", name="pool"), S.Flatten(name="flat"), S.Linear(10, name="fc"))
PROBES = {"matmul": {"flops_per_s": 1e9}, "copy": {"bytes_per_s": 1e8}}


def _tiny():
    opts = profile.Options(model="tiny", batch=2, dtype="fp32", repeats=2, warmup=1)
    return profile.profile_layers(TINY, (3, 8, 8), opts, "cpu", PROBES)


def test_layer_flops_equal_analyze_and_hand_counts():
    res = _tiny()
    report = analyze(TINY, (3, 8, 8), batch=2)
    assert [r["name"] for r in res["rows"]] == [r.name for r in report.rows]
    assert [r["flops"] for r in res["rows"]] == [int(r.flops) for r in report.rows]
    rows = {r["name"]: r for r in res["rows"]}
    # conv 3->4, 3x3, pad 1, 8x8, batch 2: MACs = 2*8*8*4*(3*3*3) = 13,824; FLOPs = 2 x MACs
    assert rows["conv"]["flops"] == 2 * 13824
    # bytes (fp32): 4 x (input 2*3*64 + output 2*4*64 + weights 4*27) = 4 x (384 + 512 + 108) = 4,016
    assert rows["conv"]["bytes"] == 4016
    # the residual add reads two 2x4x8x8 tensors and writes one: 4 x 3 x 512 = 6,144
    assert rows["res.add"]["bytes"] == 6144
    assert rows["conv"]["intensity"] == pytest.approx(27648 / 4016)
    assert res["total"]["flops"] == int(report.total["flops"])
    assert all(r["fwd_s"] > 0 for r in res["rows"])             # every leaf and the add were timed
    assert all(r["fwd_bwd_s"] > 0 for r in res["rows"])


def test_roofline_columns_follow_the_formulas():
    r = {x["name"]: x for x in _tiny()["rows"]}["conv"]
    f, b, t = r["flops"], r["bytes"], r["fwd_s"]
    # P = 1e9 FLOP/s, W = 1e8 B/s: bound = max(27,648 / 1e9, 4,016 / 1e8) = 4.016e-5 s (memory-bound)
    assert r["fwd_bound_s"] == pytest.approx(4.016e-5)
    assert r["fwd_fraction"] == pytest.approx(4.016e-5 / t)
    assert r["fwd_tflops"] == pytest.approx(f / t / 1e12)
    assert r["fwd_gbs"] == pytest.approx(b / t / 1e9)
    assert r["fwd_bwd_bound_s"] == pytest.approx(3 * 4.016e-5)


def test_roofline_by_hand():
    # 2 GFLOP and 1 GB on P = 100 TFLOP/s, W = 2 TB/s: compute 20 us, memory 500 us -> 500 us
    assert roofline.bound_seconds(2e9, 1e9, 100e12, 2e12) == pytest.approx(5e-4)
    # intensity 10 FLOP/B: min(100e12, 10 * 2e12) = 20 TFLOP/s; intensity 100: the compute roof
    assert roofline.attainable(10, 100e12, 2e12) == pytest.approx(20e12)
    assert roofline.attainable(100, 100e12, 2e12) == pytest.approx(100e12)


def test_loglog_fit_by_hand():
    exact = roofline.loglog_fit([10, 100, 1000], [1, 10, 100])       # y = x / 10
    assert (exact["slope"], exact["intercept"], exact["r2"]) == (pytest.approx(1), pytest.approx(-1), pytest.approx(1))
    # logs x = 0, 1, 2; y = 0, 2, 2: slope = 2/2 = 1, intercept 4/3 - 1 = 1/3;
    # residuals -1/3, 2/3, -1/3: SS_res = 6/9; SS_tot = (16 + 4 + 4)/9 = 24/9; R^2 = 1 - 6/24 = 0.75
    fit = roofline.loglog_fit([1, 10, 100], [1, 100, 100])
    assert fit["slope"] == pytest.approx(1) and fit["intercept"] == pytest.approx(1 / 3)
    assert fit["r2"] == pytest.approx(0.75)
    with pytest.raises(ValueError):
        roofline.loglog_fit([1], [1])


def test_timer_is_a_median_per_call():
    # sleep never returns early, so each call takes at least 4 ms; a sample of 10 calls reported undivided
    # would be at least 40 ms, while a loaded machine adds a few ms per call at most
    t = roofline.timer(lambda: time.sleep(0.004), "cpu", warmup=0, repeats=3, inner=10)
    assert 0.004 <= t < 0.03


def test_timer_best_is_the_fastest_sample():
    # samples sleep 30, 6 and 18 ms (after one 1 ms warm-up call): best is the 6 ms one, the median 18 ms
    naps = iter([0.001, 0.030, 0.006, 0.018])
    t = roofline.timer(lambda: time.sleep(next(naps)), "cpu", warmup=1, repeats=3, best=True)
    assert 0.006 <= t < 0.018


def test_parse_input():
    assert profile.parse_input("32x24x3") == (3, 32, 24)
    assert profile.parse_input("784") == (784,)
    with pytest.raises(CostError):
        profile.parse_input("32x32")


def test_profile_cli_model(tmp_path):
    out = tmp_path / "p"
    res = CliRunner().invoke(app, ["profile", "resnet20", "--smoke", "--batch", "2", "--dtype", "fp32",
                                   "--repeats", "1", "--warmup", "0", "--input", "16x16x3", "--out", str(out)])
    assert res.exit_code == 0, res.output
    summary = json.loads((out / "profile.json").read_text())
    lines = (out / "layers.csv").read_text().splitlines()
    assert len(lines) == 1 + len(summary["rows"]) + 1
    # ResNet-20 on 16x16, batch 2: the first conv is 3->16, 3x3: 2 * (2*16*16*16*27) FLOPs
    assert summary["rows"][0]["flops"] == 2 * (2 * 16 * 16 * 16 * 27)


def test_profile_cli_zoo(tmp_path):
    out = tmp_path / "z"
    res = CliRunner().invoke(app, ["profile", "--zoo", "--models", "resnet20", "--models", "resnet44", "--smoke",
                                   "--batch", "1", "--dtype", "fp32", "--repeats", "1", "--warmup", "0",
                                   "--input", "16x16x3", "--out", str(out)])
    assert res.exit_code == 0, res.output
    z = json.loads((out / "zoo.json").read_text())
    assert [m["model"] for m in z["models"]] == ["resnet20", "resnet44"]
    assert 0 <= z["fits"]["fwd"]["r2"] <= 1 + 1e-12          # two points fit exactly: R^2 = 1
    assert z["fits"]["fwd"]["r2"] == pytest.approx(1)
    assert (out / "zoo_time_vs_flops.png").read_bytes()[:4] == b"\x89PNG"
    assert (out / "zoo.csv").read_text().startswith("model,")


def test_profile_bad_dtype_is_one_line(tmp_path):
    res = CliRunner().invoke(app, ["profile", "resnet20", "--smoke", "--dtype", "int8", "--out", str(tmp_path)])
    assert res.exit_code == 2 and "--dtype" in res.output


# ---------------------------------------------------------------- cache-aware bound, prediction, contradictions

CURVE = [{"buffer_bytes": 1000, "bytes_per_s": 4e8}, {"buffer_bytes": 10_000, "bytes_per_s": 2e8},
         {"buffer_bytes": 1_000_000, "bytes_per_s": 1e8}]
PROBES_CURVE = {"matmul": {"flops_per_s": 1e9}, "copy": CURVE[-1], "copy_curve": CURVE}


def test_bandwidth_at_by_hand():
    # the largest probed buffer not above S, then the highest rate from there up
    assert roofline.bandwidth_at(CURVE, 500) == 4e8          # below every buffer: from the smallest up
    assert roofline.bandwidth_at(CURVE, 4016) == 4e8         # 1000 <= S < 10,000
    assert roofline.bandwidth_at(CURVE, 10_000) == 2e8
    assert roofline.bandwidth_at(CURVE, 5e6) == 1e8
    # a small buffer slowed by overhead does not lower the roof of a small working set
    dip = [{"buffer_bytes": 1000, "bytes_per_s": 1e8}, {"buffer_bytes": 10_000, "bytes_per_s": 3e8}]
    assert roofline.bandwidth_at(dip, 10) == 3e8 and roofline.bandwidth_at(dip, 20_000) == 3e8


def test_copy_curve_sizes():
    c = roofline.copy_curve("cpu", torch.float32, sizes_mib=(1 / 16, 1 / 64), repeats=1)
    assert [x["buffer_bytes"] for x in c] == [16384, 65536]          # ascending, 2^14 and 2^16 bytes
    assert all(x["bytes_per_s"] > 0 for x in c)


def test_bound_uses_the_working_set_roof_and_prediction_the_dram_roof():
    opts = profile.Options(model="tiny", batch=2, dtype="fp32", repeats=1, warmup=0)
    res = profile.profile_layers(TINY, (3, 8, 8), opts, "cpu", PROBES_CURVE)
    conv = {r["name"]: r for r in res["rows"]}["conv"]
    # conv: 27,648 FLOPs, 4,016 bytes (hand counts above); working set 4,016 B -> roof 4e8 B/s:
    # bound = max(27,648 / 1e9, 4,016 / 4e8) = 2.7648e-5 s (compute-bound against the cache roof);
    # prediction with the DRAM roof 1e8 B/s: max(2.7648e-5, 4.016e-5) = 4.016e-5 s
    assert conv["roof_bytes_per_s"] == 4e8
    assert conv["fwd_bound_s"] == pytest.approx(2.7648e-5)
    assert conv["fwd_pred_s"] == pytest.approx(4.016e-5)
    # fwd+bwd moves 3 x 4,016 bytes: 1.2048e-4 s at 1e8 B/s, above any FLOP term (<= 3 x 27,648 / 1e9)
    assert conv["fwd_bwd_pred_s"] == pytest.approx(1.2048e-4)
    by_hand = math.fsum(max(r["flops"] / 1e9, r["bytes"] / 1e8) for r in res["rows"])
    assert res["total"]["fwd_pred_s"] == pytest.approx(by_hand)
    assert res["total"]["fwd_bound_s"] == pytest.approx(math.fsum(r["fwd_bound_s"] for r in res["rows"]
                                                                  if r["fwd_bound_s"] is not None))


def test_spearman_against_scipy():
    stats = pytest.importorskip("scipy.stats")
    xs, ys = [3.0, 1.0, 2.0, 2.0, 9.0, 4.0], [30.0, 12.0, 25.0, 20.0, 70.0, 80.0]
    assert step_time.spearman(xs, ys) == pytest.approx(stats.spearmanr(xs, ys).statistic, rel=1e-12)
    assert step_time.spearman([1, 2], [1, 2]) is None


def test_pass_flops():
    assert step_time.pass_flops(10, None) == (30, "3 x forward")
    assert step_time.pass_flops(10, 17) == (27, "forward + backward")


def test_contradictions_are_named():
    ok = {"name": "a", "fwd_s": 1.0, "fwd_bwd_s": 3.0, "fwd_fraction": 0.5, "fwd_bwd_fraction": 1.05}
    total = {"fwd_s": 1.0, "fwd_bwd_s": 3.0, "sum_layers_fwd_s": 1.9, "sum_layers_fwd_bwd_s": 5.9}
    assert contradictions.check([ok], total) == []
    slow_fwd = ok | {"name": "b", "fwd_s": 4.0}                                # forward > forward+backward
    fast = ok | {"name": "c", "fwd_fraction": 3.8}                             # 3.8x faster than its bound
    many = total | {"sum_layers_fwd_s": 13.0}                                  # layer sum 13x the model
    found = contradictions.check([ok, slow_fwd, fast], many)
    assert len(found) == 3
    assert "forward slower than forward+backward in 1 row(s) (b)" in found[0]
    assert "beat the roofline bound (worst c fwd, 3.8x)" in found[1]
    assert "forward 13.0x" in found[2]


def test_threads_option_and_predicted_time_in_the_terminal(tmp_path):
    out = tmp_path / "t"
    res = CliRunner().invoke(app, ["profile", "lenet5", "--smoke", "--threads", "1", "--out", str(out)],
                             terminal_width=80)
    assert res.exit_code == 0, res.output
    p = json.loads((out / "profile.json").read_text())
    assert p["threads"] == 1 and p["batch"] == 2 and p["repeats"] <= 2 and p["dtype"] == "fp32"   # smoke defaults
    assert "predicted (FLOPs/P, bytes/W per layer)" in res.output
    assert all(r["fwd_bwd_pred_s"] > 0 for r in p["rows"])
    bad = CliRunner().invoke(app, ["profile", "lenet5", "--smoke", "--threads", "0", "--out", str(out)])
    assert bad.exit_code == 2 and "--threads" in bad.output and bad.output.count("\n") == 1


def test_layer_table_fits_80_columns(tmp_path):
    from rich.console import Console
    opts = profile.Options(model="tiny", batch=2, dtype="fp32", repeats=1, warmup=0)
    res = profile.profile_layers(TINY, (3, 8, 8), opts, "cpu", PROBES_CURVE)
    con = Console(width=80, record=True, file=open(tmp_path / "t.txt", "w"))
    profile_display.print_layers(res, con)
    text = con.export_text()
    assert max(len(line) for line in text.splitlines()) <= 80
    assert "conv" in text and "pred ms" in text


def test_training_flops_are_forward_plus_the_calculators_backward():
    from cnncost.training.step import training
    res = _tiny()
    counted = training(analyze(TINY, (3, 8, 8), batch=2), optimizer="sgd").rows
    for row, c in zip(res["rows"], counted):
        bwd = c.train["backward_flops"]
        assert row["train_flops"] == (3 * row["flops"] if bwd is None else row["flops"] + int(bwd)), row["name"]
    # the first conv reads the network input: grad-weight only, 2 x its 13,824 MACs; forward 27,648
    assert {r["name"]: r for r in res["rows"]}["conv"]["train_flops"] == 27648 + 27648

"""Issue 5: the per-layer profiler, roofline arithmetic and the log-log fit, checked by hand."""
import json
import math
import time

import pytest

torch = pytest.importorskip("torch")
from typer.testing import CliRunner  # noqa: E402

from cnncost import analyze, spec as S  # noqa: E402
from cnncost.errors import CostError  # noqa: E402
from cnncost_train import profile, roofline  # noqa: E402
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
    assert roofline.timer(lambda: time.sleep(0.004), "cpu", warmup=0, repeats=3, inner=2) == pytest.approx(0.004, abs=3e-3)


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

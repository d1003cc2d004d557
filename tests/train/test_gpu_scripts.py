"""The GPU scripts under benchmarks/gpu, checked on the CPU: their --smoke forms end to end, the
statistics they print against scipy, the airbench row parser against airbench's printed format,
the goal lines against hand-made results, and the preparation script on fake data."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GPU = ROOT / "benchmarks" / "gpu"
sys.path.insert(0, str(GPU))

import goals  # noqa: E402
import race  # noqa: E402


def _bash(script, *args, env=None, timeout=600):
    e = {**os.environ, "PY": sys.executable, **(env or {})}
    e.pop("CNNCOST_DATA", None)
    return subprocess.run(["bash", str(GPU / script), *args], capture_output=True, text=True, env=e,
                          timeout=timeout, cwd=ROOT)


# ---------------------------------------------------------------- airbench's final row

# airbench 0.1.8 (utils.print_columns) prints each cell right-justified to its header's width
# ('run   ', 'epoch', 'train_loss', 'train_acc', 'val_acc', 'tta_val_acc', 'total_time_seconds') as
# '|  cell  ' and closes the row with '|'; the final row has epoch 'eval' and an empty run cell.
AIRBENCH_OUT = """\
---------------------------------------------------------------------------------------------
|  run     |  epoch  |  train_loss  |  train_acc  |  val_acc  |  tta_val_acc  |  total_time_seconds  |
---------------------------------------------------------------------------------------------
|       0  |      0  |      0.1234  |     0.5000  |   0.6000  |               |              0.5000  |
|          |      9  |      0.0700  |     0.9400  |   0.9350  |               |              3.4000  |
|          |   eval  |      0.0700  |     0.9400  |   0.9350  |       0.9412  |              3.4521  |
---------------------------------------------------------------------------------------------
"""


def test_airbench_final_row_is_read():
    got = race.parse_airbench(AIRBENCH_OUT)
    assert got == {"acc": pytest.approx(94.12), "time_s": pytest.approx(3.4521)}
    with pytest.raises(ValueError):
        race.parse_airbench(AIRBENCH_OUT.replace("eval", "   9"))


# ---------------------------------------------------------------- statistics against scipy

def test_welch_matches_scipy():
    stats = pytest.importorskip("scipy.stats")
    a = [3.61, 3.52, 3.70, 3.49, 3.80, 3.66]
    b = [3.41, 3.38, 3.55, 3.30, 3.47]
    ref = stats.ttest_ind(a, b, equal_var=False, alternative="greater")
    got = race.welch_greater(a, b)
    assert got["t"] == pytest.approx(ref.statistic, rel=1e-9)
    assert got["p"] == pytest.approx(ref.pvalue, rel=1e-7)
    assert got["df"] == pytest.approx(ref.df, rel=1e-9)


def test_spearman_matches_scipy_with_ties():
    stats = pytest.importorskip("scipy.stats")
    xs = [1.0, 2.0, 2.0, 5.0, 3.0, 8.0, 8.0, 0.5]
    ys = [0.9, 2.5, 1.7, 4.0, 4.0, 9.0, 7.0, 0.1]
    assert goals.spearman(xs, ys) == pytest.approx(stats.spearmanr(xs, ys).statistic, rel=1e-12)
    # by hand: the same order gives 1, the reverse order -1
    assert goals.spearman([1, 2, 3], [10, 20, 30]) == pytest.approx(1)
    assert goals.spearman([1, 2, 3], [3, 2, 1]) == pytest.approx(-1)
    assert goals.spearman([1, 1, 1], [1, 2, 3]) is None


# ---------------------------------------------------------------- goal lines from hand-made results

def _write(p: Path, obj):
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(json.dumps(obj))


def _race(n, acc, p, t_ours, t_air):
    side = lambda acc, p, t: {"n": n, "acc_mean": acc, "acc_std": 0.1, "p_acc_gt_94": p, "time_mean": t}
    return {"cnncost": side(acc, p, t_ours), "airbench": side(94.01, 0.3, t_air),
            "time_welch_airbench_gt_cnncost": {"p": 0.001}}


@pytest.mark.parametrize("n,acc,p,t,status", [
    (50, 94.05, 0.01, 3.0, "met"),
    (49, 94.05, 0.01, 3.0, "not met"),       # too few runs
    (50, 94.05, 0.2, 3.0, "not met"),        # not significant
    (50, 94.05, 0.01, 3.6, "not met"),       # slower than airbench's 3.5 s
])
def test_race_goal(tmp_path, n, acc, p, t, status):
    _write(tmp_path / "race" / "summary.json", _race(n, acc, p, t, 3.5))
    assert goals.goals(tmp_path)[0]["status"] == status


def test_race_goal_from_runs_csv_when_the_summary_is_missing(tmp_path):
    # a call cut short: runs.csv only. 50 pairs; cnncost 94.2% every run (p = 0) in 3.0 s, airbench 3.5 s
    (tmp_path / "race").mkdir()
    lines = ["system,pair,first,seed,acc,time_s,wall_s"]
    for k in range(50):
        lines += [f"airbench,{k},True,{k},94.0,3.5,4.0", f"cnncost,{k},False,{k},94.2,3.0,3.2"]
    (tmp_path / "race" / "runs.csv").write_text("\n".join(lines) + "\n")
    g = goals.goals(tmp_path)[0]
    assert g["status"] == "met" and "n 50" in g["line"]


def test_step_time_layer_order_and_memory_goals(tmp_path):
    # predicted / measured - 1: +19% and -19% are within 20%; +21% is not
    zoo = {"models": [{"model": "a", "fwd_bwd_s": 1.0, "fwd_bwd_pred_s": 1.19},
                      {"model": "b", "fwd_bwd_s": 2.0, "fwd_bwd_pred_s": 1.62}]}
    _write(tmp_path / "profile-zoo" / "zoo.json", zoo)
    rows = [{"fwd_bwd_s": m, "fwd_bwd_pred_s": p} for m, p in ((1, 10), (2, 20), (3, 30), (4, 40))]
    _write(tmp_path / "profile-a" / "profile.json", {"rows": rows})
    mem = {"predictor": "x", "measured": "y", "rows": [{"model": "a", "predicted_peak": 104, "measured_peak": 100,
                                                        "error": 0.04}]}
    _write(tmp_path / "memory" / "memory.json", mem)
    g = {x["goal"]: x for x in goals.goals(tmp_path)}
    assert g["race"]["status"] == "unmeasured"
    assert g["step time"]["status"] == "met" and g["step time"]["errors"]["b"] == pytest.approx(-0.19)
    assert g["layer order"]["status"] == "met" and g["layer order"]["rho"]["a"] == pytest.approx(1)
    assert g["memory"]["status"] == "met"
    zoo["models"][0]["fwd_bwd_pred_s"] = 1.21
    _write(tmp_path / "profile-zoo" / "zoo.json", zoo)
    assert goals.goals(tmp_path)[1]["status"] == "not met"


def test_goals_usage_error_is_one_line(tmp_path):
    r = subprocess.run([sys.executable, str(GPU / "goals.py"), str(tmp_path / "missing")], capture_output=True,
                       text=True)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and r.stderr.startswith("error:")


# ---------------------------------------------------------------- prepare.sh on fake inputs

def test_prepare_stages_each_call_and_refuses_missing_data(tmp_path):
    shared = tmp_path / "shared"
    (shared / "data" / "cifar10").mkdir(parents=True)
    (shared / "tools").mkdir()
    for name in ("part-1.npz", "part-2.npz"):
        (shared / "data" / "cifar10" / name).write_bytes(b"x" * 1000)
    (shared / "tools" / "cifar10_unpack.py").write_text("print('unpack')\n")
    fm = tmp_path / "fm"
    fm.mkdir()
    for name in ("train-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        (fm / name).write_bytes(b"y")
    dest = tmp_path / "dest"
    (dest / ".gpu2").mkdir(parents=True)
    (dest / ".gpu2" / "airbench-0.1.8.tar.gz").write_bytes(b"z")     # present: nothing is downloaded
    r = _bash("prepare.sh", env={"DEST": str(dest), "SHARED": str(shared), "FMNIST": str(fm)})
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in (dest / ".gpu1").iterdir()) == ["part-1.npz"]
    assert sorted(p.name for p in (dest / ".gpu2").iterdir()) == ["airbench-0.1.8.tar.gz", "cifar10_unpack.py",
                                                                  "part-2.npz"]
    assert len(list((dest / ".gpu3").iterdir())) == 2
    r = _bash("prepare.sh", env={"DEST": str(dest), "SHARED": str(tmp_path / "none")})
    assert r.returncode == 2 and r.stderr.startswith("error:") and r.stderr.count("\n") == 1


@pytest.mark.skipif(not (ROOT / ".git").exists(), reason="not a git checkout")
def test_device_folders_are_ignored_by_git():
    r = subprocess.run(["git", "check-ignore", ".gpu1/part-1.npz", ".gpu2/x", ".gpu3/y"], cwd=ROOT,
                       capture_output=True, text=True)
    assert r.stdout.split() == [".gpu1/part-1.npz", ".gpu2/x", ".gpu3/y"]


# ---------------------------------------------------------------- the scripts' --smoke forms

def test_side_by_side_smoke(tmp_path):
    r = _bash("side_by_side.sh", "--smoke", env={"OUT": str(tmp_path)})
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    last = r.stdout.strip().splitlines()[-4:]
    assert [line.split()[0] for line in last] == ["GOAL"] * 4, r.stdout[-2000:]
    res = tmp_path / "res"
    race_s = json.loads((res / "race" / "summary.json").read_text())
    assert race_s["cnncost"]["n"] == 2 and race_s["airbench"] == {"n": 0}
    assert "airbench skipped" in race_s["skipped"]
    zoo = json.loads((res / "profile-zoo" / "zoo.json").read_text())
    assert [m["model"] for m in zoo["models"]] == ["lenet5", "resnet20"]
    assert all(m["fwd_bwd_pred_s"] > 0 for m in zoo["models"])
    mem = json.loads((res / "memory" / "memory.json").read_text())
    assert [r["model"] for r in mem["rows"]] == ["lenet5", "resnet20"]
    assert all(r["measured_peak"] is None for r in mem["rows"])     # no CUDA here
    assert all(r["predicted_peak"] > 0 for r in mem["rows"])        # the calculator's count, from the spec
    statuses = {g["goal"]: g["status"] for g in json.loads((res / "goals.json").read_text())}
    assert statuses["race"] == "unmeasured" and statuses["memory"] == "unmeasured"
    assert (tmp_path / "results.tgz").stat().st_size > 0
    assert (tmp_path / "race.png").read_bytes()[:4] == b"\x89PNG"


def test_studies_needs_stages_and_knows_them(tmp_path):
    r = _bash("studies.sh", env={"OUT": str(tmp_path)})
    assert r.returncode == 2 and r.stderr.startswith("error: name the stages")
    r = _bash("studies.sh", "--smoke", "nonsense", env={"OUT": str(tmp_path)})
    assert r.returncode == 2 and "unknown stage nonsense" in r.stdout


@pytest.mark.slow
def test_studies_smoke(tmp_path):
    """Every study stage's --smoke path (minutes on a loaded 2-core CPU: marked slow)."""
    r = _bash("studies.sh", "--smoke", env={"OUT": str(tmp_path)}, timeout=1800)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    stages = [json.loads(line) for line in (tmp_path / "res" / "stages.jsonl").read_text().splitlines()]
    assert [s["stage"] for s in stages] == ["optimizers", "lr-range", "clr", "batch-range", "cbs", "eggholder",
                                            "batch-augment"]
    assert all(s["exit"] == 0 for s in stages), stages
    for f in ("optimizers/summary.csv", "lr-range/results.json", "clr/results.json", "batch-range/results.json",
              "cbs/compare.csv", "eggholder/results.json"):
        assert (tmp_path / "res" / f).is_file(), f
    assert (tmp_path / "results.tgz").stat().st_size > 0


def test_airbench_side_reads_the_files_it_writes(tmp_path, monkeypatch):
    """race.Airbench with a stand-in `airbench` module: the data files are in the layout airbench 0.1.8's
    CifarLoader reads (uint8 N x 32 x 32 x 3 images, int64 labels, ten class names, under ./cifar10/), the
    run happens in the work folder, and its printed final row is what the run returns."""
    import types

    import numpy as np
    torch = pytest.importorskip("torch")
    seen = {}

    def train94():
        data = torch.load("cifar10/train.pt")
        seen["train"] = (tuple(data["images"].shape), data["images"].dtype, data["labels"].dtype, len(data["classes"]))
        seen["test"] = tuple(torch.load("cifar10/test.pt")["images"].shape)
        print(AIRBENCH_OUT)

    fake = types.SimpleNamespace(train94=train94, warmup94=lambda: print("warmup"), __version__="0.1.8")
    monkeypatch.setitem(sys.modules, "airbench", fake)
    ds = types.SimpleNamespace(train_x=np.zeros((6, 32, 32, 3), np.uint8), train_y=np.arange(6) % 10,
                               test_x=np.zeros((4, 32, 32, 3), np.uint8), test_y=np.arange(4))
    ab = race.Airbench(ds, tmp_path / "work", tmp_path / "airbench.log")
    ab.warmup()
    got = ab.run(seed=3)
    assert got == {"acc": pytest.approx(94.12), "time_s": pytest.approx(3.4521)}
    assert seen["train"] == ((6, 32, 32, 3), torch.uint8, torch.int64, 10) and seen["test"] == (4, 32, 32, 3)
    assert "warmup" in (tmp_path / "airbench.log").read_text() and os.getcwd() != str(tmp_path / "work")

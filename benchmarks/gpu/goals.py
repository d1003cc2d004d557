"""One comparison line per goal of the side-by-side call, read from the files its stages wrote.

Goals (each line says met, not met, or unmeasured, and the numbers behind it):
  race        cnncost's mean accuracy >= 94% with p < 0.05 over >= 50 runs, in less mean time per
              run than airbench94 measured in the same call (Welch's p beside it);
  step time   every zoo model's forward+backward time predicted (FLOPs / P and bytes / W per layer,
              P and W the two probes of the device) within +-20% of the measured time;
  layer order per model, Spearman's rank correlation of predicted and measured layer times >= 0.9
              (`cnncost_train.predict.step_time.spearman`);
  memory      every zoo model's predicted training-step peak within +-5% of max_memory_allocated.
Usage: python benchmarks/gpu/goals.py RESULTS_DIR  (writes RESULTS_DIR/goals.json)
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from cnncost_train.predict.step_time import spearman  # noqa: E402

MIN_RUNS, TIME_TOL, RHO_MIN, MEM_TOL = 50, 0.20, 0.9, 0.05


def _load(path: Path):
    return json.loads(path.read_text()) if path.is_file() else None


def race_goal(s: dict | None) -> dict:
    if not s:
        return {"goal": "race", "status": "unmeasured", "line": "race: no race results"}
    c, a = s.get("cnncost", {}), s.get("airbench", {})
    if not c.get("n"):
        return {"goal": "race", "status": "unmeasured", "line": "race: no cnncost runs"}
    ours = f"cnncost {c['acc_mean']:.3f}% (p {_p(c.get('p_acc_gt_94'))}) in {c['time_mean']:.3f} s, n {c['n']}"
    if not a.get("n"):
        return {"goal": "race", "status": "unmeasured",
                "line": f"race: {ours}; airbench94 not run ({s.get('skipped') or 'no runs'})"}
    w = s.get("time_welch_airbench_gt_cnncost") or {}
    p = c.get("p_acc_gt_94")
    met = (c["n"] >= MIN_RUNS and c["acc_mean"] >= 94.0 and p is not None and p < 0.05
           and c["time_mean"] < a["time_mean"])
    line = (f"race: {ours} vs airbench94 {a['acc_mean']:.3f}% in {a['time_mean']:.3f} s, n {a['n']}; "
            f"time Welch p {_p(w.get('p'))}")
    return {"goal": "race", "status": "met" if met else "not met", "line": line}


def step_time_goal(zoo: dict | None) -> dict:
    rows = [r for r in (zoo or {}).get("models", []) if r.get("fwd_bwd_s") and r.get("fwd_bwd_pred_s")]
    if not rows:
        return {"goal": "step time", "status": "unmeasured", "line": "step time: no zoo profile"}
    errs = {r["model"]: r["fwd_bwd_pred_s"] / r["fwd_bwd_s"] - 1 for r in rows}
    worst = max(errs, key=lambda k: abs(errs[k]))
    ok = sum(abs(e) <= TIME_TOL for e in errs.values())
    return {"goal": "step time", "status": "met" if ok == len(errs) else "not met", "errors": errs,
            "line": f"step time: {ok}/{len(errs)} models predicted within ±{TIME_TOL:.0%} "
                    f"(worst {worst} {errs[worst]:+.0%})"}


def layer_order_goal(profiles: dict) -> dict:
    rhos = {}
    for model, p in profiles.items():
        rows = [r for r in p.get("rows", []) if r.get("fwd_bwd_s") and r.get("fwd_bwd_pred_s")]
        rho = spearman([r["fwd_bwd_pred_s"] for r in rows], [r["fwd_bwd_s"] for r in rows])
        if rho is not None:
            rhos[model] = rho
    if not rhos:
        return {"goal": "layer order", "status": "unmeasured", "line": "layer order: no per-layer profiles"}
    worst = min(rhos, key=rhos.get)
    ok = sum(v >= RHO_MIN for v in rhos.values())
    return {"goal": "layer order", "status": "met" if ok == len(rhos) else "not met", "rho": rhos,
            "line": f"layer order: Spearman >= {RHO_MIN} in {ok}/{len(rhos)} models "
                    f"(lowest {worst} {rhos[worst]:.3f})"}


def memory_goal(mem: dict | None) -> dict:
    if not mem:
        return {"goal": "memory", "status": "unmeasured", "line": "memory: no memory check"}
    rows = [r for r in mem["rows"] if r.get("error") is not None]
    if not rows:
        k = sum(bool(r.get("predicted_peak")) for r in mem["rows"])
        why = f"no prediction ({mem['predictor']})" if not k else \
            f"{mem['measured']}; predicted for {k}/{len(mem['rows'])} models"
        return {"goal": "memory", "status": "unmeasured", "line": f"memory: {why}"}
    worst = max(rows, key=lambda r: abs(r["error"]))
    ok = sum(abs(r["error"]) <= MEM_TOL for r in rows)
    return {"goal": "memory", "status": "met" if ok == len(rows) else "not met",
            "line": f"memory: {ok}/{len(rows)} models within ±{MEM_TOL:.0%} of max_memory_allocated "
                    f"(worst {worst['model']} {worst['error']:+.1%})"}


def _p(v):
    return "n/a" if v is None else f"{v:.2g}"


def race_from_runs(path: Path) -> dict | None:
    """The race's summary rebuilt from runs.csv (written after every run) when the call ended before the
    summary was written."""
    import csv
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import race
    if not path.is_file():
        return None
    rows = [{**r, "acc": float(r["acc"]), "time_s": float(r["time_s"])} for r in csv.DictReader(open(path))]
    sides = {k: [r for r in rows if r["system"] == k] for k in ("airbench", "cnncost")}
    out = {k: race.side_summary(v) for k, v in sides.items()}
    if sides["airbench"] and sides["cnncost"]:
        out["time_welch_airbench_gt_cnncost"] = race.welch_greater([r["time_s"] for r in sides["airbench"]],
                                                                   [r["time_s"] for r in sides["cnncost"]])
    return out


def goals(res: Path) -> list[dict]:
    profiles = {p.parent.name.removeprefix("profile-"): _load(p) for p in sorted(res.glob("profile-*/profile.json"))}
    race_summary = _load(res / "race" / "summary.json") or race_from_runs(res / "race" / "runs.csv")
    return [race_goal(race_summary),
            step_time_goal(_load(res / "profile-zoo" / "zoo.json")),
            layer_order_goal({k: v for k, v in profiles.items() if v}),
            memory_goal(_load(res / "memory" / "memory.json"))]


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1 or not Path(argv[0]).is_dir():
        print("error: usage: goals.py RESULTS_DIR (an existing folder)", file=sys.stderr)
        raise SystemExit(2)
    res = Path(argv[0])
    out = goals(res)
    (res / "goals.json").write_text(json.dumps(out, indent=2) + "\n")
    for g in out:
        print(f"GOAL {g['status'].upper():10} {g['line']}")


if __name__ == "__main__":
    main()

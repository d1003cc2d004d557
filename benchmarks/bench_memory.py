"""Predicted training-step costs beside torch's own instruments, model by model.

For each model of tests/training_cases.py (zoo specs built with cnncost.torch.build, torchvision
models read by cnncost.torch.read; small inputs) it measures, on this machine's CPU:
- backward FLOPs: FlopCounterMode on a real loss.backward() (batch 2, convention torch);
- saved bytes: unique storages seen by saved_tensors_hooks in one train-mode forward (batch 2),
  fp32 and bf16 autocast;
- the peak of a steady-state training step (MemTracker, live tensor storages), SGD and Adam,
  batch --batch;
and writes benchmarks/results/memory.{json,csv}, memory.png (predicted vs measured peak) and the
agreement table in docs/memory.md (between its bench_memory markers).

    python benchmarks/bench_memory.py [--batch 8] [--models lenet5,resnet20]
"""
from __future__ import annotations

import argparse
import csv
import json
import platform
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
RESULTS = ROOT / "benchmarks" / "results"
DOC = ROOT / "docs" / "memory.md"
START, END = "<!-- bench_memory: start -->", "<!-- bench_memory: end -->"


def measure(name: str, batch: int) -> dict:
    from cnncost.torch import instruments as inst
    from cnncost.training.step import training
    from cnncost.walk import analyze
    from training_cases import model
    spec, module, shape = model(name)
    row = {"model": name, "input": "x".join(map(str, shape)), "batch": batch}
    ours = training(analyze(spec, shape, batch=2, convention="torch")).training
    theirs = inst.backward_flops(module, shape, batch=2)
    row.update(backward_pred=ours["backward_flops"], backward_meas=theirs["backward"])
    for dtype, ac in (("fp32", None), ("amp-bf16", "bf16")):
        row[f"saved_{dtype}_pred"] = training(analyze(spec, shape, batch=2), dtype=dtype).training["saved_bytes"]
        row[f"saved_{dtype}_meas"] = inst.saved_bytes(module, shape, 2, ac)
    for opt in ("sgd", "adam"):
        t = training(analyze(spec, shape, batch=batch), optimizer=opt).training
        row[f"peak_{opt}_pred"] = t["peak_bytes"]
        row[f"peak_{opt}_phase"] = t["peak_phase"]
        row[f"peak_{opt}_meas"] = inst.step_peak(module, shape, batch, opt)["total"]
        row[f"peak_{opt}_error_pct"] = round(100 * (row[f"peak_{opt}_pred"] / row[f"peak_{opt}_meas"] - 1), 3)
    return row


def table(rows: list) -> str:
    lines = ["| model | input | backward FLOPs equal | saved fp32 equal | saved amp-bf16 equal | "
             "peak SGD predicted / measured (MiB) | error | peak Adam predicted / measured (MiB) | error |",
             "|---|---|---|---|---|---|---:|---|---:|"]
    mib = 2 ** 20
    for r in rows:
        eq = lambda a, b: "yes" if r[a] == r[b] else f"no ({r[a] - r[b]:+,} B)"  # noqa: E731
        lines.append(
            f"| {r['model']} | {r['input']} | {'yes' if r['backward_pred'] == r['backward_meas'] else 'no'} | "
            f"{eq('saved_fp32_pred', 'saved_fp32_meas')} | {eq('saved_amp-bf16_pred', 'saved_amp-bf16_meas')} | "
            f"{r['peak_sgd_pred'] / mib:,.1f} / {r['peak_sgd_meas'] / mib:,.1f} | {r['peak_sgd_error_pct']:+.2f}% | "
            f"{r['peak_adam_pred'] / mib:,.1f} / {r['peak_adam_meas'] / mib:,.1f} | {r['peak_adam_error_pct']:+.2f}% |")
    return "\n".join(lines)


def plot(rows: list, path: Path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6, 6))
    for opt, marker in (("sgd", "o"), ("adam", "s")):
        ax.scatter([r[f"peak_{opt}_meas"] / 2 ** 20 for r in rows], [r[f"peak_{opt}_pred"] / 2 ** 20 for r in rows],
                   marker=marker, label=opt.upper() if opt == "sgd" else "Adam", alpha=0.7)
    lo = min(min(r["peak_sgd_meas"], r["peak_adam_meas"]) for r in rows) / 2 ** 20 / 1.5
    hi = max(max(r["peak_sgd_meas"], r["peak_adam_meas"]) for r in rows) / 2 ** 20 * 1.5
    ax.plot([lo, hi], [lo, hi], "k-", lw=0.8, label="equal")
    ax.plot([lo, hi], [lo * 1.05, hi * 1.05], "k:", lw=0.6, label="+-5%")
    ax.plot([lo, hi], [lo * 0.95, hi * 0.95], "k:", lw=0.6)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("measured peak of a training step, MiB (MemTracker, CPU)")
    ax.set_ylabel("predicted peak, MiB (cnncost)")
    ax.set_title("Training-step peak memory: predicted vs measured")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--models", help="comma-separated case names (default: all)")
    ap.add_argument("--render-only", action="store_true",
                    help="rewrite the CSV, plot and docs table from results/memory.json (cases still listed)")
    a = ap.parse_args(argv)
    import torch
    from training_cases import ALL
    names = a.models.split(",") if a.models else list(ALL)
    t0 = time.time()
    if a.render_only:
        saved = json.loads((RESULTS / "memory.json").read_text())
        rows = [r for r in saved["rows"] if r["model"] in names]
        machine, a.batch, elapsed = saved["machine"], saved["batch"], saved.get("seconds", 0)
    else:
        rows = []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for name in names:
                rows.append(measure(name, a.batch))
                print(f"{name}: peak sgd {rows[-1]['peak_sgd_error_pct']:+.2f}%, "
                      f"adam {rows[-1]['peak_adam_error_pct']:+.2f}%", flush=True)
        machine = (f"{platform.processor() or platform.machine()}, torch {torch.__version__} "
                   f"({torch.get_num_threads()} threads), Python {platform.python_version()}")
        elapsed = round(time.time() - t0)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "memory.json").write_text(json.dumps({"machine": machine, "batch": a.batch, "seconds": elapsed,
                                                     "rows": rows}, indent=2) + "\n")
    with open(RESULTS / "memory.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    plot(rows, RESULTS / "memory.png")
    worst = max(max(abs(r["peak_sgd_error_pct"]), abs(r["peak_adam_error_pct"])) for r in rows)
    text = (f"{START}\nMeasured on {machine}; peak at batch {a.batch}, backward FLOPs and saved bytes at batch 2; "
            f"{len(rows)} models, worst peak error {worst:.2f}%. Command: `python benchmarks/bench_memory.py "
            f"--batch {a.batch}` ({elapsed} s on a shared, busy machine). Data: benchmarks/results/memory.json, .csv, .png.\n\n"
            f"{table(rows)}\n{END}")
    doc = DOC.read_text()
    if START in doc and END in doc:
        doc = doc[:doc.index(START)] + text + doc[doc.index(END) + len(END):]
        DOC.write_text(doc)
    print(f"wrote {RESULTS / 'memory.json'}, memory.csv, memory.png and the table in {DOC}")


if __name__ == "__main__":
    main()

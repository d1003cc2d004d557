"""End-to-end time to count VGG19: `cnncost table vgg19` against fvcore's FlopCountAnalysis.

Both run as fresh subprocesses, so the times include interpreter start and every import, which
is what a user waits for; cnncost draws its table for an 80-column terminal (COLUMNS=80).  The
runs alternate (cnncost, fvcore, cnncost, ...) so that a change in the machine's load touches
both, and the load average is recorded beside the times.  fvcore's side imports torch + torchvision + fvcore, builds
torchvision's vgg19 and traces it on a 1x3x224x224 input.

    python benchmarks/bench_table.py [--runs 10] [--fvcore-runs 3] [--json benchmarks/bench_table.json]

Prints wall seconds (median, fastest) and CPU seconds (user + system, median) and writes the figures, the commands and the machine to JSON.  The counts are
printed too: fvcore's total should equal `cnncost table vgg19 --convention fvcore` plus the
25,088 input elements of torchvision's AdaptiveAvgPool2d(7), which the paper's VGG19 (the zoo
model) does not have.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

FVCORE = """
import warnings; warnings.filterwarnings("ignore")
import torch, torchvision
from fvcore.nn import FlopCountAnalysis
model = torchvision.models.vgg19().eval()
analysis = FlopCountAnalysis(model, torch.zeros(1, 3, 224, 224))
analysis.unsupported_ops_warnings(False); analysis.uncalled_modules_warnings(False)
print(analysis.total())
"""


def cnncost_command() -> list[str]:
    """The installed console script beside this interpreter (what users run), else `python -m cnncost`."""
    script = Path(sys.executable).with_name("cnncost")
    if script.exists():
        return [str(script)]
    found = shutil.which("cnncost")
    return [found] if found else [sys.executable, "-m", "cnncost"]


#: as a user's shell runs them: 80 columns, and bytecode caches written and used (a sandbox that
#: sets PYTHONDONTWRITEBYTECODE recompiles every module of cnncost on every run, about 0.1 s)
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"} | {"COLUMNS": "80"}


CPU = {"cnncost": [], "fvcore": []}


def once(cmd: list[str], who: str = "") -> tuple[float, str]:
    """Wall seconds and stdout of one run; its CPU seconds (user + system) go to CPU[who], a
    figure that a busy machine inflates less than the wall time."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, check=True, env=ENV)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if who:
        CPU[who].append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return wall, done.stdout


def machine() -> dict:
    cpu = platform.processor()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), cpu)
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(), "system": platform.platform(),
            "load_average_1min": os.getloadavg()[0] if hasattr(os, "getloadavg") else None}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--runs", type=int, default=10, help="runs of cnncost (median reported)")
    p.add_argument("--fvcore-runs", type=int, default=3, help="runs of fvcore (0 skips it)")
    p.add_argument("--json", type=Path, default=Path(__file__).with_name("bench_table.json"))
    args = p.parse_args(argv)

    ours = cnncost_command() + ["table", "vgg19"]
    once(ours)  # warm the file cache
    theirs = [sys.executable, "-c", FVCORE]
    t_ours, t_theirs, out = [], [], ""
    for i in range(max(args.runs, args.fvcore_runs)):   # interleaved: the same load for both
        if i < args.runs:
            t_ours.append(once(ours, "cnncost")[0])
        if i < args.fvcore_runs:
            t, out = once(theirs, "fvcore")
            t_theirs.append(t)
    ours_json = cnncost_command() + ["table", "vgg19", "--convention", "fvcore", "--format", "json"]
    flops_ours = json.loads(subprocess.run(ours_json, capture_output=True, text=True, check=True).stdout)["total"]["flops"]
    results = {"machine": machine(), "cnncost": {"command": " ".join(ours), "runs": args.runs,
                                                 "median_s": statistics.median(t_ours), "min_s": min(t_ours),
                                                 "cpu_median_s": statistics.median(CPU["cnncost"]),
                                                 "fvcore_convention_flops": flops_ours}}
    rows = [("cnncost table vgg19", statistics.median(t_ours), min(t_ours), statistics.median(CPU["cnncost"]),
             args.runs, flops_ours)]
    if args.fvcore_runs > 0:
        flops_theirs = int(out.strip().splitlines()[-1])
        results["fvcore"] = {"command": "python -c <import torch, torchvision, fvcore; vgg19; FlopCountAnalysis>",
                             "runs": args.fvcore_runs, "median_s": statistics.median(t_theirs),
                             "min_s": min(t_theirs), "cpu_median_s": statistics.median(CPU["fvcore"]),
                             "total": flops_theirs}
        results["speedup_median"] = statistics.median(t_theirs) / statistics.median(t_ours)
        results["speedup_min"] = min(t_theirs) / min(t_ours)
        results["speedup_cpu_median"] = statistics.median(CPU["fvcore"]) / statistics.median(CPU["cnncost"])
        rows.append(("fvcore FlopCountAnalysis(vgg19)", statistics.median(t_theirs), min(t_theirs),
                     statistics.median(CPU["fvcore"]), args.fvcore_runs, flops_theirs))

    print(f"VGG19 end to end on {results['machine']['cpu']} ({results['machine']['cores']} cores), "
          f"Python {results['machine']['python']}, load average {os.getloadavg()[0]:.1f} after the runs")
    print(f"{'':34}{'median s':>10}{'min s':>10}{'CPU s':>8}{'runs':>6}{'FLOPs (fvcore convention)':>28}")
    for name, med, low, cpu, n, flops in rows:
        print(f"{name:34}{med:10.3f}{low:10.3f}{cpu:8.3f}{n:6d}{flops:28,}")
    if "speedup_median" in results:
        print(f"cnncost is {results['speedup_median']:.1f}x faster (median; {results['speedup_min']:.1f}x by the "
              f"fastest runs, {results['speedup_cpu_median']:.1f}x in CPU time); fvcore - cnncost = "
              f"{rows[1][-1] - rows[0][-1]:,} (torchvision's AdaptiveAvgPool2d(7): 7*7*512 = 25,088)")
    args.json.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()

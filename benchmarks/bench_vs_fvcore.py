"""Wall time of cnncost vs fvcore (and ptflops / thop when installed) per torchvision model.

For each model (built once, untimed, in eval mode, batch 1, CPU):
- cnncost read + analyse: `read_module` (fx trace -> spec) then `analyze` (fvcore convention);
- cnncost analyse: `analyze` of the already-read spec (what `cnncost table` does per call);
- fvcore: `FlopCountAnalysis(model, x).total()` (a jit trace and one forward pass);
- ptflops `get_model_complexity_info` / thop `profile`, if installed.
"first" is the first call for that model in this process; "warm" the best of --repeat later calls.
Speed-ups are fvcore's warm time over cnncost's warm times (read + analyse, and analyse).

    python benchmarks/bench_vs_fvcore.py [--repeat 3] [--models resnet50 vgg19] [--out benchmarks/results]
    python benchmarks/bench_vs_fvcore.py --from-json benchmarks/results/bench_vs_fvcore.json   # table only

writes bench_vs_fvcore.json and bench_vs_fvcore.md (the README table) under --out.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import time
import warnings
from pathlib import Path

MODELS = ["alexnet", "vgg11", "vgg16", "vgg19", "vgg16_bn", "googlenet", "inception_v3", "resnet18", "resnet50",
          "resnext50_32x4d", "wide_resnet50_2", "densenet121", "mobilenet_v2", "mobilenet_v3_small",
          "shufflenet_v2_x1_0", "squeezenet1_0", "mnasnet1_0", "efficientnet_b0", "regnet_y_400mf", "convnext_tiny"]
INPUTS = {"inception_v3": (3, 299, 299)}


def timed(fn, repeat: int) -> tuple:
    """(first call, best of `repeat` more) in seconds, and the first result."""
    t = time.perf_counter()
    result = fn()
    first = time.perf_counter() - t
    warm = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        warm.append(time.perf_counter() - t)
    return first, min(warm), result


def machine() -> str:
    import torch
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return (f"{cpu}, {os.cpu_count()} cores, torch {torch.__version__} ({torch.get_num_threads()} threads), "
            f"Python {platform.python_version()}, {platform.system()}")


def optional_counters():
    counters = {}
    try:
        from ptflops import get_model_complexity_info
        counters["ptflops"] = lambda m, shape: get_model_complexity_info(m, shape, as_strings=False,
                                                                        print_per_layer_stat=False, verbose=False)
    except ImportError:
        pass
    try:
        import thop
        import torch
        counters["thop"] = lambda m, shape: thop.profile(m, inputs=(torch.zeros(1, *shape),), verbose=False)
    except ImportError:
        pass
    return counters


def bench(names, repeat: int) -> list:
    import torch
    import torchvision
    from fvcore.nn import FlopCountAnalysis
    from cnncost import analyze
    from cnncost.torch.read import read_module

    torch.set_grad_enabled(False)
    extra = optional_counters()
    results = []
    for name in names:
        shape = INPUTS.get(name, (3, 224, 224))
        model = torchvision.models.get_model(name, weights=None).eval()
        x = torch.zeros(1, *shape)

        def read_and_analyse():
            return analyze(read_module(model, shape, name=name).spec, shape, convention="fvcore")

        def fvcore():
            return FlopCountAnalysis(model, x).unsupported_ops_warnings(False).uncalled_modules_warnings(False).total()

        row = {"model": name, "input": list(shape)}
        row["cnncost_read_first"], row["cnncost_read_warm"], report = timed(read_and_analyse, repeat)
        spec = read_module(model, shape, name=name).spec
        row["cnncost_analyse_first"], row["cnncost_analyse_warm"], _ = timed(
            lambda: analyze(spec, shape, convention="fvcore"), repeat)
        row["fvcore_first"], row["fvcore_warm"], fv_total = timed(fvcore, repeat)
        for tool, count in extra.items():
            row[f"{tool}_first"], row[f"{tool}_warm"], _ = timed(lambda: count(model, shape), repeat)
        row["flops_fvcore_convention"] = report.total["flops"]
        row["flops_equal"] = report.total["flops"] == fv_total
        row["speedup_read"] = row["fvcore_warm"] / row["cnncost_read_warm"]
        row["speedup_analyse"] = row["fvcore_warm"] / row["cnncost_analyse_warm"]
        results.append(row)
        print(f"{name:20s} cnncost read+analyse {row['cnncost_read_warm'] * 1e3:8.1f} ms  analyse "
              f"{row['cnncost_analyse_warm'] * 1e3:7.2f} ms  fvcore {row['fvcore_warm'] * 1e3:8.1f} ms  "
              f"x{row['speedup_read']:.0f} / x{row['speedup_analyse']:.0f}  equal={row['flops_equal']}", flush=True)
        del model
    return results


def markdown(results, machine_text: str, repeat: int) -> str:
    tools = [t for t in ("ptflops", "thop") if results and f"{t}_warm" in results[0]]
    ms = lambda s: f"{s * 1e3:,.1f}"  # noqa: E731
    head = ["model", "cnncost read + analyse (first / warm, ms)", "cnncost analyse (first / warm, ms)",
            "fvcore (first / warm, ms)", *[f"{t} (first / warm, ms)" for t in tools],
            "fvcore / cnncost read", "fvcore / cnncost analyse", "FLOPs equal"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in results:
        cells = [r["model"], f"{ms(r['cnncost_read_first'])} / {ms(r['cnncost_read_warm'])}",
                 f"{ms(r['cnncost_analyse_first'])} / {ms(r['cnncost_analyse_warm'])}",
                 f"{ms(r['fvcore_first'])} / {ms(r['fvcore_warm'])}",
                 *[f"{ms(r[t + '_first'])} / {ms(r[t + '_warm'])}" for t in tools],
                 f"{r['speedup_read']:.0f}x", f"{r['speedup_analyse']:,.0f}x", "yes" if r["flops_equal"] else "NO"]
        lines.append("| " + " | ".join(cells) + " |")
    worst = min(results, key=lambda r: r["speedup_analyse"])
    worst_read = min(results, key=lambda r: r["speedup_read"])
    return "\n".join([
        f"Machine: {machine_text}. Batch 1, CPU, untrained weights; warm = best of {repeat} calls.",
        "",
        *lines,
        "",
        f"Analysing a model is at least {worst['speedup_analyse']:.0f}x faster than fvcore on every model "
        f"(slowest: {worst['model']}). Reading it from PyTorch first (a torch.fx trace, done once per model) "
        f"brings the ratio down to {worst_read['speedup_read']:.0f}x at worst ({worst_read['model']}).",
        f"Command: `python benchmarks/bench_vs_fvcore.py --repeat {repeat}`.",
        "",
    ])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="*", default=MODELS)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    parser.add_argument("--from-json", type=Path, help="rewrite the Markdown table from a saved JSON file")
    args = parser.parse_args(argv)
    if args.from_json:
        saved = json.loads(args.from_json.read_text())
        (args.out / "bench_vs_fvcore.md").write_text(markdown(saved["results"], saved["machine"], saved["repeat"]))
        return
    warnings.filterwarnings("ignore")
    logging.disable(logging.WARNING)
    results = bench(args.models, args.repeat)
    text = machine()
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "bench_vs_fvcore.json").write_text(json.dumps({"machine": text, "repeat": args.repeat,
                                                               "results": results}, indent=2) + "\n")
    (args.out / "bench_vs_fvcore.md").write_text(markdown(results, text, args.repeat))
    print(f"wrote {args.out / 'bench_vs_fvcore.json'} and {args.out / 'bench_vs_fvcore.md'}")


if __name__ == "__main__":
    main()

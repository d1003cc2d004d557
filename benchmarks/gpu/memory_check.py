"""Predicted peak memory of one training step beside `torch.cuda.max_memory_allocated`, per zoo model.

Measured (CUDA only): the model (`cnncost.torch.build`, fp32 parameters) and a random batch on the
GPU, optimizer torch.optim.SGD (momentum 0.9 for `momentum`, plain for `sgd`) or Adam/AdamW; two
warm-up steps so that the optimizer state exists (steady state); then `reset_peak_memory_stats`,
one step (forward, cross-entropy, backward, optimizer step, zero_grad(set_to_none=True)) and
`max_memory_allocated` (bytes the caching allocator handed out, at the peak; cuDNN workspaces
included).  `at_start` is `memory_allocated` just before that step (parameters, optimizer state,
the batch).  Under --autocast the forward runs in `torch.autocast(bfloat16)`.

Predicted: the training-step peak that the calculator counts from the spec alone
(`cnncost.training.step.training(report, optimizer, dtype, device='cuda')`, its `peak_bytes`); a model
it cannot count says so in its row, and without the calculator the stage says "not available".  error = predicted /
measured - 1; the goal is |error| <= 5%.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))      # the repository, when run as a script

MODELS = ("alexnet", "vgg19", "googlenet", "resnet18", "resnet50", "resnet44", "davidnet")
SMOKE_MODELS = ("lenet5", "resnet20")


def predictor():
    """(callable(spec, input_shape, batch, optimizer, dtype) -> bytes, description) or (None, reason)."""
    try:
        from cnncost.training.step import training
    except ImportError as e:
        return None, f"the calculator has no training-step peak here ({e})"

    def peak(spec, shape, batch, optimizer, dtype):
        from cnncost import walk
        report = training(walk.analyze(spec, tuple(shape), batch=batch), optimizer=optimizer, dtype=dtype,
                          device="cuda")
        return report.training["peak_bytes"]
    return peak, "cnncost.training.step.training(report, device='cuda').training['peak_bytes']"


def measure(spec, shape, batch: int, optimizer: str, autocast: bool, device: str) -> dict:
    import torch
    import torch.nn.functional as F
    from cnncost.torch.build import build
    model = build(spec, tuple(shape)).to(device).train()
    g = torch.Generator(device=device).manual_seed(0)
    x = torch.randn(batch, *shape, device=device, generator=g)
    y = torch.randint(0, 10, (batch,), device=device, generator=g)
    opt = {"sgd": lambda p: torch.optim.SGD(p, lr=1e-3),
           "momentum": lambda p: torch.optim.SGD(p, lr=1e-3, momentum=0.9),
           "adam": lambda p: torch.optim.Adam(p, lr=1e-4),
           "adamw": lambda p: torch.optim.AdamW(p, lr=1e-4)}[optimizer](model.parameters())

    def step():
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=autocast):
            out = model(x)
        loss = F.cross_entropy(out.float(), y)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    for _ in range(2):
        step()
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    start = torch.cuda.memory_allocated()
    step()
    torch.cuda.synchronize()
    peak = torch.cuda.max_memory_allocated()
    del model, opt, x, y
    torch.cuda.empty_cache()
    return {"measured_peak": peak, "at_start": start}


def check(models, batch: int, optimizer: str, autocast: bool, smoke: bool, out: Path) -> dict:
    import torch
    from cnncost import zoo
    from cnncost_train.engine import outputs
    cuda = torch.cuda.is_available() and not smoke
    pred, how = predictor()
    dtype = "amp-bf16" if autocast else "fp32"
    rows = []
    for name in models:
        m = zoo.get(name)
        shape = tuple(m.input_shape)
        row = {"model": name, "input": "x".join(map(str, shape)), "batch": batch, "optimizer": optimizer,
               "dtype": dtype, "predicted_peak": None, "measured_peak": None, "at_start": None, "error": None}
        if pred is not None:
            try:
                row["predicted_peak"] = pred(m.spec, shape, batch, optimizer, dtype)
            except Exception as e:      # a predictor that refuses a model: say so in the row
                row["note"] = f"prediction failed: {type(e).__name__}: {e}"
        if cuda:
            row |= measure(m.spec, shape, batch, optimizer, autocast, "cuda")
        if row["predicted_peak"] and row["measured_peak"]:
            row["error"] = row["predicted_peak"] / row["measured_peak"] - 1
        rows.append(row)
        print(f"memory {name}: predicted {_gib(row['predicted_peak'])}, measured {_gib(row['measured_peak'])}",
              flush=True)
    summary = {"predictor": how, "measured": "torch.cuda.max_memory_allocated" if cuda else
               "not measured (no CUDA device)", "device": torch.cuda.get_device_name() if cuda else "cpu",
               "torch": torch.__version__, "rows": rows, "command": " ".join(sys.argv)}
    outputs.write_csv(out / "memory.csv", rows)
    outputs.write_json(out / "memory.json", summary)
    return summary


def _gib(v):
    return "n/a" if v is None else f"{v / 2 ** 30:.3f} GiB"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True)
    p.add_argument("--models", nargs="*", default=None)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--optimizer", default="momentum", choices=("sgd", "momentum", "adam", "adamw"))
    p.add_argument("--autocast", action="store_true", help="forward under bf16 autocast")
    p.add_argument("--smoke", action="store_true")
    a = p.parse_args(argv)
    models = a.models or (SMOKE_MODELS if a.smoke else MODELS)
    check(models, a.batch, a.optimizer, a.autocast, a.smoke, Path(a.out))


if __name__ == "__main__":
    main()

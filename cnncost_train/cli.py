"""`cnncost-train`: train the zoo on a GPU and put measured speed beside the calculator's cost.

torch is imported only inside the commands, so `--help` answers at once.
"""
from __future__ import annotations

from typing import Annotated, Optional

import typer

from cnncost_train import common

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Train cnncost specs on a GPU-resident data set; report speed beside the counted cost.")


@app.callback()
def _root():
    """Train cnncost specs on a GPU-resident data set; report speed beside the counted cost."""


@app.command()
def speedrun(
    recipe: Annotated[str, typer.Option("--recipe", help="fast (ours, default) or davidnet (Page 2018, 24 epochs).")] = "fast",
    runs: Annotated[int, typer.Option("--runs", help="Timed runs (seeds seed..seed+runs-1).")] = 1,
    epochs: Annotated[Optional[float], typer.Option("--epochs", help="Override the recipe's epochs (may be fractional).",
                                                    show_default=False)] = None,
    data_dir: common.DataDir = None,
    out: common.Out = None,
    smoke: common.Smoke = False,
    resume: common.Resume = False,
    checkpoint_dir: common.CheckpointDir = None,
    seed: common.Seed = 0,
    device: common.Device = None,
    epoch_eval: Annotated[bool, typer.Option("--epoch-eval/--no-epoch-eval",
                                             help="Test accuracy after every epoch (outside the clock).")] = True,
):
    """CIFAR-10 to 94% test accuracy in the least time; accuracy statistics, time, FLOPs and MFU."""
    with common.cli_errors():
        from cnncost_train import speedrun as sr
        sr.run(sr.Options(recipe=recipe, runs=runs, epochs=epochs, data_dir=data_dir, out=out, smoke=smoke,
                          resume=resume, checkpoint_dir=checkpoint_dir, seed=seed, device=device,
                          epoch_eval=epoch_eval))


# ---------------------------------------------------------------- issue 5: cutout, batch augmentation, profiler

@app.command("cutout-demo")
def cutout_demo(
    n: Annotated[int, typer.Option("--n", help="Images per class.")] = 2,
    size: Annotated[int, typer.Option("--size", help="Cutout square side in pixels.")] = 16,
    out: common.Out = None, data_dir: common.DataDir = None, smoke: common.Smoke = False, seed: common.Seed = 0,
):
    """PNG grid of CIFAR-10 images before and after cutout (the function training uses)."""
    with common.cli_errors():
        from cnncost_train import cutout_demo as cd
        cd.run(n=n, size=size, out=out, data_dir=data_dir, smoke=smoke, seed=seed)


@app.command("batch-augment", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def batch_augment(
    ctx: typer.Context,
    model: Annotated[str, typer.Option("--model", help="Zoo model.")] = "resnet44",
    m: Annotated[list[int], typer.Option("--m", help="Copies per sample, one run each: --m 1 --m 2 or --m 1 2 4.")] = [1, 2, 4, 8, 16, 32],
    recipe: Annotated[str, typer.Option("--recipe", help="resnet44-cutout (Hoffer et al.) or resnet44.")] = "resnet44-cutout",
    epochs: Annotated[Optional[float], typer.Option("--epochs", help="Epochs per run (default: the recipe's 100).",
                                                    show_default=False)] = None,
    time_budget: Annotated[Optional[float], typer.Option("--time-budget", help="Stop cleanly at an epoch end "
                                                         "before this many seconds; continue with --resume.",
                                                         show_default=False)] = None,
    target: Annotated[float, typer.Option("--target", help="Test accuracy (%) whose epoch and time are reported.")] = 94.0,
    data_dir: common.DataDir = None, out: common.Out = None, smoke: common.Smoke = False,
    resume: common.Resume = False, seed: common.Seed = 0, device: common.Device = None,
):
    """Hoffer et al. 2019 batch augmentation: error vs epoch per M, time to target, FLOPs per epoch."""
    with common.cli_errors():
        from cnncost.errors import CostError
        from cnncost_train import batch_augment as ba
        if not all(a.isdigit() for a in ctx.args):   # `--m 1 2 4`: the values after the first arrive here
            raise CostError(f"unexpected arguments {' '.join(ctx.args)}; --m takes positive integers")
        ba.run(ba.Options(model=model, recipe=recipe, m=list(m) + [int(a) for a in ctx.args], epochs=epochs, time_budget=time_budget,
                          target=target, data_dir=data_dir, out=out, smoke=smoke, resume=resume, seed=seed,
                          device=device))


@app.command("profile")
def profile(
    model: Annotated[Optional[str], typer.Argument(help="Zoo model (or use --zoo).", show_default=False)] = None,
    batch: Annotated[int, typer.Option("--batch", help="Batch size.")] = 64,
    dtype: Annotated[str, typer.Option("--dtype", help="bf16, fp16 or fp32 (model and inputs cast).")] = "bf16",
    input: Annotated[Optional[str], typer.Option("--input", help="Input HxWxC (default: the zoo entry's).",
                                                 show_default=False)] = None,
    zoo: Annotated[bool, typer.Option("--zoo", help="Whole-model time vs FLOPs for the zoo list; CSV + PNG.")] = False,
    models: Annotated[Optional[list[str]], typer.Option("--models", help="Models for --zoo (default: alexnet vgg19 "
                                                        "googlenet resnet18 resnet50 resnet44 davidnet).",
                                                        show_default=False)] = None,
    repeats: Annotated[int, typer.Option("--repeats", help="Timed repeats (median).")] = 10,
    warmup: Annotated[int, typer.Option("--warmup", help="Untimed calls first.")] = 3,
    convention: Annotated[str, typer.Option("--convention", help="FLOP convention for the counts.")] = "cnncost",
    out: common.Out = None, device: common.Device = None, smoke: common.Smoke = False,
):
    """Per-layer and whole-model forward / forward+backward time beside FLOPs, bytes, intensity, roofline."""
    with common.cli_errors():
        from cnncost_train import profile as pf
        opts = pf.Options(model=model, batch=batch, dtype=dtype, input=input, zoo=zoo, convention=convention,
                          repeats=repeats, warmup=warmup, out=out, device=device, smoke=smoke)
        if models:
            opts.models = list(models)
        pf.run(opts)


def main():
    app()


if __name__ == "__main__":
    main()

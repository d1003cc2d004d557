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


# ---------------------------------------------------------------- issue 8: scaling on torch.distributed, Eggholder

@app.command("scaling")
def scaling(
    learners: Annotated[list[int], typer.Option("--learners", help="Learner counts, one run each (repeat the option).")] = [1, 2],
    mode: Annotated[list[str], typer.Option("--mode", help="strong (global batch 256) and/or weak (64 per learner).")] = ["strong", "weak"],
    variant: Annotated[list[str], typer.Option("--variant", help="All-reduce: default, reduce-bcast, fp16, nccl-ring, "
                                               "nccl-tree (non-default ones at the largest learner count).")] = ["default"],
    epochs: Annotated[float, typer.Option("--epochs", help="Epochs per run (may be fractional).")] = 1.0,
    max_steps: Annotated[Optional[int], typer.Option("--max-steps", help="Cap on steps per run.", show_default=False)] = None,
    backend: Annotated[Optional[str], typer.Option("--backend", help="gloo or nccl (default: nccl on CUDA, else gloo).",
                                                   show_default=False)] = None,
    threads: Annotated[Optional[int], typer.Option("--threads", help="CPU threads per learner (default cores/N).",
                                                   show_default=False)] = None,
    price: Annotated[float, typer.Option("--gpu-hour-price", help="Price of one learner-hour (for cost).")] = 2.0,
    predict: Annotated[bool, typer.Option("--predict", help="Add the cost model's curves for 1..1024 learners.")] = False,
    link: Annotated[list[str], typer.Option("--link", help="Link presets for --predict: nvlink, pcie, 100gbe.")] = ["nvlink", "pcie", "100gbe"],
    matmul_rate: Annotated[Optional[float], typer.Option("--matmul-rate", help="FLOP/s for the model (default: measured).",
                                                         show_default=False)] = None,
    warmup: Annotated[int, typer.Option("--warmup", help="Untimed steps before each run's clock.")] = 3,
    synthetic: Annotated[bool, typer.Option("--synthetic", help="Random 28x28x1 images of the same shapes "
                                            "(timing without Fashion-MNIST).")] = False,
    torchrun_config: Annotated[bool, typer.Option("--torchrun-config", help="Only write config-<N>.json under --out "
                                                  "for `torchrun -m cnncost_train.scaling FILE` (multi-GPU/multi-node).")] = False,
    data_dir: common.DataDir = None, out: common.Out = None, smoke: common.Smoke = False,
    resume: common.Resume = False, seed: common.Seed = 0, device: common.Device = None,
):
    """DDP ResNet-50 on Fashion-MNIST: strong/weak scaling, all-reduce variants, predicted curves to 1024 learners."""
    with common.cli_errors():
        from cnncost_train import costmodel, scaling as sc
        for ln in link:
            costmodel.link(ln)
        sc.run(sc.Options(learners=list(learners), modes=list(mode), variants=list(variant), epochs=epochs,
                          max_steps=max_steps, backend=backend, threads=threads, gpu_hour_price=price, predict=predict,
                          links=list(link), matmul_rate=matmul_rate, data_dir=data_dir, out=out, smoke=smoke,
                          resume=resume, seed=seed, device=device, torchrun_config=torchrun_config, synthetic=synthetic,
                          warmup=warmup))


@app.command("eggholder")
def eggholder(
    n: Annotated[int, typer.Option("--n", help="Points drawn uniformly from [-512, 512]^2 (80/20 split).")] = 100_000,
    noise: Annotated[float, typer.Option("--noise", help="Gaussian noise on the targets.")] = 0.3,
    noise_is: Annotated[str, typer.Option("--noise-is", help="std (standard deviation) or variance.")] = "std",
    epochs: Annotated[int, typer.Option("--epochs", help="Epochs per net.")] = 2000,
    batch: Annotated[int, typer.Option("--batch", help="Batch size.")] = 1000,
    lr: Annotated[float, typer.Option("--lr", help="SGD learning rate (Nesterov momentum 0.9).")] = 0.01,
    seeds: Annotated[int, typer.Option("--seeds", help="Copies per architecture, trained together (vmap).")] = 3,
    max_units: Annotated[int, typer.Option("--max-units", help="Most hidden units in a net.")] = 512,
    out: common.Out = None, smoke: common.Smoke = False, resume: common.Resume = False, seed: common.Seed = 0,
    device: common.Device = None,
):
    """Depth vs width: MLPs of 1-3 hidden layers with <= 512 units fitted to the Eggholder function."""
    with common.cli_errors():
        from cnncost_train import eggholder as eg
        eg.run(eg.Options(n=n, noise=noise, noise_is=noise_is, epochs=epochs, batch=batch, lr=lr, seeds=seeds,
                          max_units=max_units, out=out, smoke=smoke, resume=resume, seed=seed, device=device))


# ---------------------------------------------------------------- issue 7: training-dynamics studies

from pathlib import Path  # noqa: E402

_Model7 = Annotated[Optional[str], typer.Option("--model", help="Zoo model (default minigooglenet; lenet5 with --smoke).",
                                                show_default=False)]
_Epochs7 = Annotated[Optional[float], typer.Option("--epochs", help="Epochs per run (default: the study's).",
                                                   show_default=False)]
_Val7 = Annotated[int, typer.Option("--val", help="Validation images held out of Fashion-MNIST train (seeded).")]
_Float7 = lambda flag, text: Annotated[Optional[float], typer.Option(flag, help=text, show_default=False)]


def _opts7(**kw):
    from cnncost_train.studies import Options
    return Options(**kw)


@app.command("optimizers")
def optimizers_cmd(
    methods: Annotated[Optional[list[str]], typer.Option("--method", help="Repeat to choose (default: adagrad rmsprop "
                                                         "rmsprop-nesterov adadelta adam).", show_default=False)] = None,
    epochs: _Epochs7 = None,
    weight_decay: Annotated[float, typer.Option("--weight-decay", help="L2 regularisation strength.")] = 5e-4,
    data_dir: common.DataDir = None, out: common.Out = None, smoke: common.Smoke = False,
    resume: common.Resume = False, seed: common.Seed = 0, device: common.Device = None,
):
    """MLP 3072-1000-1000-10 on CIFAR-10 with five adaptive optimisers, without and with dropout."""
    with common.cli_errors():
        from cnncost_train import studies
        studies.optimizers(_opts7(out=out, data_dir=data_dir, smoke=smoke, resume=resume, seed=seed, device=device,
                                  epochs=epochs), methods=tuple(methods or studies.OPTIMIZERS), weight_decay=weight_decay)


@app.command("data-summary")
def data_summary_cmd(
    dataset: Annotated[str, typer.Argument(help="fashion-mnist")] = "fashion-mnist",
    val: _Val7 = 5000, data_dir: common.DataDir = None, out: common.Out = None, smoke: common.Smoke = False,
    seed: common.Seed = 0,
):
    """Sizes (total, train, validation, test), images per class and a 3x3 sample grid."""
    with common.cli_errors():
        from cnncost_train import studies
        studies.data_summary(_opts7(out=out, data_dir=data_dir, smoke=smoke, seed=seed, val=val), dataset)


@app.command("lr-range")
def lr_range_cmd(
    model: _Model7 = None, epochs: _Epochs7 = None,
    lo: Annotated[float, typer.Option("--lo", help="Smallest rate.")] = 1e-9,
    hi: Annotated[float, typer.Option("--hi", help="Largest rate.")] = 1e1,
    n: Annotated[int, typer.Option("--n", help="Candidate rates (log-spaced), one run each.")] = 10,
    pick: Annotated[str, typer.Option("--pick", help="Pick lr_min/lr_max from the 'study' runs or the 'single' run.")] = "study",
    batch: Annotated[int, typer.Option("--batch", help="Batch size.")] = 64,
    val: _Val7 = 5000, data_dir: common.DataDir = None, out: common.Out = None, smoke: common.Smoke = False,
    resume: common.Resume = False, seed: common.Seed = 0, device: common.Device = None,
):
    """LR range test on Fashion-MNIST: n rates x epochs, and Smith's single exponential run; picks lr_min/lr_max."""
    with common.cli_errors():
        from cnncost_train import studies
        studies.lr_range(_opts7(out=out, data_dir=data_dir, smoke=smoke, resume=resume, seed=seed, device=device,
                                model=model, epochs=epochs, batch=batch, val=val), lo, hi, n, pick)


@app.command("clr")
def clr_cmd(
    lr_min: _Float7("--lr-min", "Lower rate (default: lr-range's pick).") = None,
    lr_max: _Float7("--lr-max", "Upper rate (default: lr-range's pick).") = None,
    lr_range_dir: Annotated[Optional[Path], typer.Option("--lr-range-dir", help="lr-range --out (default: beside --out).",
                                                         show_default=False)] = None,
    gamma: Annotated[float, typer.Option("--gamma", help="exp_range amplitude decay per iteration.")] = 0.99994,
    step_epochs: Annotated[float, typer.Option("--step-epochs", help="Half cycle in epochs.")] = 4.0,
    max_epochs: _Float7("--max-epochs", "Cap (default 100; 2 with --smoke).") = None,
    patience: Annotated[int, typer.Option("--patience", help="Stop after this many epochs without a lower validation loss.")] = 5,
    model: _Model7 = None, batch: Annotated[int, typer.Option("--batch", help="Batch size.")] = 64,
    val: _Val7 = 5000, data_dir: common.DataDir = None, out: common.Out = None, smoke: common.Smoke = False,
    resume: common.Resume = False, seed: common.Seed = 0, device: common.Device = None,
):
    """Cyclical learning rate (triangular exp_range) to a validation-loss plateau; loss and accuracy curves."""
    with common.cli_errors():
        from cnncost_train import studies
        studies.clr_run(_opts7(out=out, data_dir=data_dir, smoke=smoke, resume=resume, seed=seed, device=device,
                               model=model, batch=batch, val=val), lr_min, lr_max, gamma, step_epochs, max_epochs,
                        patience, lr_range_dir)


@app.command("batch-range")
def batch_range_cmd(
    lr: _Float7("--lr", "Fixed rate (default: lr-range's lr_min).") = None,
    batches: Annotated[Optional[list[int]], typer.Option("--batch", help="Repeat (default 64 .. 8192, powers of two).",
                                                         show_default=False)] = None,
    max_batch: Annotated[int, typer.Option("--max-batch", help="Larger batches are accumulated from chunks of this.")] = 8192,
    lr_range_dir: Annotated[Optional[Path], typer.Option("--lr-range-dir", help="lr-range --out (default: beside --out).",
                                                         show_default=False)] = None,
    model: _Model7 = None, epochs: _Epochs7 = None,
    val: _Val7 = 5000, data_dir: common.DataDir = None, out: common.Out = None, smoke: common.Smoke = False,
    resume: common.Resume = False, seed: common.Seed = 0, device: common.Device = None,
):
    """Batch-size range test at fixed lr: same iterations per batch size (epochs at batch 64); picks b_min/b_max."""
    with common.cli_errors():
        from cnncost_train import studies
        studies.batch_range(_opts7(out=out, data_dir=data_dir, smoke=smoke, resume=resume, seed=seed, device=device,
                                   model=model, epochs=epochs, val=val), lr, batches, max_batch, lr_range_dir)


@app.command("cbs")
def cbs_cmd(
    b_min: Annotated[Optional[int], typer.Option("--b-min", help="Default: batch-range's pick.", show_default=False)] = None,
    b_max: Annotated[Optional[int], typer.Option("--b-max", help="Default: batch-range's pick.", show_default=False)] = None,
    lr: _Float7("--lr", "Fixed rate (default: batch-range's lr_min).") = None,
    batch_range_dir: Annotated[Optional[Path], typer.Option("--batch-range-dir", help="batch-range --out (default: "
                                                            "beside --out).", show_default=False)] = None,
    clr_dir: Annotated[Optional[Path], typer.Option("--clr-dir", help="clr --out to compare with (default: beside --out).",
                                                    show_default=False)] = None,
    gamma: Annotated[float, typer.Option("--gamma", help="Amplitude decay per iteration.")] = 0.99994,
    step_epochs: Annotated[float, typer.Option("--step-epochs", help="Half cycle in epochs at b_min.")] = 4.0,
    max_epochs: _Float7("--max-epochs", "Cap (default 100; 2 with --smoke).") = None,
    patience: Annotated[int, typer.Option("--patience", help="Stop after this many epochs without a lower validation loss.")] = 5,
    model: _Model7 = None, max_batch: Annotated[int, typer.Option("--max-batch", help="Accumulate above this.")] = 8192,
    val: _Val7 = 5000, data_dir: common.DataDir = None, out: common.Out = None, smoke: common.Smoke = False,
    resume: common.Resume = False, seed: common.Seed = 0, device: common.Device = None,
):
    """Cyclical batch size between b_min and b_max at lr_min; best accuracy beside the CLR run."""
    with common.cli_errors():
        from cnncost_train import studies
        studies.cbs_run(_opts7(out=out, data_dir=data_dir, smoke=smoke, resume=resume, seed=seed, device=device,
                               model=model, val=val, extra={"max_batch": max_batch}), b_min, b_max, lr, gamma,
                        step_epochs, max_epochs, patience, batch_range_dir, clr_dir)


def main():
    app()


if __name__ == "__main__":
    main()

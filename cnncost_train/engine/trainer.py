"""Train a recipe's network (a cnncost spec, built by `cnncost.torch.build`) on a GPU-resident data set.

`Trainer(recipe, spec, data, device)` builds (and compiles) the module once; `train(seed)` re-initialises
it and trains one run under the timing protocol of the speed-record line: data already on the device;
clock (CUDA events) around initialisation (incl. patch whitening), the training steps and the final
test evaluation with its TTA; per-epoch evaluation and checkpoints outside the clock.
"""
from __future__ import annotations

import contextlib
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from cnncost.errors import CostError
from cnncost.torch.build import build
from cnncost_train.engine import augment, checkpoint, speedrun_techniques
from cnncost_train.engine.clock import Clock
from cnncost_train.engine.evaluate import VIEWS, evaluate
from cnncost_train.engine.loop import Hook, Loop, LoopState
from cnncost_train.engine.recipes import Recipe, lr_multiplier


@dataclass
class DeviceData:
    """A data set on the device: uint8 (N, H, W, C) images, int64 labels, float mean/std per channel."""
    train_x: torch.Tensor
    train_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    mean: torch.Tensor
    std: torch.Tensor

    @classmethod
    def from_dataset(cls, ds, device) -> "DeviceData":
        t = lambda a: torch.from_numpy(a).to(device)
        return cls(t(ds.train_x), t(ds.train_y), t(ds.test_x), t(ds.test_y),
                   torch.tensor(ds.mean, device=device), torch.tensor(ds.std, device=device))

    @property
    def input_shape(self) -> tuple:
        _, h, w, c = self.train_x.shape
        return (c, h, w)


class _RecipeHook(Hook):
    """Whitening bias frozen after its epochs; Lookahead every k steps and fast <- slow at the end."""

    def __init__(self, trainer: "Trainer"):
        self.t = trainer

    def epoch_start(self, loop, epoch):
        t = self.t
        if t.whiten_conv is not None and t.whiten_conv.bias is not None:
            t.whiten_conv.bias.requires_grad_(epoch < t.recipe.whiten_bias_epochs)

    def after_step(self, loop):
        r, la, step = self.t.recipe, self.t.lookahead, loop.state.step
        if la is None:
            return
        if step % r.lookahead_every == 0:
            la.update(la.decay(step, loop.total_steps, r.lookahead_alpha, r.lookahead_power))
        if step >= loop.total_steps:
            la.update(1.0)


class _EpochEvalHook(Hook):
    """Test accuracy without TTA and the training clock so far (summed over resumes), per epoch (outside
    the clock)."""

    def __init__(self, trainer: "Trainer", enabled: bool):
        self.t, self.enabled = trainer, enabled

    def run_start(self, loop):
        self.offset = trained_seconds(loop.state)

    def epoch_end(self, loop, row):
        t = self.t
        row["lr"] = t.optimizer.param_groups[0]["lr"]
        row["train_s"] = self.offset + loop.clock.seconds().get("train", 0.0)
        if self.enabled:
            d = t.data
            correct = evaluate(t.model, d.test_x, d.test_y, d.mean, d.std, level=0, batch=t.recipe.eval_batch,
                               bf16=t.bf16, channels_last=t.channels_last)
            row["test_acc"] = 100 * int(correct) / len(d.test_y)


def trained_seconds(state: LoopState | None) -> float:
    """Training clock of the finished epochs a (restored) loop state holds; 0 for a fresh run."""
    return state.history[-1].get("train_s", 0.0) if state is not None and state.history else 0.0


class Trainer:
    def __init__(self, recipe: Recipe, model_spec, data: DeviceData, device):
        self.recipe, self.data, self.device = recipe, data, torch.device(device)
        cuda = self.device.type == "cuda"
        self.bf16 = recipe.bf16 and cuda
        self.channels_last = recipe.channels_last and cuda
        self.module = build(model_spec, data.input_shape).to(self.device)
        if self.channels_last:
            self.module = self.module.to(memory_format=torch.channels_last)
        self.model = torch.compile(self.module, dynamic=False) if (recipe.compile and cuda) else self.module
        convs = [m for m in self.module.modules() if isinstance(m, nn.Conv2d)]
        self.whiten_conv = convs[0] if recipe.whiten and convs else None
        if recipe.whiten and self.whiten_conv is None:
            raise CostError(f"recipe {recipe.name} whitens the first conv, but the model has none")
        self.steps_per_epoch = len(data.train_y) // recipe.batch_size
        if self.steps_per_epoch < 1:
            raise CostError(f"batch size {recipe.batch_size} is larger than the {len(data.train_y)} training images")
        self.total_steps = max(1, math.ceil(recipe.epochs * self.steps_per_epoch))
        self.optimizer = None
        self.lookahead = None

    # ---------------------------------------------------------------- per run

    def reset(self, seed: int):
        """Fresh weights from `seed` (PyTorch defaults, then the recipe's inits) and a fresh optimizer."""
        r = self.recipe
        torch.manual_seed(seed)
        speedrun_techniques.reset_parameters(self.module)
        if r.dirac_init:
            speedrun_techniques.dirac_init(self.module, skip=(self.whiten_conv,))
        speedrun_techniques.configure_bn(self.module, freeze_weight=r.freeze_bn_weight, momentum=r.bn_momentum)
        if self.whiten_conv is not None:
            self.whiten_conv.weight.requires_grad_(False)
        groups = speedrun_techniques.param_groups(self.module, r.lr, r.weight_decay, r.bias_lr_scale)
        fused = {"fused": True} if self.device.type == "cuda" else {}
        self.optimizer = torch.optim.SGD(groups, lr=r.lr, momentum=r.momentum, nesterov=r.nesterov, **fused)
        self.lookahead = None

    def _init_from_data(self):
        """Inside the clock: data-dependent init (patch whitening) and the Lookahead copy."""
        r, d = self.recipe, self.data
        if self.whiten_conv is not None:
            x = augment.normalize(d.train_x[:r.whiten_images], d.mean, d.std, channels_last=False)
            speedrun_techniques.init_whitening(self.whiten_conv, x, r.whiten_eps)
        if r.lookahead_every:
            self.lookahead = speedrun_techniques.Lookahead(self.module)

    def _autocast(self):
        return torch.autocast(self.device.type, dtype=torch.bfloat16) if self.bf16 else contextlib.nullcontext()

    def _step_fn(self):
        r, model, opt = self.recipe, self.model, self.optimizer
        total = self.total_steps

        def step(x, y, i):
            mult = lr_multiplier(r.lr_knots, i / total)
            for g in opt.param_groups:
                g["lr"] = g["base_lr"] * mult
            with self._autocast():
                out = model(x)
                loss = F.cross_entropy(out.float(), y, reduction="sum", label_smoothing=r.label_smoothing)
            (loss / len(y)).backward()
            opt.step()
            opt.zero_grad(set_to_none=True)
            return loss.detach(), (out.detach().argmax(1) == y).sum()
        return step

    def _batches(self, seed: int):
        r, d = self.recipe, self.data
        n, h, w = d.train_x.shape[:3]
        base = torch.Generator(device=self.device).manual_seed(seed)
        flip_base = torch.rand(n, device=self.device, generator=base) < 0.5
        spe, b = self.steps_per_epoch, r.batch_size

        def batches(epoch, first):
            g = torch.Generator(device=self.device).manual_seed(seed * 1_000_003 + epoch + 1)
            draw = augment.draw_epoch(n, h, w, generator=g, device=self.device, pad=r.crop_pad, flip=r.flip,
                                      flip_base=flip_base, epoch=epoch, cutout_size=r.cutout)
            for k in range(first, spe):
                yield augment.augmented_batch(d.train_x, d.train_y, draw, k * b, (k + 1) * b, d.mean, d.std,
                                              cutout_size=r.cutout, channels_last=self.channels_last)
        return batches

    def _payload(self, seed: int, loop: Loop, init_s: float):
        def payload():
            return {"format": 1, "recipe": asdict(self.recipe), "seed": seed, "init_s": init_s,
                    "loop": loop.state.to_dict(), "model": self.module.state_dict(),
                    "optimizer": self.optimizer.state_dict(),
                    "lookahead": self.lookahead.state_dict() if self.lookahead else None,
                    "rng": checkpoint.rng_state(self.device)}
        return payload

    def _restore(self, ck: dict, seed: int) -> LoopState:
        if ck.get("format") != 1 or ck.get("seed") != seed or ck.get("recipe") != asdict(self.recipe):
            raise CostError("checkpoint was written for another recipe, seed or epoch count; "
                            "use another --checkpoint-dir or delete it")
        self.module.load_state_dict(ck["model"])
        self.optimizer.load_state_dict(ck["optimizer"])
        if self.recipe.lookahead_every:
            self.lookahead = speedrun_techniques.Lookahead(self.module)
            self.lookahead.load_state_dict(ck["lookahead"])
        checkpoint.set_rng_state(ck.get("rng"), self.device)
        return LoopState.from_dict(ck["loop"])

    def train(self, seed: int, *, hooks=(), checkpoint_path: Path | None = None, resume: bool = False,
              epoch_eval: bool = True) -> dict:
        """One run; returns test accuracy (%, with the recipe's TTA), times per phase and the per-epoch history."""
        r, d = self.recipe, self.data
        clock = Clock(self.device)
        self.reset(seed)
        state, resumed, init_s = None, False, None
        if resume and checkpoint_path is not None and Path(checkpoint_path).is_file():
            ck = checkpoint.load(checkpoint_path, self.device)
            state, resumed, init_s = self._restore(ck, seed), True, ck.get("init_s")
        else:
            clock.start("init")
            self._init_from_data()
            clock.stop()
        loop = Loop(step=self._step_fn(), batches=self._batches(seed), total_steps=self.total_steps,
                    steps_per_epoch=self.steps_per_epoch, clock=clock)
        if init_s is None:
            init_s = clock.seconds().get("init", 0.0)
        loop.hooks = [_RecipeHook(self), _EpochEvalHook(self, epoch_eval), *hooks]
        if checkpoint_path is not None:
            loop.hooks.append(checkpoint.CheckpointHook(checkpoint_path, self._payload(seed, loop, init_s)))
        before = trained_seconds(state)
        state = loop.run(state)
        clock.start("eval")
        correct = evaluate(self.model, d.test_x, d.test_y, d.mean, d.std, level=r.tta, batch=r.eval_batch,
                           bf16=self.bf16, channels_last=self.channels_last)
        clock.stop()
        secs = clock.seconds()
        correct = int(correct)
        train_s, eval_s = before + secs.get("train", 0.0), secs.get("eval", 0.0)   # train: over resumes
        return {"seed": seed, "acc": 100 * correct / len(d.test_y), "correct": correct, "test_images": len(d.test_y),
                "time_s": init_s + train_s + eval_s, "init_s": init_s, "train_s": train_s, "eval_s": eval_s,
                "steps": self.total_steps, "epochs": r.epochs, "images_seen": self.total_steps * r.batch_size,
                "tta_views": VIEWS[r.tta], "resumed": resumed, "history": state.history}

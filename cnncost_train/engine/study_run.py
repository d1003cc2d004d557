"""The engine under the training-dynamics studies: one resumable run of a zoo model with an
optimizer, a learning-rate schedule lr(i) and a batch-size schedule b(i), driven by `loop.Loop`.

Batches come from one index stream per seed: the concatenation of seeded permutations of the
training set, so step i takes stream positions [P_i, P_i + b(i)) with P_i = sum of earlier batch sizes
(a batch may span two permutations; a batch larger than the set repeats images).  A batch larger than
`max_batch` is accumulated from chunks (gradient of the mean loss over the whole batch; BN statistics
per chunk); on a CUDA out-of-memory error the chunk halves and the step is redone.  The result says
the chunk used.  Each run checkpoints at every epoch end; `Sweep` keeps finished runs in results.json.
"""
from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from cnncost import zoo
from cnncost.errors import CostError
from cnncost.torch.build import build
from cnncost_train.engine import checkpoint, data, options, outputs, resume_guard, study_setup
from cnncost_train.engine.clock import Clock
from cnncost_train.engine.loop import Diverged, Hook, Loop, LoopState
from cnncost_train.engine.rmsprop_nesterov import RMSPropNesterov

DEFAULT_LR = {"sgd": 0.01, "adagrad": 0.01, "rmsprop": 1e-3, "rmsprop-nesterov": 1e-3, "adadelta": 1.0, "adam": 1e-3}


def make_optimizer(name: str, params, lr: float, weight_decay: float = 0.0):
    """L2 regularisation as weight_decay (adds lambda*theta to the gradient) for every method."""
    o = torch.optim
    makers = {"sgd": lambda: o.SGD(params, lr=lr, momentum=0.9, weight_decay=weight_decay),
              "adagrad": lambda: o.Adagrad(params, lr=lr, weight_decay=weight_decay),
              "rmsprop": lambda: o.RMSprop(params, lr=lr, alpha=0.9, weight_decay=weight_decay),
              "rmsprop-nesterov": lambda: RMSPropNesterov(params, lr=lr, rho=0.9, momentum=0.9,
                                                          weight_decay=weight_decay),
              "adadelta": lambda: o.Adadelta(params, lr=lr, rho=0.95, eps=1e-6, weight_decay=weight_decay),
              "adam": lambda: o.Adam(params, lr=lr, weight_decay=weight_decay)}
    if name not in makers:
        raise CostError(f"unknown optimizer {name!r}; choose from {', '.join(makers)}")
    return makers[name]()


# ---------------------------------------------------------------- data

def load(dataset: str, data_dir, smoke: bool, seed: int = 0) -> data.Dataset:
    """The named data set; with --smoke a small seeded subset (synthetic data when none is installed)."""
    loaders = {"cifar10": (data.load_cifar10, lambda: data.find_cifar10(None) is not None, (32, 32, 3)),
               "fashion-mnist": (data.load_fashion_mnist, lambda: data.find_fashion_mnist(None) is not None,
                                 (28, 28, 1))}
    if dataset not in loaders:
        raise CostError(f"unknown data set {dataset!r}; choose cifar10 or fashion-mnist")
    loader, found, shape = loaders[dataset]
    if not smoke:
        return loader(data_dir)
    if data.explicit(data_dir) or found():
        ds = loader(data_dir, counts=None)
    else:
        ds = data.synthetic(options.SMOKE_TRAIN, options.SMOKE_TEST, shape=shape, seed=seed)
    return ds.subset(min(options.SMOKE_TRAIN, len(ds.train_y)), min(options.SMOKE_TEST, len(ds.test_y)), seed)


def holdout(n: int, n_val: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeded hold-out: (train indices, validation indices), both sorted, disjoint, covering 0..n-1."""
    if not 0 <= n_val < n:
        raise CostError(f"validation size must lie in 0..{n - 1}, got {n_val}")
    perm = np.random.default_rng(seed).permutation(n)
    return np.sort(perm[n_val:]), np.sort(perm[:n_val])


@dataclass
class Tensors:
    """Normalised float NCHW tensors on the device: train, validation (may be empty) and test."""
    train_x: torch.Tensor
    train_y: torch.Tensor
    val_x: torch.Tensor
    val_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor

    @property
    def input_shape(self):
        return tuple(self.train_x.shape[1:])


def tensors(ds: data.Dataset, device, n_val: int = 0, seed: int = 0) -> Tensors:
    mean = torch.tensor(ds.mean, dtype=torch.float32).view(1, -1, 1, 1)
    std = torch.tensor(ds.std, dtype=torch.float32).view(1, -1, 1, 1)
    f = lambda x: ((torch.from_numpy(x).permute(0, 3, 1, 2).float() / 255 - mean) / std).contiguous().to(device)
    y = lambda a: torch.from_numpy(a).to(device)
    tr, va = holdout(len(ds.train_y), n_val, seed)
    return Tensors(f(ds.train_x[tr]), y(ds.train_y[tr]), f(ds.train_x[va]), y(ds.train_y[va]),
                   f(ds.test_x), y(ds.test_y))


@torch.no_grad()
def evaluate(model, x, y, batch: int = 1024) -> tuple[float, float]:
    """(mean cross-entropy, accuracy %) in eval mode; (nan, nan) for an empty split."""
    if len(y) == 0:
        return math.nan, math.nan
    model.eval()
    loss, correct = 0.0, 0
    for i in range(0, len(y), batch):
        out = model(x[i:i + batch]).float()
        loss += float(F.cross_entropy(out, y[i:i + batch], reduction="sum"))
        correct += int((out.argmax(1) == y[i:i + batch]).sum())
    model.train()
    return loss / len(y), 100 * correct / len(y)


# ---------------------------------------------------------------- one run

@dataclass
class RunSpec:
    key: str
    model: str
    optimizer: str = "sgd"
    lr: object = 0.01                 # float or fn(step) -> lr
    batch: object = 64                # int or fn(step) -> batch size
    total_steps: int = 1
    steps_per_epoch: int = 1
    weight_decay: float = 0.0
    model_opts: dict = field(default_factory=dict)
    max_batch: int = 8192
    record_iters: bool = False        # per-step loss and lr in each epoch row (synchronises every step)
    stop_above: float | None = None   # stop when the smoothed step loss exceeds this times its minimum
    patience: int | None = None       # stop when validation loss has not improved for this many epochs
    seed: int = 0

    def lr_at(self, i):
        return self.lr(i) if callable(self.lr) else self.lr

    def batch_at(self, i):
        return int(self.batch(i)) if callable(self.batch) else int(self.batch)


class _Record(Hook):
    """Evaluation, per-step records, plateau and divergence stops, progress; all at epoch ends."""

    def __init__(self, run: "Run", on_epoch):
        self.r, self.on_epoch = run, on_epoch

    def _plateau(self, loop):
        p = self.r.spec.patience
        vals = [h.get("val_loss") for h in loop.state.history]
        vals = [v for v in vals if v is not None and math.isfinite(v)]
        if p and len(vals) > p and min(vals[-p:]) >= min(vals[:-p]):
            loop.total_steps = loop.state.step
            return True
        return False

    def run_start(self, loop):
        hist = loop.state.history
        self.offset = hist[-1]["train_s"] if hist else 0.0     # the clock restarts on resume
        self.wall0 = time.perf_counter() - (hist[-1].get("wall_s", 0.0) if hist else 0.0)
        if self._plateau(loop):
            loop.total_steps = loop.state.step

    def after_step(self, loop):
        s = self.r.spec
        if s.stop_above and self.r.smooth is not None:
            if not math.isfinite(self.r.smooth) or self.r.smooth > s.stop_above * self.r.best_smooth:
                loop.total_steps = loop.state.step
                self.r.stop_now = True           # the batch source ends the epoch here

    def epoch_end(self, loop, row):
        r = self.r
        row["lr"] = r.spec.lr_at(max(loop.state.step - 1, 0))
        row["batch"] = r.spec.batch_at(max(loop.state.step - 1, 0))
        row["images"] = r.images_until(loop.state.step)
        row["train_s"] = self.offset + loop.clock.seconds().get("train", 0.0)
        row["val_loss"], row["val_acc"] = evaluate(r.model, r.t.val_x, r.t.val_y)
        row["test_loss"], row["test_acc"] = evaluate(r.model, r.t.test_x, r.t.test_y)
        row["wall_s"] = time.perf_counter() - self.wall0          # steps + evaluation, summed over resumes
        if r.spec.record_iters:
            row["iter_loss"], row["iter_lr"] = r.iters, r.iter_lrs
            r.iters, r.iter_lrs = [], []
        if self._plateau(loop):
            row["stopped"] = "validation plateau"
        if self.on_epoch:
            self.on_epoch(loop, row)


class Run:
    def __init__(self, spec: RunSpec, t: Tensors, device):
        self.spec, self.t, self.device = spec, t, torch.device(device)
        torch.manual_seed(spec.seed)
        self.model = build(zoo.get(spec.model, **spec.model_opts).spec, t.input_shape).to(self.device)
        self.opt = make_optimizer(spec.optimizer, self.model.parameters(), spec.lr_at(0), spec.weight_decay)
        sizes = np.array([spec.batch_at(i) for i in range(spec.total_steps)], dtype=np.int64)
        self.starts = np.concatenate([[0], np.cumsum(sizes)])
        self.chunk = min(spec.max_batch, int(sizes.max()))
        self._perms: dict[int, torch.Tensor] = {}
        self.iters, self.iter_lrs = [], []
        self.smooth, self.best_smooth, self._n = None, math.inf, 0
        self.stop_now = False

    def images_until(self, step: int) -> int:
        return int(self.starts[min(step, len(self.starts) - 1)])

    def _perm(self, q: int) -> torch.Tensor:
        if q not in self._perms:
            g = torch.Generator().manual_seed(self.spec.seed * 1_000_003 + q)
            self._perms = {q: torch.randperm(len(self.t.train_y), generator=g).to(self.device)}
        return self._perms[q]

    def indices(self, i: int) -> torch.Tensor:
        n, a, b = len(self.t.train_y), int(self.starts[i]), int(self.starts[i + 1])
        parts, pos = [], a
        while pos < b:
            q, off = divmod(pos, n)
            take = min(b - pos, n - off)
            parts.append(self._perm(q)[off:off + take])
            pos += take
        return torch.cat(parts)

    def batches(self, epoch, first):
        spe = self.spec.steps_per_epoch
        for i in range(epoch * spe + first, min((epoch + 1) * spe, self.spec.total_steps)):
            if self.stop_now:
                return
            idx = self.indices(i)
            yield self.t.train_x[idx], self.t.train_y[idx]

    def step(self, x, y, i):
        for g in self.opt.param_groups:
            g["lr"] = self.spec.lr_at(i)
        while True:
            try:
                loss, correct = self._accumulate(x, y)
                break
            except torch.cuda.OutOfMemoryError:
                self.opt.zero_grad(set_to_none=True)
                if self.chunk == 1:
                    raise
                self.chunk //= 2
        self.opt.step()
        self.opt.zero_grad(set_to_none=True)
        if self.spec.record_iters:
            v = float(loss) / len(y)
            self.iters.append(v)
            self.iter_lrs.append(self.spec.lr_at(i))
            self._n += 1                     # bias-corrected exponential average, beta 0.98 (Smith 2017, sec. 3.3 practice)
            self._avg = 0.98 * getattr(self, "_avg", 0.0) + 0.02 * v
            self.smooth = self._avg / (1 - 0.98 ** self._n)
            if math.isfinite(self.smooth):
                self.best_smooth = min(self.best_smooth, self.smooth)
        return loss, correct

    def _accumulate(self, x, y):
        loss_sum, correct = 0.0, 0
        for a in range(0, len(y), self.chunk):
            out = self.model(x[a:a + self.chunk]).float()
            loss = F.cross_entropy(out, y[a:a + self.chunk], reduction="sum")
            (loss / len(y)).backward()
            loss_sum = loss_sum + loss.detach()
            correct = correct + (out.detach().argmax(1) == y[a:a + self.chunk]).sum()
        return loss_sum, correct

    def train(self, ckpt: Path | None, resume: bool, on_epoch=None) -> dict:
        s = self.spec
        state, restored = None, False
        if resume and ckpt is not None and Path(ckpt).is_file():
            ck = checkpoint.load(ckpt, self.device)
            if ck.get("key") != s.key:
                raise CostError(f"checkpoint {ckpt} belongs to run {ck.get('key')!r}, not {s.key!r}; delete it")
            self.model.load_state_dict(ck["model"])
            self.opt.load_state_dict(ck["optimizer"])
            self.chunk = ck["chunk"]
            checkpoint.set_rng_state(ck.get("rng"), self.device)
            state, restored = LoopState.from_dict(ck["loop"]), True
        loop = Loop(step=self.step, batches=self.batches, total_steps=s.total_steps, steps_per_epoch=s.steps_per_epoch,
                    clock=Clock(self.device))
        loop.hooks = [_Record(self, on_epoch)]
        if ckpt is not None:
            loop.hooks.append(checkpoint.CheckpointHook(ckpt, lambda: {
                "key": s.key, "loop": loop.state.to_dict(), "model": self.model.state_dict(),
                "optimizer": self.opt.state_dict(), "chunk": self.chunk,
                "rng": checkpoint.rng_state(self.device)}))
        diverged = None
        t0 = time.perf_counter() - (state.history[-1].get("wall_s", 0.0) if state and state.history else 0.0)
        try:
            state = loop.run(state)
        except Diverged as e:
            diverged, state = str(e), loop.state
        hist = state.history
        tail = {"iter_loss": self.iters, "iter_lr": self.iter_lrs} if s.record_iters and self.iters else {}
        return {"key": s.key, "model": s.model, "optimizer": s.optimizer, "steps": state.step,
                "epochs": len(hist), "images": self.images_until(state.step), "chunk": self.chunk,
                "accumulated": any(s.batch_at(i) > self.chunk for i in range(min(state.step, s.total_steps))),
                "train_s": hist[-1]["train_s"] if hist else 0.0, "wall_s": time.perf_counter() - t0,
                "diverged": diverged, "resumed": restored,
                "final_train_loss": hist[-1]["train_loss"] if hist else math.nan,
                **study_setup.accuracy_picks(hist), "history": hist,
                "tail": tail}   # per-step records of an epoch cut short by divergence


class Sweep:
    """results.json under `out` holding finished runs by key; per-run checkpoints in out/checkpoints/."""

    def __init__(self, out: Path, resume: bool, meta: dict):
        self.out, self.resume, self.meta = Path(out), resume, meta
        self.path = self.out / "results.json"
        self.runs: dict = {}
        if resume and self.path.is_file():
            old = json.loads(self.path.read_text())
            resume_guard.refuse_if_different(self.path, old.get("meta", {}), meta)
            self.runs = old.get("runs", {})
        self.extra: dict = {}

    def ckpt(self, key: str) -> Path:
        return self.out / "checkpoints" / f"{key}.pt"

    def done(self, key: str) -> bool:
        return key in self.runs

    def finish(self, key: str, result: dict):
        self.runs[key] = result
        self.save()
        c = self.ckpt(key)
        if c.is_file():
            c.unlink()

    def save(self):
        outputs.write_json(self.path, {"meta": self.meta, "runs": self.runs, **self.extra})


def progress_runner(console, total_runs: int):
    """A rich progress with one bar per run, advanced at each epoch end; returns (progress, make_callback)."""
    prog = outputs.progress(console)

    def callback(label: str, epochs: int):
        task = prog.add_task(label, total=epochs, info="")

        def on_epoch(loop, row):
            prog.update(task, completed=len(loop.state.history), total=max(epochs, len(loop.state.history)),
                        info=f"loss {row['train_loss']:.3f} test {row['test_acc']:.1f}%")
        return on_epoch
    return prog, callback


def plt():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as p
    return p

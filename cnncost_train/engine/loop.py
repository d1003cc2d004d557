"""The one training loop, with hooks; every experiment supplies a step function and a batch source.

    loop = Loop(step=fn(x, y, step) -> (loss_sum, correct), batches=fn(epoch, first_batch) -> iterable,
                total_steps=T, steps_per_epoch=S, clock=Clock(device), hooks=[...])
    loop.run(state)            # state: LoopState, fresh or restored from a checkpoint

Epoch e covers global steps [e*S, (e+1)*S); training stops after T steps (T may end an epoch
early, for fractional epochs).  The clock runs over the steps only: at each epoch end it stops,
the epoch's loss is read (one synchronisation), a non-finite loss raises `Diverged` before any
hook can save it, then hooks run (evaluation, checkpoints, logs, progress), outside the clock.
SIGINT/SIGTERM set a flag checked between steps: the loop stops the clock, lets hooks save, and
raises `Interrupted`.
"""
from __future__ import annotations

import math
import signal
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field


class Interrupted(Exception):
    """SIGINT/SIGTERM arrived; hooks have saved what they save."""


class Diverged(Exception):
    """The training loss became NaN or infinite."""


@dataclass
class LoopState:
    """What a checkpoint must hold to continue the same schedule: the global step, the partial
    epoch's sums and the finished epochs' rows."""
    step: int = 0
    epoch_loss: float = 0.0
    epoch_correct: int = 0
    epoch_seen: int = 0
    history: list = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"step": self.step, "epoch_loss": self.epoch_loss, "epoch_correct": self.epoch_correct,
                "epoch_seen": self.epoch_seen, "history": list(self.history)}

    @classmethod
    def from_dict(cls, d: dict) -> "LoopState":
        return cls(d["step"], d["epoch_loss"], d["epoch_correct"], d["epoch_seen"], list(d["history"]))


class Hook:
    """Override what you need; `loop` gives the state, clock and step counts."""

    def run_start(self, loop: "Loop"): ...
    def epoch_start(self, loop: "Loop", epoch: int): ...
    def after_step(self, loop: "Loop"): ...          # inside the clock: no synchronisation here
    def epoch_end(self, loop: "Loop", row: dict): ...  # outside the clock; may add keys to row
    def interrupted(self, loop: "Loop"): ...
    def run_end(self, loop: "Loop"): ...


@contextmanager
def stop_on_signals(flag: dict):
    """Set flag['stop'] on SIGINT/SIGTERM while inside (main thread only; elsewhere a no-op)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    def handler(signum, frame):
        flag["stop"] = signal.Signals(signum).name
    old = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


class Loop:
    def __init__(self, *, step, batches, total_steps: int, steps_per_epoch: int, clock, hooks=(),
                 batch_size: int | None = None):
        if steps_per_epoch < 1 or total_steps < 1:
            raise ValueError(f"need at least one step per epoch and in total, got {steps_per_epoch}, {total_steps}")
        self.step_fn, self.batches = step, batches
        self.total_steps, self.steps_per_epoch = total_steps, steps_per_epoch
        self.epochs = math.ceil(total_steps / steps_per_epoch)
        self.clock, self.hooks = clock, list(hooks)
        self.state = LoopState()
        self.flag: dict = {}
        self._loss = self._correct = None
        self._seen = 0

    @property
    def epoch(self) -> int:
        return min(self.state.step // self.steps_per_epoch, self.epochs - 1)

    def _call(self, name, *args):
        for h in self.hooks:
            getattr(h, name)(self, *args)

    def _read_partial(self):
        """Fold the device-side sums of this epoch into the state (synchronises)."""
        if self._loss is not None:
            self.state.epoch_loss += float(self._loss)
            self.state.epoch_correct += int(self._correct)
        self.state.epoch_seen += self._seen
        self._loss = self._correct = None
        self._seen = 0

    def _check_finite(self, epoch: int):
        if not math.isfinite(self.state.epoch_loss):
            kind = "NaN" if math.isnan(self.state.epoch_loss) else "infinite"
            raise Diverged(f"training loss became {kind} in epoch {epoch + 1} (by step {self.state.step}); "
                           f"stopped; the last good checkpoint (if any) is kept")

    def _close_epoch(self, epoch: int):
        self.clock.stop()
        self._read_partial()
        self._check_finite(epoch)
        s = self.state
        row = {"epoch": epoch + 1, "step": s.step, "train_loss": s.epoch_loss / max(s.epoch_seen, 1),
               "train_acc": 100 * s.epoch_correct / max(s.epoch_seen, 1)}
        s.epoch_loss, s.epoch_correct, s.epoch_seen = 0.0, 0, 0
        s.history.append(row)
        self._call("epoch_end", row)

    def _interrupt(self, epoch: int):
        self._call("interrupted")
        raise Interrupted(f"{self.flag['stop']} at step {self.state.step} of {self.total_steps} (epoch {epoch + 1})")

    def run(self, state: LoopState | None = None) -> LoopState:
        if state is not None:
            self.state = state
        self._call("run_start")
        with stop_on_signals(self.flag):
            while self.state.step < self.total_steps:
                epoch = self.state.step // self.steps_per_epoch
                first = self.state.step - epoch * self.steps_per_epoch
                last = min(self.steps_per_epoch, self.total_steps - epoch * self.steps_per_epoch)
                self._call("epoch_start", epoch)
                self.clock.start("train")
                for i, (x, y) in enumerate(self.batches(epoch, first)):
                    if first + i >= last:
                        break
                    loss, correct = self.step_fn(x, y, self.state.step)
                    self._loss = loss if self._loss is None else self._loss + loss
                    self._correct = correct if self._correct is None else self._correct + correct
                    self._seen += len(y)
                    self.state.step += 1
                    self._call("after_step")
                    if self.flag.get("stop") and first + i + 1 < last:  # at an epoch's end: close it first
                        self.clock.stop()
                        self._read_partial()
                        self._check_finite(epoch)
                        self._interrupt(epoch)
                self._close_epoch(epoch)
                if self.flag.get("stop"):
                    self._interrupt(epoch)
        self._call("run_end")
        return self.state

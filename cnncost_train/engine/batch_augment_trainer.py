"""The trainer of batch augmentation (Hoffer et al. 2019, arXiv:1901.09335): each step takes B images and
puts every one M times in the batch, copy k augmented by its own draw (crop, flip, cutout), so the batch
holds M*B images; steps per epoch and the learning-rate schedule stay the M = 1 recipe's.  Copy 0 uses
the trainer's own epoch seed, so M = 1 gives exactly the baseline's batches.
"""
from __future__ import annotations

import torch

from cnncost.errors import CostError
from cnncost_train.engine import augment
from cnncost_train.engine.trainer import Trainer

COPY_SEED_STRIDE = 7_919_000_003   # copy k > 0 of an epoch: the trainer's epoch seed + k * stride


def copy_seed(seed: int, epoch: int, copy: int) -> int:
    """Copy 0 uses the trainer's epoch seed (`Trainer._batches`), so M = 1 is the baseline."""
    return seed * 1_000_003 + epoch + 1 + copy * COPY_SEED_STRIDE


def multi_batch(images, labels, idx, draws, mean, std, *, cutout_size: int = 0, channels_last: bool = True):
    """The images `idx` (B,) M = len(draws) times, copy k augmented by draws[k]: (M*B) images, copy-major
    (rows k*B .. k*B + B - 1 are copy k of idx)."""
    xs, ys = [], []
    for d in draws:
        one = augment.EpochDraw(idx, d.dy, d.dx, d.flip, d.cy, d.cx)
        x, y = augment.augmented_batch(images, labels, one, 0, len(idx), mean, std, cutout_size=cutout_size,
                                       channels_last=channels_last)
        xs.append(x)
        ys.append(y)
    return torch.cat(xs), torch.cat(ys)


class BatchAugmentTrainer(Trainer):
    """The recipe's trainer with an M-times batch source; everything else (loop, step, checkpoints) is the Trainer's."""

    def __init__(self, recipe, model_spec, data, device, m: int):
        if m < 1:
            raise CostError(f"--m values must be at least 1, got {m}")
        if recipe.flip == "alternate":
            raise CostError("batch augmentation needs independent flips ('random'), not 'alternate'")
        super().__init__(recipe, model_spec, data, device)
        self.m = m

    def _batches(self, seed: int):
        r, d, dev = self.recipe, self.data, self.device
        n, h, w = d.train_x.shape[:3]
        spe, b = self.steps_per_epoch, r.batch_size

        def batches(epoch, first):
            draws = [augment.draw_epoch(n, h, w, generator=torch.Generator(device=dev).manual_seed(
                         copy_seed(seed, epoch, k)), device=dev, pad=r.crop_pad, flip=r.flip, cutout_size=r.cutout)
                     for k in range(self.m)]
            order = draws[0].order
            for s in range(first, spe):
                yield multi_batch(d.train_x, d.train_y, order[s * b:(s + 1) * b], draws, d.mean, d.std,
                                  cutout_size=r.cutout, channels_last=self.channels_last)
        return batches

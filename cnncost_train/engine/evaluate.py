"""Test-set evaluation with test-time augmentation (TTA), in fixed-size batches from uint8 images.

Levels (Jordan 2024, arXiv:2404.00498, section 3.6): 0 the image alone (1 view); 1 the mean of
the image's and its mirror's logits (2 views); 2 half of level 1 plus half the mean of level 1 on
the image shifted by one pixel up-left and by one pixel down-right, reflect-padded (6 views).
"""
from __future__ import annotations

import contextlib

import torch

from cnncost_train.engine.augment import gather, normalize

VIEWS = {0: 1, 1: 2, 2: 6}


def _mirror(model, x):
    return 0.5 * (model(x) + model(x.flip(-1)))


def tta_logits(model, images, idx, mean, std, level: int, channels_last: bool = True):
    if level not in VIEWS:
        raise ValueError(f"TTA level must be 0, 1 or 2, got {level}")
    x = normalize(gather(images, idx), mean, std, channels_last)
    if level == 0:
        return model(x)
    logits = _mirror(model, x)
    if level == 1:
        return logits
    shifted = []
    for s in (-1, 1):
        d = torch.full((len(idx),), s, device=images.device, dtype=torch.long)
        shifted.append(_mirror(model, normalize(gather(images, idx, d, d), mean, std, channels_last)))
    return 0.5 * logits + 0.25 * (shifted[0] + shifted[1])


@torch.no_grad()
def evaluate(model, images, labels, mean, std, *, level: int = 0, batch: int = 2000, bf16: bool = False,
             channels_last: bool = True) -> torch.Tensor:
    """Number of correct predictions, as a device tensor (no synchronisation); restores train mode."""
    was_training = model.training
    model.eval()
    correct = torch.zeros((), dtype=torch.long, device=images.device)
    cast = torch.autocast(images.device.type, dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()
    with cast:
        for start in range(0, len(images), batch):
            idx = torch.arange(start, min(start + batch, len(images)), device=images.device)
            logits = tta_logits(model, images, idx, mean, std, level, channels_last)
            correct += (logits.argmax(1) == labels[idx]).sum()
    model.train(was_training)
    return correct

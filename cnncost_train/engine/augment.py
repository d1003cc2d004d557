"""GPU-resident augmentation: whole batches at once from uint8 images, one gather per batch.

Images stay on the device as uint8 (N, H, W, C).  A random crop after reflect-padding by p is
the same as reading pixel (i + dy, j + dx) with the index reflected at the border
(reflect(j) = -j below 0, 2(H-1) - j above H-1, as torch's 'reflect' pad), so crop, pad and
flip are one indexed read; the result (B, H, W, C) viewed as NCHW is already channels-last.
Cutout (DeVries & Taylor 2017, arXiv:1708.04552): a size x size square of zeros, after
normalisation, centred on a uniformly drawn pixel; near the border the square is clipped, so
less than size^2 pixels may be zeroed.  Random numbers are drawn per epoch for all images at
once (`EpochDraw`).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch


def reflect(index: torch.Tensor, size: int) -> torch.Tensor:
    """Reflect indices in [-(size-1), 2(size-1)] into [0, size-1] without repeating the edge."""
    index = index.abs()
    return (size - 1) - ((size - 1) - index).abs()


def gather(images: torch.Tensor, idx: torch.Tensor, dy: torch.Tensor | None = None,
           dx: torch.Tensor | None = None, flip: torch.Tensor | None = None) -> torch.Tensor:
    """images[idx] shifted by (dy, dx) with reflect padding and optionally mirrored: (B, H, W, C)."""
    _, h, w, _ = images.shape
    dev = images.device
    rows = torch.arange(h, device=dev).expand(len(idx), h)
    cols = torch.arange(w, device=dev).expand(len(idx), w)
    if dy is not None:
        rows = reflect(rows + dy[:, None], h)
    if dx is not None:
        cols = reflect(cols + dx[:, None], w)
    if flip is not None:
        cols = torch.where(flip[:, None], cols.flip(1), cols)
    return images[idx[:, None, None], rows[:, :, None], cols[:, None, :]]


def normalize(batch_hwc: torch.Tensor, mean: torch.Tensor, std: torch.Tensor, channels_last: bool = True,
              dtype=torch.float32) -> torch.Tensor:
    """uint8 (B, H, W, C) -> float NCHW ((x/255 - mean)/std); channels-last in memory unless asked otherwise."""
    x = ((batch_hwc.to(torch.float32) / 255 - mean) / std).to(dtype).permute(0, 3, 1, 2)
    return x if channels_last else x.contiguous()


def cutout_mask(height: int, width: int, size: int, cy: torch.Tensor, cx: torch.Tensor) -> torch.Tensor:
    """(B, H, W) bool, True inside the square rows [cy - size//2, cy - size//2 + size) (same for columns)."""
    dev = cy.device
    r = torch.arange(height, device=dev)[None, :] - (cy[:, None] - size // 2)
    c = torch.arange(width, device=dev)[None, :] - (cx[:, None] - size // 2)
    return ((r >= 0) & (r < size))[:, :, None] & ((c >= 0) & (c < size))[:, None, :]


def cutout(x: torch.Tensor, size: int, cy: torch.Tensor | None = None, cx: torch.Tensor | None = None,
           generator: torch.Generator | None = None) -> torch.Tensor:
    """Zero a size x size square of each NCHW image, centred at (cy, cx) (drawn uniformly if not given)."""
    b, _, h, w = x.shape
    if cy is None:
        cy = torch.randint(0, h, (b,), device=x.device, generator=generator)
    if cx is None:
        cx = torch.randint(0, w, (b,), device=x.device, generator=generator)
    return x.masked_fill(cutout_mask(h, w, size, cy, cx)[:, None], 0)


@dataclass
class EpochDraw:
    """All the random numbers of one epoch: the order and each image's crop, flip and cutout centre."""
    order: torch.Tensor
    dy: torch.Tensor | None
    dx: torch.Tensor | None
    flip: torch.Tensor | None
    cy: torch.Tensor | None
    cx: torch.Tensor | None


def draw_epoch(n: int, height: int, width: int, *, generator: torch.Generator, device, pad: int = 0,
               flip: str = "random", flip_base: torch.Tensor | None = None, epoch: int = 0,
               cutout_size: int = 0) -> EpochDraw:
    """Per-image random numbers for one epoch, indexed by image id.

    flip: 'none', 'random' (each image with probability 1/2) or 'alternate' (Jordan 2024,
    arXiv:2404.00498: a random half in epoch 0, then each image flipped in every other epoch;
    `flip_base` holds the per-image bits of epoch 0)."""
    order = torch.randperm(n, device=device, generator=generator)
    dy = dx = fl = cy = cx = None
    if pad:
        dy = torch.randint(-pad, pad + 1, (n,), device=device, generator=generator)
        dx = torch.randint(-pad, pad + 1, (n,), device=device, generator=generator)
    if flip == "random":
        fl = torch.rand(n, device=device, generator=generator) < 0.5
    elif flip == "alternate":
        fl = flip_base if epoch % 2 == 0 else ~flip_base
    elif flip != "none":
        raise ValueError(f"unknown flip mode {flip!r}")
    if cutout_size:
        cy = torch.randint(0, height, (n,), device=device, generator=generator)
        cx = torch.randint(0, width, (n,), device=device, generator=generator)
    return EpochDraw(order, dy, dx, fl, cy, cx)


def augmented_batch(images, labels, draw: EpochDraw, start: int, stop: int, mean, std, *,
                    cutout_size: int = 0, channels_last: bool = True):
    """Batch [start, stop) of the epoch's order: gathered, cropped, flipped, normalised, cut out."""
    idx = draw.order[start:stop]
    pick = (lambda t: None if t is None else t[idx])
    x = normalize(gather(images, idx, pick(draw.dy), pick(draw.dx), pick(draw.flip)), mean, std, channels_last)
    if cutout_size:
        x = cutout(x, cutout_size, draw.cy[idx], draw.cx[idx])
    return x, labels[idx]

"""GPU-resident augmentation checked against the obvious slow way: F.pad(mode='reflect'), slicing
and torch.flip per image; cutout geometry counted by hand."""
import pytest

torch = pytest.importorskip("torch")
import torch.nn.functional as F  # noqa: E402

from cnncost_train.engine import augment  # noqa: E402


def slow_crop(img_chw, dy, dx, pad, flip):
    """Reflect-pad one CHW image by `pad`, crop the window shifted by (dy, dx), mirror if asked."""
    h, w = img_chw.shape[1:]
    p = F.pad(img_chw[None].float(), (pad, pad, pad, pad), mode="reflect")[0]
    out = p[:, pad + dy: pad + dy + h, pad + dx: pad + dx + w]
    return out.flip(-1) if flip else out


def test_gather_equals_pad_crop_flip():
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (7, 32, 32, 3), dtype=torch.uint8, generator=g)
    idx = torch.tensor([3, 0, 6, 6, 2])
    dy = torch.tensor([-4, 4, 0, 2, -1])
    dx = torch.tensor([4, -4, 3, 0, -2])
    flip = torch.tensor([True, False, True, False, True])
    got = augment.gather(images, idx, dy, dx, flip)          # (B, H, W, C)
    for k in range(len(idx)):
        want = slow_crop(images[idx[k]].permute(2, 0, 1), int(dy[k]), int(dx[k]), 4, bool(flip[k]))
        assert torch.equal(got[k].permute(2, 0, 1).float(), want)


def test_normalize_values_and_layout():
    x = torch.tensor([[[[0, 255, 51]]]], dtype=torch.uint8)     # 1x1x1 image, 3 channels
    mean, std = torch.tensor([0.5, 0.5, 0.2]), torch.tensor([0.25, 0.5, 0.1])
    y = augment.normalize(x, mean, std)
    assert y.shape == (1, 3, 1, 1)
    assert y.flatten().tolist() == pytest.approx([(0 - 0.5) / 0.25, (1 - 0.5) / 0.5, (0.2 - 0.2) / 0.1], abs=1e-6)
    z = augment.normalize(torch.zeros(2, 4, 4, 3, dtype=torch.uint8), mean, std)
    assert z.is_contiguous(memory_format=torch.channels_last)


def test_cutout_square_inside_zeroes_exactly_size_squared():
    x = torch.ones(1, 3, 32, 32)
    y = augment.cutout(x, 8, torch.tensor([16]), torch.tensor([10]))
    zero = (y[0] == 0)
    assert zero.all(0).sum() == 64 and (zero.any(0) == zero.all(0)).all()   # same square in every channel
    rows, cols = torch.nonzero(zero[0], as_tuple=True)
    assert (rows.min(), rows.max(), cols.min(), cols.max()) == (12, 19, 6, 13)  # [c - 4, c + 4)


def test_cutout_partly_outside_is_clipped():
    x = torch.ones(2, 1, 32, 32)
    y = augment.cutout(x, 8, torch.tensor([0, 31]), torch.tensor([0, 30]))
    assert (y[0] == 0).sum() == 4 * 4          # rows -4..3 and cols -4..3 -> 0..3 x 0..3
    assert (y[1] == 0).sum() == 5 * 6          # rows 27..34 -> 27..31 (5), cols 26..33 -> 26..31 (6)
    assert (y[1, 0, 27:, 26:] == 0).all()


def test_cutout_random_centres_can_reach_every_pixel():
    g = torch.Generator().manual_seed(1)
    y = augment.cutout(torch.ones(4000, 1, 8, 8), 2, generator=g)
    covered = (y == 0).any(0)[0]
    assert covered.all()                        # centres uniform over the image, corners included
    counts = (y == 0).flatten(1).sum(1)
    assert set(counts.tolist()) == {1, 2, 4}    # corner, edge, interior


def test_alternate_flip_alternates():
    g = torch.Generator().manual_seed(0)
    base = torch.rand(100, generator=g) < 0.5
    d0 = augment.draw_epoch(100, 32, 32, generator=g, device="cpu", flip="alternate", flip_base=base, epoch=0)
    d1 = augment.draw_epoch(100, 32, 32, generator=g, device="cpu", flip="alternate", flip_base=base, epoch=1)
    assert torch.equal(d0.flip, base) and torch.equal(d1.flip, ~base)
    assert sorted(d0.order.tolist()) == list(range(100))


def test_augmented_batch_draws_in_range():
    g = torch.Generator().manual_seed(0)
    d = augment.draw_epoch(500, 32, 32, generator=g, device="cpu", pad=4, cutout_size=8)
    assert d.dy.min() == -4 and d.dy.max() == 4 and d.cx.min() == 0 and d.cx.max() == 31
    images = torch.randint(0, 256, (500, 32, 32, 3), dtype=torch.uint8, generator=g)
    labels = torch.arange(500)
    x, y = augment.augmented_batch(images, labels, d, 10, 20, torch.zeros(3), torch.ones(3), cutout_size=8)
    assert x.shape == (10, 3, 32, 32) and torch.equal(y, d.order[10:20])

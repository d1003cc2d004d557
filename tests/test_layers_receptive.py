"""Receptive fields through the new kinds, against the gradient (which input pixels a real
backward pass reaches), and closed forms in H and W against numeric runs at random sizes.
- after an op no rule knows, the field is unknown ('?'), never passed through;
- adaptive pooling that upsamples (vgg11 at 200x200: 6x6 -> 7x7) and every window with a
  fractional stride (transposed convolution, interpolation): the whole map's union is exact, a
  single output's field has the size of the largest window and lies within one pixel;
- ceil-mode pooling and adaptive windows have closed forms sympy can compare (googlenet)."""
import math
import random

import pytest
from hypothesis import given, settings, strategies as st

from cnncost import spec
from cnncost.render.format import rf as rf_text
from cnncost.rules.core import out_size
from cnncost.rules.pool import adaptive_windows
from cnncost.sizes import evaluate, symbol
from cnncost.walk import analyze

torch = pytest.importorskip("torch")


def gradient_extent(model, shape, position):
    """((first row, last row), (first col, last col)) of input pixels with a non-zero gradient from
    output `position` (None: the whole output), in float64 with random weights."""
    from cnncost.torch.build import build
    torch.manual_seed(0)
    module = build(model, shape).double().eval()
    x = torch.randn(1, *shape, dtype=torch.float64, requires_grad=True)
    y = module(x)
    picked = y.sum() if position is None else y[0, :, position[0], position[1]].sum()
    (grad,) = torch.autograd.grad(picked, x)
    hit = grad[0].abs().sum(0) != 0
    rows, cols = hit.any(1).nonzero().flatten(), hit.any(0).nonzero().flatten()
    return (int(rows.min()), int(rows.max())), (int(cols.min()), int(cols.max()))


def predicted(rf, position, sizes):
    """The calculator's field of `position` (centre start + i*jump, half-width (size-1)/2), clipped."""
    out = []
    for r, i, n in zip(rf, position, sizes):
        c, half = r.start + i * r.jump, (r.size - 1) / 2
        out.append((max(0, math.ceil(c - half)), min(n - 1, math.floor(c + half))))
    return tuple(out)


def test_unknown_op_makes_the_field_unknown():
    model = spec.Graph((spec.Node("c", spec.Conv2d(4, 3)), spec.Node("odd", spec.Opaque("aten::odd"), ("c",)),
                        spec.Node("c2", spec.Conv2d(4, 3, padding=1), ("odd",)), spec.Node("sum", spec.Add(), ("c", "c2"))), "sum")
    r = analyze(model, (3, 16, 16))
    assert r.rows[0].rf_size == 3
    assert [row.rf_size for row in r.rows[1:]] == [None, None, None]
    assert r.total["rf"] is None and rf_text(r.total["rf"]) == "?"


@pytest.mark.parametrize("mixing", [spec.ScaledDotProductAttention(), spec.Recurrent("lstm", 4)],
                         ids=["attention", "lstm"])
def test_ops_that_mix_positions_make_the_field_unknown(mixing):
    if isinstance(mixing, spec.Recurrent):
        model, shape = spec.seq(spec.Conv1d(4, 3), spec.Permute((1, 0)), mixing), (2, 9)
    else:
        model = spec.Graph((spec.Node("c", spec.Conv2d(4, 3)), spec.Node("a", mixing, ("c", "c", "c"))), "a")
        shape = (3, 8, 8)
    assert analyze(model, shape).total["rf"] is None


WHOLE_MAP = [
    ("adaptive upsamples 7 -> 9", spec.seq(spec.Conv2d(2, 3, 2), spec.AdaptivePool2d("avg", 9), spec.Conv2d(2, 1)),
     (2, 15, 15)),
    ("adaptive 6 -> 7 as vgg11 at 200", spec.seq(spec.Conv2d(2, 3, 2), spec.Conv2d(2, 3, 2), spec.AdaptivePool2d("avg", 7),
                                                 spec.Flatten(), spec.Linear(3)), (2, 27, 27)),
    ("adaptive downsamples unevenly", spec.seq(spec.Conv2d(2, 3), spec.AdaptivePool2d("max", (4, 3)), spec.Flatten(),
                                               spec.Linear(2)), (2, 12, 11)),
    ("transposed conv", spec.seq(spec.Conv2d(2, 3, 2), spec.ConvTranspose2d(2, 4, 2, 1), spec.Flatten(), spec.Linear(2)),
     (2, 15, 15)),
    ("bilinear", spec.seq(spec.Conv2d(2, 3, 2), spec.Upsample(scale_factor=2, mode="bilinear"), spec.Flatten(),
                          spec.Linear(2)), (2, 15, 15)),
]


@pytest.mark.parametrize("model, shape", [w[1:] for w in WHOLE_MAP], ids=[w[0] for w in WHOLE_MAP])
def test_whole_map_field_equals_gradient(model, shape):
    """What the classifier sees: the field of the flattened map, clipped to the image, is exactly
    the rows and columns the gradient reaches (vgg11 at 200: every row).  Sizes are chosen so that
    the first layer reads every pixel."""
    r = analyze(model, shape)
    measured = gradient_extent(model, shape, None)
    last = r.rows[-1]
    if len(last.output_shape) == 3:   # a map: the union of every position's field
        first = predicted(last.rf, (0, 0), shape[1:])
        final = predicted(last.rf, tuple(n - 1 for n in last.output_shape[1:]), shape[1:])
        got = tuple((a[0], b[1]) for a, b in zip(first, final))
    else:
        got = predicted(last.rf, (0, 0), shape[1:])
    assert got == measured


FRACTIONAL = [
    spec.seq(spec.Conv2d(2, 3), spec.ConvTranspose2d(2, 3, 2)),
    spec.seq(spec.Conv2d(2, 3, 2), spec.ConvTranspose2d(2, 4, 2, 1)),
    spec.seq(spec.Conv2d(2, 3, 2), spec.Upsample(scale_factor=2), spec.Conv2d(2, 3)),
    spec.seq(spec.Conv2d(2, 3, 2), spec.Upsample(scale_factor=2, mode="bilinear"), spec.Conv2d(2, 3)),
    spec.seq(spec.Conv2d(2, 3, 2), spec.AdaptivePool2d("avg", 9)),
]


@pytest.mark.parametrize("model", FRACTIONAL, ids=["convT s2", "convT k4 s2 p1", "nearest", "bilinear", "adaptive up"])
def test_fractional_windows_size_and_place(model):
    """One output's field: its size is the largest field any output has (never smaller than what
    the gradient reaches) and its place is the linear fit, within one step of the map it reads
    (the jump before the fractional window; at least one pixel) of the measured one."""
    shape = (2, 16, 16)
    r = analyze(model, shape)
    last = r.rows[-1]
    step = [max(1, rf.jump) for rf in next(row for row in r.rows if row.kind.startswith("conv")).rf]
    oh, ow = last.output_shape[1:]
    for position in ((oh // 2, ow // 2), (1, 1), (oh - 2, ow - 2)):
        measured = gradient_extent(model, shape, position)
        want = predicted(last.rf, position, shape[1:])
        for (m0, m1), (p0, p1), rf, tol in zip(measured, want, last.rf, step):
            assert m1 - m0 + 1 <= rf.size
            assert abs(m0 - p0) <= tol and abs(m1 - p1) <= tol


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 60), st.integers(2, 12))
def test_adaptive_longest_window_closed_form(n, o):
    """The closed form of the longest adaptive window (n/o, floor(n/o)+1 or +2 by n mod o), evaluated,
    equals the longest of PyTorch's windows [floor(i*n/o), ceil((i+1)*n/o)) listed one by one."""
    windows = [math.ceil((i + 1) * n / o) - math.floor(i * n / o) for i in range(o)]
    N = symbol("N")
    total, longest = adaptive_windows(N, o)
    assert evaluate(longest, {"N": n}) == max(windows)
    assert evaluate(total, {"N": n}) == sum(windows)


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 5), st.integers(1, 4), st.data())
def test_ceil_mode_closed_form_matches_torch(k, s, data):
    """Ceil-mode pooling's closed form (a Piecewise only where PyTorch's last-window drop can
    happen) evaluated at n equals the length of a real max_pool1d output."""
    p = data.draw(st.integers(0, k // 2))
    n = data.draw(st.integers(max(1, k - 2 * p), 40))
    N = symbol("N")
    form = out_size(N, k, s, p, p, 1, "pool", "length", ceil_mode=True)
    real = torch.nn.functional.max_pool1d(torch.zeros(1, 1, n), k, s, p, ceil_mode=True).shape[-1]
    assert evaluate(form, {"N": n}) == real
    if p + s <= k:
        assert "Piecewise" not in str(form)


QUANTITIES = ("params", "weights", "biases", "activations", "macs", "flops", "output_shape", "rf")


def _square(x):
    return x if isinstance(x, tuple) else (x, x)


def closed_forms_agree(name, sizes, model=None):
    """Every total of torchvision model `name` (its spec read at 224x224 unless given) analysed at a
    symbolic HxW, evaluated at each (h, w), equals a numeric run at that size."""
    from cnncost.resolve import resolve
    H, W = symbol("H"), symbol("W")
    model = model or resolve(f"torchvision:{name}", (3, 224, 224)).spec
    sym = analyze(model, (3, H, W)).total
    for h, w in sizes:
        num = analyze(model, (3, h, w)).total
        for key in QUANTITIES:
            form = sym[key]
            if key == "rf":
                got = tuple(None if v is None else evaluate(v, {"H": h, "W": w}) for v in _square(form))
                assert got == _square(num[key]), (name, h, w, key)
            elif isinstance(form, tuple):
                assert tuple(evaluate(v, {"H": h, "W": w}) for v in form) == num[key], (name, h, w, key)
            else:
                assert evaluate(form, {"H": h, "W": w}) == num[key], (name, h, w, key)


def random_sizes(seed, n=2, low=160, high=360):
    rng = random.Random(seed)
    return [(rng.randint(low, high), rng.randint(low, high)) for _ in range(n)]


def test_vgg11_closed_form_field_agrees_at_224_and_200():
    """The closed form 32*floor(H/32) + 118 gives vgg11's 342 at 224 (it gave 374: the adaptive
    pool's longest window of 2 where 7 -> 7 has windows of 1) and 310 at 200, where 6 -> 7 upsamples."""
    closed_forms_agree("vgg11", [(224, 224), (200, 200), *random_sizes(11, 1)])


@pytest.mark.slow
@pytest.mark.parametrize("name", ["googlenet", "alexnet", "squeezenet1_0", "resnet18"])
def test_closed_forms_agree_on_a_sample(name):
    closed_forms_agree(name, random_sizes(sum(map(ord, name))))


def classification_models():
    try:
        import torchvision
        return sorted(torchvision.models.list_models(module=torchvision.models))
    except Exception:  # pragma: no cover - torchvision missing
        return []


@pytest.mark.slow
@pytest.mark.parametrize("name", classification_models())
def test_closed_forms_agree_on_every_classification_model(name):
    """Every torchvision classification model that reads: closed forms equal numeric counts at two
    random sizes (inception_v3 needs at least 75x75; sizes start at 160).  A model that itself
    refuses the random sizes (ViT checks for 224x224; MaxViT's partitions need sizes its windows
    divide) has no closed form to give; any other must read by fx (the run-time reader holds the
    numbers of one size) and agree."""
    import torch
    from cnncost.errors import CostError
    from cnncost.resolve import resolve
    from cnncost.torch import sources
    try:
        read = resolve(f"torchvision:{name}", (3, 224, 224))
    except CostError as err:
        pytest.skip(f"does not read: {err}")
    sizes = random_sizes(sum(map(ord, name)))
    module = sources.torchvision_model(name).eval().to("meta")
    for h, w in sizes:
        try:
            module(torch.empty(1, 3, h, w, device="meta"))
        except Exception as err:
            pytest.skip(f"the model refuses {h}x{w}: {str(err).splitlines()[0][:80]}")
    assert getattr(read.model, "method", "fx") == "fx", f"{name} runs at {sizes} but is read as it runs"
    closed_forms_agree(name, sizes, read.spec)

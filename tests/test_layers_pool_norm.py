"""Pooling (1-3 D, max/avg, ceil mode, adaptive), interpolation and normalisation layers against
PyTorch itself (forward shape, sum(numel), FlopCounterMode) and fvcore (its handlers for
adaptive_avg_pool2d, batch/group/instance/layer norm and nearest/bilinear 2-D upsampling)."""
import pytest
from hypothesis import given, settings, strategies as st

from cnncost import spec
from cnncost.errors import CostError
from cnncost.walk import analyze

pytest.importorskip("torch")
pytest.importorskip("fvcore")
from layer_oracles import check  # noqa: E402

POOL = {1: spec.Pool1d, 2: spec.Pool2d, 3: spec.Pool3d}
ADAPTIVE = {1: spec.AdaptivePool1d, 2: spec.AdaptivePool2d, 3: spec.AdaptivePool3d}


@st.composite
def pool_case(draw):
    dims = draw(st.integers(1, 3))
    mode = draw(st.sampled_from(["max", "avg"]))
    kernel = tuple(draw(st.integers(1, 4)) for _ in range(dims))
    stride = tuple(draw(st.integers(1, 3)) for _ in range(dims))
    padding = tuple(draw(st.integers(0, k // 2)) for k in kernel)
    dilation = tuple(draw(st.integers(1, 2)) for _ in range(dims)) if mode == "max" else (1,) * dims
    span = [d * (k - 1) + 1 for d, k in zip(dilation, kernel)]
    low = [k if mode == "avg" and dims == 3 else max(1, s - 2 * p) for s, p, k in zip(span, padding, kernel)]
    size = tuple(draw(st.integers(lo, s + 7)) for lo, s in zip(low, span))
    layer = POOL[dims](mode, kernel, stride, padding, draw(st.booleans()), draw(st.booleans()), dilation=dilation)
    return spec.seq(layer), (2, *size)


@settings(max_examples=25, deadline=None)
@given(pool_case())
def test_pooling_output_shape_matches_torch(case):
    """Pooling has no FLOPs under torch's counter; the shape (ceil mode's dropped last window
    included) must equal a real forward."""
    model, shape = case
    check(model, shape, fvcore=False)


@settings(max_examples=20, deadline=None)
@given(st.integers(1, 3), st.sampled_from(["max", "avg"]), st.data())
def test_adaptive_pooling_matches_torch_and_fvcore(dims, mode, data):
    size = tuple(data.draw(st.integers(1, 9)) for _ in range(dims))
    out = tuple(data.draw(st.integers(1, 9)) for _ in range(dims))
    check(spec.seq(ADAPTIVE[dims](mode, out)), (3, *size))


def test_adaptive_average_reads_by_hand():
    """AdaptiveAvgPool1d(3) on 5: windows [0,2), [1,4), [3,5) read 2 + 3 + 2 = 7 per channel."""
    r = analyze(spec.seq(spec.AdaptivePool1d("avg", 3)), (4, 5))
    assert r.rows[0].flops == 4 * 7


UPSAMPLE = [
    (spec.Upsample(scale_factor=2, mode="nearest"), (3, 5, 7)),
    (spec.Upsample(scale_factor=1.5, mode="nearest"), (3, 5, 7)),
    (spec.Upsample(size=(9, 4), mode="bilinear"), (3, 5, 7)),
    (spec.Upsample(scale_factor=2, mode="bilinear", align_corners=True), (3, 5, 7)),
    (spec.Upsample(scale_factor=3, mode="bicubic"), (2, 4, 4)),
    (spec.Upsample(scale_factor=(2, 1, 3), mode="trilinear"), (2, 3, 4, 5)),
    (spec.Upsample(size=11, mode="linear"), (2, 6)),
    (spec.Upsample(scale_factor=2, mode="nearest-exact"), (2, 3, 3, 3)),
    (spec.Upsample(size=(3, 2), mode="area"), (2, 7, 5)),
]


@pytest.mark.parametrize("layer, shape", UPSAMPLE, ids=lambda x: getattr(x, "mode", None) or "x".join(map(str, x)))
def test_interpolate_matches_torch_and_fvcore(layer, shape):
    check(spec.seq(layer), shape)


def test_bilinear_taps_by_hand():
    """Bilinear 2x of 3x5x7: 3*10*14 = 420 outputs, 4 taps each (a multiply and an add) = 3,360
    FLOPs under cnncost; fvcore counts 4 per output (upsample_bilinear2d) = 1,680."""
    model = spec.seq(spec.Upsample(scale_factor=2, mode="bilinear"))
    assert analyze(model, (3, 5, 7)).total["flops"] == 420 * 4 * 2
    assert analyze(model, (3, 5, 7), convention="fvcore").total["flops"] == 420 * 4


NORMS = [
    (spec.BatchNorm(), (4,)), (spec.BatchNorm(), (4, 9)), (spec.BatchNorm(affine=False), (4, 5, 6)),
    (spec.BatchNorm(), (4, 3, 5, 6)),
    (spec.InstanceNorm(), (4, 9)), (spec.InstanceNorm(affine=True), (4, 5, 6)),
    (spec.InstanceNorm(affine=True, track_running_stats=True), (4, 3, 5, 6)),
    (spec.GroupNorm(2), (4, 5, 6)), (spec.GroupNorm(4, affine=False), (8, 3, 3, 3)), (spec.GroupNorm(1), (6, 7)),
    (spec.LayerNorm((6,)), (5, 6)), (spec.LayerNorm((4, 5, 6)), (4, 5, 6)),
    (spec.LayerNorm((6,), affine=False), (5, 6)),
]


@pytest.mark.parametrize("layer, shape", NORMS, ids=lambda x: type(x).__name__ if not isinstance(x, tuple) else "x".join(map(str, x)))
def test_normalisation_matches_torch_and_fvcore(layer, shape):
    check(spec.seq(layer), shape)


def test_functional_batch_norm_is_batchnorm_by_hand():
    """F.batch_norm in eval (timm's BatchNormAct2d) folds to one multiply-add per element: 2 FLOPs
    each under cnncost with gamma and beta, 2 under fvcore (batchnorm_flop_jit), 0 under torch."""
    model, shape = spec.seq(spec.BatchNorm()), (8, 4, 4)
    assert analyze(model, shape).total["flops"] == 2 * 128
    assert analyze(model, shape, convention="fvcore").total["flops"] == 2 * 128
    assert analyze(model, shape, convention="torch").total["flops"] == 0


@pytest.mark.parametrize("make, message", [
    (lambda: spec.Upsample(), "exactly one of size and scale_factor"),
    (lambda: spec.Upsample(scale_factor=2, mode="nearest", align_corners=True), "align_corners applies"),
    (lambda: spec.MaxPool3d(2, padding=2), "more than half the kernel"),
    (lambda: spec.Pool1d("avg", 3, dilation=2), "average pooling has no dilation"),
    (lambda: analyze(spec.seq(spec.AvgPool3d((1, 2, 1), 1, (0, 1, 0))), (2, 1, 1, 1)), "smaller than the kernel 2"),
    (lambda: analyze(spec.seq(spec.Upsample(scale_factor=2, mode="bilinear")), (3, 8)), "needs a 2-D spatial input"),
    (lambda: analyze(spec.seq(spec.GroupNorm(3)), (8, 4, 4)), "not divisible into 3 groups"),
])
def test_pool_norm_errors_are_one_line(make, message):
    with pytest.raises(CostError, match=message):
        make()

"""Convolutions in 1-3 dimensions, plain and transposed, against PyTorch itself: output shape of
a real forward, sum(numel) of the parameters (biases apart), FlopCounterMode FLOPs under the
torch convention, fvcore's under the fvcore convention.  Random valid configurations (hypothesis)
and the cases the spec must refuse."""
import pytest
from hypothesis import given, settings, strategies as st

from cnncost import spec
from cnncost.errors import CostError
from cnncost.walk import analyze

pytest.importorskip("torch")
pytest.importorskip("fvcore")
from layer_oracles import check  # noqa: E402

CONV = {1: spec.Conv1d, 2: spec.Conv2d, 3: spec.Conv3d}
TRANSPOSED = {1: spec.ConvTranspose1d, 2: spec.ConvTranspose2d, 3: spec.ConvTranspose3d}


@st.composite
def conv_case(draw):
    dims = draw(st.integers(1, 3))
    groups = draw(st.sampled_from([1, 2]))
    cin = groups * draw(st.integers(1, 3))
    cout = groups * draw(st.integers(1, 3))
    kernel = tuple(draw(st.integers(1, 3)) for _ in range(dims))
    dilation = tuple(draw(st.integers(1, 2)) for _ in range(dims))
    padding = draw(st.sampled_from(["same", "valid", "int"]))
    stride = (1,) * dims if padding == "same" else tuple(draw(st.integers(1, 3)) for _ in range(dims))
    if padding == "int":
        padding = tuple(draw(st.integers(0, 2)) for _ in range(dims))
    mode = draw(st.sampled_from(["zeros", "zeros", "reflect", "replicate", "circular"]))
    span = [d * (k - 1) + 1 for d, k in zip(dilation, kernel)]
    size = tuple(draw(st.integers(s + 2, s + 6)) for s in span)
    layer = CONV[dims](cout, kernel, stride, padding, dilation, groups, draw(st.booleans()), mode)
    return spec.seq(layer), (cin, *size)


@settings(max_examples=15, deadline=None)
@given(conv_case())
def test_conv_matches_torch_and_fvcore(case):
    model, shape = case
    check(model, shape)


@st.composite
def transposed_case(draw):
    dims = draw(st.integers(1, 3))
    groups = draw(st.sampled_from([1, 2]))
    cin, cout = groups * draw(st.integers(1, 3)), groups * draw(st.integers(1, 3))
    kernel = tuple(draw(st.integers(1, 4)) for _ in range(dims))
    stride = tuple(draw(st.integers(1, 3)) for _ in range(dims))
    dilation = tuple(draw(st.integers(1, 2)) for _ in range(dims))
    output_padding = tuple(draw(st.integers(0, max(s, d) - 1)) for s, d in zip(stride, dilation))
    padding = tuple(draw(st.integers(0, (d * (k - 1)) // 2)) for k, d in zip(kernel, dilation))
    size = tuple(draw(st.integers(1, 5)) for _ in range(dims))
    layer = TRANSPOSED[dims](cout, kernel, stride, padding, output_padding, groups, draw(st.booleans()), dilation)
    return spec.seq(layer), (cin, *size)


@settings(max_examples=15, deadline=None)
@given(transposed_case())
def test_conv_transpose_matches_torch_and_fvcore(case):
    model, shape = case
    check(model, shape)


def test_conv3d_video_clip_by_hand():
    """r3d_18's stem: Conv3d(3, 64, (3, 7, 7), stride (1, 2, 2), padding (1, 3, 3)) on a 16x112x112 clip:
    out 16x56x56, weights 3*7*7*3*64 = 28,224, MACs 16*56*56*64 * (3*7*7*3) = 1,416,167,424."""
    r = analyze(spec.seq(spec.Conv3d(64, (3, 7, 7), (1, 2, 2), (1, 3, 3), bias=False)), (3, 16, 112, 112))
    assert r.total["output_shape"] == (64, 16, 56, 56)
    assert r.total["weights"] == 3 * 7 * 7 * 3 * 64 == 28224
    assert r.total["macs"] == 16 * 56 * 56 * 64 * (3 * 7 * 7 * 3) == 1416167424


@pytest.mark.parametrize("make, message", [
    (lambda: spec.Conv1d(4, 3, stride=2, padding="same"), "padding 'same' needs stride 1"),
    (lambda: spec.Conv3d(4, (3, 3), ), "kernel must be an integer or 3 integers"),
    (lambda: spec.Conv2d(4, 3, padding_mode="mirror"), "padding_mode must be one of"),
    (lambda: spec.ConvTranspose2d(4, 3, stride=2, output_padding=2), "output_padding 2 must be smaller"),
    (lambda: spec.ConvTranspose1d(6, 3, groups=4), "not divisible by groups"),
])
def test_conv_refuses_what_pytorch_refuses(make, message):
    with pytest.raises(CostError, match=message):
        make()


def test_conv_rank_mismatch_is_one_line():
    with pytest.raises(CostError, match="Conv3d needs a CxDxHxW input, got a 3x8x8 input"):
        analyze(spec.seq(spec.Conv3d(4, 3)), (3, 8, 8))

"""The layer algebra checked against independent methods: enumeration of window positions,
propagation of input-index sets for receptive fields, and arithmetic written out by hand."""
import subprocess
import sys

import pytest
from hypothesis import given, settings, strategies as st

from cnncost import CostError, analyze
from cnncost.sizes import evaluate, symbol
from cnncost.spec import (Activation, AvgPool2d, BatchNorm, Concat, Conv2d, Flatten, GlobalPool, Linear,
                          MaxPool2d, Residual, ShortcutPad, seq)


def windows_that_fit(n, k, s, p, d):
    """Count window starts whose dilated span lies inside the padded input (floor mode), by enumeration."""
    span = d * (k - 1) + 1
    return sum(1 for start in range(0, n + 2 * p) if start % s == 0 and start + span <= n + 2 * p)


@settings(max_examples=200, deadline=None)
@given(n=st.integers(1, 40), k=st.integers(1, 7), s=st.integers(1, 4), p=st.integers(0, 3), d=st.integers(1, 3))
def test_conv_output_size_matches_enumeration(n, k, s, p, d):
    expected = windows_that_fit(n, k, s, p, d)
    layer = Conv2d(4, k, stride=s, padding=p, dilation=d)
    if expected == 0:
        with pytest.raises(CostError, match="larger than the padded input"):
            analyze(seq(layer), (2, n, n))
    else:
        assert analyze(seq(layer), (2, n, n)).total["output_shape"] == (4, expected, expected)


def rf_by_index_sets(layers, n):
    """1-D receptive field of output position 0 by propagating the set of input indices each position reads."""
    reads = [{i} for i in range(n)]   # position -> input indices it depends on
    size = n
    for k, s, p, d in layers:
        span = d * (k - 1) + 1
        out = []
        for start in range(-p, size + p - span + 1, s):
            deps = set()
            for j in range(k):
                pos = start + j * d
                if 0 <= pos < size:
                    deps |= reads[pos]
            out.append(deps)
        reads, size = out, len(out)
    return reads


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 5), st.integers(1, 3), st.integers(0, 2), st.integers(1, 2)),
                min_size=1, max_size=4))
def test_receptive_field_matches_index_propagation(layers):
    layers = [(k, s, min(p, (d * (k - 1)) // 2), d) for k, s, p, d in layers]
    n = 64
    spec = seq(*[Conv2d(1, k, stride=s, padding=p, dilation=d) for k, s, p, d in layers])
    try:
        report = analyze(spec, (1, n, n))
    except CostError:
        return
    rf = report.rows[-1].rf[0]
    reads = rf_by_index_sets(layers, n)
    # an output position whose theoretical field lies inside the image is seen exactly
    for i, deps in enumerate(reads):
        lo = rf.start + i * rf.jump - (rf.size - 1) / 2
        hi = rf.start + i * rf.jump + (rf.size - 1) / 2
        if lo >= 0 and hi <= n - 1 and deps:
            assert min(deps) == lo and max(deps) == hi, (i, deps, rf)
            return


def test_conv_counts_by_hand():
    # 3 -> 8 channels, 3x3 kernel, 5x5 input, no padding: 3x3 output
    r = analyze(seq(Conv2d(8, 3)), (3, 5, 5))
    row = r.rows[0]
    assert row.output_shape == (8, 3, 3)
    assert row.weights == 3 * 3 * 3 * 8 and row.biases == 8
    assert row.macs == (3 * 3 * 8) * (3 * 3 * 3)
    assert row.flops == 2 * 1944 + 72          # 2 per MAC + one bias add per output
    assert r.rows[0].work["weights"] == "(3*3*3)*8 = 216"


def test_grouped_conv_and_batch_by_hand():
    r = analyze(seq(Conv2d(256, 5, padding=2, groups=2, bias=False)), (96, 27, 27), batch=4)
    assert r.total["weights"] == 5 * 5 * 48 * 256          # AlexNet conv2: 307,200
    assert r.total["macs"] == 4 * 27 * 27 * 256 * 5 * 5 * 48


def test_fvcore_convention_by_hand():
    spec = seq(Conv2d(8, 3, padding=1), BatchNorm(), Activation(), MaxPool2d(2), GlobalPool("avg"), Flatten(), Linear(10))
    r = analyze(spec, (3, 8, 8), convention="fvcore")
    conv_macs = 8 * 8 * 8 * 27
    bn = 2 * 8 * 8 * 8             # eval batch norm with affine: 2 per element
    gap = 8 * 4 * 4                # adaptive average pool: 1 per input element
    fc = 8 * 10
    assert r.total["flops"] == conv_macs + bn + gap + fc
    assert r.total["activations"] == 8 * 8 * 8 + 10   # fvcore counts conv and linear outputs only


def test_pooling_work_by_hand():
    r = analyze(seq(MaxPool2d(3, 2), AvgPool2d(2)), (4, 9, 9))
    mx, avg = r.rows
    assert mx.output_shape == (4, 4, 4) and mx.flops == 4 * 4 * 4 * 8   # 8 comparisons per 3x3 window
    assert avg.output_shape == (4, 2, 2) and avg.flops == 4 * 2 * 2 * 4  # 3 adds and a divide per 2x2 window


def test_ceil_mode_drops_window_starting_in_padding():
    # PyTorch: MaxPool2d(2, 2, padding=1, ceil_mode=True) on 4 gives 3, not 4
    assert analyze(seq(MaxPool2d(2, 2, 1, ceil_mode=True)), (1, 4, 4)).total["output_shape"] == (1, 3, 3)
    assert analyze(seq(MaxPool2d(3, 2, ceil_mode=True)), (1, 112, 112)).total["output_shape"] == (1, 56, 56)


def test_residual_option_a_and_add():
    block = Residual(seq(Conv2d(32, 3, stride=2, padding=1, bias=False), BatchNorm(),
                         Activation(), Conv2d(32, 3, padding=1, bias=False), BatchNorm()), ShortcutPad(32, 2))
    r = analyze(seq(block), (16, 32, 32))
    assert r.total["output_shape"] == (32, 16, 16)
    assert r.total["params"] == 9 * 16 * 32 + 9 * 32 * 32 + 2 * (2 * 32)
    assert r.rows[-1].name.endswith(".add") and r.rows[-1].flops == 32 * 16 * 16


def test_inception_concat_channels():
    module = Concat([Conv2d(64, 1), seq(Conv2d(96, 1), Conv2d(128, 3, padding="same")),
                     seq(MaxPool2d(3, 1, 1), Conv2d(32, 1))])
    assert analyze(seq(module), (192, 28, 28)).total["output_shape"] == (224, 28, 28)


def test_symbolic_total_equals_numeric():
    spec = seq(Conv2d(16, 3, padding=1), MaxPool2d(2), Conv2d(32, 5, stride=2, padding=2, groups=2),
               Residual(seq(Conv2d(32, 3, padding=1), BatchNorm(), Activation())), MaxPool2d(3, 2, ceil_mode=True),
               GlobalPool(), Flatten(), Linear(10))
    H, W, B = symbol("H"), symbol("W"), symbol("B")
    sym = analyze(spec, (3, H, W), batch=B)
    for h, w, b in [(32, 32, 1), (57, 33, 3), (100, 41, 2), (224, 224, 8)]:
        num = analyze(spec, (3, h, w), batch=b)
        for key in ("weights", "biases", "params", "activations", "macs", "flops"):
            assert evaluate(sym.total[key], {"H": h, "W": w, "B": b}) == num.total[key], key
        for key in ("parameters", "activations_all", "training_adam"):
            assert evaluate(sym.memory[key], {"H": h, "W": w, "B": b}) == num.memory[key], key


def test_memory_by_hand():
    r = analyze(seq(Conv2d(4, 3, padding=1, bias=False), Activation()), (2, 4, 4), batch=2, dtype="bf16")
    params = 3 * 3 * 2 * 4
    outputs = 2 * (4 * 4 * 4) * 2               # two layers' outputs, batch 2
    inp = 2 * 4 * 4 * 2
    m = r.memory
    assert m["parameters"] == 2 * params
    assert m["activations_all"] == 2 * outputs
    assert m["training_adam"] == 2 * (4 * params) + 2 * (inp + outputs)


@pytest.mark.parametrize("make, shape, message", [
    (lambda: seq(Conv2d(8, 7)), (3, 5, 5), "kernel 7 is larger than the padded input height 5"),
    (lambda: seq(Conv2d(8, 3, groups=2)), (3, 5, 5), "input channels 3 are not divisible by groups 2"),
    (lambda: seq(Conv2d(9, 3, groups=2)), (4, 5, 5), "out_channels 9 is not divisible by groups 2"),
    (lambda: seq(Conv2d(8, 0)), (3, 5, 5), "kernel must be positive"),
    (lambda: seq(Conv2d(8, 3, stride=2, padding="same")), (3, 5, 5), "padding 'same' needs stride 1"),
    (lambda: seq(MaxPool2d(2, padding=2)), (3, 5, 5), "more than half the kernel"),
    (lambda: seq(Residual(Conv2d(8, 3))), (3, 5, 5), "shortcut"),
    (lambda: seq(Conv2d(8, 3)), (3, 0, 5), "input sizes must be positive"),
])
def test_errors_are_one_line_and_name_the_problem(make, shape, message):
    with pytest.raises(CostError) as err:
        analyze(make(), shape)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_numeric_path_imports_neither_sympy_nor_torch():
    code = ("import sys; from cnncost import analyze; from cnncost.spec import Conv2d, seq; "
            "analyze(seq(Conv2d(8, 3)), (3, 32, 32)); "
            "print('sympy' in sys.modules, 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]

"""Random stacks of conv / pool / linear layers, made directly in PyTorch (not by
cnncost's builder) and described to the calculator as the same spec.

Valid stacks: parameters equal sum(p.numel()), every row's shape equals a forward hook's, FLOPs and
activations in fvcore's convention equal fvcore's, and the receptive field equals the measured one.
Invalid stacks: the calculator raises CostError exactly when PyTorch fails, and for a stack PyTorch
can build but not run, `cnncost table file.py:Net` prints `error: <the calculator's message>`.
"""
import contextlib
import io
import os
import tempfile

import pytest
from hypothesis import HealthCheck, event, given, settings, strategies as st

torch = pytest.importorskip("torch")
pytest.importorskip("fvcore")
from torch import nn  # noqa: E402

from cnncost import CostError, analyze  # noqa: E402
from cnncost.spec import AvgPool2d, Conv2d, Flatten, Linear, MaxPool2d, seq  # noqa: E402
from torch_helpers import fvcore_totals  # noqa: E402


@st.composite
def conv(draw):
    k = draw(st.integers(1, 5))
    g = draw(st.sampled_from([1, 1, 2, 3]))
    return ("conv", dict(out=g * draw(st.integers(1, 3)), k=k, s=draw(st.integers(1, 3)),
                         p=draw(st.integers(0, 3)), d=draw(st.integers(1, 2)), g=g, bias=draw(st.booleans())))


@st.composite
def pool(draw):
    k = draw(st.integers(1, 4))
    return (draw(st.sampled_from(["max", "avg"])),
            dict(k=k, s=draw(st.integers(1, 3)), p=draw(st.integers(0, k // 2 + 1)), ceil=draw(st.booleans()),
                 include_pad=draw(st.booleans())))


stacks = st.tuples(
    st.integers(1, 6), st.integers(1, 20), st.integers(1, 20),               # C, H, W
    st.lists(st.one_of(conv(), pool()), min_size=1, max_size=4),
    st.one_of(st.none(), st.integers(1, 5)))                                  # optional Flatten + Linear head


def calculator_error(c, h, w, layers, head):
    """The calculator's first complaint in layer order (as a reader meets them), or None."""
    for n in range(1, len(layers) + 1):
        try:
            analyze(spec_of(layers[:n], None), (c, h, w))
        except CostError as err:
            return str(err)
    try:
        analyze(spec_of(layers, head), (c, h, w))
    except CostError as err:
        return str(err)
    return None


def spec_of(layers, head):
    """The calculator's description; layer i is named str(i), as nn.Sequential names its children."""
    out = []
    for i, (kind, a) in enumerate(layers):
        name = str(i)
        if kind == "conv":
            out.append(Conv2d(a["out"], a["k"], a["s"], a["p"], a["d"], a["g"], a["bias"], name=name))
        elif kind == "max":
            out.append(MaxPool2d(a["k"], a["s"], a["p"], a["ceil"], name=name))
        else:
            out.append(AvgPool2d(a["k"], a["s"], a["p"], a["ceil"], a["include_pad"], name=name))
    if head:
        out += [Flatten(name=str(len(layers))), Linear(head, name=str(len(layers) + 1))]
    return seq(*out)


def torch_source(c, layers, head) -> list:
    """PyTorch constructor calls for the same stack (channels tracked by hand; LazyLinear infers F_in)."""
    calls = []
    for kind, a in layers:
        if kind == "conv":
            calls.append(f"nn.Conv2d({c}, {a['out']}, {a['k']}, stride={a['s']}, padding={a['p']}, "
                         f"dilation={a['d']}, groups={a['g']}, bias={a['bias']})")
            c = a["out"]
        elif kind == "max":
            calls.append(f"nn.MaxPool2d({a['k']}, {a['s']}, {a['p']}, ceil_mode={a['ceil']})")
        else:
            calls.append(f"nn.AvgPool2d({a['k']}, {a['s']}, {a['p']}, ceil_mode={a['ceil']}, "
                         f"count_include_pad={a['include_pad']})")
    if head:
        calls += ["nn.Flatten()", f"nn.LazyLinear({head})"]
    return calls


def torch_run(c, h, w, layers, head):
    """(module, {row: output shape}) or the exception PyTorch raised building or running it."""
    try:
        module = nn.Sequential(*[eval(call, {"nn": nn}) for call in torch_source(c, layers, head)]).eval()
        shapes = {}
        for name, m in module.named_children():
            m.register_forward_hook(lambda mod, a, out, name=name: shapes.__setitem__(name, tuple(out.shape[1:])))
        with torch.no_grad():
            module(torch.randn(1, c, h, w))
        return module, shapes
    except (RuntimeError, ValueError) as err:
        return err, None




def cli_error(c, h, w, layers) -> tuple:
    """(exit code, stderr) of `cnncost table file.py:Net --input HxWxC` for the stack without its head."""
    from cnncost.cli import main
    calls = "".join(f"            {call},\n" for call in torch_source(c, layers, None))
    source = "import torch.nn as nn\n\n\nclass Net(nn.Sequential):\n    def __init__(self):\n" \
             "        super().__init__(\n" + calls + "        )\n"
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "net.py")
        with open(path, "w") as f:
            f.write(source)
        err = io.StringIO()
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
            try:
                main(["table", f"{path}:Net", "--input", f"{h}x{w}x{c}"])
                code = 0
            except SystemExit as e:
                code = e.code
    return code, err.getvalue()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(stacks)
def test_random_stacks_agree_with_pytorch(case):
    c, h, w, layers, head = case
    try:
        spec = spec_of(layers, head)
        report = analyze(spec, (c, h, w), convention="fvcore")
    except CostError:
        event("invalid")
        message = calculator_error(c, h, w, layers, head)
        assert message and "\n" not in message
        result, _ = torch_run(c, h, w, layers, head)
        assert isinstance(result, Exception), f"PyTorch runs what the calculator refused: {message}"
        if isinstance(result, RuntimeError):          # built, failed to run: the CLI reads it and says why
            assert cli_error(c, h, w, layers) == (2, f"error: {message}\n")
        return
    event("valid")
    module, shapes = torch_run(c, h, w, layers, head)
    assert not isinstance(module, Exception), f"the calculator accepts what PyTorch refuses: {module}"
    assert report.total["params"] == sum(p.numel() for p in module.parameters())
    for row in report.rows:
        assert row.output_shape == shapes[row.name], row.name
    assert (report.total["flops"], report.total["activations"]) == fvcore_totals(module, (c, h, w))
    _check_rf(module, report, (c, h, w))


def _check_rf(module, report, shape):
    """Exact when the field has no holes: every layer has d = 1, k >= s and p < k (then, by
    induction, a field of size S and jump J has S >= J, so the k taps' fields, J apart, overlap,
    and no window reads only padding: with p >= k an edge output reads padding alone, which the
    theoretical field still places over the image, while no input pixel reaches it).  With holes
    (dilation, or a kernel shorter than its stride) a field clipped by the border may end on a
    hole, and the measured end is then the last real tap inside: the ends that are not clipped
    must still be exact, and the measured interval inside the calculator's."""
    from cnncost.torch import rf
    spatial = [r for r in report.rows if len(r.output_shape) == 3]
    if not spatial:
        return
    row = spatial[-1]
    node = f"_{row.name}"                       # fx names Sequential child i's call node "_i"
    corner = (row.output_shape[1] - 1, row.output_shape[2] - 1)
    targets = {"centre": (node, rf.centre(row.output_shape)), "first": (node, (0, 0)),
               "last": (node, corner), "read": (node, None)}
    got = rf.measure(module, shape, targets)
    dense = all(getattr(m, "dilation", (1, 1)) in (1, (1, 1)) and _pair(m.kernel_size)[0] >= _pair(m.stride)[0]
                and _pair(m.kernel_size)[1] >= _pair(m.stride)[1]
                and all(p < k for p, k in zip(_pair(m.padding), _pair(m.kernel_size)))
                for m in module if hasattr(m, "kernel_size"))
    for tag in ("centre", "first", "last"):
        want = rf.expected(row.rf, targets[tag][1], got["read"])
        if dense or want is None:
            assert got[tag] == want, (tag, row.rf)
            continue
        if got[tag] is None:          # every tap of a holey field fell outside the image
            continue
        for axis, ((a, b), (lo, hi), r, i) in enumerate(zip(got[tag], want, row.rf, targets[tag][1])):
            centre, half = r.start + i * r.jump, (r.size - 1) / 2
            assert lo <= a <= b <= hi, (tag, axis, row.rf)
            assert a == lo or centre - half < got["read"][axis][0], (tag, axis, "unclipped start")
            assert b == hi or centre + half > got["read"][axis][1], (tag, axis, "unclipped end")


def _pair(v):
    return v if isinstance(v, tuple) else (v, v)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(1, 8), st.integers(2, 6), st.integers(0, 2), st.integers(1, 3))
def test_kernel_larger_than_input_is_the_same_error_everywhere(n, extra, p, d):
    """A kernel whose dilated span exceeds the padded input: PyTorch fails, the calculator and the CLI
    say which layer and why."""
    k = n + 2 * p + extra
    layers = [("conv", dict(out=2, k=k, s=1, p=p, d=d, g=1, bias=True))]
    with pytest.raises(CostError) as err:
        analyze(spec_of(layers, None), (3, n, n))
    span = d * (k - 1) + 1
    dilated = f" (dilated to {span})" if d > 1 else ""
    expected = f"0: kernel {k}{dilated} is larger than the padded input height {n + 2 * p}"
    assert str(err.value) == expected
    assert isinstance(torch_run(3, n, n, layers, None)[0], RuntimeError)
    assert cli_error(3, n, n, layers) == (2, f"error: {expected}\n")

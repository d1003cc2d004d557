"""The run-time reader (a TorchDispatchMode over one forward pass) checked against independent
counters: a real forward pass for output shapes, sum(numel) of the parameters for params,
torch.utils.flop_counter.FlopCounterMode for FLOPs in the torch convention, and hand arithmetic."""
import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

from cnncost import CostError, analyze  # noqa: E402
from cnncost.resolve import parse_shape  # noqa: E402
from cnncost.torch import runmodel  # noqa: E402
from cnncost.torch.read import read_module  # noqa: E402
from cnncost.torch.runread import sample_shape  # noqa: E402
from torch_helpers import cli  # noqa: E402


def flop_counter(module, shapes, layout="batch"):
    """FlopCounterMode's total for one forward of the inputs the reader runs, on meta tensors
    (autograd on), or CPU tensors where the model needs values."""
    for device in ("meta", "cpu"):
        ctx = runmodel._on_meta(module) if device == "meta" else runmodel.contextlib.nullcontext()
        try:
            with ctx, FlopCounterMode(display=False) as fc:
                args, _ = runmodel._tensors(shapes, device, layout)
                module(*args)
            return fc.get_total_flops()
        except Exception:
            if device == "cpu":
                raise


def real_output(module, shapes, layout="batch"):
    with torch.no_grad():
        args, _ = runmodel._tensors(shapes, "cpu", layout)
        out = module(*args)
    return sample_shape(next(t for t in torch.utils._pytree.tree_leaves(out) if isinstance(t, torch.Tensor)))


def prove(module, shapes, layout="batch"):
    """Read as it runs; output shape = a real forward's, params = sum(numel) of the parameters used,
    FLOPs (torch convention) = FlopCounterMode's when every op is known; unknown rows are named
    by ATen op and count nothing."""
    module.eval()
    r = read_module(module, shapes if len(shapes) > 1 else shapes[0], method="run", layout=layout)
    rep = analyze(r.spec, r.input_shape, convention="torch")
    assert rep.total["output_shape"] == real_output(module, shapes, layout)
    used = sum(p.numel() for p in module.parameters()) - sum(r.unused.values())
    if rep.complete:
        assert rep.total["params"] == used
        assert rep.total["flops"] == flop_counter(module, shapes, layout)
    else:                                          # an unknown row's parameters are not guessed
        assert rep.total["params"] <= used
    for row in rep.rows:
        if not row.known:
            assert row.kind.startswith("aten.") or row.kind[0].isupper()
            assert row.flops is None and row.params is None
    return r, rep


# --- a sample across families (small inputs where the family allows) --------------------------------

TORCHVISION = [
    ("resnet18", ((3, 64, 64),), "batch"),
    ("googlenet", ((3, 64, 64),), "batch"),
    ("mobilenet_v3_small", ((3, 64, 64),), "batch"),
    ("shufflenet_v2_x0_5", ((3, 64, 64),), "batch"),
    ("efficientnet_b0", ((3, 64, 64),), "batch"),
    ("regnet_y_400mf", ((3, 64, 64),), "batch"),
    ("convnext_tiny", ((3, 64, 64),), "batch"),
    ("swin_t", ((3, 64, 64),), "batch"),
    ("quantized_mobilenet_v2", ((3, 64, 64),), "batch"),
    ("r3d_18", ((3, 4, 32, 32),), "batch"),
    ("lraspp_mobilenet_v3_large", ((3, 64, 64),), "batch"),
    ("fasterrcnn_mobilenet_v3_large_320_fpn", ((3, 64, 64),), "list"),
    ("raft_small", ((3, 128, 128), (3, 128, 128)), "batch"),
]


@pytest.mark.parametrize("name, shapes, layout", TORCHVISION, ids=[t[0] for t in TORCHVISION])
def test_torchvision_sample(name, shapes, layout):
    pytest.importorskip("torchvision")
    from cnncost.torch import sources
    r, rep = prove(sources.torchvision_model(name), shapes, layout)
    assert rep.complete, rep.unknown              # every op known under the torch convention, detection's too
    if name == "googlenet":                       # auxiliary classifiers run only in training
        assert set(r.unused) == {"aux1", "aux2"}
    if name == "r3d_18":
        assert rep.complete and any(row.kind == "conv3d" for row in rep.rows)


TIMM = [("vit_tiny_patch16_224", (3, 224, 224)), ("efficientnet_b0", (3, 64, 64)), ("levit_128s", (3, 224, 224))]


@pytest.mark.parametrize("name, shape", TIMM, ids=[t[0] for t in TIMM])
def test_timm_sample(name, shape):
    timm = pytest.importorskip("timm")
    r, rep = prove(timm.create_model(name, pretrained=False), (shape,))
    assert rep.complete, rep.unknown


# --- what the run sees ---------------------------------------------------------------------------

class PositionEmbedding(nn.Module):
    """ViT's pattern: a (1, N, C) parameter added to the tokens, then a Linear."""

    def __init__(self, n=5, c=4):
        super().__init__()
        self.pos = nn.Parameter(torch.zeros(1, n, c))
        self.fc = nn.Linear(c, 3)

    def forward(self, x):
        return self.fc(x + self.pos)


def test_a_parameter_never_enters_the_batch_axis():
    r = read_module(PositionEmbedding(), (5, 4), method="run")
    rep = analyze(r.spec, (5, 4), batch=2, convention="cnncost")
    by = {row.name: row for row in rep.rows}
    assert by["pos"].output_shape == (5, 4) and by["pos"].params == 20
    assert by["add"].output_shape == (5, 4)
    # batch 2, by hand: 2*5*4 additions; Linear 2*5*(4*3) MACs at 2 FLOPs + 2*5*3 bias adds
    assert by["add"].flops == 2 * 5 * 4 and by["fc"].flops == 2 * (2 * 5 * 12) + 2 * 5 * 3
    assert rep.total["params"] == 20 + 15


class TwoImages(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Conv2d(3, 4, 3)
        self.b = nn.Conv2d(3, 4, 3)

    def forward(self, x, y):
        return self.a(x) * self.b(y)


def test_several_inputs_are_packed_into_one():
    m = TwoImages()
    assert parse_shape(["6x6x3", "6x6x3"]) == ((3, 6, 6), (3, 6, 6))
    r, rep = prove(m, ((3, 6, 6), (3, 6, 6)))
    assert r.input_shape == (2 * 3 * 36,) and rep.complete
    assert [row.name for row in rep.rows] == ["input1_slice", "input1", "input2_slice", "input2", "a", "b", "mul"]


class Sequence(nn.Module):
    """A (T, F) sequence through a bidirectional LSTM, self-attention and a Linear."""

    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(8, 16, 2, batch_first=True, bidirectional=True)
        self.att = nn.MultiheadAttention(32, 4, batch_first=True)
        self.fc = nn.Linear(32, 3)

    def forward(self, x):
        y, _ = self.lstm(x)
        z, _ = self.att(y, y, y, need_weights=False)
        return self.fc(z)


def test_recurrent_and_attention_modules_are_rows_with_their_parameters():
    m = Sequence()
    assert parse_shape("10x8") == (10, 8)
    r, rep = prove(m, ((10, 8),))
    by = {row.name: row for row in rep.rows}
    assert [row.name for row in rep.rows] == ["lstm", "att", "fc"] and rep.complete
    assert by["lstm"].params == sum(p.numel() for p in m.lstm.parameters())
    assert by["att"].params == sum(p.numel() for p in m.att.parameters())
    assert by["att"].output_shape == (10, 32)


class Unused(nn.Module):
    """`head` is never called; `scale` is read by a functional op outside any known module."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 1)
        self.head = nn.Linear(4, 2)
        self.scale = nn.Parameter(torch.ones(4, 1, 1))

    def forward(self, x):
        return self.conv(x) * self.scale


def test_unused_means_no_executed_op_reads_it():
    r = read_module(Unused(), (3, 4, 4), method="run")
    assert r.unused == {"head": 4 * 2 + 2}
    rep = analyze(r.spec, (3, 4, 4))
    assert rep.total["params"] == (3 * 4 + 4) + 4


class Raises(nn.Module):
    def forward(self, x):
        raise ValueError("this model refuses its input")


class NeedsTwo(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 1)

    def forward(self, image, mask):
        return self.conv(image) * mask


def test_a_forward_that_raises_gives_the_models_own_message():
    with pytest.raises(CostError, match="refuses its input"):
        read_module(Raises(), (3, 4, 4), method="run")
    with pytest.raises(CostError, match="missing mask"):
        read_module(NeedsTwo(), (3, 4, 4), method="run")


class FixedSize(nn.Module):
    """A model that takes one input size, and asserts it as torchvision's ViT does."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)

    def forward(self, x):
        n, c, h, w = x.shape
        torch._assert(h == 8, f"Wrong image height! Expected 8 but got {h}!")
        return self.conv(x)


def _own_message(module, shape) -> str:
    try:
        module(torch.zeros(1, *shape))
    except Exception as err:              # what the model itself says, run for real
        return str(err)
    raise AssertionError("the model ran")


@pytest.mark.parametrize("make,shape", [(FixedSize, (3, 9, 9)),
                                        (lambda: pytest.importorskip("torchvision").models.vit_b_32(weights=None),
                                         (3, 237, 237))],
                         ids=["small", "vit_b_32"])
def test_an_assertion_the_input_fails_gives_the_models_own_message(make, shape):
    module = make().eval()
    with pytest.raises(CostError) as err:
        read_module(module, shape)
    assert str(err.value).endswith("refuses this input: " + _own_message(module, shape))


def test_an_assertion_the_input_passes_is_read_past():
    module = FixedSize().eval()
    r = read_module(module, (3, 8, 8))
    assert r.method == "fx"
    assert analyze(r.spec, r.input_shape).total["output_shape"] == sample_shape(module(torch.zeros(1, 3, 8, 8)))


def test_a_fixed_size_asserted_on_a_symbolic_size_says_so():
    from cnncost.sizes import symbol
    with pytest.raises(CostError, match=r"accepts one input size only \(Wrong image height! Expected 8 but got H!\)"):
        read_module(FixedSize().eval(), (3, symbol("H"), symbol("W")))


def test_cli_prints_one_line_and_exits_2(tmp_path):
    path = tmp_path / "bad.py"
    path.write_text("import torch.nn as nn\n\nclass Raises(nn.Module):\n    def forward(self, x):\n"
                    "        raise ValueError('this model refuses its input')\n")
    code, out, err = cli("table", f"{path}:Raises", "--input", "4x4x3")
    assert code == 2 and err.startswith("error:") and "refuses its input" in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


class Volume(nn.Module):
    """Conv3d, BatchNorm3d, MaxPool3d, GroupNorm, a mean over time, ConvTranspose2d, bilinear Upsample."""

    def __init__(self):
        super().__init__()
        self.c = nn.Conv3d(3, 8, 3, stride=(1, 2, 2), padding=1)
        self.bn = nn.BatchNorm3d(8)
        self.p = nn.MaxPool3d(2)
        self.g = nn.GroupNorm(2, 8)
        self.t = nn.ConvTranspose2d(8, 4, 3, stride=2, padding=1, output_padding=1)
        self.up = nn.Upsample(scale_factor=2, mode="bilinear")

    def forward(self, x):
        return self.up(self.t(self.g(self.p(self.bn(self.c(x)))).mean(2)))


@pytest.mark.parametrize("method", ["fx", "run"])
def test_both_readers_agree_with_flop_counter_on_nd_layers(method):
    m, shape = Volume().eval(), (3, 4, 16, 16)
    r = read_module(m, shape, method=method)
    rep = analyze(r.spec, shape, convention="torch")
    assert [row.name for row in rep.rows] == ["c", "bn", "p", "g", "mean", "t", "up"] and rep.complete
    assert rep.total["flops"] == flop_counter(m, (shape,))
    assert rep.total["params"] == sum(p.numel() for p in m.parameters())
    assert rep.total["output_shape"] == real_output(m, (shape,))


class Groups(nn.Module):
    """nn.GroupNorm and F.group_norm: the op's mean and rstd outputs (saved for backward) are no rows."""

    def __init__(self):
        super().__init__()
        self.g = nn.GroupNorm(4, 8)
        self.w = nn.Parameter(torch.ones(8))
        self.b = nn.Parameter(torch.zeros(8))

    def forward(self, x):
        return torch.nn.functional.group_norm(self.g(x), 2, self.w, self.b)


def test_functional_group_norm_is_one_row_with_its_parameters():
    r = read_module(Groups(), (8, 5, 5), method="run")
    rep = analyze(r.spec, (8, 5, 5))
    assert [(row.name, row.kind, row.params) for row in rep.rows] == [
        ("g", "groupnorm", 16), ("native_group_norm", "groupnorm", 16)] and rep.complete


class StandardisedConv(nn.Conv2d):
    """A weight-standardised conv (as timm's ScaledStdConv2d): the conv reads a weight computed
    from two parameters, `weight` and a per-filter `gain`."""

    def __init__(self):
        super().__init__(3, 4, 3)
        self.gain = nn.Parameter(torch.ones(4, 1, 1, 1))

    def forward(self, x):
        w = (self.weight - self.weight.mean(dim=(1, 2, 3), keepdim=True)) * self.gain
        return nn.functional.conv2d(x, w, self.bias)


class StandardisedNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = StandardisedConv()
        self.fc = nn.Linear(4 * 6 * 6, 2)

    def forward(self, x):
        return self.fc(self.conv(x).flatten(1))


def test_every_parameter_a_computed_weight_comes_from_is_counted():
    model = StandardisedNet()
    r = read_module(model, (3, 8, 8), method="run")
    rep = analyze(r.spec, (3, 8, 8), convention="torch")
    assert rep.total["params"] == sum(p.numel() for p in model.parameters()) == 4 * 27 + 4 + 4 + 144 * 2 + 2
    with FlopCounterMode(display=False) as counter:
        model(torch.zeros(1, 3, 8, 8))
    assert rep.total["flops"] == counter.get_total_flops()

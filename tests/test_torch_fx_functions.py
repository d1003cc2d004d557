"""The fx reader's functions of tensors and parameters, on small modules checked against the
module itself (sum(p.numel()), a real forward pass, fvcore, FlopCounterMode) and against the
run-time reader: F.interpolate to the input's size, F.linear, a subclass of a known module, a
parameter viewed or expanded for the batch (layer scale, ViT's class token and position
embedding), batch-first attention and x[:, i]."""
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("fvcore")
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

from cnncost import analyze  # noqa: E402
from cnncost.torch.read import read_module  # noqa: E402
from torch_helpers import check, fvcore_totals  # noqa: E402


class SegmentHead(nn.Module):
    """A segmentation head: features at a quarter of the size, scaled back to the input's H and W."""

    def __init__(self):
        super().__init__()
        self.down = nn.Conv2d(3, 5, 3, stride=4, padding=1)

    def forward(self, x):
        size = x.shape[-2:]
        return F.interpolate(self.down(x), size=size, mode="bilinear", align_corners=False)


def test_interpolate_to_the_input_size_reads_with_fx_and_closed_forms():
    """F.interpolate to x.shape[-2:] is an Upsample row; read at HxW its size is (H, W), so the closed
    form in H and W gives fvcore's count (4 per output element of a bilinear resize) at any size."""
    from cnncost.sizes import evaluate, symbol
    module = SegmentHead().eval()
    r, rep = check(module, (3, 30, 41))
    assert r.method == "fx" and [row.kind for row in rep.rows] == ["conv", "upsample"]
    H, W = symbol("H"), symbol("W")
    sym = read_module(module, (3, H, W))
    form = analyze(sym.spec, (3, H, W), convention="fvcore").total
    for h, w in ((30, 41), (17, 64)):
        assert evaluate(form["flops"], {"H": h, "W": w}) == fvcore_totals(module, (3, h, w))[0]


class Conv3DHelper(nn.Conv3d):
    """A convolution that only sets its arguments and adds a helper (torchvision's Conv3DSimple)."""

    def __init__(self, cin, cout):
        super().__init__(cin, cout, (1, 3, 3), padding=(0, 1, 1), bias=False)

    @staticmethod
    def stride_of(t):
        return t, 2, 2


class DoubledConv(nn.Conv2d):
    """A convolution whose forward does more than its base's."""

    def forward(self, x):
        return super().forward(x) * 2


def test_subclass_of_a_known_module_reads_as_its_base_only_if_it_overrides_nothing():
    from torch.utils.flop_counter import FlopCounterMode
    r = read_module(nn.Sequential(Conv3DHelper(3, 4), nn.ReLU()), (3, 2, 9, 9))
    rep = analyze(r.spec, r.input_shape)
    assert r.method == "fx" and [row.kind for row in rep.rows] == ["conv3d", "relu"]
    module = nn.Sequential(DoubledConv(3, 4, 3), nn.ReLU()).eval()
    r = read_module(module, (3, 9, 9))
    rep = analyze(r.spec, r.input_shape, convention="cnncost")
    assert rep.complete and [row.kind for row in rep.rows] == ["conv", "scale", "relu"]
    with FlopCounterMode(display=False) as fc:
        module(torch.randn(1, 3, 9, 9))
    assert analyze(r.spec, r.input_shape, convention="torch").total["flops"] == fc.get_total_flops()


class LayerScale(nn.Module):
    """timm's ConvNeXt block ending: x.mul(gamma.reshape(1, -1, 1, 1)), a parameter viewed for the batch."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 6, 3)
        self.gamma = nn.Parameter(torch.full((6,), 0.5))

    def forward(self, x):
        return self.conv(x).mul(self.gamma.reshape(1, -1, 1, 1))


def test_parameter_viewed_for_the_batch_is_a_param_row():
    r, rep = check(LayerScale().eval(), (3, 8, 10))
    assert r.method == "fx" and [row.kind for row in rep.rows] == ["conv", "param", "mul"]
    assert [row.output_shape for row in rep.rows if row.kind == "param"] == [(6, 1, 1)]


class TinyViT(nn.Module):
    """torchvision's ViT in small: patches, a class token expanded over the batch and concatenated,
    a (1, N, C) position embedding added, batch-first self-attention, the class token read out."""

    def __init__(self):
        super().__init__()
        self.patch = nn.Conv2d(3, 16, 4, stride=4)
        self.class_token = nn.Parameter(torch.zeros(1, 1, 16))
        self.pos = nn.Parameter(torch.randn(1, 17, 16))
        self.attn = nn.MultiheadAttention(16, 2, batch_first=True)
        self.head = nn.Linear(16, 5)

    def forward(self, x):
        n = x.shape[0]
        x = self.patch(x).reshape(n, 16, -1).permute(0, 2, 1)
        x = torch.cat([self.class_token.expand(n, -1, -1), x], dim=1) + self.pos
        x, _ = self.attn(x, x, x, need_weights=False)
        return self.head(x[:, 0])


def test_vit_parts_read_with_fx_as_the_run_time_reader_reads_them():
    """The class token, the position embedding (its leading 1 is the batch axis), batch-first
    attention and x[:, 0] read by fx give the run-time reader's counts under every convention,
    sum(numel) and FlopCounterMode's FLOPs (meta tensors: the attention's math path)."""
    from torch.utils.flop_counter import FlopCounterMode
    from cnncost.torch.runmodel import _on_meta
    module = TinyViT().eval()
    fx_read, run_read = read_module(module, (3, 16, 16)), read_module(module, (3, 16, 16), method="run")
    assert fx_read.method == "fx"
    kinds = [row.kind for row in analyze(fx_read.spec, (3, 16, 16)).rows]
    assert kinds == ["conv", "reshape", "permute", "param", "cat", "param", "add", "mha", "select", "fc"]
    for convention in ("cnncost", "fvcore", "torch", "macs"):
        ours, theirs = (analyze(r.spec, r.input_shape, convention=convention).total for r in (fx_read, run_read))
        for key in ("params", "flops", "macs", "output_shape"):
            assert ours[key] == theirs[key], (convention, key)
    assert ours["params"] == sum(p.numel() for p in module.parameters())
    with _on_meta(module), FlopCounterMode(display=False) as fc:
        module(torch.empty(1, 3, 16, 16, device="meta"))
    assert analyze(fx_read.spec, (3, 16, 16), convention="torch").total["flops"] == fc.get_total_flops()


class FunctionalLinear(nn.Module):
    def __init__(self, reuse: bool):
        super().__init__()
        self.fc, self.reuse = nn.Linear(6, 6), reuse

    def forward(self, x):
        x = F.linear(x, self.fc.weight, self.fc.bias)
        return F.linear(x, self.fc.weight) if self.reuse else x


@pytest.mark.parametrize("reuse", [False, True], ids=["once", "weight read twice"])
def test_functional_linear_counts_its_parameters_once(reuse):
    """F.linear on a module's parameters is a Linear row (fx); a weight read a second time is left
    to the run-time reader, so the parameters are counted once either way."""
    from torch.utils.flop_counter import FlopCounterMode
    module = FunctionalLinear(reuse).eval()
    r = read_module(module, (6,))
    assert r.method == ("run" if reuse else "fx")
    rep = analyze(r.spec, r.input_shape, convention="torch")
    assert rep.total["params"] == sum(p.numel() for p in module.parameters())
    with FlopCounterMode(display=False) as fc:
        module(torch.randn(1, 6))
    assert rep.total["flops"] == fc.get_total_flops()

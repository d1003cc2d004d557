"""The PyTorch reader on small modules that use each op it maps, checked against the module itself
(sum(p.numel()), a real forward pass, fvcore) and against arithmetic written out here."""
import textwrap

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("fvcore")
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

from cnncost import CostError, analyze  # noqa: E402
from cnncost.torch.read import read_module, resolve  # noqa: E402
from torch_helpers import check, cli, fvcore_totals  # noqa: E402


class Shuffle(nn.Module):
    """ShuffleNet v2's unit: chunk, branch, cat, channel shuffle by view/transpose/view."""

    def __init__(self):
        super().__init__()
        self.branch = nn.Sequential(nn.Conv2d(8, 8, 1, bias=False), nn.BatchNorm2d(8), nn.ReLU(),
                                    nn.Conv2d(8, 8, 3, padding=1, groups=8, bias=False), nn.BatchNorm2d(8))

    def forward(self, x):
        a, b = x.chunk(2, dim=1)
        out = torch.cat((a, self.branch(b)), dim=1)
        n, c, h, w = out.size()
        out = out.view(n, 2, c // 2, h, w).transpose(1, 2).contiguous()
        return out.view(n, -1, h, w)


def test_channel_shuffle():
    r, rep = check(Shuffle(), (16, 10, 12))
    kinds = [row.kind for row in rep.rows]
    assert kinds.count("slice") == 2 and "cat" in kinds and kinds.count("reshape") == 2 and "permute" in kinds
    # by hand: 1x1 conv 8*8 MACs per pixel, depthwise 3x3 9*8 per pixel, on 10x12; BN eval 2 per element twice
    assert rep.total["flops"] == 120 * (64 + 72) + 2 * 2 * 8 * 120


class Functional(nn.Module):
    """Functional pooling, SE gate, scalar arithmetic, slicing, mean, flatten and view."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.fc1 = nn.Conv2d(8, 4, 1)
        self.fc2 = nn.Conv2d(4, 8, 1)
        self.head = nn.Linear(4 * 3 * 3, 5)

    def forward(self, x):
        x = F.relu(self.conv(x))
        x = F.max_pool2d(x, 3, 2, 1, ceil_mode=True)
        s = torch.sigmoid(self.fc2(F.relu(self.fc1(x.mean((2, 3), keepdim=True)))))
        x = x * s * 0.5
        x = F.avg_pool2d(x[:, :4], kernel_size=2, count_include_pad=False)
        x = x[:, :, ::2, ::2] / 2
        return self.head(torch.flatten(x, 1)) + self.head(x.view(x.size(0), -1))


def test_functional_ops():
    r, rep = check(Functional(), (3, 23, 23))
    by = {row.name: row for row in rep.rows}
    # 23 -> conv 23 -> max pool ceil((23+2-3)/2)+1 = 12 -> avg pool 6 -> ::2 gives 3
    assert by["max_pool2d"].output_shape == (8, 12, 12)
    assert by["avg_pool2d"].output_shape == (4, 6, 6)
    assert by["head#2"].params == 0 and by["head"].params == 36 * 5 + 5   # one Linear, called twice
    assert {row.kind for row in rep.rows} >= {"mean", "mul", "scale", "slice", "flatten", "reshape", "add"}


class ConvNeXtish(nn.Module):
    """Channels-last LayerNorm + Linear between permutes, a layer-scale parameter, a residual."""

    def __init__(self, c=6):
        super().__init__()
        self.dw = nn.Conv2d(c, c, 7, padding=3, groups=c)
        self.norm = nn.LayerNorm(c, eps=1e-6)
        self.pw = nn.Linear(c, 4 * c)
        self.act = nn.GELU()
        self.pw2 = nn.Linear(4 * c, c)
        self.gamma = nn.Parameter(torch.full((c, 1, 1), 1e-6))
        self.weight = nn.Parameter(torch.ones(c))
        self.bias = nn.Parameter(torch.zeros(c))

    def forward(self, x):
        y = self.dw(x).permute(0, 2, 3, 1)
        y = self.pw2(self.act(self.pw(self.norm(y)))).permute(0, 3, 1, 2)
        x = x + self.gamma * y
        x = F.layer_norm(x.permute(0, 2, 3, 1), (6,), self.weight, self.bias, 1e-6)
        return x.permute(0, 3, 1, 2)


def test_layer_norm_layer_scale_permute():
    r, rep = check(ConvNeXtish(), (6, 8, 8))
    by = {row.kind: row for row in rep.rows}
    assert by["param"].name == "gamma" and by["param"].params == 6
    assert by["layernorm"].params == 12
    # fvcore: aten::layer_norm counts 5 per element with a weight (fvcore jit_handles.norm_flop_counter)
    assert by["layernorm"].flops == 5 * 6 * 8 * 8


def test_module_called_twice_counts_parameters_once():
    class Twice(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(4, 4, 3, padding=1)

        def forward(self, x):
            return self.conv(self.conv(x))

    r, rep = check(Twice(), (4, 6, 6))
    assert [row.name for row in rep.rows] == ["conv", "conv#2"]
    assert [row.params for row in rep.rows] == [4 * 9 * 4 + 4, 0]
    assert rep.rows[1].macs == rep.rows[0].macs == 36 * 4 * 36


class Odd(nn.Module):
    """A cumulative sum between two convolutions: no rule knows aten.cumsum."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 4, 3)
        self.conv2 = nn.Conv2d(4, 2, 1)

    def forward(self, x):
        return self.conv2(torch.cumsum(self.conv1(x), dim=2))


def test_unknown_ops_are_their_own_rows_and_never_zero():
    r = read_module(Odd(), (3, 5, 5))
    rep = analyze(r.spec, (3, 5, 5))
    assert r.method == "run"                      # fx met an op it cannot map: the run reads it
    assert rep.unknown == {"aten.cumsum": 1} and not rep.complete
    by = {row.name: row for row in rep.rows}
    assert by["cumsum"].kind == "aten.cumsum" and not by["cumsum"].known
    assert by["cumsum"].flops is None and by["cumsum"].params is None and by["cumsum"].output_shape == (4, 3, 3)
    # the neighbours keep their own counts: 3*3*3*4 + 4 and 4*2 + 2 parameters (hand arithmetic)
    assert (by["conv1"].params, by["conv2"].params) == (3 * 9 * 4 + 4, 4 * 2 + 2)
    assert rep.total["output_shape"] == (2, 3, 3)
    fx = read_module(Odd(), (3, 5, 5), method="fx")         # fx names it too, by function
    assert analyze(fx.spec, (3, 5, 5)).unknown == {"cumsum": 1}


class Branchy(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Conv2d(3, 4, 3, padding=1)
        self.b = nn.Conv2d(4, 4, 3, padding=1)
        self.fc = nn.Linear(4, 2)

    def forward(self, x):
        y = self.a(x)
        if y.sum() > 0:                 # data-dependent: fx cannot trace this, meta tensors cannot run it
            y = y + 1
        return self.fc(self.b(y).mean((2, 3)))


def test_data_dependent_model_is_read_as_it_runs_the_same_every_time():
    m = Branchy()
    r = read_module(m, (3, 8, 8))
    assert r.method == "run" and "CPU tensors" in r.notes
    rep = analyze(r.spec, (3, 8, 8))
    assert rep.complete and rep.total["params"] == sum(p.numel() for p in m.parameters())
    assert [row.name for row in rep.rows if row.kind in ("conv", "fc")] == ["a", "b", "fc"]
    assert rep.rows[-1].output_shape == (2,)
    again = analyze(read_module(m, (3, 8, 8)).spec, (3, 8, 8))
    assert [(row.name, row.flops) for row in again.rows] == [(row.name, row.flops) for row in rep.rows]


def test_forward_hooks_make_the_reader_run_the_model():
    m = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU())
    m[0].register_forward_hook(lambda mod, args, out: out * 2)
    r = read_module(m, (3, 5, 5))
    assert r.method == "run" and "forward hooks" in r.notes
    rep = analyze(r.spec, (3, 5, 5))
    assert rep.total["params"] == 3 * 9 * 4 + 4 and rep.total["output_shape"] == (4, 3, 3)


def test_two_inputs_are_refused():
    class Two(nn.Module):
        def forward(self, x, y):
            return x + y

    with pytest.raises(CostError, match="more than one input"):
        read_module(Two(), (3, 4, 4), method="fx")


# --- sources ----------------------------------------------------------------------------------------

def test_torchvision_source_and_default_inputs():
    pytest.importorskip("torchvision")
    assert resolve("torchvision:inception_v3").input_shape == (3, 299, 299)
    r = resolve("torchvision:squeezenet1_1", (3, 96, 96))
    assert r.input_shape == (3, 96, 96) and "torchvision" in r.source
    with pytest.raises(CostError, match="did you mean resnet50"):
        resolve("torchvision:resnet5")


def test_timm_source_needs_timm():
    try:
        import timm  # noqa: F401
    except ImportError:
        with pytest.raises(CostError, match="pip install timm"):
            resolve("timm:resnet18")
    else:  # pragma: no cover - timm is optional
        r = resolve("timm:resnet18", (3, 64, 64))
        assert analyze(r.spec, r.input_shape).total["params"] == sum(p.numel() for p in r.module.parameters())


NET = textwrap.dedent("""
    import torch.nn as nn

    class Net(nn.Sequential):
        def __init__(self):
            super().__init__(nn.Conv2d(3, 8, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(8 * 14 * 14, 10))

    class NeedsArgs(nn.Module):
        def __init__(self, width):
            super().__init__()
""")


def test_file_source(tmp_path):
    path = tmp_path / "net.py"
    path.write_text(NET)
    r = resolve(f"{path}:Net", (3, 32, 32))
    # conv 3*5*5*8 + 8, linear 8*14*14*10 + 10 (32 - 5 + 1 = 28, pooled to 14)
    assert analyze(r.spec, r.input_shape).total["params"] == (75 * 8 + 8) + (1568 * 10 + 10)
    with pytest.raises(CostError, match="no arguments"):
        resolve(f"{path}:NeedsArgs")
    with pytest.raises(CostError, match="defines no 'Missing'"):
        resolve(f"{path}:Missing")
    with pytest.raises(CostError, match="no such file"):
        resolve(f"{tmp_path}/absent.py:Net")


def test_cli_table_of_a_file_model_lists_unknown_ops(tmp_path):
    path = tmp_path / "odd.py"
    path.write_text("import torch.nn as nn\n\nclass Odd(nn.Sequential):\n    def __init__(self):\n"
                    "        super().__init__(nn.Conv2d(3, 4, 3), nn.PixelShuffle(2), nn.Conv2d(1, 2, 1))\n")
    code, out, err = cli("table", f"{path}:Odd", "--input", "8x8x3")
    assert code == 0, err
    assert "pixel_shuffle" in out and "unknown" in out.lower()


def test_cli_table_torchvision_resnet18():
    pytest.importorskip("torchvision")
    code, out, err = cli("table", "torchvision:resnet18", "--format", "json")
    assert code == 0, err
    import json
    total = json.loads(out)["total"]
    assert total["params"] == 11_689_512     # torchvision's model docs: resnet18, 11,689,512 params


class BatchNormAct(nn.BatchNorm2d):
    """timm's BatchNormAct2d pattern: a BatchNorm2d subclass whose forward calls F.batch_norm."""

    def forward(self, x):
        x = F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias, False, 0.0, self.eps)
        return F.relu(x)


def test_functional_batch_norm_reads_with_fx():
    """F.batch_norm with running statistics in eval mode is BatchNorm: fx reads it (closed forms),
    fvcore's totals and every row's shape agree."""
    module = nn.Sequential(nn.Conv2d(3, 6, 3), BatchNormAct(6), nn.Conv2d(6, 4, 1), BatchNormAct(4, affine=False))
    module.eval()
    r, rep = check(module, (3, 9, 11))
    assert r.method == "fx" and [row.kind for row in rep.rows].count("bn") == 2


def test_timm_efficientnet_reads_with_fx():
    timm = pytest.importorskip("timm")
    module = timm.create_model("efficientnet_b0", pretrained=False)
    module.eval()
    r = read_module(module, (3, 96, 128))
    rep = analyze(r.spec, (3, 96, 128), convention="fvcore")
    assert r.method == "fx" and rep.complete
    assert rep.total["params"] == sum(p.numel() for p in module.parameters())
    assert (rep.total["flops"], rep.total["activations"]) == fvcore_totals(module, (3, 96, 128))


LONG_NAMES = textwrap.dedent('''
    import torch
    from torch import nn


    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.a_rather_long_backbone_name = nn.Sequential(nn.Conv2d(3, 8, 3, stride=2), nn.ReLU())
            self.head_with_an_even_longer_descriptive_name = nn.Conv2d(8, 8, 3, stride=2)

        def forward(self, x):
            x = self.head_with_an_even_longer_descriptive_name(self.a_rather_long_backbone_name(x))
            return x.flatten(1).view(-1, 2, 4).amax(-1)
    ''')


def test_rf_table_of_long_module_paths_fits_80_columns(tmp_path):
    """Module paths longer than the terminal wrap; the table fits 80 columns, and the sizes are
    those of torch's own arithmetic (3x3 stride 2 twice: 3 + 2*2 = 7)."""
    path = tmp_path / "net.py"
    path.write_text(LONG_NAMES)
    import os
    old = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = "80"
    try:
        code, out, err = cli("rf", f"{path}:Net", "--input", "40x40x3")
    finally:
        os.environ.pop("COLUMNS") if old is None else os.environ.__setitem__("COLUMNS", old)
    assert code == 0, err
    lines = out.splitlines()
    assert max(len(line) for line in lines) <= 80
    head = next(line.split() for line in lines if line.startswith("head_with"))
    assert head[-3:-1] == ["7", "4"]

"""Swin's window attention and patch merging as layers of their own, checked against independent
instruments: FlopCounterMode and fvcore on torchvision's modules, sum(numel) of their parameters,
the shapes and values of a real forward, and (cnncost convention) the ATen operators the same
module runs, read one by one.  Read whole, torchvision's Swin V1 and V2 models give closed forms in
H and W that equal FlopCounterMode on the real model at sizes it was not read at."""
import pytest

torch = pytest.importorskip("torch")
swin = pytest.importorskip("torchvision.models.swin_transformer")

from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

from cnncost import spec  # noqa: E402
from cnncost.sizes import evaluate, symbol  # noqa: E402
from cnncost.torch import ops  # noqa: E402
from cnncost.torch.build import build  # noqa: E402
from cnncost.torch.read import read_module  # noqa: E402
from cnncost.walk import analyze  # noqa: E402
from torch_helpers import fvcore_totals  # noqa: E402

CONVENTIONS = ("cnncost", "fvcore", "torch", "macs")

#: (H, W, shift, qkv_bias, proj_bias): rolled with a mask; one window (no roll); padded on W only;
#: no shift; rolled along H only (W is one window)
CASES = [(20, 23, (3, 3), True, True), (7, 7, (3, 3), True, False), (5, 16, (3, 3), False, True),
         (14, 9, (0, 0), True, True), (8, 3, (2, 0), True, True)]


def flop_counter(module, x) -> int:
    with FlopCounterMode(display=False) as fc:
        module(x)
    return fc.get_total_flops()


def read_op_by_op(module, shape):
    """The run-time reader's read with torchvision's attention unknown by type: its ATen operators."""
    saved, library = dict(ops.MODULES), ops._library_modules
    try:
        ops._library_modules = lambda: None
        for cls in (swin.ShiftedWindowAttention, swin.ShiftedWindowAttentionV2):
            ops.MODULES.pop(cls, None)
        return read_module(torch.nn.Sequential(module), shape, method="run")
    finally:
        ops.MODULES.clear()
        ops.MODULES.update(saved)
        ops._library_modules = library


@pytest.mark.parametrize("version", [1, 2])
@pytest.mark.parametrize("h, w, shift, qkv_bias, proj_bias", CASES)
def test_window_attention_counts_what_the_module_runs(version, h, w, shift, qkv_bias, proj_bias):
    cls = swin.ShiftedWindowAttention if version == 1 else swin.ShiftedWindowAttentionV2
    torch.manual_seed(0)
    module = cls(32, [7, 7], list(shift), 2, qkv_bias=qkv_bias, proj_bias=proj_bias).eval()
    read = read_module(torch.nn.Sequential(module), (h, w, 32), method="fx")
    assert [type(n.op) for n in read.spec.nodes] == [spec.WindowAttention]
    ours = {c: analyze(read.spec, (h, w, 32), convention=c).total for c in CONVENTIONS}
    x = torch.randn(1, h, w, 32)
    assert ours["torch"]["flops"] == flop_counter(module, x)
    assert (ours["fvcore"]["flops"], ours["fvcore"]["activations"]) == fvcore_totals(module, (h, w, 32))
    assert ours["torch"]["params"] == sum(p.numel() for p in module.parameters())
    assert ours["torch"]["output_shape"] == tuple(module(x).shape[1:])
    by_op = read_op_by_op(module, (h, w, 32))
    assert not any(isinstance(n.op, (spec.Opaque, spec.WindowAttention)) for n in by_op.spec.nodes)
    for c in CONVENTIONS:
        assert ours[c]["flops"] == analyze(by_op.spec, by_op.input_shape, convention=c).total["flops"], c


def test_window_attention_closed_form_switches_the_mask_off_for_one_window():
    """The roll and its mask run only along an axis longer than one window: at 7x7 (one 7x7
    window) the closed form drops the mask's adds, at 8x7 it has them."""
    layer = spec.WindowAttention(32, 2, (7, 7), (3, 3))
    H, W = symbol("H"), symbol("W")
    form = analyze(spec.seq(layer), (H, W, 32)).total["flops"]
    for h, w in ((7, 7), (8, 7), (3, 30), (15, 15)):
        assert evaluate(form, {"H": h, "W": w}) == analyze(spec.seq(layer), (h, w, 32)).total["flops"]
    one = analyze(spec.seq(layer), (7, 7, 32)).total["flops"]
    unshifted = analyze(spec.seq(spec.WindowAttention(32, 2, (7, 7), (0, 0))), (7, 7, 32)).total["flops"]
    assert one == unshifted


@pytest.mark.parametrize("h, w", [(6, 8), (7, 5), (1, 1)])
def test_patch_merge_equals_torchvisions_gather(h, w):
    x = torch.randn(2, h, w, 3)
    built = build(spec.seq(spec.PatchMerge()), (h, w, 3))
    assert torch.equal(built(x), swin._patch_merging_pad(x))
    assert analyze(spec.seq(spec.PatchMerge()), (h, w, 3)).total["output_shape"] == tuple(built(x).shape[1:])


@pytest.mark.parametrize("version", [1, 2])
def test_window_attention_builds_torchvisions_module(version):
    layer = spec.WindowAttention(32, 4, (4, 4), (2, 2), proj_bias=False, version=version)
    module = build(spec.seq(layer), (9, 10, 32)).eval()
    report = analyze(spec.seq(layer), (9, 10, 32), convention="torch")
    assert sum(p.numel() for p in module.parameters()) == report.total["params"]
    assert flop_counter(module, torch.randn(1, 9, 10, 32)) == report.total["flops"]


@pytest.mark.parametrize("name, sizes", [("swin_t", [(161, 250)]), ("swin_v2_t", [(200, 173)])])
def test_swin_closed_forms_equal_flop_counter_at_other_sizes(name, sizes):
    """Read once at 224x224 by fx (window attention and patch merging known), the closed forms in
    H and W give FlopCounterMode's FLOPs, the parameter count and the output shape of the real
    model at sizes it was not read at."""
    from cnncost.torch import sources
    module = sources.torchvision_model(name).eval()
    read = read_module(module, (3, 224, 224), name=name)
    assert read.method == "fx" and not read.notes
    H, W = symbol("H"), symbol("W")
    form = analyze(read.spec, (3, H, W), convention="torch").total
    assert form["params"] == sum(p.numel() for p in module.parameters())
    for h, w in sizes:
        x = torch.randn(1, 3, h, w)
        with torch.no_grad():
            flops = flop_counter(module, x)
        assert evaluate(form["flops"], {"H": h, "W": w}) == flops, (h, w)
        assert tuple(evaluate(s, {"H": h, "W": w}) for s in form["output_shape"]) == (1000,)


WINDOWED = '''
import torch
from torch import nn
from torchvision.models.swin_transformer import ShiftedWindowAttention


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 16, 4, stride=4)
        self.attn = ShiftedWindowAttention(16, [4, 4], [2, 2], 2)

    def forward(self, x):
        return self.attn(self.stem(x).permute(0, 2, 3, 1))
'''


def test_formula_of_a_model_whose_field_is_unknown(tmp_path):
    """`cnncost formula` shows '?' for the receptive field after window attention (its window is
    not a field the algebra knows) and the closed forms beside it."""
    from torch_helpers import cli
    path = tmp_path / "windowed.py"
    path.write_text(WINDOWED)
    code, out, err = cli("formula", f"{path}:Net")
    assert code == 0, err
    assert "receptive field  ?" in out and "Piecewise" in out

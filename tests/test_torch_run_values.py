"""Value-dependent operators read as they run (gathers, top-k, nms, roi_align, grid_sample, unfold,
addcmul, instance norm on images a model batched itself, products over parameters alone, a
sequence laid out batch-second), each checked against independent instruments: a real forward's
output shape, sum(numel) of the parameters, FlopCounterMode's total, and hand arithmetic."""
import pytest

torch = pytest.importorskip("torch")
torchvision = pytest.importorskip("torchvision")
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

from cnncost import analyze, spec  # noqa: E402
from cnncost.errors import CostError  # noqa: E402
from cnncost.torch.read import read_module  # noqa: E402
from layer_oracles import check  # noqa: E402
from test_torch_run import flop_counter, prove, real_output  # noqa: E402


class Sampler(nn.Module):
    """grid_sample at a grid a conv computes, im2col, and an addcmul affine (ResMLP's)."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 2, 3, padding=1)
        self.alpha = nn.Parameter(torch.ones(3, 1, 1))
        self.beta = nn.Parameter(torch.zeros(3, 1, 1))

    def forward(self, x):
        grid = self.conv(x).permute(0, 2, 3, 1).tanh()
        y = F.grid_sample(x, grid, align_corners=False)
        y = torch.addcmul(self.beta, self.alpha, y)
        return F.unfold(y, 3, padding=1)


def test_grid_sample_unfold_addcmul_read_exactly():
    r, rep = prove(Sampler(), ((3, 8, 10),))
    assert rep.complete
    kinds = {row.kind for row in rep.rows}
    assert {"grid_sample", "unfold", "addcmul"} <= kinds
    cnn = analyze(r.spec, r.input_shape)
    row = next(x for x in cnn.rows if x.kind == "grid_sample")
    assert row.flops == 3 * 8 * 10 * 4 * 2          # 4 bilinear taps per output, a multiply and an add each
    assert row.rf[0].size is None                   # where it reads is data: the field is unknown


class Detector(nn.Module):
    """Scores, top-k, a mask, nonzero, an index, nms and roi_align: a detection head in small."""

    def __init__(self):
        super().__init__()
        self.backbone = nn.Conv2d(3, 8, 3, padding=1)
        self.boxes = nn.Conv2d(8, 4, 1)

    def forward(self, x):
        f = self.backbone(x)
        scores = f.mean(1).flatten(1)[0]                           # (H*W,)
        b = self.boxes(f).flatten(2)[0].t().abs() * 4              # (H*W, 4)
        b = torch.cat([b[:, :2], b[:, :2] + b[:, 2:] + 1], 1)
        top, idx = scores.topk(20)
        keep = torchvision.ops.nms(b[idx], top, 0.5)
        picked = b[idx][keep][(top[keep] > -1e9).nonzero()[:, 0]]
        return torchvision.ops.roi_align(f, [picked], (2, 2), 1.0, 2)


def test_detection_ops_read_by_rule_and_nms_is_value_dependent():
    torch.manual_seed(0)
    model = Detector()
    r, rep = prove(model, ((3, 12, 12),))
    assert rep.complete                              # torch convention: nms is 0 for FlopCounterMode too
    kinds = {row.kind for row in rep.rows}
    assert {"topk", "nms", "index", "nonzero", "roi_align"} <= kinds
    cnn = analyze(r.spec, r.input_shape)
    assert not cnn.complete and cnn.unknown == {"nms (value-dependent)": 1}
    nms = next(x for x in cnn.rows if x.kind == "nms")
    assert nms.flops is None and nms.activations is not None
    roi = next(x for x in cnn.rows if x.kind == "roi_align")
    k = roi.output_shape[0]
    # per output: 2x2 samples of 4 taps (2 FLOPs each) and their mean (4 adds)
    assert roi.flops == k * 8 * 2 * 2 * (4 * 4 * 2 + 4)


class OnParameters(nn.Module):
    """A bias an MLP computes from a table of coordinates (Swin V2's continuous position bias):
    products the input never reaches, run every forward pass."""

    def __init__(self):
        super().__init__()
        self.register_buffer("table", torch.randn(16, 2))
        self.mlp = nn.Sequential(nn.Linear(2, 32), nn.ReLU(), nn.Linear(32, 1, bias=False))

    def forward(self, x):
        return x + self.mlp(self.table).view(1, 4, 4)


def test_products_over_parameters_alone_are_counted():
    r, rep = prove(OnParameters(), ((3, 4, 4),))
    assert rep.complete
    assert rep.total["flops"] == 2 * 16 * (2 * 32 + 32 * 1)   # FlopCounterMode's count, by hand
    assert any(row.kind == "const" for row in rep.rows)


def test_instance_norm_on_images_the_model_batched_itself():
    class Twice(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv, self.norm = nn.Conv2d(3, 4, 3), nn.InstanceNorm2d(4)

        def forward(self, a, b):
            return self.norm(self.conv(torch.cat([a, b], 0)))
    r, rep = prove(Twice(), ((3, 6, 6), (3, 6, 6)))
    cnn = analyze(r.spec, r.input_shape)
    assert cnn.complete
    norm = next(x for x in cnn.rows if x.kind == "instancenorm")
    assert norm.flops == 5 * 2 * 4 * 4 * 4            # 5 per element without affine (conventions.md)


def test_a_sequence_for_batch_second_layers_reads_as_the_layer():
    """An LSTM with batch_first=False gets its (T, F) input as (T, 1, F): one lstm row."""
    model = nn.Sequential(nn.LSTM(6, 8))
    model.eval()
    r = read_module(model, (5, 6), method="run")
    rep = analyze(r.spec, r.input_shape, convention="torch")
    assert rep.complete and [row.kind for row in rep.rows if row.flops] == ["lstm"]
    assert r.input_shape == (5, 6)
    assert rep.total["params"] == sum(p.numel() for p in model.parameters())
    assert rep.total["flops"] == flop_counter(model, ((5, 6),), "sequence")
    assert rep.total["output_shape"] == real_output(model, ((5, 6),), "sequence")
    assert "batch second" in r.notes


@pytest.mark.parametrize("layer, shapes", [
    (spec.GridSample(), ((3, 5, 6), (4, 7, 2))),
    (spec.GridSample("nearest", "border", True), ((2, 3, 5, 6), (2, 4, 7, 2))),
    (spec.Ternary("addcdiv", 0.5), ((3, 1, 1), (3, 4, 5), (1, 4, 5))),
])
def test_new_merges_give_torch_shapes(layer, shapes):
    """Output shapes equal the built module's real forward (layer_oracles.check), and FLOPs in the
    torch convention equal FlopCounterMode's (0)."""
    names = [f"in{i}" for i in range(len(shapes))]
    total = sum(int(torch.tensor(s).prod()) for s in shapes)     # one flat input, cut into the operands
    nodes, start = [], 0
    for n, s in zip(names, shapes):
        size = int(torch.tensor(s).prod())
        nodes += [spec.Node(f"{n}_cut", spec.Slice(0, start, start + size)),
                  spec.Node(n, spec.Reshape(s), (f"{n}_cut",))]
        start += size
    nodes.append(spec.Node("op", layer, tuple(names)))
    check(spec.Graph(nodes, "op"), (total,), fvcore=False)


def test_unfold_matches_torch():
    check(spec.seq(spec.Unfold(3, padding=1, stride=2)), (2, 7, 9), fvcore=False)


def test_value_dependent_and_gather_by_convention():
    """nms: FLOPs unknown under cnncost (the total incomplete), 0 under torch and macs; a gather
    moves values: 0 everywhere; nonzero tests each element once."""
    g = spec.Graph([spec.Node("n", spec.ValueDependent("nms", (5,))),
                    spec.Node("z", spec.Gather("nonzero", (5, 3)), ("input",)),
                    spec.Node("i", spec.Gather("index", (5, 4)), ("input", "n"))], "i")
    ours = analyze(g, (3, 4, 5))
    assert ours.total["flops"] == 60 and not ours.complete
    assert ours.unknown == {"nms (value-dependent)": 1}
    assert ours.partial("flops") and not ours.partial("params") and not ours.partial("memory")
    for name in ("torch", "macs", "fvcore"):
        other = analyze(g, (3, 4, 5), convention=name)
        assert other.complete and other.total["flops"] == 0


def test_constant_takes_no_inputs_and_costs_nothing():
    with pytest.raises(CostError, match="Constant node takes no inputs"):
        spec.Node("c", spec.Constant((3,)), ("input",))
    g = spec.Graph([spec.Node("c", spec.Constant((3, 1, 1)), ()), spec.Node("a", spec.Add(), ("input", "c"))], "a")
    rep = analyze(g, (3, 4, 5))
    assert rep.total["params"] == 0 and rep.total["flops"] == 60


def test_flatten_module_over_boxes_the_model_batched():
    """nn.Flatten on (K, C, h, w) crops (Faster R-CNN v2's box head): K stays, the rest merges."""
    class Head(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv, self.flat, self.fc = nn.Conv2d(3, 4, 3), nn.Flatten(), nn.Linear(4 * 4 * 4, 5)

        def forward(self, x):
            f = self.conv(x)
            crops = torch.cat([f[:, :, :4, :4], f[:, :, 2:, 2:]], 0)
            return self.fc(self.flat(crops))
    r, rep = prove(Head(), ((3, 8, 8),))
    assert rep.complete and rep.total["output_shape"] == (2, 5)


def test_arithmetic_on_parameters_alone_is_named_in_the_notes():
    """A weight standardised every forward pass (NFNet's ScaledStdConv2d): the normalisation of the
    weight is not a row, and the read says so by op, never silently."""
    class StdConv(nn.Conv2d):
        def forward(self, x):
            w = F.batch_norm(self.weight.reshape(1, self.out_channels, -1), None, None, training=True)
            return F.conv2d(x, w.reshape_as(self.weight) * 0.5, self.bias)
    r, rep = prove(nn.Sequential(StdConv(3, 4, 3)), ((3, 6, 6),))
    assert rep.complete
    assert "arithmetic on parameters alone" in r.notes and "aten.native_batch_norm x1" in r.notes

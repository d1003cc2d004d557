"""Views whose sizes a forward reads from its input (ShuffleNet's channel shuffle and the like) are
read once and hold at every input size: each row's shape at another size equals a real forward
pass at that size, and the totals (numeric, and closed forms in H and W evaluated there) equal a
fresh read at that size.  Views of numbers written in the code stay a Reshape of those numbers,
which fails at another size as PyTorch does.  View's rule and builder against torch's own."""
import pytest

torch = pytest.importorskip("torch")
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

from cnncost import CostError, spec  # noqa: E402
from cnncost.sizes import evaluate, symbol  # noqa: E402
from cnncost.torch.read import read_module  # noqa: E402
from cnncost.walk import analyze  # noqa: E402

TOTALS = ("params", "activations", "macs", "flops", "output_shape", "rf")


class Unit(nn.Module):
    """A conv, then `view` (a function of the conv's output and its sizes), then a conv reading it."""

    def __init__(self, view, channels=8, after=8):
        super().__init__()
        self.conv = nn.Conv2d(3, channels, 3, padding=1)
        self.view = view
        self.head = nn.Conv2d(after, 4, 3, stride=2)

    def forward(self, x):
        return self.head(F.relu(self.view(self.conv(x))))


def shuffle(x):
    n, c, h, w = x.size()
    x = x.view(n, 2, c // 2, h, w)
    x = torch.transpose(x, 1, 2).contiguous()
    return x.view(n, c, h, w)


def shuffle_minus_one(x):
    n, c, h, w = x.size()
    return x.view(n, 4, c // 4, h, w).transpose(1, 2).contiguous().view(n, -1, h, w)


def shuffle_shape(x):
    s = x.shape
    y = torch.reshape(x, (s[0], s[1] // 4, 4, s[2], s[3])).permute(0, 2, 1, 3, 4)
    return y.reshape(s[0], s[1], s[2], s[3])


def gate(x):
    b, c, h, w = x.shape
    g = x.view(b, c, h * w).mean(2)
    return x * torch.sigmoid(g).view(b, c, 1, 1)


def gate_written_channels(x):
    g = x.reshape(x.shape[0], 8, x.shape[2] * x.shape[3]).mean(2)
    return x * torch.sigmoid(g).view(x.shape[0], 8, 1, 1)


def gate_flatten(x):
    return x * torch.sigmoid(torch.flatten(x, 2).mean(2)).unsqueeze(2).unsqueeze(3)


def identity_view(x):
    return x.view(x.size(0), x.size(1), x.size(2), x.size(3))


#: name -> (view function, the View and Reshape layers its read gives; the Reshapes of constant sizes)
VIEWS = {"shuffle": (shuffle, [spec.View(0, 0, (2, -1)), spec.View(0, 1, (-1,))]),
         "shuffle -1": (shuffle_minus_one, [spec.View(0, 0, (4, -1)), spec.View(0, 1, (-1,))]),
         "torch.reshape of x.shape": (shuffle_shape, [spec.View(0, 0, (-1, 4)), spec.View(0, 1, (-1,))]),
         "h*w, then c x 1 x 1": (gate, [spec.View(1, 2, (-1,)), spec.View(0, 0, (-1, 1, 1))]),
         "8 written, h*w": (gate_written_channels, [spec.View(0, 2, (8, -1)), spec.Reshape((8, 1, 1))]),
         "torch.flatten(x, 2)": (gate_flatten, [spec.View(1, 2, (-1,)), spec.Reshape((8, 1)), spec.Reshape((8, 1, 1))]),
         "identity": (identity_view, [spec.View(0, 0, (-1,))])}


def real_shapes(module, shape):
    """Each forward hook's and fx node's output shape (per sample) in a real forward pass."""
    from torch.fx.passes.shape_prop import ShapeProp
    from cnncost.torch.fxtrace import graph_module, trace
    gm = graph_module(module, trace(module))
    with torch.no_grad():
        ShapeProp(gm).propagate(torch.randn(1, *shape))
    return {n.name: tuple(n.meta["tensor_meta"].shape[1:]) for n in gm.graph.nodes
            if hasattr(n.meta.get("tensor_meta"), "shape")}


def totals_at(read_spec, shape):
    t = analyze(read_spec, shape).total
    return {k: t[k] for k in TOTALS}


@pytest.mark.parametrize("name", list(VIEWS))
def test_view_read_once_holds_at_other_sizes(name):
    view, views = VIEWS[name]
    module = Unit(view).eval()
    r = read_module(module, (3, 12, 16))
    assert r.method == "fx"
    assert [n.op for n in r.spec.nodes if isinstance(n.op, (spec.View, spec.Reshape))] == views
    H, W = symbol("H"), symbol("W")
    closed = analyze(r.spec, (3, H, W)).total
    for h, w in ((12, 16), (9, 23), (31, 10)):
        rep = analyze(r.spec, (3, h, w))
        real = real_shapes(module, (3, h, w))
        for row in rep.rows:
            if row.name in r.origin:
                assert row.output_shape == real[r.origin[row.name]], (row.name, h, w)
        fresh = totals_at(read_module(Unit(view).eval(), (3, h, w)).spec, (3, h, w))
        assert totals_at(r.spec, (3, h, w)) == fresh
        for key in ("activations", "macs", "flops"):
            assert evaluate(closed[key], {"H": h, "W": w}) == fresh[key], (key, h, w)
        assert tuple(evaluate(v, {"H": h, "W": w}) for v in closed["output_shape"]) == fresh["output_shape"]


def test_read_at_symbolic_size_gives_the_same_layers():
    """Read at HxW, the channel shuffle is the same two Views as read at numbers."""
    module = Unit(shuffle).eval()
    H, W = symbol("H"), symbol("W")
    at_numbers = read_module(module, (3, 12, 16), method="fx").spec
    at_symbols = read_module(module, (3, H, W), method="fx").spec
    assert [n.op for n in at_numbers.nodes] == [n.op for n in at_symbols.nodes]


def literal_view(x):
    return x.view(x.size(0), 8, 12, 16)


def two_changes(x):
    b, c, h, w = x.shape
    return x.view(b, 2, c // 2, h * w).view(b, c, h, w)


@pytest.mark.parametrize("view", [literal_view, two_changes], ids=["numbers in the code", "two sizes computed"])
def test_other_views_stay_numeric_reshapes(view):
    """Numbers written in the code are the model's: at another size PyTorch fails and so does the
    calculator.  A view with two sizes computed from sizes among the axes it changes has no one -1:
    it stays a Reshape of the sizes seen (exact at the size read)."""
    module = Unit(view).eval()
    r = read_module(module, (3, 12, 16))
    ops = [n.op for n in r.spec.nodes]
    assert any(isinstance(op, spec.Reshape) for op in ops) and not any(isinstance(op, spec.View) for op in ops)
    rep = analyze(r.spec, (3, 12, 16))
    real = real_shapes(module, (3, 12, 16))
    assert all(row.output_shape == real[r.origin[row.name]] for row in rep.rows if row.name in r.origin)
    if view is literal_view:
        with pytest.raises(RuntimeError):
            module(torch.zeros(1, 3, 10, 16))
        with pytest.raises(CostError, match="cannot reshape"):
            analyze(r.spec, (3, 10, 16))


#: (shape, start, end, sizes): splits as nn.Unflatten, merges as torch.flatten, and both at once
VIEW_LAYERS = [((12, 5, 7), 0, 0, (3, 4)), ((12, 5, 7), 0, 0, (-1, 4)), ((12, 5, 7), -1, -1, (7, 1)),
               ((12, 5, 7), 1, 1, (1, -1)), ((6, 35), 1, 1, (5, -1)), ((24,), 0, 0, (2, 3, -1)),
               ((12, 5, 7), 0, 1, (-1,)), ((12, 5, 7), 1, 2, (-1,)), ((4, 3, 5, 7), 0, 1, (2, -1, 3)),
               ((12, 5, 7), -2, -1, (-1,))]


def torch_view(x, start, end, sizes):
    """Batched x viewed as the spec's View says, written with torch's view and sizes taken from x."""
    n = x.dim() - 1
    s, e = start % n + 1, end % n + 1
    return x.view(*x.shape[:s], *sizes, *x.shape[e + 1:])


@pytest.mark.parametrize("shape, start, end, sizes", VIEW_LAYERS)
def test_view_shape_and_build_match_torch(shape, start, end, sizes):
    from cnncost.torch.build import build
    layer = spec.View(start, end, sizes)
    want = tuple(torch_view(torch.zeros(1, *shape), start, end, sizes).shape[1:])
    rep = analyze(spec.seq(layer), shape)
    assert rep.total["output_shape"] == want and rep.rows[0].kind == "reshape"
    assert rep.total["macs"] == 0 and rep.total["flops"] == 0 and rep.total["params"] == 0
    assert tuple(build(spec.seq(layer), shape)(torch.zeros(2, *shape)).shape[1:]) == want


def test_view_field_kept_unless_h_or_w_changes():
    """Kept while H and W are; merging them into the last axis: the whole map, as Flatten; splitting
    W: unknown."""
    conv = spec.Conv2d(4, 3)
    kept = analyze(spec.seq(conv, spec.View(0, 0, (2, -1))), (3, 9, 9)).total["rf"]
    assert kept == analyze(spec.seq(conv), (3, 9, 9)).total["rf"] == 3
    merged = analyze(spec.seq(conv, spec.View(1, 2, (-1,))), (3, 9, 9)).total["rf"]
    assert merged == analyze(spec.seq(conv, spec.Flatten(1, 2)), (3, 9, 9)).total["rf"]
    assert analyze(spec.seq(conv, spec.View(2, 2, (7, 1))), (3, 9, 9)).total["rf"] is None


def test_view_rejects_what_torch_rejects():
    with pytest.raises(RuntimeError):
        torch.zeros(1, 12, 5).view(1, 5, -1, 5)
    with pytest.raises(CostError, match=r"cannot view axes 0..0 of 12x5 \(12 elements\)"):
        analyze(spec.seq(spec.View(0, 0, (5, -1))), (12, 5))
    with pytest.raises(CostError, match="one of them may be -1"):
        spec.View(0, 0, (-1, -1))
    with pytest.raises(CostError, match="must be positive"):
        spec.View(0, 0, (0, 4))


def test_torchvision_shufflenet_read_at_224_holds_at_another_size():
    """torchvision's shufflenet_v2_x0_5 read at 224x224, counted at 200x168: a fresh read at
    200x168 gives the same totals, and a real forward the same output."""
    pytest.importorskip("torchvision")
    from cnncost.torch.read import resolve
    r = resolve("torchvision:shufflenet_v2_x0_5", (3, 224, 224))
    assert r.method == "fx"
    ops = [n.op for n in r.spec.nodes]
    assert ops.count(spec.View(0, 0, (2, -1))) == ops.count(spec.View(0, 1, (-1,))) == 16
    assert not any(isinstance(op, spec.Reshape) for op in ops)
    fresh = resolve("torchvision:shufflenet_v2_x0_5", (3, 200, 168))
    assert totals_at(r.spec, (3, 200, 168)) == totals_at(fresh.spec, (3, 200, 168))
    with torch.no_grad():
        out = r.module(torch.zeros(1, 3, 200, 168))
    assert tuple(out.shape[1:]) == analyze(r.spec, (3, 200, 168)).total["output_shape"]

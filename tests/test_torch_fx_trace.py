"""The lean fx tracer gives the graph torch.fx's own Tracer gives: the same nodes, names, targets and
arguments, and for each node the innermost module fx's module stack names."""
import math

import pytest

torch = pytest.importorskip("torch")
torchvision = pytest.importorskip("torchvision")
from torch import fx, nn  # noqa: E402

from cnncost.torch import fxtrace, ops  # noqa: E402


class FxOwn(fx.Tracer):
    """fx's tracer, untouched but for the same leaves."""

    def is_leaf_module(self, m, qualname):
        return ops.knows(m) or super().is_leaf_module(m, qualname)


def listing(graph):
    return [(n.op, n.name, str(n.target), str(n.args), str(n.kwargs)) for n in graph.nodes]


def owners(graph, key):
    return [key(n) for n in graph.nodes]


def fx_owner(node):
    stack = node.meta.get("nn_module_stack") or {}
    return list(stack.values())[-1][0] if stack else ""


class Held(nn.Module):
    """A tensor held as a plain attribute (a constant), a parameter read in forward, buffers and a
    parameter passed to a function (as timm's BatchNormAct2d does), a module called twice, keyword
    arguments, `math.sqrt` of a size (fx records it as a call)."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.gamma = nn.Parameter(torch.ones(1, 4, 1, 1))
        self.table = torch.arange(4.0).reshape(1, 4, 1, 1)
        self.act = nn.ReLU()
        self.register_buffer("mean", torch.zeros(4))
        self.register_buffer("var", torch.ones(4))

    def forward(self, x):
        y = self.act(self.conv(x)) * self.gamma + self.table
        y = nn.functional.batch_norm(y, self.mean, self.var, self.conv.bias, None, False, 0.1, 1e-5)
        y = self.act(y) / math.sqrt(y.shape[1])
        return nn.functional.interpolate(y, scale_factor=2.0, mode="nearest").flatten(1).sum(dim=1, keepdim=True)


def _models():
    yield "held", Held()
    timm = pytest.importorskip("timm")
    yield "timm:efficientnet_b0", timm.create_model("efficientnet_b0", pretrained=False).eval()
    for name in ("resnet18", "googlenet", "mobilenet_v3_small", "swin_t", "vit_b_32"):
        yield name, getattr(torchvision.models, name)(weights=None, **({"aux_logits": False, "init_weights": False}
                                                                       if name == "googlenet" else {})).eval()


@pytest.mark.parametrize("name,module", list(_models()), ids=lambda v: v if isinstance(v, str) else "")
def test_lean_trace_equals_fx(name, module):
    ours = fxtrace.Tracer().trace(module)
    theirs = FxOwn().trace(module)
    assert listing(ours) == listing(theirs)
    assert owners(ours, lambda n: n.meta["owner"]) == owners(theirs, fx_owner)
    gm = fxtrace.graph_module(module, ours)            # and it runs, as fx's does
    x = torch.randn(1, 3, 64, 64) if name == "held" else torch.randn(1, 3, 224, 224)
    if name == "timm:efficientnet_b0":
        return      # fx's own GraphModule of it is what ours is (above); running it is timm's business
    with torch.no_grad():
        assert torch.equal(gm(x), module(x))


def test_a_second_trace_is_the_first():
    """What one trace patches in (fx's wrappers for `math` functions, reused) is gone after it and
    serves the next trace the same way."""
    module = Held()
    first = listing(fxtrace.Tracer().trace(module))
    assert math.sqrt.__module__ == "math" and not hasattr(math.sqrt, "__wrapped__")
    assert listing(fxtrace.Tracer().trace(module)) == first
    assert any(t == str(math.sqrt) for _, _, t, _, _ in first)


def test_constant_tensor_is_read_where_it_lives():
    graph = fxtrace.Tracer().trace(Held())
    assert [n.target for n in graph.nodes if n.op == "get_attr"] == ["gamma", "table", "conv.bias", "mean", "var"]


def test_without_fx_internals_fx_traces(monkeypatch):
    """On a torch whose fx lacks the internals the lean trace drives, fx's own trace runs."""
    monkeypatch.setattr(fxtrace, "_LEAN", False)
    module = Held()
    assert listing(fxtrace.Tracer().trace(module)) == listing(FxOwn().trace(module))

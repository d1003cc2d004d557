"""Elementwise functions, binary operations, softmax, reductions and the shape ops against a real
forward of the built module (output shape; torch's counter counts none of them: 0 FLOPs under the
torch convention, which the same check proves), and their per-element counts by hand."""
import pytest

from cnncost import spec
from cnncost.errors import CostError
from cnncost.walk import analyze

pytest.importorskip("torch")
from layer_oracles import check  # noqa: E402

N = spec.Node


def graph(*nodes):
    return spec.Graph(nodes, nodes[-1].name)


SINGLE = [*(spec.Unary(fn) for fn in spec.UNARY if fn not in ("log", "sqrt", "rsqrt")),
          spec.Softmax(0), spec.Softmax(-1, log=True),
          *(spec.Reduce(op, (1,)) for op in spec.REDUCTIONS), spec.Reduce("sum", (0, 2), keepdim=True),
          spec.Mean((1, 2)), spec.Flatten(1), spec.Flatten(), spec.Flatten(0, 1), spec.Pad((1, 2)),
          spec.Pad((1, 1, 0, 2), mode="reflect"), spec.Pad((-1, 0, 1, 1), mode="constant"),
          spec.Reshape((-1, 3)), spec.Permute((2, 0, 1)), spec.Slice(1, 1, None, 2), spec.Select(1, 2),
          spec.Select(0, -1), spec.Repeat((1, 2, 1)), spec.Repeat((2, 1, 1, 3)), spec.Roll((1, -2), (1, 2)),
          spec.TopK(2, 1), spec.TopK(5)]


def test_expand_and_pixel_shuffle_match_torch():
    check(spec.seq(spec.Mean((1,), keepdim=True), spec.Expand((2, 3, 6, 5))), (3, 4, 5), fvcore=False)
    check(spec.seq(spec.PixelShuffle(2)), (8, 3, 5), fvcore=False)


def test_where_matches_torch():
    check(graph(N("g", spec.Mean((0,), keepdim=True)), N("w", spec.Where(), ("g", "input", "g"))), (3, 4, 5),
          fvcore=False)


@pytest.mark.parametrize("layer", SINGLE, ids=lambda x: f"{type(x).__name__}-{getattr(x, 'fn', getattr(x, 'op', ''))}")
def test_single_input_ops_match_torch(layer):
    check(spec.seq(layer), (3, 4, 5), fvcore=False)


@pytest.mark.parametrize("op", spec.BINARY)
def test_binary_ops_broadcast_like_torch(op):
    check(graph(N("g", spec.Mean((1, 2), keepdim=True)), N("op", spec.Binary(op), ("input", "g"))), (3, 4, 5),
          fvcore=False)


def test_stack_matches_torch():
    check(graph(N("a", spec.Unary("neg")), N("s", spec.Stack(1), ("input", "a", "input"))), (3, 4), fvcore=False)


def test_counts_by_hand():
    """cnncost convention: 1 per element for exp, 2 for a clamp, 3 per element for a variance
    (subtract, square, add), 3 for softmax; 3*4*5 = 60 elements."""
    for layer, per in ((spec.Unary("exp"), 1), (spec.Unary("clamp"), 2), (spec.Reduce("var", (0,)), 3),
                       (spec.Softmax(0), 3)):
        assert analyze(spec.seq(layer), (3, 4, 5)).total["flops"] == 60 * per
        assert analyze(spec.seq(layer), (3, 4, 5), convention="torch").total["flops"] == 0


@pytest.mark.parametrize("make, message", [
    (lambda: spec.Unary("tan"), "elementwise function must be one of"),
    (lambda: spec.Reduce("median", (0,)), "reduction must be one of"),
    (lambda: spec.Pad((1, 2, 3)), "pairs"),
    (lambda: analyze(spec.seq(spec.Pad((-3, -3))), (2, 5)), "leaves nothing"),
    (lambda: analyze(spec.seq(spec.Flatten(2, 1)), (2, 3, 4)), "start 2 comes after end 1"),
    (lambda: analyze(graph(N("a", spec.Slice(0, 0, 2)), N("s", spec.Stack(), ("input", "a"))), (3, 4)), "cannot stack"),
])
def test_elementwise_shape_errors_are_one_line(make, message):
    with pytest.raises(CostError, match=message):
        make()

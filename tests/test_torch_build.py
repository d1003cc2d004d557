"""The builder: every zoo spec becomes an nn.Module whose parameter count (sum(p.numel())) and forward
output shape equal the calculator's; Graph specs (the reader's ops) build too, and reading a
built module gives the same counts back."""
import pytest

torch = pytest.importorskip("torch")

from cnncost import CostError, analyze, zoo  # noqa: E402
from cnncost.spec import (Activation, Add, BatchNorm, Cat, Conv2d, Flatten, GlobalPool, Graph, LayerNorm,  # noqa: E402
                          Linear, Mean, Mul, Node, Param, Permute, Reshape, Slice, seq)
from cnncost.torch.build import build  # noqa: E402
from cnncost.torch.layer_modules import Param as BuiltParam  # noqa: E402

#: zoo models whose forward pass at the default input takes seconds on 2 cores
HEAVY = {"vgg11", "vgg13", "vgg16", "vgg19", "resnet101", "resnet152", "resnet110"}


def zoo_params():
    return [pytest.param(n, marks=pytest.mark.proof if n in HEAVY else ()) for n in zoo.names()]


@pytest.mark.parametrize("name", zoo_params())
def test_zoo_model_builds_with_the_calculators_params_and_output(name):
    m = zoo.get(name)
    report = analyze(m.spec, m.input_shape)
    module = build(m.spec, m.input_shape).eval()
    assert sum(p.numel() for p in module.parameters()) == report.total["params"]
    with torch.no_grad():
        y = module(torch.zeros(2, *m.input_shape))
    assert tuple(y.shape) == (2, *report.total["output_shape"])
    paths = dict(module.named_modules())
    for row in report.rows:          # module paths are row names (a residual's sum is its block's output)
        assert (row.name[:-len(".add")] if row.kind == "add" else row.name) in paths, row.name


def se_graph():
    """Every graph op: conv, squeeze-excite (mean, Mul), layer scale (Param), residual Add, a
    channels-last LayerNorm + Linear between Permutes, Slice + Cat, Reshape."""
    return Graph([
        Node("stem.conv", Conv2d(8, 3, padding=1, bias=False)),
        Node("stem.bn", BatchNorm(), inputs="stem.conv"),
        Node("stem.act", Activation("silu"), inputs="stem.bn"),
        Node("se.pool", Mean((1, 2), keepdim=True), inputs="stem.act"),
        Node("se.fc1", Conv2d(2, 1), inputs="se.pool"),
        Node("se.fc2", Conv2d(8, 1), inputs="se.fc1"),
        Node("se.gate", Activation("sigmoid"), inputs="se.fc2"),
        Node("se.mul", Mul(), inputs=("stem.act", "se.gate")),
        Node("gamma", Param((8, 1, 1)), inputs=()),
        Node("scaled", Mul(), inputs=("gamma", "se.mul")),
        Node("add", Add(), inputs=("scaled", "stem.bn")),
        Node("to_last", Permute((1, 2, 0)), inputs="add"),
        Node("norm", LayerNorm((8,)), inputs="to_last"),
        Node("mlp", Linear(16), inputs="norm"),
        Node("to_first", Permute((2, 0, 1)), inputs="mlp"),
        Node("left", Slice(0, 0, 8), inputs="to_first"),
        Node("right", Slice(0, 8, 16, 2), inputs="to_first"),
        Node("cat", Cat(0), inputs=("right", "left")),
        Node("view", Reshape((2, 6, 10, 10)), inputs="cat"),
        Node("head", seq(Reshape((12, -1)), Mean((1,)), Linear(3)), inputs="view"),
    ], output="head", name="toy")


def test_graph_builds_and_runs():
    g = se_graph()
    report = analyze(g, (3, 10, 10))
    module = build(g, (3, 10, 10)).eval()
    # params by hand: conv 3*9*8, bn 2*8, se 8*2+2 and 2*8+8, gamma 8, layer norm 2*8, linear 8*16+16,
    # head linear 12*3+3
    by_hand = 216 + 16 + 18 + 24 + 8 + 16 + 144 + 39
    assert report.total["params"] == by_hand == sum(p.numel() for p in module.parameters())
    shapes = {}

    def record(path):
        def hook(mod, args, out):
            shapes.setdefault(path, tuple(out.shape if isinstance(mod, BuiltParam) else out.shape[1:]))
        return hook
    for path, m in module.named_modules():
        m.register_forward_hook(record(path))
    with torch.no_grad():
        module(torch.randn(1, 3, 10, 10))
    for row in report.rows:
        assert shapes[row.name] == row.output_shape, row.name
    assert report.total["output_shape"] == (3,)


def test_reading_a_built_graph_gives_the_same_counts():
    from cnncost.torch.read import read_module
    g = se_graph()
    module = build(g, (3, 10, 10))
    r = read_module(module, (3, 10, 10))
    for conv in ("cnncost", "fvcore"):
        a, b = analyze(g, (3, 10, 10), convention=conv), analyze(r.spec, (3, 10, 10), convention=conv)
        assert {k: a.total[k] for k in ("params", "flops", "macs", "activations", "output_shape")} == \
               {k: b.total[k] for k in ("params", "flops", "macs", "activations", "output_shape")}


def test_graph_errors_are_one_line():
    with pytest.raises(CostError, match="reads 'nowhere', which is not an earlier node"):
        Graph([Node("a", Flatten(), inputs="nowhere")], output="a")
    with pytest.raises(CostError, match="Add needs two inputs"):
        Node("a", Add(), inputs=("input",))
    with pytest.raises(CostError, match="cannot broadcast"):
        analyze(Graph([Node("p", Param((5, 1, 1)), inputs=()), Node("m", Mul(), inputs=("p", "input"))],
                      output="m"), (3, 4, 4))
    with pytest.raises(CostError, match="inputs differ outside axis 0"):
        analyze(Graph([Node("c", Conv2d(2, 3)), Node("cat", Cat(0), inputs=("c", "input"))], output="cat"), (3, 8, 8))
    with pytest.raises(CostError, match="cannot reshape 3x4x4 .48 elements. into 5x-1"):
        analyze(Graph([Node("r", Reshape((5, -1)))], output="r"), (3, 4, 4))
    with pytest.raises(CostError, match="LayerNorm over 4 does not match"):
        analyze(Graph([Node("n", LayerNorm((4,)))], output="n"), (3, 4, 5))


def test_squeeze_excite_field_covers_the_image():
    """x * gate(mean(x)): every output reads every pixel.  By hand on a 9x9 map after a 3x3 conv: the
    gate's fixed field [-1, 9] (the mean over conv outputs 0..8), widened by (9-1)*1 and centred
    (9-1)/2 earlier, joins the conv's own 3-pixel field: size 11 + 8 = 19, centre of output 0 at 0."""
    g = Graph([Node("conv", Conv2d(4, 3, padding=1)), Node("pool", GlobalPool(), inputs="conv"),
               Node("mul", Mul(), inputs=("conv", "pool"))], output="mul")
    rf = analyze(g, (3, 9, 9)).rows[-1].rf[0]
    assert (rf.size, rf.jump, rf.start) == (19, 1, 0)

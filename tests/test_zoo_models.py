"""Properties every model of the paper zoo has: registered with a source, evaluates completely at
its default input, and every layer carries a meaningful name (no automatic conv1/block2 names)."""
import pytest

from cnncost import analyze, spec, zoo

PAPER_MODELS = ["alexnet", "alexnet-1gpu", "alexnet-tv", "vgg11", "vgg13", "vgg16", "vgg19",
                "inception-naive", "inception-reduced", "googlenet", "resnet18", "resnet34", "resnet50",
                "resnet20", "resnet32", "resnet44", "resnet56", "resnet110", "davidnet", "mlp"]


def unnamed(node):
    """Layers, Concats and Residuals without a name (Sequences may be anonymous groupings)."""
    if isinstance(node, spec.Sequence):
        return [x for child in node.layers for x in unnamed(child)]
    own = [node] if node.name is None else []
    if isinstance(node, spec.Concat):
        return own + [x for b in node.branches for x in unnamed(b)]
    if isinstance(node, spec.Residual):
        return own + unnamed(node.body) + (unnamed(node.shortcut) if node.shortcut is not None else [])
    return own


@pytest.mark.parametrize("name", PAPER_MODELS)
def test_registered_named_and_complete(name):
    e = zoo.entry(name)
    assert e.summary and e.source
    m = zoo.get(name)
    assert unnamed(m.spec) == []
    assert m.spec.name is None   # a named top level would prefix every row
    r = analyze(m.spec, m.input_shape)
    assert r.complete
    names = [row.name for row in r.rows]
    assert len(names) == len(set(names))


@pytest.mark.torch
@pytest.mark.parametrize("name", PAPER_MODELS)
def test_forward_pass_agrees(name):
    """Independent shapes: PyTorch's own arithmetic in a forward pass (on the meta device: shapes only)
    gives every named layer the output shape we compute, and sum(p.numel()) our parameter count."""
    torch = pytest.importorskip("torch")
    from cnncost.torch.build import build
    m = zoo.get(name)
    r = analyze(m.spec, m.input_shape)
    with torch.device("meta"):
        net = build(m.spec, m.input_shape)
    assert sum(p.numel() for p in net.parameters()) == r.total["params"]
    seen = {}
    for row in r.rows:
        try:
            module = net.get_submodule(row.name)
        except AttributeError:
            continue   # residual adds are not modules
        module.register_forward_hook(lambda mod, args, out, key=row.name: seen.__setitem__(key, tuple(out.shape[1:])))
    out = net(torch.zeros(2, *m.input_shape, device="meta"))
    assert tuple(out.shape[1:]) == r.total["output_shape"]
    checked = [row for row in r.rows if row.name in seen]
    assert len(checked) >= len(r.rows) // 2
    for row in checked:
        assert seen[row.name] == tuple(row.output_shape), row.name

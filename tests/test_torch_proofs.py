"""The calculator's counts on real PyTorch models against independent measurements.

For the torchvision models (read by cnncost.torch.read, at 224x224, inception_v3 at 299x299) and the
zoo's CIFAR models (built by cnncost.torch.build, at 32x32):
- parameters equal sum(p.numel()) of the module;
- every row's output shape equals the shape of the same op in a real forward pass (fx ShapeProp for
  every op; forward hooks on the original module for every module call), and every leaf module the
  forward pass calls has a row;
- FLOPs in the fvcore convention equal fvcore's FlopCountAnalysis, and activations its
  ActivationCountAnalysis, in total and for every module (by_module);
- receptive fields equal the measured ones (cnncost.torch.rf: non-zero input gradients from one
  output position of a linearised copy with random weights), at a smaller input for speed.
Heavier models are marked `proof` (run by default; -m proof runs them alone); conftest caches each model's measurements.
"""
import pytest

from conftest import TORCHVISION, ZOO_CIFAR, ZOO_FAST, module_of, rows_under, torchvision_params

pytest.importorskip("torch")

#: torchvision's auxiliary classifiers: built by default (weights=None), never called in eval mode
AUXILIARY = {"googlenet": ("aux1", "aux2"), "inception_v3": ("AuxLogits",)}
#: receptive fields are measured at this input (C, H, W) to keep backward passes cheap
RF_INPUT = {"inception_v3": (3, 107, 107), "alexnet": (3, 96, 96), "efficientnet_b0": (3, 96, 96),
            "mobilenet_v3_small": (3, 96, 96), "resnet18": (3, 128, 128), "mobilenet_v2": (3, 128, 128)}
RF_DEFAULT = (3, 64, 64)
ZOO = [pytest.param(n, marks=() if n in ZOO_FAST else pytest.mark.proof) for n in ZOO_CIFAR]


# --- parameters -----------------------------------------------------------------------------------

@pytest.mark.parametrize("name", torchvision_params())
def test_torchvision_params_equal_numel(torchvision_case, name):
    c = torchvision_case(name)
    total = sum(p.numel() for p in c.module.parameters())
    aux = {path: sum(p.numel() for p in c.module.get_submodule(path).parameters())
           for path in AUXILIARY.get(name, ())}
    assert c.read.unused == aux
    assert c.report.total["params"] == total - sum(aux.values())
    assert c.report.complete, c.report.unknown


@pytest.mark.parametrize("name", ["googlenet", "inception_v3"])
def test_without_auxiliary_classifiers_params_equal_numel_exactly(name):
    torchvision = pytest.importorskip("torchvision")
    from cnncost import analyze
    from cnncost.torch.read import read_module
    module = torchvision.models.get_model(name, weights=None, aux_logits=False, init_weights=False)
    r = read_module(module, TORCHVISION[name], name=name)
    assert r.unused == {}
    assert analyze(r.spec, r.input_shape).total["params"] == sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize("name", ZOO)
def test_zoo_params_equal_numel(zoo_case, name):
    c = zoo_case(name)
    assert c.report.total["params"] == sum(p.numel() for p in c.module.parameters())


# --- shapes ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", torchvision_params())
def test_torchvision_every_row_shape_equals_forward_pass(torchvision_case, name):
    c = torchvision_case(name)
    for row in c.report.rows:
        real = c.fx_shapes[c.origin[row.name]]
        assert row.output_shape == (real if row.kind == "param" else real[1:]), row.name


@pytest.mark.parametrize("name", torchvision_params())
def test_torchvision_module_calls_equal_forward_hooks(torchvision_case, name):
    """Forward hooks on the original module (not the fx copy) see every module call with our shapes;
    every call of a module fx keeps whole (modules it traces through are rows of their own ops)."""
    c = torchvision_case(name)
    hooks = c.hook_shapes
    paths = dict(c.module.named_modules())
    calls = {}
    for row in c.report.rows:
        path = module_of(row.name)
        if path in paths:
            calls[path] = calls.get(path, 0) + 1
            assert row.output_shape == hooks[path][calls[path] - 1], row.name
    from cnncost.torch.fxtrace import Tracer
    leaves = {p for p, m in paths.items() if p and Tracer().is_leaf_module(m, p)}   # what fx records as calls
    assert {p for p in leaves if p in hooks} == {p for p in leaves if p in calls}
    assert all(len(hooks[p]) == calls[p] for p in calls)
    assert c.report.total["output_shape"] == hooks[""][0]


@pytest.mark.parametrize("name", ZOO)
def test_zoo_every_row_shape_equals_forward_hooks(zoo_case, name):
    c = zoo_case(name)
    hooks = c.hook_shapes
    for row in c.report.rows:
        path = row.name[:-len(".add")] if row.kind == "add" else row.name   # a residual's sum is its output
        assert row.output_shape == hooks[path][0], row.name
    assert c.report.total["output_shape"] == hooks[""][0]


# --- fvcore ---------------------------------------------------------------------------------------

def _assert_fvcore(c):
    fv, rows = c.fvcore, c.report.rows
    assert c.report.total["flops"] == fv["flops"]
    assert c.report.total["activations"] == fv["acts"]
    for path, flops in fv["flops_by_module"].items():
        assert sum(r.flops for r in rows_under(rows, path)) == flops, path
    for path, acts in fv["acts_by_module"].items():
        assert sum(r.activations for r in rows_under(rows, path)) == acts, path


@pytest.mark.parametrize("name", torchvision_params())
def test_torchvision_fvcore_flops_and_activations_exact(torchvision_case, name):
    _assert_fvcore(torchvision_case(name))


@pytest.mark.parametrize("name", ZOO)
def test_zoo_fvcore_flops_and_activations_exact(zoo_case, name):
    _assert_fvcore(zoo_case(name))


# --- receptive fields -----------------------------------------------------------------------------

SPATIAL_KINDS = {"conv", "add", "cat", "concat", "mul", "maxpool", "avgpool", "bn"}


def _assert_rf(module, spec, shape, origin):
    """Five rows spread over the network; for each, the centre and the corner (0, 0) position."""
    from cnncost import analyze
    from cnncost.torch import rf

    report = analyze(spec, shape)
    rows = [r for r in report.rows if r.kind in SPATIAL_KINDS and len(r.output_shape) == 3
            and r.output_shape[1] > 1 and r.name in origin]
    picks = [rows[i] for i in dict.fromkeys([0, *(len(rows) * k // 4 for k in (1, 2, 3)), len(rows) - 1])]
    positions = {r.name: {"centre": rf.centre(r.output_shape), "corner": (0, 0)} for r in picks}
    targets = {(r.name, tag): (origin[r.name], pos) for r in picks for tag, pos in positions[r.name].items()}
    targets.update({(r.name, "read"): (origin[r.name], None) for r in picks})
    measured = rf.measure(module, shape, targets)
    unclipped = 0
    for r in picks:
        read = measured[(r.name, "read")]
        for tag, pos in positions[r.name].items():
            assert measured[(r.name, tag)] == rf.expected(r.rf, pos, read), (r.name, tag, r.rf)
        unclipped += r.rf[0].size < shape[1]
    assert unclipped, "at least one measured field lies inside the image"


@pytest.mark.parametrize("name", torchvision_params())
def test_torchvision_receptive_field_equals_gradient(torchvision_case, name):
    from cnncost.torch.read import read_module
    c = torchvision_case(name)
    shape = RF_INPUT.get(name, RF_DEFAULT)
    r = read_module(c.module, shape, name=name)
    _assert_rf(c.module, r.spec, shape, r.origin)


@pytest.mark.parametrize("name", ZOO)
def test_zoo_receptive_field_equals_gradient(zoo_case, name):
    c = zoo_case(name)
    _assert_rf(c.module, c.spec, c.input_shape, c.origin)

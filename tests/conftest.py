"""Session caches for the PyTorch proofs: each model is built, read, run and measured once.

Nothing here imports torch at import time, so the core tests run without it.  A `Case` computes,
lazily and once per session, what the tests compare:
- `report`: the calculator on the read (or zoo) spec, fvcore convention;
- `fx_shapes`: every fx node's shape in a real forward pass of the traced module (ShapeProp);
- `hook_shapes`: every module's output shape per call, from forward hooks on the original module,
  recorded during the same forward pass fvcore traces;
- `fvcore`: FlopCountAnalysis and ActivationCountAnalysis (total and by_module); the two share
  one jit trace (their own handlers and aggregation count it; only the tracing is not repeated).
"""
from __future__ import annotations

import functools
import logging
import warnings

import pytest

#: the torchvision models proved in depth, with their test input (C, H, W)
TORCHVISION = {
    "alexnet": (3, 224, 224), "vgg11": (3, 224, 224), "vgg16": (3, 224, 224), "vgg19": (3, 224, 224),
    "vgg16_bn": (3, 224, 224), "googlenet": (3, 224, 224), "inception_v3": (3, 299, 299),
    "resnet18": (3, 224, 224), "resnet50": (3, 224, 224), "resnext50_32x4d": (3, 224, 224),
    "wide_resnet50_2": (3, 224, 224), "densenet121": (3, 224, 224), "mobilenet_v2": (3, 224, 224),
    "mobilenet_v3_small": (3, 224, 224), "shufflenet_v2_x1_0": (3, 224, 224), "squeezenet1_0": (3, 224, 224),
    "mnasnet1_0": (3, 224, 224), "efficientnet_b0": (3, 224, 224), "regnet_y_400mf": (3, 224, 224),
    "convnext_tiny": (3, 224, 224),
}
#: the quick ones are plain tests; the rest are marked `proof` (a minute in all; run by default too)
FAST = {"alexnet", "resnet18", "mobilenet_v2", "mobilenet_v3_small", "shufflenet_v2_x1_0", "squeezenet1_0",
        "mnasnet1_0", "efficientnet_b0", "regnet_y_400mf"}
#: zoo models proved through the builder at 32x32
ZOO_CIFAR = ("resnet20", "resnet32", "resnet44", "resnet56", "resnet110", "davidnet")
ZOO_FAST = {"resnet20", "resnet56", "davidnet"}


def torchvision_params(names=TORCHVISION, fast=FAST):
    return [pytest.param(n, marks=() if n in fast else pytest.mark.proof) for n in names]


def module_of(row_name: str) -> str:
    """'layer1.0.relu#2' -> 'layer1.0.relu': the module a row's call belongs to."""
    return row_name.split("#")[0]


def rows_under(rows, path: str):
    """Rows of module `path`: the module's own calls and every row inside it (functions it calls
    are named path.op, submodules path.child...)."""
    if path == "":
        return list(rows)
    return [r for r in rows if module_of(r.name) == path or r.name.startswith(path + ".")]


class Case:
    def __init__(self, name, make_module, input_shape, read=True):
        self.name, self._make, self.input_shape, self._read = name, make_module, tuple(input_shape), read

    @functools.cached_property
    def module(self):
        import torch
        torch.manual_seed(0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return self._make().eval()

    @functools.cached_property
    def read(self):
        from cnncost.torch.read import read_module
        return read_module(self.module, self.input_shape, name=self.name)

    @functools.cached_property
    def spec(self):
        return self.read.spec if self._read else self._spec

    @functools.cached_property
    def report(self):
        from cnncost import analyze
        return analyze(self.spec, self.input_shape, convention="fvcore")

    @functools.cached_property
    def fx_shapes(self):
        import torch
        from torch.fx.passes.shape_prop import ShapeProp
        with torch.no_grad():
            ShapeProp(self.read.traced).propagate(torch.randn(1, *self.input_shape))
        return {n.name: tuple(n.meta["tensor_meta"].shape) for n in self.read.traced.graph.nodes
                if hasattr(n.meta.get("tensor_meta"), "shape")}

    @functools.cached_property
    def origin(self):
        """Row name -> fx node name in the module's fx trace."""
        if self._read:
            return self.read.origin
        from cnncost.torch.fxtrace import trace
        return {n.target: n.name for n in trace(self.module).nodes if n.op == "call_module"}

    @functools.cached_property
    def _measured(self):
        """One forward pass (fvcore's trace) with shape hooks on every module; fvcore's counts."""
        import torch
        import fvcore.nn.jit_analysis as jit_analysis
        from fvcore.nn import ActivationCountAnalysis, FlopCountAnalysis

        shapes, handles = {}, []
        for path, m in self.module.named_modules():
            def hook(mod, args, out, path=path):
                if isinstance(out, torch.Tensor):
                    shapes.setdefault(path, []).append(tuple(out.shape[1:]))
            handles.append(m.register_forward_hook(hook))
        original = jit_analysis._get_scoped_trace_graph
        memo = {}

        def traced_once(*args, **kwargs):
            if "graph" not in memo:
                memo["graph"] = original(*args, **kwargs)
            return memo["graph"]

        x = torch.randn(1, *self.input_shape)
        logging.disable(logging.WARNING)
        jit_analysis._get_scoped_trace_graph = traced_once
        try:
            with warnings.catch_warnings(), torch.no_grad():
                warnings.simplefilter("ignore")
                flops = FlopCountAnalysis(self.module, x)
                acts = ActivationCountAnalysis(self.module, x)
                for a in (flops, acts):
                    a.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
                result = {"flops": flops.total(), "flops_by_module": dict(flops.by_module()),
                          "acts": acts.total(), "acts_by_module": dict(acts.by_module()),
                          "unsupported": dict(flops.unsupported_ops())}
        finally:
            jit_analysis._get_scoped_trace_graph = original
            logging.disable(logging.NOTSET)
            for h in handles:
                h.remove()
        result["hook_shapes"] = shapes
        return result

    @property
    def fvcore(self):
        return self._measured

    @property
    def hook_shapes(self):
        return self._measured["hook_shapes"]


class ZooCase(Case):
    """A zoo spec built by cnncost.torch.build: module paths equal row names."""

    def __init__(self, name):
        from cnncost import zoo
        model = zoo.get(name)
        super().__init__(name, None, model.input_shape, read=False)
        self._spec = model.spec

    @functools.cached_property
    def module(self):
        import torch
        from cnncost.torch.build import build
        torch.manual_seed(0)
        return build(self._spec, self.input_shape).eval()


@pytest.fixture(scope="session")
def torchvision_case():
    pytest.importorskip("torchvision")
    pytest.importorskip("fvcore")
    import torchvision

    @functools.lru_cache(maxsize=None)
    def get(name):
        return Case(name, lambda: torchvision.models.get_model(name, weights=None), TORCHVISION[name])
    return get


@pytest.fixture(scope="session")
def zoo_case():
    pytest.importorskip("torch")
    pytest.importorskip("fvcore")
    from cnncost import zoo

    @functools.lru_cache(maxsize=None)
    def get(name):
        if name not in zoo.names():
            pytest.skip(f"zoo model {name} is not registered (yet)")
        return ZooCase(name)
    return get

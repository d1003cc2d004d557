"""The models the training-step proofs run on: zoo specs built with `cnncost.torch.build.build`,
and torchvision classification models read by `cnncost.torch.read` (both at small inputs, so a
real forward, backward and optimizer step run in seconds on a CPU).

`case(name)` gives (report at `batch`, the nn.Module in train mode, per-sample input shape).
Every case ends in a classifier's (N, K) logits: the step's peak assumes a cross-entropy loss
(a lone inception module, whose output is a feature map, is left out for that reason).
Train-mode modules differ from what the reader reads (in eval mode) in two ways, switched off
here and documented in docs/memory.md: stochastic depth (EfficientNet, ConvNeXt) draws a
per-sample mask, and GoogLeNet's auxiliary classifiers run.
"""
from __future__ import annotations

import functools
import warnings

ZOO = {"lenet5": None, "mlp": None, "resnet20": None, "davidnet": None, "speedrun": None,
       "minigooglenet": None, "alexnet": (3, 99, 99), "alexnet-tv": (3, 96, 96), "vgg11": (3, 64, 64),
       "resnet18": (3, 64, 64)}
TORCHVISION = ("alexnet", "vgg11", "vgg16_bn", "resnet18", "resnet50", "resnext50_32x4d", "googlenet",
               "densenet121", "mobilenet_v2", "mobilenet_v3_small", "shufflenet_v2_x1_0", "squeezenet1_0",
               "mnasnet1_0", "efficientnet_b0", "regnet_y_400mf", "convnext_tiny")
TV_INPUT = {"alexnet": (3, 96, 96)}
#: quick ones for the default run; the rest are @pytest.mark.slow
FAST = ("lenet5", "mlp", "resnet20", "minigooglenet", "torchvision:resnet18", "torchvision:mobilenet_v3_small")
ALL = tuple(ZOO) + tuple(f"torchvision:{n}" for n in TORCHVISION)


def train_ready(module):
    """Stochastic depth off (p = 0 is the identity in train mode too), auxiliary classifiers off."""
    import torchvision
    for m in module.modules():
        if isinstance(m, torchvision.ops.StochasticDepth):
            m.p = 0.0
        if hasattr(m, "aux_logits"):          # GoogLeNet runs aux1/aux2 in train mode whenever they exist
            m.aux_logits = False
            for aux in ("aux1", "aux2", "AuxLogits"):
                if hasattr(m, aux):
                    setattr(m, aux, None)
    return module.train()


@functools.lru_cache(maxsize=None)
def model(name: str):
    """(spec, nn.Module, per-sample input shape) for a case name."""
    import torch
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if name.startswith("torchvision:"):
            from cnncost.torch.read import resolve
            arch = name.partition(":")[2]
            r = resolve(name, TV_INPUT.get(arch, (3, 64, 64)))
            return r.spec, train_ready(r.module), tuple(r.input_shape)
        from cnncost import zoo
        from cnncost.torch.build import build
        m = zoo.get(name)
        shape = ZOO[name] or tuple(m.input_shape)
        return m.spec, build(m.spec, shape).train(), shape


def params(names=ALL, fast=FAST):
    import pytest
    return [pytest.param(n, marks=() if n in fast else pytest.mark.slow) for n in names]

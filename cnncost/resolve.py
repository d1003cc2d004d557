"""The one place that turns a model name and options into (spec, input shape).

- a zoo name (`vgg19`, `inception-reduced`): `zoo.get(name, **options)`, its default input unless
  `input` is given;
- a name containing ':' (`torchvision:resnet50`, `timm:resnet18`, `path/file.py:Class`): read from
  PyTorch by `cnncost.torch.read.resolve(name, input_shape)`, imported only then (the core never
  imports torch).

Every command that takes MODEL (table, rf, formula, and `compare` later) calls `resolve`.
"""
from __future__ import annotations

from dataclasses import dataclass

from cnncost.errors import CostError


@dataclass(frozen=True)
class Resolved:
    name: str
    spec: object
    input_shape: tuple          # per sample: (C, H, W) or (F,)
    model: object               # zoo.Model, or the PyTorch reader's Model-like object


def parse_shape(value) -> tuple | None:
    """None, a (C, H, W) / (F,) tuple, or user text 'HxWxC' / 'F' (symbols allowed)."""
    if value is None or isinstance(value, tuple):
        return value
    from cnncost.sizes import parse_input
    return parse_input(value)


def _from_torch(name: str, shape: tuple | None):
    try:
        from cnncost.torch import read
    except ImportError as err:
        raise CostError(f"cannot read {name!r}: the PyTorch reader is unavailable ({err}); "
                        "install the torch extra: pip install 'cnncost[torch]'") from None
    if not hasattr(read, "resolve"):
        raise CostError(f"cannot read {name!r}: cnncost.torch.read has no resolve()")
    return read.resolve(name, shape)


def resolve(name: str, input=None, **options) -> Resolved:
    """Model `name` (zoo or 'source:name') on `input` (text or shape tuple; None = its default).
    `options` go to the zoo factory (e.g. filter counts); PyTorch models take none."""
    shape = parse_shape(input)
    if ":" in name:
        if options:
            raise CostError(f"{name}: options {', '.join(options)} apply to zoo models only")
        model = _from_torch(name, shape)
    else:
        from cnncost import zoo
        zoo.entry(name)  # unknown names fail here, before the factory sees the options
        try:
            model = zoo.get(name, **options)
        except TypeError as err:
            raise CostError(f"{name}: bad option ({err})") from None
    return Resolved(name=name, spec=model.spec, input_shape=tuple(shape or model.input_shape), model=model)


def analyze(name: str, input=None, *, batch=1, convention="cnncost", dtype="fp32", **options):
    """`resolve` then `cnncost.analyze`: the Report for a model name."""
    from cnncost.walk import analyze as run
    r = resolve(name, input, **options)
    return run(r.spec, r.input_shape, batch=batch, convention=convention, dtype=dtype, name=name)

"""The one place that turns a model name and options into (spec, input shape).

- a zoo name (`vgg19`, `inception-reduced`): `zoo.get(name, **options)`, its default input unless
  `input` is given (the CLI's `--option depth=56` becomes `options`, typed by `zoo.parse_options`);
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
    label: str = ""             # the name as titles show it, with its options: 'resnet-cifar depth=56'


def parse_shape(value) -> tuple | None:
    """None, a shape tuple, or user text 'HxWxC' / 'F' / 'TxF' / 'TxHxWxC' (symbols allowed); a list of
    texts is one shape per input tensor."""
    if value is None or isinstance(value, tuple):
        return value
    if isinstance(value, list):            # --input given once per tensor forward() takes
        shapes = tuple(parse_shape(v) for v in value)
        return None if not shapes else shapes[0] if len(shapes) == 1 else shapes
    parts = value.lower().replace("×", "x").split("x")
    if len(parts) == 2:                    # TxF: a sequence of T steps of F features
        from cnncost.sizes import parse_size
        return tuple(parse_size(p, "input size") for p in parts)
    if len(parts) == 4:                    # TxHxWxC: a clip of T frames -> (C, T, H, W)
        from cnncost.sizes import parse_size
        t, h, w, c = (parse_size(p, "input size") for p in parts)
        return (c, t, h, w)
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
        if shape and all(isinstance(s, tuple) for s in shape):
            raise CostError(f"{name}: zoo models take one input; --input was given {len(shape)} times")
        from cnncost import zoo
        zoo.entry(name)  # unknown names fail here, before the factory sees the options
        try:
            model = zoo.get(name, **options)
        except TypeError as err:
            raise CostError(f"{name}: bad option ({err})") from None
        return Resolved(name=name, spec=model.spec, input_shape=tuple(shape or model.input_shape), model=model,
                        label=zoo.label(name, options))
    return Resolved(name=name, spec=model.spec, input_shape=tuple(model.input_shape), model=model,
                    label=name)           # the reader's input: several tensors are packed into one


def analyze(name: str, input=None, *, batch=1, convention="cnncost", dtype="fp32", **options):
    """`resolve` then `cnncost.analyze`: the Report for a model name."""
    from cnncost.walk import analyze as run
    r = resolve(name, input, **options)
    return run(r.spec, r.input_shape, batch=batch, convention=convention, dtype=dtype, name=r.label or name)

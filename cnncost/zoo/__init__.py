"""The model zoo: paper architectures as specs, by name.

Each zoo module registers its models with `@register(...)`; a factory takes keyword options
(e.g. filter counts, depth) and returns a `spec.Sequence`.  `get(name)` gives a `Model`: the spec
with its default input, the paper it reproduces and notes on choices made.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field

from cnncost.errors import CostError

#: zoo modules, imported on first use (pure Python, no torch, no sympy)
MODULES = ("alexnet", "vgg", "googlenet", "resnet", "davidnet", "mlp", "small", "speedrun")


@dataclass(frozen=True)
class Entry:
    name: str
    factory: callable
    input_shape: tuple          # (C, H, W) or (F,)
    summary: str
    source: str                 # citation of the paper or code the numbers reproduce
    notes: str = ""


@dataclass(frozen=True)
class Model:
    name: str
    spec: object
    input_shape: tuple
    summary: str
    source: str
    notes: str = ""
    options: dict = field(default_factory=dict)


REGISTRY: dict[str, Entry] = {}
_loaded = False


def register(name: str, *, input_shape: tuple, summary: str, source: str, notes: str = ""):
    def wrap(factory):
        REGISTRY[name] = Entry(name, factory, tuple(input_shape), summary, source, notes)
        return factory
    return wrap


def _load():
    global _loaded
    if not _loaded:
        for module in MODULES:
            try:
                importlib.import_module(f"cnncost.zoo.{module}")
            except ModuleNotFoundError as err:
                if err.name != f"cnncost.zoo.{module}":
                    raise
        _loaded = True


def names() -> list[str]:
    _load()
    return list(REGISTRY)


def entry(name: str) -> Entry:
    _load()
    try:
        return REGISTRY[name]
    except KeyError:
        import difflib
        close = difflib.get_close_matches(name, REGISTRY, n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else "; see `cnncost list`"
        raise CostError(f"unknown model {name!r}{hint}") from None


def get(name: str, **options) -> Model:
    e = entry(name)
    return Model(name, e.factory(**options), e.input_shape, e.summary, e.source, e.notes, options)

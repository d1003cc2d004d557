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
    shown: tuple = ()           # options that pick the architecture: their default is named in titles


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


def register(name: str, *, input_shape: tuple, summary: str, source: str, notes: str = "", shown: tuple = ()):
    """`shown`: options that pick the architecture (resnet-cifar's depth); a table of the model
    names them, default or not."""
    def wrap(factory):
        REGISTRY[name] = Entry(name, factory, tuple(input_shape), summary, source, notes, tuple(shown))
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
    """Every model, in the order of MODULES and, within a module, of registration: the same order
    whichever zoo module was imported first."""
    _load()

    def place(item):
        i, name = item
        module = REGISTRY[name].factory.__module__.rpartition(".")[2]
        return (MODULES.index(module) if module in MODULES else len(MODULES), i)
    return [name for _, name in sorted(enumerate(REGISTRY), key=place)]


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


def options(name: str) -> dict:
    """The options model `name` takes, with their defaults: {'depth': 20, 'classes': 10, ...}."""
    import inspect
    params = inspect.signature(entry(name).factory).parameters.values()
    return {p.name: p.default for p in params if p.default is not inspect.Parameter.empty}


def _coerce(name: str, key: str, text: str, default):
    """`text` as the type of the option's default: int, float, bool (true/false/1/0/yes/no) or a
    tuple of ints ('64,128')."""
    try:
        if isinstance(default, bool):
            return {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}[text.lower()]
        if isinstance(default, int):
            return int(text)
        if isinstance(default, float):
            return float(text)
        if isinstance(default, tuple):
            return tuple(int(v) for v in text.replace("x", ",").split(",") if v.strip())
    except (KeyError, ValueError):
        kind = "true or false" if isinstance(default, bool) else \
            "comma-separated integers" if isinstance(default, tuple) else \
            "an integer" if isinstance(default, int) else "a number"
        raise CostError(f"{name}: option {key}={text!r} is not {kind}") from None
    return text


def parse_options(name: str, texts) -> dict:
    """['depth=56', 'classes=100'] -> {'depth': 56, 'classes': 100}, typed by the factory's defaults;
    an unknown option or a malformed value is a CostError."""
    known = options(name)
    out = {}
    for item in texts or ():
        key, eq, value = item.partition("=")
        key = key.strip().replace("-", "_")
        if not eq or not key or not value.strip():
            raise CostError(f"--option {item!r}: write NAME=VALUE, e.g. depth=56")
        if key not in known:
            hint = f"; {name} takes {', '.join(known)}" if known else f"; {name} takes no options"
            raise CostError(f"unknown option {key!r} for {name}{hint}")
        out[key] = _coerce(name, key, value.strip(), known[key])
    return out


def label(name: str, given: dict | None = None) -> str:
    """'resnet-cifar depth=56', or 'resnet-cifar depth=20 (default)': the options given, and the
    options that pick the architecture at their defaults."""
    given = given or {}
    e = entry(name)
    parts = [f"{k}={_text(v)}" for k, v in given.items()]
    defaults = options(name)
    parts += [f"{k}={_text(defaults[k])} (default)" for k in e.shown if k not in given and k in defaults]
    return " ".join([name] + parts)


def _text(v) -> str:
    return ",".join(map(str, v)) if isinstance(v, tuple) else str(v)

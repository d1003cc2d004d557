"""Any `nn.Module` as a spec: `read_module(module, input_shape)`, and `resolve(name, input_shape)`
for the CLI's `torchvision:NAME`, `timm:NAME` and `path/to/file.py:ClassName`.

The module is put in eval mode and read by `torch.fx` symbolic tracing (`cnncost.torch.fxread`);
if fx cannot trace it, or a module carries forward hooks fx would ignore, by forward hooks on its
leaf modules (`cnncost.torch.hookread`, whose merges are unknown ops).  The spec comes from module
attributes and the code's structure, never from traced shapes (Opaque ops excepted), so the
calculator's shapes can be checked against a real forward pass.  Parameters of modules the
forward pass never calls (GoogLeNet's and Inception v3's auxiliary classifiers in eval mode) are
not counted; `Read.unused` lists them and the notes say so.
"""
from __future__ import annotations

import functools
import importlib.util
import os
import sys
import warnings
from dataclasses import dataclass, field

import torch

from cnncost import spec
from cnncost.errors import CostError

DEFAULT_INPUT = (3, 224, 224)
#: torchvision models whose default input is not 224x224 (torchvision's model docs)
DEFAULT_INPUTS = {"inception_v3": (3, 299, 299)}


@dataclass(frozen=True)
class Read:
    """Like `cnncost.zoo.Model` (name, spec, input_shape, summary, source, notes) plus what the reader
    knows: `origin` (row name -> fx node name, or (module path, call) with hooks), `unused`
    (module path -> parameters the forward pass never uses), `method` ('fx' or 'hooks'),
    the module itself, its fx Graph and (made on first use) `traced`, a runnable fx GraphModule
    (None with hooks)."""
    name: str
    spec: object
    input_shape: tuple
    summary: str
    source: str
    notes: str = ""
    origin: dict = field(default_factory=dict, repr=False)
    unused: dict = field(default_factory=dict)
    method: str = "fx"
    module: object = field(default=None, repr=False)
    graph: object = field(default=None, repr=False)
    options: dict = field(default_factory=dict)

    @functools.cached_property
    def traced(self):
        if self.graph is None:
            return None
        from cnncost.torch.fxread import graph_module
        return graph_module(self.module, self.graph)


def _hooked(module: torch.nn.Module) -> list:
    return [path or type(module).__name__ for path, m in module.named_modules()
            if m._forward_hooks or m._forward_pre_hooks]


def unused_parameters(module: torch.nn.Module, used_ids: set) -> dict:
    """Module path -> parameter count, for the largest modules none of whose parameters are used."""
    owners = {}
    for path, m in module.named_modules():
        params = list(m.parameters())
        if params and not any(id(p) in used_ids for p in params):
            owners[path] = sum(p.numel() for p in params)
    top = {p: n for p, n in owners.items()
           if not any(p != q and (q == "" or p.startswith(q + ".")) for q in owners)}
    loose = sum(p.numel() for path, p in module.named_parameters()
                if id(p) not in used_ids and not any(path.startswith(q + ".") or q == "" for q in top))
    if loose:
        top["(other parameters)"] = loose
    return top


def read_module(module: torch.nn.Module, input_shape: tuple = DEFAULT_INPUT, *, name: str | None = None,
                method: str = "auto", summary: str = "", source: str = "") -> Read:
    """Read `module` (put in eval mode) on a per-sample input shape (C, H, W)."""
    name = name or type(module).__name__
    module.eval()
    notes, fx_graph = [], None
    hooked = _hooked(module)
    if method not in ("auto", "fx", "hooks"):
        raise CostError(f"unknown reading method {method!r}; known: auto, fx, hooks")
    if method == "auto" and hooked:
        method = "hooks"
        notes.append(f"forward hooks on {', '.join(hooked[:3])}{'...' if len(hooked) > 3 else ''}: read with hooks")
    graph = None
    if method in ("auto", "fx"):
        from cnncost.torch.fxread import read_fx
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                graph, fx_graph, reader = read_fx(module, input_shape, name)
            method = "fx"
        except CostError:
            raise
        except Exception as err:          # fx cannot trace it: fall back on hooks
            if method == "fx":
                raise CostError(f"{name}: torch.fx cannot trace this model ({type(err).__name__}: {err})") from None
            notes.append(f"torch.fx cannot trace it ({type(err).__name__}: {str(err).splitlines()[0][:120]}); "
                         "read with forward hooks on leaf modules: operations between modules are unknown")
            method = "hooks"
    if graph is None:
        from cnncost.torch.hookread import read_hooks
        graph, reader = read_hooks(module, input_shape, name)
    notes.extend(reader.notes if hasattr(reader, "notes") else [])
    unused = unused_parameters(module, reader.used)
    if unused:
        listed = ", ".join(f"{p} ({n:,})" for p, n in unused.items())
        notes.append(f"parameters the forward pass never uses are not counted: {listed}")
    return Read(name=name, spec=graph, input_shape=tuple(input_shape), summary=summary or f"{name} read from PyTorch",
                source=source or f"{type(module).__module__}.{type(module).__qualname__}", notes="; ".join(notes),
                origin=reader.origin, unused=unused, method=method, module=module, graph=fx_graph)


# --- model sources --------------------------------------------------------------------------------

def torchvision_model(arch: str) -> torch.nn.Module:
    try:
        import torchvision
    except ImportError:
        raise CostError("torchvision is not installed: pip install torchvision") from None
    names = torchvision.models.list_models()
    if arch not in names:
        import difflib
        close = difflib.get_close_matches(arch, names, n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise CostError(f"torchvision has no model {arch!r}{hint}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return torchvision.models.get_model(arch, weights=None)


def timm_model(arch: str) -> tuple:
    """(module, default input shape) from timm, untrained."""
    try:
        import timm
    except ImportError:
        raise CostError(f"timm:{arch} needs timm, which is not installed: pip install timm") from None
    try:
        model = timm.create_model(arch, pretrained=False)
    except RuntimeError as err:
        raise CostError(f"timm: {err}") from None
    cfg = getattr(model, "pretrained_cfg", None) or getattr(model, "default_cfg", None) or {}
    return model, tuple(cfg.get("input_size", DEFAULT_INPUT))


def file_model(path: str, cls: str) -> torch.nn.Module:
    """`ClassName()` from the Python file at `path`."""
    if not os.path.isfile(path):
        raise CostError(f"no such file: {path}")
    module_name = f"cnncost_user_{abs(hash(os.path.abspath(path)))}"
    loader = importlib.util.spec_from_file_location(module_name, path)
    mod = importlib.util.module_from_spec(loader)
    sys.modules[module_name] = mod
    try:
        loader.loader.exec_module(mod)
    except Exception as err:
        raise CostError(f"{path}: importing it failed ({type(err).__name__}: {err})") from None
    klass = getattr(mod, cls, None)
    if klass is None:
        raise CostError(f"{path} defines no {cls!r}")
    try:
        model = klass()
    except Exception as err:
        raise CostError(f"{path}:{cls}() failed ({type(err).__name__}: {err}); "
                        "the class must build with no arguments") from None
    if not isinstance(model, torch.nn.Module):
        raise CostError(f"{path}:{cls}() is a {type(model).__name__}, not a torch.nn.Module")
    return model


def resolve(name: str, input_shape: tuple | None = None) -> Read:
    """`torchvision:resnet50`, `timm:NAME` or `path/to/file.py:ClassName` read on `input_shape`
    (per sample (C, H, W); None = the model's default, 3x224x224 unless known otherwise)."""
    source_kind, _, arch = name.partition(":")
    if source_kind == "torchvision":
        module = torchvision_model(arch)
        default = DEFAULT_INPUTS.get(arch, DEFAULT_INPUT)
        source = f"torchvision.models.{arch} (weights=None), torchvision {_version('torchvision')}"
    elif source_kind == "timm":
        module, default = timm_model(arch)
        source = f"timm.create_model({arch!r}), timm {_version('timm')}"
    else:
        path, _, cls = name.rpartition(":")
        if not path.endswith(".py") or not cls:
            raise CostError(f"cannot read {name!r}: use torchvision:NAME, timm:NAME or path/to/file.py:ClassName")
        module, default, source = file_model(path, cls), DEFAULT_INPUT, path
    shape = tuple(input_shape) if input_shape is not None else default
    return read_module(module, shape, name=name, summary=f"{arch or name} read from PyTorch", source=source)


def _version(package: str) -> str:
    try:
        from importlib.metadata import version
        return version(package)
    except Exception:  # pragma: no cover
        return "?"

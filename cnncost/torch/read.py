"""Any `nn.Module` as a spec: `read_module(module, input_shape)`, and `resolve(name, input_shape)`
for the CLI's `torchvision:NAME`, `timm:NAME` and `path/to/file.py:ClassName`.

The module is put in eval mode.  Two readers (docs/readers.md): `torch.fx` symbolic tracing
(`cnncost.torch.fxread`), whose spec comes from the code's structure and so holds for any input
size (closed forms in H and W), and the run-time reader (`cnncost.torch.runread`), which watches
the ATen operators one forward pass executes and so reads whatever runs (several inputs, lists
and dicts, data-dependent Python, fused attention).  `auto` keeps fx's spec when it reads every op
of a one-input model, else reads the model as it runs.  Parameters no executed op reads
(GoogLeNet's auxiliary classifiers in eval mode) are not counted; `Read.unused` lists them.
"""
from __future__ import annotations

import functools
import warnings
from dataclasses import dataclass, field

import torch

from cnncost import spec
from cnncost.errors import CostError
from cnncost.torch import ops, sources
from cnncost.torch.sources import DEFAULT_INPUT, file_model, timm_model, torchvision_model  # noqa: F401


@dataclass(frozen=True)
class Read:
    """Like `cnncost.zoo.Model` (name, spec, input_shape, summary, source, notes) plus what the reader
    knows: `origin` (row name -> fx node name, or module path for the run reader), `unused`
    (module path -> parameters no executed op reads), `method` ('fx' or 'run'), the module itself,
    its fx Graph and (made on first use) `traced`, a runnable fx GraphModule (None for 'run')."""
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
    inputs: tuple = ()          # per-sample shape of each tensor forward() takes

    @functools.cached_property
    def traced(self):
        if self.graph is None:
            return None
        from cnncost.torch.fxtrace import graph_module
        return graph_module(self.module, self.graph)


def _hooked(module: torch.nn.Module, modules: dict) -> list:
    return [path or type(module).__name__ for path, m in modules.items() if m._forward_hooks or m._forward_pre_hooks]


def unused_parameters(module: torch.nn.Module, used_ids: set) -> dict:
    """Module path -> parameter count, for the largest modules none of whose parameters are used."""
    if all(id(p) in used_ids for p in module.parameters()):
        return {}
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


def _several(input_shape) -> bool:
    return bool(input_shape) and all(isinstance(s, tuple) for s in input_shape)


def read_module(module: torch.nn.Module, input_shape: tuple = DEFAULT_INPUT, *, name: str | None = None,
                method: str = "auto", summary: str = "", source: str = "", layout: str = "batch") -> Read:
    """Read `module` (put in eval mode) on per-sample input shapes: one (C, H, W) or (F,) tuple, or a
    tuple of them for a forward that takes several tensors.  `method`: 'fx' (closed forms, symbolic
    sizes), 'run' (what one forward pass executes) or 'auto': fx when it reads every op of a model
    with one input, else run (docs/readers.md)."""
    name = name or type(module).__name__
    modules = dict(module.named_modules())
    if any(m.training for m in modules.values()):
        module.eval()
    if method not in ("auto", "fx", "run"):
        raise CostError(f"unknown reading method {method!r}; known: auto, fx, run")
    shapes = tuple(input_shape) if _several(input_shape) else (tuple(input_shape),)
    numeric = all(isinstance(s, int) for shape in shapes for s in shape)
    notes, fx_graph, graph = [], None, None
    hooked = _hooked(module, modules)
    if method == "auto" and (len(shapes) > 1 or layout != "batch"):
        method = "run"
    if method == "auto" and hooked:
        method = "run"
        notes.append(f"forward hooks on {', '.join(hooked[:3])}{'...' if len(hooked) > 3 else ''}: read as it runs")
    if method in ("auto", "fx"):
        from cnncost.torch.fxread import Unread, read_fx
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                graph, fx_graph, reader = read_fx(module, shapes[0], name, strict=method == "auto" and numeric,
                                                       modules=modules)
        except Unread:
            graph = None
        except ops.DeclaredMismatch:      # fx misread the structure (LeViT's BatchNorm1d on flattened tokens)
            if method == "fx" or not numeric:
                raise
            graph = None
        except CostError:                 # the calculator's own verdict (a kernel larger than its input)
            raise
        except Exception as err:          # fx cannot trace it: read it as it runs
            if method == "fx" or not numeric:
                raise CostError(f"{name}: torch.fx cannot trace this model ({type(err).__name__}: "
                                f"{str(err).splitlines()[0][:120]})") from None
            notes.append(f"torch.fx cannot trace it ({type(err).__name__}); read as it runs")
        if graph is not None and method == "auto" and numeric and _has_opaque(graph):
            graph = None                  # fx left ops unread: the run sees them
        if graph is not None:
            method = "fx"
    packed = shapes[0]
    if graph is None:
        from cnncost.torch.runmodel import run_model
        graph, reader, packed, _, device = run_model(module, shapes, name, layout)
        method, fx_graph = "run", None
    notes.extend(reader.notes if hasattr(reader, "notes") else [])
    unused = unused_parameters(module, _used_ids(module, reader))
    if unused:
        listed = ", ".join(f"{p} ({n:,})" for p, n in unused.items())
        notes.append(f"parameters no executed op reads are not counted: {listed}")
    return Read(name=name, spec=graph, input_shape=tuple(packed), summary=summary or f"{name} read from PyTorch",
                source=source or f"{type(module).__module__}.{type(module).__qualname__}", notes="; ".join(notes),
                origin=reader.origin, unused=unused, method=method, module=module, graph=fx_graph,
                inputs=shapes)


def _has_opaque(graph) -> bool:
    return any(isinstance(n.op, spec.Opaque) for n in graph.nodes)


def _used_ids(module, reader) -> set:
    """ids of the parameters the reader saw read (the run reader knows them by path)."""
    used = reader.used
    if used and isinstance(next(iter(used)), str):
        return {id(p) for n, p in module.named_parameters(remove_duplicate=False) if n in used}
    return used


# --- model sources --------------------------------------------------------------------------------

def resolve(name: str, input_shape: tuple | None = None) -> Read:
    """`torchvision:resnet50`, `timm:NAME` or `path/to/file.py:ClassName` read on `input_shape`: per
    sample, one shape ((C, H, W), (F,), (T, F), (C, T, H, W)) or a tuple of them for several inputs;
    None = the model's natural inputs (`cnncost.torch.sources`)."""
    source_kind, _, arch = name.partition(":")
    layout = "batch"
    if source_kind == "torchvision":
        module = sources.torchvision_model(arch)
        default, layout = sources.torchvision_inputs(arch)
        source = f"torchvision.models.{arch} (weights=None), torchvision {sources.version('torchvision')}"
    elif source_kind == "timm":
        module, default = sources.timm_model(arch)
        source = f"timm.create_model({arch!r}, pretrained=False), timm {sources.version('timm')}"
    else:
        path, _, cls = name.rpartition(":")
        if not path.endswith(".py") or not cls:
            raise CostError(f"cannot read {name!r}: use torchvision:NAME, timm:NAME or path/to/file.py:ClassName")
        module, default, source = sources.file_model(path, cls), (DEFAULT_INPUT,), path
    if input_shape is None:
        shapes = default
    else:
        shapes = tuple(input_shape) if _several(input_shape) else (tuple(input_shape),)
    return read_module(module, shapes if len(shapes) > 1 else shapes[0], name=name,
                       summary=f"{arch or name} read from PyTorch", source=source, layout=layout)

"""The torch.fx tracer the fx reader uses: fx's symbolic trace, keeping only what the reader reads.

fx's own `Tracer` does, for every operation, work the reader never looks at: it walks each node's
arguments for raw SymInts (which a symbolic trace never makes), copies the whole module stack into
each node, keeps a scope object, searches all parameters for each parameter read, and before the
trace walks every attribute of every module for constant tensors.  Here a node records only the
innermost module's path (`node.meta["owner"]`), leaf verdicts and parameter names are looked up in
tables, and the constant-tensor table is built the first time a constant tensor is met.  The graph
is the one fx makes (same nodes, names, targets and arguments).  Read + analyse is about a third
faster for it (`benchmarks/sweep_models.py`).
"""
from __future__ import annotations

import torch
from torch import fx
from torch.fx import _symbolic_trace as _fx

from cnncost.torch import ops

_PLAIN = (int, float, bool, str, type(None))

#: fx internals the lean `trace` drives; on a torch without them, fx's own trace is used
_INTERNALS = ("_get_is_fx_tracing", "_set_is_fx_tracing", "_orig_module_call", "_orig_module_getattr",
              "_new_patcher", "_patch_wrapped_functions", "_create_wrapped_func", "_constant_attribute_types")
_LEAN = all(hasattr(_fx, n) for n in _INTERNALS)
#: id(function) -> (function, its tracing wrapper): fx makes a new wrapper for each `math` function
#: at every trace; a wrapper holds no state, so one per function serves every trace
_WRAPPERS: dict = {}


def _autowrap(patcher, frame_dict: dict, function_ids: set) -> None:
    """fx's `_autowrap_check` (the functions it records as calls, such as `math.sqrt`, patched in
    where a forward's globals or a library's namespace hold them), with the wrappers reused."""
    if patcher.visit_once(frame_dict):
        for name, value in frame_dict.items():
            if not name.startswith("_") and callable(value) and id(value) in function_ids:
                known = _WRAPPERS.get(id(value))
                if known is None or known[0] is not value:
                    known = _WRAPPERS[id(value)] = (value, _fx._create_wrapped_func(value))
                patcher.patch(frame_dict, name, known[1])


class Tracer(fx.Tracer):
    """Leaves are the modules the reader knows by exact type (a subclass may change `forward`, so it
    is traced through), plus fx's default leaves (other torch.nn modules), which become Opaque."""

    def __init__(self, modules: dict | None = None):
        super().__init__()
        self._by_path = modules                # path -> module, when the caller has it
        self._leaf: dict = {}                  # id(module) -> is it a leaf
        self._owners = [""]                    # module paths being called, innermost last
        self._param_names: dict | None = None  # id(parameter) -> name
        self._buffer_names: dict | None = None  # id(buffer) -> name
        self._constants_found = False

    def is_leaf_module(self, m, qualname):
        return ops.knows(m) or super().is_leaf_module(m, qualname)

    def call_module(self, m, forward, args, kwargs):
        """fx's module call, keeping only what the reader uses: the innermost module's path (as
        `node.meta["owner"]`), each module's leaf verdict computed once."""
        path = self.submodule_paths.get(m) if self.submodule_paths else None
        if path is None:
            path = self.path_of_module(m)
        leaf = self._leaf.get(id(m))
        if leaf is None:
            leaf = self._leaf[id(m)] = self.is_leaf_module(m, path)
        self._owners.append(path)
        try:
            return self.create_proxy("call_module", path, args, kwargs) if leaf else forward(*args, **kwargs)
        finally:
            self._owners.pop()

    def create_node(self, kind, target, args, kwargs, name=None, type_expr=None):
        """The node made bare, then its arguments set: `Graph.create_node` would first walk them
        looking for raw SymInts, which a symbolic trace never makes."""
        node = self.graph.create_node(kind, target, (), {}, name, type_expr)
        if args:
            node.args = args
        if kwargs:
            node.kwargs = kwargs
        node.meta["owner"] = self._owners[-1]
        return node

    def getattr(self, attr, attr_val, parameter_proxy_cache):
        """A module attribute as fx gives it (a parameter becomes a `get_attr` node, made once), with
        parameters found by identity in a table rather than by a walk over all of them."""
        if not isinstance(attr_val, torch.nn.Parameter):
            return super().getattr(attr, attr_val, parameter_proxy_cache) \
                if isinstance(attr_val, torch.Tensor) else attr_val
        n = self._names("_param_names", self.root.named_parameters).get(id(attr_val))
        if n is None:
            return super().getattr(attr, attr_val, parameter_proxy_cache)
        if n not in parameter_proxy_cache:
            parameter_proxy_cache[n] = self.create_proxy("get_attr", n, (), {})
        return parameter_proxy_cache[n]

    def create_arg(self, a):
        """fx's own lowering, with the common exact types first (a proxy, a number, a tuple of them):
        the same result, without its chain of checks for parameters, modules and opaque types."""
        t = type(a)
        if t is fx.Proxy:
            return a.node
        if t in _PLAIN:
            return a
        if t is tuple:
            return tuple(self.create_arg(x) for x in a)
        if t is list:
            return [self.create_arg(x) for x in a]
        if isinstance(a, fx.Proxy):          # x.ndim, x.shape: fx's Attribute proxies
            return a.node
        if isinstance(a, torch.Tensor):
            held = self._held_tensor(a)
            if held is not None:
                return held
        if not self._constants_found and self._constant(a):
            self._find_constants()
        return super().create_arg(a)

    def _held_tensor(self, a):
        """A parameter or buffer passed as an argument (timm's `F.batch_norm(x, self.running_mean,
        ...)`) becomes a `get_attr` of where it lives, as fx makes it, found in a table by identity
        rather than by fx's walk over every parameter or buffer of the model at each use."""
        if isinstance(a, torch.nn.Parameter):
            n = self._names("_param_names", self.root.named_parameters).get(id(a))
        else:
            n = self._names("_buffer_names", self.root.named_buffers).get(id(a))
        return None if n is None else self.create_node("get_attr", n, (), {})

    def _names(self, attr: str, named) -> dict:
        """id -> the first name fx's walk would find it under, built once per trace."""
        table = getattr(self, attr)
        if table is None:
            table = {}
            for n, t in named():
                table.setdefault(id(t), n)
            setattr(self, attr, table)
        return table

    @staticmethod
    def _constant(a) -> bool:
        """Whether fx would look `a` up in its table of module-held constants."""
        opaque = getattr(_fx, "is_opaque_symbolic_type", None)
        return isinstance(a, _fx._constant_attribute_types) or (opaque is not None and opaque(type(a)))

    def _find_constants(self):
        """fx's table of tensors held as module attributes (so a constant becomes a `get_attr` of
        where it lives), built when first needed rather than before every trace."""
        self._constants_found = True
        for path, m in (self._by_path or dict(self.root.named_modules())).items():
            for k, v in m.__dict__.items():
                if isinstance(v, _fx._constant_attribute_types):
                    self.tensor_attrs[v] = f"{path}.{k}" if path else k

    def trace(self, root, concrete_args=None) -> fx.Graph:
        """fx's `Tracer.trace` for a module, without building the constant-tensor table up front;
        anything else (a function, concrete arguments, a torch without the internals) goes to fx."""
        self._leaf, self._param_names, self._buffer_names = {}, None, None
        if not _LEAN or concrete_args is not None or not isinstance(root, torch.nn.Module) or \
                isinstance(root, fx.GraphModule):
            self._constants_found = True     # fx builds its table itself
            return super().trace(root, concrete_args)
        self._constants_found = False
        was_tracing = _fx._get_is_fx_tracing()
        _fx._set_is_fx_tracing(True)
        try:
            self.root, fn = root, type(root).forward
            self.root_module_name = root._get_name()
            modules = self._by_path if self._by_path is not None else dict(root.named_modules())
            self.submodule_paths = {m: path for path, m in modules.items()}
            self.graph = fx.Graph(tracer_cls=type(self))
            self.tensor_attrs = {}
            fn_globals = fn.__globals__
            fn, args = self.create_args_for_root(fn, True, None)
            parameter_proxy_cache: dict = {}

            def module_getattr(mod, attr):
                return self.getattr(attr, _fx._orig_module_getattr(mod, attr), parameter_proxy_cache)

            def module_call(mod, *args, **kwargs):
                def forward(*args, **kwargs):
                    return _fx._orig_module_call(mod, *args, **kwargs)
                _autowrap(patcher, getattr(getattr(mod, "forward", mod), "__globals__", {}), self._autowrap_function_ids)
                return self.call_module(mod, forward, args, kwargs)

            with _fx._new_patcher() as patcher:
                patcher.patch_method(torch.nn.Module, "__getattr__", module_getattr, deduplicate=False)
                patcher.patch_method(torch.nn.Module, "__call__", module_call, deduplicate=False)
                _fx._patch_wrapped_functions(patcher)
                _autowrap(patcher, fn_globals, self._autowrap_function_ids)
                for library in self._autowrap_search:
                    _autowrap(patcher, library.__dict__, self._autowrap_function_ids)
                self.create_node("output", "output", (self.create_arg(fn(*args)),), {})
            self.submodule_paths = None
        finally:
            _fx._set_is_fx_tracing(was_tracing)
        return self.graph


def trace(module: torch.nn.Module, modules: dict | None = None) -> fx.Graph:
    """The fx graph of `module` (`modules`: its `dict(named_modules())`, when the caller has it)."""
    return Tracer(modules).trace(module)


def graph_module(module: torch.nn.Module, graph: fx.Graph) -> fx.GraphModule:
    """A runnable module for the graph (generating its code costs about a third of a trace)."""
    return fx.GraphModule(module, graph, module.__class__.__name__)

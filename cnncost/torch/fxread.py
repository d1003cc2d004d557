"""An fx graph as a `spec.Graph`: one node per tensor operation, in execution order.

`torch.fx.symbolic_trace` records what `forward` does with proxies, so the graph's structure
(merges, concatenations, reshapes) comes from the code, not from running it.  Each node becomes a
spec layer made from module attributes and call arguments (`cnncost.torch.ops`); sizes a forward
reads from its input (`x.size()`, `x.shape`) are answered with the calculator's own shapes, and the
batch dimension with a marker that may only be passed through.  Row names are module paths for
module calls (`layer1.0.conv1`, a second call `layer1.0.relu#2`) and `owner.op` for functions
(`layer1.0.add`, `features.1.0.block.0.permute_1`).  An operation no rule knows becomes
`spec.Opaque` with the shape one real forward pass gives it: its cost is unknown, never zero.
"""
from __future__ import annotations

import builtins
import math
import operator
import re
from collections import Counter

import torch
from torch import fx

from cnncost import rules, spec
from cnncost.errors import CostError
from cnncost.torch import ops
from cnncost.torch.fxshape import ShapeOps
from cnncost.torch.fxfunctions import FunctionOps
from cnncost.torch.fxtrace import graph_module, trace
from cnncost.torch.fxvalues import BATCH, UNKNOWN, Attr, Pieces, T, walk_values


_PY_MODULES = {operator.__name__, math.__name__, builtins.__name__, "_operator"}


class Unread(Exception):
    """fx met an op it cannot map (raised in strict mode, where the run-time reader takes over)."""


class FxReader(FunctionOps, ShapeOps):
    def __init__(self, root: torch.nn.Module, graph: fx.Graph, input_shape: tuple, strict: bool = False,
                 modules: dict | None = None):
        self.root, self.graph, self.input_shape = root, graph, tuple(input_shape)
        self.strict = strict
        self.shape = {spec.INPUT: self.input_shape}
        self.nodes: list = []
        self.origin: dict = {}                 # spec node name -> fx node name
        self.modules = dict(root.named_modules()) if modules is None else modules
        self.taken = set(self.modules) | {spec.INPUT}
        self.calls = Counter()
        self.params: dict = {}                 # Attr path -> Param node name
        self.used: set = set()                 # ids of parameters the graph uses
        self.notes: list = []
        self.values: dict = {}
        self.sources: dict = {}                # fx node -> where the size(s) it holds came from
        self.last = T(spec.INPUT)
        self._traced = False

    # --- bookkeeping -----------------------------------------------------------------------
    def unique(self, owner: str, base: str) -> str:
        return ops.fresh_name(self.taken, owner, base)

    def owner(self, node: fx.Node) -> str:
        return node.meta.get("owner", "")

    def base(self, node: fx.Node) -> str:
        return re.sub(r"_\d+$", "", node.name)

    def emit(self, op, inputs: list, fx_node: fx.Node, name: str | None = None, shares=None) -> T:
        name = name or self.unique(self.owner(fx_node), self.base(fx_node))
        if isinstance(op, spec.MERGES):
            arg = tuple(self.shape[i.name] for i in inputs)
        elif isinstance(op, spec.Param):
            arg = ()
        else:
            arg = self.shape[inputs[0].name]
        out = tuple(op.out_shape) if isinstance(op, spec.Opaque) else rules.cost(op, arg, name).out
        self.nodes.append(spec.Node(name, op, tuple(i.name for i in inputs), shares))
        self.shape[name], self.origin[name] = out, fx_node.name
        self.last = T(name)
        return self.last

    def traced_shape(self, fx_node: fx.Node):
        """The per-sample shape one real forward pass gives this node (for Opaque ops only)."""
        if not self._traced:
            if not all(isinstance(s, int) for s in self.input_shape):
                raise CostError(f"{fx_node.name}: an op no rule knows needs a numeric input size to find its shape")
            from torch.fx.passes.shape_prop import ShapeProp
            with torch.no_grad():
                ShapeProp(graph_module(self.root, self.graph)).propagate(torch.zeros(1, *self.input_shape))
            self._traced = True
        meta = fx_node.meta.get("tensor_meta")
        return tuple(meta.shape[1:]) if hasattr(meta, "shape") else None

    def opaque(self, fx_node: fx.Node, what: str, name: str | None = None):
        if self.strict:
            raise Unread(f"{fx_node.name}: no rule for {what}")
        shape = self.traced_shape(fx_node)
        if shape is None:
            return UNKNOWN
        tensors = [v for v in walk_values(self.args(fx_node)) if isinstance(v, T)]
        src = tensors[0] if tensors else self.last
        return self.emit(spec.Opaque(what, shape), [src], fx_node, name)

    def args(self, node: fx.Node):
        return fx.node.map_arg((node.args, node.kwargs), lambda n: self.values[n])

    # --- the walk over fx nodes ------------------------------------------------------------------
    def read(self, name: str | None = None) -> spec.Graph:
        self.name = name
        output, seen_input = None, False
        for node in self.graph.nodes:
            if node.op == "placeholder":
                if not seen_input:
                    self.values[node], seen_input = T(spec.INPUT), True
                elif node.args:          # an optional argument: its default
                    self.values[node] = node.args[0]
                else:
                    raise CostError(f"{node.name}: models with more than one input are not supported")
            elif node.op == "get_attr":
                value = operator.attrgetter(node.target)(self.root)
                self.values[node] = Attr(node.target, value, node.name) if isinstance(value, torch.Tensor) else value
            elif node.op == "call_module":
                self.values[node] = self.call_module(node)
            elif node.op == "call_function":
                self.values[node] = self.call_function(node)
                self.note_source(node)
            elif node.op == "call_method":
                self.values[node] = self.call_method(node)
                self.note_source(node)
            elif node.op == "output":
                output = self.output(node)
        if output is None or output.name == spec.INPUT:
            raise CostError("the model returns its input unchanged: nothing to count")
        return spec.Graph(self.nodes, output.name, name=name)

    def output(self, node: fx.Node) -> T | None:
        tensors = [v for v in walk_values(self.args(node)) if isinstance(v, T)]
        if len(tensors) > 1:
            self.notes.append(f"the model returns {len(tensors)} tensors; counted up to the first, {tensors[0].name}")
        return tensors[0] if tensors else None

    def call_module(self, node: fx.Node):
        m = self.modules[node.target] if node.target in self.modules else self.root.get_submodule(node.target)
        self.calls[node.target] += 1
        k = self.calls[node.target]
        name = node.target if k == 1 else f"{node.target}#{k}"
        self.taken.add(name)
        params = list(m.parameters()) if m._modules else [p for p in m._parameters.values() if p is not None]
        shares = node.target if k > 1 and params else None
        (x, *rest), kwargs = self.args(node)
        if not isinstance(x, T):
            return self.opaque(node, type(m).__name__, name)
        if isinstance(m, torch.nn.MultiheadAttention):
            return self.attention(node, m, name, shares, params, (x, *rest), kwargs)
        op = ops.module_op(m, self.shape[x.name], name)
        if op is None:
            return self.opaque(node, type(m).__name__, name)
        self.used.update(id(p) for p in params)
        return self.emit(op, [x], node, name, shares)

    def attention(self, node, m, name, shares, params, args, kwargs):
        """nn.MultiheadAttention with batch_first=True on (B, L, E) tensors (ViT's encoder): one row,
        its (output, weights) pair the output and an unknown (the weights, when asked for, are not
        read further)."""
        qkv = [v for v in args[:3] if v is not None]
        if type(m) is not torch.nn.MultiheadAttention or not m.batch_first or \
                not all(isinstance(v, T) and len(self.shape[v.name]) == 2 for v in qkv) or \
                any(kwargs.get(k) is not None for k in ("key_padding_mask", "attn_mask")) or \
                kwargs.get("is_causal") or len(args) > 5:
            return self.opaque(node, type(m).__name__, name)
        inputs = qkv[:1] if all(v == qkv[0] for v in qkv) else qkv
        self.used.update(id(p) for p in params)
        out = self.emit(ops.SEQUENCE_MODULES[type(m)](m, kwargs, args), inputs, node, name, shares)
        return (out, UNKNOWN)

    # --- functions ------------------------------------------------------------------------------
    def call_function(self, node: fx.Node):
        target = node.target
        args, kwargs = self.args(node)
        if target is torch._assert:
            return self.assertion(node, args, kwargs)
        values = list(walk_values((args, kwargs)))
        symbolic = [v for v in values if isinstance(v, (T, Attr, Pieces))]
        if not symbolic:
            return self.python(target, args, kwargs)
        if target is builtins.getattr:
            return self.attribute(args[0], args[1])
        if target is operator.getitem:
            return self.getitem(node, args[0], args[1])
        if target in ops.ACTIVATION_FUNCTIONS and isinstance(args[0], T):
            return self.emit(spec.Activation(ops.ACTIVATION_FUNCTIONS[target]), [args[0]], node)
        if target in ops.stochastic_depth_functions():
            a = ops.bind(("input", "p", "mode", "training"), args, kwargs)
            return a["input"] if not a["training"] or a["p"] == 0 else self.opaque(node, "stochastic_depth")
        library = ops.library_function(target)
        if library is not None and len(args) == 1 and not kwargs and isinstance(args[0], T):
            return self.emit(library(), [args[0]], node)
        if target in ops.ADD_FUNCTIONS | ops.MUL_FUNCTIONS | ops.DIV_FUNCTIONS:
            return self.arithmetic(node, target, args, kwargs)
        if target in ops.SIGNATURES:
            a = ops.bind(ops.SIGNATURES[target], args, kwargs, getattr(target, "__name__", ""))
            result = self.function(node, target, a)
            if result is not None:
                return result
        return self.opaque(node, getattr(target, "__name__", str(target)))

    def assertion(self, node: fx.Node, args, kwargs):
        """`torch._assert(condition, message)`: where the condition is decided on plain numbers and
        fails, the model refuses this input, and says why in its own words (ViT: "Wrong image
        height! Expected 224 but got 237!"); on symbolic sizes or the batch it is not decided here."""
        a = ops.bind(("condition", "message"), args, kwargs, "_assert")
        cond = node.args[0] if node.args else node.kwargs.get("condition")
        operands = list(walk_values(self.args(cond))) if isinstance(cond, fx.Node) else [a["condition"]]
        plain = [type(v) in (int, float, bool, str) for v in operands]
        who = self.name or type(self.root).__name__
        if a["condition"] is False and all(plain):
            raise CostError(f"{who} refuses this input: {self._message(a)}")
        if isinstance(cond, fx.Node) and cond.target is operator.eq and sorted(plain) == [False, True] and \
                not any(isinstance(v, type(UNKNOWN)) for v in operands):
            raise CostError(f"{who} accepts one input size only ({self._message(a)}); read it at that size")
        return None

    def _message(self, bound: dict) -> str:
        """An assertion's message with fx's `Proxy(node)` placeholders replaced by their values."""
        named = {n.name: v for n, v in self.values.items()}
        return re.sub(r"Proxy\((\w+)\)", lambda m: str(named.get(m.group(1), "?")), str(bound.get("message") or ""))

    def python(self, target, args, kwargs):
        """Arithmetic on sizes (x.size(1) // groups): evaluated here, on the calculator's values."""
        if getattr(target, "__module__", None) not in _PY_MODULES and target not in (getattr, len):
            return UNKNOWN
        if any(v is UNKNOWN for v in walk_values((args, kwargs))):
            return UNKNOWN
        try:
            return target(*args, **kwargs)
        except Exception:     # the batch marker in arithmetic, or anything else: not knowable
            return UNKNOWN

    def attribute(self, value, attr: str):
        if isinstance(value, T) and attr == "shape":
            return (BATCH, *self.shape[value.name])
        if isinstance(value, T) and attr == "ndim":
            return len(self.shape[value.name]) + 1
        return UNKNOWN

    def dim(self, t: T, d):
        """A tensor dim (batch = 0) as a per-sample axis; None if it is the batch or not an int."""
        if not isinstance(d, int):
            return None
        ndim = len(self.shape[t.name]) + 1
        if not -ndim <= d < ndim:
            return None
        d %= ndim
        return None if d == 0 else d - 1

    def getitem(self, node, value, index):
        if isinstance(value, Pieces):
            if not isinstance(index, int) or not -len(value.bounds) <= index < len(value.bounds):
                return UNKNOWN
            start, stop = value.bounds[index]
            return self.emit(spec.Slice(value.axis, start, stop), [value.source], node)
        if isinstance(value, T):
            return self.index(node, value, index)
        if isinstance(value, (tuple, list)) and isinstance(index, (int, slice)):
            try:
                return value[index]
            except IndexError:
                return UNKNOWN
        return UNKNOWN

    def index(self, node, t: T, index):
        """x[:, a:b, ::s] -> Slice per sliced axis; indexing the batch or by integers is unknown."""
        index = index if isinstance(index, tuple) else (index,)
        if len(index) == 2 and index[0] == slice(None) and isinstance(index[1], int) and \
                not isinstance(index[1], bool) and self.shape[t.name]:     # x[:, 0]: ViT's class token
            n = self.shape[t.name][0]
            if not isinstance(n, int) or not -n <= index[1] < n:
                return self.opaque(node, "getitem")
            return self.emit(spec.Select(0, index[1] % n), [t], node)
        if not index or not all(isinstance(i, slice) for i in index) or index[0] != slice(None):
            return self.opaque(node, "getitem")
        if len(index) > len(self.shape[t.name]) + 1 or any(
                not all(isinstance(v, int) or v is None for v in (i.start, i.stop, i.step)) for i in index):
            return self.opaque(node, "getitem")
        out = t
        for axis, i in enumerate(index[1:]):
            if i != slice(None):
                if out is not t:
                    del self.origin[out.name]      # a step inside one fx op: no tensor of its own
                out = self.emit(spec.Slice(axis, i.start or 0, i.stop, i.step or 1), [out], node)
        return out

    def flatten(self, node, x, start, end):
        """torch.flatten; a partial one is the View merging those axes, whatever their sizes, where that
        counts as the Reshape of the sizes seen does."""
        shape = self.shape[x.name]
        op = ops.flatten(start, end, shape)
        if isinstance(op, spec.Reshape):
            ndim = len(shape) + 1
            view = spec.View(start % ndim - 1, end % ndim - 1, (-1,))
            op = view if self.same_here(view, op, shape) else op
        return None if op is None else self.emit(op, [x], node)

    # --- tensor methods and shape functions -------------------------------------------------------
    def call_method(self, node: fx.Node):
        method = node.target
        (x, *args), kwargs = self.args(node)
        if isinstance(x, Attr) and method in ("view", "reshape") and x.view is None:
            return self.viewed(node, x, args)
        if isinstance(x, Attr) and method == "expand" and x.view is None:
            return self.expanded(node, x, args)
        if not isinstance(x, T):
            return self.python(getattr(type(x), method, None), (x, *args), kwargs) if x is not UNKNOWN else UNKNOWN
        if method in ops.ALIAS_METHODS:
            return x
        if method in ops.ACTIVATION_METHODS:
            return self.emit(spec.Activation(ops.ACTIVATION_METHODS[method]), [x], node)
        if method in ("size", "dim"):
            full = (BATCH, *self.shape[x.name])
            if method == "dim":
                return len(full)
            d = ops.bind(ops.METHOD_SIGNATURES["size"], tuple(args), kwargs, "size")["dim"]
            return full if d is None else (full[d] if isinstance(d, int) and -len(full) <= d < len(full) else UNKNOWN)
        if method in ("add", "add_", "mul", "mul_", "div", "div_"):
            stem = method.rstrip("_")
            a = ops.bind(ops.METHOD_SIGNATURES[stem], tuple(args), kwargs)
            target = {"add": torch.add, "mul": torch.mul, "div": torch.div}[stem]
            return self.arithmetic(node, target, (x, a["other"]), {"alpha": a.get("alpha", 1)})
        if method in ("view", "reshape", "permute"):
            sizes = args[0] if len(args) == 1 and isinstance(args[0], (tuple, list)) else tuple(args)
            key = "shape" if method != "permute" else "dims"
            result = self.shape_op(node, "reshape" if method == "view" else method, x, {key: sizes})
        else:
            names = ops.METHOD_SIGNATURES.get(method)
            result = None
            if names is not None:
                a = ops.bind(names, tuple(args), kwargs, method)
                result = self.flatten(node, x, a["start_dim"], a["end_dim"]) if method == "flatten" else \
                    self.shape_op(node, method, x, a)
        return self.opaque(node, method) if result is None else result

def read_fx(module: torch.nn.Module, input_shape: tuple, name: str | None = None, strict: bool = False,
            modules: dict | None = None):
    """(Graph spec, fx Graph, reader) for a module in eval mode; `strict`: raise `Unread` at the
    first op no rule knows instead of running the model for its shape.  `modules`: the module's
    `dict(named_modules())`, when the caller has it."""
    graph = trace(module, modules)
    reader = FxReader(module, graph, input_shape, strict, modules)
    return reader.read(name), graph, reader

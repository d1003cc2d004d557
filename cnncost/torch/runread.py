"""The run-time reader: a spec made from what a model really executes.

One forward pass runs under a `TorchDispatchMode` (as `torch.utils.flop_counter.FlopCounterMode`
does) with forward hooks tracking the module stack (as torch's `ModuleTracker` does), autograd on
(the path training takes).  It runs on meta tensors (parameters swapped for meta copies: no
arithmetic, no memory); if the model's Python needs values (data-dependent control flow, `.item()`,
detection's box filtering) it runs again on real CPU tensors drawn with a fixed seed, so one model
gives one table every time.

What becomes spec rows:
- a call of a module the reader knows by type (`cnncost.torch.ops.MODULES`) is one row named by
  its path (`layer1.0.conv1`, a second call `...#2`) made from its attributes; the ATen operators it
  runs are rolled up inside it (`cnncost.torch.runcalls`, which also takes
  `F.scaled_dot_product_attention` whole);
- every other ATen operator that reads the input (directly or not) becomes the spec layer its
  arguments describe (`cnncost.torch.aten`), named `owner.op` after the innermost module running;
- an operator no rule knows is its own `Opaque` row named `aten.op` under that module path: its
  cells are unknown and the total incomplete, never zero;
- parameters read outside known modules become `Param` rows once each (a tensor computed from a
  parameter shares the parameter's row), so parameters are counted once; a parameter no executed
  operator reads is "unused" (`Read.unused`), never counted.

Shapes are per sample: the run uses batch 1 and a tensor's leading size 1 is dropped (with two or
more dimensions), so a `(1, N, C)` parameter is an `(N, C)` table, never a batch axis.
"""
from __future__ import annotations

from collections import Counter

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves
from torch.utils.weak import WeakIdKeyDictionary

from cnncost import rules, spec
from cnncost.errors import CostError
from cnncost.torch import aten, ops
from cnncost.torch.aten_call import sample_shape
from cnncost.torch.runcalls import ModuleCalls


class Lazy:
    """Another output of an op whose first output has a node: a node is made only if it is read."""

    def __init__(self, label: str, source: str, owner: str):
        self.label, self.source, self.owner = label, source, owner


class RunReader(ModuleCalls, TorchDispatchMode):
    def __init__(self, root: torch.nn.Module, params: dict, meta: bool = False):
        super().__init__()
        self.meta = meta                         # on meta tensors: slow Python meta kernels may be skipped
        self.root = root
        self.param_path = params                 # id(tensor the run sees) -> parameter path
        self.paths = {id(m): p for p, m in root.named_modules()}
        self.nodes, self.shape, self.origin = [], {}, {}
        self.node_of = WeakIdKeyDictionary()     # tensor -> node name | Lazy
        self.derived = WeakIdKeyDictionary()     # tensor the input does not reach -> parameter paths it comes from
        self.constants = WeakIdKeyDictionary()   # tensor neither the input nor a parameter makes -> Constant node
        self.used: set = set()                   # parameter paths some executed op reads
        self.counted: dict = {}                  # parameter path -> node whose row counts it
        self.taken = {spec.INPUT} | set(self.paths.values())
        self.made: list = []                     # node names in the order they were taken (to undo an attempt)
        self.calls = Counter()
        self.on_parameters = Counter()           # arithmetic on parameters alone (weight standardisation)
        self.stack: list = []                    # module paths, innermost last
        self.frames: list = []
        self.inside = 0                          # > 0 while a known module runs
        self.notes: list = []

    # --- tensors --------------------------------------------------------------------------
    def sample_shape(self, t):
        return sample_shape(t)

    def is_tracked(self, t) -> bool:
        return isinstance(t, torch.Tensor) and t in self.node_of

    def params_in(self, values) -> set:
        found = set()
        for v in values:
            if isinstance(v, torch.Tensor):
                p = self.param_path.get(id(v))
                if p is not None:
                    found.add(p)
                elif v in self.derived:
                    found |= self.derived[v]
        return found

    def node(self, t: torch.Tensor) -> str:
        known = self.node_of[t]
        if isinstance(known, Lazy):
            name = self.emit(spec.Opaque(known.label, sample_shape(t)), [known.source], known.owner, "output")
            self.node_of[t] = name
            return name
        return known

    # --- the graph ------------------------------------------------------------------------------
    def unique(self, owner: str, base: str) -> str:
        name = ops.fresh_name(self.taken, owner, base)
        self.made.append(name)
        return name

    def emit(self, layer, inputs: list, owner: str, base: str, name: str | None = None, shares=None) -> str:
        """Append a node reading node names `inputs`; returns its name."""
        if name is None:
            name = self.unique(owner, base)
        elif name not in self.made:
            self.made.append(name)
        if spec.takes_many(layer):
            arg = tuple(self.shape[i] for i in inputs)
        elif isinstance(layer, (spec.Param, spec.Constant)):
            arg = ()
        else:
            arg = self.shape[inputs[0]]
        cost = None if isinstance(layer, spec.Opaque) else rules.cost(layer, arg, name)
        out = tuple(layer.out_shape) if cost is None else cost.out
        self.last_params = None if cost is None else cost.weights + cost.biases
        self.nodes.append(spec.Node(name, layer, tuple(inputs), shares))
        self.shape[name] = out
        return name

    def attempt(self, layers: list, inputs: list, out: torch.Tensor, owner: str, base: str,
                weights=(), name: str | None = None, shares=None, out_shape=None, shares_at: int = 0,
                constants: bool = False) -> str | None:
        """Emit a chain of layers reading `inputs` (tensors or node names) if the rules give the
        shape the run gave (or `out_shape`); else None, nothing added.  With `constants`, a tensor
        neither the input nor a parameter makes is read as a `Constant`."""
        names = [t if isinstance(t, str) else self.input_node(t, constants) for t in inputs]   # before the mark
        if any(n is None for n in names):
            return None
        mark = (len(self.nodes), len(self.made))
        try:
            roots = self.params_in(weights)
            if shares is None and roots & set(self.counted):
                shares = self.counted[sorted(roots & set(self.counted))[0]]
            given = [w for w in weights if isinstance(w, torch.Tensor)]
            direct = given if all(id(w) in self.param_path for w in given) else []
            for i, layer in enumerate(layers):
                last = i == len(layers) - 1
                cur = self.emit(layer, names, owner, base, name if last else None, shares if i == shares_at else None)
                names = [cur]
                if direct and not isinstance(layer, (spec.Permute, spec.Reshape)) and \
                        self.last_params != sum(w.numel() for w in direct):
                    raise CostError("the rule's parameters are not the weights the op read")
            if self.shape[cur] != (tuple(out_shape) if out_shape is not None else sample_shape(out)):
                raise CostError("shape")
        except CostError:
            del self.nodes[mark[0]:]
            for n in self.made[mark[1]:]:
                self.taken.discard(n)
                self.shape.pop(n, None)
            del self.made[mark[1]:]
            return None
        fresh = sorted(p for p in roots if p not in self.counted)
        for p in roots:
            self.counted.setdefault(p, self.nodes[mark[0]].name)
        if given and not direct:
            self.count_beyond_rule(fresh, given)
        return cur

    def count_beyond_rule(self, fresh: list, given: list):
        """An op whose weight is computed from several parameters (a weight-standardised conv:
        weight and gain): its rule counts as many elements as the weight and bias it reads; each
        parameter beyond those gets a `Param` row of its own, so every parameter read is counted."""
        if self.last_params is None or not isinstance(self.last_params, int):
            return
        numel = {p: self.root.get_parameter(p).numel() for p in fresh}
        read_directly = {self.param_path.get(id(w)) for w in given}
        left = self.last_params - sum(numel[p] for p in fresh if p in read_directly)
        for p in sorted((p for p in fresh if p not in read_directly), key=lambda p: (-numel[p], p)):
            if numel[p] <= left:
                left -= numel[p]
            else:
                self.counted[p] = self.emit(spec.Param(self.param_shape(p)), [], "", "", name=self.unique("", p))

    def input_node(self, t: torch.Tensor, constants: bool = False):
        """The node for a tensor an op reads: its producer, a parameter's row, or (if `constants`)
        a `Constant` row for a tensor made without the input or parameters."""
        if self.is_tracked(t):
            return self.node(t)
        roots = self.params_in([t])
        if not roots:
            if not constants or not isinstance(t, torch.Tensor):
                return None
            if t not in self.constants:
                self.constants[t] = self.emit(spec.Constant(sample_shape(t)), [], "", "constant")
            return self.constants[t]
        path = sorted(roots)[0]
        if len(roots) == 1 and path in self.counted and self.param_path.get(id(t)) == path:
            return self.counted[path]
        for p in sorted(roots):
            if p not in self.counted:
                shape = self.param_shape(p)
                self.counted[p] = self.emit(spec.Param(shape), [], "", "", name=self.unique("", p))
        if self.param_path.get(id(t)) is not None or sample_shape(t) == self.shape[self.counted[path]]:
            return self.counted[path]
        return self.emit(spec.Param(sample_shape(t)), [], "", "", name=self.unique("", f"{path}.derived"),
                         shares=self.counted[path])

    def param_shape(self, path: str) -> tuple:
        t = self.root.get_parameter(path)
        return sample_shape(t) if t.dim() else (1,)

    # --- the dispatch mode ---------------------------------------------------------------------
    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        fast = aten.META_SHORTCUTS.get(func.overloadpacket) if self.meta else None
        out = fast(args, kwargs) if fast is not None else None
        if out is None:
            out = func(*args, **kwargs)
        flat = tree_leaves((args, kwargs))
        roots = self.params_in(flat)
        self.used |= roots
        if self.inside:
            return out
        outs = [t for t in tree_leaves(out) if isinstance(t, torch.Tensor)]
        if roots and outs and func.overloadpacket in aten.PRODUCTS and not any(self.is_tracked(t) for t in flat):
            self.adopt(flat)
        if func.overloadpacket in aten.FROM_SHAPE or not any(self.is_tracked(t) for t in flat):
            if roots and aten.arithmetic(func.overloadpacket):
                self.on_parameters[f"aten.{func.overloadpacket.__name__}"] += 1
            if roots:
                for t in outs:
                    if t not in self.node_of:
                        self.derived[t] = self.derived.get(t, set()) | roots
            return out
        if outs:
            self.operator(func, args, kwargs, outs)
        return out

    def adopt(self, flat):
        """A product the input does not reach but parameters do (Swin V2's position-bias MLP over a
        table of coordinates): it runs every forward pass, so it is counted.  Its operands that no
        parameter makes become `Constant` rows, read like the input from here on."""
        for t in flat:
            if isinstance(t, torch.Tensor) and t.dim() and not self.params_in([t]) and t not in self.node_of:
                self.node_of[t] = self.input_node(t, constants=True)

    def operator(self, func, args, kwargs, outs):
        call = aten.Call(func, args, kwargs, outs, self)
        owner = self.stack[-1] if self.stack else ""
        base = call.packet.__name__.rstrip("_")
        if call.packet is torch.ops.aten.copy_:
            return self.copy(call, owner)
        if call.packet in aten.FILLS:              # overwritten with a constant: no longer made by the input
            for t in [call.args[0], *outs]:
                self.node_of.pop(t, None)
            return
        multi = aten.MULTI.get(call.packet)
        if multi is not None:
            parts = multi(call)
            if parts is not None:
                made = [self.attempt(layers, inputs, o, owner, base) for o, (layers, inputs) in zip(outs, parts)]
                if all(made):
                    for o, n in zip(outs, made):
                        self.node_of[o] = n
                    return
        try:
            result = aten.handle(call)
        except Exception:                        # arguments no rule foresaw: an unknown row, never a failed read
            result = None
        if result is aten.SAME:
            src = next(t for t in tree_leaves(args) if self.is_tracked(t))
            known = self.node_of[src]            # a side output stays unread (autograd detaches them)
            self.node_of[outs[0]] = known if isinstance(known, Lazy) else self.node(src)
            return
        if result is not None:
            layer, inputs, *rest = result
            layers = layer if isinstance(layer, list) else [layer]
            weights = next((r for r in rest if isinstance(r, (list, tuple))), ())
            if aten.BATCHED in rest:
                name = self.batched(layers, inputs, outs[0], owner, base, weights)
            else:
                name = self.attempt(layers, inputs, outs[0], owner, base, weights)
            if name is None and isinstance(layer, (spec.Add, spec.Mul, spec.Binary)):
                name = self.stand_in(layer, inputs, outs[0], owner, base)
            if name is None and aten.BATCHED not in rest:     # an operand is a constant the model made
                name = self.attempt(layers, inputs, outs[0], owner, base, weights, constants=True)
            if name is not None:
                self.bind(outs, name, f"aten.{base}", owner, side=aten.SIDE in rest)
                return
        if all(t.numel() == 0 for t in outs):     # nothing to compute: no detection passed the threshold
            ins = [self.node(t) for t in tree_leaves((call.args, call.kwargs)) if self.is_tracked(t)]
            name = self.emit(spec.Gather(f"{base} (no elements)", sample_shape(outs[0])), ins[:1], owner, base)
            for t in outs:
                self.node_of[t] = name
            return
        self.unknown(call, outs, owner, base)

    def batched(self, layers, inputs, out, owner, base, weights):
        """A layer over images the model batched itself: its weights are counted by their own Param
        rows (once), the folded layer's copies are shared with them."""
        params = [w for w in weights if isinstance(w, torch.Tensor) and id(w) in self.param_path]
        if len(params) != len([w for w in weights if isinstance(w, torch.Tensor)]):
            return None
        owners = [self.input_node(w) for w in params]
        return self.attempt(layers, inputs, out, owner, base, (), shares=owners[0] if owners else None, shares_at=1)

    def stand_in(self, layer, inputs, out, owner, base):
        """x (op) c where c is a constant no parameter makes (a buffer, a mask): one elementwise
        function of x, when the result has x's shape."""
        tracked = [t for t in inputs if self.is_tracked(t)]
        if len(tracked) != 1 or sample_shape(out) != sample_shape(tracked[0]):
            return None
        fn = {spec.Add: "add", spec.Mul: "mul"}.get(type(layer), getattr(layer, "op", None))
        if fn not in spec.UNARY:
            return None
        return self.attempt([spec.Unary(fn)], tracked, out, owner, base)

    def bind(self, outs, name: str, label: str, owner: str, side: bool = False):
        """outs[0] is node `name`; the other outputs too if `side` (top-k's indices: the same work,
        the same shape), else a node made only if read."""
        self.node_of[outs[0]] = name
        for t in outs[1:]:
            if t not in self.node_of:
                same = side and sample_shape(t) == sample_shape(outs[0])
                self.node_of[t] = name if same else Lazy(label, name, owner)

    def unknown(self, call, outs, owner: str, base: str):
        leaves = [t for t in tree_leaves((call.args, call.kwargs)) if isinstance(t, torch.Tensor)]
        src = next((self.node(t) for t in leaves if self.is_tracked(t)), None) or \
            next(self.input_node(t) for t in leaves if self.params_in([t]))
        label = f"aten.{call.packet.__name__}"
        name = self.emit(spec.Opaque(label, sample_shape(outs[0])), [src], owner, base)
        self.bind(outs, name, label, owner)

    def copy(self, call, owner: str):
        """dst.copy_(src): dst (and the tensor it is a view of, as detection's padded batch) now holds src."""
        dst, src = call.args[0], call.args[1]
        if not self.is_tracked(src):
            self.node_of.pop(dst, None)
            return
        self.node_of[dst] = self.node(src)
        base = dst._base
        if base is not None and base not in self.node_of:
            if sample_shape(base) == sample_shape(src):
                self.node_of[base] = self.node(src)
            else:      # pasted into part of a larger tensor (a mask into its image): values moved
                self.node_of[base] = self.emit(spec.Gather("copy_", sample_shape(base)), [self.node(src)], owner,
                                               "copy")

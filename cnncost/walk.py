"""The one traversal: threads the shape and receptive field through Sequence, Concat and
Residual, applies the rules and the convention, and sums the totals into a `Report`.

Receptive field per axis (Araujo et al. 2019, "Computing receptive fields of CNNs", eq. 1-3):
    size_out  = size_in + (d*(k-1)) * jump_in
    jump_out  = jump_in * s
    start_out = start_in + ((d*(k-1))/2 - pad_before) * jump_in
Branches and residual sums see the union of their inputs' fields.  In a `Graph`, a merge whose
input is broadcast along H or W (squeeze-and-excitation's Cx1x1 gate) reads that input's fixed
field at every output position; it joins the union as the smallest translating field covering it
at all n output positions: size + (n-1)*jump, centred (n-1)*jump/2 earlier.  A parameter has no
field (size 0) and leaves the union unchanged.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace
from fractions import Fraction

from cnncost import conventions, rules, spec
from cnncost.errors import CostError
from cnncost.memory import memory
from cnncost.report import RF, VALUE_DEPENDENT, Report, Row
from cnncost.sizes import add, equal, exact, format_input, half, is_concrete, numel_of, smax, smin, tidy


@dataclass
class _State:
    shape: tuple
    rf: tuple  # (RF h, RF w)
    src: int = -1  # index of the row whose output this is; -1 = the network input


class Namer:
    """Names nodes as the walk meets them: the spec's name, else kind + a running count per kind
    (conv1, conv2, ...).  The PyTorch builder calls it in the same order, so module paths equal
    row names."""

    def __init__(self):
        self.counters = Counter()

    def __call__(self, node, prefix: str, default_kind: str) -> str:
        if node.name is None:
            self.counters[default_kind] += 1
            return f"{prefix}{default_kind}{self.counters[default_kind]}"
        if "." in node.name:
            raise CostError(f"{prefix}{node.name}: names may not contain '.'; nest named Sequences instead")
        return f"{prefix}{node.name}"


def branch_prefix(branch, inner: str, index: int) -> str:
    """Named branches nest under their own name; unnamed ones under b1, b2, ..."""
    return inner if getattr(branch, "name", None) else f"{inner}b{index + 1}."


@dataclass
class _Walk:
    convention: conventions.Convention
    batch: object
    rows: list = field(default_factory=list)
    name: Namer = field(default_factory=Namer)
    unknown: Counter = field(default_factory=Counter)

    def node(self, node, state: _State, prefix: str, depth: int) -> _State:
        if isinstance(node, spec.Sequence):
            inner = prefix if node.name is None else f"{prefix}{node.name}."
            for child in node.layers:
                state = self.node(child, state, inner, depth + (node.name is not None))
            return state
        if isinstance(node, spec.Concat):
            return self.concat(node, state, prefix, depth)
        if isinstance(node, spec.Residual):
            return self.residual(node, state, prefix, depth)
        if isinstance(node, spec.Graph):
            return self.graph(node, state, prefix, depth)
        if isinstance(node, spec.Opaque):
            return self.opaque(node, state, prefix, depth)
        return self.layer(node, state, prefix, depth)

    def layer(self, layer, state: _State, prefix: str, depth: int, who: str | None = None) -> _State:
        kind = rules.kind(layer)
        who = who or self.name(layer, prefix, kind)
        c = rules.cost(layer, (state.shape,) if spec.takes_many(layer) else state.shape, who)
        rf = _apply(state.rf, c.window)
        self.emit(who, kind, depth, state.shape, c.out, c.weights, c.biases, c.macs, c.ops, rf, c.work, (state.src,), layer)
        return _State(c.out, rf, len(self.rows) - 1)

    def emit(self, name, kind, depth, in_shape, out, weights, biases, macs, ops, rf, work, inputs=(), layer=None):
        conv = self.convention
        elements = numel_of(out) * self.batch
        counted = conv.counts_flops(kind, ops)
        flops = conv.flops(macs, ops) * self.batch if counted else 0
        macs_b = macs * self.batch
        work = dict(work)
        if not counted:
            work["flops"] = f"0 ({conv.name} does not count this {kind})"
        elif not conv.knows_flops(ops):
            flops = None
            self.unknown[f"{kind}{VALUE_DEPENDENT}"] += 1
            work["flops"] = f"unknown: how much {kind} computes depends on the values"
        elif macs or any(conv.per_op.get(k) for k in ops):
            batch = f" x batch {self.batch}" if self.batch != 1 else ""
            work["flops"] = f"{conv.flops_work(macs, ops)}{batch} = {exact(flops)}"
        self.rows.append(Row(
            name=name, kind=kind, depth=depth, input_shape=tuple(in_shape), output_shape=tuple(out),
            weights=weights, biases=biases,
            activations=elements if conv.counts_activations(kind) else
            sum(ops.get(c, 0) for c in conv.activation_ops) * self.batch,
            macs=macs_b, flops=flops, rf=rf, work=work, elements=elements, inputs=tuple(inputs), layer=layer))

    def concat(self, node: spec.Concat, state: _State, prefix: str, depth: int) -> _State:
        who = self.name(node, prefix, "concat")
        inner = f"{who}."
        outs = []
        for i, branch in enumerate(node.branches):
            outs.append(self.node(branch, state, branch_prefix(branch, inner, i), depth + 1))
        spatial = outs[0].shape[1:]
        for o in outs[1:]:
            if len(o.shape) != len(outs[0].shape) or not all(equal(a, b) for a, b in zip(o.shape[1:], spatial)):
                shapes = ", ".join(_shape_text(o.shape) for o in outs)
                raise CostError(f"{who}: branches give different spatial sizes ({shapes}); cannot concatenate")
        out = (add(*[o.shape[0] for o in outs]), *spatial)
        rf = _union([o.rf for o in outs])
        self.emit(who, "concat", depth, state.shape, out, 0, 0, 0, {}, rf, {}, tuple(o.src for o in outs))
        return _State(out, rf, len(self.rows) - 1)

    def residual(self, node: spec.Residual, state: _State, prefix: str, depth: int) -> _State:
        who = self.name(node, prefix, "block")
        body = self.node(node.body, state, f"{who}.", depth + 1)
        short = state if node.shortcut is None else self.node(node.shortcut, state, f"{who}.shortcut.", depth + 1)
        if len(body.shape) != len(short.shape) or not all(equal(a, b) for a, b in zip(body.shape, short.shape)):
            raise CostError(f"{who}: body gives {_shape_text(body.shape)} but the shortcut gives "
                            f"{_shape_text(short.shape)}; a projection shortcut must match them")
        rf = _union([body.rf, short.rf])
        n = numel_of(body.shape)
        self.emit(f"{who}.add", "add", depth + 1, body.shape, body.shape, 0, 0, 0, {"add": n}, rf,
                  {"add": f"{exact(n)} additions"}, (body.src, short.src))
        return _State(body.shape, rf, len(self.rows) - 1)

    def graph(self, node: spec.Graph, state: _State, prefix: str, depth: int) -> _State:
        """Nodes in order; each reads the states of the nodes it names.  Row name = prefix + node name."""
        inner = prefix if node.name is None else f"{prefix}{node.name}."
        depth += node.name is not None
        states = {spec.INPUT: state}
        for n in node.nodes:
            ins = [states[i] for i in n.inputs]
            who, op = f"{inner}{n.name}", n.op
            if isinstance(op, (spec.Param, spec.Constant)):
                c = rules.cost(op, (), who)
                out = _State(c.out, (NONE, NONE), len(self.rows))
                self.rows.append(Row(name=who, kind=rules.kind(op), depth=depth, input_shape=(), output_shape=c.out,
                                     weights=c.weights, biases=0, activations=0, macs=0, flops=0,
                                     rf=out.rf, work=c.work, elements=0))
            elif isinstance(op, spec.MERGES):
                out = self.merge(op, ins, who, depth)
            elif isinstance(op, spec.CONTAINERS):
                out = self.node(replace(op, name=None), ins[0], f"{who}.", depth + 1)
            elif isinstance(op, spec.Opaque):
                out = self.opaque(op, ins[0], inner, depth, who)
            else:
                out = self.layer(op, ins[0], inner, depth, who)
            if n.shares is not None:
                row = self.rows[-1]
                self.rows[-1] = replace(row, weights=0, biases=0,
                                        work={**row.work, "weights": f"shared with {inner}{n.shares}"})
            states[n.name] = out
        return states[node.output]

    def merge(self, op, ins: list, who: str, depth: int) -> _State:
        c = rules.cost(op, tuple(s.shape for s in ins), who)
        window = c.window
        if isinstance(op, (spec.MatMul, spec.AddMatMul)) and ins[-1].rf == (NONE, NONE):
            window = None   # a product with a learned matrix mixes only the contracted axis, as Linear
        rf = _apply(_union(_merge_fields(ins, c.out)), window)
        self.emit(who, rules.kind(op), depth, ins[0].shape, c.out, c.weights, c.biases, c.macs, c.ops, rf, c.work,
                  tuple(s.src for s in ins), op)
        return _State(c.out, rf, len(self.rows) - 1)

    def opaque(self, node: spec.Opaque, state: _State, prefix: str, depth: int, who: str | None = None) -> _State:
        who = who or self.name(node, prefix, node.op)
        out = state.shape if node.out_shape is None else tuple(node.out_shape)
        self.unknown[node.op] += 1
        self.rows.append(Row(name=who, kind=node.op, depth=depth, input_shape=state.shape, output_shape=out,
                             weights=None, biases=None, activations=None, macs=None, flops=None,
                             rf=(UNKNOWN, UNKNOWN), known=False, elements=numel_of(out) * self.batch,
                             work={"note": f"no rule for {node.op}: cost and receptive field unknown"},
                             inputs=(state.src,)))
        return _State(out, (UNKNOWN, UNKNOWN), len(self.rows) - 1)


#: the field of something that reads no input pixel (a parameter)
NONE = RF(size=0)
#: the field after an op whose window is not known: shown as '?', never passed through
UNKNOWN = RF(size=None, jump=None, start=None)


def _unknown(rf: RF) -> bool:
    return rf.size is None


def _apply(rf: tuple, window) -> tuple:
    """The (h, w) field after a window: its last two axes act on (H, W), a 1-axis window on W."""
    if window is None:
        return rf
    if window.unknown:
        return (UNKNOWN, UNKNOWN)
    n = len(window.kernel)
    if n == 1:
        return rf[0], _through(rf[1], window, 0)
    return _through(rf[0], window, n - 2), _through(rf[1], window, n - 1)


def _merge_fields(ins: list, out: tuple) -> list:
    """Each input's field as seen from every output position of a merge.  Along an axis where an
    input has size 1 and the output n > 1, its fixed field F becomes the translating field, with the
    other inputs' jump j, that covers F at all n positions: size + (n-1)*j, centred (n-1)*j/2 earlier."""
    if len(out) < 3:
        return [s.rf for s in ins]
    fields = [list(s.rf) for s in ins]
    for axis in range(2):
        dim = axis - 2
        n_out = out[dim]
        if is_concrete(n_out) and n_out == 1:
            continue
        spread_of = [len(s.shape) >= -dim and is_concrete(s.shape[dim]) and s.shape[dim] == 1 or len(s.shape) < -dim
                     for s in ins]
        if any(_unknown(s.rf[axis]) for s in ins):
            continue
        moving = [s.rf[axis].jump for s, b in zip(ins, spread_of) if not b and s.rf[axis].size != 0]
        if not moving:
            continue
        jump = smax(*moving)
        for f, s, b in zip(fields, ins, spread_of):
            rf = s.rf[axis]
            if b and rf.size != 0:
                spread = (n_out - 1) * jump
                f[axis] = RF(size=tidy(add(rf.size, spread)), jump=jump,
                             start=tidy(add(rf.start, -half(spread) if is_concrete(spread) else -spread / 2)))
    return [tuple(f) for f in fields]


def _through(rf: RF, w: rules.Window, axis: int) -> RF:
    """size + d(k-1)*jump, jump*stride, start + (d(k-1)/2 - pad)*jump (Araujo et al., "Computing
    receptive fields of convolutional neural networks", Distill 2019)."""
    size, jump, start = rf.size, rf.jump, rf.start
    k, d, s, p = w.kernel[axis], w.dilation[axis], w.stride[axis], w.pad[axis]
    if type(size) is int and type(jump) is int and type(k) is int and type(d) is int and type(s) is int \
            and type(p) is int and (type(start) is int or type(start) is Fraction):
        if size == 0:                  # plain numbers, the common case: no sympy-safe helpers
            return rf
        moved = d * (k - 1) * jump
        return RF(size=size + moved, jump=jump * s,
                  start=start + (moved // 2 if moved % 2 == 0 else Fraction(moved, 2)) - p * jump)
    if _unknown(rf) or (is_concrete(rf.size) and rf.size == 0):
        return rf
    span_minus_1 = w.dilation[axis] * (w.kernel[axis] - 1)
    return RF(size=tidy(rf.size + span_minus_1 * rf.jump),
              jump=tidy(rf.jump * w.stride[axis]),
              start=add(rf.start, (half(span_minus_1) if is_concrete(span_minus_1) else span_minus_1 / 2) * rf.jump,
                        -w.pad[axis] * rf.jump))


def _union(fields: list) -> tuple:
    """Per axis, the smallest field covering every branch's field (centre start, half-width (size-1)/2)."""
    out = []
    for axis in range(2):
        if any(_unknown(f[axis]) for f in fields):
            out.append(UNKNOWN)
            continue
        items = [f[axis] for f in fields if not (is_concrete(f[axis].size) and f[axis].size == 0)]
        if not items:
            out.append(NONE)
            continue
        if len(items) == 1:
            out.append(items[0])
            continue
        if all(is_concrete(r.size) and is_concrete(r.start) and is_concrete(r.jump) for r in items):
            lo = min(r.start - half(r.size - 1) for r in items)       # plain numbers: no sympy-safe helpers
            hi = max(r.start + half(r.size - 1) for r in items)
            out.append(RF(size=tidy(hi - lo + 1), jump=max(r.jump for r in items), start=tidy(half(lo + hi))))
            continue
        lo = smin(*[add(r.start, -half(r.size - 1) if is_concrete(r.size) else -(r.size - 1) / 2) for r in items])
        hi = smax(*[add(r.start, half(r.size - 1) if is_concrete(r.size) else (r.size - 1) / 2) for r in items])
        size = add(hi, -lo if is_concrete(lo) else -lo, 1)
        out.append(RF(size=tidy(size), jump=smax(*[r.jump for r in items]), start=tidy(half(add(lo, hi)))))
    return tuple(out)


def _shape_text(shape) -> str:
    return "x".join(str(s) for s in shape)


def _sum(values):
    known = [v for v in values if v is not None]
    return tidy(add(*known)) if known else 0


def root(model):
    """The top-level Sequence's (or Graph's) name is the model's name, not a path prefix of its rows."""
    if isinstance(model, (spec.Sequence, spec.Graph)) and model.name:
        return replace(model, name=None)
    return model


def analyze(model, input_shape: tuple, *, batch=1, convention="cnncost", dtype="fp32", name=None) -> Report:
    """Evaluate a spec on a per-sample input shape, (C, H, W) or (F,): the whole calculator."""
    conv = conventions.get(convention) if isinstance(convention, str) else convention
    for s in input_shape:
        if is_concrete(s) and s < 1:
            raise CostError(f"input sizes must be positive, got {format_input(input_shape)}")
    if is_concrete(batch) and batch < 1:
        raise CostError(f"batch must be a positive integer, got {batch}")
    walk = _Walk(conv, batch)
    start = _State(tuple(input_shape), (RF(), RF()))
    end = walk.node(root(model), start, "", 0)
    rows = tuple(walk.rows)
    weights, biases = _sum(r.weights for r in rows), _sum(r.biases for r in rows)
    last_rf = end.rf
    total = {
        "name": "TOTAL",
        "output_shape": end.shape,
        "weights": weights,
        "biases": biases,
        "params": tidy(add(weights, biases)),
        "activations": _sum(r.activations for r in rows),
        "macs": _sum(r.macs for r in rows),
        "flops": _sum(r.flops for r in rows),
        "rf": last_rf[0].size if str(last_rf[0].size) == str(last_rf[1].size) else (last_rf[0].size, last_rf[1].size),
    }
    mem = {k: (tidy(v) if k != "dtype" else v) for k, v in memory(rows, input_shape, batch, total["params"], dtype).items()}
    return Report(model=name or getattr(model, "name", None) or "model", input_shape=tuple(input_shape),
                  batch=batch, convention=conv.name, dtype=dtype, rows=rows, total=total, memory=mem,
                  unknown=dict(walk.unknown))

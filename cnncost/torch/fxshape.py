"""The fx reader's shape operations: reshape/view, permute, transpose, squeeze/unsqueeze, mean,
chunk/split, each as the spec layer that gives the same per-sample shape (None: not readable).

A view given sizes the forward read from a tensor (`n, c, h, w = x.size(); x.view(n, g, c // g, h, w)`,
ShuffleNet's channel shuffle) is recorded as a `spec.View` of the axes it changes, which holds at
every input size: a size read from the same axis of the view's input keeps that axis, a size
computed from sizes (or -1) is what is left (-1), a number written in the code stays.  Where that
is not one View, or it would count differently at the size read, the view stays a `Reshape` of the
sizes seen."""
from __future__ import annotations

import operator

from torch import fx

from cnncost import rules, spec
from cnncost.errors import CostError
from cnncost.sizes import equal
from cnncost.torch import ops
from cnncost.torch.fxvalues import BATCH, DERIVED, UNKNOWN, Attr, Pieces, Size, T

#: ops whose output axes are their first input's, when the shapes agree (elementwise, norms)
_SAME_AXES = (spec.Activation, spec.Unary, spec.Scale, spec.Dropout, spec.BatchNorm, spec.LayerNorm, spec.GroupNorm,
              spec.InstanceNorm, spec.Softmax, spec.Add, spec.Mul, spec.Binary)


class ShapeOps:
    """Mixin of `FxReader`: needs `self.shape` (node name -> per-sample shape), `self.emit` and
    `self.dim` (a torch dimension of tensor x as a per-sample axis, or None)."""

    def shape_op(self, node, what: str, x: T, a: dict):
        """reshape / view, permute, transpose, squeeze / unsqueeze, mean, chunk, split (None: unknown)."""
        shape = self.shape[x.name]
        if what == "reshape":
            sizes = tuple(a["shape"])
            if not sizes or sizes[0] is not BATCH or any(s is UNKNOWN or s is BATCH for s in sizes[1:]):
                return None
            return self.view(node, x, sizes[1:])
        if what == "permute":
            dims, ndim = list(a["dims"]), len(shape) + 1
            if len(dims) != ndim or not all(isinstance(d, int) and -ndim <= d < ndim for d in dims):
                return None
            dims = [d % ndim for d in dims]
            if dims[0] != 0:
                return None          # moves the batch dimension
            return self.emit(spec.Permute(tuple(d - 1 for d in dims[1:])), [x], node)
        if what == "transpose":
            d0, d1 = self.dim(x, a["dim0"]), self.dim(x, a["dim1"])
            if d0 is None or d1 is None:
                return None
            dims = list(range(len(shape)))
            dims[d0], dims[d1] = d1, d0
            return self.emit(spec.Permute(tuple(dims)), [x], node)
        if what in ("squeeze", "unsqueeze"):
            return self.squeeze(node, what, x, a["dim"])
        if what == "mean":
            dims = a["dim"]
            if dims is None:
                return None
            axes = [self.dim(x, d) for d in (dims if isinstance(dims, (tuple, list)) else (dims,))]
            if any(ax is None for ax in axes):
                return None
            return self.emit(spec.Mean(tuple(axes), bool(a["keepdim"])), [x], node)
        if what in ("chunk", "split"):
            return self.pieces(x, what, a)
        return None

    def squeeze(self, node, what, x, d):
        shape = self.shape[x.name]
        if what == "unsqueeze":
            if not isinstance(d, int):
                return None
            d = d % (len(shape) + 2)
            if d == 0:
                return None
            out = (*shape[:d - 1], 1, *shape[d - 1:])
        else:
            dims = range(len(shape)) if d is None else [self.dim(x, d)]
            if any(ax is None for ax in dims):
                return None
            out = tuple(s for i, s in enumerate(shape) if not (i in dims and s == 1))
        return self.emit(spec.Reshape(out), [x], node)

    def pieces(self, x, what, a):
        axis = self.dim(x, a["dim"])
        n = self.shape[x.name][axis] if axis is not None else None
        if axis is None or not isinstance(n, int):
            return None
        if what == "chunk":
            size = -(-n // a["chunks"])
            sizes = [min(size, n - i) for i in range(0, n, size)]
        else:
            s = a.get("split_size_or_sections", a.get("split_size"))
            sizes = [min(s, n - i) for i in range(0, n, s)] if isinstance(s, int) else list(s)
        bounds, start = [], 0
        for s in sizes:
            bounds.append((start, start + s))
            start += s
        return Pieces(x, axis, tuple(bounds))

    # --- where sizes come from, and views recorded from it ---------------------------------------
    def note_source(self, node: fx.Node):
        """Record in `self.sources` where the size(s) fx node `node` computed came from: a `Size` per
        axis for x.size() / x.shape (None for the batch), items of those for indexing, `DERIVED` for
        arithmetic on them."""
        value = self.values.get(node)
        if value is UNKNOWN or isinstance(value, (T, Attr, Pieces)):
            return
        source = self.source_of(node, value)
        if source is not None:
            self.sources[node] = source

    def source_of(self, node: fx.Node, value):
        x = self.values.get(node.args[0]) if node.args and isinstance(node.args[0], fx.Node) else None
        if isinstance(x, T):
            full = (None, *(Size(x.name, i) for i in range(len(self.shape[x.name]))))
            if node.op == "call_method" and node.target == "size":
                d = ops.bind(ops.METHOD_SIGNATURES["size"], tuple(node.args[1:]), node.kwargs, "size")["dim"]
                d = self.values[d] if isinstance(d, fx.Node) else d
                if d is None:
                    return full
                return full[d] if isinstance(d, int) and -len(full) <= d < len(full) else None
            if node.op == "call_function" and node.target is getattr and node.args[1:] == ("shape",):
                return full
            return None
        if not any(n in self.sources for n in node.all_input_nodes):
            return None
        if node.op == "call_function" and node.target is operator.getitem:
            items, index = self.source_tree(node.args[0]), node.args[1]
            index = self.values[index] if isinstance(index, fx.Node) else index
            if isinstance(items, tuple) and isinstance(index, (int, slice)):
                try:
                    return items[index]
                except IndexError:
                    return None
            return None
        if node.op == "call_function" and node.target is operator.add and isinstance(value, tuple):
            parts = [self.source_tree(a) for a in node.args[:2]]
            vals = [self.values[a] if isinstance(a, fx.Node) else a for a in node.args[:2]]
            if all(isinstance(v, (tuple, list)) for v in vals):
                return tuple(e for p, v in zip(parts, vals)
                             for e in (p if isinstance(p, tuple) and len(p) == len(v) else (None,) * len(v)))
        if isinstance(value, (tuple, list)):
            return (DERIVED,) * len(value)
        return DERIVED

    def source_tree(self, arg):
        """`arg` (fx nodes, literals, tuples of them) with each size replaced by its source (None: a
        number written in the code)."""
        if isinstance(arg, fx.Node):
            return self.sources.get(arg)
        if isinstance(arg, (tuple, list)):
            return tuple(self.source_tree(a) for a in arg)
        return None

    def view_sources(self, node: fx.Node, n: int) -> tuple:
        """The source of each of the `n` sizes a view / reshape call was given (batch included)."""
        if node.op == "call_method":
            rest = node.args[1:]
            first = self.values[rest[0]] if rest and isinstance(rest[0], fx.Node) else (rest[0] if rest else None)
            tree = self.source_tree(rest[0] if len(rest) == 1 and isinstance(first, (tuple, list)) else rest)
        elif node.op == "call_function" and node.target in ops.SIGNATURES:
            tree = self.source_tree(ops.bind(ops.SIGNATURES[node.target], node.args, node.kwargs).get("shape"))
        else:
            tree = None
        if not isinstance(tree, tuple) or len(tree) != n or any(isinstance(s, tuple) for s in tree):
            return (None,) * n
        return tree

    def view(self, node, x: T, sizes: tuple):
        """x.view / reshape to per-sample `sizes`: a `View` of the axes that change where the sizes read
        from tensors say which axes are kept, else `Reshape(sizes)`."""
        reshape = spec.Reshape(sizes)
        sources = self.view_sources(node, len(sizes) + 1)[1:]
        op = self.view_op(x, sizes, sources) if any(s is not None for s in sources) else None
        if op is not None and not self.same_here(op, reshape, self.shape[x.name]):
            op = None
        return self.emit(op or reshape, [x], node)

    def view_op(self, x: T, sizes: tuple, sources: tuple):
        """The `View` that gives `sizes` from x's shape at every input size, or None.  A size read from
        an axis that is the same axis of x (followed back through ops that keep axes) keeps that axis;
        in between, axes group as their sizes multiply; the groups that change (an axis split, axes
        merged) become one View whose sizes are the numbers written in the code and -1 for the one
        size computed from sizes or written -1."""
        shape = self.shape[x.name]
        n, m = len(shape), len(sizes)
        try:
            out = rules.cost(spec.Reshape(sizes), shape, "view").out
        except CostError:
            return None            # the plain Reshape reports it
        free = [s is not None or (isinstance(t, int) and t == -1) for t, s in zip(sizes, sources)]
        anchors, made = [], {node.name: node for node in self.nodes}
        for j, s in enumerate(sources):
            if isinstance(s, Size):
                b = next((b for b in range(n) if self.same_axis(made, x.name, b, s)), None)
                if b is not None:
                    anchors.append((j, b))
        groups, pj, pb = [], -1, -1
        for j, b in anchors + [(m, n)]:
            if j <= pj or b <= pb:
                return None
            part = _groups(shape[pb + 1:b], out[pj + 1:j])
            if part is None:
                return None
            groups += [(pb + 1 + i0, pb + 1 + i1, pj + 1 + j0, pj + 1 + j1) for i0, i1, j0, j1 in part]
            pj, pb = j, b
        changed = [g for g in groups if not (g[1] - g[0] == 1 and g[3] - g[2] == 1 and free[g[2]])]
        if not changed:
            return spec.View(0, 0, (-1,)) if n else None          # every axis kept
        i0, i1, j0, j1 = changed[0][0], changed[-1][1], changed[0][2], changed[-1][3]
        if any(i0 <= b < i1 for _, b in anchors) or sum(free[j0:j1]) > 1:
            return None
        return spec.View(i0, i1 - 1, tuple(-1 if free[j] else sizes[j] for j in range(j0, j1)))

    def same_here(self, op, reshape: spec.Reshape, shape: tuple) -> bool:
        """Whether `op` gives `reshape`'s output and receptive-field window on `shape`: taking it
        leaves every count at the size read as it was."""
        try:
            a, b = rules.cost(op, shape, "view"), rules.cost(reshape, shape, "view")
        except CostError:
            return False
        return len(a.out) == len(b.out) and all(equal(p, q) for p, q in zip(a.out, b.out)) and a.window == b.window

    def same_axis(self, made: dict, name: str, axis: int, size: Size) -> bool:
        """Whether `axis` of spec node `name`'s output is `size`'s axis, followed back through the
        nodes `made` (name -> spec.Node) that keep axes (elementwise ops, norms, permutes, the other
        axes of slices, concatenations, flattens and views)."""
        while (name, axis) != (size.tensor, size.axis):
            node = made.get(name)
            if node is None or not node.inputs:
                return False
            axis = self.axis_before(node, axis)
            if axis is None:
                return False
            name = node.inputs[0]
        return True

    def axis_before(self, node, b: int):
        """The axis of `node`'s first input that its output axis `b` is, or None."""
        op, before, after = node.op, self.shape[node.inputs[0]], self.shape[node.name]
        n = len(before)
        if isinstance(op, spec.Permute):
            return op.dims[b] % n
        if isinstance(op, (spec.View, spec.Flatten)):
            s, e = (op.start % n, op.end % n)
            k = len(op.sizes) if isinstance(op, spec.View) else 1
            if b < s:
                return b
            if b >= s + k:
                return b - k + e - s + 1
            return s if s == e and k == 1 else None
        if isinstance(op, (spec.Slice, spec.Cat)):
            return None if b == op.axis % n else b
        if isinstance(op, _SAME_AXES) and tuple(before) == tuple(after):
            return b
        return None


def _groups(ins: tuple, outs: tuple):
    """Split sizes `ins` -> `outs` (equal products) into groups (i0, i1, j0, j1) with equal products:
    the smallest such groups in order, trailing size-1 axes joining the last; None if none."""
    if not ins and not outs:
        return []
    if not ins or not outs:
        return None
    if len(ins) == 1 or len(outs) == 1:
        return [(0, len(ins), 0, len(outs))]
    if not all(isinstance(v, int) for v in (*ins, *outs)):
        return None
    groups, i, j = [], 0, 0
    while i < len(ins) and j < len(outs):
        i0, j0, a, b = i, j, ins[i], outs[j]
        i, j = i + 1, j + 1
        while a != b:
            if a < b and i < len(ins):
                a, i = a * ins[i], i + 1
            elif a > b and j < len(outs):
                b, j = b * outs[j], j + 1
            else:
                return None
        groups.append([i0, i, j0, j])
    if any(v != 1 for v in ins[i:]) or any(v != 1 for v in outs[j:]):
        return None
    groups[-1][1], groups[-1][3] = len(ins), len(outs)
    return [tuple(g) for g in groups]

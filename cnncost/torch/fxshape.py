"""The fx reader's shape operations: reshape/view, permute, transpose, squeeze/unsqueeze, mean,
chunk/split, each as the spec layer that gives the same per-sample shape (None: not readable)."""
from __future__ import annotations

from cnncost import spec
from cnncost.torch.fxvalues import BATCH, UNKNOWN, Pieces, T


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
            return self.emit(spec.Reshape(sizes[1:]), [x], node)
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

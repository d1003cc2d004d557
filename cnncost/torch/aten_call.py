"""One executed ATen operator as the run-time reader's handlers see it (`Call`), and the markers
a handler may return.  Shapes are per sample: the reader runs batch 1 and drops a tensor's leading
size 1 (with two or more dimensions), so a count is the one-sample count whatever the layout."""
from __future__ import annotations

def sample_shape(t) -> tuple:
    """The per-sample shape of a tensor seen at batch 1: a leading 1 dropped (2+ dimensions)."""
    shape = tuple(t.shape)
    return shape[1:] if len(shape) >= 2 and shape[0] == 1 else shape


#: marks a layer that folds images the model batched itself into channels: its parameters are the
#: weights' own Param rows, not n copies
BATCHED = "batched"

#: the output is the input's node (a view, copy or cast that changes no value and costs nothing)
SAME = "same"


class Call:
    """One executed operator, as the reader sees it."""

    def __init__(self, func, args, kwargs, outs, reader):
        self.func, self.args, self.kwargs, self.outs, self.reader = func, args, kwargs, outs, reader
        self.packet = func.overloadpacket
        self.schema = func._schema

    def arg(self, i: int, name: str, default=None):
        """Positional argument i or keyword `name`, else the schema's default, else `default`."""
        if i < len(self.args):
            return self.args[i]
        if name in self.kwargs:
            return self.kwargs[name]
        a = self.schema.arguments[i] if i < len(self.schema.arguments) else None
        return a.default_value if a is not None and a.has_default_value() else default

    def shape(self, t) -> tuple:
        return self.reader.sample_shape(t)

    def tracked(self, t) -> bool:
        return self.reader.is_tracked(t)

    def axis(self, t, d: int):
        """A tensor dim as a per-sample axis; None for the (size-1) batch axis itself."""
        n = t.dim()
        d = d % n if n else 0
        if n >= 2 and t.shape[0] == 1:
            return None if d == 0 else d - 1
        return d

    @property
    def out(self):
        return self.outs[0]

"""Results: typed rows and totals that carry their units and whether they are complete.

A row whose operation no rule knows is kept with `known=False` and its costs as None (unknown),
never zero; the report is then `complete=False` and lists the unknown ops by name and count.
"""
from __future__ import annotations

from dataclasses import dataclass, field

UNITS = {
    "weights": "parameters", "biases": "parameters", "params": "parameters",
    "activations": "elements", "macs": "multiply-accumulates", "flops": "FLOP",
    "rf": "input pixels", "memory": "bytes",
}


#: how the walk names a value-dependent op in `Report.unknown` (its FLOPs unknown, the rest known)
VALUE_DEPENDENT = " (value-dependent)"


@dataclass(frozen=True)
class RF:
    """Receptive field along one axis: size in input pixels, jump (product of strides) and the
    centre of the first output position's field, in input pixel coordinates (pixel i at i)."""
    size: object = 1
    jump: object = 1
    start: object = 0


@dataclass(frozen=True)
class Row:
    name: str
    kind: str
    depth: int
    input_shape: tuple
    output_shape: tuple
    weights: object = 0
    biases: object = 0
    activations: object = 0
    macs: object = 0
    flops: object = 0
    rf: tuple = (RF(), RF())
    work: dict = field(default_factory=dict)
    known: bool = True
    elements: object = 0   # output elements for the batch, whatever the convention counts
    inputs: tuple = ()     # indices of the rows whose outputs this row reads; -1 = the network input
    layer: object = field(default=None, compare=False)  # the spec layer, for rules beyond the forward count
    members: tuple = ()    # folded rows: the names of the modules this row holds (cnncost.fold)
    train: dict = field(default_factory=dict, compare=False)  # backward FLOPs and saved bytes (cnncost.training)

    @property
    def params(self):
        if self.weights is None or self.biases is None:
            return None
        return self.weights + self.biases

    @property
    def rf_size(self):
        """An int (or expression) when square, else the (h, w) pair."""
        h, w = self.rf[0].size, self.rf[1].size
        return h if str(h) == str(w) else (h, w)


@dataclass(frozen=True)
class Report:
    model: str
    input_shape: tuple
    batch: object
    convention: str
    dtype: str
    rows: tuple
    total: dict
    memory: dict
    unknown: dict = field(default_factory=dict)   # op name -> count, for ops no rule knows
    folded: bool = False   # activation/dropout/flatten rows merged into the layer they follow
    training: dict = field(default_factory=dict)  # one training step's totals (cnncost.training), if asked

    @property
    def complete(self) -> bool:
        return not self.unknown

    def partial(self, key: str) -> bool:
        """True when total `key` leaves something out: every total when some op has no rule; only
        the FLOPs when what is missing is value-dependent work (nms) whose shapes are known."""
        if not self.unknown:
            return False
        if all(op.endswith(VALUE_DEPENDENT) for op in self.unknown):
            return key == "flops"
        return key != "rf"

    units = UNITS

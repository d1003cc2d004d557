"""Graph: the general container the PyTorch reader produces (DAGs of real models): `Node`s naming
their inputs, in execution order."""
from __future__ import annotations

from dataclasses import dataclass, field

from cnncost.errors import CostError
from cnncost.spec.checks import label, put

#: graph input name: a Node whose inputs include it reads the network's input
INPUT = "input"


def arity(op) -> tuple:
    """(fewest, most) inputs an op takes (most None = any); one input unless the kind says."""
    return getattr(type(op), "arity", (1, 1))


def takes_many(op) -> bool:
    """True for ops whose rule reads a tuple of input shapes (merges, attention, products)."""
    lo, hi = arity(op)
    return hi is None or hi > 1


@dataclass(frozen=True)
class Node:
    """One step of a Graph: `op` (a layer, a container, a merge or a Param) applied to the outputs of
    earlier nodes named in `inputs` (or INPUT).  `name` is the row name and may be a dotted module
    path; a module called again is `path#2`, `path#3`...  `shares` names a node whose parameters this
    one reuses (they are not counted twice)."""
    name: str
    op: object
    inputs: tuple = (INPUT,)
    shares: str | None = None

    def __post_init__(self):
        inputs = (self.inputs,) if isinstance(self.inputs, str) else tuple(self.inputs)
        put(self, inputs=inputs)
        if not self.name or self.name == INPUT:
            raise CostError(f"graph node name {self.name!r} is empty or reserved")
        lo, hi = arity(self.op)
        if hi == 0:
            if inputs:
                raise CostError(f"{self.name}: a {type(self.op).__name__} node takes no inputs")
        elif len(inputs) < lo or (hi is not None and len(inputs) > hi):
            if lo == hi:
                want = {1: "one input", 2: "two inputs"}.get(lo, f"{lo} inputs")
            elif hi is None:
                want = f"{'two' if lo == 2 else lo} or more inputs"
            else:
                want = f"{lo} to {hi} inputs"
            verb = "takes" if lo == hi == 1 else "needs"
            raise CostError(f"{self.name}: {type(self.op).__name__} {verb} {want}, got {len(inputs)}")


@dataclass(frozen=True)
class Graph:
    """A directed acyclic graph of Nodes in execution order; `output` names the node whose result
    the network returns.  The walk and the builder both run the nodes in this order."""
    nodes: tuple
    output: str
    name: str | None = field(default=None, kw_only=True)

    def __post_init__(self):
        put(self, nodes=tuple(self.nodes))
        who = label(self, self.name)
        if not self.nodes:
            raise CostError(f"{who}: a graph needs at least one node")
        seen = {INPUT}
        for n in self.nodes:
            if n.name in seen:
                raise CostError(f"{who}: node name {n.name!r} is used twice")
            for i in n.inputs:
                if i not in seen:
                    raise CostError(f"{who}: node {n.name!r} reads {i!r}, which is not an earlier node")
            if n.shares is not None and n.shares not in seen:
                raise CostError(f"{who}: node {n.name!r} shares parameters with unknown node {n.shares!r}")
            seen.add(n.name)
        if self.output not in seen:
            raise CostError(f"{who}: output {self.output!r} is not a node")

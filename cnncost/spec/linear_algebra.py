"""Products of tensors: torch.matmul (mm, bmm, broadcast batches), addmm/baddbmm, einsum.
Per-sample shapes follow torch.matmul's rules; a Param operand has no batch axis."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import ClassVar

from cnncost.errors import CostError
from cnncost.spec.checks import label


@dataclass(frozen=True)
class MatMul:
    """a @ b (torch.matmul; mm and bmm are its 2-D and 3-D cases)."""
    name: str | None = field(default=None, kw_only=True)
    arity: ClassVar = (2, 2)


@dataclass(frozen=True)
class AddMatMul:
    """beta * input + alpha * (a @ b): torch.addmm and baddbmm; inputs in PyTorch's order
    (input, a, b)."""
    beta: float = 1
    alpha: float = 1
    name: str | None = field(default=None, kw_only=True)
    arity: ClassVar = (3, 3)


_EQUATION = re.compile(r"^[a-zA-Z]*(,[a-zA-Z]*)*(->[a-zA-Z]*)?$")


@dataclass(frozen=True)
class Einsum:
    """torch.einsum(equation, *operands) over per-sample shapes (the equation's letters name the
    per-sample axes); '...' is not supported.  Operands contract left to right, as torch does
    without opt_einsum."""
    equation: str
    name: str | None = field(default=None, kw_only=True)
    arity: ClassVar = (1, None)

    def __post_init__(self):
        eq = self.equation.replace(" ", "")
        if not _EQUATION.match(eq):
            raise CostError(f"{label(self, self.name)}: cannot read einsum equation {self.equation!r} "
                            "(letters, commas and '->' only)")
        object.__setattr__(self, "equation", eq)

    @property
    def terms(self) -> tuple:
        """(input subscripts, output subscripts); an implicit output is the letters used once, sorted."""
        lhs, _, rhs = self.equation.partition("->")
        ins = tuple(lhs.split(","))
        if "->" not in self.equation:
            letters = "".join(ins)
            rhs = "".join(sorted(c for c in set(letters) if letters.count(c) == 1))
        return ins, rhs

"""Recurrent layers (nn.RNN, nn.LSTM, nn.GRU; arguments as in PyTorch, less input_size).
A sample is a (T, F) sequence whether batch_first or not; the output is (T, D*H_out) with D = 2
if bidirectional and H_out = proj_size or hidden_size."""
from __future__ import annotations

from dataclasses import dataclass, field

from cnncost.errors import CostError
from cnncost.spec.checks import choice, count, label, probability

#: gates per cell: the rows of weight_ih are gates * hidden_size (PyTorch's nn.RNN/GRU/LSTM docs)
GATES = {"rnn": 1, "gru": 3, "lstm": 4}


@dataclass(frozen=True)
class Recurrent:
    mode: str
    hidden_size: int
    num_layers: int = 1
    bias: bool = True
    batch_first: bool = False
    dropout: float = 0.0
    bidirectional: bool = False
    proj_size: int = 0
    nonlinearity: str = "tanh"
    name: str | None = field(default=None, kw_only=True)

    def __post_init__(self):
        who = label(self, self.name)
        choice(self.mode, tuple(GATES), "recurrent mode", who)
        count(self.hidden_size, "hidden_size", who)
        count(self.num_layers, "num_layers", who)
        count(self.proj_size, "proj_size", who, minimum=0)
        probability(self.dropout, "dropout", who)
        choice(self.nonlinearity, ("tanh", "relu"), "nonlinearity", who)
        if self.proj_size and self.mode != "lstm":
            raise CostError(f"{who}: proj_size applies to LSTM only")
        if self.proj_size >= self.hidden_size:
            raise CostError(f"{who}: proj_size {self.proj_size} must be smaller than hidden_size {self.hidden_size}")

    @property
    def directions(self) -> int:
        return 2 if self.bidirectional else 1

    @property
    def out_size(self) -> int:
        """H_out: the size of h (proj_size when projecting)."""
        return self.proj_size or self.hidden_size


def RNN(hidden_size, num_layers=1, nonlinearity="tanh", bias=True, batch_first=False, dropout=0.0,
        bidirectional=False, *, name=None) -> Recurrent:
    return Recurrent("rnn", hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                     nonlinearity=nonlinearity, name=name)


def LSTM(hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0, bidirectional=False,
         proj_size=0, *, name=None) -> Recurrent:
    return Recurrent("lstm", hidden_size, num_layers, bias, batch_first, dropout, bidirectional, proj_size, name=name)


def GRU(hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0, bidirectional=False,
        *, name=None) -> Recurrent:
    return Recurrent("gru", hidden_size, num_layers, bias, batch_first, dropout, bidirectional, name=name)

"""A multilayer perceptron on flattened images: the fully connected baseline for CIFAR-10
(32x32x3 = 3072 inputs), two hidden layers of 1000 with ReLU, 10 classes.

Dropout layers appear only when their probability is above 0 (input dropout after the flatten,
hidden dropout after each hidden ReLU; Srivastava et al. 2014, JMLR 15, "Dropout").
`batchnorm=True` puts a BatchNorm (Ioffe & Szegedy 2015) between each hidden fc and its ReLU; with
input_shape (F,) (e.g. (2,) for a function of two variables) the flatten is a no-op.
"""
from __future__ import annotations

from cnncost.errors import CostError
from cnncost.spec import Activation, BatchNorm, Dropout, Flatten, Linear, seq
from cnncost.zoo import register


@register("mlp", input_shape=(3, 32, 32), source="fully connected baseline; dropout as Srivastava et al. 2014",
          summary="MLP 3072-1000-1000-10 with ReLU (options: hidden, classes, dropout_in, dropout_hidden, batchnorm)")
def mlp(hidden: tuple = (1000, 1000), classes: int = 10, dropout_in: float = 0.0, dropout_hidden: float = 0.0,
        batchnorm: bool = False):
    """flatten - [drop_in] - (fc<i> - [bn<i>] - relu<i> - [drop<i>]) per hidden width - fc<last>."""
    hidden = (hidden,) if isinstance(hidden, int) else tuple(hidden)
    if not hidden:
        raise CostError("mlp: hidden must list at least one layer width")
    layers = [Flatten(name="flatten")]
    if dropout_in > 0:
        layers.append(Dropout(dropout_in, name="drop_in"))
    for i, width in enumerate(hidden, start=1):
        layers.append(Linear(width, name=f"fc{i}"))
        if batchnorm:
            layers.append(BatchNorm(name=f"bn{i}"))
        layers.append(Activation("relu", name=f"relu{i}"))
        if dropout_hidden > 0:
            layers.append(Dropout(dropout_hidden, name=f"drop{i}"))
    layers.append(Linear(classes, name=f"fc{len(hidden) + 1}"))
    return seq(*layers)

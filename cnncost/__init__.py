"""cnncost: what a CNN costs, per layer, without running it.

    >>> from cnncost import analyze, zoo
    >>> m = zoo.get("vgg19")
    >>> analyze(m.spec, m.input_shape).total["weights"]   # doctest: +SKIP
    143667240 - 14696 biases ...

The core imports neither torch nor sympy; sympy comes in only when a size is a symbol.
"""
from cnncost.errors import CostError
from cnncost.walk import analyze

__version__ = "0.1.0"
__all__ = ["analyze", "CostError", "__version__"]

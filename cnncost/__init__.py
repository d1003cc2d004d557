"""cnncost: what a CNN costs, per layer, without running it.

    >>> import cnncost
    >>> s = cnncost.summary("vgg19")             # or an nn.Module, or a spec, with input_size=...
    >>> s.total["weights"], s.total["biases"]
    (143652544, 14696)
    >>> print(s)                                 # the table of `cnncost table vgg19`

`cnncost.analyze(spec, input_shape)` is the calculator underneath (a Report).  The core imports
neither torch nor sympy; sympy comes in only when a size is a symbol, torch only for a module.
"""
from cnncost.errors import CostError
from cnncost.summary import Summary, summary
from cnncost.walk import analyze

__version__ = "0.1.0"
__all__ = ["analyze", "summary", "Summary", "CostError", "__version__"]

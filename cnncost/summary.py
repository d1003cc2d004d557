"""`cnncost.summary`: one call from Python, the way torchinfo's `summary(model, input_size=...)`
and fvcore's `FlopCountAnalysis(model, x)` are one call.

    >>> import cnncost
    >>> s = cnncost.summary("vgg19")                  # a zoo name, an nn.Module or a spec
    >>> s.total["params"], s.total["macs"]
    (143667240, 19632062464)
    >>> print(s)                                      # the table `cnncost table vgg19` prints

The model is a zoo name ('resnet-cifar', with `options` such as depth=56), a 'source:name'
('torchvision:resnet50'), a PyTorch `nn.Module` (read by `cnncost.torch.read.read_module`, which
needs torch; the module's train/eval mode is restored afterwards) or a spec
(`cnncost.spec`).  Nothing heavy is imported until a call needs it: `import cnncost` stays
free of torch and sympy.
"""
from __future__ import annotations

from cnncost.errors import CostError


def _shape(input_size, batch):
    """(per-sample shape or None, batch): '224x224x3' -> (3, 224, 224); (C, H, W) as torchinfo
    writes it without the batch; (B, C, H, W) and (B, F) carry the batch; (F,) is flat."""
    if input_size is None:
        return None, batch
    if isinstance(input_size, str):
        from cnncost.sizes import parse_input
        return parse_input(input_size), batch
    size = tuple(int(s) if hasattr(s, "__index__") else s for s in input_size)
    if len(size) in (2, 4):
        if batch is not None and batch != size[0]:
            raise CostError(f"input_size {size} says batch {size[0]} but batch={batch}")
        return size[1:], size[0]
    if len(size) in (1, 3):
        return size, batch
    raise CostError(f"input_size must be (C, H, W), (B, C, H, W), (F,), (B, F) or 'HxWxC', got {input_size!r}")


def _is_module(model) -> bool:
    import sys
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(model, torch.nn.Module)


def summary(model, input_size=None, *, batch=None, convention: str = "cnncost", dtype: str = "fp32",
            no_bias: bool = False, expand: bool = False, name: str | None = None, **options) -> "Summary":
    """Count `model` on `input_size` (default: the zoo model's input; 3x224x224 for a module) and
    return a `Summary`.  `options` go to a zoo model's factory (`depth=56`).  As in `cnncost
    table`, activation, dropout and flatten rows fold into the layer before them unless `expand`."""
    from cnncost.walk import analyze
    shape, batch = _shape(input_size, batch)
    batch = 1 if batch is None else batch
    if isinstance(model, str):
        from cnncost.resolve import analyze as by_name
        report = by_name(model, shape, batch=batch, convention=convention, dtype=dtype, **options)
    elif _is_module(model):
        if options:
            raise CostError(f"options {', '.join(options)} apply to zoo models only")
        from cnncost.torch.read import DEFAULT_INPUT, read_module
        training = model.training
        try:
            read = read_module(model, shape or DEFAULT_INPUT, name=name)
        finally:
            model.train(training)
        report = analyze(read.spec, read.input_shape, batch=batch, convention=convention, dtype=dtype,
                         name=name or read.name)
    else:
        if shape is None:
            raise CostError("a spec needs input_size, e.g. (3, 224, 224) or '224x224x3'")
        if options:
            raise CostError(f"options {', '.join(options)} apply to zoo models only")
        report = analyze(model, shape, batch=batch, convention=convention, dtype=dtype,
                         name=name or getattr(model, "name", None) or "model")
    if not expand:
        from cnncost.fold import fold
        report = fold(report)
    return Summary(report, no_bias=no_bias)


class Summary:
    """A counted model: `.report` (rows and totals with units), `.rows`, `.total`, `.memory`,
    `.complete`; prints as the CLI's table (`str`, rich's `__rich__`, Jupyter's Markdown) and
    exports as `.to_json()`, `.to_csv()`, `.to_markdown()`, `.to_dict()`."""

    def __init__(self, report, *, no_bias: bool = False):
        self.report = report
        self.no_bias = no_bias

    rows = property(lambda self: self.report.rows, doc="per-layer `cnncost.report.Row`s")
    total = property(lambda self: self.report.total, doc="totals: weights, biases, params, macs, flops, ...")
    memory = property(lambda self: self.report.memory, doc="bytes by use, for the dtype")
    complete = property(lambda self: self.report.complete, doc="False when some ops have no rule (totals: + ?)")

    def table(self, fmt: str = "rich", *, width: int | None = None, show_work: bool = False,
              color: bool = False) -> str:
        """The table as `cnncost table` writes it in `fmt`; `width` as the CLI (None: the terminal's)."""
        from cnncost.render import render
        return render(self.report, fmt, no_bias=self.no_bias, show_work=show_work, color=color, width=width)

    def __str__(self) -> str:
        return self.table("rich")

    __repr__ = __str__

    def __rich__(self):
        from rich.text import Text
        return Text(self.table("rich"))

    def _repr_markdown_(self) -> str:
        return self.table("markdown")

    def to_markdown(self) -> str:
        return self.table("markdown")

    def to_csv(self) -> str:
        return self.table("csv")

    def to_json(self) -> str:
        return self.table("json")

    def to_dict(self) -> dict:
        from cnncost.render.json import as_dict
        return as_dict(self.report, no_bias=self.no_bias)

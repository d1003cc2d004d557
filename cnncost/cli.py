"""`cnncost`: per-layer costs of a CNN from the terminal.

Every user error (a CostError, a bad option value, an unknown command or option, a --out that
cannot be written) is one line `error: ...` on stderr and exit code 2; any other exception (a
bug, a failure inside a library) is one line `error: Type: message` and exit code 1; Ctrl-C is
'interrupted' and 130; never a traceback (set CNNCOST_DEBUG=1 to see one).  The parser is argparse: typer, the usual choice, imports pydantic to coerce each
option, which cost more than the whole analysis.  The zoo, the renderers, sympy (symbolic
sizes) and torch (source:name models) are imported inside the commands, so
`cnncost table vgg19` starts fast.
"""
from __future__ import annotations

import argparse
import os
import re
import sys

from cnncost.errors import CostError

FORMATS = "rich, markdown, csv or json"


class Parser(argparse.ArgumentParser):
    """argparse whose usage errors are CostErrors (one line, exit 2) rather than usage + exit 2."""

    def error(self, message):
        raise CostError(message)


def fail(message: str, code: int = 2):
    sys.stderr.write(f"error: {' '.join(str(message).split())}\n")
    sys.exit(code)


def _emit(text: str):
    sys.stdout.write(text)
    sys.stdout.flush()


def _width(a) -> int | None:
    """0 (no limit) under --wide, else None: fit the terminal."""
    return 0 if getattr(a, "wide", False) else None


def _options(a) -> dict:
    if not getattr(a, "option", None):
        return {}
    if ":" in a.model:
        raise CostError(f"{a.model}: --option applies to zoo models only")
    from cnncost import zoo
    return zoo.parse_options(a.model, a.option)


# --- commands -------------------------------------------------------------------------------------

def cmd_list(a):
    from cnncost import zoo
    from cnncost.render.format import shape
    models = [zoo.entry(n) for n in zoo.names()]
    opts = {e.name: zoo.options(e.name) for e in models}
    if a.fmt == "json":
        from cnncost.render.json import dumps
        _emit(dumps([{"name": e.name, "input": shape(e.input_shape), "summary": e.summary, "source": e.source,
                      "notes": e.notes, "options": {k: list(v) if isinstance(v, tuple) else v
                                                    for k, v in opts[e.name].items()}} for e in models]))
        return
    from cnncost.render.simple import render

    def options_text(e):
        return ", ".join(f"{k}={zoo._text(v)}" for k, v in opts[e.name].items())
    rows = [[e.name, shape(e.input_shape), options_text(e), e.summary, e.source] for e in models]
    _emit(render(a.fmt, f"{len(rows)} models", ["name", "input", "options (defaults)", "summary", "source"], rows,
                 ["pass options as `cnncost table resnet-cifar --option depth=56` (-o, repeatable)",
                  "models named source:name (torchvision:resnet50, timm:..., file.py:Class) are read from PyTorch"],
                 priority={4: 2, 3: 1}, wrap={2, 3, 4}, width=_width(a)))


def cmd_table(a):
    from cnncost.render import render
    from cnncost.resolve import analyze
    from cnncost.sizes import parse_size
    extra = ()
    if a.training:
        from cnncost.training.tensors import check_dtype
        from cnncost.training.step import check_optimizer
        check_optimizer(a.optimizer)
        check_dtype(a.dtype)
    elif a.optimizer != "adam":
        raise CostError("--optimizer applies with --training")
    memory_dtype = {"amp-bf16": "fp32"}.get(a.dtype, a.dtype)
    report = analyze(a.model, a.input, batch=parse_size(a.batch, "--batch"), convention=a.convention,
                     dtype=memory_dtype, **_options(a))
    if a.training:
        from cnncost.training.step import training
        report = training(report, optimizer=a.optimizer, dtype=a.dtype, device=a.device)
        extra = ("backward_flops", "saved_bytes")
    if not a.expand:
        from cnncost.fold import fold
        report = fold(report)
    _emit(render(report, a.fmt, no_bias=a.no_bias, show_work=a.show_work, width=_width(a), extra=extra))


def cmd_fit(a):
    from cnncost.resolve import analyze
    from cnncost.training.fit import fit, parse_memory
    from cnncost.training.step import check_optimizer
    from cnncost.training.tensors import check_dtype
    memory = parse_memory(a.memory)
    check_optimizer(a.optimizer)
    check_dtype(a.dtype)
    report = analyze(a.model, a.input, batch=1, convention=a.convention, **_options(a))
    result = fit(report, memory, optimizer=a.optimizer, dtype=a.dtype, device=a.device)
    from cnncost.training.text import fit_text
    _emit(fit_text(report, result, a.fmt))


def cmd_inception(a):
    from cnncost.render import inception as inc
    opts = {k: getattr(a, k) for k in ("c1", "c3", "c5", "r3", "r5", "pool_proj") if getattr(a, k) is not None}
    _emit(inc.render(inc.compare(a.input or "28x28x256", opts, convention=a.convention), a.fmt, width=_width(a)))


def cmd_rf(a):
    from cnncost.render import receptive as rfview
    if a.model is not None:
        if a.stack is not None or a.kernel is not None:
            raise CostError("give either MODEL or --stack/--kernel, not both")
        _emit(rfview.model_table(a.model, a.input, a.fmt, width=_width(a), options=_options(a)))
        return
    if a.stack is None or a.kernel is None:
        raise CostError("rf needs MODEL, or --stack N and --kernel F")
    _emit(rfview.stack_table(a.stack, a.kernel, a.stride, a.dilation, a.fmt, width=_width(a)))


def cmd_formula(a):
    from cnncost.render import formula as formulas
    result = formulas.closed_forms(a.model, a.channels, convention=a.convention, options=_options(a))
    _emit(formulas.render(result, a.fmt, width=_width(a)))


def cmd_tables(a):
    if a.fmt != "markdown":
        raise CostError(f"tables writes Markdown documents; --format {a.fmt} is not available for them "
                        "(use `cnncost table MODEL --format ...` for one model)")
    from cnncost.tables import write
    try:
        paths = write(a.out)
    except OSError as err:
        raise CostError(f"cannot write the tables to {a.out}: {err.strerror or err}") from None
    for path in paths:
        _emit(f"wrote {path}\n")


def cmd_compare(a):
    try:
        from cnncost.torch import compare as cmp
        result = cmp.compare(a.model, a.input, a.depth)
    except ImportError as err:  # torch, torchvision or fvcore missing, at import or inside
        raise CostError(f"compare needs PyTorch and fvcore ({err}); install the torch extra: "
                        "pip install 'cnncost[torch]'") from None
    _emit(cmp.render(result, a.fmt, a.only_differences, width=_width(a)))


# --- the parser -----------------------------------------------------------------------------------

def _positive_int(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive integer")
    return int(text)


def _common(p, *, model=False, input_default=None, fmt=True):
    if model:
        p.add_argument("model", metavar="MODEL", help="zoo name (see `cnncost list`) or source:name, e.g. "
                                                       "torchvision:resnet50, path/file.py:Class")
        p.add_argument("--option", "-o", action="append", metavar="NAME=VALUE",
                       help="a zoo model's option, e.g. depth=56 (repeatable; `cnncost list` shows them)")
    p.add_argument("--input", "-i", default=input_default, metavar="HxWxC", action="append" if model else "store",
                   help="input per sample, e.g. 224x224x3, F, TxF or TxHxWxC; symbols allowed: HxWx3"
                        + ("; once per tensor for a forward that takes several" if model else ""))
    if fmt:
        p.add_argument("--format", "-f", dest="fmt", default="rich", help=FORMATS)
        p.add_argument("--wide", action="store_true", help="every column in full, however wide the terminal")


def _convention(p):
    p.add_argument("--convention", "-c", default="cnncost", help="FLOP convention: cnncost, fvcore or macs")


def _training(p):
    """--training and the options of a training step (table and fit share them)."""
    if p.prog.endswith("table"):
        p.add_argument("--training", action="store_true", help="backward FLOPs and saved bytes per row, the "
                                                               "step's peak memory in the footer")
    p.add_argument("--optimizer", default="adam", help="sgd, momentum, adam or adamw (default adam)")
    p.add_argument("--device", default="cpu", help="cpu or cuda: where the step runs (dropout masks, "
                                                   "Adam's temporaries)")


def parser() -> Parser:
    from cnncost import __version__
    top = Parser(prog="cnncost", allow_abbrev=False,
                 description="What does this CNN cost? Per-layer shapes, parameters, MACs, FLOPs, receptive "
                             "fields and memory, exact or in closed form.")
    top.add_argument("--version", action="version", version=f"cnncost {__version__}")
    sub = top.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)

    def command(name, func, help_text):
        p = sub.add_parser(name, help=help_text, description=help_text, allow_abbrev=False)
        p.set_defaults(run=func)
        return p

    p = command("list", cmd_list, "zoo models: name, default input, options, summary and source")
    p.add_argument("--format", "-f", dest="fmt", default="rich", help=FORMATS)
    p.add_argument("--wide", action="store_true", help="every column in full, however wide the terminal")

    p = command("table", cmd_table, "per-layer table: output shape, weights, biases, params, activations, MACs, "
                                    "FLOPs, RF; totals and memory")
    _common(p, model=True)
    p.add_argument("--batch", "-b", default="1", help="batch size, a positive integer or a symbol (B)")
    p.add_argument("--no-bias", action="store_true", help="count parameters without biases (weights only)")
    _convention(p)
    p.add_argument("--dtype", default="fp32", help="number format for memory: fp32, bf16, fp16, fp64, tf32, int8; "
                                                   "with --training: fp32, bf16, fp16 or amp-bf16")
    p.add_argument("--show-work", action="store_true", help="show each row's arithmetic under it")
    p.add_argument("--expand", action="store_true", help="every module its own row (activation, dropout and "
                                                         "flatten rows are otherwise folded into the layer before)")
    _training(p)

    p = command("fit", cmd_fit, "the largest batch whose training step fits in a memory size")
    _common(p, model=True)
    _convention(p)
    p.add_argument("--memory", "-m", required=True, help="memory size: 80GiB, 80 GiB, 80GB, 512MiB")
    p.add_argument("--dtype", default="fp32", help="fp32, bf16, fp16 or amp-bf16")
    _training(p)

    p = command("inception", cmd_inception, "naive inception module vs one with 1x1 reductions: output, "
                                            "MACs and params per branch, the saving")
    _common(p, input_default="28x28x256")
    for opt, text in (("c1", "1x1 filters"), ("c3", "3x3 filters"), ("c5", "5x5 filters"),
                      ("r3", "1x1 reduction before the 3x3 (reduced only)"),
                      ("r5", "1x1 reduction before the 5x5 (reduced only)"),
                      ("pool-proj", "1x1 projection after the pool (reduced only)")):
        p.add_argument(f"--{opt}", type=_positive_int, metavar="N", help=text)
    _convention(p)

    p = command("rf", cmd_rf, "receptive field of N stacked FxF layers (with proof), or per layer of MODEL")
    p.add_argument("model", nargs="?", metavar="MODEL", help="a model: per-layer receptive fields")
    p.add_argument("--option", "-o", action="append", metavar="NAME=VALUE", help="a zoo model's option")
    _common(p)
    p.add_argument("--stack", metavar="N", help="number of stacked layers (an integer or a symbol, N)")
    p.add_argument("--kernel", metavar="F", help="kernel size F of each layer")
    p.add_argument("--stride", default="1", help="stride of each layer")
    p.add_argument("--dilation", default="1", help="dilation of each layer")

    p = command("formula", cmd_formula, "closed forms in H and W (input HxWxC) for params, activations, MACs, "
                                        "FLOPs, output shape and RF")
    p.add_argument("model", metavar="MODEL", help="zoo name or source:name")
    p.add_argument("--option", "-o", action="append", metavar="NAME=VALUE", help="a zoo model's option")
    p.add_argument("--channels", metavar="C", help="input channels C (an integer or a symbol); default: the model's")
    _convention(p)
    p.add_argument("--format", "-f", dest="fmt", default="rich", help=FORMATS)
    p.add_argument("--wide", action="store_true", help="every column in full, however wide the terminal")

    p = command("tables", cmd_tables, "write the answer tables (vgg19, alexnet, inception, receptive fields)")
    p.add_argument("--out", default="tables", help="folder for the files (default: tables)")
    p.add_argument("--format", "-f", dest="fmt", default="markdown", help="markdown (the only one: the tables "
                                                                         "are Markdown documents)")

    p = command("compare", cmd_compare, "per module: cnncost's params, FLOPs (fvcore convention) and "
                                        "activations beside fvcore's, differences explained (needs PyTorch)")
    p.add_argument("model", metavar="MODEL", help="zoo name or source:name")
    _common(p)
    p.add_argument("--depth", type=_positive_int, help="show modules up to this nesting depth")
    p.add_argument("--only-differences", action="store_true", help="show differing modules only")
    return top


def _negative_values(argv: list[str]) -> list[str]:
    """`--input -5x224x3` as `--input=-5x224x3`, so that a negative size reaches the check that
    names it, not argparse's 'expected one argument'."""
    out, i = [], 0
    while i < len(argv):
        tok = argv[i]
        if tok.startswith("-") and "=" not in tok and i + 1 < len(argv) and re.match(r"-[\d.]", argv[i + 1]):
            out.append(f"{tok}={argv[i + 1]}")
            i += 2
            continue
        out.append(tok)
        i += 1
    return out


def run(argv: list[str] | None = None) -> int:
    """Parse `argv` and run the command; errors propagate (`main` turns them into one line)."""
    argv = _negative_values(sys.argv[1:] if argv is None else [str(x) for x in argv])
    top = parser()
    if not argv:
        top.print_help()
        return 0
    args = top.parse_args(argv)
    if not getattr(args, "run", None):
        top.print_help()
        return 0
    if getattr(args, "fmt", None) is not None:
        from cnncost.render import check_format
        check_format(args.fmt)
    args.run(args)
    return 0


def _freeze_imports(argv: list) -> None:
    """Before reading a PyTorch model (an argument `source:name`): import torch, then move the
    ~300,000 objects imports made out of the garbage collector's reach (`gc.freeze`), so a full
    collection during the read scans what the read made, not all of torch (about 0.2 s each)."""
    if any(":" in a and not a.startswith("-") for a in argv):
        import gc
        try:
            import torch  # noqa: F401
        except ImportError:
            return
        gc.freeze()


def main(argv: list[str] | None = None):
    """Console entry point (`cnncost`): exit 0, 2 for a user error, 1 for any other failure, 130 on
    Ctrl-C; one line on stderr, never a traceback (CNNCOST_DEBUG=1 re-raises)."""
    if hasattr(sys, "set_int_max_str_digits"):  # exact counts may be longer than Python's 4300 digits
        sys.set_int_max_str_digits(0)
    try:
        if argv is None:
            _freeze_imports(sys.argv[1:])
        code = run(argv)
    except CostError as err:
        fail(str(err))
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        sys.exit(130)
    except BrokenPipeError:  # `cnncost table vgg19 | head`: stop quietly, as a pipe expects
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except (OSError, ValueError, AttributeError):
            pass
        sys.exit(1)
    except Exception as err:  # noqa: BLE001 - the promise is one line, whatever failed
        if os.environ.get("CNNCOST_DEBUG"):
            raise
        fail(f"{type(err).__name__}: {err}" if str(err) else type(err).__name__, 1)
    sys.exit(code)


if __name__ == "__main__":  # pragma: no cover
    main()

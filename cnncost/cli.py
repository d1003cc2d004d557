"""`cnncost`: per-layer costs of a CNN from the terminal.

Every user error (a CostError, a bad option value, an unknown command) is one line
`error: ...` on stderr and exit code 2, never a traceback.  Everything else (the zoo, the
renderers, sympy for symbolic sizes, torch for source:name models) is imported inside the
commands, so `cnncost table vgg19` starts fast.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from typer.core import TyperGroup

from cnncost.errors import CostError

try:  # typer >= 0.22 vendors click
    from typer import _click as click
except ImportError:  # pragma: no cover - older typer
    import click


#: click >= 8.2 raises this for a group called without arguments; it carries the help text
_NO_ARGS_HELP = getattr(click.exceptions, "NoArgsIsHelpError", ())


def fail(message: str, code: int = 2):
    sys.stderr.write(f"error: {' '.join(str(message).split())}\n")
    sys.exit(code)


class CleanGroup(TyperGroup):
    """Runs commands without click's standalone error display: errors become one line, exit 2."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        try:
            rv = super().main(args=args, prog_name=prog_name or "cnncost", complete_var=complete_var,
                              standalone_mode=False, **extra)
        except CostError as err:
            fail(str(err))
        except _NO_ARGS_HELP as err:
            sys.stdout.write(err.format_message() + "\n")
            sys.exit(0)
        except click.exceptions.ClickException as err:
            fail(err.format_message(), err.exit_code if err.exit_code else 2)
        except click.exceptions.Abort:
            sys.stderr.write("aborted\n")
            sys.exit(1)
        except BrokenPipeError:  # `cnncost table vgg19 | head`
            sys.stderr.close()
            sys.exit(0)
        code = rv if isinstance(rv, int) else 0
        if standalone_mode:
            sys.exit(code)
        return code


app = typer.Typer(cls=CleanGroup, add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="What does this CNN cost? Per-layer shapes, parameters, MACs, FLOPs, receptive fields "
                       "and memory, exact or in closed form.")

Model = Annotated[str, typer.Argument(help="zoo name (see `cnncost list`) or source:name, e.g. torchvision:resnet50")]
Input = Annotated[Optional[str], typer.Option("--input", "-i", help="HxWxC (e.g. 224x224x3) or F; symbols allowed: HxWx3")]
Batch = Annotated[str, typer.Option("--batch", "-b", help="batch size, a positive integer or a symbol (B)")]
Convention = Annotated[str, typer.Option("--convention", "-c", help="FLOP convention: cnncost, fvcore or macs")]
Dtype = Annotated[str, typer.Option("--dtype", help="number format for memory: fp32, bf16, fp16, fp64, tf32, int8")]
Format = Annotated[str, typer.Option("--format", "-f", help="rich, markdown, csv or json")]


def _emit(text: str):
    sys.stdout.write(text)
    sys.stdout.flush()


def _check(fmt: str) -> str:
    from cnncost.render import check_format
    return check_format(fmt)


def _batch(text: str):
    from cnncost.sizes import parse_size
    return parse_size(text, "--batch")


@app.command("list")
def list_models(fmt: Format = "rich"):
    """Zoo models: name, default input, summary and source."""
    _check(fmt)
    from cnncost import zoo
    from cnncost.render.format import shape
    models = [zoo.entry(n) for n in zoo.names()]
    if fmt == "json":
        from cnncost.render.json import dumps
        _emit(dumps([{"name": e.name, "input": shape(e.input_shape), "summary": e.summary, "source": e.source,
                      "notes": e.notes} for e in models]))
        return
    from cnncost.render.simple import render
    rows = [[e.name, shape(e.input_shape), e.summary, e.source] for e in models]
    _emit(render(fmt, f"{len(rows)} models", ["name", "input", "summary", "source"], rows,
                 ["models named source:name (torchvision:resnet50, timm:..., file.py:Class) are read from PyTorch"]))


@app.command()
def table(model: Model, input: Input = None, batch: Batch = "1",
          no_bias: Annotated[bool, typer.Option("--no-bias", help="params column counts weights only")] = False,
          convention: Convention = "cnncost", dtype: Dtype = "fp32",
          show_work: Annotated[bool, typer.Option("--show-work", help="show each row's arithmetic under it")] = False,
          fmt: Format = "rich"):
    """Per-layer table: output shape, weights, biases, params, activations, MACs, FLOPs, RF; totals and memory."""
    _check(fmt)
    from cnncost.resolve import analyze
    from cnncost.render import render
    report = analyze(model, input, batch=_batch(batch), convention=convention, dtype=dtype)
    _emit(render(report, fmt, no_bias=no_bias, show_work=show_work))


@app.command()
def inception(input: Input = "28x28x256",
              c1: Annotated[Optional[int], typer.Option(help="1x1 filters")] = None,
              c3: Annotated[Optional[int], typer.Option(help="3x3 filters")] = None,
              c5: Annotated[Optional[int], typer.Option(help="5x5 filters")] = None,
              r3: Annotated[Optional[int], typer.Option(help="1x1 reduction before the 3x3 (reduced only)")] = None,
              r5: Annotated[Optional[int], typer.Option(help="1x1 reduction before the 5x5 (reduced only)")] = None,
              pool_proj: Annotated[Optional[int], typer.Option(help="1x1 projection after the pool (reduced only)")] = None,
              convention: Convention = "cnncost", fmt: Format = "rich"):
    """Naive inception module vs one with 1x1 reductions: output, MACs and params per branch, the saving."""
    _check(fmt)
    from cnncost.render import inception as inc
    opts = {"c1": c1, "c3": c3, "c5": c5, "r3": r3, "r5": r5, "pool_proj": pool_proj}
    cmp = inc.compare(input, {k: v for k, v in opts.items() if v is not None}, convention=convention)
    _emit(inc.render(cmp, fmt))


@app.command()
def rf(model: Annotated[Optional[str], typer.Argument(help="a model: per-layer receptive fields")] = None,
       input: Input = None,
       stack: Annotated[Optional[str], typer.Option(help="number of stacked layers (an integer or a symbol, N)")] = None,
       kernel: Annotated[Optional[str], typer.Option(help="kernel size F of each layer")] = None,
       stride: Annotated[str, typer.Option(help="stride of each layer")] = "1",
       dilation: Annotated[str, typer.Option(help="dilation of each layer")] = "1",
       fmt: Format = "rich"):
    """Receptive field of N stacked FxF layers (with proof), or per layer of MODEL (size, jump, start)."""
    _check(fmt)
    from cnncost.render import receptive as rfview
    if model is not None:
        if stack is not None or kernel is not None:
            raise CostError("give either MODEL or --stack/--kernel, not both")
        _emit(rfview.model_table(model, input, fmt))
        return
    if stack is None or kernel is None:
        raise CostError("rf needs MODEL, or --stack N and --kernel F")
    _emit(rfview.stack_table(stack, kernel, stride, dilation, fmt))


@app.command()
def formula(model: Model,
            channels: Annotated[Optional[str], typer.Option(help="input channels C (an integer or a symbol); "
                                                                 "default: the model's")] = None,
            convention: Convention = "cnncost", fmt: Format = "rich"):
    """Closed forms in H and W (input HxWxC) for params, activations, MACs, FLOPs, output shape and RF."""
    _check(fmt)
    from cnncost.render import formula as formulas
    _emit(formulas.render(formulas.closed_forms(model, channels, convention=convention), fmt))


@app.command()
def tables(out: Annotated[Path, typer.Option(help="folder for the Markdown files")] = Path("tables")):
    """Write the Markdown answer tables (vgg19, alexnet, inception, receptive fields)."""
    from cnncost.tables import write
    for path in write(out):
        _emit(f"wrote {path}\n")


@app.command()
def compare(model: Model, input: Input = None,
            depth: Annotated[Optional[int], typer.Option(help="show modules up to this nesting depth")] = None,
            only_differences: Annotated[bool, typer.Option("--only-differences", help="show differing modules only")] = False,
            fmt: Format = "rich"):
    """Per module: cnncost's params, FLOPs (fvcore convention) and activations beside fvcore's, differences explained."""
    _check(fmt)
    try:
        from cnncost.torch import compare as cmp
    except ImportError as err:
        raise CostError(f"compare needs PyTorch and fvcore ({err}); install the torch extra: "
                        "pip install 'cnncost[torch]'") from None
    _emit(cmp.render(cmp.compare(model, input, depth), fmt, only_differences))


def main(argv: list[str] | None = None):
    """Console entry point (`cnncost`)."""
    app(args=argv, prog_name="cnncost")


if __name__ == "__main__":  # pragma: no cover
    main()

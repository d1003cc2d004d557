"""Helpers shared by the torch test files: fvcore's totals for a module, and the CLI run in-process."""
import contextlib
import io
import logging
import warnings


def fvcore_totals(module, shape):
    """fvcore's (FLOPs, activations) for one sample of `shape`, its warnings silenced."""
    import torch
    from fvcore.nn import ActivationCountAnalysis, FlopCountAnalysis
    x = torch.randn(1, *shape)
    logging.disable(logging.WARNING)
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            return FlopCountAnalysis(module, x).total(), ActivationCountAnalysis(module, x).total()
    finally:
        logging.disable(logging.NOTSET)


def cli(*args):
    """Run `cnncost ARGS` in-process: (exit code, stdout, stderr)."""
    from cnncost.cli import main
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main(list(args))
            code = 0
        except SystemExit as e:
            code = e.code
    return code, out.getvalue(), err.getvalue()

"""Helpers shared by the torch test files: fvcore's totals for a module, the CLI run in-process,
and a read checked against the module (`check`)."""
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


def real_shapes(read, shape):
    """Each fx node's shape in one real forward pass of a read's traced module."""
    import torch
    from torch.fx.passes.shape_prop import ShapeProp
    with torch.no_grad():
        ShapeProp(read.traced).propagate(torch.randn(1, *shape))
    return {n.name: tuple(n.meta["tensor_meta"].shape) for n in read.traced.graph.nodes
            if hasattr(n.meta.get("tensor_meta"), "shape")}


def check(module, shape):
    """Read, then: params = numel, every row = forward pass, fvcore totals equal, nothing unknown."""
    from cnncost import analyze
    from cnncost.torch.read import read_module
    r = read_module(module, shape)
    rep = analyze(r.spec, shape, convention="fvcore")
    assert rep.complete, rep.unknown
    assert rep.total["params"] == sum(p.numel() for p in module.parameters())
    real = real_shapes(r, shape)
    inner = [row for row in rep.rows if row.name not in r.origin]
    assert all(row.kind == "slice" for row in inner)       # x[:, a:b, ::s] is one op, two Slice rows
    for row in rep.rows:
        if row in inner:
            continue
        got = real[r.origin[row.name]]
        whole = row.kind == "param" and len(got) == len(row.output_shape)   # a parameter, not its view
        assert row.output_shape == (got if whole else got[1:]), row.name
    assert (rep.total["flops"], rep.total["activations"]) == fvcore_totals(module, shape)
    return r, rep

"""docs/architectures.md quotes the tool's numbers: recompute them and find each in the text,
so a change in the zoo or the rules that moves a quoted number fails here."""
import pathlib

import pytest

from cnncost import analyze, zoo
from cnncost.receptive import compare_stack_vs_single

DOC = (pathlib.Path(__file__).resolve().parents[1] / "docs" / "architectures.md").read_text()


def total(name, **opts):
    m = zoo.get(name, **opts)
    return analyze(m.spec, m.input_shape).total


def quoted(n):
    return f"{n:,}" in DOC


@pytest.mark.parametrize("name,opts", [("inception-naive", {}), ("inception-reduced", {}), ("googlenet", {}),
                                       ("googlenet", {"reductions": False}), ("alexnet", {}),
                                       ("alexnet-1gpu", {}), ("resnet50", {}), ("resnet50", {"stride_on_3x3": False})])
def test_totals_quoted(name, opts):
    t = total(name, **opts)
    assert quoted(t["macs"]), (name, opts, t["macs"])
    if name != "resnet50":
        assert quoted(t["params"]), (name, opts, t["params"])


def test_alexnet_layers_quoted():
    for name in ("alexnet", "alexnet-1gpu"):
        m = zoo.get(name)
        for row in analyze(m.spec, m.input_shape).rows:
            if row.kind == "conv":
                assert quoted(row.weights) and quoted(row.macs), (name, row.name)


@pytest.mark.parametrize("n,f,c", [(2, 3, 256), (3, 3, 256), (3, 5, 256), (5, 3, 512)])
def test_stack_comparisons_quoted(n, f, c):
    x = compare_stack_vs_single(n, f, c)
    assert quoted(x.stack_weights) and quoted(x.single_weights)
    assert f"{x.saving:.2f}x" in DOC

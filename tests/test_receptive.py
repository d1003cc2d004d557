"""The stacked-filter receptive field: closed form vs the walk, vs a real gradient, and the proof."""
import pytest
import sympy
from hypothesis import given, settings, strategies as st

from cnncost import analyze
from cnncost.errors import CostError
from cnncost.receptive import compare_stack_vs_single, proof, stack_rf
from cnncost.spec import Conv2d, Sequence


def walk_rf(n, k, s, d):
    """The receptive field analyze() reports for n stacked unpadded convs on a 1-channel input."""
    size = stack_rf(n, k, s, d)   # one output position needs exactly this many pixels
    layers = [Conv2d(1, k, s, dilation=d, bias=False, name=f"c{i}") for i in range(n)]
    r = analyze(Sequence(layers), (1, size, size))
    assert r.total["output_shape"] == (1, 1, 1)
    return r.total["rf"]


def test_known_values():
    assert stack_rf(3, 5) == 13 == 3 * 5 - 3 + 1
    assert stack_rf(3, 3) == 7
    assert stack_rf(2, 3) == 5                 # VGG section 2.3: two 3x3 see 5x5
    assert stack_rf(0, 7) == 1
    assert stack_rf(3, 3, 2) == 1 + 2 * (1 + 2 + 4) == 15
    assert stack_rf(2, 3, 1, 2) == 1 + 2 * 2 * 2 == 9
    assert stack_rf(4, 3, 2, 2) == 1 + 2 * 2 * (1 + 2 + 4 + 8) == 61


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 6), st.integers(1, 7), st.integers(1, 3), st.integers(1, 3))
def test_agrees_with_analyze(n, k, s, d):
    expected = 1 + sum(d * (k - 1) * s ** (i - 1) for i in range(1, n + 1))
    assert stack_rf(n, k, s, d) == expected
    assert walk_rf(n, k, s, d) == expected


def test_symbolic():
    N, F, s = sympy.symbols("N F s", positive=True, integer=True)
    assert sympy.simplify(stack_rf(N, F) - (N * F - N + 1)) == 0
    two = stack_rf(N, 3, 2)
    assert [two.subs(N, n) for n in range(5)] == [stack_rf(n, 3, 2) for n in range(5)] == [1, 3, 7, 15, 31]
    general = stack_rf(3, F, s)
    assert general.subs({s: 1, F: 5}) == 13
    assert general.subs({s: 3, F: 3}) == stack_rf(3, 3, 3) == 1 + 2 * (1 + 3 + 9)


@pytest.mark.parametrize("args", [(-1, 3), (2, 0), (2, 3, 0), (2, 3, 1, 0), (2.5, 3), (2, "3"), (True, 3)])
def test_bad_arguments(args):
    with pytest.raises(CostError):
        stack_rf(*args)


@pytest.mark.torch
@pytest.mark.parametrize("n,k,s,d", [(3, 3, 1, 1), (3, 5, 1, 1), (2, 3, 2, 1), (3, 3, 2, 2), (2, 5, 3, 1)])
def test_agrees_with_gradient(n, k, s, d):
    """Independent check: the input pixels that influence one output of a real conv stack."""
    torch = pytest.importorskip("torch")
    rf = stack_rf(n, k, s, d)
    size = rf + 2 * s ** n   # room for more than one output
    x = torch.ones(1, 1, size, size, dtype=torch.float64, requires_grad=True)
    y = x
    for _ in range(n):
        conv = torch.nn.Conv2d(1, 1, k, s, dilation=d, bias=False).double()
        torch.nn.init.constant_(conv.weight, 1.0)
        y = conv(y)
    y[0, 0, 0, 0].backward()
    seen = (x.grad[0, 0] != 0).nonzero()
    assert seen.max(0).values.tolist() == [rf - 1, rf - 1] and seen.min(0).values.tolist() == [0, 0]


def test_proof_steps_all_verified():
    steps = proof()
    assert steps and all(step.verified is True for step in steps)
    assert all(isinstance(step.statement, str) and isinstance(step.expression, sympy.Basic) for step in steps)
    text = " ".join(step.statement for step in steps)
    for needed in ("Base case", "Induction step", "N*F - N + 1", "dilation", "= 13", "= 7"):
        assert needed in text
    # independently: every step claimed "= 0" really simplifies to 0
    for step in steps:
        if "Induction step" in step.statement or "Base case" in step.statement:
            assert sympy.simplify(step.expression) == 0
    statement, expression, verified = steps[0]   # plain tuples for the CLI
    assert verified


def test_compare_stack_vs_single():
    c = compare_stack_vs_single(3, 3, 64)
    assert c.rf == 7
    assert c.stack_weights == 3 * 3 * 3 * 64 * 64          # VGG section 2.3: 3(3^2 C^2) = 27C^2
    assert c.single_weights == 7 * 7 * 64 * 64             # 49C^2, "81% more"
    assert round(c.saving - 1, 2) == 0.81
    assert (c.stack_nonlinearities, c.single_nonlinearities) == (3, 1)
    c = compare_stack_vs_single(3, 5, 32)
    assert (c.rf, c.stack_weights, c.single_weights) == (13, 3 * 25 * 32 * 32, 169 * 32 * 32)
    c = compare_stack_vs_single(1, 5, 8)
    assert c.stack_weights == c.single_weights and c.saving == 1
    with pytest.raises(CostError):
        compare_stack_vs_single(0, 3, 8)

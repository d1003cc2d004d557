"""The `torch` convention is exactly what torch.utils.flop_counter.FlopCounterMode counts: 2 per
MAC of convolutions and matrix products, nothing else.  Proved on the zoo's built modules (batch
2, meta device: no weights allocated); a sample by default, every model in the slow run."""
import pytest

from cnncost import conventions, zoo
from cnncost.walk import analyze

torch = pytest.importorskip("torch")

FAST = {"alexnet", "lenet5", "mlp", "davidnet", "inception-reduced", "resnet20", "minigooglenet"}


def flop_counter(model, shape, batch=2):
    from torch.utils.flop_counter import FlopCounterMode
    from cnncost.torch.build import build
    with torch.device("meta"):
        module = build(model, shape).eval()
        x = torch.empty(batch, *shape)
    with FlopCounterMode(display=False) as counter:
        module(x)
    return counter.get_total_flops()


@pytest.mark.parametrize("name", [pytest.param(n, marks=() if n in FAST else pytest.mark.proof)
                                  for n in sorted(zoo.names())])
def test_torch_convention_equals_flop_counter_on_the_zoo(name):
    m = zoo.get(name)
    assert analyze(m.spec, m.input_shape, batch=2, convention="torch").total["flops"] == \
        flop_counter(m.spec, m.input_shape)


def test_torch_convention_is_two_per_mac_and_nothing_else():
    """Bias adds, batch norm, ReLU, pooling and additions all count 0; only MACs count, twice."""
    m = zoo.get("resnet20")
    r = analyze(m.spec, m.input_shape, convention="torch")
    assert r.total["flops"] == 2 * r.total["macs"]
    assert conventions.get("torch").per_op == {}

"""Every torchvision model (natural inputs, nothing downloaded) and the sweep's timm models, read as
they run and checked as in test_torch_run.prove: output shape = a real forward's, params =
sum(numel) of the parameters used and FLOPs (torch convention) = FlopCounterMode's, every op
known.  Slow (real forwards of every model): pytest -m slow."""
import os
import sys

import pytest

torch = pytest.importorskip("torch")
torchvision = pytest.importorskip("torchvision")

from test_torch_run import prove  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(__file__), os.pardir, "benchmarks"))
from sweep_models import TIMM  # noqa: E402


@pytest.fixture(autouse=True)
def only_when_asked(request):
    """Hours of real forwards: run only when slow tests are selected (pytest -m slow)."""
    if "slow" not in (request.config.getoption("markexpr") or ""):
        pytest.skip("the full model sweep runs with pytest -m slow")


@pytest.mark.slow
@pytest.mark.parametrize("name", torchvision.models.list_models())
def test_every_torchvision_model(name):
    from cnncost.torch import sources
    shapes, layout = sources.torchvision_inputs(name)
    _, rep = prove(sources.torchvision_model(name), shapes, layout)
    assert rep.complete, rep.unknown          # every op known in the torch convention


@pytest.mark.slow
@pytest.mark.parametrize("name", TIMM)
def test_timm_models(name):
    pytest.importorskip("timm")
    from cnncost.torch import sources
    module, shapes = sources.timm_model(name)
    _, rep = prove(module, shapes)
    assert rep.complete, rep.unknown

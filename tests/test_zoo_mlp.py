"""The MLP baseline against hand arithmetic."""
import pytest

from cnncost import analyze, zoo
from cnncost.errors import CostError


def report(**opts):
    m = zoo.get("mlp", **opts)
    return analyze(m.spec, m.input_shape)


def test_default_params_and_shapes():
    r = report()
    assert r.total["params"] == (3072 * 1000 + 1000) + (1000 * 1000 + 1000) + (1000 * 10 + 10) == 4_084_010
    assert r.total["macs"] == 3072 * 1000 + 1000 * 1000 + 1000 * 10
    assert [row.name for row in r.rows] == ["flatten", "fc1", "relu1", "fc2", "relu2", "fc3"]
    assert r.rows[0].output_shape == (32 * 32 * 3,)


def test_dropout_only_when_positive():
    names = [row.name for row in report(dropout_in=0.2, dropout_hidden=0.5).rows]
    assert names == ["flatten", "drop_in", "fc1", "relu1", "drop1", "fc2", "relu2", "drop2", "fc3"]
    assert "drop_in" not in [row.name for row in report(dropout_hidden=0.5).rows]
    with pytest.raises(CostError, match="dropout"):
        report(dropout_in=1.0)


def test_hidden_and_classes_options():
    r = report(hidden=(512,), classes=100)
    assert r.total["params"] == 3072 * 512 + 512 + 512 * 100 + 100
    assert analyze(zoo.get("mlp", hidden=256).spec, (784,)).total["params"] == 784 * 256 + 256 + 256 * 10 + 10
    with pytest.raises(CostError, match="hidden"):
        report(hidden=())

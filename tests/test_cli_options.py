"""Zoo options from the command line (`--option NAME=VALUE`): they reach the model's factory, a
bad one is one line, and the default that picks the architecture is named.  Expected counts are
the paper's (He et al. 2016, Table 6) or hand arithmetic."""
import json

import pytest

from cli_run import fails, ok, terminal  # noqa: F401 (terminal: an autouse fixture)


def test_zoo_options_reach_the_factory():
    # CIFAR ResNet-56 (He et al. 2016, Table 6): 0.85M parameters; ResNet-20: 0.27M
    d56 = json.loads(ok("table", "resnet-cifar", "--option", "depth=56", "-f", "json"))
    d20 = json.loads(ok("table", "resnet20", "-f", "json"))
    assert round(d56["total"]["params"] / 1e6, 2) == 0.85 and round(d20["total"]["params"] / 1e6, 2) == 0.27
    assert d56["total"] == json.loads(ok("table", "resnet56", "-f", "json"))["total"]
    # classes: the last fc has 64*classes weights + classes biases
    d = json.loads(ok("table", "resnet20", "-o", "classes=100", "-f", "json"))
    assert d["layers"][-1]["weights"] == 64 * 100 and d["layers"][-1]["biases"] == 100
    assert d["model"] == "resnet20 classes=100"


def test_the_default_that_picks_the_architecture_is_named():
    assert ok("table", "resnet-cifar").splitlines()[0].startswith("resnet-cifar depth=20 (default): ")
    assert ok("table", "resnet-cifar", "-o", "depth=8").splitlines()[0].startswith("resnet-cifar depth=8: ")
    entries = {e["name"]: e for e in json.loads(ok("list", "-f", "json"))}
    assert entries["resnet-cifar"]["options"]["depth"] == 20
    assert entries["mlp"]["options"]["hidden"] == [1000, 1000]
    resnet_cifar = ok("list").split("\nresnet-cifar ", 1)[1].split("\nresnet20 ")[0]   # 80 columns
    assert "depth=20" in resnet_cifar


def test_tuple_and_bool_options():
    # mlp hidden=256,128 on 32x32x3: 3072*256 + 256*128 + 128*10 weights
    d = json.loads(ok("table", "mlp", "-o", "hidden=256,128", "-o", "batchnorm=true", "-f", "json"))
    fc = [x for x in d["layers"] if x["kind"] == "fc"]
    assert [x["weights"] for x in fc] == [3072 * 256, 256 * 128, 128 * 10]
    assert any(x["kind"] == "bn" for x in d["layers"])


@pytest.mark.parametrize("args, words", [
    (["table", "resnet-cifar", "-o", "dept=56"], "unknown option 'dept' for resnet-cifar; resnet-cifar takes depth"),
    (["table", "resnet-cifar", "-o", "depth=x"], "option depth='x' is not an integer"),
    (["table", "resnet-cifar", "-o", "depth"], "NAME=VALUE"),
    (["table", "resnet-cifar", "-o", "depth=57"], "6n+2"),
    (["table", "mlp", "-o", "batchnorm=maybe"], "true or false"),
    (["table", "torchvision:resnet18", "-o", "depth=5"], "zoo models only"),
    (["table", "vgg19", "--input", "-5x224x3"], "positive integer"),
])
def test_bad_options_are_one_line(args, words):
    assert words in fails(*args)

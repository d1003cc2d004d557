"""`cnncost table --training`, `--expand` and `cnncost fit`: JSON fields, closed forms in B, bad input."""
import json

import pytest

from torch_helpers import cli

# VGG19 by hand (Table 1, 224x224x3, batch 1)
CONV = 2 * 224 * 224 * 64 + 2 * 112 * 112 * 128 + 4 * 56 * 56 * 256 + 4 * 28 * 28 * 512 + 4 * 14 * 14 * 512
POOL = 112 * 112 * 64 + 56 * 56 * 128 + 28 * 28 * 256 + 14 * 14 * 512 + 7 * 7 * 512


def _json(*args):
    code, out, err = cli(*args, "--format", "json")
    assert code == 0, err
    return json.loads(out)


def test_vgg19_training_json_by_hand():
    d = _json("table", "vgg19", "--training", "--optimizer", "sgd")
    # fp32 on CPU, autograd keeps: the image (conv1_1's input), every ReLU output (the next conv or
    # pool reads the same storage), pool outputs (the next conv's input; pool5's through flatten),
    # pool argmax indices in int64, fc6/fc7's ReLU outputs and dropout masks and dropout outputs
    saved = 4 * (224 * 224 * 3 + CONV + POOL + 3 * 2 * 4096) + 8 * POOL
    t = d["total"]
    assert t["saved_bytes"] == saved
    assert sum(layer["saved_bytes"] for layer in d["layers"]) == saved
    assert t["training_flops"] == t["flops"] + t["backward_flops"]
    assert t["backward_flops"] == sum(layer["backward_flops"] for layer in d["layers"])
    assert t["activations"] == 16_391_656 and len(d["layers"]) == 24
    first = d["layers"][0]
    # conv1_1 computes no grad-input (its input is the image); relu1_1's g * (y > 0) is 1 per element
    assert first["members"] == ["conv1_1", "relu1_1"] and first["grad_input_flops"] == 224 * 224 * 64
    # at least: parameters and everything saved (end of forward); parameters and gradients (SGD step)
    assert t["peak_bytes"] >= max(4 * t["params"] + t["saved_bytes"], 2 * 4 * t["params"])
    assert d["training"]["optimizer"] == "sgd"


def test_expand_shows_every_module():
    d = _json("table", "vgg19", "--expand")
    assert len(d["layers"]) == 45 and d["total"]["activations"] == d["total"]["elements"]


def test_symbolic_batch_gives_closed_forms():
    sympy = pytest.importorskip("sympy")
    sym = _json("table", "resnet20", "--training", "--batch", "B")
    num = _json("table", "resnet20", "--training", "--batch", "6")
    b = sympy.Symbol("B")
    for key in ("training_flops", "backward_flops", "saved_bytes", "peak_bytes"):
        assert "B" in str(sym["total"][key])
        assert sympy.sympify(sym["total"][key], locals={"B": b}).subs(b, 6) == num["total"][key]


def test_fit_finds_the_largest_batch():
    d = _json("fit", "resnet20", "--memory", "1GiB", "--optimizer", "adam", "--dtype", "amp-bf16")
    assert d["peak"] <= 2 ** 30 < d["next_peak"] and d["batch"] > 1
    code, out, _ = cli("fit", "vgg19", "--memory", "80 GiB")
    assert code == 0 and "largest batch" in out


@pytest.mark.parametrize("args, needle", [
    (("table", "vgg19", "--training", "--optimizer", "lion"), "unknown optimizer"),
    (("table", "vgg19", "--training", "--dtype", "fp8"), "unknown training dtype"),
    (("fit", "vgg19", "--memory", "lots"), "not a memory size"),
    (("fit", "vgg19", "--memory", "1GiB"), "even at batch 1"),
    (("fit", "vgg19", "--memory", "80GB", "--optimizer", "rmsprop"), "unknown optimizer"),
])
def test_bad_input_is_one_line_and_exit_2(args, needle):
    code, out, err = cli(*args)
    assert code == 2 and err.startswith("error:") and needle in err and len(err.strip().splitlines()) == 1

"""`cnncost.summary`: the one call from Python.  Expected counts are hand arithmetic (VGG19's
classic figures, worked out in tests/test_cli.py), `sum(p.numel())` of a PyTorch module, or the
CLI's own table for the same model (the call must print what the command prints)."""
import contextlib
import csv
import io
import json
import subprocess
import sys

import pytest

import cnncost
from cnncost.errors import CostError
from cnncost.spec import Conv2d, seq

VGG19_WEIGHTS, VGG19_BIASES, VGG19_MACS = 143_652_544, 14_696, 19_632_062_464


def test_a_zoo_name_gives_the_totals_and_rows():
    s = cnncost.summary("vgg19")
    assert (s.total["weights"], s.total["biases"], s.total["macs"]) == (VGG19_WEIGHTS, VGG19_BIASES, VGG19_MACS)
    assert s.complete and s.rows[0].name == "conv1_1" and s.rows[0].weights == 3 * 3 * 3 * 64


def test_it_prints_as_the_cli_table(monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    from cnncost.cli import main
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit):
        main(["table", "vgg19"])
    s = cnncost.summary("vgg19")
    assert str(s) == out.getvalue() == repr(s)
    assert s._repr_markdown_().startswith("**vgg19: input 224x224x3")
    assert "conv1_1" in str(s.__rich__())


def test_exports():
    s = cnncost.summary("vgg19")
    assert json.loads(s.to_json())["total"]["macs"] == VGG19_MACS == s.to_dict()["total"]["macs"]
    rows = list(csv.DictReader(io.StringIO(s.to_csv())))
    assert int(rows[-1]["params"]) == VGG19_WEIGHTS + VGG19_BIASES
    assert s.to_markdown().count("\n|") == len(s.rows) + 3   # header, rule, rows, TOTAL


@pytest.mark.parametrize("size, batch", [("224x224x3", 1), ((3, 224, 224), 1), ([3, 224, 224], 1),
                                         ((2, 3, 224, 224), 2)])
def test_input_size_as_text_or_tuple_with_or_without_batch(size, batch):
    s = cnncost.summary("vgg19", size)
    assert s.total["macs"] == batch * VGG19_MACS and s.total["weights"] == VGG19_WEIGHTS


def test_batch_and_zoo_options():
    s = cnncost.summary("resnet-cifar", batch=4, depth=56)
    # ResNet-56 (He et al. 2016, Table 6): 0.85M parameters
    assert round(s.total["params"] / 1e6, 2) == 0.85 and s.report.batch == 4
    assert s.report.model == "resnet-cifar depth=56"


def test_a_spec_needs_an_input_size():
    net = seq(Conv2d(8, 3, name="conv"), name="net")
    s = cnncost.summary(net, "8x8x3")
    assert s.total["weights"] == 3 * 3 * 3 * 8 and s.total["macs"] == (6 * 6 * 8) * (3 * 3 * 3)
    with pytest.raises(CostError, match="needs input_size"):
        cnncost.summary(net)


@pytest.mark.parametrize("size", [(3, 224), (1, 2, 3, 4, 5), "224x"])
def test_bad_input_sizes_are_cost_errors(size):
    with pytest.raises(CostError):
        cnncost.summary("vgg19", size)


def test_batch_given_twice_must_agree():
    with pytest.raises(CostError, match="batch"):
        cnncost.summary("vgg19", (2, 3, 224, 224), batch=3)


def test_an_nn_module_is_read_and_its_mode_kept():
    torch = pytest.importorskip("torch")
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.ReLU(), torch.nn.Flatten(),
                              torch.nn.Linear(8 * 16 * 16, 10))
    net.train()
    s = cnncost.summary(net, (3, 16, 16))
    assert s.total["params"] == sum(p.numel() for p in net.parameters())
    assert s.total["macs"] == (16 * 16 * 8) * (3 * 3 * 3) + 8 * 16 * 16 * 10
    assert net.training


def test_import_cnncost_stays_light():
    code = ("import sys, cnncost\ncnncost.summary('vgg19')\n"
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'sympy', 'torch', 'rich', 'numpy'}))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.stdout.strip() == "[]", r.stderr

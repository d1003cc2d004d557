"""Every terminal table fits the terminal's width (--wide shows all), and every command's CSV holds
plain exact numbers."""
import csv
import io
import re

import pytest

from cli_run import ok, terminal  # noqa: F401 (terminal: an autouse fixture)
from test_cli import VGG19_BIASES, VGG19_MACS


COMMANDS = [["table", "vgg19"], ["table", "resnet50"], ["list"], ["rf", "--stack", "3", "--kernel", "5"],
            ["rf", "googlenet"], ["inception"], ["table", "alexnet", "--show-work"]]   # compare: below


@pytest.mark.parametrize("args, columns", [(a, c) for a in COMMANDS for c in ("60", "80", "120")]
                         + [(["formula", "resnet18"], "80")])   # symbolic: one width (sympy is slow)
def test_rich_output_fits_the_terminal(args, columns, monkeypatch):
    monkeypatch.setenv("COLUMNS", columns)
    out = ok(*args)
    assert max(len(line) for line in out.splitlines()) <= int(columns)


def test_wide_shows_every_column_in_full():
    out = ok("table", "vgg19", "--wide")
    assert out.splitlines()[2].split() == ["layer", "kind", "output", "(HxWxC)", "weights", "biases", "params",
                                           "activations", "MACs", "FLOPs", "RF"]
    assert max(len(line) for line in out.splitlines()) > 80



def test_csv_of_every_command_holds_plain_numbers():
    for args in (["table", "vgg19"], ["inception"], ["formula", "vgg19"], ["rf", "alexnet"], ["rf", "--stack", "3",
                                                                                             "--kernel", "5"]):
        rows = list(csv.reader(io.StringIO(ok(*args, "-f", "csv"))))
        for cell in (c for row in rows[1:] for c in row):
            assert not re.search(r"\d,\d{3}", cell), (args, cell)                  # no thousands separators
            assert not re.search(r"\d[KMGT]\b", cell), (args, cell)                # no human units
            assert not cell.startswith(" "), (args, cell)                          # no indentation
    rows = {r["quantity"]: r for r in csv.DictReader(io.StringIO(ok("formula", "vgg19", "-f", "csv")))}
    assert int(rows["biases"]["closed form"]) == VGG19_BIASES
    assert int(rows["MACs"]["at 224x224x3"]) == VGG19_MACS


def test_compare_csv_is_plain_and_the_table_fits(tmp_path, monkeypatch):
    pytest.importorskip("fvcore")
    (tmp_path / "small.py").write_text(
        "import torch.nn as nn\n\n\nclass Small(nn.Sequential):\n    def __init__(self):\n"
        "        super().__init__(nn.Conv2d(3, 64, 3), nn.ReLU(), nn.Conv2d(64, 128, 3))\n")
    model = f"{tmp_path / 'small.py'}:Small"
    rows = {r["module"]: r for r in csv.DictReader(io.StringIO(ok("compare", model, "-i", "32x32x3", "-f", "csv")))}
    # second conv: 3*3*64*128 + 128 parameters; 28*28*128 outputs of 3*3*64 MACs each (fvcore: 1 FLOP per MAC)
    assert int(rows["2"]["params"]) == 3 * 3 * 64 * 128 + 128 == int(rows["2"]["fvcore params"])
    assert int(rows["2"]["FLOPs"]) == 28 * 28 * 128 * 3 * 3 * 64
    monkeypatch.setenv("COLUMNS", "60")
    assert max(len(line) for line in ok("compare", model, "-i", "32x32x3").splitlines()) <= 60

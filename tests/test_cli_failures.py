"""Failures that are not the calculator's own (an exception in a model, a file that cannot be
written, a missing PyTorch, Ctrl-C, a closed pipe) end in one line and a non-zero exit, never a
traceback; --version and tables --format."""
import json
import subprocess
import sys

import pytest

from cli_run import fails, ok, one_line, run, terminal  # noqa: F401 (terminal: an autouse fixture)
from cnncost import zoo


def test_an_unexpected_exception_is_one_line_and_exit_1():
    zoo.names()  # the real zoo first

    def broken():
        raise RuntimeError("forward failed\nsecond line")
    zoo.register("test-broken", input_shape=(3, 8, 8), summary="test", source="test")(broken)
    try:
        line = one_line(run("table", "test-broken"), 1)
    finally:
        zoo.REGISTRY.pop("test-broken")
    assert line == "error: RuntimeError: forward failed second line"


def test_a_huge_stack_prints_an_exponent_not_a_crash():
    # 10000 stacked 3x3 stride-3 layers: 1 + 2*(3^10000 - 1)/2 = 3^10000, 4772 digits (10^4771.2)
    out = ok("rf", "--stack", "10000", "--kernel", "3", "--stride", "3")
    assert "receptive field 1.6e4771" in out.splitlines()[0]
    assert json.loads(ok("rf", "--stack", "10000", "--kernel", "3", "--stride", "3", "-f", "json"))["rf"] == 3 ** 10000


def test_tables_into_a_file_is_one_line(tmp_path):
    target = tmp_path / "a-file"
    target.write_text("x")
    assert "cannot write the tables to" in one_line(run("tables", "--out", target), 2)


def test_compare_without_pytorch_is_one_line(monkeypatch):
    import cnncost.torch                        # the empty package: no torch import
    monkeypatch.setitem(sys.modules, "cnncost.torch.compare", None)   # import fails as without torch
    monkeypatch.delattr(cnncost.torch, "compare", raising=False)      # an earlier test may have imported it
    assert "install the torch extra" in one_line(run("compare", "vgg19"), 2)


def test_ctrl_c_is_one_line_and_exit_130(monkeypatch):
    def interrupted(*a, **k):
        raise KeyboardInterrupt
    monkeypatch.setattr("cnncost.resolve.analyze", interrupted)
    r = run("table", "vgg19")
    assert r.exit_code == 130 and r.stderr == "interrupted\n" and "Traceback" not in r.output


def test_a_closed_pipe_ends_quietly():
    r = subprocess.run(f"{sys.executable} -m cnncost table vgg19 --wide | head -1", shell=True, capture_output=True,
                       text=True, timeout=60)
    assert r.stdout.startswith("vgg19: input 224x224x3") and r.stderr == ""


def test_a_model_whose_forward_raises_is_one_line(tmp_path):
    pytest.importorskip("torch")
    (tmp_path / "net.py").write_text(
        "import torch.nn as nn\n\n\nclass Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
        "        self.conv = nn.Conv2d(3, 4, 3)\n\n    def forward(self, x):\n"
        "        raise RuntimeError('this model cannot run')\n")
    r = run("table", f"{tmp_path / 'net.py'}:Net", "--input", "8x8x3")
    assert r.exit_code != 0 and "Traceback" not in r.output
    assert r.stdout == "" and len(r.stderr.splitlines()) == 1 and r.stderr.startswith("error: ")


def test_version():
    from importlib.metadata import version
    assert ok("--version").strip() == f"cnncost {version('cnncost')}"


def test_tables_takes_format_markdown_only(tmp_path):
    assert ok("tables", "--out", tmp_path, "--format", "markdown").count("wrote ") == 4
    assert "Markdown" in fails("tables", "--out", tmp_path, "--format", "csv")


def test_cnncost_debug_shows_the_traceback(monkeypatch):
    def broken(*a, **k):
        raise RuntimeError("bug")
    monkeypatch.setattr("cnncost.resolve.analyze", broken)
    monkeypatch.setenv("CNNCOST_DEBUG", "1")
    with pytest.raises(RuntimeError, match="bug"):
        run("table", "vgg19")


@pytest.mark.parametrize("columns", ["1", "20"])
def test_absurdly_narrow_terminals_still_print(columns, monkeypatch):
    monkeypatch.setenv("COLUMNS", columns)
    for args in (["table", "vgg19"], ["list"], ["inception"], ["rf", "--stack", "3", "--kernel", "5"]):
        assert "TOTAL" in ok(*args) or args[0] != "table"

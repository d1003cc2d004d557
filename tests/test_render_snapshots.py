"""Snapshot tests: what users see from `cnncost table` (terminal and Markdown), byte for byte.

A change in the rendering shows up in review as a diff of tests/test_output/*.  After an
intended change, refresh the files and review the diff:

    CNNCOST_UPDATE_SNAPSHOTS=1 pytest tests/test_render_snapshots.py
"""
import contextlib
import io
import os
from pathlib import Path

import pytest

from cnncost.cli import main

OUT = Path(__file__).parent / "test_output"
UPDATE = os.environ.get("CNNCOST_UPDATE_SNAPSHOTS") == "1"

CASES = {
    "alexnet.txt": ["table", "alexnet", "--wide"],
    "alexnet-80.txt": ["table", "alexnet"],
    "vgg19-60.txt": ["table", "vgg19"],
    "list-80.txt": ["list"],
    "formula-80.txt": ["formula", "resnet18"],
    "alexnet.md": ["table", "alexnet", "--format", "markdown"],
    "inception-reduced-work.txt": ["table", "inception-reduced", "--show-work"],
    "resnet-cifar.txt": ["table", "resnet-cifar", "--option", "depth=8"],
    "resnet20.md": ["table", "resnet20", "--format", "markdown", "--no-bias"],
    "vgg11-symbolic.txt": ["table", "vgg11", "--input", "HxWx3"],
    "inception.txt": ["inception"],
    "rf-stack.txt": ["rf", "--stack", "3", "--kernel", "5"],
}


def width(name: str) -> str:
    """The terminal width a snapshot is drawn for: 'vgg19-60.txt' at 60 columns, others at 80."""
    tail = name.rsplit(".", 1)[0].rsplit("-", 1)[-1]
    return tail if tail.isdigit() else "80"


@pytest.mark.parametrize("name", sorted(CASES))
def test_snapshot(name, monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("COLUMNS", width(name))
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        try:
            main(CASES[name])
        except SystemExit as e:
            assert e.code == 0, out.getvalue()
    stdout = out.getvalue()
    path = OUT / name
    if UPDATE:
        OUT.mkdir(exist_ok=True)
        path.write_text(stdout, encoding="utf-8")
    assert path.exists(), f"missing snapshot {path}; create it with CNNCOST_UPDATE_SNAPSHOTS=1"
    if name.endswith(".txt") and "--wide" not in CASES[name]:
        assert max(len(line) for line in stdout.splitlines()) <= int(width(name)), "wider than the terminal"
    expected = path.read_text(encoding="utf-8")
    assert stdout == expected, (
        f"`cnncost {' '.join(CASES[name])}` changed; if intended, refresh with CNNCOST_UPDATE_SNAPSHOTS=1 "
        "and review the diff of tests/test_output/")

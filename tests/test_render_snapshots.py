"""Snapshot tests: what users see from `cnncost table` (terminal and Markdown), byte for byte.

A change in the rendering shows up in review as a diff of tests/test_output/*.  After an
intended change, refresh the files and review the diff:

    CNNCOST_UPDATE_SNAPSHOTS=1 pytest tests/test_render_snapshots.py
"""
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cnncost.cli import app

OUT = Path(__file__).parent / "test_output"
UPDATE = os.environ.get("CNNCOST_UPDATE_SNAPSHOTS") == "1"

CASES = {
    "alexnet.txt": ["table", "alexnet"],
    "alexnet.md": ["table", "alexnet", "--format", "markdown"],
    "inception-reduced-work.txt": ["table", "inception-reduced", "--show-work"],
    "resnet20.md": ["table", "resnet20", "--format", "markdown", "--no-bias"],
    "vgg11-symbolic.txt": ["table", "vgg11", "--input", "HxWx3"],
    "inception.txt": ["inception"],
    "rf-stack.txt": ["rf", "--stack", "3", "--kernel", "5"],
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_snapshot(name):
    result = CliRunner().invoke(app, CASES[name], env={"NO_COLOR": "1"})
    assert result.exit_code == 0, result.output
    path = OUT / name
    if UPDATE:
        OUT.mkdir(exist_ok=True)
        path.write_text(result.stdout, encoding="utf-8")
    assert path.exists(), f"missing snapshot {path}; create it with CNNCOST_UPDATE_SNAPSHOTS=1"
    expected = path.read_text(encoding="utf-8")
    assert result.stdout == expected, (
        f"`cnncost {' '.join(CASES[name])}` changed; if intended, refresh with CNNCOST_UPDATE_SNAPSHOTS=1 "
        "and review the diff of tests/test_output/")

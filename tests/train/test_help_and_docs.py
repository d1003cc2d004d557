"""What the trainer's help and docs say against what the code does: no command's help names an option it
does not accept, and docs/studies/cyclical.md states the momentum `make_optimizer('sgd')` uses."""
import re
from pathlib import Path

import pytest
import typer

from cnncost_train.cli import app

DOCS = Path(__file__).resolve().parents[2] / "docs" / "studies"


def commands():
    return typer.main.get_command(app).commands.items()


def test_help_names_only_accepted_options():
    seen = 0
    for name, cmd in commands():
        accepted = {o for p in cmd.params for o in p.opts}
        texts = [cmd.help or ""] + [getattr(p, "help", None) or "" for p in cmd.params]
        for flag in set(re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", " ".join(texts))):
            seen += 1
            assert flag in accepted, f"{name}: help mentions {flag}, which {name} does not accept"
    assert seen  # the help does cite options


def test_cyclical_docs_state_the_sgd_momentum():
    torch = pytest.importorskip("torch")
    from cnncost_train.engine.study_run import make_optimizer
    opt = make_optimizer("sgd", [torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    text = (DOCS / "cyclical.md").read_text()
    assert "without momentum" not in text
    stated = re.search(r"SGD with (?:Nesterov )?momentum ([0-9.]+)", text)
    assert stated and float(stated.group(1)) == opt.defaults["momentum"]
    assert opt.defaults["nesterov"] == ("Nesterov momentum" in stated.group(0))

"""Every `cnncost-train` command, run where PyTorch cannot be imported, says in one line how to install it
(exit 2) instead of a `ModuleNotFoundError` traceback.  One subprocess hides torch (`sys.modules['torch'] =
None`, which makes `import torch` raise as a missing package does) and runs every command in process."""
import json
import subprocess
import sys

from cnncost_train.experiments import EXPERIMENTS

ARGS = {"profile": ["profile", "resnet20", "--smoke"]}

SCRIPT = r"""
import json, sys
sys.modules["torch"] = None
from typer.testing import CliRunner
from cnncost_train.cli import app
out = {}
for args in json.loads(sys.argv[1]):
    r = CliRunner().invoke(app, args + ["--out", sys.argv[2]], env={"COLUMNS": "80", "NO_COLOR": "1"})
    out[args[0]] = [r.exit_code, r.stderr, repr(r.exception) if r.exit_code not in (0, 2) else ""]
print(json.dumps(out))
"""


def test_every_command_says_install_torch(tmp_path):
    commands = [ARGS.get(name, [name.replace("_", "-"), "--smoke"]) for name in EXPERIMENTS]
    p = subprocess.run([sys.executable, "-c", SCRIPT, json.dumps(commands), str(tmp_path / "out")],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    got = json.loads(p.stdout)
    assert set(got) == {c[0] for c in commands}
    for name, (code, err, exc) in got.items():
        lines = err.strip().splitlines()
        assert code == 2 and len(lines) == 1, (name, code, err, exc)
        assert lines[0].startswith("error: ") and "install cnncost[torch]" in lines[0], (name, err)

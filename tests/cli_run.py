"""The `cnncost` command run in-process for the CLI tests: exit code, stdout and stderr, in an
80-column terminal without colour whatever runs the tests."""
import contextlib
import io
from dataclasses import dataclass

import pytest

from cnncost.cli import main


@dataclass
class Result:
    exit_code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


@pytest.fixture(autouse=True)
def terminal(monkeypatch):
    """Every command sees an 80-column terminal without colour (autouse where imported)."""
    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.setenv("NO_COLOR", "1")


def run(*args) -> Result:
    """`cnncost ARGS` in-process: exit code, stdout, stderr."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main([str(a) for a in args])
            code = 0
        except SystemExit as e:
            code = e.code
    return Result(code, out.getvalue(), err.getvalue())


def ok(*args) -> str:
    r = run(*args)
    assert r.exit_code == 0, r.output
    return r.stdout


def one_line(r: Result, code: int) -> str:
    """The command failed with `code`: one line 'error: ...' on stderr, nothing on stdout."""
    assert r.exit_code == code, r.output
    assert "Traceback" not in r.output and r.stdout == ""
    lines = r.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), r.stderr
    return lines[0]


def fails(*args) -> str:
    """The command exits 2 (a user error) with a single 'error: ...' line."""
    return one_line(run(*args), 2)

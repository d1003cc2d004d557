"""`cnncost-train`: train the zoo on a GPU and put measured speed beside the calculator's cost.

The app registers each experiment's command (`cnncost_train.experiments`); torch is imported only
inside the commands, so `--help` answers at once.
"""
from __future__ import annotations

import importlib

import typer

from cnncost_train.experiments import EXPERIMENTS

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Train cnncost specs on a GPU-resident data set; report speed beside the counted cost.")


@app.callback()
def _root():
    """Train cnncost specs on a GPU-resident data set; report speed beside the counted cost."""


for _name in EXPERIMENTS:
    importlib.import_module(f"cnncost_train.experiments.{_name}").register(app)


def main():
    app()


if __name__ == "__main__":
    main()

"""One module per `cnncost-train` command: its options (`command`), its run and its plots.

Each module exposes `register(app)`; `EXPERIMENTS` is the order the commands appear in `--help`.
Adding an experiment means adding a module here and its name to `EXPERIMENTS`.
"""
EXPERIMENTS = ("speedrun", "cutout_demo", "batch_augment", "profile", "scaling", "eggholder",
               "optimizers", "data_summary", "lr_range", "clr", "batch_range", "cbs")

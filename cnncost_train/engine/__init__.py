"""What every experiment shares: data sets, GPU augmentation, the training loop, checkpoints, evaluation,
recipes, optimisers, statistics, the study runs, command-line options and result files."""

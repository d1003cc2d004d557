"""cnncost_train: train the zoo on a GPU and put measured speed beside the calculator's cost."""

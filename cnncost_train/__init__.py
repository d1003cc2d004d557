"""cnncost_train: train the zoo on a GPU and put measured speed beside the calculator\x27s cost."""

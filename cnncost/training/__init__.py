"""What one training step costs, from the spec alone: backward FLOPs (grad-input and grad-weight
apart), the bytes autograd saves, the step's peak memory per optimizer and dtype, and the largest
batch that fits.  Pure functions over a `Report` (no torch); docs/memory.md gives the rules, their
sources and the measured agreement.

    from cnncost.training.step import training, training_flops
    report = training(analyze(spec, shape, batch=B), optimizer="adam", dtype="amp-bf16")
"""
from cnncost.training.step import training, training_flops  # noqa: E402,F401  (the trainer's entry points)

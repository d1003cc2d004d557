"""Backward FLOPs per row: the gradient with respect to the input (grad-input) and with respect to
the parameters (grad-weight), apart.

Convolution and fully connected layers (MACs M for the batch, forward 2M FLOPs):
    grad-input  = 2M  (a transposed convolution / g @ W over the same products), none when the
                  row's input needs no gradient (the first layer reading the data);
    grad-weight = 2M  (x^T @ g), none when the weights are frozen; + 1 per output element for the
                  bias gradient (a sum over batch and positions) under the cnncost convention.
Convention `torch` counts what `torch.utils.flop_counter.FlopCounterMode` counts on a real
`loss.backward()`: only `convolution_backward` and `mm`, nothing for the bias sum or any other
op; its grad-weight formula for a grouped convolution multiplies by the input channels of all
groups, so it gives 2M * groups (torch/utils/flop_counter.py, conv_backward_flop).  Conventions
`fvcore` and `macs` count per_mac * M for each product and nothing else.

The cnncost convention also counts the ops FlopCounterMode ignores (per element of the named
tensor, derived from the backward formulas in PyTorch's derivatives.yaml):

| kind | backward FLOPs | formula |
|---|---|---|
| relu | 1 per output | g * (y > 0) |
| other activations | forward count + 1 per element | derivative, then times g |
| bn (train) | 9 per element (+2 for gamma/beta grads) | dx = rstd*gamma*(g - mean(g) - xhat*mean(g*xhat)) |
| layernorm | 9 per element | as batch norm, over the normalised vector |
| max pool | 1 per output | g routed to the argmax (one add) |
| avg pool | its forward count | g / k spread over the window |
| dropout, scale | 1 per element | g * mask |
| mul | 2 per output | g * b and g * a |
| mean | 1 per input | g / n broadcast |
| add, cat, concat, views | 0 | gradients pass through |
A tensor read by several rows gets its gradients summed: 1 addition per element per extra reader.
"""
from __future__ import annotations

from cnncost.conventions import ACTIVATION_FLOPS
from cnncost.sizes import numel_of

MATMUL = frozenset({"conv", "fc"})
PASS = frozenset({"add", "cat", "concat", "flatten", "reshape", "permute", "slice", "shortcut", "identity", "param",
                  "const"})
#: cnncost convention: backward FLOPs per element of the output (kind -> factor)
PER_OUTPUT = {"relu": 1, "maxpool": 1, "adaptive_maxpool": 1, "dropout": 1, "scale": 1, "mul": 2}
PER_INPUT = {"bn": 9, "layernorm": 9, "mean": 1}
#: every kind with a backward rule here; any other kind's backward is unknown (None), never 0
KNOWN = (MATMUL | PASS | set(PER_OUTPUT) | set(PER_INPUT) | {"avgpool", "adaptive_avgpool", "lrn"}
         | set(ACTIVATION_FLOPS))


def _groups(row) -> int:
    return getattr(row.layer, "groups", 1) or 1


def backward(row, convention: str, batch, needs_input_grad: bool, trains_weights: bool):
    """(grad_input, grad_weight) FLOPs of one row for the whole batch; None when no rule knows it."""
    if not row.known or row.macs is None:
        return None
    if row.kind in MATMUL:
        per_mac = {"cnncost": 2, "torch": 2, "fvcore": 1, "macs": 1}.get(convention, 2)
        gi = per_mac * row.macs if needs_input_grad else 0
        gw = 0
        if trains_weights:
            gw = per_mac * row.macs * (_groups(row) if convention == "torch" else 1)
            if convention == "cnncost" and row.biases:
                gw += row.elements
        return gi, gw
    if row.kind not in KNOWN:
        return None
    if convention != "cnncost":
        return (0, 0)
    if not needs_input_grad and not row.weights:
        return (0, 0)
    if row.kind in PASS:
        return (0, 0)
    inputs = numel_of(row.input_shape) * batch
    gw = 0
    if row.kind in ("bn", "layernorm") and row.weights and trains_weights:
        gw = 2 * inputs
    if row.kind in PER_OUTPUT:
        return PER_OUTPUT[row.kind] * row.elements, gw
    if row.kind in PER_INPUT:
        return PER_INPUT[row.kind] * inputs, gw
    if row.kind in ("avgpool", "adaptive_avgpool", "lrn"):
        return row.flops, gw
    if row.kind in ACTIVATION_FLOPS:
        return (ACTIVATION_FLOPS[row.kind] + 1) * row.elements, gw
    return None

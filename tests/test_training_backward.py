"""Backward FLOPs against torch's FlopCounterMode on a real `loss.backward()` (convention torch),
grad-input and grad-weight apart, and by hand for the rules FlopCounterMode does not see."""
import pytest

from cnncost.resolve import analyze
from cnncost.training.step import training, training_flops
from cnncost.walk import analyze as run
from training_cases import model, params

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("name", params())
def test_backward_flops_equal_flopcountermode(name):
    from cnncost.torch.instruments import backward_flops
    spec, module, shape = model(name)
    ours = training(run(spec, shape, batch=2, convention="torch"))
    theirs = backward_flops(module, shape, batch=2)
    assert ours.total["flops"] == theirs["forward"]
    assert ours.training["grad_input_flops"] == theirs["grad_input"]
    assert ours.training["grad_weight_flops"] == theirs["grad_weight"]
    assert ours.training["backward_flops"] == theirs["backward"]
    assert ours.training["training_flops"] == theirs["forward"] + theirs["backward"]


def test_first_layer_has_no_grad_input_and_frozen_layers_no_grad_weight():
    # VGG19 conv1_1: 224*224*64 outputs * 3*3*3 MACs each; its input is the data
    report = training(analyze("vgg19", convention="torch"), frozen={"fc8"})
    rows = {r.name: r.train for r in report.rows}
    macs = 224 * 224 * 64 * 27
    assert rows["conv1_1"]["grad_input_flops"] == 0
    assert rows["conv1_1"]["grad_weight_flops"] == 2 * macs
    assert rows["conv1_2"]["grad_input_flops"] == 2 * (224 * 224 * 64) * (3 * 3 * 64)
    assert rows["fc8"]["grad_weight_flops"] == 0 and rows["fc8"]["grad_input_flops"] == 2 * 4096 * 1000
    assert rows["relu1_1"]["backward_flops"] == 0          # FlopCounterMode ignores ReLU


def test_grouped_convolution_grad_weight_follows_flop_counter_formula():
    # FlopCounterMode's grad-weight of a grouped conv counts all input channels: groups x 2 x MACs
    from cnncost import spec
    net = spec.seq(spec.Conv2d(8, 3, padding=1), spec.Conv2d(8, 3, padding=1, groups=4, name="dw"))
    rows = {r.name: r.train for r in training(run(net, (8, 6, 6), convention="torch")).rows}
    macs = 6 * 6 * 8 * (3 * 3 * 2)
    assert rows["dw"]["grad_weight_flops"] == 4 * 2 * macs
    assert rows["dw"]["grad_input_flops"] == 2 * macs
    ours = {r.name: r.train for r in training(run(net, (8, 6, 6))).rows}
    assert ours["dw"]["grad_weight_flops"] == 2 * macs + 6 * 6 * 8      # true products + the bias sum


def test_cnncost_convention_counts_what_flopcountermode_ignores():
    # resnet20 stem: conv1 (no bias) -> bn1 -> relu, 32*32*16 elements per sample
    rows = {r.name: r.train for r in training(analyze("resnet20")).rows}
    n = 32 * 32 * 16
    # g * (y > 0) once per element, + 1 per element to sum the two gradients of the ReLU's output
    # (read by layer1.0's first conv and by its shortcut add)
    assert rows["relu"]["grad_input_flops"] == n + n
    assert rows["bn1"]["grad_input_flops"] == 9 * n               # docs: 9 per element
    assert rows["bn1"]["grad_weight_flops"] == 2 * n              # gamma, beta: a product and two sums
    # the block's input is read by conv1 of the body and by the add: one extra gradient sum
    assert rows["layer1.0.res.add"]["backward_flops"] == 0


def test_training_flops_for_the_trainer_is_forward_plus_backward():
    report = analyze("resnet20", convention="torch")
    t = training(report)
    assert training_flops(report) == report.total["flops"] + t.training["backward_flops"]
    # FlopCounterMode's "3 x forward" holds for this net only up to the first layer's grad-input
    assert training_flops(report) < 3 * report.total["flops"]


def test_unknown_kind_is_question_mark_not_zero():
    from cnncost import spec
    net = spec.seq(spec.Conv2d(4, 3), spec.Opaque("mystery"), spec.Conv2d(4, 1))
    t = training(run(net, (3, 8, 8)))
    mystery = next(r for r in t.rows if r.kind == "mystery")
    assert mystery.train["backward_flops"] is None and mystery.train["saved_bytes"] is None
    assert t.training["peak_bytes"] is None and "mystery" in t.training["unknown"]

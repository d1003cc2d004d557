"""The step's predicted peak against a measured one: MemTracker's peak of live tensor storages
through a real steady-state step (forward, cross-entropy, backward, optimizer step,
zero_grad(set_to_none=True)) on CPU; within 5%, for SGD, momentum, Adam and AdamW."""
import pytest

from cnncost.resolve import analyze
from cnncost.training.fit import largest_batch, parse_memory
from cnncost.training.peak import _prune, peak_at
from cnncost.training.step import training
from cnncost.walk import analyze as run
from training_cases import model, params

torch = pytest.importorskip("torch")
TOLERANCE = 0.05


def _check(name, batch, optimizer):
    from cnncost.torch.instruments import step_peak
    spec, module, shape = model(name)
    predicted = training(run(spec, shape, batch=batch), optimizer=optimizer).training["peak_bytes"]
    measured = step_peak(module, shape, batch, optimizer)["total"]
    assert abs(predicted - measured) <= TOLERANCE * measured, (predicted, measured)


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam", "adamw"])
def test_peak_within_five_percent_every_optimizer(optimizer):
    _check("lenet5", 4, optimizer)


def test_peak_within_five_percent_residual_net():
    _check("resnet20", 4, "momentum")


@pytest.mark.slow
@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
@pytest.mark.parametrize("name", [p.values[0] for p in params()])
def test_peak_within_five_percent(name, optimizer):
    _check(name, 8, optimizer)


def test_adam_state_and_temporaries_by_hand():
    # mlp 3072-1000-1000-10: P parameters; the peak of a batch-1 Adam step is the optimizer step
    # itself: parameters + gradients + 2 moments + 4-byte step counts (6 tensors) + the for-loop
    # implementation's two temporaries of the largest tensor (3072 x 1000), + the batch (data, label)
    p = 3072 * 1000 + 1000 + 1000 * 1000 + 1000 + 1000 * 10 + 10
    t = training(analyze("mlp"), optimizer="adam").training
    assert t["peak_phase"] == "optimizer step"
    assert t["peak_bytes"] == 4 * p * 4 + 6 * 4 + 2 * 3072 * 1000 * 4 + 3072 * 4 + 8


def test_pruned_candidates_give_the_same_peak_at_every_batch():
    import random
    rng = random.Random(0)
    for _ in range(200):
        lines = [(rng.randint(0, 100), rng.randint(0, 20), "x") for _ in range(rng.randint(1, 12))]
        hull = _prune(lines)
        for b in range(1, 60):
            assert max(c + s * b for c, s, _ in lines) == max(c + s * b for c, s, _ in hull)


def test_symbolic_batch_peak_and_fit():
    import sympy
    b = sympy.Symbol("B")
    closed = training(analyze("resnet20", batch=b), optimizer="sgd").training["peak_bytes"]
    for n in (1, 7, 64):
        assert closed.subs(b, n) == training(analyze("resnet20", batch=n), optimizer="sgd").training["peak_bytes"]
    peaks = training(analyze("resnet20"), optimizer="sgd").training["peak_candidates"]
    memory = parse_memory("1GiB")
    n = largest_batch(peaks, memory)
    assert peak_at(peaks, n)[0] <= memory < peak_at(peaks, n + 1)[0]


@pytest.mark.parametrize("text, expected", [("80GiB", 80 * 2 ** 30), ("80 GiB", 80 * 2 ** 30),
                                            ("80GB", 80 * 10 ** 9), ("512MiB", 512 * 2 ** 20), ("1.5GiB", 3 * 2 ** 29)])
def test_memory_sizes_parse(text, expected):
    assert parse_memory(text) == expected


@pytest.mark.parametrize("text", ["lots", "80 GiBs", "-1GiB", "", "0"])
def test_bad_memory_sizes_are_refused(text):
    from cnncost.errors import CostError
    with pytest.raises(CostError):
        parse_memory(text)

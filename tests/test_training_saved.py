"""Saved-for-backward bytes against `torch.autograd.graph.saved_tensors_hooks`: the unique storages,
other than the module's parameters and buffers, saved in one train-mode forward; fp32 and bf16
autocast, byte for byte.  Per-op expectations come from measuring single ops (and PyTorch's
derivatives.yaml), never from our own output."""
import pytest

from cnncost.resolve import analyze
from cnncost.training.step import training
from cnncost.walk import analyze as run
from training_cases import model, params

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("dtype", ["fp32", "amp-bf16"])
@pytest.mark.parametrize("name", params())
def test_saved_bytes_equal_saved_tensors_hooks(name, dtype):
    from cnncost.torch.instruments import saved_bytes
    spec, module, shape = model(name)
    ours = training(run(spec, shape, batch=2), dtype=dtype).training["saved_bytes"]
    assert ours == saved_bytes(module, shape, batch=2, autocast="bf16" if dtype == "amp-bf16" else None)


@pytest.mark.parametrize("name", ["lenet5", "resnet20"] + [pytest.param(n, marks=pytest.mark.slow) for n in
                                                          ("mlp", "torchvision:mobilenet_v3_small")])
def test_pure_bf16_saved_bytes(name):
    from cnncost.torch.instruments import saved_bytes
    spec, module, shape = model(name)
    ours = training(run(spec, shape, batch=2), dtype="bf16").training["saved_bytes"]
    assert ours == saved_bytes(module, shape, batch=2, dtype=torch.bfloat16)


def test_lenet5_by_hand():
    # per sample, fp32: c1 saves the 28x28x1 input; relu1 its 28x28x6 output (which s2 saves too:
    # counted once); s2 its int64 argmax 14x14x6; c3 the pool output; relu3 10x10x16; s4 int64 5x5x16;
    # c5 the flattened pool output (a view: the same storage); relu5 120; relu6 84; the last fc's
    # input is relu6's output
    per_sample = (28 * 28 * 4 + 28 * 28 * 6 * 4 + 14 * 14 * 6 * 8 + 14 * 14 * 6 * 4 + 10 * 10 * 16 * 4
                  + 5 * 5 * 16 * 8 + 5 * 5 * 16 * 4 + 120 * 4 + 84 * 4)
    report = training(analyze("lenet5", batch=2))
    assert report.training["saved_bytes"] == 2 * per_sample
    assert sum(r.train["saved_bytes"] for r in report.rows) == 2 * per_sample


def test_batch_norm_statistics_do_not_grow_with_the_batch():
    one = training(analyze("resnet20", batch=1)).training["saved_bytes"]
    two = training(analyze("resnet20", batch=2)).training["saved_bytes"]
    bn_channels = 16 * 7 + 32 * 6 + 64 * 6       # 19 batch norms: stem + 6 per stage (3 blocks x 2)
    assert 2 * one - two == 2 * bn_channels * 4   # mean and inverse std per channel, fp32


def test_autocast_saves_bf16_copies_of_weights_and_fp32_inputs():
    from cnncost import spec
    net = spec.seq(spec.Conv2d(8, 3, padding=1, bias=False, name="conv"))
    fp32 = training(run(net, (3, 8, 8))).training["saved_bytes"]
    amp = training(run(net, (3, 8, 8)), dtype="amp-bf16").training["saved_bytes"]
    assert fp32 == 3 * 8 * 8 * 4                       # the input
    assert amp == 3 * 8 * 8 * 2 + 8 * 3 * 3 * 3 * 2    # its bf16 copy and the weight's


def test_dropout_mask_is_one_byte_on_cuda():
    cpu = training(analyze("mlp", dropout_hidden=0.5)).rows
    cuda = training(analyze("mlp", dropout_hidden=0.5), device="cuda").rows
    drop = [i for i, r in enumerate(cpu) if r.kind == "dropout"][0]
    assert cpu[drop].train["saved_bytes"] == 1000 * 4 and cuda[drop].train["saved_bytes"] == 1000


def test_symbolic_batch_is_a_closed_form():
    import sympy
    b = sympy.Symbol("B")
    closed = training(analyze("resnet20", batch=b)).training["saved_bytes"]
    assert closed.subs(b, 8) == training(analyze("resnet20", batch=8)).training["saved_bytes"]


def test_a_product_with_a_constant_saves_only_the_constant():
    """x * c with c a buffer (a one-input mul row from the run-time reader): autograd keeps c, the
    model's own storage, for x's gradient, and nothing of the forward's; checked with saved-tensor
    hooks on the same module."""
    from torch import nn

    from cnncost.torch.instruments import saved_bytes
    from cnncost.torch.read import read_module

    class Scaled(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv, self.fc = nn.Conv2d(3, 4, 3), nn.Linear(4 * 6 * 6, 5)
            self.register_buffer("gain", torch.full((4, 6, 6), 0.5))

        def forward(self, x):
            return self.fc((self.conv(x) * self.gain).flatten(1))
    module = Scaled()
    r = read_module(module, (3, 8, 8), method="run")
    assert "mul" in [row.kind for row in run(r.spec, (3, 8, 8)).rows]
    ours = training(run(r.spec, (3, 8, 8), batch=2)).training["saved_bytes"]
    assert ours == saved_bytes(module.train(), (3, 8, 8), batch=2)

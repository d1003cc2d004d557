"""Recurrent layers (Elman RNN, LSTM of Hochreiter & Schmidhuber 1997, GRU of Cho et al. 2014, as
PyTorch's nn.RNN/LSTM/GRU docs write them) and embeddings.  Per layer l and direction, with
G gates (1, 3, 4), input size I_l (F, then D*H_out) and H_out = proj_size or H:
    weights = G*H*I_l + G*H*H_out (+ H_out*H projection),  biases = 2*G*H,
    MACs per step = G*H*(I_l + H_out) (+ H*H_out projection)."""
from __future__ import annotations

from cnncost import spec
from cnncost.errors import CostError
from cnncost.rules.core import UNKNOWN, Cost, dims_text, rule
from cnncost.sizes import exact


def _cell_ops(mode: str, nonlinearity: str, H) -> dict:
    """Elementwise work of one cell step after the two products, per direction."""
    if mode == "lstm":   # i, f, o sigmoid; g tanh; c = f*c + i*g; h = o*tanh(c)
        return {"act:sigmoid": 3 * H, "act:tanh": 2 * H, "mul": 3 * H, "add": 4 * H + H}
    if mode == "gru":    # r, z sigmoid; n = tanh(x_n + r*h_n); h = (1-z)*n + z*h
        return {"act:sigmoid": 2 * H, "act:tanh": H, "mul": 3 * H, "add": 3 * H + 2 * H}
    return {f"act:{nonlinearity}": H, "add": H}


@rule(spec.Recurrent)
def recurrent(layer: spec.Recurrent, shape, who):
    if len(shape) != 2:
        raise CostError(f"{who}: {layer.mode.upper()} needs a (T, F) sequence per sample, got {dims_text(shape)}")
    T, F = shape
    G, H, D = spec.recurrent.GATES[layer.mode], layer.hidden_size, layer.directions
    Ho = layer.out_size
    weights = biases = macs = 0
    parts = []
    for i in range(layer.num_layers):
        n_in = F if i == 0 else D * Ho
        per = G * H * n_in + G * H * Ho + (Ho * H if layer.proj_size else 0)
        weights += D * per
        biases += D * 2 * G * H if layer.bias else 0
        macs += D * T * (G * H * (n_in + Ho) + (H * Ho if layer.proj_size else 0))
        parts.append(f"{D}*({G}*{H}*({n_in}+{Ho}){f' + {Ho}*{H}' if layer.proj_size else ''})")
    steps = layer.num_layers * D * T
    ops = {k: steps * v for k, v in _cell_ops(layer.mode, layer.nonlinearity, H).items()}
    if layer.bias:
        ops["bias"] = steps * 2 * G * H
    work = {"weights": f"{' + '.join(parts)} = {exact(weights)}",
            "macs": f"{T} steps x ({' + '.join(parts)}) = {exact(macs)}"}
    return Cost((T, D * Ho), weights, biases, macs, ops, window=UNKNOWN, work=work)


@rule(spec.Embedding)
def embedding(layer: spec.Embedding, shape, who):
    """A lookup: num_embeddings*embedding_dim weights; output (*indices, embedding_dim); no arithmetic."""
    n = layer.num_embeddings * layer.embedding_dim
    return Cost((*shape, layer.embedding_dim), weights=n, window=UNKNOWN,
                work={"weights": f"{layer.num_embeddings}*{layer.embedding_dim} = {exact(n)}"})

"""Products, attention, recurrent layers and embeddings against PyTorch itself: forward shape,
sum(numel) of the parameters, FlopCounterMode FLOPs under the torch convention (on the meta
device, where attention and LSTM run their decomposed matmuls), and fvcore where it has a
handler (mm/bmm/matmul/einsum/addmm; none for aten::lstm or scaled_dot_product_attention)."""
import pytest
from hypothesis import given, settings, strategies as st

from cnncost import spec
from cnncost.errors import CostError
from cnncost.walk import analyze

torch = pytest.importorskip("torch")
pytest.importorskip("fvcore")
from layer_oracles import check, ours  # noqa: E402

N = spec.Node


def graph(*nodes):
    return spec.Graph(nodes, nodes[-1].name)


PRODUCTS = [
    ("mm by a learned matrix", graph(N("w", spec.Param((6, 4)), ()), N("mm", spec.MatMul(), ("input", "w"))), (5, 6)),
    ("vector by matrix", graph(N("w", spec.Param((6, 4)), ()), N("mm", spec.MatMul(), ("input", "w"))), (6,)),
    ("bmm of activations", graph(N("t", spec.Permute((0, 2, 1))), N("mm", spec.MatMul(), ("input", "t"))), (3, 4, 5)),
    ("broadcast batch", graph(N("w", spec.Param((1, 5, 2)), ()), N("mm", spec.MatMul(), ("input", "w"))), (3, 4, 5)),
    ("addmm", graph(N("w", spec.Param((6, 4)), ()), N("b", spec.Param((4,)), ()),
                    N("mm", spec.AddMatMul(), ("b", "input", "w"))), (6,)),
    ("baddbmm", graph(N("t", spec.Permute((0, 2, 1))), N("mm", spec.AddMatMul(beta=0.5, alpha=2), ("input", "input", "t"))),
     (3, 4, 4)),
    ("einsum contraction", graph(N("w", spec.Param((5, 7)), ()), N("e", spec.Einsum("hqd,dk->hqk"), ("input", "w"))),
     (3, 4, 5)),
    ("einsum attention scores", graph(N("e", spec.Einsum("hqd,hkd->hqk"), ("input", "input"))), (3, 4, 5)),
    ("einsum three operands", graph(N("a", spec.Param((5, 2)), ()), N("b", spec.Param((2, 3)), ()),
                                    N("e", spec.Einsum("ij,jk,kl->il"), ("input", "a", "b"))), (4, 5)),
    ("einsum elementwise", graph(N("e", spec.Einsum("ij,ij->ij"), ("input", "input"))), (4, 5)),
]


@pytest.mark.parametrize("model, shape", [p[1:] for p in PRODUCTS], ids=[p[0] for p in PRODUCTS])
def test_products_match_torch_and_fvcore(model, shape, request):
    # fvcore counts an einsum without a summed letter as floor(n/2) (numpy's einsum_path); we count n multiplies
    check(model, shape, fvcore="elementwise" not in request.node.callspec.id)


def test_einsum_three_operands_contract_left_to_right_by_hand():
    """(4x5)(5x2) = 40 MACs, then (4x2)(2x3) = 24 MACs: 64, as torch.einsum runs it."""
    model = PRODUCTS[8][1]
    assert analyze(model, (4, 5)).total["macs"] == 4 * 5 * 2 + 4 * 2 * 3 == 64


@settings(max_examples=15, deadline=None)
@given(st.integers(1, 3), st.integers(1, 5), st.integers(1, 5), st.integers(1, 4), st.integers(1, 4),
       st.booleans(), st.booleans())
def test_sdpa_matches_torch(heads, L, S, E, Ev, causal, mask):
    """q (h, L, E) from the input; k, v learned (h, S, E), (h, S, Ev); optional additive mask."""
    nodes = [N("k", spec.Param((heads, S, E)), ()), N("v", spec.Param((heads, S, Ev)), ())]
    inputs = ("input", "k", "v")
    if mask:
        nodes.append(N("m", spec.Param((L, S)), ()))
        inputs += ("m",)
    nodes.append(N("attn", spec.ScaledDotProductAttention(is_causal=causal and not mask), inputs))
    check(graph(*nodes), (heads, L, E), fvcore=False)


MHA = [
    ("self", spec.MultiheadAttention(8, 2), 1, (5, 8)),
    ("batch_first no bias", spec.MultiheadAttention(8, 4, bias=False, batch_first=True), 1, (3, 8)),
    ("bias_kv zero_attn", spec.MultiheadAttention(6, 3, add_bias_kv=True, add_zero_attn=True), 1, (4, 6)),
    ("kdim vdim", spec.MultiheadAttention(8, 2, kdim=5, vdim=3), 3, (4, 8)),
    ("no weights", spec.MultiheadAttention(8, 2, need_weights=False), 1, (5, 8)),
]


@pytest.mark.parametrize("layer, n_inputs, shape", [m[1:] for m in MHA], ids=[m[0] for m in MHA])
def test_multihead_attention_matches_torch(layer, n_inputs, shape):
    if n_inputs == 1:
        model = spec.seq(layer)
    else:
        model = graph(N("k", spec.Linear(layer.kdim)), N("v", spec.Linear(layer.vdim)), N("attn", layer, ("input", "k", "v")))
    check(model, shape, fvcore=True)


def test_multihead_attention_by_hand():
    """E = 8, 2 heads, L = S = 5: projections 3*5*8*8 + out 5*8*8 = 1,280 MACs, attention
    2*5*5*8 = 400; weights 4*64 = 256, biases 4*8 = 32 (PyTorch's in_proj and out_proj)."""
    r = analyze(spec.seq(spec.MultiheadAttention(8, 2)), (5, 8))
    assert r.total["macs"] == 4 * 5 * 8 * 8 + 2 * 5 * 5 * 8
    assert (r.total["weights"], r.total["biases"]) == (256, 32)


@st.composite
def recurrent_case(draw):
    mode = draw(st.sampled_from(["rnn", "lstm", "gru"]))
    hidden = draw(st.integers(2, 6))
    proj = draw(st.integers(0, hidden - 1)) if mode == "lstm" else 0
    layer = spec.Recurrent(mode, hidden, draw(st.integers(1, 3)), draw(st.booleans()), draw(st.booleans()),
                           0.0, draw(st.booleans()), proj, draw(st.sampled_from(["tanh", "relu"])))
    return spec.seq(layer), (draw(st.integers(1, 5)), draw(st.integers(1, 5)))


@settings(max_examples=20, deadline=None)
@given(recurrent_case())
def test_recurrent_matches_torch(case):
    model, shape = case
    report = check(model, shape, fvcore=False)
    assert ours(model, shape, "fvcore").total["flops"] == 0   # fvcore has no handler for aten::lstm/gru/rnn


def test_lstm_by_hand():
    """LSTM(16 -> 32), one layer: weights 4*32*(16+32) = 6,144, biases 2*4*32 = 256 (PyTorch's
    weight_ih/hh, bias_ih/hh); 7 steps: 7*4*32*48 = 43,008 MACs."""
    r = analyze(spec.seq(spec.LSTM(32)), (7, 16))
    assert (r.total["weights"], r.total["biases"], r.total["macs"]) == (6144, 256, 43008)
    assert r.total["output_shape"] == (7, 32)


def test_embedding_matches_torch():
    check(spec.seq(spec.Embedding(10, 4), spec.Linear(3)), (6,), dtype=torch.long)


@pytest.mark.parametrize("make, message", [
    (lambda: analyze(graph(N("w", spec.Param((5, 4)), ()), N("mm", spec.MatMul(), ("input", "w"))), (3, 6)),
     "cannot multiply 3x6 by 5x4"),
    (lambda: spec.MultiheadAttention(10, 3), "not divisible by num_heads"),
    (lambda: spec.LSTM(4, proj_size=4), "proj_size 4 must be smaller"),
    (lambda: spec.GRU(4, proj_size=2) if False else spec.Recurrent("gru", 4, proj_size=2), "proj_size applies to LSTM"),
    (lambda: analyze(spec.seq(spec.LSTM(4)), (3, 8, 8)), r"needs a \(T, F\) sequence"),
    (lambda: spec.Einsum("ab..->b"), "cannot read einsum equation"),
    (lambda: analyze(spec.seq(spec.MatMul()), (3, 3)), "MatMul takes 2 inputs, got 1"),
    (lambda: N("mm", spec.MatMul(), ("input",)), "MatMul needs two inputs, got 1"),
])
def test_sequence_errors_are_one_line(make, message):
    with pytest.raises(CostError, match=message):
        make()


def test_grouped_query_attention_matches_torch():
    """enable_gqa: 4 query heads share 2 key/value heads (torch repeats them; sdpa_flop_count
    counts the products over the query heads)."""
    model = graph(N("k", spec.Param((2, 6, 8)), ()), N("v", spec.Param((2, 6, 8)), ()),
                  N("attn", spec.ScaledDotProductAttention(enable_gqa=True), ("input", "k", "v")))
    check(model, (4, 5, 8), fvcore=False)


def test_roi_align_matches_torchvision():
    """Boxes (K, 4) made from the input by a learned (K, 4) tensor; output (K, C, 7, 7)."""
    pytest.importorskip("torchvision")
    model = graph(N("b", spec.Param((3, 4)), ()), N("boxes", spec.Expand((3, 4)), ("b",)),
                  N("roi", spec.RoIAlign(7, 0.5, 2), ("input", "boxes")))
    r = analyze(model, (4, 16, 16))
    from cnncost.torch.build import build
    roi = build(model, (4, 16, 16)).roi
    boxes = torch.tensor([[1.0, 1.0, 9.0, 9.0], [0.0, 2.0, 5.0, 7.0], [3.0, 3.0, 15.0, 12.0]]).expand(2, 3, 4)
    out = roi(torch.randn(2, 4, 16, 16), boxes)
    assert (2, *r.total["output_shape"]) == tuple(out.shape) == (2, 3, 4, 7, 7)
    assert r.rows[-1].flops == 3 * 4 * 49 * (4 * 4 * 2 + 4)   # 4 samples x 4 taps x 2, + 4 adds per bin

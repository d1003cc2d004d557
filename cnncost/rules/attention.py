"""Attention: scaled dot-product attention and nn.MultiheadAttention (Vaswani et al. 2017,
eq. 1 and section 3.2.2).  MACs are the two products q k^T and (weights) v, and the projections;
torch.utils.flop_counter's sdpa_flop_count counts the same two products, 2 FLOPs per MAC."""
from __future__ import annotations

from cnncost import spec
from cnncost.errors import CostError
from cnncost.rules.core import UNKNOWN, Cost, broadcast, dims_text, rule
from cnncost.sizes import ceildiv, equal, exact, is_concrete, numel_of as numel


def _attend(q, k, v, who, gqa: bool) -> tuple:
    """(output shape, MACs, score elements) for q (..., L, E), k (..., S, E), v (..., S, Ev)."""
    if len(q) < 2 or len(k) < 2 or len(v) < 2:
        raise CostError(f"{who}: attention needs (..., L, E) inputs, got {dims_text(q)}, {dims_text(k)}, {dims_text(v)}")
    L, E = q[-2], q[-1]
    S, Ek = k[-2], k[-1]
    if not equal(E, Ek) or not equal(S, v[-2]):
        raise CostError(f"{who}: attention cannot pair q {dims_text(q)}, k {dims_text(k)}, v {dims_text(v)}")
    kb, vb = k[:-2], v[:-2]
    if gqa and len(q) >= 3 and len(k) >= 3 and is_concrete(q[-3]) and is_concrete(k[-3]) and q[-3] != k[-3]:
        if q[-3] % k[-3]:
            raise CostError(f"{who}: {q[-3]} query heads are not a multiple of {k[-3]} key/value heads")
        kb, vb = (*k[:-3], q[-3]), (*v[:-3], q[-3])
    batch = broadcast([q[:-2], kb, vb], who) if len(q) > 2 or len(k) > 2 else ()
    Ev = v[-1]
    scores = numel((*batch, L, S))
    return (*batch, L, Ev), numel((*batch, L, S)) * E + scores * Ev, scores


@rule(spec.ScaledDotProductAttention)
def sdpa(layer: spec.ScaledDotProductAttention, shapes, who):
    """MACs = batch*L*S*E (scores) + batch*L*S*Ev (weighted values); per score: a scaling, the
    softmax (3), and an add for a mask (given or causal)."""
    q, k, v, *mask = shapes
    out, macs, scores = _attend(q, k, v, who, layer.enable_gqa)
    if mask:
        broadcast([mask[0], out[:-1] + (k[-2],)], who)
    ops = {"scale": scores, "act:softmax": scores}
    if mask or layer.is_causal:
        ops["add"] = scores
    return Cost(out, macs=macs, ops=ops, window=UNKNOWN,
                work={"macs": f"{exact(macs)} (q k^T and weights v)", "scores": exact(scores)})


@rule(spec.MultiheadAttention)
def mha(layer: spec.MultiheadAttention, shapes, who):
    """Projections q: L*E*E, k: S*kdim*E, v: S*vdim*E, out: L*E*E MACs; attention 2*L*S*E MACs
    over all heads; weights 3*E*E (E*(E + kdim + vdim) with other kdim/vdim) + E*E, biases 4*E
    (+ 2*E for add_bias_kv).  add_bias_kv and add_zero_attn each add one key position."""
    q = shapes[0]
    k = shapes[1] if len(shapes) > 1 else q
    v = shapes[2] if len(shapes) > 2 else k
    E, h = layer.embed_dim, layer.num_heads
    kdim, vdim = layer.kdim or E, layer.vdim or E
    for shape, want, what in ((q, E, "query"), (k, kdim, "key"), (v, vdim, "value")):
        if len(shape) != 2 or not equal(shape[-1], want):
            raise CostError(f"{who}: {what} must be (L, {want}) per sample, got {dims_text(shape)}")
    if not equal(k[0], v[0]):
        raise CostError(f"{who}: key and value lengths differ ({k[0]} and {v[0]})")
    L, S = q[0], k[0] + layer.add_bias_kv + layer.add_zero_attn
    proj = L * E * E + k[0] * kdim * E + v[0] * vdim * E
    attend = 2 * L * S * E
    out_proj = L * E * E
    macs = proj + attend + out_proj
    weights = E * (E + kdim + vdim) + E * E
    biases = (4 * E if layer.bias else 0) + (2 * E if layer.add_bias_kv else 0)
    scores = h * L * S
    ops = {"scale": scores, "act:softmax": scores}
    if layer.bias:
        ops["bias"] = 2 * L * E + k[0] * E + v[0] * E
    if layer.need_weights:
        ops["mean"] = scores
    else:   # PyTorch runs the attention as scaled_dot_product_attention (its products marked for fvcore)
        ops["sdpa_macs"] = attend
    work = {"macs": f"{exact(proj)} (in-projections) + {exact(attend)} (attention) + {exact(out_proj)} "
                    f"(out-projection) = {exact(macs)}",
            "weights": f"{E}*({E}+{kdim}+{vdim}) + {E}*{E} = {exact(weights)}"}
    return Cost((L, E), weights, biases, macs, ops, window=UNKNOWN, work=work)


#: torchvision's ShiftedWindowAttentionV2: the continuous position bias MLP is Linear(2, 512), ReLU,
#: Linear(512, heads, bias=False) (Liu et al. 2022, sec. 3.4)
CPB_HIDDEN = 512


def _shifted(layer: spec.WindowAttention, h, w):
    """Whether the map is rolled (and the mask added): some axis has a shift and its padded size is
    more than one window, i.e. the size itself is (torchvision sets the shift of a shorter axis to 0)."""
    axes = [(n, k) for n, k, s in zip((h, w), layer.window, layer.shift) if s > 0]
    if all(is_concrete(n) for n, _ in axes):
        return any(n > k for n, k in axes)
    import sympy
    return sympy.Or(*(sympy.Gt(n, k) for n, k in axes))


@rule(spec.WindowAttention)
def window_attention(layer: spec.WindowAttention, shape, who):
    """Padded to Hp = ceil(H/wh)*wh, Wp = ceil(W/ww)*ww: T = Hp*Wp tokens in windows of N = wh*ww,
    heads*N scores per token.  MACs: qkv T*C*3C, q k^T and weights v T*N*C each, proj T*C*C (V2 adds
    the position-bias MLP over M = (2wh-1)(2ww-1) offsets: M*2*512 + M*512*heads).  Weights 4C^2 plus
    the bias table M*heads (V1) or the MLP 2*512 + 512*heads and the logit scales (V2); biases 3C + C
    (+ 512, V2).  Per score: bias add, softmax, and the mask add when rolled; V1 scales q (T*C), V2
    normalises q and k (norm, clamp, divide) and scales each score; FlopCounterMode counts the
    products only, fvcore their MACs and (as activations) their outputs."""
    if len(shape) != 3 or not equal(shape[2], layer.dim):
        raise CostError(f"{who}: window attention needs an (H, W, {layer.dim}) map, got {dims_text(shape)}")
    h, w, c = shape
    (wh, ww), heads = layer.window, layer.num_heads
    tokens = ceildiv(h, wh) * wh * ceildiv(w, ww) * ww
    n, m = wh * ww, (2 * wh - 1) * (2 * ww - 1)
    scores = tokens * heads * n
    qkv, attend, proj = tokens * c * 3 * c, 2 * tokens * n * c, tokens * c * c
    macs, weights = qkv + attend + proj, 4 * c * c
    biases = 3 * c * int(layer.qkv_bias) + c * int(layer.proj_bias)
    ops = {"bias": tokens * 3 * c * int(layer.qkv_bias) + tokens * c * int(layer.proj_bias), "add": scores,
           "act:softmax": scores, "product_outputs": tokens * 3 * c + scores + 2 * tokens * c}
    shifted = _shifted(layer, h, w)
    if shifted is True:
        ops["fn:add"] = scores
    elif shifted is not False:
        import sympy
        ops["fn:add"] = sympy.Piecewise((scores, shifted), (0, True))
    table = f"{m}*{heads}"
    if layer.version == 1:
        weights += m * heads
        ops["scale"] = tokens * c
    else:
        mlp = m * 2 * CPB_HIDDEN + m * CPB_HIDDEN * heads
        macs += mlp
        weights += 2 * CPB_HIDDEN + CPB_HIDDEN * heads + heads
        biases += CPB_HIDDEN
        table = f"2*{CPB_HIDDEN} + {CPB_HIDDEN}*{heads} + {heads}"
        ops["bias"] += m * CPB_HIDDEN
        ops["product_outputs"] += m * CPB_HIDDEN + m * heads
        ops.update({"act:relu": m * CPB_HIDDEN, "act:sigmoid": heads * n * n, "scale": heads * n * n,
                    "reduce:norm": 2 * tokens * c, "fn:clamp": 2 * tokens * heads, "fn:div": 2 * tokens * c,
                    "mul": scores})
    extra = f" + {exact(mlp)} (position-bias MLP)" if layer.version == 2 else ""
    work = {"macs": f"{exact(qkv)} (qkv) + {exact(attend)} (q k^T and weights v, {exact(tokens)} tokens in "
                    f"windows of {n}) + {exact(proj)} (proj){extra} = {exact(macs)}",
            "weights": f"4*{exact(c)}^2 + {table} = {exact(weights)}", "scores": exact(scores)}
    return Cost((h, w, c), weights, biases, macs, ops, window=UNKNOWN, work=work)

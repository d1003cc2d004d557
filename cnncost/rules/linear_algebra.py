"""Products: Linear, torch.matmul (mm, bmm, broadcast batches), addmm/baddbmm and einsum.
MACs are the multiply-accumulates of the products torch runs (`torch.utils.flop_counter`'s
mm/bmm formulas count 2 per MAC); a product of a tensor with a learned matrix mixes only the
contracted axis, any other product mixes positions, so its field is unknown."""
from __future__ import annotations

from cnncost import spec
from cnncost.errors import CostError
from cnncost.rules.core import UNKNOWN, Cost, broadcast, dims_text, line, rule, shown
from cnncost.sizes import equal, exact, is_concrete, numel_of as numel


@rule(spec.Linear)
def linear(layer: spec.Linear, shape, who):
    """weights = F_in*F_out over the last dimension; MACs = (leading dims)*F_in*F_out."""
    *lead, f = shape
    out = (*lead, layer.out_features)
    weights = shown(f, layer.out_features)
    macs = shown(*lead, f, layer.out_features) if lead else weights
    work = {"weights": line(weights), "macs": line(macs), "activations": line(shown(*out))}
    biases, ops = 0, {}
    if layer.bias:
        biases, ops["bias"] = layer.out_features, numel(out)
        work["biases"] = f"{layer.out_features}"
    return Cost(out, weights[0], biases, macs[0], ops, work=work)


def matmul_shape(a: tuple, b: tuple, who: str) -> tuple:
    """(output shape, MACs) of torch.matmul on per-sample shapes: 1-D operands are vectors,
    batch dimensions broadcast; MACs = prod(batch)*n*k*m."""
    if not a or not b:
        raise CostError(f"{who}: matmul needs tensors of at least one dimension")
    a2 = (1, *a) if len(a) == 1 else a
    b2 = (*b, 1) if len(b) == 1 else b
    if not equal(a2[-1], b2[-2]):
        raise CostError(f"{who}: cannot multiply {dims_text(a)} by {dims_text(b)} "
                        f"(inner sizes {a2[-1]} and {b2[-2]} differ)")
    batch = broadcast([a2[:-2], b2[:-2]], who) if len(a2) > 2 or len(b2) > 2 else ()
    n, k, m = a2[-2], a2[-1], b2[-1]
    out = (*batch, *((n,) if len(a) > 1 else ()), *((m,) if len(b) > 1 else ()))
    return out, numel((*batch, n, k, m))


@rule(spec.MatMul)
def matmul(layer, shapes, who):
    """out = a @ b; MACs = prod(batch)*n*k*m (mm: n*k*m; bmm: b*n*k*m)."""
    a, b = shapes
    out, macs = matmul_shape(a, b, who)
    return Cost(out, macs=macs, window=UNKNOWN, work={"macs": f"{exact(macs)} ({dims_text(a)} @ {dims_text(b)})"})


@rule(spec.AddMatMul)
def addmatmul(layer, shapes, who):
    """out = beta*input + alpha*(a @ b): the product's MACs, one add per output (unless beta = 0),
    and one scaling per output for each of alpha, beta that is not 1."""
    c, a, b = shapes
    out, macs = matmul_shape(a, b, who)
    broadcast([c, out], who)
    n = numel(out)
    ops = {}
    if layer.beta != 0:
        ops["add"] = n
    scales = (layer.alpha != 1) + (layer.beta not in (0, 1))
    if scales:
        ops["scale"] = scales * n
    return Cost(out, macs=macs, ops=ops, window=UNKNOWN,
                work={"macs": f"{exact(macs)} ({dims_text(a)} @ {dims_text(b)})"})


def _sizes(terms, shapes, who) -> dict:
    sizes = {}
    for sub, shape in zip(terms, shapes):
        if len(sub) != len(shape):
            raise CostError(f"{who}: einsum subscripts {sub!r} do not fit a {len(shape)}-dimensional operand "
                            f"({dims_text(shape)})")
        for letter, n in zip(sub, shape):
            old = sizes.get(letter)
            if old is None or (is_concrete(old) and old == 1):
                sizes[letter] = n
            elif not (is_concrete(n) and n == 1) and not equal(old, n):
                raise CostError(f"{who}: einsum letter {letter!r} has sizes {old} and {n}")
    return sizes


@rule(spec.Einsum)
def einsum(layer: spec.Einsum, shapes, who):
    """Left to right, as torch.einsum contracts without opt_einsum: a letter no later operand and
    not the output needs is summed first where it occurs once (1 add per element read); a pair
    sharing such letters is one batched product, MACs = product of the sizes of every letter of the
    pair; a pair sharing none is an elementwise or outer product (1 multiply per output element)."""
    terms, out_sub = layer.terms
    if len(terms) != len(shapes):
        raise CostError(f"{who}: einsum {layer.equation!r} names {len(terms)} operands, got {len(shapes)}")
    sizes = _sizes(terms, shapes, who)
    for letter in out_sub:
        if letter not in sizes:
            raise CostError(f"{who}: einsum output letter {letter!r} names no input axis")
    macs, ops = 0, {"mul": 0, "reduce:sum": 0}

    def size_of(letters):
        return numel([sizes[x] for x in letters])

    def reduce(letters, keep):
        """Sum out letters not in `keep`; diagonal letters (repeated) collapse first."""
        letters = "".join(dict.fromkeys(letters))
        drop = [x for x in letters if x not in keep]
        if drop:
            ops["reduce:sum"] += size_of(letters)
        return "".join(x for x in letters if x in keep)

    current = None
    for i, sub in enumerate(terms):
        later = set(out_sub).union(*terms[i + 1:]) if i + 1 < len(terms) else set(out_sub)
        if current is None:
            current = reduce(sub, later | set("".join(terms[1:])))
            continue
        right = reduce(sub, later | set(current))
        current = reduce(current, later | set(right))
        shared = set(current) & set(right)
        summed = [x for x in shared if x not in later]
        letters = "".join(dict.fromkeys(current + right))
        if summed:
            macs += size_of(letters)
        else:
            ops["mul"] += size_of(letters)
        current = "".join(x for x in letters if x not in summed)
    current = reduce(current, set(out_sub))
    out = tuple(sizes[x] for x in out_sub)
    ops = {k: v for k, v in ops.items() if not (is_concrete(v) and v == 0)}
    return Cost(out, macs=macs, ops=ops, window=UNKNOWN, work={"macs": f"{exact(macs)} (einsum {layer.equation})"})

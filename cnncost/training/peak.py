"""The peak memory of one steady-state training step, by replaying the step's allocations.

A step is: forward (every row's output allocated, freed after its last reader unless backward
saved it), cross-entropy loss, backward in reverse row order (each row allocates its inputs'
gradients and its parameters' gradients, then frees its output's gradient and the tensors only
it saved), the optimizer step, `zero_grad(set_to_none=True)`.  Always live: parameters, buffers
(batch norm's running mean and variance and its int64 counter), the optimizer's state (SGD none;
momentum one buffer per parameter; Adam and AdamW two, plus a 4-byte step count per tensor) and
the batch (data fp32, labels int64).  The optimizer step adds its temporaries: the for-loop
Adam that PyTorch uses on CPU makes two of the largest parameter's size (`exp_avg_sq.sqrt()`,
then `/ bias_correction2_sqrt`); the foreach Adam used on CUDA one of all parameters.

Every size is linear in the batch B: a pair (constant bytes, bytes per sample).  The peak is
the largest of those pairs at B; `fit` solves for the largest B under a memory size.
"""
from __future__ import annotations

from cnncost.training.saved import VIEWS
from cnncost.training.tensors import BYTES, has_weights

OPTIMIZERS = {"sgd": 0, "momentum": 1, "adam": 2, "adamw": 2}
PASS_GRAD = frozenset({"add", "cat", "concat"}) | VIEWS


class _Live:
    """Running (constant, per-sample) bytes and the candidates for the peak, with their phase."""

    def __init__(self, start):
        self.c, self.s = start
        self.peaks = []

    def add(self, size, sign=1):
        self.c += sign * size[0]
        self.s += sign * size[1]

    def mark(self, phase: str):
        self.peaks.append((self.c, self.s, phase))


def _prune(peaks):
    """Keep the candidates that are the largest at some batch B >= 1 (the upper envelope)."""
    best: dict = {}
    for c, s, ph in peaks:
        if s not in best or c > best[s][0]:
            best[s] = (c, s, ph)
    lines = sorted(best.values(), key=lambda p: p[1])       # by slope
    hull: list = []
    for c, s, ph in lines:
        while hull:
            c1, s1, _ = hull[-1]
            if c1 + s1 <= c + s:                                # beaten at B = 1, hence at every B >= 1
                hull.pop()
                continue
            if len(hull) >= 2:
                c0, s0, _ = hull[-2]
                # hull[-1] is useless if the new line overtakes hull[-2] no later than hull[-1] does
                if (c0 - c) * (s1 - s0) <= (c0 - c1) * (s - s0):
                    hull.pop()
                    continue
            break
        hull.append((c, s, ph))
    return hull


def constants(report, t, optimizer: str):
    """(parameters, buffers, optimizer state, largest parameter tensor, parameter tensors) in bytes."""
    pb = BYTES[t.param_fmt]
    params = buffers = largest = tensors = 0
    for r in report.rows:
        if has_weights(r):
            params += r.weights * pb
            largest = max(largest, r.weights * pb)
            tensors += 1
        if r.biases:
            params += r.biases * pb
            tensors += 1
        if r.kind == "bn":
            buffers += 2 * r.input_shape[0] * pb + 8
    state = OPTIMIZERS[optimizer] * params + (4 * tensors if optimizer in ("adam", "adamw") else 0)
    return params, buffers, state, largest, tensors


def step_peaks(report, t, keys, optimizer: str = "adam", device: str = "cpu", frozen=frozenset()):
    """Candidates (constant, per-sample, phase) for the step's peak; the peak at B is the largest
    constant + per-sample * B."""
    rows = report.rows
    params, buffers, state, largest, _ = constants(report, t, optimizer)
    size = {i: (0, t.per_sample[i] * BYTES[t.fmt[i]]) for i in t.per_sample}
    live = _Live((params + buffers + state, size[-1][1] + 8))
    saved_roots = {k[1] for k in keys if k[0] == "t"}
    last_read = {}
    for i, r in enumerate(rows):
        for j in r.inputs:
            last_read[t.root[j]] = i
    out = t.root[len(rows) - 1] if rows else -1
    made: dict = {}                        # row -> the tensors only it creates and saves
    for key, v in keys.items():
        if key[0] != "t":
            made.setdefault(v["savers"][0], []).append(v["size"])
    # forward
    for i, r in enumerate(rows):
        if t.root[i] == i:
            live.add(size[i])
        for sz in made.get(i, []):
            live.add(sz)
        live.mark("forward")
        for j in {t.root[j] for j in r.inputs}:
            if j >= 0 and last_read.get(j) == i and j not in saved_roots and j != out:
                live.add(size[j], -1)
    classes = rows[-1].output_shape[-1] if rows else 1
    logits = (0, classes * 4)
    cast = t.fmt[len(rows) - 1] != "fp32"
    live.add(logits)                       # log_softmax's saved output
    if cast:
        live.add(logits)                   # the fp32 copy of bf16 logits
    live.mark("loss")
    if cast:
        live.add(logits, -1)
    if out not in saved_roots:
        live.add(size[out], -1)
    # backward: gradients as reference-counted buffers (a view, an add or a concatenation hands its
    # output's gradient to its inputs without a copy; a second gradient for a tensor is summed)
    grad_of: dict = {}
    refs: dict = {}
    nbytes: dict = {}

    def alloc(sz):
        b = len(nbytes)
        nbytes[b], refs[b] = sz, 0
        live.add(sz)
        return b

    def release(b):
        refs[b] -= 1
        if refs[b] <= 0:
            live.add(nbytes[b], -1)

    def hand(j, b):
        refs[b] += 1
        if j not in grad_of:
            grad_of[j] = b
            return
        total = alloc(size[j])
        live.mark("backward")
        release(grad_of[j])
        release(b)
        refs[total] = 1
        grad_of[j] = total

    live.add(logits)                       # gradient of log_softmax's output
    live.mark("backward")
    live.add(logits, -1)
    live.add(logits, -1)                   # log_softmax's saved output is freed
    last = len(rows) - 1
    refs[alloc(size[last])] = 1
    grad_of[last] = len(nbytes) - 1
    frees: dict = {}
    for key, v in keys.items():
        if key != ("t", -1):               # the batch itself outlives the step
            frees.setdefault(min(v["savers"]), []).append(v["size"])
    for i in range(last, -1, -1):
        r = rows[i]
        g = grad_of.pop(i, None)
        ins = [j for j in r.inputs if j >= 0 and t.needs_grad[j]]
        if r.kind in PASS_GRAD:
            if g is not None:
                for j in ins:
                    hand(j, g)
                release(g)
        else:
            temps, grads = [], []
            if g is not None:
                for j in ins:
                    if t.amp and r.kind in ("conv", "fc") and t.fmt[j] != "bf16":
                        temps.append((0, t.per_sample[j] * 2))    # bf16 gradient of the cast copy
                        live.add(temps[-1])
                    grads.append((j, alloc(size[j])))
            if has_weights(r) and r.name not in frozen:
                live.add(((r.weights + (r.biases or 0)) * BYTES[t.param_fmt], 0))
                if t.amp and r.kind in ("conv", "fc"):
                    temps.append((r.weights * 2, 0))             # bf16 gradient of the weight copy
                    live.add(temps[-1])
            live.mark("backward")
            for tmp in temps:
                live.add(tmp, -1)
            for j, b in grads:
                hand(j, b)
            if g is not None:
                release(g)
        for sz in frees.get(i, []):
            live.add(sz, -1)
    # optimizer step: all parameter gradients live
    temp = 2 * largest if optimizer in ("adam", "adamw") and device == "cpu" else (
        params if optimizer in ("adam", "adamw") else 0)
    live.add((temp, 0))
    live.mark("optimizer step")
    return _prune(live.peaks)


def peak_at(peaks, batch):
    """(bytes, phase) of the largest candidate at a numeric batch; a sympy Max for a symbol."""
    from cnncost.sizes import is_concrete
    if is_concrete(batch):
        c, s, ph = max(peaks, key=lambda p: p[0] + p[1] * batch)
        return c + s * batch, ph
    import sympy
    return sympy.Max(*[c + s * batch for c, s, _ in peaks]), None


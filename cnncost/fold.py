"""Rows as the papers count them: an activation function, dropout or flatten that follows a layer
belongs to that layer's row.

The VGG paper's Table 1 (Simonyan & Zisserman 2015) lists "conv3-64" once, its ReLU implied, and
the classic per-layer activation/parameter table (tables/vgg19.md) counts 16,391,656 activations
for VGG19: conv, pool and FC outputs only.  `fold(report)` merges each such follower into the row
it reads (when that row's output has no other reader): weights, biases, MACs, FLOPs and the
training counts add up; the row keeps the layer's activations (its own output elements), takes
the follower's output shape and receptive field (a flatten's excepted), and lists the modules it holds in `members`;
training counts (`row.train`) add up too.
`--expand` shows the unfolded rows.  Totals other than activations are unchanged.
"""
from __future__ import annotations

from dataclasses import replace

from cnncost.sizes import add, exact, tidy
from cnncost.spec import ACTIVATIONS

#: row kinds that fold into the row before them
FOLLOWERS = frozenset(ACTIVATIONS) | {"dropout", "flatten"}


def _plus(a, b):
    if a is None or b is None:
        return None
    return tidy(add(a, b))


def _consumers(rows) -> dict:
    count: dict = {}
    for r in rows:
        for i in r.inputs:
            count[i] = count.get(i, 0) + 1
    return count


def heads(rows) -> list:
    """For each row, the index of the row it is shown in (itself unless it folds)."""
    readers = _consumers(rows)
    head = list(range(len(rows)))
    for i, r in enumerate(rows):
        if (r.kind in FOLLOWERS and r.known and len(r.inputs) == 1 and r.inputs[0] == i - 1 >= 0
                and readers.get(i - 1, 0) == 1 and rows[i - 1].known):
            head[i] = head[i - 1]
    return head


def fold(report):
    """The report with followers folded into their layer's row; `total['activations']` recounted,
    `total['elements']` the output elements of every module."""
    rows = report.rows
    head = heads(rows)
    merged: dict = {}
    order: list = []
    for i, r in enumerate(rows):
        h = head[i]
        if h == i:
            merged[i] = replace(r, members=(r.name,))
            order.append(i)
            continue
        m = merged[h]
        work = dict(m.work)
        for k, v in r.work.items():
            if k != "flops":
                work[f"{r.name} {k}"] = v
        flops = _plus(m.flops, r.flops)
        if r.flops:
            work["flops"] = f"{m.work.get('flops', exact(m.flops))}; + {exact(r.flops)} ({r.kind}) = {exact(flops)}"
        keep = r.kind == "flatten"   # the papers show pool5 as 7x7x512, its field before flattening
        merged[h] = replace(
            m, output_shape=m.output_shape if keep else r.output_shape, rf=m.rf if keep else r.rf, work=work, members=m.members + (r.name,),
            weights=_plus(m.weights, r.weights), biases=_plus(m.biases, r.biases),
            macs=_plus(m.macs, r.macs), flops=flops,
            train={k: _plus(v, r.train.get(k)) for k, v in m.train.items()})
    index = {old: new for new, old in enumerate(order)}
    out = tuple(replace(merged[i], inputs=tuple(index.get(head[j], -1) if j >= 0 else -1 for j in merged[i].inputs))
                for i in order)
    total = dict(report.total)
    known = [r.activations for r in out if r.activations is not None]
    total["activations"] = tidy(add(*known)) if known else 0
    total["elements"] = tidy(add(*[r.elements for r in rows])) if rows else 0
    return replace(report, rows=out, total=total, folded=True)

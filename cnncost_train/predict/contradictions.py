"""Measurements that contradict themselves, named instead of printed as if they were fine.

A profile is suspect when
  - the layers timed one by one add up to more than SUM_RATIO x the whole model (per-call overhead
    or thread start-up dominates the small layers: the per-layer times are not the model's);
  - a forward pass took longer than the forward + backward of the same thing (the backward does
    strictly more work; the timings are noise or a clock problem);
  - a layer ran faster than its roofline bound by more than NOISE (the bound's bandwidth or rate is
    too low for that layer: it is not a bound there).
Each check returns one sentence, or None.
"""
from __future__ import annotations

SUM_RATIO = 2.0
NOISE = 1.10


def layer_sum(total: dict) -> str | None:
    bad = []
    for key, label in (("fwd", "forward"), ("fwd_bwd", "forward+backward")):
        whole, parts = total.get(f"{key}_s"), total.get(f"sum_layers_{key}_s")
        if whole and parts and parts > SUM_RATIO * whole:
            bad.append(f"{label} {parts / whole:.1f}x")
    if not bad:
        return None
    return (f"the layers timed one by one add up to more than the whole model ({', '.join(bad)}): "
            f"per-call overhead dominates; trust the whole-model time (on a CPU try --threads 1)")


def forward_slower(rows: list[dict]) -> str | None:
    bad = [r["name"] if "name" in r else r.get("model", "?") for r in rows
           if r.get("fwd_s") and r.get("fwd_bwd_s") and r["fwd_s"] > NOISE * r["fwd_bwd_s"]]
    if not bad:
        return None
    return (f"forward slower than forward+backward in {len(bad)} row(s) ({', '.join(bad[:3])}"
            f"{', ...' if len(bad) > 3 else ''}): the timings are noise; raise --repeats")


def beats_bound(rows: list[dict]) -> str | None:
    fr = [(r.get(f"{k}_fraction"), r.get("name", r.get("model", "?")), k) for r in rows for k in ("fwd", "fwd_bwd")]
    bad = [(f, n, k) for f, n, k in fr if f is not None and f > NOISE]
    if not bad:
        return None
    f, n, k = max(bad)
    return (f"{len(bad)} timing(s) beat the roofline bound (worst {n} {k.replace('_', '+')}, {f:.1f}x): "
            f"the probe's roof is too low for them, so there it is not a bound")


def check(rows: list[dict], total: dict | None = None) -> list[str]:
    found = [forward_slower(rows + ([total] if total else [])), beats_bound(rows)]
    if total:
        found.append(layer_sum(total))
    return [w for w in found if w]

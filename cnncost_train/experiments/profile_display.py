"""What `cnncost-train profile` shows: the probe line, the slowest layers (fit to 80 columns), the
zoo's per-model lines and its plot of measured and predicted time against computed FLOPs (log-log,
with the least-squares line through the measured points), and the warnings of `contradictions`."""
from __future__ import annotations

import math
from pathlib import Path


def _ms(v) -> str:
    return "-" if v is None else f"{v * 1e3:.3f}"


def print_probes(head: dict, console):
    p = head["probes"]
    curve = ", ".join(f"{c['buffer_bytes'] / 2 ** 20:g} MiB {c['bytes_per_s'] / 1e9:.0f}"
                      for c in p.get("copy_curve", []))
    console.print(f"profile on {head['device']}, {head['dtype']}, batch {head['batch']}: "
                  f"P = {p['matmul']['flops_per_s'] / 1e12:.3f} TFLOP/s (matmul), "
                  f"W = {p['copy']['bytes_per_s'] / 1e9:.1f} GB/s (copy); copy GB/s by buffer: {curve}",
                  highlight=False)


def _print_warnings(warnings, console):
    for w in warnings:
        console.print(f"warning: {w}", highlight=False, markup=False)


def print_zoo_row(r: dict, console):
    err = f", {r['fwd_bwd_pred_s'] / r['fwd_bwd_s'] - 1:+.0%}" if r["fwd_bwd_s"] else ""
    console.print(f"{r['model']}: {r['flops'] / 1e9:.3f} GFLOP fwd; fwd {_ms(r['fwd_s'])} ms (predicted "
                  f"{_ms(r['fwd_pred_s'])}); fwd+bwd {_ms(r['fwd_bwd_s'])} ms (predicted {_ms(r['fwd_bwd_pred_s'])}"
                  f"{err})", highlight=False)


def print_zoo_end(fits, warnings, out: Path, console):
    if fits:
        console.print("fit log10 t = a + b log10 FLOPs: " + "; ".join(
            f"{k}: b = {v['slope']:.3f}, R² = {v['r2']:.4f}" for k, v in fits.items()), highlight=False)
    _print_warnings(warnings, console)
    console.print(f"results: {out / 'zoo.csv'}, {out / 'zoo.json'}, {out / 'zoo_time_vs_flops.png'}",
                  highlight=False)


def plot_zoo(rows, fits, path: Path, head: dict):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6.4, 4.6))
    for key, fkey, marker, label in (("fwd", "flops", "o", "forward"),
                                     ("fwd_bwd", "train_flops", "s", "forward+backward")):
        xs, ys = [r[fkey] for r in rows], [r[f"{key}_s"] for r in rows]
        pts = ax.scatter(xs, ys, marker=marker, label=f"{label}, measured")
        ax.scatter(xs, [r[f"{key}_pred_s"] for r in rows], marker=marker, facecolors="none",
                   edgecolors=pts.get_facecolor(), label=f"{label}, predicted (FLOPs/P, bytes/W)")
        fit = fits[key]
        line = [min(xs), max(xs)]
        ax.plot(line, [10 ** (fit["intercept"] + fit["slope"] * math.log10(v)) for v in line], lw=1,
                label=f"fit to measured: slope {fit['slope']:.2f}, R² = {fit['r2']:.3f}")
        for r, xv, yv in zip(rows, xs, ys):
            ax.annotate(r["model"], (xv, yv), fontsize=7, xytext=(3, 3), textcoords="offset points")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(f"computed FLOPs per batch of {head['batch']} (cnncost; fwd+bwd: {head['training_flops']})")
    ax.set_ylabel("time per batch (s; measured: median)")
    ax.set_title(f"{head['device']}, {head['dtype']}", fontsize=9)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def print_layers(res: dict, console, top: int = 15):
    from rich import box
    from rich.table import Table
    t = Table(title=f"slowest {top} layers, forward+backward (all in layers.csv)", box=box.SIMPLE_HEAD,
              padding=(0, 1), title_justify="left")
    for c in ("layer", "MFLOP", "FLOP/B", "fwd ms", "f+b ms", "pred ms", "roof"):
        t.add_column(c, justify="left" if c == "layer" else "right", overflow="fold")
    rows = sorted(res["rows"], key=lambda r: -(r["fwd_bwd_s"] or r["fwd_s"] or 0))[:top] + [res["total"]]
    for r in rows:
        frac = r.get("fwd_bwd_fraction")
        t.add_row(r["name"], f"{r['flops'] / 1e6:.2f}", "-" if r["intensity"] is None else f"{r['intensity']:.1f}",
                  _ms(r["fwd_s"]), _ms(r["fwd_bwd_s"]), _ms(r["fwd_bwd_pred_s"]),
                  "-" if frac is None else f"{frac:.0%}")
    console.print(t)
    tot = res["total"]
    rho = tot.get("layer_rank_spearman")
    console.print(f"predicted (FLOPs/P, bytes/W per layer): fwd {_ms(tot['fwd_pred_s'])} ms, fwd+bwd "
                  f"{_ms(tot['fwd_bwd_pred_s'])} ms; measured whole model {_ms(tot['fwd_s'])} / "
                  f"{_ms(tot['fwd_bwd_s'])} ms; layers one by one {_ms(tot['sum_layers_fwd_s'])} / "
                  f"{_ms(tot['sum_layers_fwd_bwd_s'])} ms; layer order Spearman "
                  f"{'n/a' if rho is None else f'{rho:.3f}'}", highlight=False)
    console.print("roof = roofline bound / measured time (100% = on the roof; above 100% the bound does not hold)",
                  highlight=False)
    _print_warnings(res["warnings"], console)

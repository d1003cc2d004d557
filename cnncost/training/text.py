"""The training step's footer lines under `cnncost table --training`."""
from __future__ import annotations


def footer_lines(report) -> list:
    from cnncost.render.format import count, nbytes
    t = report.training
    plus = "" if not t["unknown"] and report.complete else " + ?"
    lines = [
        f"training step ({t['optimizer']}, {t['dtype']}, {t['device']}): FLOPs {count(report.total['flops'])} "
        f"forward + {count(t['backward_flops'])}{plus} backward = {count(t['training_flops'])}{plus}",
        f"  backward: grad-input {count(t['grad_input_flops'])}, grad-weight {count(t['grad_weight_flops'])}; "
        f"saved for backward {nbytes(t['saved_bytes'])}{plus}",
    ]
    if t.get("peak_note"):
        lines.append(f"  peak memory of the step: unknown ({t['peak_note']})")
    elif t["peak_bytes"] is None:
        lines.append(f"  peak memory of the step: unknown (no memory rule for {', '.join(t['unknown']) or 'unknown ops'})")
    else:
        where = f"at the {t['peak_phase']}" if t["peak_phase"] else "the largest of its phases"
        lines.append(f"  peak memory of the step: {nbytes(t['peak_bytes'])} ({where})")
    return lines


def fit_text(report, result: dict, fmt: str) -> str:
    """`cnncost fit`: the batch, its peak and the next batch's, as text or JSON."""
    from cnncost.render.format import nbytes, shape
    if fmt == "json":
        from cnncost.render.json import dumps
        return dumps({"model": report.model, "input": shape(report.input_shape), "convention": report.convention,
                      **{k: v for k, v in result.items()}})
    if fmt not in ("rich", "markdown", "csv"):
        from cnncost.render import check_format
        check_format(fmt)
    r = result
    return (f"{report.model} (input {shape(report.input_shape)}), {r['optimizer']}, {r['dtype']}, {r['device']}: "
            f"largest batch {r['batch']:,} in {nbytes(r['memory'])}\n"
            f"  peak at batch {r['batch']:,}: {nbytes(r['peak'])} ({r['peak']:,} bytes, at the {r['phase']}); "
            f"batch {r['batch'] + 1:,} needs {nbytes(r['next_peak'])}\n")

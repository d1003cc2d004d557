"""Convolutions, plain and transposed, in 1-3 spatial dimensions (formulas: PyTorch's ConvNd and
ConvTransposeNd docs; MACs as torch.utils.flop_counter.conv_flop_count and fvcore's conv_flop_jit)."""
from __future__ import annotations

from fractions import Fraction

from cnncost import spec
from cnncost.errors import CostError
from cnncost.rules.core import Cost, Window, channels_first, line, rule, shown, windowed
from cnncost.sizes import floordiv, is_concrete, numel_of as numel


def _groups_in(c, g, who):
    if is_concrete(c) and c % g:
        raise CostError(f"{who}: input channels {c} are not divisible by groups {g}")
    return c if g == 1 else floordiv(c, g)


def _bias(layer, out, work, ops):
    if not layer.bias:
        return 0
    ops["bias"] = numel(out)
    work["biases"] = f"{layer.out_channels}"
    return layer.out_channels


@rule(spec.ConvNd, spec.Conv1d, spec.Conv2d, spec.Conv3d)
def conv(layer: spec.ConvNd, shape, who):
    """weights = (prod(k)*C_in/g)*C_out; MACs = (prod(out spatial)*C_out)*(prod(k)*C_in/g)."""
    c, *spatial = channels_first(shape, layer.dims, who, type(layer).__name__)
    cin = _groups_in(c, layer.groups, who)
    outs, window = windowed(layer, tuple(spatial), who)
    cout = layer.out_channels
    weights = shown((*layer.kernel, cin), cout)
    macs = shown((*outs, cout), (*layer.kernel, cin))
    acts = shown(*outs, cout)
    work = {"weights": line(weights), "activations": line(acts), "macs": line(macs)}
    # PyTorch pads reflect/replicate/circular modes itself, then convolves with padding 0
    ops = {"padding_string": 1} if isinstance(layer.padding, str) and layer.padding_mode == "zeros" else {}
    out = (cout, *outs)
    return Cost(out, weights[0], _bias(layer, out, work, ops), macs[0], ops, window, work)


def transposed_window(k: int, s: int, p: int, d: int) -> tuple:
    """(kernel, stride, pad) of the field map of one transposed-conv axis: output o reads inputs i
    with i*s = o + p - j*d, j in [0, k), so at most floor(d*(k-1)/s) + 1 consecutive inputs, one
    output step moves 1/s input, and output 0's inputs centre on (p - d*(k-1)/2)/s."""
    span = d * (k - 1)
    kernel = span // s + 1
    centre = Fraction(2 * p - span, 2 * s)
    return kernel, Fraction(1, s), Fraction(kernel - 1, 2) - centre


@rule(spec.ConvTransposeNd, spec.ConvTranspose1d, spec.ConvTranspose2d, spec.ConvTranspose3d)
def conv_transpose(layer: spec.ConvTransposeNd, shape, who):
    """out = (n-1)*s - 2p + d*(k-1) + output_padding + 1; weights = C_in*(C_out/g)*prod(k);
    MACs = prod(in spatial)*C_in*(C_out/g)*prod(k) (every input pixel scatters one kernel)."""
    c, *spatial = channels_first(shape, layer.dims, who, type(layer).__name__)
    g = layer.groups
    _groups_in(c, g, who)
    outs = []
    for n, k, s, p, d, op in zip(spatial, layer.kernel, layer.stride, layer.padding, layer.dilation,
                                 layer.output_padding):
        o = (n - 1) * s - 2 * p + d * (k - 1) + op + 1
        if is_concrete(o) and o < 1:
            raise CostError(f"{who}: padding {p} leaves no output from an input of {n}")
        outs.append(o)
    cout = layer.out_channels
    per_group_out = cout // g
    weights = shown((c, per_group_out), tuple(layer.kernel))
    macs = shown(tuple(spatial), (c, per_group_out), tuple(layer.kernel))
    acts = shown(*outs, cout)
    work = {"weights": line(weights), "activations": line(acts), "macs": line(macs)}
    maps = [transposed_window(k, s, p, d) for k, s, p, d in
            zip(layer.kernel, layer.stride, layer.padding, layer.dilation)]
    window = Window(tuple(m[0] for m in maps), tuple(m[1] for m in maps), tuple(m[2] for m in maps),
                    (1,) * layer.dims)
    ops = {}
    out = (cout, *outs)
    return Cost(out, weights[0], _bias(layer, out, work, ops), macs[0], ops, window, work)

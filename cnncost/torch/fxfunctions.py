"""The fx reader's functions of tensors (`FxReader` mixes this in): arithmetic, where an operand
may be a parameter (layer scale, a position embedding whose leading 1 is the batch axis, a class
token expanded over the batch), and the functional forms of layers (pooling, norms, `F.linear`,
`F.interpolate`), each as the spec layer that counts it, or None (not readable)."""
from __future__ import annotations

import torch

from cnncost import rules, spec
from cnncost.errors import CostError
from cnncost.torch import ops
from cnncost.torch.fxvalues import BATCH, UNKNOWN, Attr, T, walk_values


class FunctionOps:
    """Mixin of `FxReader`: needs `self.shape`, `self.emit`, `self.opaque`, `self.dim`, `self.flatten`,
    `self.shape_op`, `self.params`, `self.used`, `self.taken` and `self.origin`."""

    def arithmetic(self, node, target, args, kwargs):
        a, b = args[0], args[1] if len(args) > 1 else kwargs.get("other")
        if kwargs.get("alpha", 1) != 1 or (len(args) > 2 and args[2] != 1):
            return self.opaque(node, "add")
        div = target in ops.DIV_FUNCTIONS
        if div or target in ops.MUL_FUNCTIONS:
            if isinstance(a, T) and isinstance(b, (int, float)) and not isinstance(b, bool):
                return self.emit(spec.Scale(1 / b if div else b), [a], node)
            if not div and isinstance(b, T) and isinstance(a, (int, float)) and not isinstance(a, bool):
                return self.emit(spec.Scale(a), [b], node)
        if div:
            return self.opaque(node, "div")
        a, b = self.batch_view(a, b), self.batch_view(b, a)
        a, b = self.param(node, a), self.param(node, b)
        if isinstance(a, T) and isinstance(b, T):
            return self.emit(spec.Mul() if target in ops.MUL_FUNCTIONS else spec.Add(), [a, b], node)
        return self.opaque(node, "mul" if target in ops.MUL_FUNCTIONS else "add")

    def viewed(self, node, x: Attr, args):
        """A parameter viewed with a leading 1 for the batch (`gamma.reshape(1, -1, 1, 1)`): the same
        parameter, per-sample shape the rest; any other view is unknown."""
        sizes = args[0] if len(args) == 1 and isinstance(args[0], (tuple, list)) else tuple(args)
        if not isinstance(x.tensor, torch.nn.Parameter) or not all(isinstance(s, int) for s in sizes):
            return UNKNOWN
        try:
            shape = tuple(torch.empty(x.tensor.shape, device="meta").reshape(sizes).shape)
        except RuntimeError:
            return UNKNOWN
        return Attr(x.path, x.tensor, node.name, shape[1:]) if len(shape) > 1 and shape[0] == 1 else UNKNOWN

    def batch_view(self, value, other):
        """A parameter with a leading 1 and one axis more than the tensor it meets: the 1 is the
        batch axis (ViT's position embedding (1, N, C) added to (B, N, C)), so per sample it is (N, C)."""
        if isinstance(value, Attr) and value.view is None and isinstance(other, T) and \
                value.tensor.dim() == len(self.shape[other.name]) + 1 and value.tensor.shape[0] == 1:
            return Attr(value.path, value.tensor, value.node, tuple(value.tensor.shape[1:]))
        return value

    def expanded(self, node, x: Attr, args):
        """A parameter with a leading 1 expanded over the batch (ViT's class token
        `class_token.expand(n, -1, -1)`): the parameter itself, per sample."""
        sizes = args[0] if len(args) == 1 and isinstance(args[0], (tuple, list)) else tuple(args)
        shape = tuple(x.tensor.shape)
        if not isinstance(x.tensor, torch.nn.Parameter) or len(sizes) != len(shape) or len(shape) < 2 or \
                shape[0] != 1 or sizes[0] is not BATCH or any(s != -1 for s in sizes[1:]):
            return UNKNOWN
        return Attr(x.path, x.tensor, node.name, shape[1:])

    def param(self, node, value):
        """A parameter used directly (layer scale) becomes a Param node, once per parameter."""
        if not isinstance(value, Attr) or not isinstance(value.tensor, torch.nn.Parameter):
            return value
        shape = value.view if value.view is not None else tuple(value.tensor.shape)
        if value.path in self.params and self.shape[self.params[value.path]] != shape:
            return value                 # the same parameter seen in another shape: not mapped
        if value.path not in self.params:
            self.taken.add(value.path)
            self.params[value.path] = self.emit(spec.Param(shape), [], node, value.path).name
            self.origin[value.path] = value.node
            self.used.add(id(value.tensor))
        return T(self.params[value.path])

    def function(self, node, target, a: dict):
        F = torch.nn.functional
        x = a.get("input", a.get("tensor"))
        if target in (torch.cat, torch.concat):
            tensors = [self.param(node, t) for t in a["tensors"]]
            if not all(isinstance(t, T) for t in tensors) or not tensors:
                return None
            axis = self.dim(tensors[0], a["dim"])
            if axis is None:
                return None
            return tensors[0] if len(tensors) == 1 else self.emit(spec.Cat(axis), list(tensors), node)
        if not isinstance(x, T):
            return None
        shape = self.shape[x.name]
        if target in (F.max_pool2d, F.avg_pool2d):
            return self.pool(node, target, x, a)
        if target in (F.adaptive_avg_pool2d, F.adaptive_max_pool2d):
            if a.get("return_indices"):
                return None
            op = ops.adaptive("avg" if target is F.adaptive_avg_pool2d else "max", a["output_size"], shape)
            return None if op is None else self.emit(op, [x], node)
        if target is F.layer_norm:
            return self.layer_norm(node, x, a)
        if target is F.batch_norm:
            return self.batch_norm(node, x, a)
        if target in (F.dropout, F.dropout2d):
            return self.emit(spec.Dropout(a["p"]), [x], node) if a["training"] else x
        if target is torch.flatten:
            return self.flatten(node, x, a["start_dim"], a["end_dim"])
        if target is F.interpolate:
            return self.interpolate(node, x, a)
        if target is F.linear:
            return self.linear(node, x, a)
        return self.shape_op(node, target.__name__, x, a)

    def interpolate(self, node, x, a):
        """F.interpolate to a size (segmentation heads: back to the input's H and W, read from
        `x.shape[-2:]`, symbols at a symbolic size) or by a scale factor."""
        size, factor = a["size"], a["scale_factor"]
        if a["recompute_scale_factor"] or a["antialias"] or any(v is UNKNOWN or v is BATCH
                                                               for v in walk_values((size, factor))):
            return None
        if isinstance(size, (tuple, list)):
            size = tuple(size)
        try:
            op = spec.Upsample(size, factor, a["mode"], a["align_corners"])
            rules.cost(op, self.shape[x.name], "interpolate")
        except CostError:
            return None
        return self.emit(op, [x], node)

    def pool(self, node, target, x, a):
        F = torch.nn.functional
        kernel = a["kernel_size"]
        stride = a["stride"] if a["stride"] not in (None, [], ()) else kernel
        if target is F.max_pool2d:
            if a["return_indices"] or ops._pair(a["dilation"]) != (1, 1):
                return None
            op = spec.Pool2d("max", ops._pair(kernel), ops._pair(stride), ops._pair(a["padding"]), a["ceil_mode"])
        else:
            if a["divisor_override"] is not None:
                return None
            op = spec.Pool2d("avg", ops._pair(kernel), ops._pair(stride), ops._pair(a["padding"]), a["ceil_mode"],
                             a["count_include_pad"])
        return self.emit(op, [x], node)

    def linear(self, node, x, a):
        """F.linear(x, weight, bias) with a module's parameters, each read once (timm's classifier
        Linear, whose forward calls F.linear)."""
        weight, bias = a["weight"], a["bias"]
        params = [p for p in (weight, bias) if p is not None]
        if not all(isinstance(p, Attr) and isinstance(p.tensor, torch.nn.Parameter) and id(p.tensor) not in self.used
                   for p in params) or weight.tensor.dim() != 2 or \
                not self.shape[x.name] or self.shape[x.name][-1] != weight.tensor.shape[1] or \
                (bias is not None and tuple(bias.tensor.shape) != (weight.tensor.shape[0],)):
            return None
        self.used.update(id(p.tensor) for p in params)
        return self.emit(spec.Linear(weight.tensor.shape[0], bias is not None), [x], node)

    def layer_norm(self, node, x, a):
        weight, bias = a["weight"], a["bias"]
        for p in (weight, bias):
            if p is not None and not (isinstance(p, Attr) and isinstance(p.tensor, torch.nn.Parameter)):
                return None
        shape = tuple(a["normalized_shape"])
        if weight is not None and tuple(weight.tensor.shape) != shape:
            return None
        self.used.update(id(p.tensor) for p in (weight, bias) if p is not None)
        return self.emit(spec.LayerNorm(shape, a["eps"], weight is not None, bias is not None), [x], node)

    def batch_norm(self, node, x, a):
        """F.batch_norm with running statistics, in eval mode (timm's BatchNormAct2d): BatchNorm over
        channels (axis 0), its weight and bias the module's parameters."""
        weight, bias, shape = a["weight"], a["bias"], self.shape[x.name]
        if a["training"] or a["running_mean"] is None or len(shape) < 2:
            return None
        for p in (weight, bias):
            if p is not None and not (isinstance(p, Attr) and isinstance(p.tensor, torch.nn.Parameter)
                                      and tuple(p.tensor.shape) == (shape[0],)):
                return None
        if (weight is None) != (bias is None):
            return None
        self.used.update(id(p.tensor) for p in (weight, bias) if p is not None)
        return self.emit(spec.BatchNorm(weight is not None, a["eps"]), [x], node)

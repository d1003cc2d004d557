"""The architecture spec: plain, frozen data that the calculator and the PyTorch builder both read.

A network is a `Sequence` of layers and containers.  Containers are `Sequence` (one after the
other), `Concat` (parallel branches joined along channels), `Residual` (body(x) + shortcut(x))
and `Graph` (the PyTorch reader's DAGs: `Node`s naming their inputs).  Layer kinds mirror
PyTorch's modules and functions, with their argument names and defaults, less the input sizes
(channels, features), which the input shape gives.

Shapes are per sample: the batch is never part of them (a tensor (B, *shape) in PyTorch).
    (C, H, W)      an image (the CLI's --input HxWxC)
    (C, L)         a 1-D signal (Conv1d, pooling 1d)
    (C, D, H, W)   a video clip or volume (Conv3d, pooling 3d)
    (T, F)         a sequence of T steps of F features (RNN/LSTM/GRU, attention), batch_first or not
    (F,)           flat features
A kind with spatial axes reads (C, *spatial) with as many spatial axes as its `dims`; the
receptive field is tracked along the last two axes (H and W; the single axis L of a 1-D signal
is W, with H of size 1).

PyTorch -> spec kind: nn.Conv{1,2,3}d -> Conv1d/2d/3d; nn.ConvTranspose{1,2,3}d -> ConvTranspose1d/2d/3d;
nn.{Max,Avg}Pool{n}d -> Pool{n}d (MaxPool2d(...) etc.); nn.Adaptive{Max,Avg}Pool{n}d -> AdaptivePool{n}d;
nn.Upsample, F.interpolate -> Upsample; nn.BatchNorm{n}d, F.batch_norm -> BatchNorm; nn.InstanceNorm{n}d
-> InstanceNorm; nn.GroupNorm -> GroupNorm; nn.LayerNorm -> LayerNorm; nn.Linear -> Linear; mm, bmm,
matmul -> MatMul; addmm, baddbmm -> AddMatMul; einsum -> Einsum; F.scaled_dot_product_attention ->
ScaledDotProductAttention; nn.MultiheadAttention -> MultiheadAttention; nn.RNN/LSTM/GRU -> RNN/LSTM/GRU
(a Recurrent); nn.Embedding -> Embedding; exp, sqrt, x + c, clamp, ... -> Unary; a - b, a / b,
maximum, ... -> Binary (a + b, a * b: Add, Mul); softmax, log_softmax -> Softmax; sum, amax, var,
... -> Reduce (mean: Mean); cat, stack, F.pad, select, expand, repeat, roll, topk, where,
pixel_shuffle, view/reshape, permute/transpose, slicing -> Cat, Stack, Pad, Select, Expand, Repeat,
Roll, TopK, Where, PixelShuffle, Reshape (View where the sizes follow the input's), Permute, Slice;
addcmul, addcdiv -> Ternary; torchvision.ops.roi_align -> RoIAlign; x[idx], nonzero, index_put_,
gather -> Gather; torchvision.ops.nms, unique -> ValueDependent; F.grid_sample -> GridSample;
F.unfold -> Unfold; a tensor the model makes without its input -> Constant; torchvision's Swin
ShiftedWindowAttention(V2) -> WindowAttention and its patch merging gather -> PatchMerge.

Validation here is only what a layer knows by itself (a kernel of 0, channels that do not split
into groups).  What needs the input shape is checked by the rules in `cnncost.rules`.  Every
failure raises `CostError` with a one-line message that the CLI prints as it is.
"""
from __future__ import annotations

from cnncost.spec.attention import MultiheadAttention, ScaledDotProductAttention, WindowAttention
from cnncost.spec.containers import Concat, Opaque, Residual, Sequence, seq
from cnncost.spec.conv import (PADDING_MODES, Conv1d, Conv2d, Conv3d, ConvNd, ConvTranspose1d, ConvTranspose2d,
                               ConvTranspose3d, ConvTransposeNd)
from cnncost.spec.detection import RoIAlign
from cnncost.spec.graph import INPUT, Graph, Node, arity, takes_many
from cnncost.spec.indexing import Constant, Gather, GridSample, Unfold, ValueDependent
from cnncost.spec.layers import (ACTIVATIONS, UNARY, Activation, Dropout, Embedding, Linear, Scale, ShortcutPad,
                                 Softmax, Unary)
from cnncost.spec.linear_algebra import AddMatMul, Einsum, MatMul
from cnncost.spec.norm import LRN, BatchNorm, GroupNorm, InstanceNorm, LayerNorm
from cnncost.spec.pool import (INTERPOLATE_MODES, POOL_MODES, AdaptivePool1d, AdaptivePool2d, AdaptivePool3d,
                               AdaptivePoolNd, AvgPool1d, AvgPool2d, AvgPool3d, GlobalPool, MaxPool1d, MaxPool2d,
                               MaxPool3d, Pool1d, Pool2d, Pool3d, PoolNd, Upsample)
from cnncost.spec.recurrent import GRU, LSTM, RNN, Recurrent
from cnncost.spec.shape import (BINARY, REDUCTIONS, Add, Binary, Cat, Expand, Flatten, Mean, Mul, Pad, Param,
                                PatchMerge, Permute, PixelShuffle, Reduce, Repeat, Reshape, Roll, Select, Slice, Stack, Ternary, TopK,
                                View, Where)

Pair = tuple[int, int]

#: ops whose rule reads a tuple of input shapes (a Node lists the inputs in order)
MERGES = (Add, Mul, Binary, Where, Ternary, Cat, Stack, MatMul, AddMatMul, Einsum, ScaledDotProductAttention,
          MultiheadAttention, RoIAlign, GridSample, Gather, ValueDependent)
CONTAINERS = (Sequence, Concat, Residual, Graph)

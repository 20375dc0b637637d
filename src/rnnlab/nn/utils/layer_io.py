"""What `RNN`, `LSTM` and `GRU` do around their layer loop for packed input and for an empty batch.

Packed input: unpack to a padded batch (T, B, I) in the original order plus a (T, B) mask, run
the layer loop as for any masked batch, and pack the output as the input was packed. Its
backward takes d output as a PackedSequence (or that sequence's `.data`, (N, D*H)) and returns
d input as a PackedSequence packed like the input (so its `.data` is dLoss/d input.data).

An empty batch (B = 0): outputs of the right shapes, all empty, as PyTorch returns.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from rnnlab.nn.utils.checks import check_input, check_state
from rnnlab.nn.utils.errors import ArgumentValueError, ShapeError
from rnnlab.nn.utils.rnn import PackedSequence, pad_packed_sequence, repack_like, unpack_for_layer


def check_hx(layer, hx, batch: int, unbatched: bool) -> None:
    """hx against the shapes PyTorch expects: h_0 (L*D, B, S), c_0 (L*D, B, H); S = proj_size or H."""
    if hx is not None:
        expected = (layer.num_layers * layer.num_directions, batch, layer._state_size())
        check_state(type(layer).__name__, hx, expected, unbatched, layer.gate_count == 4, layer.hidden_size)


def packed_forward(layer, packed: PackedSequence, hx, mask):
    """`layer.forward` for a PackedSequence: (output packed like the input, h_n [, c_n]) in the original order."""
    if mask is not None:
        raise ArgumentValueError("mask must be None when the input is a PackedSequence (packing says the lengths)")
    check_input(type(layer).__name__, np.asarray(packed.data), layer.input_size, layer.dtype, packed=True)
    x, steps = unpack_for_layer(packed)  # (T, B, I) original batch order, (T, B) True at real steps
    check_hx(layer, hx, x.shape[1], False)
    output, finals = layer._run(np.ascontiguousarray(x, dtype=layer.dtype), None, hx, steps[:, :, None], False)
    layer._packed = packed
    return repack_like(output, packed, layer.batch_first), finals


def packed_backward(layer, d_output, d_h_n, d_c_n, input_grad: bool = True):
    """`layer.backward` after a packed forward: d_output a PackedSequence or its data (N, D*S)."""
    packed = layer._packed
    d_data = np.asarray(d_output.data if isinstance(d_output, PackedSequence) else d_output)
    width = layer.num_directions * layer._state_size()
    if d_data.shape != (len(packed.data), width):
        raise ShapeError(f"d_output must be packed like the output, data of shape {(len(packed.data), width)}, "
                         f"got {d_data.shape}")
    like = PackedSequence(d_data, packed.batch_sizes, packed.sorted_indices, packed.unsorted_indices)
    d_padded = pad_packed_sequence(like, batch_first=layer.batch_first)[0]
    layer._packed = None  # run the padded backward, then pack d_x like the input
    try:
        result = layer.backward(d_padded, d_h_n, d_c_n, input_grad)
    finally:
        layer._packed = packed
    d_x, rest = (result[0], result[1:]) if isinstance(result, tuple) else (result, None)
    d_x = None if d_x is None else repack_like(d_x, packed, layer.batch_first)
    return d_x if rest is None else (d_x, *rest)


class EmptyBatch(NamedTuple):
    """The cache of a forward over a batch of size 0: the input's shape and the empty states given."""

    x_shape: tuple[int, ...]
    hx: object
    dtype: np.dtype

    def backward(self, input_grad: bool = True):
        """d_x (empty, shaped like x; None without input_grad), and d_hx when hx was given: empty too."""
        d_x = np.zeros(self.x_shape, self.dtype) if input_grad else None
        if self.hx is None:
            return d_x
        if isinstance(self.hx, tuple | list):
            return d_x, tuple(np.zeros(np.shape(s), self.dtype) for s in self.hx)
        return d_x, np.zeros(np.shape(self.hx), self.dtype)


def empty_forward(layer, x_shape: tuple[int, ...], hx):
    """A batch of size 0 (x (T, 0, I), or (0, T, I) batch-first): empty output and states, as PyTorch gives."""
    T = x_shape[1] if layer.batch_first else x_shape[0]
    L, D, S = layer.num_layers * layer.num_directions, layer.num_directions, layer._state_size()
    output = np.zeros((0, T, D * S) if layer.batch_first else (T, 0, D * S), layer.dtype)
    layer._cache = EmptyBatch(x_shape, hx, layer.dtype)
    h_n = np.zeros((L, 0, S), layer.dtype)
    if layer.gate_count == 4:
        return output, (h_n, np.zeros((L, 0, layer.hidden_size), layer.dtype))
    return output, h_n

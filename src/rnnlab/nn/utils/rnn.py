"""Packed sequences, as `torch.nn.utils.rnn`, in NumPy.

A batch of sequences of different lengths is either padded, (T, B, *) with steps past each
length filled, or packed: the real steps only, time step by time step, longest sequence first:

    lengths [2, 3, 1] (B = 3)           sorted longest first: [3, 2, 1], sorted_indices [1, 0, 2]
    padded (T=3, B=3)   t=0: a0 b0 c0   packed data (N=6, *): b0 a0 c0 | b1 a1 | b2
                        t=1: a1 b1 .    batch_sizes (T,):     3        | 2     | 1
                        t=2: .  b2 .    (sequences still running at each step)

`RNN`, `LSTM` and `GRU` accept a `PackedSequence` as input and return one: they unpack it to a
padded batch and a (T, B) mask (the masks give exactly what packing gives), run, and pack the
output again; h_n (and c_n) come back in the caller's original batch order, as PyTorch's do.

>>> x = np.arange(6.0).reshape(3, 2, 1)  # (T=3, B=2, 1), lengths 3 and 2
>>> packed = pack_padded_sequence(x, [3, 2])
>>> packed.data.ravel().tolist(), packed.batch_sizes.tolist()
([0.0, 1.0, 2.0, 3.0, 4.0], [2, 2, 1])
>>> padded, lengths = pad_packed_sequence(packed)
>>> padded[:, 1].ravel().tolist(), lengths.tolist()
([1.0, 3.0, 0.0], [3, 2])
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import NamedTuple

import numpy as np

from rnnlab.nn.utils.errors import ArgumentTypeError, ArgumentValueError, ShapeError


class _PackedFields(NamedTuple):
    data: np.ndarray  # (N, *): the real steps of every sequence, step by step, longest sequence first
    batch_sizes: np.ndarray  # (T,) int64: how many sequences are still running at each step
    sorted_indices: np.ndarray | None  # (B,): original index of each sorted sequence, None when given sorted
    unsorted_indices: np.ndarray | None  # (B,): the inverse permutation, back to the original order


class PackedSequence(_PackedFields):
    """A packed batch, with PyTorch's fields: (data, batch_sizes, sorted_indices, unsorted_indices).

    Build one with `pack_padded_sequence` or `pack_sequence`, not by hand; when given,
    `unsorted_indices` defaults to the inverse of `sorted_indices`, as in PyTorch.
    """

    def __new__(cls, data, batch_sizes, sorted_indices=None, unsorted_indices=None):
        data, batch_sizes = np.asarray(data), np.asarray(batch_sizes, dtype=np.int64)
        if batch_sizes.ndim != 1 or (batch_sizes.size and (batch_sizes.min() <= 0 or np.any(np.diff(batch_sizes) > 0))):
            raise ShapeError(f"batch_sizes must be a 1-D array of positive, non-increasing counts, got {batch_sizes}")
        if data.ndim < 1 or len(data) != batch_sizes.sum():
            raise ShapeError(f"data must have sum(batch_sizes) = {batch_sizes.sum()} rows, got shape {data.shape}")
        if sorted_indices is not None:
            sorted_indices = np.asarray(sorted_indices, dtype=np.int64)
            if unsorted_indices is None:
                unsorted_indices = invert_permutation(sorted_indices)
        if unsorted_indices is not None:
            unsorted_indices = np.asarray(unsorted_indices, dtype=np.int64)
        return super().__new__(cls, data, batch_sizes, sorted_indices, unsorted_indices)

    def __repr__(self) -> str:
        return (f"PackedSequence(data={self.data.shape} {self.data.dtype}, batch_sizes={self.batch_sizes.tolist()}, "
                f"sorted_indices={_listed(self.sorted_indices)}, unsorted_indices={_listed(self.unsorted_indices)})")


def _listed(indices: np.ndarray | None):
    return None if indices is None else indices.tolist()


def invert_permutation(permutation: np.ndarray) -> np.ndarray:
    """The permutation q with q[p[i]] = i: (B,) int64."""
    inverse = np.empty_like(permutation)
    inverse[permutation] = np.arange(len(permutation), dtype=permutation.dtype)
    return inverse


def pack_padded_sequence(input, lengths, batch_first: bool = False, enforce_sorted: bool = True) -> PackedSequence:
    """Pack a padded batch: input (T, B, *) ((B, T, *) with batch_first), lengths (B,) ints in [1, T].

    enforce_sorted=True expects lengths in decreasing order (sorted_indices is then None);
    False sorts them here and records the permutation, so the batch may come in any order.
    """
    x = np.asarray(input)
    if x.ndim < 2:
        raise ShapeError(f"input must have at least 2 dimensions (T, B, *), got shape {x.shape}")
    if batch_first:
        x = np.swapaxes(x, 0, 1)
    lengths = np.asarray(lengths)
    if lengths.ndim != 1 or not (lengths.size == 0 or np.issubdtype(lengths.dtype, np.integer)):
        raise ShapeError(f"'lengths' argument should be a 1-D array of ints, got {lengths.dtype} "
                         f"of shape {lengths.shape}")
    lengths = lengths.astype(np.int64)
    if len(lengths) != x.shape[1]:
        raise ShapeError(f"Expected `len(lengths)` to be equal to batch_size, but got {len(lengths)} "
                         f"(batch_size={x.shape[1]})")
    if x.shape[1] == 0:
        raise ShapeError("Cannot pack empty tensors.")
    if lengths.min() <= 0:
        raise ShapeError("Length of all samples has to be greater than 0, but found an element in 'lengths' "
                         "that is <= 0")
    if lengths.max() > x.shape[0]:
        raise ShapeError(f"Expected every length to be at most the input's sequence length {x.shape[0]}, "
                         f"but found a length of {lengths.max()}")
    sorted_indices = None
    if enforce_sorted:
        if np.any(np.diff(lengths) > 0):
            raise ShapeError("`lengths` array must be sorted in decreasing order when `enforce_sorted` is True. "
                             "You can pass `enforce_sorted=False` to pack_padded_sequence and/or pack_sequence to "
                             "sidestep this requirement if you do not need ONNX exportability.")
    else:
        sorted_indices = np.argsort(-lengths, kind="stable")
        lengths, x = lengths[sorted_indices], x[:, sorted_indices]
    steps = np.arange(lengths[0])[:, None] < lengths[None, :]  # (T', B) real steps, sorted batch
    return PackedSequence(x[: lengths[0]][steps], steps.sum(axis=1), sorted_indices)


def _padded_mask(batch_sizes: np.ndarray) -> np.ndarray:
    """(T, B) bool, True where sorted sequence b is still running at step t."""
    return np.arange(batch_sizes[0])[None, :] < batch_sizes[:, None]


def pad_packed_sequence(sequence: PackedSequence, batch_first: bool = False, padding_value: float = 0.0,
                        total_length: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Undo `pack_padded_sequence`: (padded (T, B, *) or (B, T, *) with batch_first, lengths (B,) int64).

    The batch comes back in its original order. total_length pads to that many steps (at least
    the longest length), so a batch split up and packed comes back to its original T.
    """
    if not isinstance(sequence, PackedSequence):
        raise ArgumentValueError(f"pad_packed_sequence expects a PackedSequence, got {type(sequence).__name__}")
    data, batch_sizes = sequence.data, sequence.batch_sizes
    T = len(batch_sizes)
    if total_length is not None:
        if total_length < T:
            raise ArgumentValueError("Expected total_length to be at least the length of the longest sequence in "
                                     f"input, but got total_length={total_length} and max sequence length being {T}")
        T = total_length
    steps = _padded_mask(batch_sizes)
    padded = np.full((T, batch_sizes[0], *data.shape[1:]), padding_value, dtype=data.dtype)
    padded[: len(batch_sizes)][steps] = data
    lengths = steps.sum(axis=0).astype(np.int64)
    if sequence.unsorted_indices is not None:
        padded, lengths = padded[:, sequence.unsorted_indices], lengths[sequence.unsorted_indices]
    return (np.swapaxes(padded, 0, 1) if batch_first else padded), lengths


def _arrays(sequences) -> list[np.ndarray]:
    """The sequences as arrays, refused as PyTorch does if not an iterable or empty."""
    if not isinstance(sequences, Iterable) or isinstance(sequences, np.ndarray) and sequences.ndim == 0:
        raise ArgumentTypeError(f"Expected iterable for input sequences, but got arg of type: "
                                f"{type(sequences).__name__}")
    arrays = [np.asarray(s) for s in sequences]
    if not arrays:
        raise ArgumentValueError("received an empty list of sequences")
    return arrays


def pad_sequence(sequences: Sequence, batch_first: bool = False, padding_value: float = 0.0,
                 padding_side: str = "right") -> np.ndarray:
    """Stack sequences of shapes (L_i, *) into (T, B, *) ((B, T, *) with batch_first), T = max L_i.

    padding_side "right" puts the padding after each sequence, "left" before it.
    """
    if padding_side not in ("left", "right"):
        raise ArgumentValueError(f"Expected padding_side to be one of left or right, but got {padding_side}.")
    sequences = _arrays(sequences)
    trailing = sequences[0].shape[1:]
    for i, s in enumerate(sequences):
        if s.ndim < 1 or s.shape[1:] != trailing:
            raise ShapeError(f"every sequence must have shape (L, {', '.join(map(str, trailing)) or '*'}) like the "
                             f"first; sequence {i} has shape {s.shape}")
    T = max(len(s) for s in sequences)
    padded = np.full((T, len(sequences), *trailing), padding_value, dtype=np.result_type(*sequences))
    for b, s in enumerate(sequences):
        start = T - len(s) if padding_side == "left" else 0
        padded[start : start + len(s), b] = s
    return np.swapaxes(padded, 0, 1) if batch_first else padded


def pack_sequence(sequences: Sequence, enforce_sorted: bool = True) -> PackedSequence:
    """Pack sequences of shapes (L_i, *): `pack_padded_sequence(pad_sequence(sequences), lengths)`."""
    sequences = _arrays(sequences)
    return pack_padded_sequence(pad_sequence(sequences), [len(s) for s in sequences], enforce_sorted=enforce_sorted)


def unpack_sequence(packed: PackedSequence) -> list[np.ndarray]:
    """The sequences of a packed batch, in their original order: B arrays of shape (L_i, *)."""
    padded, lengths = pad_packed_sequence(packed, batch_first=True)
    return [row[:length] for row, length in zip(padded, lengths, strict=True)]


# ---- the recurrent layers' side: packed <-> padded time-major plus a mask -----------------------------------

def unpack_for_layer(packed: PackedSequence) -> tuple[np.ndarray, np.ndarray]:
    """A packed input -> (x (T, B, *) time-major in the original batch order, mask (T, B) bool)."""
    x, lengths = pad_packed_sequence(packed)
    return x, np.arange(len(x))[:, None] < lengths[None, :]


def repack_like(padded: np.ndarray, like: PackedSequence, batch_first: bool = False) -> PackedSequence:
    """padded (T, B, *) ((B, T, *) with batch_first), original batch order -> packed as `like` is."""
    padded = np.swapaxes(padded, 0, 1) if batch_first else padded
    if like.sorted_indices is not None:
        padded = padded[:, like.sorted_indices]
    steps = _padded_mask(like.batch_sizes)
    return PackedSequence(padded[: len(steps)][steps], like.batch_sizes, like.sorted_indices, like.unsorted_indices)

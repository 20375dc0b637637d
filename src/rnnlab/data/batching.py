"""Batching variable-length sequences: padding to a rectangle, and the mask that travels with it.

Batches are batch-first, (B, T, ...); a mask is (B, T) bool, True at real steps and False
at padding, so later layers never have to re-derive it from the padding value.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from functools import reduce

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from rnnlab.errors import RnnlabError

PAD, UNK = 0, 1  # reserved token ids of every vocabulary built for padded batches: padding, unknown
_SIDES = ("pre", "post")


def pad_sequences(
    seqs: Sequence[ArrayLike],
    side: str = "post",
    value: float = 0,
    maxlen: int | None = None,
    dtype: DTypeLike | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Pad (and optionally truncate) sequences of shape (T_i, ...) into one (B, T, ...) array.

    `side` works as Keras's `padding` and `truncating` together: "post" pads at the end and,
    when a sequence is longer than `maxlen`, keeps its first `maxlen` steps; "pre" pads at
    the start and keeps the last `maxlen` steps. T is `maxlen` when given (even if every
    sequence is shorter), else the longest length. All sequences must share the step shape
    `...`. `dtype` defaults to the common type of the sequences; padding holds `value`.

    Returns (padded, mask): padded (B, T, ...) of `dtype`, mask (B, T) bool, True at real steps.

    >>> batch, mask = pad_sequences([[1, 2, 3], [4, 5]])
    >>> batch
    array([[1, 2, 3],
           [4, 5, 0]])
    >>> mask
    array([[ True,  True,  True],
           [ True,  True, False]])
    >>> pad_sequences([[1, 2, 3], [4, 5]], side="pre", maxlen=2)[0]
    array([[2, 3],
           [4, 5]])
    >>> pad_sequences([np.ones((3, 4)), np.ones((1, 4))], dtype=np.float32)[0].shape
    (2, 3, 4)
    """
    if side not in _SIDES:
        raise RnnlabError(f"Received an invalid value for argument `side`, expected one of {_SIDES}, got {side!r}.")
    if maxlen is not None and (isinstance(maxlen, bool) or not isinstance(maxlen, int) or maxlen < 1):
        raise RnnlabError(
            f"Received an invalid value for argument `maxlen`, expected a positive integer or None, got {maxlen!r}."
        )
    arrays = [np.asarray(seq) for seq in seqs]
    if not arrays:
        raise RnnlabError("pad_sequences needs at least one sequence, got none")
    step_shape = arrays[0].shape[1:]
    for index, array in enumerate(arrays):
        if array.ndim == 0:
            raise RnnlabError(f"sequence {index} is a scalar, expected shape (T, ...)")
        if array.shape[1:] != step_shape:
            raise RnnlabError(
                f"sequence {index} has step shape {array.shape[1:]}, expected {step_shape} like sequence 0"
            )
    if dtype is None:
        # Empty sequences (often float64 from `[]`) should not widen the type of the others.
        dtypes = [array.dtype for array in arrays if array.size] or [arrays[0].dtype]
        dtype = reduce(np.promote_types, dtypes)
    try:
        dtype = np.dtype(dtype)
    except TypeError:
        raise RnnlabError(f"Received an invalid value for argument `dtype`, got {dtype!r}.") from None
    length = maxlen if maxlen is not None else max(len(array) for array in arrays)
    try:
        fill = np.array(value, dtype=dtype)
    except (ValueError, OverflowError, TypeError) as error:
        raise RnnlabError(
            f"padding value {value!r} cannot be stored as {dtype} ({error}); pass a `dtype` that holds it"
        ) from None
    if fill.ndim or (dtype.kind in "biu" and fill != value):  # e.g. 0.5 would silently become 0
        raise RnnlabError(f"padding value {value!r} cannot be stored exactly as {dtype}")
    padded = np.full((len(arrays), length, *step_shape), fill, dtype=dtype)  # (B, T, ...)
    mask = np.zeros((len(arrays), length), dtype=bool)  # (B, T)
    for index, array in enumerate(arrays):
        kept = array[:length] if side == "post" else array[max(len(array) - length, 0) :]
        steps = len(kept)
        if side == "post":
            padded[index, :steps] = kept
            mask[index, :steps] = True
        else:
            padded[index, length - steps :] = kept
            mask[index, length - steps :] = True
    return padded, mask


def lengths_to_mask(lengths: ArrayLike, max_len: int | None = None) -> np.ndarray:
    """The (B, T) bool mask of post-padded sequences: True where step t < lengths[b].

    T is `max_len` when given (it must be at least the longest length), else the longest length.

    >>> lengths_to_mask([3, 1], max_len=4)
    array([[ True,  True,  True, False],
           [ True, False, False, False]])
    """
    lengths = np.asarray(lengths)
    if lengths.ndim != 1 or not (np.issubdtype(lengths.dtype, np.integer) or lengths.size == 0):
        raise RnnlabError(f"lengths must be a 1-D sequence of integers, got shape {lengths.shape} of {lengths.dtype}")
    if lengths.size and lengths.min() < 0:
        raise RnnlabError(f"lengths must be non-negative, got {int(lengths.min())}")
    longest = int(lengths.max()) if lengths.size else 0
    if max_len is None:
        max_len = longest
    elif isinstance(max_len, bool) or not isinstance(max_len, int) or max_len < longest:
        raise RnnlabError(
            f"Received an invalid value for argument `max_len`, expected an integer of at least the "
            f"longest length {longest}, got {max_len!r}."
        )
    return np.arange(max_len) < lengths[:, None]  # (B, T)


def batches_by_length(lengths: np.ndarray, batch_size: int, rng: np.random.Generator | None,
                      pool_batches: int = 50) -> Iterator[np.ndarray]:
    """Index batches of similar lengths (little padding): sort within pools of `pool_batches` batches.

    With `rng`, the order is shuffled first and the batches come in random order (training);
    without, the order is deterministic (inference; put the results back by index).

    >>> [b.tolist() for b in batches_by_length(np.array([5, 1, 4, 2]), 2, None)]
    [[1, 3], [2, 0]]
    """
    order = rng.permutation(len(lengths)) if rng is not None else np.arange(len(lengths))
    pool = batch_size * pool_batches
    batches = []
    for start in range(0, len(order), pool):
        chunk = order[start:start + pool]
        chunk = chunk[np.argsort(lengths[chunk], kind="stable")]
        batches.extend(chunk[i:i + batch_size] for i in range(0, len(chunk), batch_size))
    if rng is not None:
        batches = [batches[i] for i in rng.permutation(len(batches))]
    yield from batches

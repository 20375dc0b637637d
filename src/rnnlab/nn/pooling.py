"""Pooling over time: a (T, B, F) sequence of recurrent outputs -> one (B, F) vector per sequence.

Each layer reads valid steps only, given by the (T, B) mask that travels with the batch (True at real
steps), so a sequence's result does not depend on how much padding its batch has or on which side:

    LastPool   the final state of each direction: the last valid step of the forward half of the
               features and the first valid step of the reverse half (the reverse direction ends there)
    MeanPool   the mean over valid steps
    MaxPool    the maximum over valid steps, feature by feature

Inputs are time-major like the recurrent layers' outputs. Every sequence needs at least one valid
step. `backward(d_pooled)` returns d_output (T, B, F), zero at padded steps.

>>> output = np.arange(12, dtype=np.float64).reshape(3, 2, 2)  # (T=3, B=2, F=2)
>>> mask = np.array([[True, True], [True, True], [True, False]])  # the second sequence has 2 steps
>>> MeanPool()(output, mask)
array([[4., 5.],
       [4., 5.]])
>>> LastPool()(output, mask)
array([[8., 9.],
       [6., 7.]])
"""

from __future__ import annotations

import numpy as np

from rnnlab.errors import invalid_argument
from rnnlab.nn.module import Module


def _valid_counts(mask: np.ndarray) -> np.ndarray:
    """(T, B) bool -> (B,) int: valid steps per sequence, checked to be at least one."""
    counts = mask.sum(axis=0)  # (B,)
    if counts.size and counts.min() < 1:
        raise invalid_argument("mask", "at least one valid step per sequence", f"{int((counts < 1).sum())} empty")
    return counts


class LastPool(Module):
    """The final state of each direction: for `num_directions` = 2 the features are [forward | reverse].

    The forward direction ends at the last valid step, the reverse one at the first valid step,
    so the result equals the top layer's `h_n` (both directions side by side).
    """

    def __init__(self, num_directions: int = 1) -> None:
        super().__init__()
        if num_directions not in (1, 2):
            raise invalid_argument("num_directions", "1 or 2", num_directions)
        self.num_directions = num_directions
        self._cache: tuple | None = None

    def forward(self, output: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """output (T, B, D*H), mask (T, B) bool -> (B, D*H)."""
        _valid_counts(mask)
        T, B, F = output.shape
        hidden = F // self.num_directions
        last = T - 1 - np.argmax(mask[::-1], axis=0)  # (B,) last valid step
        first = np.argmax(mask, axis=0)  # (B,) first valid step
        steps = [last, first][: self.num_directions]
        batch = np.arange(B)
        pooled = np.concatenate([output[step, batch, d * hidden:(d + 1) * hidden]  # (B, H) each
                                 for d, step in enumerate(steps)], axis=1)  # (B, D*H)
        self._cache = (output.shape, output.dtype, steps)
        return pooled

    def backward(self, d_pooled: np.ndarray) -> np.ndarray:
        """d_pooled (B, D*H) -> d_output (T, B, D*H), nonzero only at each direction's final step."""
        shape, dtype, steps = self._cache
        hidden = shape[2] // self.num_directions
        d_output = np.zeros(shape, dtype)  # (T, B, D*H)
        batch = np.arange(shape[1])
        for d, step in enumerate(steps):
            d_output[step, batch, d * hidden:(d + 1) * hidden] = d_pooled[:, d * hidden:(d + 1) * hidden]
        return d_output


class MeanPool(Module):
    """pooled_b = sum_t mask_tb output_tb / sum_t mask_tb."""

    def __init__(self) -> None:
        super().__init__()
        self._cache: tuple | None = None

    def forward(self, output: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """output (T, B, F), mask (T, B) bool -> (B, F)."""
        counts = _valid_counts(mask).astype(output.dtype)[:, None]  # (B, 1)
        valid = mask[:, :, None]  # (T, B, 1)
        self._cache = (valid, counts, output.shape, output.dtype)
        return np.where(valid, output, 0).sum(axis=0) / counts  # (B, F)

    def backward(self, d_pooled: np.ndarray) -> np.ndarray:
        """d_pooled (B, F) -> d_output (T, B, F): d_pooled / count at each valid step."""
        valid, counts, shape, dtype = self._cache
        return np.where(valid, (d_pooled / counts)[None], 0).astype(dtype, copy=False)  # (T, B, F)


class MaxPool(Module):
    """pooled_bf = max over valid t of output_tbf; the gradient goes to the (first) step of each maximum."""

    def __init__(self) -> None:
        super().__init__()
        self._cache: tuple | None = None

    def forward(self, output: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """output (T, B, F), mask (T, B) bool -> (B, F)."""
        _valid_counts(mask)
        scores = np.where(mask[:, :, None], output, -np.inf)  # (T, B, F)
        argmax = scores.argmax(axis=0)  # (B, F) step of each maximum
        self._cache = (argmax, output.shape, output.dtype)
        return np.take_along_axis(output, argmax[None], axis=0)[0]  # (B, F)

    def backward(self, d_pooled: np.ndarray) -> np.ndarray:
        """d_pooled (B, F) -> d_output (T, B, F), nonzero only at the step of each maximum."""
        argmax, shape, dtype = self._cache
        d_output = np.zeros(shape, dtype)  # (T, B, F)
        np.put_along_axis(d_output, argmax[None], d_pooled[None], axis=0)
        return d_output

"""Batch normalisation over channels (Ioffe & Szegedy 2015; PyTorch's `BatchNorm1d`), forward and backward
side by side. For input (B, C) or (B, C, L), per channel c:

    x_hat = (x - mean) / sqrt(var + eps)          y = weight * x_hat + bias

In training mode mean and var are the batch's, over B (and L): over the real steps only when a (B, L)
mask comes with the batch (True at real steps), so padding never enters them. var is the biased
variance (sum / N); the running statistics move towards the batch's with the unbiased one (sum / (N - 1)):

    running = (1 - momentum) * running + momentum * batch      (momentum None: 1 / num_batches_tracked)

In eval mode x is normalised with the running statistics (with the batch's, when the layer keeps none).
Padded outputs are 0. The backward through batch statistics (N real steps per channel):

    d x = rstd * (d x_hat - mean(d x_hat) - x_hat * mean(d x_hat * x_hat)),     d x_hat = d y * weight

the two means over the same real steps; with running statistics (constants) it is d x = d x_hat * rstd.
`running_mean`, `running_var` (C,) and `num_batches_tracked` () are buffers: saved in `state_dict()`
under PyTorch's names, never updated by an optimizer.
"""

from __future__ import annotations

import numpy as np

from rnnlab.checks import boolean, is_number, positive, require, require_that, units
from rnnlab.errors import RnnlabError, invalid_argument
from rnnlab.nn.module import Module, Parameter, reserve


class BatchNorm1d(Module):
    """Batch normalisation as `torch.nn.BatchNorm1d`: `weight` (C,) starts at 1, `bias` (C,) at 0.

    >>> norm = BatchNorm1d(3, dtype=np.float64)
    >>> x = np.arange(24.0).reshape(2, 3, 4)
    >>> y = norm(x, np.array([[True] * 4, [True, True, False, False]]))  # the second row has 2 real steps
    >>> y.shape, y[1, :, 2:].tolist(), norm.num_batches_tracked.item()
    ((2, 3, 4), [[0.0, 0.0], [0.0, 0.0], [0.0, 0.0]], 1)
    """

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True,
                 track_running_stats: bool = True, dtype: type = np.float32) -> None:
        super().__init__()
        require("num_features", num_features, units)
        require("eps", eps, positive)
        require_that("momentum", momentum, "a number in [0, 1] or None",
                     momentum is None or (is_number(momentum) and 0 <= momentum <= 1))
        require("affine", affine, boolean)
        require("track_running_stats", track_running_stats, boolean)
        if np.dtype(dtype) not in (np.float32, np.float64):
            raise invalid_argument("dtype", "float32 or float64", dtype)
        self.num_features, self.eps, self.momentum, self.dtype = num_features, eps, momentum, np.dtype(dtype)
        self.affine, self.track_running_stats = affine, track_running_stats
        shape = (num_features,)
        self.weight = Parameter(np.ones(reserve(shape), self.dtype)) if affine else None
        self.bias = Parameter(np.zeros(reserve(shape), self.dtype)) if affine else None
        if track_running_stats:
            self.register_buffer("running_mean", np.zeros(shape, self.dtype))
            self.register_buffer("running_var", np.ones(shape, self.dtype))
            self.register_buffer("num_batches_tracked", np.zeros((), np.int64))
        else:
            self.running_mean = self.running_var = self.num_batches_tracked = None
        self._cache = None

    def __repr__(self) -> str:
        return (f"BatchNorm1d({self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"track_running_stats={self.track_running_stats}, dtype={self.dtype.name})")

    def _inputs(self, x, mask) -> tuple[np.ndarray, np.ndarray]:
        """x as (B, C, L) (L = 1 for 2-D input) with padded steps set to 0, and the (B, 1, L) real steps."""
        x = np.asarray(x, dtype=self.dtype)
        C = self.num_features
        if x.ndim not in (2, 3) or x.shape[1] != C:
            raise RnnlabError(f"BatchNorm1d expects input of shape (B, {C}) or (B, {C}, L), got {x.shape}")
        if x.ndim == 2:
            if mask is not None:
                raise RnnlabError(f"BatchNorm1d: a mask needs input of shape (B, {C}, L), got {x.shape}")
            x = x[:, :, None]
        if mask is None:
            return x, np.ones((len(x), 1, x.shape[2]), bool)
        mask = np.asarray(mask)
        if mask.dtype != bool or mask.shape != (len(x), x.shape[2]):
            raise RnnlabError(f"BatchNorm1d: mask must be a bool array of shape {(len(x), x.shape[2])} (B, L), "
                              f"got {mask.dtype} {mask.shape}")
        real = mask[:, None, :]  # (B, 1, L)
        return np.where(real, x, 0), real

    def _track(self, mean: np.ndarray, var: np.ndarray, count: int) -> None:
        """Move the running statistics towards the batch's (unbiased variance), in place."""
        self.num_batches_tracked += 1
        factor = 1 / float(self.num_batches_tracked) if self.momentum is None else self.momentum
        self.running_mean *= 1 - factor
        self.running_mean += factor * mean
        self.running_var *= 1 - factor
        self.running_var += factor * var * count / (count - 1)

    def forward(self, x: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        """x (B, C) or (B, C, L); mask (B, L) bool, True at real steps (3-D only; None: all real) -> y like x."""
        flat = np.ndim(x) == 2
        x, real = self._inputs(x, mask)  # (B, C, L), (B, 1, L)
        count = int(real.sum())  # N: real values per channel
        batch_statistics = self.training or self.running_mean is None
        if batch_statistics:
            if count < (2 if self.training else 1):
                raise RnnlabError(f"BatchNorm1d: training needs more than 1 value per channel, got {count}"
                                  if self.training else "BatchNorm1d: no real step in the batch")
            mean = x.sum(axis=(0, 2)) / count  # (C,)
            centred = np.where(real, x - mean[:, None], 0)  # (B, C, L)
            var = (centred * centred).sum(axis=(0, 2)) / count  # (C,) biased
            if self.training and self.running_mean is not None:
                self._track(mean, var, count)
        else:
            mean, var = self.running_mean, self.running_var
        rstd = 1 / np.sqrt(var + self.eps)  # (C,)
        x_hat = np.where(real, (x - mean[:, None]) * rstd[:, None], 0)  # (B, C, L), 0 at padding
        if self.affine:
            y = np.where(real, x_hat * self.weight.data[:, None] + self.bias.data[:, None], 0)  # (B, C, L)
        else:
            y = x_hat.copy()  # handed out: the cache keeps its own
        self._cache = (x_hat, rstd, real, count, batch_statistics, flat)
        return y[:, :, 0] if flat else y

    def backward(self, d_y: np.ndarray) -> np.ndarray:
        """d_y shaped like the input -> d_x, 0 at padded steps; adds to weight.grad and bias.grad."""
        x_hat, rstd, real, count, batch_statistics, flat = self._cache
        d_y = np.asarray(d_y, dtype=self.dtype)
        expected = x_hat.shape[:2] if flat else x_hat.shape
        if d_y.shape != expected:
            raise RnnlabError(f"BatchNorm1d.backward: d_y must have shape {expected}, got {d_y.shape}")
        d_y = np.where(real, d_y[:, :, None] if flat else d_y, 0)  # (B, C, L); padded outputs are constant 0
        d_x_hat = d_y
        if self.affine:
            self.weight.grad += (d_y * x_hat).sum(axis=(0, 2))
            self.bias.grad += d_y.sum(axis=(0, 2))
            d_x_hat = d_y * self.weight.data[:, None]  # (B, C, L)
        if batch_statistics:  # x enters its own mean and variance too
            mean_d = d_x_hat.sum(axis=(0, 2)) / count  # (C,)
            mean_d_x_hat = (d_x_hat * x_hat).sum(axis=(0, 2)) / count  # (C,)
            d_x = rstd[:, None] * (d_x_hat - mean_d[:, None] - x_hat * mean_d_x_hat[:, None])
            d_x = np.where(real, d_x, 0)
        else:
            d_x = d_x_hat * rstd[:, None]  # 0 at padding already
        return d_x[:, :, 0] if flat else d_x

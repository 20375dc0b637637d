"""One-dimensional convolution over (B, C, L) series, forward and backward side by side (PyTorch's `Conv1d`).

    y[b, o, j] = bias[o] + sum_{c, k} weight[o, c, k] * x_pad[b, c, j * stride + k * dilation]

where x_pad is x with `left` zeros before each row and `right` after it (`padding` each, or PyTorch's
"same": dilation * (kernel_size - 1) in all, the odd one on the right). The forward gathers every window
of x_pad into one (B*L_out, C_in*K) matrix (im2col: a strided view, copied once) and multiplies it by the
(C_in*K, C_out) weights; the backward is its adjoint: d weight from the same matrix, d x by adding each
tap's column back onto the steps it was read from.

Series of different lengths travel post-padded with a (B, L) mask, True at real steps. Padded inputs
count as zeros, so a row's outputs are those of the row alone with the layer's own zero padding; the
output steps that exist only because of the batch's padding are 0 and pass no gradient, and
`output_mask` gives the (B, L_out) mask that travels on with the output.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from rnnlab.checks import MAX_LENGTH, boolean, int_in, length, require, require_that, units
from rnnlab.errors import RnnlabError, invalid_argument
from rnnlab.nn.module import Module, Parameter, reserve

padding_steps = int_in(0, MAX_LENGTH)


class Conv1d(Module):
    """A 1-D convolution as `torch.nn.Conv1d` (no groups): `weight` (C_out, C_in, K), `bias` (C_out,),
    both initialised U(-1/sqrt(C_in*K), 1/sqrt(C_in*K)) as PyTorch does.

    >>> conv = Conv1d(2, 4, 3, padding="same", seed=0)
    >>> x, mask = np.ones((5, 2, 10)), np.arange(10) < np.array([[10], [8], [6], [4], [2]])
    >>> conv(x, mask).shape, conv.output_mask(mask).sum(axis=1).tolist()
    ((5, 4, 10), [10, 8, 6, 4, 2])
    >>> conv.backward(np.ones((5, 4, 10))).shape
    (5, 2, 10)
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
                 padding: int | str = 0, dilation: int = 1, bias: bool = True, dtype: type = np.float32,
                 seed: int | np.random.Generator | None = None) -> None:
        super().__init__()
        require("in_channels", in_channels, units)
        require("out_channels", out_channels, units)
        for name, value in (("kernel_size", kernel_size), ("stride", stride), ("dilation", dilation)):
            require(name, value, length)
        same = isinstance(padding, str) and padding == "same"
        require_that("padding", padding, f"{padding_steps.expected} or 'same'", same or padding_steps.accepts(padding))
        if same and stride != 1:
            raise invalid_argument("padding", f"{padding_steps.expected} with stride {stride} "
                                   "('same' needs stride 1, as in PyTorch)", padding)
        require("bias", bias, boolean)
        if np.dtype(dtype) not in (np.float32, np.float64):
            raise invalid_argument("dtype", "float32 or float64", dtype)
        self.in_channels, self.out_channels, self.kernel_size = in_channels, out_channels, kernel_size
        self.stride, self.padding, self.dilation, self.dtype = stride, padding, dilation, np.dtype(dtype)
        self.span = dilation * (kernel_size - 1) + 1  # input steps one output reads
        total = self.span - 1 if same else 2 * padding
        self.pads = (total // 2, total - total // 2)  # (left, right)
        rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        bound = 1 / np.sqrt(in_channels * kernel_size)  # torch's kaiming_uniform_(a=sqrt(5)) and its bias init
        shape = reserve((out_channels, in_channels, kernel_size))
        self.weight = Parameter(rng.uniform(-bound, bound, shape).astype(self.dtype))
        self.bias = Parameter(rng.uniform(-bound, bound, reserve((out_channels,))).astype(self.dtype)) if bias else None
        self._cache = None

    def __repr__(self) -> str:
        return (f"Conv1d({self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding!r}, dilation={self.dilation}, "
                f"bias={self.bias is not None}, dtype={self.dtype.name})")

    def _out_length(self, steps: np.ndarray | int) -> np.ndarray | int:
        """Output steps of a row of `steps` input steps alone (<= 0: none)."""
        return (steps + sum(self.pads) - self.span) // self.stride + 1

    def output_mask(self, mask: np.ndarray) -> np.ndarray:
        """The (B, L_out) mask of the output for an input mask (B, L): True at the steps each row has alone."""
        mask = np.asarray(mask)
        if mask.dtype != bool or mask.ndim != 2:
            raise RnnlabError(f"Conv1d: mask must be a bool array of shape (B, L), got {mask.dtype} {mask.shape}")
        lengths = mask.sum(axis=1)  # (B,) real steps per row
        unpadded = np.flatnonzero((mask != (np.arange(mask.shape[1]) < lengths[:, None])).any(axis=1))
        if len(unpadded):
            raise RnnlabError(f"Conv1d: mask row {unpadded[0]} is not post-padded "
                              "(True on the real steps at the start of the row, False after them)")
        out_lengths = self._out_length(lengths)  # (B,)
        short = np.flatnonzero(out_lengths < 1)
        if len(short):
            raise RnnlabError(f"Conv1d: batch row {short[0]} has {lengths[short[0]]} real steps, fewer than the "
                              f"kernel spans ({self.span} steps, with {sum(self.pads)} padding steps)")
        return np.arange(self._out_length(mask.shape[1])) < out_lengths[:, None]  # (B, L_out)

    def forward(self, x: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        """x (B, C_in, L); mask (B, L) bool, True at real steps (None: all real) -> y (B, C_out, L_out)."""
        x = np.asarray(x, dtype=self.dtype)
        if x.ndim != 3 or x.shape[1] != self.in_channels:
            raise RnnlabError(f"Conv1d expects input of shape (B, {self.in_channels}, L), got {x.shape}")
        B, _, L = x.shape
        left, right = self.pads
        if L + left + right < self.span:
            raise RnnlabError(f"Conv1d: input of length {L} (padded to {L + left + right}) is shorter than the "
                              f"kernel spans ({self.span} steps: kernel_size {self.kernel_size}, "
                              f"dilation {self.dilation})")
        out_mask = None
        if mask is not None:
            mask = np.asarray(mask)
            if mask.dtype != bool or mask.shape != (B, L):
                raise RnnlabError(f"Conv1d: mask must be a bool array of shape {(B, L)} (B, L), "
                                  f"got {mask.dtype} {mask.shape}")
            out_mask = self.output_mask(mask)  # (B, L_out)
            x = np.where(mask[:, None, :], x, 0)  # padded steps count as zeros
        x_pad = np.pad(x, ((0, 0), (0, 0), (left, right)))  # (B, C_in, L + left + right)
        windows = sliding_window_view(x_pad, self.span, axis=2)[:, :, :: self.stride, :: self.dilation]  # view
        L_out = windows.shape[2]  # windows: (B, C_in, L_out, K)
        cols = windows.transpose(0, 2, 1, 3).reshape(B * L_out, -1)  # (B*L_out, C_in*K), the one copy
        y = cols @ self.weight.data.reshape(self.out_channels, -1).T  # (B*L_out, C_out)
        if self.bias is not None:
            y += self.bias.data
        y = y.reshape(B, L_out, self.out_channels).transpose(0, 2, 1)  # (B, C_out, L_out)
        self._cache = (cols, x.shape, mask, out_mask)
        return np.ascontiguousarray(y) if out_mask is None else np.where(out_mask[:, None, :], y, 0)

    def backward(self, d_y: np.ndarray) -> np.ndarray:
        """d_y (B, C_out, L_out) -> d_x (B, C_in, L), 0 at padded steps; adds to weight.grad and bias.grad."""
        cols, (B, C_in, L), mask, out_mask = self._cache
        L_out, C_out, K = len(cols) // B, self.out_channels, self.kernel_size
        d_y = np.asarray(d_y, dtype=self.dtype)
        if d_y.shape != (B, C_out, L_out):
            raise RnnlabError(f"Conv1d.backward: d_y must have shape {(B, C_out, L_out)}, got {d_y.shape}")
        if out_mask is not None:
            d_y = np.where(out_mask[:, None, :], d_y, 0)  # those outputs are constant zeros
        d_y2 = d_y.transpose(0, 2, 1).reshape(B * L_out, C_out)  # (B*L_out, C_out)
        self.weight.grad += (d_y2.T @ cols).reshape(C_out, C_in, K)
        if self.bias is not None:
            self.bias.grad += d_y2.sum(axis=0)
        d_cols = (d_y2 @ self.weight.data.reshape(C_out, -1)).reshape(B, L_out, C_in, K)
        # the adjoint of the gather: tap k of output j read x_pad at step j * stride + k * dilation
        left, right = self.pads
        d_x_pad = np.zeros((B, C_in, L + left + right), self.dtype)
        reach = self.stride * (L_out - 1) + 1  # from a tap's first step to its last
        for k in range(K):
            start = k * self.dilation
            d_x_pad[:, :, start : start + reach : self.stride] += d_cols[:, :, :, k].transpose(0, 2, 1)
        d_x = d_x_pad[:, :, left : left + L]  # (B, C_in, L)
        return np.ascontiguousarray(d_x) if mask is None else np.where(mask[:, None, :], d_x, 0)

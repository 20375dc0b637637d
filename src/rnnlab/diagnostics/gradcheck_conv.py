"""Gradient check of the convolutional front end's layers, `Conv1d` and `BatchNorm1d`, as `gradcheck.py` does
for the recurrent ones: L = sum(y * R) for a fixed random R, the hand-written backward against central
differences of L for every element of the input and of every parameter, in float64.

Masked configurations run a post-padded batch of lengths (8, 5, 6): the padded input steps hold random
values, which must change nothing (their numerical gradient is 0, and so must the analytic one be).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from rnnlab.diagnostics.differences import numerical_gradient, relative_error
from rnnlab.nn.batchnorm import BatchNorm1d
from rnnlab.nn.conv import Conv1d

LENGTHS = (8, 5, 6)  # the batch's rows when masked; unmasked, all 8 steps are real
CHANNELS = 3


@dataclass(frozen=True)
class ConvConfig:
    """`Conv1d(3, 4, kernel_size, stride, padding, dilation, bias)` on 3 series of 8 steps."""

    kernel_size: int = 3
    stride: int = 1
    padding: int | str = 0
    dilation: int = 1
    bias: bool = True
    masked: bool = False

    def label(self) -> str:
        parts = [f"conv1d k{self.kernel_size} stride {self.stride} padding {self.padding} dilation {self.dilation}"]
        return ", ".join(parts + [flag for flag, on in (("no bias", not self.bias), ("masked", self.masked)) if on])


@dataclass(frozen=True)
class BatchNormConfig:
    """`BatchNorm1d(3, affine=affine)` on (3, 3) or (3, 3, 8) input, in training (batch statistics) or eval mode."""

    sequence: bool = True  # (B, C, L) input; (B, C) otherwise
    training: bool = True
    affine: bool = True
    masked: bool = False

    def label(self) -> str:
        parts = ["batchnorm1d", "(B, C, L)" if self.sequence else "(B, C)", "train" if self.training else "eval"]
        return ", ".join(parts + [flag for flag, on in (("no affine", not self.affine), ("masked", self.masked)) if on])


def conv_gradcheck(config: ConvConfig | BatchNormConfig, seed: int = 0, eps: float = 1e-6) -> dict[str, float]:
    """Relative error of every gradient of one `Conv1d` or `BatchNorm1d` configuration: {tensor name: error}."""
    rng = np.random.default_rng(seed)
    if isinstance(config, ConvConfig):
        layer = Conv1d(CHANNELS, 4, config.kernel_size, config.stride, config.padding, config.dilation, config.bias,
                       dtype=np.float64, seed=seed)
    else:
        layer = BatchNorm1d(CHANNELS, affine=config.affine, dtype=np.float64)
        for p in layer.parameters():
            p.data[...] = rng.normal(size=p.shape)
        layer.running_mean[...] = rng.normal(size=CHANNELS)
        layer.running_var[...] = rng.uniform(0.5, 2, size=CHANNELS)
        layer.train(config.training)
    sequence = isinstance(config, ConvConfig) or config.sequence
    x = rng.normal(size=(len(LENGTHS), CHANNELS, max(LENGTHS)) if sequence else (len(LENGTHS), CHANNELS))
    mask = np.arange(max(LENGTHS)) < np.array(LENGTHS)[:, None] if config.masked else None
    R = rng.normal(size=layer(x, mask).shape)

    def loss() -> float:
        return float((layer(x, mask) * R).sum())

    layer.zero_grad()
    layer(x, mask)
    errors = {"input": relative_error(layer.backward(R), numerical_gradient(loss, x, eps))}
    for name, p in layer.named_parameters():
        errors[name] = relative_error(p.grad, numerical_gradient(loss, p.data, eps))
    return errors


def conv_grid() -> Iterator[ConvConfig]:
    """Conv1d: plain, strided and dilated without bias, "same" with odd and even kernels, strided and masked."""
    yield ConvConfig(3)
    yield ConvConfig(3, stride=2, padding=1, dilation=2, bias=False)
    yield ConvConfig(5, padding="same", masked=True)
    yield ConvConfig(4, padding="same", dilation=2, masked=True)
    yield ConvConfig(3, stride=2, padding=2, masked=True)


def batchnorm_grid() -> Iterator[BatchNormConfig]:
    """BatchNorm1d: (B, C) and (B, C, L) input, training and eval mode, with and without affine, masked."""
    yield BatchNormConfig(sequence=False)
    yield BatchNormConfig(sequence=False, training=False, affine=False)
    yield BatchNormConfig(masked=True)
    yield BatchNormConfig(affine=False, masked=True)
    yield BatchNormConfig(training=False, masked=True)

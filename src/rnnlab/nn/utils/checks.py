"""The recurrent layers' argument, input and state checks, worded as PyTorch 2.13's (torch/nn/modules/rnn.py).

Each error is an `RnnlabError` and also the built-in type PyTorch raises (see `errors`). Where we
differ: a float input of another precision is converted (PyTorch refuses it), while inputs that
are not real numbers are refused; `bidirectional` must be a bool too (PyTorch 2.13 takes any value
and treats it as truthy, so `bidirectional="False"` builds a bidirectional layer).
"""

from __future__ import annotations

import numbers
import warnings

import numpy as np

from rnnlab.checks import is_int
from rnnlab.nn.utils.errors import ArgumentTypeError, ArgumentValueError, ShapeError


def check_constructor(input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional) -> None:
    """PyTorch's constructor checks, in its order; warns as PyTorch does for dropout with one layer."""
    if not isinstance(dropout, numbers.Real) or isinstance(dropout, bool) or not 0 <= dropout <= 1:
        raise ArgumentValueError("dropout should be a number in range [0, 1] representing the probability of an "
                                 f"element being zeroed, got {dropout!r}")
    for name, value in (("bias", bias), ("batch_first", batch_first), ("bidirectional", bidirectional)):
        if not isinstance(value, bool):
            raise ArgumentTypeError(f"{name} should be of type bool, got: {type(value).__name__}")
    for name, value in (("input_size", input_size), ("hidden_size", hidden_size), ("num_layers", num_layers)):
        if not is_int(value):
            raise ArgumentTypeError(f"{name} should be of type int, got: {type(value).__name__}")
        if value <= 0:
            raise ArgumentValueError(f"{name} must be greater than zero, got {value}")
    if dropout > 0 and num_layers == 1:
        warnings.warn(
            "dropout option adds dropout after all but last recurrent layer, so non-zero dropout expects "
            f"num_layers greater than 1, but got dropout={dropout} and num_layers={num_layers}",
            stacklevel=3,
        )


def check_input(name: str, x: np.ndarray, input_size: int, dtype: np.dtype, batch_first: bool = False,
                packed: bool = False) -> None:
    """x: (T, B, I) / (B, T, I) / unbatched (T, I), or packed data (N, I); refused with PyTorch's words."""
    if x.dtype.kind not in "fiub":  # floats, signed and unsigned integers, booleans (cheap: every forward)
        raise ArgumentValueError(f"{name} input dtype ({x.dtype}) does not match weight dtype ({dtype}). "
                                 f"Convert input: input.astype(np.{dtype}), or build the layer with dtype={x.dtype}")
    if packed and x.ndim != 2:
        raise ShapeError(f"input must have 2 dimensions, got {x.ndim}")
    if x.ndim not in (2, 3):
        raise ArgumentValueError(f"{name}: Expected input to be 2D or 3D, got {x.ndim}D instead")
    if x.shape[-1] != input_size:
        raise ShapeError(f"input.size(-1) must be equal to input_size. Expected {input_size}, got {x.shape[-1]} "
                         f"({name} expects input of shape (T, B, {input_size}), (B, T, {input_size}) with batch_first, "
                         f"or unbatched (T, {input_size}); got {x.shape})")
    if not packed and x.shape[1 if batch_first and x.ndim == 3 else 0] == 0:
        raise ShapeError("Expected sequence length to be larger than 0 in RNN")


def check_state(name: str, hx, expected: tuple[int, ...], unbatched: bool, is_lstm: bool,
                cell_size: int | None = None) -> None:
    """hx: h_0 (L*D, B, H) or for LSTM (h_0, c_0), (L*D, B, H_c) for c_0; without B when unbatched.

    expected: the full batched shape of h_0, (L*D, B, H); cell_size: H_c for c_0 where it differs (proj_size).
    """
    if is_lstm and not (isinstance(hx, tuple | list) and len(hx) == 2):
        raise ShapeError(f"{name} expects hx as a pair (h_0, c_0), got {type(hx).__name__}")
    states = (np.asarray(hx[0]), np.asarray(hx[1])) if is_lstm else (np.asarray(hx),)
    dims = 2 if unbatched else 3
    for s in states:
        if s.dtype.kind not in "fiu":  # floats, signed and unsigned integers
            raise ArgumentValueError(f"{name} hx dtype ({s.dtype}) is not a real number type")
    for s in states:
        if s.ndim != dims:
            words = "For unbatched 2-D input" if unbatched else "For batched 3-D input"
            if is_lstm:
                got = ", ".join(f"{s.ndim}-D" for s in states)
                raise ShapeError(f"{words}, hx and cx should also be {dims}-D but got ({got}) tensors")
            raise ShapeError(f"{words}, hx should also be {dims}-D but got {s.ndim}-D tensor")
    for i, s in enumerate(states):
        want = expected if i == 0 else (*expected[:-1], cell_size or expected[-1])
        got = s.shape[:1] + (1,) + s.shape[1:] if unbatched else s.shape  # PyTorch reports unbatched as B = 1
        if got != want:
            which = f"hidden[{i}]" if is_lstm else "hidden"
            raise ShapeError(f"Expected {which} size {want}, got {list(got)}")


def dropout_scale(dropout: float) -> float:
    """1 / (1 - p), the scale of the inputs kept by dropout; 0 when p = 1 (every input dropped, as PyTorch)."""
    if not (isinstance(dropout, numbers.Real) and 0 <= dropout <= 1):
        raise ArgumentValueError(f"dropout probability has to be between 0 and 1, but got {dropout}")
    return 0.0 if dropout == 1 else 1 / (1 - dropout)


def check_proj_size(proj_size, hidden_size: int, is_lstm: bool) -> int:
    """LSTM(proj_size=P): an int with 0 <= P < hidden_size (0: no projection); None where it was not given."""
    if proj_size is not None and not is_lstm:
        raise ArgumentValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
    proj_size = 0 if proj_size is None else proj_size
    if not is_int(proj_size):
        raise ArgumentTypeError(f"proj_size should be of type int, got: {type(proj_size).__name__}")
    if proj_size < 0:
        raise ArgumentValueError(f"proj_size should be a positive integer or zero to disable projections, "
                                 f"got {proj_size}")
    if proj_size >= hidden_size:
        raise ArgumentValueError(f"proj_size has to be smaller than hidden_size, got proj_size={proj_size} "
                                 f"and hidden_size={hidden_size}")
    return int(proj_size)

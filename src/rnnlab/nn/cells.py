"""Single-step cells: `RNNCell`, `LSTMCell`, `GRUCell`, one time step per call, as in PyTorch.

A cell is what the layers in `recurrent.py` run inside their time loop, handed to you so that
you write the loop yourself (a decoder feeding back its own output, a teaching example). The
maths is not repeated here: each cell calls the one-step functions of `rnn.py`, `lstm.py` and
`gru.py` (`*_cell_forward` / `*_cell_backward`), the very ones the layers use.

Backward through a loop. Every `forward` (in training mode) pushes what its backward needs on a
stack; every `backward` pops the latest step, adds that step's parameter gradients to `.grad`
(so they accumulate over the steps, as in backpropagation through time) and returns the gradient
for the step's input and for the state it started from, which you pass on to the step before:

    cell = LSTMCell(I, H)
    h, c = h0, c0
    for t in range(T):                                   # forward, keeping one cache per step
        h, c = cell(x[t], (h, c))
        out[t] = h
    d_h, d_c = d_h_T, d_c_T                              # gradient of the final state (or zeros)
    for t in reversed(range(T)):                         # backward, latest step first
        d_x[t], d_h, d_c = cell.backward(d_out[t] + d_h, d_c)
    # now d_h, d_c are the gradients of h0, c0, and cell.weight_ih.grad etc. hold all T steps

In eval mode `forward` keeps nothing (a generation loop of a million steps uses no memory for
it) and `backward` is refused; `clear()` drops kept steps that will not be backpropagated.
"""

from __future__ import annotations

import numpy as np

from rnnlab.checks import positive_int, require
from rnnlab.errors import RnnlabError, invalid_argument
from rnnlab.nn.functional import fused
from rnnlab.nn.gru import gru_cell_backward, gru_cell_forward
from rnnlab.nn.lstm import lstm_cell_backward, lstm_cell_forward
from rnnlab.nn.module import Parameter, StepModule, reserve
from rnnlab.nn.rnn import rnn_cell_backward, rnn_cell_forward


def _check_real(what: str, array: np.ndarray) -> None:
    """Real numbers only (floats, ints, bools are cast to the cell's dtype); strings, complex, objects refused."""
    if not (np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer) or array.dtype == bool):
        raise RnnlabError(f"{what} dtype ({array.dtype}) is not a real number type")


class RNNCellBase(StepModule):
    """The shared machinery: parameters, argument checks, the stack of kept steps. Use a subclass."""

    gate_count = 1  # gates stacked in the weight matrices: 1 (RNN), 4 (LSTM), 3 (GRU)
    state_count = 1  # 2 for the LSTM's (h, c)

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, dtype: type = np.float32,
                 seed: int | np.random.Generator | None = None) -> None:
        super().__init__()
        require("input_size", input_size, positive_int)
        require("hidden_size", hidden_size, positive_int)
        if not isinstance(bias, bool):  # PyTorch's recurrent layers refuse bias=0 or "True" the same way
            raise TypeError(f"bias should be of type bool, got: {type(bias).__name__}")
        if np.dtype(dtype) not in (np.float32, np.float64):
            raise invalid_argument("dtype", "float32 or float64", dtype)
        self.input_size, self.hidden_size, self.bias, self.dtype = input_size, hidden_size, bias, np.dtype(dtype)
        self.generator = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        bound = 1 / np.sqrt(hidden_size)  # PyTorch's U(-1/sqrt(H), 1/sqrt(H)) for every parameter
        rows = self.gate_count * hidden_size
        shapes = {"weight_ih": (rows, input_size), "weight_hh": (rows, hidden_size)}
        if bias:
            shapes |= {"bias_ih": (rows,), "bias_hh": (rows,)}
        for name, shape in shapes.items():
            values = self.generator.uniform(-bound, bound, size=reserve(shape)).astype(self.dtype)
            setattr(self, name, Parameter(values))

    def _biases(self) -> tuple[np.ndarray | None, np.ndarray | None]:
        return (self.bias_ih.data, self.bias_hh.data) if self.bias else (None, None)

    def _check_input(self, x) -> tuple[np.ndarray, bool]:
        """x (B, I) or unbatched (I,) -> (B, I) in the cell's dtype, and whether it was unbatched."""
        x = np.asarray(x)
        _check_real(f"{type(self).__name__} input", x)
        if x.ndim not in (1, 2):
            raise RnnlabError(f"{type(self).__name__}: Expected input to be 1D or 2D, got {x.ndim}D instead")
        if x.shape[-1] != self.input_size:
            raise RnnlabError(f"input has inconsistent input_size: got {x.shape[-1]} expected {self.input_size}")
        unbatched = x.ndim == 1
        return np.array(x[None] if unbatched else x, dtype=self.dtype, order="C"), unbatched  # a copy: kept

    def _check_states(self, hx, batch: int, unbatched: bool) -> list[np.ndarray]:
        """hx: None, a state, or for the LSTM a pair -> the states as (B, H) arrays (zeros for None)."""
        name = type(self).__name__
        if hx is None:
            return [np.zeros((batch, self.hidden_size), self.dtype) for _ in range(self.state_count)]
        if self.state_count == 2 and not (isinstance(hx, tuple | list) and len(hx) == 2):
            raise RnnlabError(f"{name}: hx must be a pair (h_0, c_0), got {type(hx).__name__}")
        states = []
        for k, state in enumerate(hx if self.state_count == 2 else (hx,)):
            state = np.asarray(state)
            what = f"hx[{k}]" if self.state_count == 2 else "hidden"
            _check_real(f"{name} {what}", state)
            if state.ndim not in (1, 2):
                raise RnnlabError(f"{name}: Expected {what} to be 1D or 2D, got {state.ndim}D instead")
            if state.ndim != (1 if unbatched else 2):
                shape = f"({self.hidden_size},)" if unbatched else f"(B, {self.hidden_size})"
                raise RnnlabError(f"{name}: {what} must have shape {shape} for input of {2 - unbatched}D, "
                                  f"got {state.shape}")
            state = state[None] if unbatched else state
            if state.shape[0] != batch:
                raise RnnlabError(f"Input batch size {batch} doesn't match hidden{k} batch size {state.shape[0]}")
            if state.shape[1] != self.hidden_size:
                raise RnnlabError(f"hidden{k} has inconsistent hidden_size: got {state.shape[1]}, "
                                  f"expected {self.hidden_size}")
            states.append(np.array(state, dtype=self.dtype, order="C"))  # a copy: the step keeps it
        return states

    def _gradients(self, d_states, batch: int, unbatched: bool) -> list[np.ndarray]:
        """d_h (and d_c), shaped like the step's outputs, or None for zero -> (B, H) arrays."""
        shape = (batch, self.hidden_size)
        result = []
        for d in d_states:
            d = np.zeros(shape[unbatched:], self.dtype) if d is None else np.asarray(d, dtype=self.dtype)
            if d.shape != shape[unbatched:]:  # as the step's output: (B, H), or (H,) for unbatched input
                raise RnnlabError(f"{type(self).__name__}.backward: gradient must have shape {shape[unbatched:]}, "
                                  f"got {d.shape}")
            result.append(np.ascontiguousarray(d.reshape(shape)))
        return result

    def _pop(self, d_states) -> tuple[tuple, list[np.ndarray]]:
        """The latest kept step, taken off the stack once the gradients (checked against it) are fine."""
        step = self._latest()  # (x (B, I), ..., unbatched)
        gradients = self._gradients(d_states, len(step[0]), step[-1])
        self._drop()
        return step, gradients

    def _input_side(self, d_proj: np.ndarray, x: np.ndarray) -> np.ndarray:
        """Gradients through the input projection x @ W_ih^T + b_ih: adds to W_ih (and b_ih); returns d x."""
        self.weight_ih.grad += d_proj.T @ x  # (G*H, I)
        if self.bias:
            self.bias_ih.grad += d_proj.sum(axis=0)
        return d_proj @ self.weight_ih.data  # (B, I)

    @staticmethod
    def _shaped(arrays, unbatched: bool):
        """Drop the batch axis again for unbatched input."""
        return tuple(a[0] for a in arrays) if unbatched else tuple(arrays)

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}, bias={self.bias}, dtype={self.dtype.name}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.extra_repr()})"


class RNNCell(RNNCellBase):
    """One step of an Elman RNN: h' = tanh(W_ih x + b_ih + W_hh h + b_hh), or relu.

    >>> cell = RNNCell(10, 20, seed=0)
    >>> cell(np.zeros((3, 10), np.float32)).shape
    (3, 20)
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, nonlinearity: str = "tanh",
                 **kwargs) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise invalid_argument("nonlinearity", "'tanh' or 'relu'", nonlinearity)
        self.nonlinearity = nonlinearity
        super().__init__(input_size, hidden_size, bias, **kwargs)

    def forward(self, x: np.ndarray, hx: np.ndarray | None = None) -> np.ndarray:
        """x: (B, I) or unbatched (I,); hx: (B, H) or (H,), zeros when None. Returns h' (B, H) or (H,)."""
        x, unbatched = self._check_input(x)
        (h_prev,) = self._check_states(hx, len(x), unbatched)
        b_ih, b_hh = self._biases()
        pre = x @ self.weight_ih.data.T  # (B, H) W_ih x + b_ih + b_hh
        if self.bias:
            pre += b_ih + b_hh
        h = np.empty_like(h_prev)
        rnn_cell_forward(pre, h_prev @ self.weight_hh.data.T, h_prev, h, self.nonlinearity == "relu", None)
        if self.training:
            self._keep((x, h_prev, h.copy(), unbatched))  # h is handed out: keep our own
        return h[0] if unbatched else h

    def backward(self, d_h: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Backpropagate the latest kept step. d_h: gradient of its h' ((B, H) or (H,)).

        Adds to every `.grad`; returns (d_x, d_hx), d_hx being the gradient of the state it started from.
        """
        (x, h_prev, h, unbatched), (d_h,) = self._pop((d_h,))
        slope = (h > 0).astype(self.dtype) if self.nonlinearity == "relu" else 1 - h * h  # the derivative
        d_pre = np.empty_like(h)  # (B, H) gradient of the pre-activation
        rnn_cell_backward(d_h, np.zeros_like(h), slope, d_pre, None)
        self.weight_hh.grad += d_pre.T @ h_prev  # (H, H)
        if self.bias:
            self.bias_hh.grad += d_pre.sum(axis=0)
        return self._shaped((self._input_side(d_pre, x), d_pre @ self.weight_hh.data), unbatched)

    def extra_repr(self) -> str:
        return super().extra_repr() + f", nonlinearity={self.nonlinearity!r}"


class LSTMCell(RNNCellBase):
    """One LSTM step; gates (i, f, g, o) as in `torch.nn.LSTMCell`. Returns (h', c').

    >>> cell = LSTMCell(10, 20, seed=0)
    >>> h, c = cell(np.zeros(10, np.float32))  # unbatched
    >>> h.shape, c.shape
    ((20,), (20,))
    """

    gate_count, state_count = 4, 2

    def forward(self, x: np.ndarray, hx=None) -> tuple[np.ndarray, np.ndarray]:
        """x: (B, I) or (I,); hx: a pair (h, c) of (B, H) or (H,), zeros when None. Returns (h', c')."""
        x, unbatched = self._check_input(x)
        h_prev, c_prev = self._check_states(hx, len(x), unbatched)
        b_ih, b_hh = self._biases()
        gates = x @ self.weight_ih.data.T  # (B, 4H) W_ih x + b_ih + b_hh, overwritten with i, f, g, o
        if self.bias:
            gates += b_ih + b_hh
        h, c, tanh_c = np.empty_like(h_prev), np.empty_like(h_prev), np.empty_like(h_prev)
        fused(lstm_cell_forward, self.dtype)(gates, h_prev @ self.weight_hh.data.T, h_prev, c_prev, h, c, tanh_c,
                                             None)
        if self.training:
            self._keep((x, h_prev, c_prev, gates, tanh_c, unbatched))
        return self._shaped((h, c), unbatched)

    def backward(self, d_h: np.ndarray, d_c: np.ndarray | None = None):
        """Backpropagate the latest kept step. d_h, d_c: gradients of its h' and c' (None: zero).

        Adds to every `.grad`; returns (d_x, d_h0, d_c0), the last two for the state it started from.
        """
        (x, h_prev, c_prev, acts, tanh_c, unbatched), (d_h, dc) = self._pop((d_h, d_c))
        dc = dc.copy()  # d c' in, d c_prev out
        d_gates = np.empty_like(acts)  # (B, 4H) gradient of the gate pre-activations
        fused(lstm_cell_backward, self.dtype)(d_h, np.zeros_like(d_h), dc, acts, tanh_c, c_prev, d_gates, None)
        self.weight_hh.grad += d_gates.T @ h_prev  # (4H, H)
        if self.bias:
            self.bias_hh.grad += d_gates.sum(axis=0)
        return self._shaped((self._input_side(d_gates, x), d_gates @ self.weight_hh.data, dc), unbatched)


class GRUCell(RNNCellBase):
    """One GRU step; gates (r, z, n) as in `torch.nn.GRUCell`.

    >>> cell = GRUCell(10, 20, seed=0)
    >>> cell(np.zeros((3, 10), np.float32), np.zeros((3, 20), np.float32)).shape
    (3, 20)
    """

    gate_count = 3

    def forward(self, x: np.ndarray, hx: np.ndarray | None = None) -> np.ndarray:
        """x: (B, I) or unbatched (I,); hx: (B, H) or (H,), zeros when None. Returns h' (B, H) or (H,)."""
        x, unbatched = self._check_input(x)
        (h_prev,) = self._check_states(hx, len(x), unbatched)
        b_ih, b_hh = self._biases()
        H = self.hidden_size
        gates = x @ self.weight_ih.data.T  # (B, 3H) W_ih x + b_ih, plus b_hr, b_hz; overwritten with r, z, n
        b_hn = None
        if self.bias:
            gates += b_ih
            gates[:, : 2 * H] += b_hh[: 2 * H]
            b_hn = b_hh[2 * H :]  # inside r * (W_hn h + b_hn)
        h, hn = np.empty_like(h_prev), np.empty_like(h_prev)
        fused(gru_cell_forward, self.dtype)(gates, h_prev @ self.weight_hh.data.T, b_hn, h_prev, h, hn, None)
        if self.training:
            self._keep((x, h_prev, gates, hn, unbatched))
        return h[0] if unbatched else h

    def backward(self, d_h: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Backpropagate the latest kept step. d_h: gradient of its h' ((B, H) or (H,)).

        Adds to every `.grad`; returns (d_x, d_hx), d_hx being the gradient of the state it started from.
        """
        (x, h_prev, acts, hn, unbatched), (d_h,) = self._pop((d_h,))
        dh = np.zeros_like(d_h)  # on return: z * d_h, the direct path to h_prev
        d_x, d_rec = np.empty_like(acts), np.empty_like(acts)  # (B, 3H) of W_ih x + b_ih and W_hh h + b_hh
        fused(gru_cell_backward, self.dtype)(d_h, dh, acts, hn, h_prev, d_x, d_rec, None)
        self.weight_hh.grad += d_rec.T @ h_prev  # (3H, H)
        if self.bias:
            self.bias_hh.grad += d_rec.sum(axis=0)
        return self._shaped((self._input_side(d_x, x), dh + d_rec @ self.weight_hh.data), unbatched)

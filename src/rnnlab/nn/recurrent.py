"""Recurrent layers: cells stacked over depth and run in one or two directions.

`RNN`, `LSTM` and `GRU` take PyTorch's constructor arguments, return PyTorch's shapes
and name their parameters as PyTorch does, so `torch.nn.LSTM(...).state_dict()` (as
NumPy arrays) loads unchanged and back. The maths of each cell lives in `rnn.py`,
`lstm.py` and `gru.py`, and how layers and directions run, one after another or at the
same time, in `stack.py`; this module holds the parameters and checks the inputs.
"""

from __future__ import annotations

import operator

import numpy as np

from rnnlab.errors import RnnlabError, invalid_argument
from rnnlab.nn import stack
from rnnlab.nn.functional import Workspace
from rnnlab.nn.gru import gru_backward, gru_forward
from rnnlab.nn.lstm import lstm_backward, lstm_forward, lstm_proj_backward, lstm_proj_forward
from rnnlab.nn.module import Module, Parameter, reserve
from rnnlab.nn.rnn import rnn_backward, rnn_forward
from rnnlab.nn.utils.checks import check_constructor, check_input, check_proj_size
from rnnlab.nn.utils.layer_io import EmptyBatch, check_hx, empty_forward, packed_backward, packed_forward
from rnnlab.nn.utils.rnn import PackedSequence


class RNNBase(Module):
    """The shared layer machinery; use `RNN`, `LSTM` or `GRU`."""

    gate_count = 1  # gates stacked in the weight matrices: 1 (RNN), 4 (LSTM), 3 (GRU)
    record_input_grads = False  # True: `backward` sets `input_grad_norms`, ||dLoss/dx_t|| per time step, (T,)

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        dtype: type = np.float32,
        seed: int | np.random.Generator | None = None,
        *,
        proj_size: int | None = None,  # LSTM only
    ) -> None:
        super().__init__()
        check_constructor(input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional)
        # LSTM(proj_size=P): h (and each direction's output) of size P, projected by weight_hr_l{k} (P, H)
        self.proj_size = check_proj_size(proj_size, hidden_size, self.gate_count == 4)
        if np.dtype(dtype) not in (np.float32, np.float64):
            raise invalid_argument("dtype", "float32 or float64", dtype)
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bias, self.batch_first, self.dropout, self.bidirectional = bias, batch_first, float(dropout), bidirectional
        self.dtype = np.dtype(dtype)
        self.num_directions = 2 if bidirectional else 1
        self.generator = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        self._cache = None
        self._packed = None  # after a forward given a PackedSequence: that input, to pack d_x like it
        # one Workspace per layer and direction: each step reuses the previous step's arrays
        self._workspaces = [Workspace() for _ in range(num_layers * self.num_directions)]
        bound = 1 / np.sqrt(hidden_size)  # PyTorch's U(-1/sqrt(H), 1/sqrt(H)) for every parameter
        rows, S = self.gate_count * hidden_size, self._state_size()
        self._weight_getters = []  # per layer and direction: gets (W_ih, W_hh[, b_ih, b_hh]) in one call
        for layer in range(num_layers):
            layer_input = input_size if layer == 0 else S * self.num_directions
            for suffix in ["", "_reverse"][: self.num_directions]:
                shapes = {"weight_ih": (rows, layer_input), "weight_hh": (rows, S)}
                if bias:
                    shapes |= {"bias_ih": (rows,), "bias_hh": (rows,)}
                getter = operator.attrgetter(*(f"{name}_l{layer}{suffix}" for name in shapes))
                if self.proj_size:
                    shapes["weight_hr"] = (self.proj_size, hidden_size)  # last, as in PyTorch's state_dict
                for name, shape in shapes.items():
                    values = self.generator.uniform(-bound, bound, size=reserve(shape)).astype(self.dtype)
                    setattr(self, f"{name}_l{layer}{suffix}", Parameter(values))
                self._weight_getters.append(getter)

    def _weights(self, layer: int, direction: int) -> tuple[Parameter, ...]:
        return self._weight_getters[layer * self.num_directions + direction](self)

    def _projection(self, layer: int, direction: int) -> Parameter | None:
        """weight_hr_l{layer}[_reverse] (P, H) of an LSTM with proj_size, else None."""
        return getattr(self, f"weight_hr_l{layer}{'_reverse' if direction else ''}") if self.proj_size else None

    def _state_size(self) -> int:
        """The size of h (and of each direction's output): proj_size when projected, else hidden_size."""
        return self.proj_size or self.hidden_size

    # Each subclass runs its cell: (x_proj, h0, c0, W_hh, b_hh, mask, reverse, ws, relay) -> (h states, c states,
    # cache) and backward: (d_out, d_h_n, d_c_n, cache, ws, relay) -> (d_x_proj, d_h0, d_c0, d_W_hh, d_b_hh or None).
    # LSTM with proj_size also takes W_hr=(P, H) forward and returns d_W_hr last backward.
    def _cell_forward(self, x_proj, h0, c0, W_hh, b_hh, mask, reverse, ws, relay):
        raise NotImplementedError

    def _cell_backward(self, d_out, d_h_n, d_c_n, cache, ws, relay):
        raise NotImplementedError

    def _to_time_major(self, x: np.ndarray, mask: np.ndarray | None):
        x = np.asarray(x)
        check_input(type(self).__name__, x, self.input_size, self.dtype, self.batch_first)  # PyTorch's checks
        unbatched = x.ndim == 2
        if unbatched:
            x = x[:, None, :]
        elif self.batch_first:
            x = x.transpose(1, 0, 2)
        return np.ascontiguousarray(x, dtype=self.dtype), self._time_major_mask(mask, x.shape[:2], unbatched), unbatched

    def _time_major_mask(self, mask: np.ndarray | None, shape: tuple[int, int], unbatched: bool):
        """mask as given ((T, B), (B, T) with batch_first, or (T,) unbatched) -> (T, B, 1) bool, or None."""
        if mask is None:
            return None
        mask = np.asarray(mask)
        mask = mask[:, None] if unbatched else mask.T if self.batch_first else mask
        if mask.shape != shape:
            raise RnnlabError(f"mask must have shape {shape}, got {mask.shape}")
        return mask.astype(bool)[:, :, None]

    def _initial_state(self, state, batch: int, unbatched: bool, size: int) -> np.ndarray:
        shape = (self.num_layers * self.num_directions, batch, size)
        if state is None:
            return np.zeros(shape, self.dtype)
        state = np.asarray(state, dtype=self.dtype)
        if unbatched:
            state = state[:, None, :]
        if state.shape != shape:
            expected = shape[::2] if unbatched else shape
            raise RnnlabError(f"initial state must have shape {expected}, got {state.shape}")
        return state

    def forward(self, x: np.ndarray, hx=None, mask: np.ndarray | None = None):
        """Run the layer over a sequence and keep what `backward` needs.

        x: (T, B, I), (B, T, I) with batch_first, or unbatched (T, I).
        hx: initial state (D*num_layers, B, H), or for LSTM a pair (h_0, c_0); zeros when None.
        mask: (T, B) booleans ((B, T) with batch_first), True at real steps. At padded steps the
            state is carried over unchanged and the output is zero, which is what PyTorch's packed
            sequences give, for padding on either side.
        Returns output (T, B, D*H) (batch-first or unbatched like x) and h_n (D*num_layers, B, H),
        or for LSTM (h_n, c_n).
        x may be a PackedSequence (`rnnlab.nn.utils.rnn`, data (N, I)), as in PyTorch: the output is
        then packed like it, h_n (c_n) and hx in the batch's original order (see `backward`).
        """
        self._packed = None
        if isinstance(x, PackedSequence):
            return packed_forward(self, x, hx, mask)
        x_shape = np.shape(x)
        x, mask, unbatched = self._to_time_major(x, mask)
        check_hx(self, hx, x.shape[1], unbatched)
        if x.shape[1] == 0:  # a batch of size 0: empty outputs, as PyTorch gives
            return empty_forward(self, x_shape, hx)
        return self._run(x, None, hx, mask, unbatched)

    def forward_ids(self, ids: np.ndarray, table: np.ndarray, hx=None, mask: np.ndarray | None = None):
        """`forward(table[ids], hx, mask)`, faster when the table has fewer rows than ids has entries.

        ids: (T, B) ints ((B, T) with batch_first, or unbatched (T,)); table: (V, input_size), the
        rows the inputs are looked up from (an embedding's weight, or the identity for one-hot
        inputs). The first layer's input projections are then rows of table @ W_ih^T + b_ih, (V, G*H),
        computed once per table row and looked up for every step, instead of one product row per
        step; its backward sums the gradient per id likewise. `backward` then returns d table
        (V, input_size) where it would return d x.
        """
        ids, table = np.asarray(ids), np.asarray(table, dtype=self.dtype)
        if table.ndim != 2 or table.shape[1] != self.input_size:
            raise RnnlabError(f"table must have shape (V, {self.input_size}), got {table.shape}")
        if ids.ndim not in (1, 2) or not np.issubdtype(ids.dtype, np.integer):
            raise RnnlabError(f"ids must be integers of shape (T, B) or (T,), got {ids.dtype} {ids.shape}")
        if ids.size and (ids.min() < 0 or ids.max() >= len(table)):
            raise RnnlabError(f"ids must lie in [0, {len(table)}), got {ids.min()}..{ids.max()}")
        unbatched = ids.ndim == 1
        ids = ids[:, None] if unbatched else ids.T if self.batch_first else ids
        return self._run(ids, table, hx, self._time_major_mask(mask, ids.shape, unbatched), unbatched)

    def _run(self, x, table, hx, mask, unbatched):
        """The layer loop (`stack.forward`) for `forward` (x (T, B, I)) and `forward_ids` (ids (T, B), table (V, I))."""
        is_lstm = self.gate_count == 4
        h0_given, c0_given = (hx if is_lstm and hx is not None else (hx, None))
        h0 = self._initial_state(h0_given, x.shape[1], unbatched, self._state_size())
        c0 = self._initial_state(c0_given, x.shape[1], unbatched, self.hidden_size) if is_lstm else None
        output, h_n, c_n, cache = stack.forward(self, x, table, h0, c0, mask)
        self._cache = (cache, hx is not None, unbatched)
        if unbatched:
            output, h_n = output[:, 0], h_n[:, 0]
            c_n = c_n[:, 0] if is_lstm else None
        elif self.batch_first:
            output = output.transpose(1, 0, 2)
        return (output, (h_n, c_n)) if is_lstm else (output, h_n)

    def backward(self, d_output: np.ndarray, d_h_n: np.ndarray | None = None, d_c_n: np.ndarray | None = None,
                 input_grad: bool = True):
        """Backpropagate through the last `forward` (or `forward_ids`); parameter gradients are added to `.grad`.

        d_output: shaped like the output; d_h_n, d_c_n: shaped like h_n, c_n, or None for zero.
        Returns d_x shaped like x (after `forward_ids`: d table, (V, input_size)), or (d_x, d_hx)
        when forward was given hx; for LSTM d_hx is (d_h_0, d_c_0).
        input_grad=False: d_x is not computed and None stands in its place, for an input nothing learns
        from (one-hot characters, measured values): one product of the input's size less, as PyTorch
        skips it for an input that does not require grad.
        After a forward on a PackedSequence, d_output is a PackedSequence packed like the output (or
        its .data, (N, D*H)) and d_x comes back as a PackedSequence packed like the input.
        """
        if self._cache is None:
            raise RnnlabError("backward() called before forward()")
        if self._packed is not None:
            return packed_backward(self, d_output, d_h_n, d_c_n, input_grad)
        if isinstance(self._cache, EmptyBatch):
            return self._cache.backward(input_grad)
        cache, hx_given, unbatched = self._cache
        is_lstm = self.gate_count == 4
        d_output = np.asarray(d_output, dtype=self.dtype)
        if unbatched:
            d_output = d_output[:, None]
            d_h_n = None if d_h_n is None else np.asarray(d_h_n)[:, None]
            d_c_n = None if d_c_n is None else np.asarray(d_c_n)[:, None]
        elif self.batch_first:
            d_output = d_output.transpose(1, 0, 2)
        d_x, d_h0, d_c0, per_step = stack.backward(self, cache, d_output, d_h_n, d_c_n,
                                                   input_grad or self.record_input_grads)
        by_table = cache[1] is not None  # after forward_ids (a table): d_x is d table
        if self.record_input_grads:  # ||dLoss/dx_t|| per time step, over batch and features: (T,)
            steps = per_step.reshape(len(d_output), -1) if by_table else d_x  # time-major here
            self.input_grad_norms = np.sqrt(np.square(steps, dtype=np.float64).reshape(len(steps), -1).sum(axis=1))
        if not input_grad:
            d_x = None
        elif not by_table and unbatched:
            d_x = d_x[:, 0]
        elif not by_table and self.batch_first:
            d_x = d_x.transpose(1, 0, 2)
        if unbatched:
            d_h0 = d_h0[:, 0]
            d_c0 = d_c0[:, 0] if is_lstm else None
        if not hx_given:
            return d_x
        return (d_x, (d_h0, d_c0)) if is_lstm else (d_x, d_h0)

    def extra_repr(self) -> str:
        return (
            f"{self.input_size}, {self.hidden_size}, num_layers={self.num_layers}, bias={self.bias}, "
            f"batch_first={self.batch_first}, dropout={self.dropout}, bidirectional={self.bidirectional}, "
            f"dtype={self.dtype.name}"
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.extra_repr()})"


class RNN(RNNBase):
    """Elman RNN: h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh), or relu.

    >>> rnn = RNN(10, 20, num_layers=2, seed=0)
    >>> output, h_n = rnn(np.zeros((5, 3, 10), np.float32))
    >>> output.shape, h_n.shape
    ((5, 3, 20), (2, 3, 20))
    """

    gate_count = 1

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, nonlinearity: str = "tanh", **kwargs):
        if nonlinearity not in ("tanh", "relu"):
            raise invalid_argument("nonlinearity", "'tanh' or 'relu'", nonlinearity)
        self.nonlinearity = nonlinearity
        super().__init__(input_size, hidden_size, num_layers, **kwargs)

    def _cell_forward(self, x_proj, h0, c0, W_hh, b_hh, mask, reverse, ws, relay):
        h, cache = rnn_forward(x_proj, h0, W_hh, b_hh, self.nonlinearity, mask, reverse, ws, relay)
        return h, None, cache

    def _cell_backward(self, d_out, d_h_n, d_c_n, cache, ws, relay):
        d_x_proj, d_h0, d_W_hh, d_b_hh = rnn_backward(d_out, d_h_n, cache, ws, relay)
        return d_x_proj, d_h0, None, d_W_hh, d_b_hh

    def extra_repr(self) -> str:
        return super().extra_repr() + f", nonlinearity={self.nonlinearity!r}"


class LSTM(RNNBase):
    """Long short-term memory; gates (i, f, g, o) as in `torch.nn.LSTM`.

    >>> lstm = LSTM(10, 20, batch_first=True, bidirectional=True, seed=0)
    >>> output, (h_n, c_n) = lstm(np.zeros((3, 5, 10), np.float32))
    >>> output.shape, h_n.shape, c_n.shape
    ((3, 5, 40), (2, 3, 20), (2, 3, 20))

    With proj_size=P, h_t = W_hr (o * tanh(c_t)) has size P (weight_hr_l{k} (P, H)); c stays H:

    >>> output, (h_n, c_n) = LSTM(10, 20, proj_size=5, seed=0)(np.zeros((7, 3, 10), np.float32))
    >>> output.shape, h_n.shape, c_n.shape
    ((7, 3, 5), (1, 3, 5), (1, 3, 20))
    """

    gate_count = 4

    def _cell_forward(self, x_proj, h0, c0, W_hh, b_hh, mask, reverse, ws, relay, W_hr=None):
        if W_hr is not None:
            return lstm_proj_forward(x_proj, h0, c0, W_hh, b_hh, W_hr, mask, reverse, ws, relay)
        return lstm_forward(x_proj, h0, c0, W_hh, b_hh, mask, reverse, ws, relay)

    def _cell_backward(self, d_out, d_h_n, d_c_n, cache, ws, relay):
        if self.proj_size:  # returns d_W_hr as well
            return lstm_proj_backward(d_out, d_h_n, d_c_n, cache, ws, relay)
        return lstm_backward(d_out, d_h_n, d_c_n, cache, ws, relay)

    def extra_repr(self) -> str:
        return super().extra_repr() + (f", proj_size={self.proj_size}" if self.proj_size else "")


class GRU(RNNBase):
    """Gated recurrent unit; gates (r, z, n) as in `torch.nn.GRU`.

    >>> gru = GRU(10, 20, seed=0)
    >>> output, h_n = gru(np.zeros((7, 10), np.float32))  # unbatched
    >>> output.shape, h_n.shape
    ((7, 20), (1, 20))
    """

    gate_count = 3

    def _cell_forward(self, x_proj, h0, c0, W_hh, b_hh, mask, reverse, ws, relay):
        h, cache = gru_forward(x_proj, h0, W_hh, b_hh, mask, reverse, ws, relay)
        return h, None, cache

    def _cell_backward(self, d_out, d_h_n, d_c_n, cache, ws, relay):
        d_x_proj, d_h0, d_W_hh, d_b_hh = gru_backward(d_out, d_h_n, cache, ws, relay)
        return d_x_proj, d_h0, None, d_W_hh, d_b_hh

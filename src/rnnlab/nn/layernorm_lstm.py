"""The layer-normalised LSTM (Ba, Kiros & Hinton 2016, "Layer Normalization", section 3.1),
forward and backward side by side.

    LN(a; gain, bias) = gain * (a - mean(a)) / sqrt(var(a) + eps) + bias     over the last axis of one sample
    (i, f, g, o) = LN(W_ih x_t; ln_ih) + LN(W_hh h_{t-1}; ln_hh) + b_ih + b_hh   each (B, 4H), one LN over 4H
    i = sigmoid(i), f = sigmoid(f), g = tanh(g), o = sigmoid(o)
    c_t = f * c_{t-1} + i * g
    h_t = o * tanh(LN(c_t; ln_c))                                            LN over H

Each LN has its own gain and bias (`ln_ih_weight`, `ln_ih_bias`, ...; gains start at 1, biases at 0).
The statistics are those of one sample at one step, so the layer computes the same thing for a
batch of 1 as for a batch of 1000, in training and at inference, for any sequence length: no
running averages, nothing shared across time steps or across the batch (which is what batch
normalisation would need).

Gates are stacked in PyTorch's order (i, f, g, o), and `weight_ih_l0` (4H, I), `weight_hh_l0` (4H, H),
`bias_ih_l0`, `bias_hh_l0` (4H,) are named, shaped and initialised as in `torch.nn.LSTM`
(U(-1/sqrt(H), 1/sqrt(H))), so an LSTM's weights load unchanged. The paper has a single bias b
after the two LNs; here b = b_ih + b_hh, and the LN biases add to it: the sums are what matter.

`layer_norm_forward` / `layer_norm_backward` normalise; `ln_lstm_cell_forward` / `ln_lstm_cell_backward`
are one time step; `LayerNormLSTM` runs them over a sequence (single layer, single direction, no masks).
All of it is plain NumPy.
"""

from __future__ import annotations

import numpy as np

from rnnlab.checks import positive_int, require
from rnnlab.errors import RnnlabError, invalid_argument
from rnnlab.nn.functional import recurrent_weight
from rnnlab.nn.module import Module, Parameter, reserve

EPS = 1e-5  # as torch.nn.LayerNorm


def sigmoid(a: np.ndarray) -> np.ndarray:
    return 0.5 * (1 + np.tanh(0.5 * a))  # the same as 1 / (1 + exp(-a)), without overflow


def layer_norm_forward(a, gain, bias):
    """a: (..., N) normalised over N; gain, bias: (N,). Returns y (..., N) and the cache (a_hat, rstd)."""
    mean = a.mean(axis=-1, keepdims=True)  # (..., 1)
    rstd = 1 / np.sqrt(a.var(axis=-1, keepdims=True) + EPS)  # (..., 1)
    a_hat = (a - mean) * rstd  # (..., N), zero mean and unit variance per sample
    return a_hat * gain + bias, (a_hat, rstd)


def layer_norm_backward(d_y, cache, gain):
    """d_y: (..., N). Returns d_a (..., N), d_gain (N,) and d_bias (N,), summed over the leading axes.

    With a_hat = (a - mean) * rstd, d a = rstd * (d a_hat - mean(d a_hat) - a_hat * mean(d a_hat * a_hat)):
    the two means are the gradient through the sample's own mean and variance.
    """
    a_hat, rstd = cache
    d_a_hat = d_y * gain  # (..., N)
    lead = tuple(range(d_y.ndim - 1))
    d_gain, d_bias = (d_y * a_hat).sum(axis=lead), d_y.sum(axis=lead)
    d_a = rstd * (d_a_hat - d_a_hat.mean(axis=-1, keepdims=True)
                  - a_hat * (d_a_hat * a_hat).mean(axis=-1, keepdims=True))
    return d_a, d_gain, d_bias


def ln_lstm_cell_forward(z_x, h_prev, c_prev, W_hhT, bias, ln_hh, ln_c):
    """One time step for a batch.

    z_x: (B, 4H) LN(W_ih x_t), already normalised (all steps at once, by the layer). h_prev, c_prev: (B, H).
    W_hhT: (H, 4H) W_hh^T; bias: (4H,) b_ih + b_hh; ln_hh, ln_c: (gain, bias) pairs. Returns h, c (B, H) and the cache.
    """
    H = h_prev.shape[1]
    z_h, hh_cache = layer_norm_forward(h_prev @ W_hhT, *ln_hh)  # (B, 4H)
    pre = z_x + z_h + bias  # (B, 4H) gate pre-activations
    i, f, g, o = sigmoid(pre[:, :H]), sigmoid(pre[:, H:2 * H]), np.tanh(pre[:, 2 * H:3 * H]), sigmoid(pre[:, 3 * H:])
    c = f * c_prev + i * g  # (B, H)
    n, c_cache = layer_norm_forward(c, *ln_c)  # (B, H)
    tanh_n = np.tanh(n)
    h = o * tanh_n
    return h, c, (h_prev, c_prev, i, f, g, o, tanh_n, hh_cache, c_cache)


def ln_lstm_cell_backward(dh, dc, cache, W_hh, ln_hh_gain, ln_c_gain, grads):
    """One time step back, for `ln_lstm_cell_forward`.

    dh: (B, H) total gradient of h_t (this step's output and step t+1's); dc: (B, H) gradient of c_t from
    step t+1. grads: dict of the LN gains' and biases' gradients to add to ("ln_hh_weight", ... "ln_c_bias").
    Returns d_pre (B, 4H) (the gradient of the gate pre-activations, which is also that of LN(W_ih x_t)
    and of b), d_a_h (B, 4H) (that of W_hh h_prev; the layer makes d W_hh from all steps in one product),
    dh_prev and dc_prev (B, H).
    """
    h_prev, c_prev, i, f, g, o, tanh_n, hh_cache, c_cache = cache
    d_o = dh * tanh_n * o * (1 - o)  # h = o tanh(n): to o (sigmoid' = s (1 - s)) ...
    d_n = dh * o * (1 - tanh_n * tanh_n)  # ... and to n = LN(c)
    d_c, d_gain, d_bias = layer_norm_backward(d_n, c_cache, ln_c_gain)
    grads["ln_c_weight"] += d_gain
    grads["ln_c_bias"] += d_bias
    d_c += dc  # c_t feeds h_t and c_{t+1}
    d_i = d_c * g * i * (1 - i)  # c = f c_prev + i g
    d_f = d_c * c_prev * f * (1 - f)
    d_g = d_c * i * (1 - g * g)  # tanh' = 1 - tanh^2
    d_pre = np.concatenate([d_i, d_f, d_g, d_o], axis=1)  # (B, 4H)
    d_a_h, d_gain, d_bias = layer_norm_backward(d_pre, hh_cache, ln_hh_gain)  # (B, 4H) to W_hh h_prev
    grads["ln_hh_weight"] += d_gain
    grads["ln_hh_bias"] += d_bias
    return d_pre, d_a_h, d_a_h @ W_hh, d_c * f


class LayerNormLSTM(Module):
    """A single-layer, single-direction LSTM with layer normalisation inside the cell (see the module docstring).

    >>> layer = LayerNormLSTM(3, 4, seed=0)
    >>> output, (h_n, c_n) = layer(np.ones((5, 2, 3), np.float32))
    >>> output.shape, h_n.shape, c_n.shape
    ((5, 2, 4), (1, 2, 4), (1, 2, 4))
    >>> layer.backward(np.ones_like(output)).shape
    (5, 2, 3)
    """

    gate_count = 4

    def __init__(self, input_size: int, hidden_size: int, batch_first: bool = False,
                 seed: int | np.random.Generator | None = None, dtype: type = np.float32) -> None:
        super().__init__()
        require("input_size", input_size, positive_int)
        require("hidden_size", hidden_size, positive_int)
        if np.dtype(dtype) not in (np.float32, np.float64):
            raise invalid_argument("dtype", "float32 or float64", dtype)
        self.input_size, self.hidden_size, self.batch_first = input_size, hidden_size, batch_first
        self.dtype = np.dtype(dtype)
        rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        bound, G = 1 / np.sqrt(hidden_size), 4 * hidden_size
        for name, shape in (("weight_ih_l0", (G, input_size)), ("weight_hh_l0", (G, hidden_size)),
                            ("bias_ih_l0", (G,)), ("bias_hh_l0", (G,))):
            setattr(self, name, Parameter(rng.uniform(-bound, bound, reserve(shape)).astype(self.dtype)))
        for name, size in (("ln_ih", G), ("ln_hh", G), ("ln_c", hidden_size)):
            setattr(self, f"{name}_weight", Parameter(np.ones(reserve((size,)), self.dtype)))
            setattr(self, f"{name}_bias", Parameter(np.zeros(reserve((size,)), self.dtype)))
        self._cache = None

    def forward(self, x: np.ndarray, hx=None):
        """x: (T, B, I), or (B, T, I) with batch_first. hx: (h_0, c_0), each (1, B, H), or None for zeros.

        Returns output (T, B, H) (batch-first like x) and (h_n, c_n), each (1, B, H).
        """
        x = np.asarray(x, dtype=self.dtype)
        if x.ndim != 3 or x.shape[-1] != self.input_size:
            raise RnnlabError(f"LayerNormLSTM expects input of shape (T, B, {self.input_size}) "
                              f"((B, T, {self.input_size}) with batch_first), got {x.shape}")
        if self.batch_first:
            x = x.transpose(1, 0, 2)
        T, B, _ = x.shape
        H = self.hidden_size
        h0, c0 = (np.zeros((1, B, H), self.dtype),) * 2 if hx is None else (np.asarray(s, self.dtype) for s in hx)
        if h0.shape != (1, B, H) or c0.shape != (1, B, H):
            raise RnnlabError(f"initial states must have shape {(1, B, H)}, got {h0.shape} and {c0.shape}")
        # the input half of every step's pre-activation, normalised per sample and step: one product, one LN
        z_x, ih_cache = layer_norm_forward(x @ self.weight_ih_l0.data.T, self.ln_ih_weight.data,
                                           self.ln_ih_bias.data)  # (T, B, 4H)
        bias = self.bias_ih_l0.data + self.bias_hh_l0.data  # (4H,) the paper's b
        ln_hh = (self.ln_hh_weight.data, self.ln_hh_bias.data)
        ln_c = (self.ln_c_weight.data, self.ln_c_bias.data)
        W_hhT = recurrent_weight(self.weight_hh_l0.data, T * B)  # (H, 4H)
        output = np.empty((T, B, H), self.dtype)
        h, c, steps = h0[0], c0[0], []
        for t in range(T):
            h, c, step = ln_lstm_cell_forward(z_x[t], h, c, W_hhT, bias, ln_hh, ln_c)
            output[t] = h
            steps.append(step)
        self._cache = (x, ih_cache, steps, hx is not None)
        return (output.transpose(1, 0, 2) if self.batch_first else output), (h[None], c[None])

    def backward(self, d_output: np.ndarray, d_h_n: np.ndarray | None = None, d_c_n: np.ndarray | None = None):
        """Backpropagation through time for the last `forward`; parameter gradients are added to `.grad`.

        d_output: shaped like the output; d_h_n, d_c_n: (1, B, H) or None for zero.
        Returns d_x shaped like x, or (d_x, (d_h_0, d_c_0)) when forward was given hx (as `LSTM.backward`).
        """
        if self._cache is None:
            raise RnnlabError("backward() called before forward()")
        x, ih_cache, steps, hx_given = self._cache
        d_output = np.asarray(d_output, dtype=self.dtype)
        if self.batch_first:
            d_output = d_output.transpose(1, 0, 2)
        T, B, H = d_output.shape
        dh = np.zeros((B, H), self.dtype) if d_h_n is None else np.asarray(d_h_n, self.dtype)[0].copy()
        dc = np.zeros((B, H), self.dtype) if d_c_n is None else np.asarray(d_c_n, self.dtype)[0].copy()
        grads = {"ln_hh_weight": self.ln_hh_weight.grad,
                 "ln_hh_bias": self.ln_hh_bias.grad, "ln_c_weight": self.ln_c_weight.grad,
                 "ln_c_bias": self.ln_c_bias.grad}  # the step backward adds to these arrays in place
        d_pre = np.empty((T, B, 4 * H), self.dtype)  # (T, B, 4H) gradient of the gate pre-activations
        d_a_h = np.empty((T, B, 4 * H), self.dtype)  # (T, B, 4H) gradient of W_hh h_{t-1}
        for t in reversed(range(T)):
            dh = dh + d_output[t]
            d_pre[t], d_a_h[t], dh, dc = ln_lstm_cell_backward(dh, dc, steps[t], self.weight_hh_l0.data,
                                                     self.ln_hh_weight.data, self.ln_c_weight.data, grads)
        h_prev = np.stack([step[0] for step in steps])  # (T, B, H) the state each step read
        self.weight_hh_l0.grad += d_a_h.reshape(T * B, 4 * H).T @ h_prev.reshape(T * B, H)  # all steps, one product
        d_b = d_pre.sum(axis=(0, 1))  # (4H,) b_ih and b_hh enter as one sum
        self.bias_ih_l0.grad += d_b
        self.bias_hh_l0.grad += d_b
        d_a_x, d_gain, d_bias = layer_norm_backward(d_pre, ih_cache, self.ln_ih_weight.data)  # (T, B, 4H)
        self.ln_ih_weight.grad += d_gain
        self.ln_ih_bias.grad += d_bias
        d_a_x2 = d_a_x.reshape(T * B, 4 * H)
        self.weight_ih_l0.grad += d_a_x2.T @ x.reshape(T * B, -1)  # all steps, one product
        d_x = (d_a_x2 @ self.weight_ih_l0.data).reshape(x.shape)  # (T, B, I)
        if self.batch_first:
            d_x = d_x.transpose(1, 0, 2)
        return (d_x, (dh[None], dc[None])) if hx_given else d_x

    def __repr__(self) -> str:
        return (f"LayerNormLSTM({self.input_size}, {self.hidden_size}, batch_first={self.batch_first}, "
                f"dtype={self.dtype.name})")

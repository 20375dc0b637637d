"""The Elman RNN cell run over a sequence, forward and backward side by side.

    h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)      (or relu instead of tanh)

The layer (`recurrent.py`) has already computed `x_proj[t] = W_ih x_t + b_ih` for every
step in one matrix product; here we add the recurrent term step by step. A `mask`
(T, B, 1) of booleans marks real steps: at padded steps the state is carried over
unchanged, so a sequence's result does not depend on its padding.
"""

import numpy as np

from rnnlab.nn.functional import Workspace, padded_states, previous_states, recurrent_weight, time_steps


def rnn_forward(x_proj, h0, W_hh, b_hh, nonlinearity="tanh", mask=None, reverse=False, ws=None):
    """One direction of one layer.

    x_proj: (T, B, H) input projections, overwritten with the pre-activations.
    h0: (B, H). W_hh: (H, H). b_hh: (H,) or None. mask: (T, B, 1) bool or None.
    ws: a `Workspace` to reuse arrays from the previous call (None: fresh arrays).
    Returns states (T+2, B, H) (see `padded_states`; the outputs are `states[1:-1]`)
    and the cache for `rnn_backward`.
    """
    T, B, H = x_proj.shape
    if b_hh is not None:
        x_proj += b_hh  # both biases act the same way: fold b_hh in once for all steps
    ws = ws or Workspace()
    states = padded_states(ws.empty("states", (T + 2, B, H), x_proj.dtype), h0, reverse)
    step = -1 if reverse else 1
    W_hhT = recurrent_weight(W_hh, T * B)  # (H, H)
    for t in time_steps(T, reverse):
        h_prev, h = states[t + 1 - step], states[t + 1]
        np.matmul(h_prev, W_hhT, out=h)  # (B, H)
        h += x_proj[t]
        if nonlinearity == "tanh":
            np.tanh(h, out=h)
        else:
            np.maximum(h, 0, out=h)
        if mask is not None:
            np.copyto(h, h_prev, where=~mask[t])  # padded step: carry the state over
    return states, (states, W_hh, nonlinearity, mask, reverse)


def rnn_backward(d_out, d_h_n, cache, ws=None):
    """Backpropagation through time for `rnn_forward`.

    d_out: (T, B, H) gradient of the outputs (zero at padded steps). d_h_n: (B, H) or None.
    Returns d_x_proj (T, B, H), d_h0 (B, H), d_W_hh (H, H) and d_b_hh = None: b_hh was folded into the
    input projection, so its gradient is the input bias's (the layer sums d_x_proj once for both).
    """
    states, W_hh, nonlinearity, mask, reverse = cache
    T, B, H = d_out.shape
    ws = ws or Workspace()
    d_pre = ws.empty("d_pre", d_out.shape, d_out.dtype)  # (T, B, H) gradient of the pre-activations
    slope = ws.empty("slope", d_out.shape, d_out.dtype)  # (T, B, H) the nonlinearity's derivative, all steps
    outputs = states[1:-1]
    if nonlinearity == "tanh":
        np.multiply(outputs, outputs, out=slope)
        np.subtract(1, slope, out=slope)  # tanh' = 1 - h^2
    else:
        np.greater(outputs, 0, out=slope)  # relu' = 1 where the unit was active
    dh_next = np.zeros((B, H), d_out.dtype) if d_h_n is None else d_h_n.copy()
    for t in time_steps(T, not reverse):
        da = d_pre[t]
        np.add(d_out[t], dh_next, out=da)  # dh: from the output and from step t+1
        if mask is None:
            da *= slope[t]
            np.matmul(da, W_hh, out=dh_next)  # (B, H)
        else:
            carried = np.where(mask[t], 0, da)  # padded steps pass dh through
            da *= slope[t]
            np.copyto(da, 0, where=~mask[t])
            np.matmul(da, W_hh, out=dh_next)
            dh_next += carried
    d_pre2 = d_pre.reshape(T * B, H)
    d_W_hh = d_pre2.T @ previous_states(states, reverse).reshape(T * B, H)  # all steps, one product
    return d_pre, dh_next, d_W_hh, None

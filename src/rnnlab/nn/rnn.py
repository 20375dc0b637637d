"""The Elman RNN cell run over a sequence, forward and backward side by side.

    h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)      (or relu instead of tanh)

The layer (`recurrent.py`) has already computed `x_proj[t] = W_ih x_t + b_ih` for every
step in one matrix product; here we add the recurrent term step by step. A `mask`
(T, B, 1) of booleans marks real steps: at padded steps the state is carried over
unchanged, so a sequence's result does not depend on its padding.
"""

import numpy as np

from rnnlab.nn.functional import Workspace, fused, padded_states, previous_states, recurrent_weight, span, time_steps
from rnnlab.nn.parallel import Relay, matmul

COMPILED_UNITS = 128  # plain RNNs up to this size run their time loops compiled (float32)


def rnn_cell_forward(x_t, recurrent, h_prev, h, relu, keep):
    """One time step for a batch: h = tanh(x_t + recurrent), or relu.

    x_t: (B, H) input projection W_ih x_t + b_ih + b_hh. recurrent: (B, H) W_hh h_prev.
    h_prev: (B, H). Writes h (B, H). keep: (B,) bool, False at padded steps, or None.
    """
    np.add(x_t, recurrent, out=h)
    if relu:
        np.maximum(h, 0, out=h)
    else:
        np.tanh(h, out=h)
    if keep is not None:  # padded step: carry the state over
        np.copyto(h, h_prev, where=~keep[:, None])


def rnn_cell_backward(d_out, dh, slope, d_pre, keep):
    """One time step back, for `rnn_cell_forward`: d_pre = (dh + d_out) * slope, zero at padded steps.

    d_out: (B, H) gradient of this step's output. dh: (B, H) gradient reaching h_t from step t+1;
    at padded steps it becomes dh + d_out, which passes to h_{t-1} unchanged (elsewhere the caller
    replaces it with d_pre @ W_hh). slope: (B, H) the nonlinearity's derivative at this step.
    Writes d_pre (B, H), the gradient of the pre-activation.
    """
    np.add(dh, d_out, out=d_pre)
    if keep is not None:  # padded step: dh + d_out passes through, the pre-activation gets nothing
        np.copyto(dh, d_pre, where=~keep[:, None])
        d_pre[~keep] = 0
    d_pre *= slope


def rnn_sequence_forward(x_proj, states, W_hhT, recurrent, relu, keep, reverse):
    """The time loop of `rnn_forward` for some rows of the batch (views of its arrays).

    x_proj: (T, b, H). states: (T+2, b, H), see `padded_states`. W_hhT: (H, H). recurrent: (b, H) scratch.
    keep: (T, b) bool, False at padded steps, or None.
    """
    step = -1 if reverse else 1
    for t in time_steps(len(x_proj), reverse):
        prev, now = t + 1 - step, t + 1
        np.dot(states[prev], W_hhT, out=recurrent)  # (b, H)
        rnn_cell_forward(x_proj[t], recurrent, states[prev], states[now], relu, None if keep is None else keep[t])


def rnn_sequence_backward(d_out, dh, slope, d_pre, W_hh, scratch, keep, reverse):
    """The loop back through time of `rnn_backward` for some rows of the batch (views of its arrays).

    d_out, slope: (T, b, H). dh: (b, H), from step t+1 in, d h_0 out. Writes d_pre (T, b, H). W_hh: (H, H).
    scratch: (b, H). keep: (T, b) bool or None.
    """
    for t in time_steps(len(d_out), not reverse):
        keep_t = None if keep is None else keep[t]
        rnn_cell_backward(d_out[t], dh, slope[t], d_pre[t], keep_t)
        if keep_t is None:
            np.dot(d_pre[t], W_hh, out=dh)  # (b, H) to h_{t-1}
        else:  # padded steps keep the dh that rnn_cell_backward left
            np.copyto(dh, np.dot(d_pre[t], W_hh, out=scratch), where=keep_t[:, None])


def loops(H: int, dtype: np.dtype):
    """The time loops for H hidden units: for a small state (H <= 128, float32) compiled whole loops, product
    included (the loop is call-bound then: min-char-rnn's 100 units); else the NumPy loops with BLAS products.
    The choice does not depend on the batch, so a sequence gets the same numbers alone and in any batch."""
    if H <= COMPILED_UNITS:
        return fused(rnn_sequence_forward, dtype), fused(rnn_sequence_backward, dtype)
    return rnn_sequence_forward, rnn_sequence_backward


def rnn_forward(x_proj, h0, W_hh, b_hh, nonlinearity="tanh", mask=None, reverse=False, ws=None, relay=None):
    """One direction of one layer.

    x_proj: (T, B, H) input projections W_ih x_t + b_ih, overwritten with W_ih x_t + b_ih + b_hh.
    h0: (B, H). W_hh: (H, H). b_hh: (H,) or None. mask: (T, B, 1) bool or None.
    ws: a `Workspace` to reuse arrays from the previous call (None: fresh arrays).
    relay: a `parallel.Relay` that runs the steps in runs, between a layer below and one above
    (x_proj then fills in run by run); None: all steps at once.
    Returns states (T+2, B, H) (see `padded_states`; the outputs are `states[1:-1]`)
    and the cache for `rnn_backward`.
    """
    T, B, H = x_proj.shape
    ws = ws or Workspace()
    states = padded_states(ws.empty("states", (T + 2, B, H), x_proj.dtype), h0, reverse)
    recurrent = ws.empty("recurrent", (B, H), x_proj.dtype)  # scratch, reused every step
    sequence = loops(H, x_proj.dtype)[0]
    # (H, H); the compiled loop reads it row by row, so contiguous
    W_hhT = recurrent_weight(W_hh, T * B) if sequence is rnn_sequence_forward else np.ascontiguousarray(W_hh.T)
    relu = nonlinearity == "relu"
    keep = None if mask is None else mask[:, :, 0]

    def loop(b, steps):  # the steps for the rows b of the batch (the shards run in parallel)
        s = span(steps)  # states[s.start : s.stop + 2]: the run's states and the one before it, either way
        sequence(x_proj[s, b], states[s.start : s.stop + 2, b], W_hhT, recurrent[b], relu,
                 None if keep is None else keep[s, b], reverse)

    def fold(steps):  # both biases act the same way: fold b_hh in once per step
        x_proj[steps] += b_hh

    relay = relay or Relay.whole(T, reverse)
    relay.run(loop, B, H * H, states, fold if b_hh is not None else None)
    return states, (states, W_hh, relu, mask, reverse)


def rnn_backward(d_out, d_h_n, cache, ws=None, relay=None):
    """Backpropagation through time for `rnn_forward`.

    d_out: (T, B, H) gradient of the outputs (zero at padded steps). d_h_n: (B, H) or None.
    relay: as in `rnn_forward` (d_out then fills in run by run), or None.
    Returns d_x_proj (T, B, H), d_h0 (B, H), d_W_hh (H, H) and d_b_hh = None: b_hh was folded into the
    input projection, so its gradient is the input bias's (the layer sums d_x_proj once for both).
    """
    states, W_hh, relu, mask, reverse = cache
    T, B, H = d_out.shape
    ws = ws or Workspace()
    d_pre = ws.empty("d_pre", d_out.shape, d_out.dtype)  # (T, B, H) gradient of the pre-activations
    slope = ws.empty("slope", d_out.shape, d_out.dtype)  # (T, B, H) the nonlinearity's derivative, all steps
    outputs = states[1:-1]
    if relu:
        np.greater(outputs, 0, out=slope)  # relu' = 1 where the unit was active
    else:
        np.multiply(outputs, outputs, out=slope)
        np.subtract(1, slope, out=slope)  # tanh' = 1 - h^2
    scratch = ws.empty("scratch", (B, H), d_out.dtype)
    dh = np.zeros((B, H), d_out.dtype) if d_h_n is None else d_h_n.copy()  # from step t+1
    sequence, keep = loops(H, d_out.dtype)[1], None if mask is None else mask[:, :, 0]

    def loop(b, steps):  # the rows b of the batch, back through time (the shards run in parallel)
        s = span(steps)
        sequence(d_out[s, b], dh[b], slope[s, b], d_pre[s, b], W_hh, scratch[b], None if keep is None else keep[s, b],
                 reverse)

    relay = relay or Relay.whole(T, not reverse)
    relay.run(loop, B, H * H, d_pre)
    d_pre2 = d_pre.reshape(T * B, H)
    d_W_hh = matmul(d_pre2.T, previous_states(states, reverse).reshape(T * B, H))  # all steps, one product
    return d_pre, dh, d_W_hh, None

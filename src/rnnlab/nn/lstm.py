"""The LSTM cell run over a sequence, forward and backward side by side.

    i = sigmoid(W_ii x_t + b_ii + W_hi h_{t-1} + b_hi)      input gate
    f = sigmoid(W_if x_t + b_if + W_hf h_{t-1} + b_hf)      forget gate
    g = tanh(W_ig x_t + b_ig + W_hg h_{t-1} + b_hg)         candidate cell
    o = sigmoid(W_io x_t + b_io + W_ho h_{t-1} + b_ho)      output gate
    c_t = f * c_{t-1} + i * g
    h_t = o * tanh(c_t)

Gates are stacked in PyTorch's order (i, f, g, o) along the last axis of size 4H, so
`weight_ih` (4H, I) and `weight_hh` (4H, H) load unchanged from `torch.nn.LSTM`.

`lstm_cell_forward` / `lstm_cell_backward` are one time step; `lstm_forward` / `lstm_backward`
run them over a sequence. `lstm_proj_forward` / `lstm_proj_backward` are the projected LSTM
(PyTorch's `proj_size`): the same step, then h_t = W_hr (o * tanh(c_t)) of size P < H, W_hh (4H, P).
In float32 the step functions' compiled twins in `kernels.py` run instead (the same arithmetic
in one loop; see `functional.fused`).
"""

import numpy as np

from rnnlab.nn.functional import Workspace, fused, padded_states, previous_states, span, time_steps
from rnnlab.nn.packed import StepWeight, loop_for
from rnnlab.nn.parallel import Relay, matmul


def lstm_cell_forward(gates, recurrent, h_prev, c_prev, h, c, tanh_c, keep):
    """One time step for a batch.

    gates: (B, 4H) input projections W_ih x_t + b_ih + b_hh, overwritten with the activations
    i, f, g, o. recurrent: (B, 4H) W_hh h_prev. h_prev, c_prev: (B, H). Writes h, c and tanh(c),
    each (B, H). keep: (B,) bool, False at padded steps, or None.
    """
    H = h.shape[1]
    gates += recurrent
    i, f, g, o = gates[:, :H], gates[:, H : 2 * H], gates[:, 2 * H : 3 * H], gates[:, 3 * H :]
    sigmoids = (gates[:, : 2 * H], o)  # sigmoid(x) = (1 + tanh(x / 2)) / 2, so one tanh does all four gates
    for sig in sigmoids:
        sig *= 0.5
    np.tanh(gates, out=gates)
    for sig in sigmoids:
        sig *= 0.5
        sig += 0.5
    np.multiply(f, c_prev, out=c)
    c += i * g
    np.tanh(c, out=tanh_c)
    np.multiply(o, tanh_c, out=h)
    if keep is not None:  # padded step: carry both states over
        np.copyto(h, h_prev, where=~keep[:, None])
        np.copyto(c, c_prev, where=~keep[:, None])


def lstm_cell_backward(d_out, dh, dc, acts, tanh_c, c_prev, d_gates, keep):
    """One time step back, for `lstm_cell_forward`.

    d_out: (B, H) gradient of this step's output. dh: (B, H) gradient reaching h_t from step t+1
    through W_hh; on return the part of d h_{t-1} that bypasses W_hh (all of dh at padded steps,
    else 0). dc: (B, H) d c_t in, d c_{t-1} out. acts: (B, 4H) i, f, g, o. tanh_c, c_prev: (B, H).
    Writes d_gates (B, 4H), the gradient of the gate pre-activations.
    """
    H = dh.shape[1]
    i, f, g, o = acts[:, :H], acts[:, H : 2 * H], acts[:, 2 * H : 3 * H], acts[:, 3 * H :]
    d_i, d_f, d_g, d_o = d_gates[:, :H], d_gates[:, H : 2 * H], d_gates[:, 2 * H : 3 * H], d_gates[:, 3 * H :]
    dh += d_out
    if keep is not None:
        padded = ~keep
        carried_h, carried_c = dh[padded], dc[padded]
    dc += dh * o * (1 - tanh_c * tanh_c)  # h = o tanh(c): to c ...
    np.multiply(dh, tanh_c, out=d_o)  # ... and to o
    d_o *= o * (1 - o)  # sigmoid' = s (1 - s)
    np.multiply(dc, g, out=d_i)  # c = f c_prev + i g: to i, f, g
    d_i *= i * (1 - i)
    np.multiply(dc, c_prev, out=d_f)
    d_f *= f * (1 - f)
    np.multiply(dc, i, out=d_g)
    d_g *= 1 - g * g  # tanh' = 1 - tanh^2
    dc *= f  # to c_{t-1}
    dh.fill(0)
    if keep is not None:  # padded step: dh and dc pass through, the gates get nothing
        d_gates[padded], dh[padded], dc[padded] = 0, carried_h, carried_c


def lstm_sequence_forward(x_proj, h, c, tanh_c, recurrent, W, keep, reverse):
    """The time loop of `lstm_forward` over a run of steps for some rows of the batch (views of its arrays).

    x_proj: (T, b, 4H). h, c: (T+2, b, H), the run's states and the one before it (see `padded_states`).
    tanh_c: (T, b, H). recurrent: (b, 4H) scratch. W: the `StepWeight` W_hh^T (H, 4H). keep: (T, b) bool
    or None. Its compiled twin runs the whole loop where W is packed in float32 (`packed.loop_for`).
    """
    step = -1 if reverse else 1
    cell_forward = fused(lstm_cell_forward, x_proj.dtype)
    for t in time_steps(len(x_proj), reverse):
        prev, now = t + 1 - step, t + 1
        W.dot(h[prev], out=recurrent)  # (b, 4H)
        keep_t = None if keep is None else keep[t]
        cell_forward(x_proj[t], recurrent, h[prev], c[prev], h[now], c[now], tanh_c[t], keep_t)


def lstm_sequence_backward(d_out, dh, dc, gates, tanh_c, c, d_gates, scratch, W, keep, reverse):
    """The loop back through time of `lstm_backward` over a run of steps for some rows of the batch.

    d_out, tanh_c: (T, b, H). dh, dc: (b, H), from step t+1 in, to h_0 and c_0 out. gates, d_gates: (T, b, 4H).
    c: (T+2, b, H), as in the forward loop. scratch: (b, H). W: the `StepWeight` W_hh (4H, H). keep: (T, b) or None.
    """
    step = -1 if reverse else 1
    cell_backward = fused(lstm_cell_backward, d_out.dtype)
    for t in time_steps(len(d_out), not reverse):
        keep_t = None if keep is None else keep[t]
        cell_backward(d_out[t], dh, dc, gates[t], tanh_c[t], c[t + 1 - step], d_gates[t], keep_t)
        if keep_t is None:  # dh holds only zeros now: the product can overwrite it
            W.dot(d_gates[t], out=dh)  # (b, H) to h_{t-1}
        else:
            dh += W.dot(d_gates[t], out=scratch)


def lstm_forward(x_proj, h0, c0, W_hh, b_hh, mask=None, reverse=False, ws=None, relay=None):
    """One direction of one layer.

    x_proj: (T, B, 4H) input projections W_ih x_t + b_ih, overwritten with the gate activations.
    h0, c0: (B, H). W_hh: (4H, H). b_hh: (4H,) or None. mask: (T, B, 1) bool or None.
    ws: a `Workspace` to reuse arrays from the previous call (None: fresh arrays).
    relay: a `parallel.Relay` that runs the steps in runs, between a layer below and one above
    (x_proj then fills in run by run); None: all steps at once.
    Returns hidden states and cell states, each (T+2, B, H) (see `padded_states`), and the cache.
    """
    T, B, G = x_proj.shape
    H = G // 4
    W_hhT = StepWeight(W_hh.T, B, T)  # (H, 4H), the right operand of every step's product
    ws, dtype = ws or Workspace(), x_proj.dtype
    h = padded_states(ws.empty("h", (T + 2, B, H), dtype), h0, reverse)
    c = padded_states(ws.empty("c", (T + 2, B, H), dtype), c0, reverse)
    tanh_c = ws.empty("tanh_c", (T, B, H), dtype)
    recurrent = ws.empty("recurrent", (B, G), dtype)  # scratch, reused every step
    sequence, W = loop_for(lstm_sequence_forward, W_hhT)

    def loop(b, steps):  # the steps for the rows b of the batch (a slice; the shards run in parallel)
        s = span(steps)  # h[s.start : s.stop + 2]: the run's states and the one before it, either way
        sequence(x_proj[s, b], h[s.start : s.stop + 2, b], c[s.start : s.stop + 2, b], tanh_c[s, b], recurrent[b], W,
                 None if mask is None else mask[s, b, 0], reverse)

    def fold(steps):  # b_hh adds like b_ih: fold it in once per step
        x_proj[steps] += b_hh

    relay = relay or Relay.whole(T, reverse)
    relay.run(loop, B, H * G, h, fold if b_hh is not None else None)  # the step's product: (b, H) @ (H, 4H)
    return h, c, (x_proj, h, c, tanh_c, W_hh, mask, reverse)


def lstm_backward(d_out, d_h_n, d_c_n, cache, ws=None, relay=None):
    """Backpropagation through time for `lstm_forward`.

    d_out: (T, B, H) gradient of the outputs (zero at padded steps); d_h_n, d_c_n: (B, H) or None.
    relay: as in `lstm_forward` (d_out then fills in run by run), or None.
    Returns d_x_proj (T, B, 4H), d_h0 (B, H), d_c0 (B, H), d_W_hh (4H, H) and d_b_hh = None: b_hh was
    folded into the input projection, so its gradient is the input bias's (the layer sums d_x_proj once).
    """
    gates, h, c, tanh_c, W_hh, mask, reverse = cache
    T, B, H = d_out.shape
    ws = ws or Workspace()
    d_gates = ws.empty("d_gates", gates.shape, gates.dtype)  # (T, B, 4H) gradient of the gate pre-activations
    dh = np.zeros((B, H), d_out.dtype) if d_h_n is None else d_h_n.copy()  # from step t+1
    dc = np.zeros((B, H), d_out.dtype) if d_c_n is None else d_c_n.copy()
    scratch = ws.empty("scratch", (B, H), d_out.dtype)
    sequence, W = loop_for(lstm_sequence_backward, StepWeight(W_hh, B, T))  # (4H, H)

    def loop(b, steps):  # the rows b of the batch, back through time (the shards run in parallel)
        s = span(steps)
        sequence(d_out[s, b], dh[b], dc[b], gates[s, b], tanh_c[s, b], c[s.start : s.stop + 2, b], d_gates[s, b],
                 scratch[b], W, None if mask is None else mask[s, b, 0], reverse)

    relay = relay or Relay.whole(T, not reverse)
    relay.run(loop, B, 4 * H * H, d_gates)  # the step's product: (b, 4H) @ (4H, H)
    d_gates2 = d_gates.reshape(T * B, 4 * H)
    d_W_hh = matmul(d_gates2.T, previous_states(h, reverse).reshape(T * B, H))  # all steps, one product
    return d_gates, dh, dc, d_W_hh, None


def lstm_proj_forward(x_proj, h0, c0, W_hh, b_hh, W_hr, mask=None, reverse=False, ws=None, relay=None):
    """One direction of one layer of the projected LSTM (`LSTM(proj_size=P)`): h_t = W_hr (o * tanh(c_t)).

    The cell step is `lstm_cell_forward` unchanged, writing m_t = o * tanh(c_t) (B, H); the projection
    h_t = m_t W_hr^T (B, P) follows it, and h_t is what the next step and the output see.
    x_proj: (T, B, 4H) input projections, overwritten with the gate activations. h0: (B, P), c0: (B, H).
    W_hh: (4H, P). b_hh: (4H,) or None. W_hr: (P, H). mask: (T, B, 1) bool or None. relay: as in `lstm_forward`.
    Returns hidden states (T+2, B, P) and cell states (T+2, B, H) (see `padded_states`), and the cache.
    """
    T, B, G = x_proj.shape
    H, P = G // 4, W_hr.shape[0]
    W_hhT = StepWeight(W_hh.T, B, T)  # (P, 4H)
    W_hrT = StepWeight(W_hr.T, B, T)  # (H, P)
    ws, dtype = ws or Workspace(), x_proj.dtype
    h = padded_states(ws.empty("h", (T + 2, B, P), dtype), h0, reverse)
    c = padded_states(ws.empty("c", (T + 2, B, H), dtype), c0, reverse)
    m = ws.empty("m", (T, B, H), dtype)  # o * tanh(c_t), before the projection
    tanh_c = ws.empty("tanh_c", (T, B, H), dtype)
    recurrent = ws.empty("recurrent", (B, G), dtype)  # scratch, reused every step
    no_state = np.zeros((B, H), dtype)  # m at padded steps: they add nothing to d W_hr
    cell_forward = fused(lstm_cell_forward, dtype)
    step = -1 if reverse else 1

    def loop(b, steps):  # the steps for the rows b of the batch (the shards run in parallel)
        for t in steps:
            prev, now = t + 1 - step, t + 1
            W_hhT.dot(h[prev, b], out=recurrent[b])  # (b, 4H)
            keep = None if mask is None else mask[t, b, 0]
            cell_forward(x_proj[t, b], recurrent[b], no_state[b], c[prev, b], m[t, b], c[now, b], tanh_c[t, b], keep)
            W_hrT.dot(m[t, b], out=h[now, b])  # (b, P)
            if keep is not None:  # padded step: carry h over (the cell carried c)
                np.copyto(h[now, b], h[prev, b], where=~keep[:, None])

    def fold(steps):  # as in `lstm_forward`
        x_proj[steps] += b_hh

    relay = relay or Relay.whole(T, reverse)
    relay.run(loop, B, H * P, h, fold if b_hh is not None else None)  # the smaller product: (b, H) @ (H, P)
    return h, c, (x_proj, h, c, m, tanh_c, W_hh, W_hr, mask, reverse)


def lstm_proj_backward(d_out, d_h_n, d_c_n, cache, ws=None, relay=None):
    """Backpropagation through time for `lstm_proj_forward`.

    d_out: (T, B, P) gradient of the outputs (zero at padded steps); d_h_n: (B, P), d_c_n: (B, H), or None.
    relay: as in `lstm_backward`.
    Returns d_x_proj (T, B, 4H), d_h0 (B, P), d_c0 (B, H), d_W_hh (4H, P), d_b_hh = None (as in
    `lstm_backward`) and d_W_hr (P, H).
    """
    gates, h, c, m, tanh_c, W_hh, W_hr, mask, reverse = cache
    T, B, P = d_out.shape
    H = m.shape[2]
    step = -1 if reverse else 1
    ws, dtype = ws or Workspace(), d_out.dtype
    d_gates = ws.empty("d_gates", gates.shape, dtype)  # (T, B, 4H) gradient of the gate pre-activations
    d_h = ws.empty("d_h", (T, B, P), dtype)  # the whole gradient of each h_t, zero at padded steps
    dh = np.zeros((B, P), dtype) if d_h_n is None else d_h_n.copy()  # from step t+1
    dc = np.zeros((B, H), dtype) if d_c_n is None else d_c_n.copy()
    dm = ws.empty("dm", (B, H), dtype)  # d m_t, m_t = o * tanh(c_t)
    no_grad = np.zeros((B, H), dtype)  # the cell's own dh: all of the gradient of m_t arrives as dm
    cell_backward = fused(lstm_cell_backward, dtype)
    W_hh_step, W_hr_step = StepWeight(W_hh, B, T), StepWeight(W_hr, B, T)  # (4H, P), (P, H)

    def loop(b, steps):  # the rows b of the batch, back through time (the shards run in parallel)
        for t in steps:
            keep = None if mask is None else mask[t, b, 0]
            dh[b] += d_out[t, b]
            if keep is not None:  # padded step: dh passes through to h_{t-1}; W_hr and the gates get nothing
                padded = ~keep
                carried = dh[b][padded]
                dh[b][padded] = 0
            d_h[t, b] = dh[b]
            W_hr_step.dot(dh[b], out=dm[b])  # (b, H) h_t = W_hr m_t
            cell_backward(dm[b], no_grad[b], dc[b], gates[t, b], tanh_c[t, b], c[t + 1 - step, b], d_gates[t, b], keep)
            W_hh_step.dot(d_gates[t, b], out=dh[b])  # (b, P) to h_{t-1}
            if keep is not None:
                dh[b][padded] = carried

    relay = relay or Relay.whole(T, not reverse)
    relay.run(loop, B, H * P, d_gates)  # the smaller product: (b, P) @ (P, H)
    d_W_hh = d_gates.reshape(T * B, 4 * H).T @ previous_states(h, reverse).reshape(T * B, P)  # all steps at once
    d_W_hr = d_h.reshape(T * B, P).T @ m.reshape(T * B, H)  # (P, H)
    return d_gates, dh, dc, d_W_hh, None, d_W_hr

"""The GRU cell run over a sequence, forward and backward side by side.

    r = sigmoid(W_ir x_t + b_ir + W_hr h_{t-1} + b_hr)        reset gate
    z = sigmoid(W_iz x_t + b_iz + W_hz h_{t-1} + b_hz)        update gate
    n = tanh(W_in x_t + b_in + r * (W_hn h_{t-1} + b_hn))     candidate
    h_t = (1 - z) * n + z * h_{t-1}

Gates are stacked in PyTorch's order (r, z, n). Unlike the LSTM, b_hn sits inside the
reset gate's product, so the recurrent bias cannot be folded into the input projection.

`gru_cell_forward` / `gru_cell_backward` are one time step; `gru_forward` / `gru_backward`
run them over a sequence. In float32 the step functions' compiled twins in `kernels.py` run
instead (the same arithmetic in one loop; see `functional.fused`).
"""

import numpy as np

from rnnlab.nn.functional import Workspace, fused, padded_states, previous_states, span, time_steps
from rnnlab.nn.packed import StepWeight, loop_for
from rnnlab.nn.parallel import Relay, matmul


def gru_cell_forward(gates, recurrent, b_hn, h_prev, h, hn, keep):
    """One time step for a batch.

    gates: (B, 3H) input projections W_ih x_t + b_ih, plus b_hr and b_hz; overwritten with the
    activations r, z, n. recurrent: (B, 3H) W_hh h_prev. b_hn: (H,) or None. h_prev: (B, H).
    Writes h (B, H) and hn = W_hn h_prev + b_hn (B, H), which the backward needs.
    keep: (B,) bool, False at padded steps, or None.
    """
    H = h.shape[1]
    rz, n = gates[:, : 2 * H], gates[:, 2 * H :]
    rz += recurrent[:, : 2 * H]
    rz *= 0.5
    np.tanh(rz, out=rz)
    rz *= 0.5
    rz += 0.5  # sigmoid(x) = (1 + tanh(x / 2)) / 2
    r, z = rz[:, :H], rz[:, H:]
    np.copyto(hn, recurrent[:, 2 * H :])
    if b_hn is not None:
        hn += b_hn
    n += r * hn
    np.tanh(n, out=n)
    np.subtract(h_prev, n, out=h)  # h_t = n + z * (h_{t-1} - n)
    h *= z
    h += n
    if keep is not None:  # padded step: carry the state over
        np.copyto(h, h_prev, where=~keep[:, None])


def gru_cell_backward(d_out, dh, acts, hn, h_prev, d_x, d_rec, keep):
    """One time step back, for `gru_cell_forward`.

    d_out: (B, H) gradient of this step's output. dh: (B, H) gradient reaching h_t from step t+1;
    on return the part of d h_{t-1} that bypasses W_hh (z dh, or all of dh at padded steps).
    acts: (B, 3H) r, z, n. hn, h_prev: (B, H). Writes d_x (B, 3H), the gradient of W_ih x_t + b_ih,
    and d_rec (B, 3H), the gradient of W_hh h_{t-1} + b_hh.
    """
    H = dh.shape[1]
    r, z, n = acts[:, :H], acts[:, H : 2 * H], acts[:, 2 * H :]
    d_r, d_z, d_n = d_x[:, :H], d_x[:, H : 2 * H], d_x[:, 2 * H :]
    dh += d_out
    np.subtract(h_prev, n, out=d_z)  # h = n + z (h_prev - n): to z ...
    d_z *= dh
    d_z *= z * (1 - z)  # sigmoid' = s (1 - s)
    np.multiply(dh, 1 - z, out=d_n)  # ... to n's pre-activation ...
    d_n *= 1 - n * n  # tanh' = 1 - tanh^2
    np.multiply(d_n, hn, out=d_r)  # ... and through n = tanh(x_n + r hn) to r's
    d_r *= r * (1 - r)
    d_rec[:, : 2 * H] = d_x[:, : 2 * H]
    np.multiply(d_n, r, out=d_rec[:, 2 * H :])
    if keep is None:
        dh *= z  # the direct path h_t = ... + z h_{t-1}
    else:  # padded step: dh passes through, the gates get nothing
        dh *= np.where(keep[:, None], z, 1)
        d_x[~keep], d_rec[~keep] = 0, 0


def gru_sequence_forward(x_proj, h, hn, recurrent, b_hn, W, keep, reverse):
    """The time loop of `gru_forward` over a run of steps for some rows of the batch (views of its arrays).

    x_proj: (T, b, 3H). h: (T+2, b, H), the run's states and the one before it (see `padded_states`).
    hn: (T, b, H). recurrent: (b, 3H) scratch. b_hn: (H,) or None. W: the `StepWeight` W_hh^T (H, 3H).
    keep: (T, b) bool or None. Its compiled twin runs the whole loop where W is packed in float32
    (`packed.loop_for`).
    """
    step = -1 if reverse else 1
    cell_forward = fused(gru_cell_forward, x_proj.dtype)
    for t in time_steps(len(x_proj), reverse):
        prev, now = t + 1 - step, t + 1
        W.dot(h[prev], out=recurrent)  # (b, 3H)
        cell_forward(x_proj[t], recurrent, b_hn, h[prev], h[now], hn[t], None if keep is None else keep[t])


def gru_sequence_backward(d_out, dh, gates, hn, h, d_x, d_rec, scratch, W, keep, reverse):
    """The loop back through time of `gru_backward` over a run of steps for some rows of the batch.

    d_out, hn: (T, b, H). dh: (b, H), from step t+1 in, to h_0 out. gates, d_x, d_rec: (T, b, 3H).
    h: (T+2, b, H), as in the forward loop. scratch: (b, H). W: the `StepWeight` W_hh (3H, H).
    keep: (T, b) bool or None.
    """
    step = -1 if reverse else 1
    cell_backward = fused(gru_cell_backward, d_out.dtype)
    for t in time_steps(len(d_out), not reverse):
        keep_t = None if keep is None else keep[t]
        cell_backward(d_out[t], dh, gates[t], hn[t], h[t + 1 - step], d_x[t], d_rec[t], keep_t)
        dh += W.dot(d_rec[t], out=scratch)  # (b, H) to h_{t-1}


def gru_forward(x_proj, h0, W_hh, b_hh, mask=None, reverse=False, ws=None, relay=None):
    """One direction of one layer.

    x_proj: (T, B, 3H) input projections W_ih x_t + b_ih, overwritten with the activations r, z, n.
    h0: (B, H). W_hh: (3H, H). b_hh: (3H,) or None. mask: (T, B, 1) bool or None.
    ws: a `Workspace` to reuse arrays from the previous call (None: fresh arrays).
    relay: a `parallel.Relay` that runs the steps in runs, between a layer below and one above
    (x_proj then fills in run by run); None: all steps at once.
    Returns states (T+2, B, H) (see `padded_states`) and the cache for `gru_backward`.
    """
    T, B, G = x_proj.shape
    H = G // 3
    ws, dtype = ws or Workspace(), x_proj.dtype
    b_hn = None if b_hh is None else b_hh[2 * H :]  # b_hn sits inside r * (...): it stays per step
    W_hhT = StepWeight(W_hh.T, B, T)  # (H, 3H), the right operand of every step's product
    h = padded_states(ws.empty("h", (T + 2, B, H), dtype), h0, reverse)
    hn = ws.empty("hn", (T, B, H), dtype)  # W_hn h_{t-1} + b_hn, needed by the backward
    recurrent = ws.empty("recurrent", (B, G), dtype)  # scratch, reused every step
    sequence, W = loop_for(gru_sequence_forward, W_hhT)

    def loop(b, steps):  # the steps for the rows b of the batch (a slice; the shards run in parallel)
        s = span(steps)  # h[s.start : s.stop + 2]: the run's states and the one before it, either way
        sequence(x_proj[s, b], h[s.start : s.stop + 2, b], hn[s, b], recurrent[b], b_hn, W,
                 None if mask is None else mask[s, b, 0], reverse)

    def fold(steps):  # b_hr, b_hz add like b_ir, b_iz: fold them in once per step
        x_proj[steps, :, : 2 * H] += b_hh[: 2 * H]

    relay = relay or Relay.whole(T, reverse)
    relay.run(loop, B, H * G, h, fold if b_hh is not None else None)  # the step's product: (b, H) @ (H, 3H)
    return h, (x_proj, hn, h, W_hh, mask, reverse)


def gru_backward(d_out, d_h_n, cache, ws=None, relay=None):
    """Backpropagation through time for `gru_forward`.

    d_out: (T, B, H) gradient of the outputs (zero at padded steps). d_h_n: (B, H) or None.
    relay: as in `gru_forward` (d_out then fills in run by run), or None.
    Returns d_x_proj (T, B, 3H), d_h0 (B, H), d_W_hh (3H, H), d_b_hh (3H,).
    """
    gates, hn, h, W_hh, mask, reverse = cache
    T, B, H = d_out.shape
    ws = ws or Workspace()
    d_x = ws.empty("d_x", gates.shape, gates.dtype)  # (T, B, 3H) gradient of W_ih x_t + b_ih
    d_rec = ws.empty("d_rec", gates.shape, gates.dtype)  # (T, B, 3H) gradient of W_hh h_{t-1} + b_hh
    scratch = ws.empty("scratch", (B, H), gates.dtype)
    dh = np.zeros((B, H), d_out.dtype) if d_h_n is None else d_h_n.copy()  # from step t+1
    sequence, W = loop_for(gru_sequence_backward, StepWeight(W_hh, B, T))  # (3H, H)

    def loop(b, steps):  # the rows b of the batch, back through time (the shards run in parallel)
        s = span(steps)
        sequence(d_out[s, b], dh[b], gates[s, b], hn[s, b], h[s.start : s.stop + 2, b], d_x[s, b], d_rec[s, b],
                 scratch[b], W, None if mask is None else mask[s, b, 0], reverse)

    relay = relay or Relay.whole(T, not reverse)
    relay.run(loop, B, 3 * H * H, d_x)  # the step's product: (b, 3H) @ (3H, H)
    d_rec2 = d_rec.reshape(T * B, 3 * H)
    d_W_hh = matmul(d_rec2.T, previous_states(h, reverse).reshape(T * B, H))  # all steps, one product
    return d_x, dh, d_W_hh, d_rec2.sum(axis=0)

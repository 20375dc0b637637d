"""The GRU cell run over a sequence, forward and backward side by side.

    r = sigmoid(W_ir x_t + b_ir + W_hr h_{t-1} + b_hr)        reset gate
    z = sigmoid(W_iz x_t + b_iz + W_hz h_{t-1} + b_hz)        update gate
    n = tanh(W_in x_t + b_in + r * (W_hn h_{t-1} + b_hn))     candidate
    h_t = (1 - z) * n + z * h_{t-1}

Gates are stacked in PyTorch's order (r, z, n). Unlike the LSTM, b_hn sits inside the
reset gate's product, so the recurrent bias cannot be folded into the input projection.
"""

import numpy as np

from rnnlab.nn.functional import Workspace, padded_states, previous_states, recurrent_weight, time_steps


def gru_forward(x_proj, h0, W_hh, b_hh, mask=None, reverse=False, ws=None):
    """One direction of one layer.

    x_proj: (T, B, 3H) input projections W_ih x_t + b_ih, overwritten with the activations r, z, n.
    h0: (B, H). W_hh: (3H, H). b_hh: (3H,) or None. mask: (T, B, 1) bool or None.
    ws: a `Workspace` to reuse arrays from the previous call (None: fresh arrays).
    Returns states (T+2, B, H) (see `padded_states`) and the cache for `gru_backward`.
    """
    T, B, G = x_proj.shape
    H = G // 3
    ws, dtype = ws or Workspace(), x_proj.dtype
    b_hn = None
    if b_hh is not None:
        x_proj[:, :, : 2 * H] += b_hh[: 2 * H]  # b_hr, b_hz add like b_ir, b_iz: fold them in once
        b_hn = b_hh[2 * H :]  # b_hn sits inside r * (...): it stays per step
    # sigmoid(x) = (1 + tanh(x / 2)) / 2: halve the r, z columns once (exact), then a tanh does them
    x_proj[:, :, : 2 * H] *= 0.5
    half = np.where(np.arange(G) < 2 * H, 0.5, 1).astype(dtype)  # (3H,): 1/2 for r and z, 1 for n
    W_hhT, step_scale = recurrent_weight(W_hh, half, T * B)  # (H, 3H)
    h = padded_states(ws.empty("h", (T + 2, B, H), dtype), h0, reverse)
    hn = ws.empty("hn", (T, B, H), dtype)  # W_hn h_{t-1} + b_hn, needed by the backward
    recurrent = ws.empty("recurrent", (B, G), dtype)  # scratch, reused every step
    rz, n = ws.empty("rz", (B, 2 * H), dtype), ws.empty("n", (B, H), dtype)  # contiguous, for fast tanh
    step = -1 if reverse else 1
    for t in time_steps(T, reverse):
        prev, now = t + 1 - step, t + 1
        np.matmul(h[prev], W_hhT, out=recurrent)  # (B, 3H)
        if step_scale is not None:
            recurrent *= step_scale
        gates = x_proj[t]
        np.add(gates[:, : 2 * H], recurrent[:, : 2 * H], out=rz)
        np.tanh(rz, out=rz)
        rz *= 0.5
        rz += 0.5  # r and z
        if b_hn is None:
            hn[t] = recurrent[:, 2 * H :]
        else:
            np.add(recurrent[:, 2 * H :], b_hn, out=hn[t])
        np.multiply(rz[:, :H], hn[t], out=n)  # r * (W_hn h + b_hn)
        n += gates[:, 2 * H :]
        np.tanh(n, out=n)
        gates[:, : 2 * H], gates[:, 2 * H :] = rz, n  # keep the activations for the backward
        np.subtract(h[prev], n, out=h[now])  # h_t = n + z * (h_{t-1} - n)
        h[now] *= rz[:, H:]
        h[now] += n
        if mask is not None:
            np.copyto(h[now], h[prev], where=~mask[t])  # padded step: carry the state over
    return h, (x_proj, hn, h, W_hh, mask, reverse)


def gru_backward(d_out, d_h_n, cache, ws=None):
    """Backpropagation through time for `gru_forward`.

    d_out: (T, B, H) gradient of the outputs (zero at padded steps). d_h_n: (B, H) or None.
    Returns d_x_proj (T, B, 3H), d_h0 (B, H), d_W_hh (3H, H), d_b_hh (3H,).
    """
    gates, hn, h, W_hh, mask, reverse = cache
    T, B, H = d_out.shape
    step = -1 if reverse else 1
    ws = ws or Workspace()
    r, z, n = gates[:, :, :H], gates[:, :, H : 2 * H], gates[:, :, 2 * H :]  # (T, B, H) each
    # What does not depend on the incoming gradient, for all steps at once:
    z_slope = ws.empty("z_slope", r.shape, r.dtype)  # sigmoid'(z) = z (1 - z)
    np.subtract(1, z, out=z_slope)
    z_slope *= z
    n_factor = ws.empty("n_factor", r.shape, r.dtype)  # d n_pre / d h_t = (1 - z) (1 - n^2)
    np.multiply(n, n, out=n_factor)
    np.subtract(1, n_factor, out=n_factor)
    n_factor *= 1 - z
    r_factor = ws.empty("r_factor", r.shape, r.dtype)  # d r_pre / d n_pre = (W_hn h + b_hn) r (1 - r)
    np.subtract(1, r, out=r_factor)
    r_factor *= r
    r_factor *= hn

    d_x = ws.empty("d_x", gates.shape, gates.dtype)  # (T, B, 3H) gradient of W_ih x_t + b_ih
    d_rec = ws.empty("d_rec", gates.shape, gates.dtype)  # (T, B, 3H) gradient of W_hh h_{t-1} + b_hh
    scratch = ws.empty("scratch", (B, H), gates.dtype)
    dh = np.zeros((B, H), d_out.dtype) if d_h_n is None else d_h_n.copy()  # from step t+1
    for t in time_steps(T, not reverse):
        dr, dz, dn = (d_x[t, :, k * H : (k + 1) * H] for k in range(3))
        dh += d_out[t]
        np.subtract(h[t + 1 - step], n[t], out=dz)  # h_t = n + z (h_{t-1} - n): to z ...
        dz *= dh
        dz *= z_slope[t]
        np.multiply(dh, n_factor[t], out=dn)  # ... to n's pre-activation ...
        np.multiply(dn, r_factor[t], out=dr)  # ... and through n = tanh(... + r * hn) to r's
        d_rec[t, :, : 2 * H] = d_x[t, :, : 2 * H]
        np.multiply(dn, r[t], out=d_rec[t, :, 2 * H :])
        if mask is not None:
            np.copyto(d_x[t], 0, where=~mask[t])
            np.copyto(d_rec[t], 0, where=~mask[t])
            dh *= np.where(mask[t], z[t], 1)  # padded step: dh passes through whole
        else:
            dh *= z[t]  # direct path h_t = ... + z * h_{t-1}
        dh += np.matmul(d_rec[t], W_hh, out=scratch)  # (B, H)
    d_rec2 = d_rec.reshape(T * B, 3 * H)
    d_W_hh = d_rec2.T @ previous_states(h, reverse).reshape(T * B, H)  # all steps, one product
    return d_x, dh, d_W_hh, d_rec2.sum(axis=0)

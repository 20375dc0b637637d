"""The LSTM cell run over a sequence, forward and backward side by side.

    i = sigmoid(W_ii x_t + b_ii + W_hi h_{t-1} + b_hi)      input gate
    f = sigmoid(W_if x_t + b_if + W_hf h_{t-1} + b_hf)      forget gate
    g = tanh(W_ig x_t + b_ig + W_hg h_{t-1} + b_hg)         candidate cell
    o = sigmoid(W_io x_t + b_io + W_ho h_{t-1} + b_ho)      output gate
    c_t = f * c_{t-1} + i * g
    h_t = o * tanh(c_t)

Gates are stacked in PyTorch's order (i, f, g, o) along the last axis of size 4H, so
`weight_ih` (4H, I) and `weight_hh` (4H, H) load unchanged from `torch.nn.LSTM`.
"""

import numpy as np

from rnnlab.nn.functional import Workspace, padded_states, previous_states, recurrent_weight, time_steps


def lstm_forward(x_proj, h0, c0, W_hh, b_hh, mask=None, reverse=False, ws=None):
    """One direction of one layer.

    x_proj: (T, B, 4H) input projections W_ih x_t + b_ih, overwritten with the gate activations.
    h0, c0: (B, H). W_hh: (4H, H). b_hh: (4H,) or None. mask: (T, B, 1) bool or None.
    ws: a `Workspace` to reuse arrays from the previous call (None: fresh arrays).
    Returns hidden states and cell states, each (T+2, B, H) (see `padded_states`), and the cache.
    """
    T, B, G = x_proj.shape
    H = G // 4
    if b_hh is not None:
        x_proj += b_hh  # b_hh adds like b_ih: fold it in once for all steps
    # sigmoid(x) = (1 + tanh(x / 2)) / 2. Halving the i, f, o columns of the pre-activations once
    # (exact in floating point) lets one tanh over the whole (B, 4H) block do all four gates.
    half = np.where(np.arange(G) // H == 2, 1, 0.5).astype(x_proj.dtype)  # (4H,): 1 for g, 1/2 for i, f, o
    x_proj *= half
    W_hhT, step_scale = recurrent_weight(W_hh, half, T * B)  # (H, 4H)
    ws, dtype = ws or Workspace(), x_proj.dtype
    h = padded_states(ws.empty("h", (T + 2, B, H), dtype), h0, reverse)
    c = padded_states(ws.empty("c", (T + 2, B, H), dtype), c0, reverse)
    tanh_c = ws.empty("tanh_c", (T, B, H), dtype)
    recurrent = ws.empty("recurrent", (B, G), dtype)  # scratch, reused every step
    input_times_cell = ws.empty("i*g", (B, H), dtype)
    step = -1 if reverse else 1
    for t in time_steps(T, reverse):
        prev, now = t + 1 - step, t + 1
        gates = x_proj[t]  # (B, 4H)
        np.matmul(h[prev], W_hhT, out=recurrent)
        if step_scale is not None:
            recurrent *= step_scale
        gates += recurrent
        i, f, g, o = gates[:, :H], gates[:, H : 2 * H], gates[:, 2 * H : 3 * H], gates[:, 3 * H :]
        np.tanh(gates, out=gates)  # g = tanh(x_g); i, f, o hold tanh(x / 2) ...
        for sig in (gates[:, : 2 * H], o):  # ... and become (1 + tanh(x / 2)) / 2 = sigmoid(x)
            sig *= 0.5
            sig += 0.5
        np.multiply(f, c[prev], out=c[now])
        c[now] += np.multiply(i, g, out=input_times_cell)
        np.tanh(c[now], out=tanh_c[t])
        np.multiply(o, tanh_c[t], out=h[now])
        if mask is not None:  # padded step: carry both states over
            np.copyto(h[now], h[prev], where=~mask[t])
            np.copyto(c[now], c[prev], where=~mask[t])
    return h, c, (x_proj, h, c, tanh_c, W_hh, mask, reverse)


def lstm_backward(d_out, d_h_n, d_c_n, cache, ws=None):
    """Backpropagation through time for `lstm_forward`.

    d_out: (T, B, H) gradient of the outputs (zero at padded steps); d_h_n, d_c_n: (B, H) or None.
    Returns d_x_proj (T, B, 4H), d_h0 (B, H), d_c0 (B, H), d_W_hh (4H, H) and d_b_hh = None: b_hh was
    folded into the input projection, so its gradient is the input bias's (the layer sums d_x_proj once).
    """
    gates, h, c, tanh_c, W_hh, mask, reverse = cache
    T, B, H = d_out.shape
    step = -1 if reverse else 1
    ws = ws or Workspace()
    # What does not depend on the incoming gradient, for all steps at once:
    slope = ws.empty("slope", gates.shape, gates.dtype)  # (T, B, 4H) each gate's activation derivative
    np.subtract(1, gates, out=slope)
    slope *= gates  # sigmoid' = s (1 - s) for i, f, o ...
    np.multiply(gates[:, :, 2 * H : 3 * H], gates[:, :, 2 * H : 3 * H], out=slope[:, :, 2 * H : 3 * H])
    np.subtract(1, slope[:, :, 2 * H : 3 * H], out=slope[:, :, 2 * H : 3 * H])  # ... tanh' = 1 - g^2 for g
    o_dtanh = ws.empty("o_dtanh", tanh_c.shape, tanh_c.dtype)  # (T, B, H) d h / d c = o * (1 - tanh(c)^2)
    np.multiply(tanh_c, tanh_c, out=o_dtanh)
    np.subtract(1, o_dtanh, out=o_dtanh)
    o_dtanh *= gates[:, :, 3 * H :]

    d_gates = ws.empty("d_gates", gates.shape, gates.dtype)  # (T, B, 4H) gradient of the gate pre-activations
    dh = np.zeros((B, H), d_out.dtype) if d_h_n is None else d_h_n.copy()  # from step t+1
    dc = np.zeros((B, H), d_out.dtype) if d_c_n is None else d_c_n.copy()
    scratch = ws.empty("scratch", (B, H), d_out.dtype)
    for t in time_steps(T, not reverse):
        i, f, g = gates[t, :, :H], gates[t, :, H : 2 * H], gates[t, :, 2 * H : 3 * H]
        di, df, dg, do = (d_gates[t, :, k * H : (k + 1) * H] for k in range(4))
        dh += d_out[t]
        if mask is not None:
            dh_carried, dc_carried = np.where(mask[t], 0, dh), np.where(mask[t], 0, dc)
        np.multiply(dh, tanh_c[t], out=do)  # h = o * tanh(c): to o ...
        dc += np.multiply(dh, o_dtanh[t], out=scratch)  # ... and to c
        np.multiply(dc, g, out=di)  # c = f * c_prev + i * g: to i, f, g
        np.multiply(dc, c[t + 1 - step], out=df)
        np.multiply(dc, i, out=dg)
        d_gates[t] *= slope[t]  # through the nonlinearities
        dc *= f  # to c_{t-1}
        if mask is not None:
            np.copyto(d_gates[t], 0, where=~mask[t])
            np.copyto(dc, dc_carried, where=~mask[t])
            np.matmul(d_gates[t], W_hh, out=dh)  # (B, H) to h_{t-1}
            dh += dh_carried
        else:
            np.matmul(d_gates[t], W_hh, out=dh)
    d_gates2 = d_gates.reshape(T * B, 4 * H)
    d_W_hh = d_gates2.T @ previous_states(h, reverse).reshape(T * B, H)  # all steps, one product
    return d_gates, dh, dc, d_W_hh, None

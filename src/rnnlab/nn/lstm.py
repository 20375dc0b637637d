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

from rnnlab.nn.functional import padded_states, previous_states, sigmoid_, time_steps


def lstm_forward(x_proj, h0, c0, W_hh, b_hh, mask=None, reverse=False):
    """One direction of one layer.

    x_proj: (T, B, 4H) input projections W_ih x_t + b_ih, overwritten with the gate activations.
    h0, c0: (B, H). W_hh: (4H, H). b_hh: (4H,) or None. mask: (T, B, 1) bool or None.
    Returns hidden states and cell states, each (T+2, B, H) (see `padded_states`), and the cache.
    """
    T, B, G = x_proj.shape
    H = G // 4
    if b_hh is not None:
        x_proj += b_hh  # b_hh adds like b_ih: fold it in once for all steps
    h, c = padded_states(h0, T, reverse), padded_states(c0, T, reverse)
    tanh_c = np.empty((T, B, H), x_proj.dtype)
    recurrent = np.empty((B, G), x_proj.dtype)
    step = -1 if reverse else 1
    W_hhT = W_hh.T
    for t in time_steps(T, reverse):
        prev, now = t + 1 - step, t + 1
        gates = x_proj[t]  # (B, 4H)
        gates += np.matmul(h[prev], W_hhT, out=recurrent)
        i, f, g, o = gates[:, :H], gates[:, H : 2 * H], gates[:, 2 * H : 3 * H], gates[:, 3 * H :]
        sigmoid_(gates[:, : 2 * H])  # i and f
        np.tanh(g, out=g)
        sigmoid_(o)
        np.multiply(f, c[prev], out=c[now])
        c[now] += i * g
        np.tanh(c[now], out=tanh_c[t])
        np.multiply(o, tanh_c[t], out=h[now])
        if mask is not None:  # padded step: carry both states over
            np.copyto(h[now], h[prev], where=~mask[t])
            np.copyto(c[now], c[prev], where=~mask[t])
    return h, c, (x_proj, h, c, tanh_c, W_hh, mask, reverse)


def lstm_backward(d_out, d_h_n, d_c_n, cache):
    """Backpropagation through time for `lstm_forward`.

    d_out: (T, B, H) gradient of the outputs (zero at padded steps); d_h_n, d_c_n: (B, H) or None.
    Returns d_x_proj (T, B, 4H), d_h0 (B, H), d_c0 (B, H), d_W_hh (4H, H), d_b_hh (4H,).
    """
    gates, h, c, tanh_c, W_hh, mask, reverse = cache
    T, B, H = d_out.shape
    step = -1 if reverse else 1
    d_gates = np.empty_like(gates)  # (T, B, 4H) gradient of the gate pre-activations
    dh = np.zeros((B, H), d_out.dtype) if d_h_n is None else d_h_n.copy()  # from step t+1
    dc = np.zeros((B, H), d_out.dtype) if d_c_n is None else d_c_n.copy()
    for t in time_steps(T, not reverse):
        prev = t + 1 - step
        i, f, g, o = (gates[t, :, k * H : (k + 1) * H] for k in range(4))
        di, df, dg, do = (d_gates[t, :, k * H : (k + 1) * H] for k in range(4))
        dh += d_out[t]
        if mask is not None:
            dh_carried, dc_carried = np.where(mask[t], 0, dh), np.where(mask[t], 0, dc)
        np.multiply(dh, tanh_c[t], out=do)  # dL/do
        dc += dh * o * (1 - tanh_c[t] ** 2)  # through h = o * tanh(c)
        np.multiply(dc, g, out=di)  # dL/di
        np.multiply(dc, c[prev], out=df)  # dL/df
        np.multiply(dc, i, out=dg)  # dL/dg
        d_gates[t, :, : 2 * H] *= gates[t, :, : 2 * H] * (1 - gates[t, :, : 2 * H])  # sigmoid'
        do *= o * (1 - o)
        dg *= 1 - g * g  # tanh'
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
    return d_gates, dh, dc, d_W_hh, d_gates2.sum(axis=0)

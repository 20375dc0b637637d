"""Compiled float32 versions of the LSTM and GRU per-step cells, `add_rows`, Adagrad's update and clipping (numba).

Each function here does exactly what the NumPy function of the same name in `lstm.py`, `gru.py`,
`rnn.py`, `functional.py` or `optim/optimizers.py` does, and takes the same arguments; the tests run
both and compare. Why they
exist: a NumPy cell step is a dozen separate passes over small arrays (add, tanh, scale,
multiply, ...), each paying for a call and a trip through memory. Here one loop over each
row does the whole step while the numbers sit in registers, and that loop is compiled to
8-wide AVX instructions. Two details make that happen:

- `tanh` below is a rational approximation (Eigen's, as TensorFlow uses on the CPU):
  plain arithmetic that compiles to vector instructions, unlike a call to the C
  library's `tanhf`. Its error is below 3.5e-7, about 4 float32 units in the last place.
- Every loop runs over one row (`gates[b]`, a 1-D contiguous view), which the compiler
  vectorises; indexing `gates[b, H + j]` directly defeats it.

The time loop, the matrix products and float64 stay in NumPy (see `functional.fused`), except for
the Elman RNN when its state is small (at most 128 units; min-char-rnn has 100): then a dozen NumPy calls
per step cost more than the arithmetic, and `rnn_sequence_forward` / `rnn_sequence_backward` run the
whole time loop, product included, compiled. Their products take four rows of the weight matrix at
a time: the partial sums are loaded and stored a quarter as often, and the loop no longer slows
down by up to 3x when the sums happen to sit a multiple of 4 KiB from a weight row (the processor
then mistakes its loads for reloads of a pending store); each sum is added in the same order, so the
numbers are those of a row at a time. The LSTM's and GRU's time loops run compiled whole too when their
step products go through MKL's packed weight (`packed.loop_for`; MKL is called through its C function): the
same products and steps as the Python loop, with Python's lock released once a run instead of twice a step.
(A process's first compiled call costs ~0.5 s.)
"""

import numpy as np
from numba import njit

# IEEE division, fused multiply-add; nogil: the shards of a batch run these in parallel threads (`parallel.py`)
_compile = njit(cache=True, nogil=True, error_model="numpy", fastmath={"contract"})

_f = np.float32  # constants typed float32, or numba computes in float64
ZERO, HALF, ONE, CLAMP = _f(0.0), _f(0.5), _f(1.0), _f(7.90531110763549805)  # tanh(x) rounds to +-1 beyond the clamp
A1, A3, A5, A7 = _f(4.89352455891786e-03), _f(6.37261928875436e-04), _f(1.48572235717979e-05), _f(5.12229709037114e-08)
A9, A11, A13 = _f(-8.60467152213735e-11), _f(2.00018790482477e-13), _f(-2.76076847742355e-16)
B0, B2, B4, B6 = _f(4.89352518554385e-03), _f(2.26843463243900e-03), _f(1.18534705686654e-04), _f(1.19825839466702e-06)


@njit(inline="always", error_model="numpy", fastmath={"contract"})
def tanh(x):
    """tanh(x) ~ x p(x^2) / q(x^2), odd numerator of degree 13 over even denominator of degree 6."""
    x = min(max(x, -CLAMP), CLAMP)
    x2 = x * x
    p = ((((((A13 * x2 + A11) * x2 + A9) * x2 + A7) * x2 + A5) * x2 + A3) * x2 + A1) * x
    q = ((B6 * x2 + B4) * x2 + B2) * x2 + B0
    return p / q


@njit(inline="always")
def quarters(row, H):
    """(4H,) -> four (H,) views: the LSTM's gates i, f, g, o."""
    return row[:H], row[H : 2 * H], row[2 * H : 3 * H], row[3 * H :]


@njit(inline="always")
def thirds(row, H):
    """(3H,) -> three (H,) views: the GRU's gates r, z, n."""
    return row[:H], row[H : 2 * H], row[2 * H :]


@_compile
def lstm_cell_forward(gates, recurrent, h_prev, c_prev, h, c, tanh_c, keep):
    B, H = h.shape
    for b in range(B):
        if keep is not None:
            if not keep[b]:  # padded step: carry both states over
                h[b], c[b] = h_prev[b], c_prev[b]
                continue
        x_i, x_f, x_g, x_o = quarters(gates[b], H)
        r_i, r_f, r_g, r_o = quarters(recurrent[b], H)
        hb, cb, tb, cpb = h[b], c[b], tanh_c[b], c_prev[b]
        for j in range(H):  # sigmoid(x) = (1 + tanh(x / 2)) / 2
            i = HALF * tanh(HALF * (x_i[j] + r_i[j])) + HALF
            f = HALF * tanh(HALF * (x_f[j] + r_f[j])) + HALF
            g = tanh(x_g[j] + r_g[j])
            o = HALF * tanh(HALF * (x_o[j] + r_o[j])) + HALF
            x_i[j], x_f[j], x_g[j], x_o[j] = i, f, g, o
            cbj = f * cpb[j] + i * g
            cb[j] = cbj
            tb[j] = tanh(cbj)
            hb[j] = o * tb[j]


@_compile
def lstm_cell_backward(d_out, dh, dc, acts, tanh_c, c_prev, d_gates, keep):
    B, H = dh.shape
    for b in range(B):
        dhb, dcb = dh[b], dc[b]
        d_i, d_f, d_g, d_o = quarters(d_gates[b], H)
        if keep is not None:
            if not keep[b]:  # padded step: dh and dc pass through, the gates get nothing
                d_gates[b] = 0
                dhb += d_out[b]
                continue
        i, f, g, o = quarters(acts[b], H)
        tb, cpb, db = tanh_c[b], c_prev[b], d_out[b]
        for j in range(H):
            dhj = dhb[j] + db[j]
            dcj = dcb[j] + dhj * o[j] * (ONE - tb[j] * tb[j])  # h = o tanh(c)
            d_o[j] = dhj * tb[j] * o[j] * (ONE - o[j])
            d_i[j] = dcj * g[j] * i[j] * (ONE - i[j])  # c = f c_prev + i g
            d_f[j] = dcj * cpb[j] * f[j] * (ONE - f[j])
            d_g[j] = dcj * i[j] * (ONE - g[j] * g[j])
            dcb[j] = dcj * f[j]
            dhb[j] = 0


@njit(inline="always")
def step_product(W, a, out):
    """out (b, N) = a (b, K) @ W by MKL's packed W: W = (cblas_sgemm_compute, packed bytes, K, N) (`packed.StepWeight`).
    a and out: float32 rows of contiguous elements (strides in elements: bytes // 4)."""
    compute, packed, K, N = W
    compute(101, 111, 151, a.shape[0], N, K, a.ctypes.data, a.strides[0] // 4, packed.ctypes.data, N, ZERO,
            out.ctypes.data, out.strides[0] // 4)  # packed.py's _ROW_MAJOR, _NO_TRANS, _PACKED, as literals:
    # importing them would close an import cycle (functional -> kernels -> packed -> functional)


@njit(inline="always")
def add_into(target, values):
    """target (b, n) += values (b, n), element by element (NumPy's `+=`, the same sums)."""
    for b in range(target.shape[0]):
        row, add = target[b], values[b]
        for j in range(row.shape[0]):
            row[j] += add[j]


@_compile
def lstm_sequence_forward(x_proj, h, c, tanh_c, recurrent, W, keep, reverse):
    T = x_proj.shape[0]
    step = -1 if reverse else 1
    for k in range(T):  # `lstm.lstm_sequence_forward`, the whole loop compiled
        t = T - 1 - k if reverse else k
        prev, now = t + 1 - step, t + 1
        step_product(W, h[prev], recurrent)
        if keep is None:
            lstm_cell_forward(x_proj[t], recurrent, h[prev], c[prev], h[now], c[now], tanh_c[t], None)
        else:
            lstm_cell_forward(x_proj[t], recurrent, h[prev], c[prev], h[now], c[now], tanh_c[t], keep[t])


@_compile
def lstm_sequence_backward(d_out, dh, dc, gates, tanh_c, c, d_gates, scratch, W, keep, reverse):
    T = d_out.shape[0]
    step = -1 if reverse else 1
    for k in range(T):  # `lstm.lstm_sequence_backward`, the whole loop compiled
        t = k if reverse else T - 1 - k
        if keep is None:
            lstm_cell_backward(d_out[t], dh, dc, gates[t], tanh_c[t], c[t + 1 - step], d_gates[t], None)
            step_product(W, d_gates[t], dh)
        else:
            lstm_cell_backward(d_out[t], dh, dc, gates[t], tanh_c[t], c[t + 1 - step], d_gates[t], keep[t])
            step_product(W, d_gates[t], scratch)
            add_into(dh, scratch)


@_compile
def gru_cell_forward(gates, recurrent, b_hn, h_prev, h, hn, keep):
    B, H = h.shape
    for b in range(B):
        if keep is not None:
            if not keep[b]:  # padded step: carry the state over
                h[b] = h_prev[b]
                continue
        x_r, x_z, x_n = thirds(gates[b], H)
        r_r, r_z, r_n = thirds(recurrent[b], H)
        hb, hpb, hnb = h[b], h_prev[b], hn[b]
        for j in range(H):  # sigmoid(x) = (1 + tanh(x / 2)) / 2
            r = HALF * tanh(HALF * (x_r[j] + r_r[j])) + HALF
            z = HALF * tanh(HALF * (x_z[j] + r_z[j])) + HALF
            hnb[j] = r_n[j] if b_hn is None else r_n[j] + b_hn[j]
            n = tanh(x_n[j] + r * hnb[j])
            x_r[j], x_z[j], x_n[j] = r, z, n
            hb[j] = n + z * (hpb[j] - n)


@_compile
def gru_cell_backward(d_out, dh, acts, hn, h_prev, d_x, d_rec, keep):
    B, H = dh.shape
    for b in range(B):
        dhb, db = dh[b], d_out[b]
        if keep is not None:
            if not keep[b]:  # padded step: dh passes through, the gates get nothing
                d_x[b] = 0
                d_rec[b] = 0
                dhb += db
                continue
        r, z, n = thirds(acts[b], H)
        d_r, d_z, d_n = thirds(d_x[b], H)
        dr_r, dr_z, dr_n = thirds(d_rec[b], H)
        hnb, hpb = hn[b], h_prev[b]
        for j in range(H):
            dhj = dhb[j] + db[j]
            d_z[j] = dhj * (hpb[j] - n[j]) * z[j] * (ONE - z[j])  # h = n + z (h_prev - n)
            d_n[j] = dhj * (ONE - z[j]) * (ONE - n[j] * n[j])
            d_r[j] = d_n[j] * hnb[j] * r[j] * (ONE - r[j])  # n = tanh(x_n + r hn)
            dr_r[j], dr_z[j], dr_n[j] = d_r[j], d_z[j], d_n[j] * r[j]
            dhb[j] = dhj * z[j]


@_compile
def rnn_sequence_forward(x_proj, states, W_hhT, recurrent, relu, keep, reverse):
    T, B, H = x_proj.shape
    for k in range(T):
        t = T - 1 - k if reverse else k
        prev, now = (t + 2, t + 1) if reverse else (t, t + 1)
        for b in range(B):
            h, h_prev, r, x = states[now, b], states[prev, b], recurrent[b], x_proj[t, b]
            if keep is not None:
                if not keep[t, b]:  # padded step: carry the state over
                    h[:] = h_prev
                    continue
            r[:] = x
            fours = H - H % 4
            for i in range(0, fours, 4):  # r += h_prev @ W_hhT, four rows of W_hhT at a time (contiguous, vectorised)
                v0, v1, v2, v3 = h_prev[i], h_prev[i + 1], h_prev[i + 2], h_prev[i + 3]
                w0, w1, w2, w3 = W_hhT[i], W_hhT[i + 1], W_hhT[i + 2], W_hhT[i + 3]
                for j in range(H):  # (r[j] + v0 w0[j]) + v1 w1[j] ...: the same sums as a row at a time
                    r[j] = r[j] + v0 * w0[j] + v1 * w1[j] + v2 * w2[j] + v3 * w3[j]
            for i in range(fours, H):  # the last H % 4 rows
                v, w = h_prev[i], W_hhT[i]
                for j in range(H):
                    r[j] += v * w[j]
            for j in range(H):
                h[j] = max(r[j], ZERO) if relu else tanh(r[j])


@_compile
def rnn_sequence_backward(d_out, dh, slope, d_pre, W_hh, scratch, keep, reverse):
    T, B, H = d_out.shape
    for k in range(T):
        t = k if reverse else T - 1 - k
        for b in range(B):
            g, d, s, o = dh[b], d_pre[t, b], slope[t, b], d_out[t, b]
            if keep is not None:
                if not keep[t, b]:  # padded step: dh + d_out passes through, the pre-activation gets nothing
                    for j in range(H):
                        g[j] += o[j]
                        d[j] = ZERO
                    continue
            for j in range(H):
                d[j] = (g[j] + o[j]) * s[j]
                g[j] = ZERO
            fours = H - H % 4
            for j in range(0, fours, 4):  # dh = d_pre @ W_hh, four rows of W_hh at a time (as in the forward loop)
                v0, v1, v2, v3 = d[j], d[j + 1], d[j + 2], d[j + 3]
                w0, w1, w2, w3 = W_hh[j], W_hh[j + 1], W_hh[j + 2], W_hh[j + 3]
                for i in range(H):
                    g[i] = g[i] + v0 * w0[i] + v1 * w1[i] + v2 * w2[i] + v3 * w3[i]
            for j in range(fours, H):
                v, w = d[j], W_hh[j]
                for i in range(H):
                    g[i] += v * w[i]


@_compile
def adagrad_update(data, grad, state_sum, clr, eps, tmp):
    for i in range(data.shape[0]):  # `rnnlab.optim.optimizers.adagrad_update`, in one pass (tmp unused)
        g = grad[i]
        state_sum[i] += g * g
        data[i] -= g / (np.sqrt(state_sum[i]) + eps) * clr


@_compile
def clip_values(g, low, high):
    for i in range(g.shape[0]):  # `rnnlab.optim.clip.clip_values`: NaN compares false and stays NaN, as in NumPy
        v = g[i]
        if v < low:
            v = low
        elif v > high:
            v = high
        g[i] = v


@_compile
def gru_sequence_forward(x_proj, h, hn, recurrent, b_hn, W, keep, reverse):
    T = x_proj.shape[0]
    step = -1 if reverse else 1
    for k in range(T):  # `gru.gru_sequence_forward`, the whole loop compiled
        t = T - 1 - k if reverse else k
        prev, now = t + 1 - step, t + 1
        step_product(W, h[prev], recurrent)
        if keep is None:
            gru_cell_forward(x_proj[t], recurrent, b_hn, h[prev], h[now], hn[t], None)
        else:
            gru_cell_forward(x_proj[t], recurrent, b_hn, h[prev], h[now], hn[t], keep[t])


@_compile
def gru_sequence_backward(d_out, dh, gates, hn, h, d_x, d_rec, scratch, W, keep, reverse):
    T = d_out.shape[0]
    step = -1 if reverse else 1
    for k in range(T):  # `gru.gru_sequence_backward`, the whole loop compiled
        t = k if reverse else T - 1 - k
        if keep is None:
            gru_cell_backward(d_out[t], dh, gates[t], hn[t], h[t + 1 - step], d_x[t], d_rec[t], None)
        else:
            gru_cell_backward(d_out[t], dh, gates[t], hn[t], h[t + 1 - step], d_x[t], d_rec[t], keep[t])
        step_product(W, d_rec[t], scratch)
        add_into(dh, scratch)


@_compile
def add_rows(target, ids, values):
    for n in range(ids.shape[0]):  # NumPy's add.at takes a slow path per element; this adds whole rows
        row, value = target[ids[n]], values[n]
        for k in range(row.shape[0]):
            row[k] += value[k]

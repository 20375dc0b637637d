"""How the layers and directions of a recurrent layer run, forward and back (`recurrent.RNNBase`).

    for each layer l:          input (T, B, I_l), I_0 = input_size, I_l = D*S above (S: size of h)
        dropout on the input   (training, l > 0 only, as PyTorch does)
        for each direction:    x_proj = input @ W_ih.T + b_ih    one product per run of steps
                               run the cell over time            forward or reverse
        output (T, B, D*S)     the directions side by side, zero at padded steps

Every direction of every layer runs its time loop through a `parallel.Relay`, in runs of steps.
One-way layers stacked two deep or more run at the same time, each in its own thread, one run of
steps behind the layer below (about RUNS runs): after each run a layer hands its outputs on (masked,
dropped out) and computes the first half of the next layer's input projections for them, and that
layer computes the other half. Backward, the other way round: a layer below the top computes its
output gradient from the layer above's input-projection gradients, run by run. Otherwise (one layer,
or two directions) the layers run one after the other, each in one run, and a layer's two directions
run side by side. Which way is fixed by the layer's shape, never by the number of threads, so the
numbers do not depend on it.
"""

from __future__ import annotations

import functools

import numpy as np

from rnnlab.nn.functional import add_rows, fused, span, time_chunks, time_steps
from rnnlab.nn.parallel import Relay, matmul, run_all
from rnnlab.nn.utils.checks import dropout_scale

RUNS = 16  # stacked one-way layers hand steps on in about this many runs ...
RUN_ROWS = 64  # ... of this many rows (steps x batch) at least


def runs(layer, T: int, B: int, reverse: bool) -> list[range] | None:
    """The runs of steps of a stack of one-way layers, visited forward or in reverse; None when the layers
    run one after the other (also when the steps make a single run)."""
    if layer.num_directions == 2 or layer.num_layers == 1:
        return None
    chunks = time_chunks(T, reverse, max(-(-T // RUNS), -(-RUN_ROWS // B)))
    return chunks if len(chunks) > 1 else None


def dropout_mask(layer, shape: tuple[int, ...]) -> np.ndarray | None:
    """Dropout on the input of a layer above the first: (T, B, D*S) of 0 and 1/(1-p), or None (no dropout)."""
    if not (layer.training and layer.dropout > 0):
        return None
    keep = layer.generator.random(shape) >= layer.dropout
    return keep.astype(layer.dtype) * layer.dtype.type(dropout_scale(layer.dropout))


def input_projection(layer_input, table, W_ih, b_ih, out) -> None:
    """out (T, B, G) = W_ih x_t + b_ih for every step: one product over all steps, or table rows by id."""
    T, B, _ = out.shape
    if table is None:
        matmul(layer_input.reshape(T * B, -1), W_ih.T, out=out.reshape(T * B, -1))
        if b_ih is not None:
            out += b_ih
        return
    rows = table @ W_ih.T  # (V, G)
    if b_ih is not None:
        rows += b_ih
    out.reshape(T * B, -1)[:] = rows[layer_input.ravel()]


def forward(m, x, table, h0, c0, mask):
    """The layers of `m` over x (T, B, I) (or ids (T, B) with a table (V, I)), from h0 (L*D, B, S), c0 or None.

    mask: (T, B, 1) bool or None. Returns output (T, B, D*S), h_n, c_n (None unless LSTM) and the cache
    for `backward`.
    """
    T, B = x.shape[:2]
    L, D, S = m.num_layers, m.num_directions, m._state_size()
    G = m.gate_count * m.hidden_size
    is_lstm = c0 is not None
    h_n, c_n = np.empty_like(h0), (np.empty_like(c0) if is_lstm else None)
    steps_run = runs(m, T, B, reverse=False)
    drops = [None] + [dropout_mask(m, (T, B, D * S)) for _ in range(1, L)]  # drawn here, layer by layer
    outputs = [np.empty((T, B, D * S), m.dtype) for _ in range(L)]
    inputs = [x] + [outputs[k - 1] if drops[k] is None else np.empty_like(outputs[k - 1]) for k in range(1, L)]
    x_projs = [ws.empty("x_proj", (T, B, G), m.dtype) for ws in m._workspaces]  # per layer and direction
    # W_ih^T (D*S, G) of the layers above the first, contiguous when they project run by run: BLAS multiplies a
    # few rows by it up to 1.35x faster than by the transposed view (the same numbers), which repays the copy
    W_ihT = [np.ascontiguousarray(m._weights(index // D, index % D)[0].data.T) if steps_run and index >= D else None
             for index in range(L * D)]

    def project(layer, direction, steps, part):  # rows `part` of x_proj[steps] = input[steps] @ W_ih^T + b_ih
        W_ih, _, *biases = m._weights(layer, direction)
        out = x_projs[layer * D + direction][steps].reshape(-1, G)[part]
        weight = W_ihT[layer * D + direction]
        matmul(inputs[layer][steps].reshape(-1, D * S)[part], W_ih.data.T if weight is None else weight, out=out)
        if biases:
            out += biases[0].data

    def receive(layer, direction):  # before each run: the layer below done with it; this run's projections
        def before(k, steps):
            for below in relays[layer - 1]:
                below.wait(k)
            rows = len(steps) * B
            project(layer, direction, span(steps), slice(rows // 2 if steps_run else 0, rows))
        return before

    def send(layer, direction):  # after each run: its outputs, masked, dropped out, half projected (one-way)
        columns = slice(direction * S, (direction + 1) * S)

        def after(k, steps):
            s = span(steps)
            out = outputs[layer][s, :, columns]
            out[...] = relays[layer][direction].handed[s.start + 1 : s.stop + 1]  # states[t + 1]: after step t
            if mask is not None:
                np.copyto(out, 0, where=~mask[s])
            if layer + 1 < L and drops[layer + 1] is not None:
                np.multiply(out, drops[layer + 1][s, :, columns], out=inputs[layer + 1][s, :, columns])
            if layer + 1 < L and steps_run:
                project(layer + 1, 0, s, slice(0, len(steps) * B // 2))
        return after

    relays = [[Relay(steps_run or [time_steps(T, direction == 1)], receive(layer, direction) if layer else None,
                     send(layer, direction)) for direction in range(D)] for layer in range(L)]
    caches = [[None] * D for _ in range(L)]

    def run(layer, direction):
        W_ih, W_hh, *biases = m._weights(layer, direction)
        b_ih, b_hh = (biases[0].data, biases[1].data) if biases else (None, None)
        index, reverse = layer * D + direction, direction == 1
        if layer == 0:  # the whole input is here: its projections at once
            input_projection(x, table, W_ih.data, b_ih, x_projs[index])
        W_hr = m._projection(layer, direction)  # (P, H), or None: no projection
        h, c, caches[layer][direction] = m._cell_forward(
            x_projs[index], h0[index], c0[index] if is_lstm else None, W_hh.data, b_hh, mask, reverse,
            m._workspaces[index], relays[layer][direction], **({} if W_hr is None else {"W_hr": W_hr.data}))
        last = 1 if reverse else T  # the state after the final step visited
        h_n[index] = h[last]
        if is_lstm:
            c_n[index] = c[last]

    def run_layer(layer):
        run_all(functools.partial(run, layer), list(range(D)), together=True)  # the two directions side by side

    try:  # the layers at the same time, each a run behind the one below; or one after the other
        run_all(run_layer, list(range(L)), together=steps_run is not None)
    finally:
        relays.clear()  # they and the functions above refer to each other: free the arrays now, not at the next GC
    return outputs[-1], h_n, c_n, (list(zip(inputs, drops, caches, strict=True)), table, mask)


def backward(m, cache, d_output, d_h_n, d_c_n):
    """Back through `forward`: d_output (T, B, D*S) (time-major), d_h_n, d_c_n: like h_n, c_n, or None.

    Adds the parameter gradients to `.grad`; returns d_x (T, B, I) (after a table: d table (V, I)), d_h0,
    d_c0 (None unless LSTM), and d x_t per step (T*B, I) after a table when `record_input_grads`, else None.
    """
    layers, table, mask = cache
    T, B = d_output.shape[:2]
    L, D, S = m.num_layers, m.num_directions, m._state_size()
    is_lstm = m.gate_count == 4
    steps_run = runs(m, T, B, reverse=True)
    d_outs = [np.empty((T, B, D * S), m.dtype) for _ in range(L - 1)]  # each layer's output gradient
    d_outs.append(np.where(mask, d_output, 0) if mask is not None else d_output)
    d_h0 = np.zeros((L * D, B, S), m.dtype)
    d_c0 = np.zeros((L * D, B, m.hidden_size), m.dtype) if is_lstm else None
    d_tables, d_steps = [None] * D, [None] * D  # after a table: d table (V, I), d x_t per step (T*B, I)

    def input_grad(layer, steps, out):  # out (steps, B, I): d input[steps] = sum of d x_proj[steps] @ W_ih
        flat = out.reshape(-1, out.shape[-1])
        for direction, relay in enumerate(relays[layer]):
            d_proj = relay.handed[steps].reshape(len(flat), -1)  # (steps*B, G)
            W_ih = m._weights(layer, direction)[0].data
            if direction == 0:
                matmul(d_proj, W_ih, out=flat)
            else:
                flat += matmul(d_proj, W_ih)

    def receive(layer):  # before a run of a layer below the top: its output gradient, from the layer above
        def before(k, steps):
            for above in relays[layer + 1]:
                above.wait(k)
            s = span(steps)
            input_grad(layer + 1, s, d_outs[layer][s])
            drop = layers[layer + 1][1]
            if drop is not None:
                d_outs[layer][s] *= drop[s]
        return before

    relays = [[Relay(steps_run or [time_steps(T, direction == 0)], receive(layer) if steps_run and layer < L - 1
                     else None) for direction in range(D)] for layer in range(L)]

    def back(layer, direction):
        layer_input, _, caches = layers[layer]
        index = layer * D + direction
        W_ih, W_hh, *biases = m._weights(layer, direction)
        d_out = d_outs[layer][:, :, direction * S : (direction + 1) * S]
        dh_n = None if d_h_n is None else np.asarray(d_h_n, dtype=m.dtype)[index]
        dc_n = None if d_c_n is None else np.asarray(d_c_n, dtype=m.dtype)[index]
        d_x_proj, d_h0[index], dc0, d_W_hh, d_b_hh, *d_W_hr = m._cell_backward(
            d_out, dh_n, dc_n, caches[direction], m._workspaces[index], relays[layer][direction])
        if d_W_hr:  # with proj_size: the gradient of weight_hr
            m._projection(layer, direction).grad += d_W_hr[0]
        if is_lstm:
            d_c0[index] = dc0
        # the rows the input projection was made from: x (T*B, I) one per step, or the table (V, I)
        rows = layer_input.reshape(T * B, -1) if layer > 0 or table is None else table
        d_proj = d_x_proj.reshape(T * B, -1)  # (T*B, G), gradient of each row's projection ...
        if rows is table:  # ... summed per id: rows of the projection table (V, G)
            per_step, d_proj = d_proj, np.zeros((len(table), d_proj.shape[1]), m.dtype)
            fused(add_rows, m.dtype)(d_proj, layer_input.ravel(), per_step)
            d_tables[direction] = matmul(d_proj, W_ih.data)  # (V, I)
            if m.record_input_grads:  # d x_t per step, for the layer's gradient norms
                d_steps[direction] = per_step @ W_ih.data
        W_ih.grad += matmul(d_proj.T, rows)  # all steps, one product
        W_hh.grad += d_W_hh
        if biases:
            d_b_ih = d_proj.sum(axis=0)
            biases[0].grad += d_b_ih
            biases[1].grad += d_b_ih if d_b_hh is None else d_b_hh  # None: b_hh acts like b_ih

    def back_layer(layer):
        if layer < L - 1 and not steps_run:  # the layer above is done: this layer's output gradient at once
            receive(layer)(0, range(T))
        run_all(functools.partial(back, layer), list(range(D)), together=True)  # the two directions side by side

    try:  # from the top: the layers at the same time, each a run behind the one above; or one after the other
        run_all(back_layer, list(reversed(range(L))), together=steps_run is not None)
        if table is not None:
            per_step = sum(d_steps[1:], d_steps[0]) if m.record_input_grads else None
            return sum(d_tables[1:], d_tables[0]), d_h0, d_c0, per_step
        d_x = np.empty(layers[0][0].shape, m.dtype)
        input_grad(0, slice(0, T), d_x)
        return d_x, d_h0, d_c0, None
    finally:
        relays.clear()  # as in `forward`

"""How the layers and directions of a recurrent layer run, forward and back (`recurrent.RNNBase`).

    for each layer l:          input (T, B, I_l), I_0 = input_size, I_l = D*S above (S: size of h)
        dropout on the input   (training, l > 0 only, as PyTorch does)
        for each direction:    x_proj = input @ W_ih.T + b_ih    one product per run of steps
                               run the cell over time            forward or reverse
        output (T, B, D*S)     the directions side by side, zero at padded steps

One layer, or two directions: the layers run one after the other, and a layer's two directions
side by side. One-way layers stacked two deep or more run at the same time instead, each in its own
thread, one run of steps behind the layer below (about RUNS runs, each handed on by a `parallel.Relay`):
after each run a layer hands its outputs on (masked, dropped out), and the next layer's input projections
for them are shared by the two (`parallel.Shared`: whichever thread is free computes the next piece).
Backward, the other way round: a layer's output gradient comes from the input-projection gradients of the
layer above, run by run, shared the same way. Which way the layers run, and the pieces, are fixed by
their shape, never by the number of threads, so the numbers do not depend on it; the two ways agree to
rounding.
"""

from __future__ import annotations

import functools

import numpy as np

from rnnlab.nn.functional import add_rows, fused, span, time_chunks
from rnnlab.nn.packed import StepWeight
from rnnlab.nn.parallel import PIECES, Relay, Shared, matmul, run_all
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


def dropout_mask(layer, shape: tuple[int, ...], out: np.ndarray | None = None) -> np.ndarray | None:
    """Dropout on the input of a layer above the first: (T, B, D*S) of 0 and 1/(1-p) (written to `out` if given),
    or None (no dropout)."""
    if not (layer.training and layer.dropout > 0):
        return None
    keep = layer.generator.random(shape) >= layer.dropout
    return np.multiply(keep, layer.dtype.type(dropout_scale(layer.dropout)), out=out, dtype=layer.dtype)


def input_projection(layer_input, table, weights, out) -> None:
    """out (T, B, G) = W_ih x_t + b_ih for every step: one product over all steps, or table rows by id.
    weights: the direction's (W_ih, W_hh[, b_ih, b_hh]) parameters."""
    if table is not None:
        take_rows(projected_table(table, weights), layer_input, out, slice(None))
        return
    W_ih, b_ih = weights[0].data, (weights[2].data if len(weights) > 2 else None)
    T, B, _ = out.shape
    matmul(layer_input.reshape(T * B, -1), W_ih.T, out=out.reshape(T * B, -1))
    if b_ih is not None:
        out += b_ih


def projected_table(table, weights) -> np.ndarray:
    """(V, G): W_ih x + b_ih for each row x of the table (V, I)."""
    rows = table @ weights[0].data.T
    if len(weights) > 2:
        rows += weights[2].data
    return rows


def take_rows(rows, ids, out, steps: slice) -> None:
    """out[steps] (steps, B, G) = rows[ids[steps]], a few steps at a time: gathered whole into a temporary,
    a large batch would touch that many fresh pages, which takes twice as long (6400 x 2048: 23 ms, 9 ms)."""
    B, G = out.shape[1:]
    every = max(1, 2**18 // (B * G))  # steps a piece
    start, stop, _ = steps.indices(len(out))
    for t in range(start, stop, every):
        piece = slice(t, min(t + every, stop))
        out[piece] = rows[ids[piece]]


def forward(m, x, table, h0, c0, mask):
    """The layers of `m` over x (T, B, I) (or ids (T, B) with a table (V, I)), from h0 (L*D, B, S), c0 or None.

    mask: (T, B, 1) bool or None. Returns output (T, B, D*S), h_n, c_n (None unless LSTM) and the cache
    for `backward`: per layer its input, its dropout mask and its cells' caches; the table; the mask.
    """
    T, B = x.shape[:2]
    L, D, S = m.num_layers, m.num_directions, m._state_size()
    G = m.gate_count * m.hidden_size
    h_n, c_n = np.empty_like(h0), (None if c0 is None else np.empty_like(c0))
    steps_run = runs(m, T, B, reverse=False)
    if steps_run is not None:
        return _relayed_forward(m, x, table, h0, c0, mask, steps_run, h_n, c_n)
    layers, layer_input = [], x
    for layer in range(L):
        drop = dropout_mask(m, (T, B, D * S)) if layer else None  # drawn layer by layer
        if drop is not None:
            layer_input = layer_input * drop
        output, caches = np.empty((T, B, D * S), m.dtype), [None] * D

        def run(direction, layer=layer, layer_input=layer_input, output=output, caches=caches):
            index = layer * D + direction
            weights = m._weights(layer, direction)
            x_proj = m._workspaces[index].empty("x_proj", (T, B, G), m.dtype)
            input_projection(layer_input, table if layer == 0 else None, weights, x_proj)
            h, caches[direction] = cell_forward(m, layer, direction, weights, x_proj, h0, c0, mask, None, h_n, c_n)
            hand_on(output, direction, h, slice(0, T), mask)

        run_all(run, list(range(D)), together=True)  # the two directions side by side
        layers.append((layer_input, drop, caches))
        layer_input = output
    return layer_input, h_n, c_n, (layers, table, mask)


def _relayed_forward(m, x, table, h0, c0, mask, steps_run, h_n, c_n):
    """`forward` for one-way layers stacked two deep or more: all layers at the same time, each in its own
    thread, a run of steps behind the layer below, which hands each run's outputs on."""
    T, B = x.shape[:2]
    L, S = m.num_layers, m._state_size()
    G = m.gate_count * m.hidden_size
    # dropout masks (T, B, S) of the layers above the first, drawn layer by layer from one random stream: up front,
    # or, when there is just one, run by run by the first layer (the same numbers), so that the rest need not wait
    by_run = L == 2 and m.training and m.dropout > 0
    drops = [None] + [np.empty((T, B, S), m.dtype) if by_run else dropout_mask(m, (T, B, S)) for _ in range(1, L)]
    outputs = [np.empty((T, B, S), m.dtype) for _ in range(L)]
    inputs = [x] + [outputs[k - 1] if drops[k] is None else np.empty_like(outputs[k - 1]) for k in range(1, L)]
    x_projs = [ws.empty("x_proj", (T, B, G), m.dtype) for ws in m._workspaces]  # per layer
    caches = [[None] for _ in range(L)]
    W_ihT = [None] + [piece_weight(m._weights(layer, 0)[0].data.T, steps_run, B) for layer in range(1, L)]  # (S, G)

    def project(layer, steps, part):  # rows `part` of x_proj[steps] = input[steps] @ W_ih^T + b_ih
        s = span(steps)
        out = x_projs[layer][s].reshape(-1, G)[part]
        W_ihT[layer].dot(inputs[layer][s].reshape(-1, S)[part], out=out)
        _, _, *biases = m._weights(layer, 0)
        if biases:
            out += biases[0].data

    table_rows = None if table is None else projected_table(table, m._weights(0, 0))  # (V, G): taken by id
    # the projections of each layer above the first, shared by that layer and the one below
    shares = [None] + [Shared(steps_run, B, functools.partial(project, layer))
                       for layer in range(1, L)]

    def receive(layer):  # before each run: the layer below done with it; what is left of its projections
        def before(k, steps):
            if layer == 0:  # the run's dropout mask; its projections from the table (the layer above starts sooner)
                s = span(steps)
                if by_run:
                    dropout_mask(m, drops[1][s].shape, out=drops[1][s])
                if table is not None:
                    take_rows(table_rows, x, x_projs[0], s)
                return
            relays[layer - 1].wait(k)
            shares[layer].finish(k)
        return before

    def send(layer):  # after each run: its outputs, masked, dropped out (then it helps with their projections)
        def after(k, steps):
            s = span(steps)
            out = hand_on(outputs[layer], 0, relays[layer].handed, s, mask)
            if layer + 1 < L and drops[layer + 1] is not None:
                np.multiply(out, drops[layer + 1][s], out=inputs[layer + 1][s])
        return after

    relays = [Relay(steps_run, receive(layer) if layer or table is not None or by_run else None, send(layer),
                    shares[layer + 1].help if layer + 1 < L else None) for layer in range(L)]

    def run(layer):
        weights = m._weights(layer, 0)
        if layer == 0 and table is None:  # the whole input is here: its projections at once
            input_projection(x, None, weights, x_projs[0])
        _, caches[layer][0] = cell_forward(m, layer, 0, weights, x_projs[layer], h0, c0, mask, relays[layer], h_n, c_n)

    try:
        run_all(run, list(range(L)), together=True)
    finally:
        relays.clear()  # they and the functions above refer to each other: free the arrays now, not at the next GC
    return outputs[-1], h_n, c_n, (list(zip(inputs, drops, caches, strict=True)), table, mask)


def piece_weight(W, steps_run, B: int) -> StepWeight:
    """W, the right operand of the products of the pieces of each run (`parallel.Shared`): packed once by MKL
    (each piece would pack it again), else a contiguous copy (BLAS multiplies a few rows by it up to 1.35x
    faster than by a transposed view, which repays the copy)."""
    return StepWeight(W, len(steps_run[0]) * B, len(steps_run) * PIECES)


def cell_forward(m, layer, direction, weights, x_proj, h0, c0, mask, relay, h_n, c_n):
    """One direction of one layer: its cell over x_proj (T, B, G) (filled in run by run when relayed). Sets
    h_n[index] (and c_n[index]) to the last state; returns the states h (T+2, B, S) and the cell's cache."""
    _, W_hh, *biases = weights
    index, reverse = layer * m.num_directions + direction, direction == 1
    W_hr = m._projection(layer, direction)  # (P, H), or None: no projection
    h, c, cache = m._cell_forward(
        x_proj, h0[index], None if c0 is None else c0[index], W_hh.data, biases[1].data if biases else None, mask,
        reverse, m._workspaces[index], relay, **({} if W_hr is None else {"W_hr": W_hr.data}))
    last = 1 if reverse else len(x_proj)  # the state after the final step visited
    h_n[index] = h[last]
    if c_n is not None:
        c_n[index] = c[last]
    return h, cache


def hand_on(output, direction, h, s, mask):
    """output[s] (steps, B, D*S) of one direction: its states after each step of s, zero at padded steps."""
    S = h.shape[-1]
    out = output[s, :, direction * S : (direction + 1) * S]
    out[...] = h[s.start + 1 : s.stop + 1]  # states[t + 1]: after step t
    if mask is not None:
        np.copyto(out, 0, where=~mask[s])
    return out


def backward(m, cache, d_output, d_h_n, d_c_n, input_grad=True):
    """Back through `forward`: d_output (T, B, D*S) (time-major), d_h_n, d_c_n: like h_n, c_n, or None.

    Adds the parameter gradients to `.grad`; returns d_x (T, B, I) (after a table: d table (V, I); None
    without input_grad), d_h0, d_c0 (None unless LSTM), and d x_t per step (T*B, I) after a table when
    `record_input_grads`, else None.
    """
    layers, table, mask = cache
    T, B = d_output.shape[:2]
    L, D, S = m.num_layers, m.num_directions, m._state_size()
    grads = Gradients(m, table, d_h_n, d_c_n, B, input_grad)
    d_out = np.where(mask, d_output, 0) if mask is not None else d_output
    steps_run = runs(m, T, B, reverse=True)
    if steps_run is not None:
        d_x_projs = _relayed_backward(m, layers, d_out, steps_run, grads)
    else:
        for layer in reversed(range(L)):  # from the top, one layer after the other
            layer_input, drop, caches = layers[layer]
            d_x_projs = [None] * D

            def back(direction, layer=layer, layer_input=layer_input, caches=caches, d_out=d_out, d_x_projs=d_x_projs):
                d_x_projs[direction] = grads.cell(layer, direction, caches[direction],
                                                  d_out[:, :, direction * S : (direction + 1) * S], None)
                grads.inputs(layer, direction, layer_input, d_x_projs[direction])

            run_all(back, list(range(D)), together=True)  # the two directions side by side
            if layer:  # the output gradient of the layer below
                d_out = input_gradient(m, layer, d_x_projs, np.empty(layer_input.shape, m.dtype))
                if drop is not None:
                    d_out *= drop
    if table is not None:
        per_step = sum(grads.d_steps[1:], grads.d_steps[0]) if m.record_input_grads else None
        d_table = sum(grads.d_tables[1:], grads.d_tables[0]) if input_grad else None
        return d_table, grads.d_h0, grads.d_c0, per_step
    d_x = input_gradient(m, 0, d_x_projs, np.empty(layers[0][0].shape, m.dtype)) if input_grad else None
    return d_x, grads.d_h0, grads.d_c0, None


def _relayed_backward(m, layers, d_out, steps_run, grads):
    """`backward` for `_relayed_forward`: the layers at the same time, each a run behind the one above, whose
    input-projection gradients give its output gradient run by run (that layer and this one share the work).
    Returns the first layer's d x_proj."""
    T, B, S = d_out.shape
    L = m.num_layers
    d_outs = [np.empty((T, B, S), m.dtype) for _ in range(L - 1)] + [d_out]  # each layer's output gradient
    d_x_projs = [None] * L

    W_ih = [None] + [piece_weight(m._weights(layer, 0)[0].data, steps_run, B) for layer in range(1, L)]  # (G, S)

    def output_gradient(layer, steps, part):  # rows `part` of d_out[steps] of the layer below `layer`
        s = span(steps)
        out = d_outs[layer - 1][s].reshape(-1, S)[part]
        W_ih[layer].dot(relays[layer].handed[s].reshape(len(steps) * B, -1)[part], out=out)
        drop = layers[layer][1]
        if drop is not None:
            out *= drop[s].reshape(-1, S)[part]

    # the output gradient of each layer below the top, shared by that layer and the one above
    shares = [Shared(steps_run, B, functools.partial(output_gradient, layer + 1))
              for layer in range(L - 1)] + [None]

    def receive(layer):  # before a run of a layer below the top: the layer above done with it; what is left
        def before(k, steps):
            relays[layer + 1].wait(k)
            shares[layer].finish(k)
        return before

    relays = [Relay(steps_run, receive(layer) if layer < L - 1 else None,
                    share=shares[layer - 1].help if layer else None) for layer in range(L)]

    def back(layer):
        layer_input, _, caches = layers[layer]
        d_x_projs[layer] = grads.cell(layer, 0, caches[0], d_outs[layer], relays[layer])
        if layer == 0:  # its input weights' gradients here (after a table mostly sums by id, which stay whole)
            grads.inputs(0, 0, layer_input, d_x_projs[0])

    try:
        run_all(back, list(reversed(range(L))), together=True)
    finally:
        relays.clear()  # as in `forward`
    for layer in range(1, L):  # the layers above the first: their input weights' gradients on every thread
        grads.inputs(layer, 0, layers[layer][0], d_x_projs[layer])
    return d_x_projs[:1]


def input_gradient(m, layer, d_x_projs, out, steps=slice(None)):
    """out (steps, B, I) = the gradient of the layer's input at `steps`: the sum over its directions of
    d x_proj[steps] @ W_ih, from d_x_projs, the directions' d x_proj (T, B, G). Returns out."""
    flat = out.reshape(-1, out.shape[-1])
    for direction, d_x_proj in enumerate(d_x_projs):
        d_proj = d_x_proj[steps].reshape(len(flat), -1)  # (steps*B, G)
        W_ih = m._weights(layer, direction)[0].data
        if direction == 0:
            matmul(d_proj, W_ih, out=flat)
        else:
            flat += matmul(d_proj, W_ih)
    return out


class Gradients:
    """What `backward` gathers besides the parameters' `.grad`: d h_0 (L*D, B, S), d c_0 (LSTM) and, after
    a table, d table and d x_t per step for each direction of the first layer."""

    def __init__(self, m, table, d_h_n, d_c_n, B: int, input_grad: bool) -> None:
        L, D = m.num_layers, m.num_directions
        self.m, self.table, self.d_h_n, self.d_c_n, self.input_grad = m, table, d_h_n, d_c_n, input_grad
        self.d_h0 = np.zeros((L * D, B, m._state_size()), m.dtype)
        self.d_c0 = np.zeros((L * D, B, m.hidden_size), m.dtype) if m.gate_count == 4 else None
        self.d_tables, self.d_steps = [None] * D, [None] * D  # after a table: d table (V, I), d x_t (T*B, I)
        self.d_b_hh = [None] * (L * D)  # from `cell` to `inputs`: d b_hh, or None where b_hh acts like b_ih

    def cell(self, layer, direction, cache, d_out, relay):
        """Back through one direction of one layer's cell (d_out (T, B, S)): adds the gradients of its recurrent
        weights; returns d x_proj (T, B, G), for `inputs`."""
        m = self.m
        index = layer * m.num_directions + direction
        W_ih, W_hh, *biases = m._weights(layer, direction)
        dh_n = None if self.d_h_n is None else np.asarray(self.d_h_n, dtype=m.dtype)[index]
        dc_n = None if self.d_c_n is None else np.asarray(self.d_c_n, dtype=m.dtype)[index]
        d_x_proj, self.d_h0[index], dc0, d_W_hh, d_b_hh, *d_W_hr = m._cell_backward(
            d_out, dh_n, dc_n, cache, m._workspaces[index], relay)
        if d_W_hr:  # with proj_size: the gradient of weight_hr
            m._projection(layer, direction).grad += d_W_hr[0]
        if self.d_c0 is not None:
            self.d_c0[index] = dc0
        W_hh.grad += d_W_hh
        self.d_b_hh[index] = d_b_hh
        return d_x_proj

    def inputs(self, layer, direction, layer_input, d_x_proj):
        """After `cell`: the gradients of the input weights and the biases (and, after a table, of the table and
        of each step's input) from d x_proj (T, B, G)."""
        m, table = self.m, self.table
        W_ih, _, *biases = m._weights(layer, direction)
        # the rows the input projection was made from: x (T*B, I) one per step, or the table (V, I)
        T, B = d_x_proj.shape[:2]
        rows = layer_input.reshape(T * B, -1) if layer > 0 or table is None else table
        d_proj = d_x_proj.reshape(T * B, -1)  # (T*B, G), gradient of each row's projection ...
        if rows is table:  # ... summed per id: rows of the projection table (V, G)
            per_step, d_proj = d_proj, np.zeros((len(table), d_proj.shape[1]), m.dtype)
            fused(add_rows, m.dtype)(d_proj, layer_input.ravel(), per_step)
            if self.input_grad:
                self.d_tables[direction] = matmul(d_proj, W_ih.data)  # (V, I)
            if m.record_input_grads:  # d x_t per step, for the layer's gradient norms
                self.d_steps[direction] = per_step @ W_ih.data
        W_ih.grad += matmul(d_proj.T, rows)  # all steps, one product
        if biases:
            d_b_ih, d_b_hh = d_proj.sum(axis=0), self.d_b_hh[layer * m.num_directions + direction]
            biases[0].grad += d_b_ih
            biases[1].grad += d_b_ih if d_b_hh is None else d_b_hh  # None: b_hh acts like b_ih

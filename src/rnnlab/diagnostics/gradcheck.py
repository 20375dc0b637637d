"""Gradient check: the hand-written backward against central differences, in float64.

For a layer and a random input we take the scalar loss

    L = sum(output * R) + sum(h_n * R_h) (+ sum(c_n * R_c) for LSTM)

with fixed random R, so d L / d output = R. The analytic gradient comes from `backward`;
the numerical one from (L(w + eps) - L(w - eps)) / (2 eps) for every element of every
parameter and of the input (and of the initial state when one is given). Dropout draws
the same mask in every evaluation (the generator is rewound), so the function being
differentiated stays fixed.

Relative error of a tensor: ||analytic - numeric|| / (||analytic|| + ||numeric||), with
Euclidean norms over the whole tensor (0 when both are zero). Float64 central differences
with eps = 1e-6 typically agree to 1e-9 or better; a wrong derivative gives 1e-2 or more.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Iterator
from dataclasses import asdict, dataclass

import numpy as np

from rnnlab.diagnostics.differences import numerical_gradient, relative_error
from rnnlab.diagnostics.gradcheck_conv import BatchNormConfig, ConvConfig, conv_gradcheck
from rnnlab.nn.attention import AdditiveAttention, Attention, LuongAttention
from rnnlab.nn.cells import GRUCell, LSTMCell, RNNCell, RNNCellBase
from rnnlab.nn.decoder import AttentionDecoderStep
from rnnlab.nn.recurrent import GRU, LSTM, RNN, RNNBase
from rnnlab.nn.utils.rnn import pack_padded_sequence

CELLS = ("rnn_tanh", "rnn_relu", "lstm", "gru")


@dataclass(frozen=True)
class GradcheckConfig:
    """One layer configuration to check."""

    cell: str = "lstm"
    num_layers: int = 1
    bidirectional: bool = False
    batch_first: bool = False
    with_hx: bool = False
    dropout: float = 0.0
    masked: bool = False  # variable lengths: the last sequence of the batch is padded
    proj_size: int = 0  # LSTM only: h projected to this size (weight_hr_l{k})
    packed: bool = False  # a PackedSequence of unsorted lengths as input (rnnlab.nn.utils.rnn)

    def label(self) -> str:
        parts = [self.cell, f"{self.num_layers} layer{'s' if self.num_layers > 1 else ''}",
                 "bi" if self.bidirectional else "uni"]
        parts += [flag for flag, on in (("batch_first", self.batch_first), ("hx", self.with_hx),
                                        (f"dropout {self.dropout}", self.dropout > 0), ("masked", self.masked),
                                        (f"proj {self.proj_size}", self.proj_size > 0), ("packed", self.packed))
                  if on]
        return ", ".join(parts)


def build_layer(config: GradcheckConfig, input_size: int, hidden_size: int, seed: int = 0,
                dtype: type = np.float64) -> RNNBase:
    """The engine layer a configuration describes, initialised from `seed`."""
    kwargs = dict(num_layers=config.num_layers, bidirectional=config.bidirectional, batch_first=config.batch_first,
                  dropout=config.dropout, dtype=dtype, seed=seed)
    if config.cell.startswith("rnn_"):
        return RNN(input_size, hidden_size, nonlinearity=config.cell[4:], **kwargs)
    if config.proj_size:
        kwargs["proj_size"] = config.proj_size
    return {"lstm": LSTM, "gru": GRU}[config.cell](input_size, hidden_size, **kwargs)


def gradcheck(config: GradcheckConfig, input_size: int = 3, hidden_size: int = 4, seq_len: int = 4,
              batch: int = 3, seed: int = 0, eps: float = 1e-6) -> dict[str, float]:
    """Relative error of every gradient of one layer (or cell) configuration: {tensor name: error}."""
    if isinstance(config, CellConfig):
        return cell_gradcheck(config, input_size, hidden_size, seq_len, batch, seed, eps)
    if isinstance(config, AttentionConfig):
        return attention_gradcheck(config, input_size, hidden_size, seq_len, batch, seed, eps)
    if isinstance(config, DecoderConfig):
        return decoder_gradcheck(config, seed=seed, eps=eps)
    if isinstance(config, ConvConfig | BatchNormConfig):
        return conv_gradcheck(config, seed=seed, eps=eps)
    rng = np.random.default_rng(seed)
    layer = build_layer(config, input_size, hidden_size, seed).train()
    is_lstm = config.cell == "lstm"
    T, B, D = seq_len, batch, 2 if config.bidirectional else 1
    x = rng.normal(size=(B, T, input_size) if config.batch_first else (T, B, input_size))
    mask = None
    if config.masked:
        mask = np.ones((T, B), bool)
        mask[T // 2 :, B - 1] = False  # the last sequence is half as long
        mask = mask.T if config.batch_first else mask
    S = config.proj_size or hidden_size  # size of h
    states = [rng.normal(size=(config.num_layers * D, B, size)) for size in (S, hidden_size)[: 1 + is_lstm]]
    hx = (tuple(states) if is_lstm else states[0]) if config.with_hx else None
    out_shape = (B, T, D * S) if config.batch_first else (T, B, D * S)
    if config.packed:  # unsorted lengths; the input checked is the packed data (N, I), in place
        inputs = pack_padded_sequence(x, [T // 2 + 1, T, *[T - 1] * (B - 2)][:B], config.batch_first, False)
        x, out_shape = inputs.data, (len(inputs.data), D * S)
    R = rng.normal(size=out_shape)
    R_states = [rng.normal(size=s.shape) for s in states]
    dropout_state = copy.deepcopy(layer.generator.bit_generator.state)

    def loss() -> float:
        layer.generator.bit_generator.state = copy.deepcopy(dropout_state)  # same dropout mask every time
        output, finals = layer(inputs if config.packed else x, hx, mask)
        output, finals = (output.data if config.packed else output), (finals if is_lstm else (finals,))
        return float((output * R).sum() + sum((f * r).sum() for f, r in zip(finals, R_states, strict=True)))

    loss()
    layer.zero_grad()
    result = layer.backward(R, *R_states)
    d_x, d_hx = (result[0], result[1]) if config.with_hx else (result, None)
    d_x = d_x.data if config.packed else d_x  # a PackedSequence after a packed forward
    errors = {"input": relative_error(d_x, numerical_gradient(loss, x, eps))}
    if config.with_hx:
        analytic_states = d_hx if is_lstm else (d_hx,)
        for name, state, analytic in zip(("h0", "c0"), states, analytic_states, strict=False):
            errors[name] = relative_error(analytic, numerical_gradient(loss, state, eps))
    for name, p in layer.named_parameters():
        errors[name] = relative_error(p.grad, numerical_gradient(loss, p.data, eps))
    return errors


def grid(cells: tuple[str, ...] = CELLS, layers: tuple[int, ...] = (1, 2, 3),
         dropout: float = 0.3) -> Iterator[GradcheckConfig]:
    """The full grid: cells x layers x directions x batch_first x hx x dropout (stacked layers only)."""
    for cell, n, bi, bf, hx in itertools.product(cells, layers, (False, True), (False, True), (False, True)):
        for p in (0.0, dropout) if n > 1 else (0.0,):
            yield GradcheckConfig(cell, n, bi, bf, hx, p)


def masked_grid(cells: tuple[str, ...] = CELLS) -> Iterator[GradcheckConfig]:
    """Variable-length batches: each cell, 2 layers, both directions, both layouts."""
    for cell, bi, bf in itertools.product(cells, (False, True), (False, True)):
        yield GradcheckConfig(cell, 2, bi, bf, with_hx=True, masked=True)
    for cell in cells:  # packed input, unsorted lengths: 2 layers, bidirectional
        yield GradcheckConfig(cell, 2, True, cell == "gru", with_hx=True, packed=True)


def proj_grid() -> Iterator[GradcheckConfig]:
    """LSTM(proj_size=2) (hidden 4): 1 and 2 layers, both directions, masked or not, with hx and dropout."""
    for n, bi, masked in itertools.product((1, 2), (False, True), (False, True)):
        yield GradcheckConfig("lstm", n, bi, batch_first=masked and n == 1, with_hx=True,
                              dropout=0.3 if n > 1 else 0.0, masked=masked, proj_size=2)


@dataclass(frozen=True)
class CellConfig:
    """A single-step cell (`RNNCell`, `LSTMCell`, `GRUCell`) run in a Python loop over time, backward step by step."""

    cell: str = "lstm"
    bias: bool = True
    unbatched: bool = False

    def label(self) -> str:
        flags = [flag for flag, on in (("no bias", not self.bias), ("unbatched", self.unbatched)) if on]
        return ", ".join([f"{self.cell} cell", "loop", *flags])


def build_cell(config: CellConfig, input_size: int, hidden_size: int, seed: int = 0,
               dtype: type = np.float64) -> RNNCellBase:
    """The engine cell a configuration describes, initialised from `seed`."""
    kwargs = dict(bias=config.bias, dtype=dtype, seed=seed)
    if config.cell.startswith("rnn_"):
        return RNNCell(input_size, hidden_size, nonlinearity=config.cell[4:], **kwargs)
    return {"lstm": LSTMCell, "gru": GRUCell}[config.cell](input_size, hidden_size, **kwargs)


def cell_gradcheck(config: CellConfig, input_size: int = 3, hidden_size: int = 4, seq_len: int = 4,
                   batch: int = 3, seed: int = 0, eps: float = 1e-6) -> dict[str, float]:
    """`gradcheck` for a cell: L = sum_t sum(h_t * R_t) (+ sum(c_T * R_c)) over a loop of `seq_len` steps."""
    rng = np.random.default_rng(seed)
    cell = build_cell(config, input_size, hidden_size, seed).train()
    is_lstm = config.cell == "lstm"
    lead = () if config.unbatched else (batch,)
    x = rng.normal(size=(seq_len, *lead, input_size))
    states = [rng.normal(size=(*lead, hidden_size)) for _ in range(2 if is_lstm else 1)]
    R = rng.normal(size=(seq_len, *lead, hidden_size))
    R_c = rng.normal(size=states[0].shape)

    def loss() -> float:
        cell.clear()
        state, total = (tuple(states) if is_lstm else states[0]), 0.0
        for t in range(seq_len):
            state = cell(x[t], state)
            total += float(((state[0] if is_lstm else state) * R[t]).sum())
        return total + (float((state[1] * R_c).sum()) if is_lstm else 0.0)

    loss()
    cell.zero_grad()
    d_x, d_h, d_c = np.zeros_like(x), np.zeros_like(states[0]), R_c
    for t in reversed(range(seq_len)):  # latest step first, each passing d state to the one before
        d_x[t], d_h, *rest = cell.backward(R[t] + d_h, d_c) if is_lstm else cell.backward(R[t] + d_h)
        d_c = rest[0] if is_lstm else None
    errors = {"input": relative_error(d_x, numerical_gradient(loss, x, eps))}
    for name, state, analytic in zip(("h0", "c0"), states, (d_h, d_c), strict=False):
        errors[name] = relative_error(analytic, numerical_gradient(loss, state, eps))
    for name, p in cell.named_parameters():
        errors[name] = relative_error(p.grad, numerical_gradient(loss, p.data, eps))
    return errors


def cell_grid(cells: tuple[str, ...] = CELLS) -> Iterator[CellConfig]:
    """The single-step cells in a hand-written loop: each cell batched with bias, and unbatched without."""
    for cell in cells:
        yield CellConfig(cell)
        yield CellConfig(cell, bias=False, unbatched=True)


@dataclass(frozen=True)
class AttentionConfig:
    """Attention ("additive", "general" or "dot") called at each step of a decoder-style loop over one memory."""

    score: str = "additive"
    masked: bool = True  # the last source of the batch is padded

    def label(self) -> str:
        return f"{self.score} attention, loop" + (", masked" if self.masked else "")


def build_attention(config: AttentionConfig, query_size: int, key_size: int, seed: int = 0,
                    dtype: type = np.float64) -> Attention:
    """The engine attention a configuration describes (attention size 5), initialised from `seed`."""
    if config.score == "additive":
        return AdditiveAttention(query_size, key_size, 5, dtype=dtype, seed=seed)
    return LuongAttention(query_size, query_size if config.score == "dot" else key_size, config.score, dtype, seed)


def attention_gradcheck(config: AttentionConfig, query_size: int = 3, key_size: int = 4, steps: int = 3,
                        batch: int = 3, seed: int = 0, eps: float = 1e-6) -> dict[str, float]:
    """`gradcheck` for attention: L = sum_t sum(context_t * R_t) + sum(weights_t * Q_t), t < `steps` queries."""
    rng = np.random.default_rng(seed)
    attention = build_attention(config, query_size, key_size, seed).train()
    S, K = 5, attention.key_size
    queries, memory = rng.normal(size=(steps, batch, query_size)), rng.normal(size=(S, batch, K))
    mask = np.ones((S, batch), bool)
    if config.masked:
        mask[2:, batch - 1] = False  # the last source is 2 steps long
    R, R_weights = rng.normal(size=(steps, batch, K)), rng.normal(size=(steps, batch, S))

    def loss() -> float:
        attention.clear()
        total = 0.0
        for t in range(steps):
            context, weights = attention(queries[t], memory, mask)
            total += float((context * R[t]).sum() + (weights * R_weights[t]).sum())
        return total

    loss()
    attention.zero_grad()
    d_queries, d_memory = np.zeros_like(queries), np.zeros_like(memory)
    for t in reversed(range(steps)):
        d_queries[t], d_memory_t = attention.backward(R[t], R_weights[t])
        d_memory += d_memory_t
    errors = {"query": relative_error(d_queries, numerical_gradient(loss, queries, eps)),
              "memory": relative_error(d_memory, numerical_gradient(loss, memory, eps))}
    for name, p in attention.named_parameters():
        errors[name] = relative_error(p.grad, numerical_gradient(loss, p.data, eps))
    return errors


def attention_grid() -> Iterator[AttentionConfig]:
    """Additive, Luong general and Luong dot attention, each with a padded source in the batch."""
    for score in ("additive", "general", "dot"):
        yield AttentionConfig(score)


@dataclass(frozen=True)
class DecoderConfig:
    """`AttentionDecoderStep` in a teacher-forced loop over a masked memory."""

    cell: str = "lstm"
    score: str = "general"
    input_feeding: bool = True

    def label(self) -> str:
        return f"decoder step, {self.cell}, {self.score}" + (", input feeding" if self.input_feeding else "")


def decoder_gradcheck(config: DecoderConfig, steps: int = 3, batch: int = 3, seed: int = 0,
                      eps: float = 1e-6) -> dict[str, float]:
    """`gradcheck` for a decoder step (V 6, E 3, H = K = 4, S 5): L = sum_t sum(logits_t * R_t) + sum(h_T * R_h)."""
    rng = np.random.default_rng(seed)
    step = AttentionDecoderStep(6, 3, 4, 4, config.cell, config.score, config.input_feeding, attentional_size=5,
                                dtype=np.float64, seed=seed).train()
    is_lstm, S = config.cell == "lstm", 5
    tokens, memory = rng.integers(0, 6, size=(steps, batch)), rng.normal(size=(S, batch, 4))
    mask = np.ones((S, batch), bool)
    mask[2:, batch - 1] = False  # the last source is 2 steps long
    states = [rng.normal(size=(batch, 4)) for _ in range(1 + is_lstm)]
    R, R_h = rng.normal(size=(steps, batch, 6)), rng.normal(size=(batch, 4))

    def loss() -> float:
        step.clear()
        state, a, total = (tuple(states) if is_lstm else states[0]), None, 0.0
        for t in range(steps):
            logits, state, a, _ = step(tokens[t], state, memory, mask, a)
            total += float((logits * R[t]).sum())
        return total + float(((state[0] if is_lstm else state) * R_h).sum())

    loss()
    step.zero_grad()
    d_state, d_a, d_memory = ((R_h, None) if is_lstm else R_h), None, np.zeros_like(memory)
    for t in reversed(range(steps)):
        d_state, d_memory_t, d_a = step.backward(R[t], d_state, d_a)
        d_memory += d_memory_t
    errors = {"memory": relative_error(d_memory, numerical_gradient(loss, memory, eps))}
    for name, state, analytic in zip(("h0", "c0"), states, d_state if is_lstm else (d_state,), strict=False):
        errors[name] = relative_error(analytic, numerical_gradient(loss, state, eps))
    for name, p in step.named_parameters():
        errors[name] = relative_error(p.grad, numerical_gradient(loss, p.data, eps))
    return errors


def decoder_grid() -> Iterator[DecoderConfig]:
    """The decoder step: LSTM with input feeding (general attention), GRU without (additive)."""
    yield DecoderConfig("lstm", "general", True)
    yield DecoderConfig("gru", "additive", False)


def report_row(config: GradcheckConfig | CellConfig | AttentionConfig | DecoderConfig,
               errors: dict[str, float]) -> dict:
    worst = max(errors, key=errors.get)
    return {**asdict(config), "worst_tensor": worst, "worst_relative_error": errors[worst]}

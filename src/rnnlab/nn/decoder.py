"""`AttentionDecoderStep`: one time step of an attention decoder (Bahdanau et al. 2015; Luong et al. 2015).

Built from the engine's pieces, whose maths is not repeated here:

    e      = Embedding(y_{t-1})                     (B, E)   the previous output token
    x      = [e; a_{t-1}]  with input feeding,      (B, E + A)   a_{t-1}: the previous attentional vector
             e             without                             (zeros at the first step)
    state  = cell(x, state)                         h (B, H)  (and c for the LSTM): RNNCell, LSTMCell, GRUCell
    ctx, w = attention(h, memory, mask)             (B, K), (B, S)   the new h is the query
    a_t    = tanh(W_c [ctx; h])                     (B, A)   the attentional vector (`combine`, no bias)
    logits = W_o a_t + b_o                          (B, V)   (`out`)

As with the cells and attention, each training-mode `forward` keeps its step on a stack and each
`backward` takes the latest one off, so a Python loop over the target steps trains correctly:

    state, a = encoder_state, None
    for t in range(T):                                   # teacher forcing: y[t - 1] in, logits for y[t] out
        logits[t], state, a, _ = step(y_in[t], state, memory, mask, a)
    d_state, d_a, d_memory = None, None, 0
    for t in reversed(range(T)):
        d_state, d_memory_t, d_a = step.backward(d_logits[t], d_state, d_a)
        d_memory = d_memory + d_memory_t                 # every step attends to the same memory
"""

from __future__ import annotations

import numpy as np

from rnnlab.checks import positive_int, require
from rnnlab.errors import RnnlabError, invalid_argument
from rnnlab.nn.attention import AdditiveAttention, LuongAttention
from rnnlab.nn.cells import GRUCell, LSTMCell, RNNCell
from rnnlab.nn.layers import Embedding, Linear
from rnnlab.nn.module import StepModule

CELLS = ("rnn", "rnn_relu", "lstm", "gru")
SCORES = ("additive", "general", "dot")


class AttentionDecoderStep(StepModule):
    """One decoder step: embedding, cell (input feeding optional), attention, attentional vector, logits.

    Parameters, by name: `embedding.weight` (V, E); `cell.*` as the cell's; `attention.*` as the attention's;
    `combine.weight` (A, K + H); `out.weight` (V, A), `out.bias` (V,). `score`: "additive" (attention size
    `attention_size`, default H), Luong "general" or "dot" (K == H). `attentional_size` A defaults to H.

    >>> step = AttentionDecoderStep(7, 3, 4, 5, seed=0)
    >>> logits, state, a, w = step(np.array([1, 2]), None, np.ones((6, 2, 5)), None, None)
    >>> logits.shape, state[0].shape, a.shape, w.shape
    ((2, 7), (2, 4), (2, 4), (2, 6))
    """

    def __init__(self, vocab_size: int, embedding_dim: int, hidden_size: int, key_size: int, cell: str = "lstm",
                 score: str = "general", input_feeding: bool = True, attentional_size: int | None = None,
                 attention_size: int | None = None, padding_idx: int | None = None, dtype: type = np.float32,
                 seed: int | np.random.Generator | None = None) -> None:
        super().__init__()
        for name, value in (("vocab_size", vocab_size), ("embedding_dim", embedding_dim),
                            ("hidden_size", hidden_size), ("key_size", key_size)):
            require(name, value, positive_int)
        if attentional_size is not None:
            require("attentional_size", attentional_size, positive_int)
        if cell not in CELLS:
            raise invalid_argument("cell", " or ".join(map(repr, CELLS)), cell)
        if score not in SCORES:
            raise invalid_argument("score", " or ".join(map(repr, SCORES)), score)
        rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        A = attentional_size or hidden_size
        self.is_lstm, self.input_feeding, self.attentional_size = cell == "lstm", input_feeding, A
        self.dtype = np.dtype(dtype)
        self.embedding = Embedding(vocab_size, embedding_dim, padding_idx, dtype=dtype, seed=rng)
        inputs = embedding_dim + (A if input_feeding else 0)
        kwargs = dict(dtype=dtype, seed=rng)
        if cell.startswith("rnn"):
            self.cell = RNNCell(inputs, hidden_size, nonlinearity="relu" if cell == "rnn_relu" else "tanh", **kwargs)
        else:
            self.cell = {"lstm": LSTMCell, "gru": GRUCell}[cell](inputs, hidden_size, **kwargs)
        if score == "additive":
            self.attention = AdditiveAttention(hidden_size, key_size, attention_size or hidden_size, **kwargs)
        else:
            self.attention = LuongAttention(hidden_size, key_size, score, **kwargs)
        self.combine = Linear(key_size + hidden_size, A, bias=False, **kwargs)  # W_c
        self.out = Linear(A, vocab_size, **kwargs)  # W_o, b_o

    def forward(self, prev_tokens: np.ndarray, state, memory: np.ndarray, mask: np.ndarray | None = None,
                prev_attentional: np.ndarray | None = None):
        """prev_tokens (B,) ints; state: h (B, H), (h, c) for the LSTM, or None (zeros); memory (S, B, K);
        mask (S, B) bool, True at real source steps (None: all); prev_attentional (B, A) or None (zeros;
        ignored without input feeding).

        Returns (logits (B, V), state, attentional (B, A), weights (B, S)).
        """
        prev_tokens = np.asarray(prev_tokens)
        if prev_tokens.ndim != 1 or not np.issubdtype(prev_tokens.dtype, np.integer):
            raise RnnlabError(f"AttentionDecoderStep: prev_tokens must be a 1-D integer array (B,), "
                              f"got {prev_tokens.dtype} {prev_tokens.shape}")
        B, A = len(prev_tokens), self.attentional_size
        x = self.embedding(prev_tokens)  # (B, E)
        if self.input_feeding:
            a_prev = np.zeros((B, A), self.dtype) if prev_attentional is None else np.asarray(prev_attentional)
            if a_prev.shape != (B, A):
                raise RnnlabError(f"AttentionDecoderStep: prev_attentional must have shape {(B, A)}, "
                                  f"got {a_prev.shape}")
            x = np.concatenate([x, a_prev], axis=1)  # (B, E + A)
        state = self.cell(x, state)
        h = state[0] if self.is_lstm else state  # (B, H)
        try:
            context, weights = self.attention(h, memory, mask)  # (B, K), (B, S)
        except Exception:
            if self.training:
                self.cell._drop()  # a refused memory or mask leaves no half step behind
            raise
        joined = np.concatenate([context, h], axis=1)  # (B, K + H)
        attentional = np.tanh(self.combine(joined))  # (B, A)
        logits = self.out(attentional)  # (B, V)
        self._keep((prev_tokens, joined, attentional))  # Embedding and Linear keep one input only: we keep ours
        return logits, state, attentional.copy(), weights

    def backward(self, d_logits: np.ndarray, d_state=None, d_attentional: np.ndarray | None = None):
        """Backpropagate the latest kept step. d_logits (B, V); d_state: gradient of the state it returned
        (h, or (h, c); None or None parts: zero); d_attentional (B, A) from the next step's input feeding (None: 0).

        Adds to every `.grad`; returns (d_state_prev, d_memory (S, B, K), d_prev_attentional (B, A) or None
        without input feeding), d_state_prev shaped like the state the step started from.
        """
        prev_tokens, joined, attentional = self._latest()
        shape = attentional.shape[:1] + (self.out.out_features,)
        d_logits = np.asarray(d_logits, dtype=self.dtype)
        if d_logits.shape != shape:
            raise RnnlabError(f"AttentionDecoderStep.backward: d_logits must have shape {shape}, got {d_logits.shape}")
        self._drop()
        d_h, d_c = (d_state if d_state is not None else (None, None)) if self.is_lstm else (d_state, None)
        self.out._x = attentional  # this step's input, for the layer's own backward
        d_a = self.out.backward(d_logits)  # (B, A)
        if d_attentional is not None:
            d_a = d_a + d_attentional
        self.combine._x = joined
        d_joined = self.combine.backward(d_a * (1 - attentional * attentional))  # (B, K + H) through tanh
        K = self.attention.key_size
        d_query, d_memory = self.attention.backward(d_joined[:, :K])  # (B, H), (S, B, K)
        d_h = d_joined[:, K:] + d_query + (0 if d_h is None else d_h)  # h reaches the loss three ways
        if self.is_lstm:
            d_x, d_h0, d_c0 = self.cell.backward(d_h, d_c)
            d_prev_state = (d_h0, d_c0)
        else:
            d_x, d_prev_state = self.cell.backward(d_h)
        E = self.embedding.embedding_dim
        self.embedding._ids = prev_tokens
        self.embedding.backward(d_x[:, :E])  # into embedding.weight.grad only: tokens are not differentiable
        return d_prev_state, d_memory, (d_x[:, E:] if self.input_feeding else None)

    def clear(self) -> None:
        """Drop every kept step, here and in the cell and the attention."""
        super().clear()
        self.cell.clear()
        self.attention.clear()

    def __repr__(self) -> str:
        return (f"AttentionDecoderStep(vocab={self.out.out_features}, cell={type(self.cell).__name__}, "
                f"attention={self.attention!r}, input_feeding={self.input_feeding})")

"""The encoder-decoder with attention (Bahdanau et al. 2015; Luong et al. 2015) on the engine's layers.

For a batch of B source sequences padded to S tokens and targets padded to T tokens:

    x        = dropout(E_src[source])                          (S, B, E)
    memory   = bi-RNN(x, mask)                                 (S, B, H)   H/2 units each direction
    h_0      = tanh(W_b [h_fwd at its last real step; h_bwd at the first] + b_b)   (B, H)   the bridge
               (an LSTM decoder starts from c_0 = 0)
    for t in 0..T-1:                                           teacher forcing: y_in[t] is <s>, y_1, ... y_{T-1}
        logits[t], state, a_t, w_t = AttentionDecoderStep(y_in[t], state, memory, mask, a_{t-1})

With scheduled sampling (Bengio et al. 2015) `batch["sample"][t, b]` True feeds the model's own best guess
at step t - 1 instead of the gold token (no gradient flows through the choice).

`forward` / `backward` train on a whole batch; `encode` and `decoder` (one step, in eval mode) are what
greedy decoding and beam search (`seq2seq_search.py`) call.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rnnlab.nn import Dropout, Embedding, Linear, Module
from rnnlab.nn.decoder import AttentionDecoderStep
from rnnlab.nn.models import build_recurrent


@dataclass(frozen=True)
class Seq2SeqNetConfig:
    """Sizes of the network; vocabularies include the special ids (<pad> 0 and <unk> 1; <s>, </s> on targets)."""

    source_vocab: int
    target_vocab: int
    embedding_dim: int = 64
    hidden_size: int = 256
    cell: str = "lstm"
    encoder_layers: int = 1
    score: str = "general"
    input_feeding: bool = True
    dropout: float = 0.0


class Seq2SeqNet(Module):
    """Per-step target logits of a teacher-forced batch (see the module docstring).

    >>> net = Seq2SeqNet(Seq2SeqNetConfig(source_vocab=6, target_vocab=7, embedding_dim=4, hidden_size=8), seed=0)
    >>> batch = {"source": np.array([[2, 3], [4, 0]]), "source_mask": np.array([[1, 1], [1, 0]], bool),
    ...          "target_in": np.array([[2, 2], [5, 6], [4, 0]])}
    >>> net(batch).shape  # (T, B, V)
    (3, 2, 7)
    """

    def __init__(self, config: Seq2SeqNetConfig, dtype: type = np.float32, seed: int | None = None) -> None:
        super().__init__()
        rng = np.random.default_rng(seed)
        c = self.config = config
        self.source_embedding = Embedding(c.source_vocab, c.embedding_dim, padding_idx=0, dtype=dtype, seed=rng)
        self.drop = Dropout(c.dropout, seed=rng)
        self.encoder = build_recurrent(c.cell, c.embedding_dim, c.hidden_size // 2, num_layers=c.encoder_layers,
                                       dropout=c.dropout if c.encoder_layers > 1 else 0.0, bidirectional=True,
                                       dtype=dtype, seed=rng)
        self.bridge = Linear(c.hidden_size, c.hidden_size, dtype=dtype, seed=rng)
        self.decoder = AttentionDecoderStep(c.target_vocab, c.embedding_dim, c.hidden_size, c.hidden_size,
                                            cell=c.cell, score=c.score, input_feeding=c.input_feeding,
                                            padding_idx=0, dtype=dtype, seed=rng)
        self.dropout_generator = rng  # what the dropout layers draw their masks from (saved for an exact resume)
        self.is_lstm = c.cell == "lstm"
        self._cache = None

    def encode(self, source: np.ndarray, mask: np.ndarray):
        """source (S, B) ids, mask (S, B) bool -> (memory (S, B, H), the decoder's first state)."""
        x = self.drop(self.source_embedding(source))  # (S, B, E)
        memory, h_n = self.encoder(x, mask=mask)  # (S, B, H); h_n (2L, B, H/2) (with c_n for the LSTM)
        h_n = h_n[0] if self.is_lstm else h_n
        last = np.concatenate([h_n[-2], h_n[-1]], axis=1)  # (B, H): last layer, forward then backward
        h_0 = np.tanh(self.bridge(last))  # (B, H)
        self._bridge_out = (h_0, h_n.shape)
        return memory, ((h_0, np.zeros_like(h_0)) if self.is_lstm else h_0)

    def forward(self, batch: dict[str, np.ndarray]) -> np.ndarray:
        """batch: source, source_mask (S, B); target_in (T, B) ids starting with <s>; optional sample (T, B) bool.

        Returns logits (T, B, target_vocab) in the model's dtype.
        """
        source, mask, target_in = batch["source"], batch["source_mask"], batch["target_in"]
        sample = batch.get("sample")
        self.decoder.clear()  # steps a forward without its backward left behind (a loss computed in training mode)
        memory, state = self.encode(source, mask)
        T, B = target_in.shape
        logits = np.empty((T, B, self.config.target_vocab), memory.dtype)  # (T, B, V)
        attentional = None
        for t in range(T):
            tokens = target_in[t]
            if sample is not None and t > 0 and sample[t].any():
                tokens = np.where(sample[t], logits[t - 1].argmax(axis=1), tokens)  # the model's own guess
            logits[t], state, attentional, _ = self.decoder(tokens, state, memory, mask, attentional)
        self._cache = (T, memory.shape)
        return logits

    def backward(self, d_logits: np.ndarray) -> None:
        """d_logits: (T, B, V); adds every parameter's gradient to its `.grad`."""
        T, memory_shape = self._cache
        d_state, d_attentional = None, None
        d_memory = np.zeros(memory_shape, d_logits.dtype)  # (S, B, H): every step attends to the same memory
        for t in reversed(range(T)):
            d_state, d_memory_t, d_attentional = self.decoder.backward(d_logits[t], d_state, d_attentional)
            d_memory += d_memory_t
        h_0, h_n_shape = self._bridge_out
        d_h_0 = d_state[0] if self.is_lstm else d_state  # (c_0 = 0 is not a parameter)
        d_last = self.bridge.backward(d_h_0 * (1 - h_0 * h_0))  # (B, H) through tanh
        d_h_n = np.zeros(h_n_shape, d_logits.dtype)  # (2L, B, H/2)
        d_h_n[-2], d_h_n[-1] = np.split(d_last, 2, axis=1)
        d_x = self.encoder.backward(d_memory, d_h_n=d_h_n)  # (S, B, E)
        self.source_embedding.backward(self.drop.backward(d_x))

"""A complete sequence model: token ids or features in, one prediction per step out.

    ids (T, B) --Embedding or one-hot--> (T, B, E) --RNN/LSTM/GRU--> (T, B, D*H) --Linear--> (T, B, V)

This is the network the character language model, the tagger and the benchmarks train.
Its `state_dict()` names are `embedding.weight`, `rnn.weight_ih_l0`..., `head.weight`,
`head.bias`: the same names a `torch.nn.Module` with those three attributes has, which is
how checkpoints move to and from the PyTorch backend.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rnnlab.errors import invalid_argument
from rnnlab.nn.layers import Dropout, Embedding, Linear
from rnnlab.nn.module import Module
from rnnlab.nn.recurrent import GRU, LSTM, RNN, RNNBase

CELLS = ("rnn", "rnn_relu", "lstm", "gru")


@dataclass(frozen=True)
class ModelConfig:
    """The shape of a `SequenceModel`; saved in every checkpoint."""

    vocab_size: int  # input tokens (or input features when embedding_dim is 0 and inputs are dense)
    num_outputs: int  # classes predicted at each step
    cell: str = "lstm"
    hidden_size: int = 128
    num_layers: int = 1
    dropout: float = 0.0  # between recurrent layers, and on the recurrent output before the head
    bidirectional: bool = False
    embedding_dim: int | None = None  # None: one-hot input (min-char-rnn); else a learnt embedding

    def __post_init__(self) -> None:
        if self.cell not in CELLS:
            raise invalid_argument("cell", f"one of {', '.join(CELLS)}", self.cell)


def build_recurrent(cell: str, input_size: int, hidden_size: int, **kwargs) -> RNNBase:
    """The engine layer for a cell name: rnn (tanh), rnn_relu, lstm or gru."""
    if cell not in CELLS:
        raise invalid_argument("cell", f"one of {', '.join(CELLS)}", cell)
    if cell.startswith("rnn"):
        return RNN(input_size, hidden_size, nonlinearity="relu" if cell == "rnn_relu" else "tanh", **kwargs)
    return {"lstm": LSTM, "gru": GRU}[cell](input_size, hidden_size, **kwargs)


class SequenceModel(Module):
    """Embedding (or one-hot) -> recurrent layers -> dropout -> linear head, at every step.

    >>> model = SequenceModel(ModelConfig(vocab_size=65, num_outputs=65, hidden_size=32, embedding_dim=16), seed=0)
    >>> logits, state = model(np.zeros((25, 4), np.int64))
    >>> logits.shape
    (25, 4, 65)
    """

    def __init__(self, config: ModelConfig, dtype: type = np.float32, seed: int | None = None) -> None:
        super().__init__()
        self.config, self.dtype = config, np.dtype(dtype)
        rng = np.random.default_rng(seed)
        c = config
        if c.embedding_dim is not None:
            self.embedding = Embedding(c.vocab_size, c.embedding_dim, dtype=dtype, seed=rng)
        input_size = c.vocab_size if c.embedding_dim is None else c.embedding_dim
        self.rnn = build_recurrent(c.cell, input_size, c.hidden_size, num_layers=c.num_layers,
                                   dropout=c.dropout if c.num_layers > 1 else 0.0,
                                   bidirectional=c.bidirectional, dtype=dtype, seed=rng)
        self.drop = Dropout(c.dropout, seed=rng)
        self.head = Linear(c.hidden_size * (2 if c.bidirectional else 1), c.num_outputs, dtype=dtype, seed=rng)

    def input_table(self) -> np.ndarray:
        """(V, E): the rows inputs are looked up from: the embedding's weight, or the identity (one-hot)."""
        if self.config.embedding_dim is not None:
            return self.embedding.weight.data
        if getattr(self, "_one_hot", None) is None:
            self._one_hot = np.eye(self.config.vocab_size, dtype=self.dtype)  # row k is the one-hot vector of k
        return self._one_hot

    def forward(self, ids: np.ndarray, state=None, mask: np.ndarray | None = None):
        """ids: (T, B) ints; state: the recurrent layer's hx or None; mask: (T, B) bool or None.

        Returns logits (T, B, num_outputs) and the final recurrent state (to carry to the next batch).
        """
        table = self.input_table()
        self._by_table = np.size(ids) >= len(table)  # a batch of many tokens: project each table row once
        if self._by_table:
            output, state = self.rnn.forward_ids(ids, table, state, mask)  # (T, B, D*H)
        else:  # a few tokens (generating text): look the inputs up, project each one
            output, state = self.rnn(table[ids] if self.config.embedding_dim is None else self.embedding(ids),
                                     state, mask)
        return self.head(self.drop(output)), state

    def backward(self, d_logits: np.ndarray) -> None:
        """Backpropagate d loss / d logits (T, B, num_outputs) into every parameter's `.grad`."""
        d_output = self.drop.backward(self.head.backward(d_logits))
        # d table (V, E), or d inputs (T, B, E): for the embedding only (one-hot inputs learn nothing)
        d_inputs = self.rnn.backward(d_output, input_grad=self.config.embedding_dim is not None)
        if isinstance(d_inputs, tuple):  # a carried-in state: truncated BPTT stops there
            d_inputs = d_inputs[0]
        if self.config.embedding_dim is None:
            return
        if self._by_table:
            self.embedding.weight.grad += d_inputs
        else:
            self.embedding.backward(d_inputs)

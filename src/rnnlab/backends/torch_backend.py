"""The PyTorch twin of `rnnlab.nn.models.SequenceModel`, for GPUs and many machines.

Same modules under the same names (`embedding`, `rnn`, `head`), so a state dict moves
between the two engines unchanged (`to_torch_state` / `from_torch_state`).
Importing this module needs PyTorch: `pip install rnnlab[torch]`.
"""

from __future__ import annotations

import numpy as np

from rnnlab.errors import RnnlabError
from rnnlab.nn.models import ModelConfig

try:
    import torch
    from torch import nn
    from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence
except ImportError as error:  # pragma: no cover - exercised only without torch
    raise RnnlabError("the PyTorch backend needs PyTorch: pip install 'rnnlab[torch]'") from error


class TorchSequenceModel(nn.Module):
    """Embedding (or one-hot) -> nn.RNN/LSTM/GRU -> dropout -> nn.Linear, like `SequenceModel`."""

    def __init__(self, config: ModelConfig, dtype: torch.dtype = torch.float32) -> None:
        super().__init__()
        c = self.config = config
        if c.embedding_dim is not None:
            self.embedding = nn.Embedding(c.vocab_size, c.embedding_dim, dtype=dtype)
        kwargs = dict(num_layers=c.num_layers, dropout=c.dropout if c.num_layers > 1 else 0.0,
                      bidirectional=c.bidirectional, dtype=dtype)
        input_size = c.vocab_size if c.embedding_dim is None else c.embedding_dim
        if c.cell.startswith("rnn"):
            self.rnn = nn.RNN(input_size, c.hidden_size, nonlinearity="relu" if c.cell == "rnn_relu" else "tanh",
                              **kwargs)
        else:
            self.rnn = {"lstm": nn.LSTM, "gru": nn.GRU}[c.cell](input_size, c.hidden_size, **kwargs)
        self.drop = nn.Dropout(c.dropout)
        self.head = nn.Linear(c.hidden_size * (2 if c.bidirectional else 1), c.num_outputs, dtype=dtype)

    def forward(self, ids: torch.Tensor, state=None, lengths: torch.Tensor | None = None):
        """ids (T, B) long; lengths (B,) for post-padded batches. Returns logits (T, B, V), state."""
        if self.config.embedding_dim is not None:
            x = self.embedding(ids)
        else:
            x = nn.functional.one_hot(ids, self.config.vocab_size).to(self.head.weight.dtype)
        if lengths is None:
            output, state = self.rnn(x, state)
        else:
            packed = pack_padded_sequence(x, lengths.cpu(), enforce_sorted=False)
            output, state = self.rnn(packed, state)
            output = pad_packed_sequence(output, total_length=ids.shape[0])[0]
        return self.head(self.drop(output)), state


def to_torch_state(state: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
    return {name: torch.from_numpy(np.ascontiguousarray(value)) for name, value in state.items()}


def from_torch_state(state: dict[str, torch.Tensor]) -> dict[str, np.ndarray]:
    return {name: value.detach().cpu().numpy().copy() for name, value in state.items()}

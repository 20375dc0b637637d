"""The PyTorch twins of the engine's networks, for GPUs and many machines.

Each twin has the same modules under the same names as its engine network (`embedding`, `rnn`,
`head`, ...), so a state dict moves between the two engines unchanged, and its `forward` takes
the same arguments as the engine network's, as tensors: the same masks (True at real steps; the
twin packs post-padded batches for cuDNN), the same time-major layouts. `twin_of(net)` builds the
twin of any task's network. Importing this module needs PyTorch: `pip install 'rnnlab[torch]'`.
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
    raise RnnlabError("the PyTorch engine needs PyTorch: pip install 'rnnlab[torch]'") from error


def recurrent(cell: str, input_size: int, hidden_size: int, num_layers: int = 1, dropout: float = 0.0,
              bidirectional: bool = False, batch_first: bool = False, dtype: torch.dtype = torch.float32,
              proj_size: int = 0) -> nn.RNNBase:
    """torch.nn.RNN (tanh / relu), LSTM or GRU for an engine cell name (proj_size: LSTM only)."""
    kwargs = dict(num_layers=num_layers, dropout=dropout, bidirectional=bidirectional, batch_first=batch_first,
                  dtype=dtype)
    if proj_size:
        kwargs["proj_size"] = proj_size
    if cell.startswith("rnn"):
        return nn.RNN(input_size, hidden_size, nonlinearity="relu" if cell == "rnn_relu" else "tanh", **kwargs)
    if cell not in ("lstm", "gru"):
        raise RnnlabError(f"the PyTorch engine has no {cell!r} cell; train it with the NumPy engine")
    return {"lstm": nn.LSTM, "gru": nn.GRU}[cell](input_size, hidden_size, **kwargs)


def run(rnn: nn.RNNBase, x: torch.Tensor, state=None, mask: torch.Tensor | None = None):
    """`rnn(x, state)` with the engine's mask (T, B) bool, True at real steps: the batch is packed (cuDNN skips
    the padding), the output is zero at padded steps and the state is each sequence's own last one.

    Only post-padded batches (the valid steps of each sequence first) can be packed.
    """
    if mask is None or bool(mask.all()):
        return rnn(x, state)
    lengths = mask.sum(0)  # (B,)
    if not bool((mask == (torch.arange(mask.shape[0], device=mask.device)[:, None] < lengths[None])).all()):
        raise RnnlabError("the PyTorch engine needs post-padded batches (valid steps first in each sequence)")
    packed = pack_padded_sequence(x, lengths.cpu(), enforce_sorted=False)
    output, state = rnn(packed, state)
    return pad_packed_sequence(output, total_length=x.shape[0])[0], state


class TorchSequenceModel(nn.Module):
    """Embedding (or one-hot) -> nn.RNN/LSTM/GRU -> dropout -> nn.Linear, like `rnnlab.nn.models.SequenceModel`."""

    def __init__(self, config: ModelConfig, dtype: torch.dtype = torch.float32) -> None:
        super().__init__()
        c = self.config = config
        if c.embedding_dim is not None:
            self.embedding = nn.Embedding(c.vocab_size, c.embedding_dim, dtype=dtype)
        input_size = c.vocab_size if c.embedding_dim is None else c.embedding_dim
        self.rnn = recurrent(c.cell, input_size, c.hidden_size, c.num_layers, c.dropout if c.num_layers > 1 else 0.0,
                             c.bidirectional, dtype=dtype)
        self.drop = nn.Dropout(c.dropout)
        self.head = nn.Linear(c.hidden_size * (2 if c.bidirectional else 1), c.num_outputs, dtype=dtype)

    def forward(self, ids: torch.Tensor, state=None, mask: torch.Tensor | None = None):
        """ids (T, B) long; state as the recurrent layer's; mask (T, B) bool. Returns logits (T, B, V), state."""
        if self.config.embedding_dim is not None:
            x = self.embedding(ids)
        else:
            x = nn.functional.one_hot(ids, self.config.vocab_size).to(self.head.weight.dtype)
        output, state = run(self.rnn, x, state, mask)
        return self.head(self.drop(output)), state


def _pool(kind: str, output: torch.Tensor, mask: torch.Tensor, directions: int) -> torch.Tensor:
    """The engine's LastPool / MeanPool / MaxPool over valid steps: output (T, B, F), mask (T, B) -> (B, F)."""
    valid = mask[:, :, None]
    if kind == "mean":
        return (output * valid).sum(0) / mask.sum(0)[:, None].to(output.dtype)
    if kind == "max":
        return output.masked_fill(~valid, float("-inf")).max(0).values
    T, B, F = output.shape
    hidden, batch = F // directions, torch.arange(B, device=output.device)
    last = T - 1 - mask.flip(0).to(torch.int8).argmax(0)  # (B,) last valid step
    first = mask.to(torch.int8).argmax(0)  # (B,) first valid step
    return torch.cat([output[step, batch, d * hidden:(d + 1) * hidden]
                      for d, step in enumerate([last, first][:directions])], dim=1)


class MaskedBatchNorm1d(nn.BatchNorm1d):
    """The engine's `BatchNorm1d` with a mask: torch's own BatchNorm1d on the real steps alone, gathered into (N, C),
    so the batch statistics, the running update (unbiased variance, `momentum`) and eval mode are PyTorch's."""

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """x (B, C, T), mask (B, T) bool, True at real steps -> y (B, C, T), 0 at padded steps."""
        real = x.transpose(1, 2)[mask]  # (N, C): the real steps of every series
        if self.training and len(real) < 2:  # (torch would raise a ValueError; the engine's message instead)
            raise RnnlabError(f"BatchNorm1d: training needs more than 1 value per channel, got {len(real)}")
        real = super().forward(real)
        return real.new_zeros(x.shape[0], x.shape[2], x.shape[1]).index_put((mask,), real).transpose(1, 2)


class TorchConvBranch(nn.Module):
    """The twin of `rnnlab.tasks.classify_net.ConvBranch`: [Conv1d -> masked BatchNorm1d -> ReLU] blocks
    (`conv1`, `bn1`, ...), then the mean over each series' real steps.

    Each conv pads its input itself with the engine layer's (left, right) zeros: the same as padding="same",
    without the warning torch gives for "same" with an even kernel."""

    def __init__(self, branch, dtype: torch.dtype) -> None:
        super().__init__()
        layers = dict(branch.named_modules())  # "", "conv1", "bn1", "conv2", ...
        self.blocks = sum(name.startswith("conv") for name in layers)
        self.pads = [layers[f"conv{i}"].pads for i in range(1, self.blocks + 1)]  # (left, right) zeros per conv
        for i in range(1, self.blocks + 1):
            conv, norm = layers[f"conv{i}"], layers[f"bn{i}"]
            self.add_module(f"conv{i}", nn.Conv1d(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride,
                                                  0, conv.dilation, bias=conv.bias is not None, dtype=dtype))
            self.add_module(f"bn{i}", MaskedBatchNorm1d(norm.num_features, norm.eps, norm.momentum, norm.affine,
                                                        norm.track_running_stats, dtype=dtype))

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """x (B, F, T), mask (B, T) bool, True at real steps -> (B, filters)."""
        real = mask[:, None, :]  # (B, 1, T)
        for i in range(1, self.blocks + 1):
            x = torch.where(real, x, 0)  # padded steps count as zeros, as in the engine
            x = getattr(self, f"conv{i}")(nn.functional.pad(x, self.pads[i - 1]))  # (B, C_i, T)
            x = torch.relu(getattr(self, f"bn{i}")(x, mask))  # (B, C_i, T), 0 at padded steps
        return x.sum(2) / mask.sum(1, keepdim=True).to(x.dtype)  # (B, filters)


class TorchClassifierNet(nn.Module):
    """The twin of `rnnlab.tasks.classify_net.ClassifierNet`: (embedding) -> recurrent -> pooling (beside a
    convolutional branch, with `conv_filters`) -> dropout -> head."""

    def __init__(self, net, dtype: torch.dtype) -> None:
        super().__init__()
        self.text, self.pooling = net.text, type(net.pool).__name__.removesuffix("Pool").lower()
        if net.text:
            self.embedding = nn.Embedding(*net.embedding.weight.shape, padding_idx=net.embedding.padding_idx,
                                          dtype=dtype)
        self.rnn = twin_recurrent(net.rnn, dtype)
        self.conv_filters = net.conv_filters
        if self.conv_filters:
            self.fcn = TorchConvBranch(net.fcn, dtype)
        self.drop = nn.Dropout(net.drop.p)
        self.head = nn.Linear(net.head.in_features, net.head.out_features, dtype=dtype)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """x: ids (B, T) or features (B, T, F); mask (B, T) bool. Returns logits (B, C)."""
        inputs = self.embedding(x.T) if self.text else x.transpose(0, 1).to(self.head.weight.dtype)  # (T, B, E)
        step_mask = mask.T  # (T, B)
        output, _ = run(self.rnn, inputs, None, step_mask)
        pooled = _pool(self.pooling, output, step_mask, 2 if self.rnn.bidirectional else 1)  # (B, D*H)
        if self.conv_filters:
            series = inputs.permute(1, 2, 0)  # (B, F, T)
            pooled = torch.cat([pooled, self.fcn(series, mask)], dim=1)  # (B, D*H + filters)
        return self.head(self.drop(pooled))


class TorchForecastNetwork(nn.Module):
    """The twin of `rnnlab.tasks.forecast_net.ForecastNetwork`: recurrent over the window, the last step's output."""

    def __init__(self, net, dtype: torch.dtype) -> None:
        super().__init__()
        self.rnn = twin_recurrent(net.rnn, dtype)
        self.drop = nn.Dropout(net.drop.p)
        self.head = nn.Linear(net.head.in_features, net.head.out_features, dtype=dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (B, lookback, D) -> predictions (B, num_outputs)."""
        output, _ = self.rnn(x.to(self.head.weight.dtype))
        return self.head(self.drop(output[:, -1]))


class TorchTaggerNet(nn.Module):
    """The twin of `rnnlab.tasks.tag_net.TaggerNet`: word, character (bi-LSTM) and shape features -> bi-LSTM."""

    def __init__(self, net, dtype: torch.dtype) -> None:
        super().__init__()
        self.word_embedding, self.char_embedding, self.shape_embedding = (
            nn.Embedding(*e.weight.shape, padding_idx=e.padding_idx, dtype=dtype)
            for e in (net.word_embedding, net.char_embedding, net.shape_embedding))
        self.char_lstm = twin_recurrent(net.char_lstm, dtype)
        self.input_dropout, self.output_dropout = nn.Dropout(net.input_dropout.p), nn.Dropout(net.output_dropout.p)
        self.lstm = twin_recurrent(net.lstm, dtype)
        self.head = nn.Linear(net.head.in_features, net.head.out_features, dtype=dtype)

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """The engine's batch dict as tensors -> logits (T, B, num_tags)."""
        chars = self.char_embedding(batch["chars"].T)  # (L, N, Dc)
        _, (h_n, _) = run(self.char_lstm, chars, None, batch["char_mask"].T)  # h_n (2, N, Hc)
        char_vectors = torch.cat([h_n[0], h_n[1]], dim=1)  # (N, 2Hc)
        x = torch.cat([self.word_embedding(batch["words"]), char_vectors[batch["forms"]],
                       self.shape_embedding(batch["shapes"])], dim=2)
        h, _ = run(self.lstm, self.input_dropout(x), None, batch["mask"])  # (T, B, 2H)
        return self.head(self.output_dropout(h))


class TorchAttention(nn.Module):
    """The twin of `rnnlab.nn.attention`'s AdditiveAttention and LuongAttention (same parameter names)."""

    def __init__(self, attention, dtype: torch.dtype) -> None:
        super().__init__()
        self.kind = getattr(attention, "score", "additive")
        if self.kind == "additive":
            A = attention.attention_size
            self.query_proj = nn.Linear(attention.query_size, A, bias=False, dtype=dtype)
            self.key_proj = nn.Linear(attention.key_size, A, dtype=dtype)
            self.v = nn.Linear(A, 1, bias=False, dtype=dtype)
        elif self.kind == "general":
            self.key_proj = nn.Linear(attention.key_size, attention.query_size, bias=False, dtype=dtype)

    def forward(self, query: torch.Tensor, memory: torch.Tensor, mask: torch.Tensor):
        """query (B, Q), memory (S, B, K), mask (S, B) -> context (B, K), weights (B, S)."""
        if self.kind == "additive":
            scores = self.v(torch.tanh(self.key_proj(memory) + self.query_proj(query)))[:, :, 0].T  # (B, S)
        else:
            projected = query @ self.key_proj.weight if self.kind == "general" else query  # (B, K)
            scores = torch.einsum("sbk,bk->bs", memory, projected)
        weights = torch.softmax(scores.masked_fill(~mask.T, -torch.inf), dim=1)
        return torch.einsum("bs,sbk->bk", weights, memory), weights


class TorchAttentionDecoderStep(nn.Module):
    """The twin of `rnnlab.nn.decoder.AttentionDecoderStep`: embedding, cell, attention, combine, out."""

    def __init__(self, step, dtype: torch.dtype) -> None:
        super().__init__()
        e, cell = step.embedding, step.cell
        self.embedding = nn.Embedding(*e.weight.shape, padding_idx=e.padding_idx, dtype=dtype)
        kind = type(cell).__name__
        kwargs = {"nonlinearity": cell.nonlinearity} if kind == "RNNCell" else {}
        self.cell = getattr(nn, kind)(cell.input_size, cell.hidden_size, dtype=dtype, **kwargs)
        self.attention = TorchAttention(step.attention, dtype)
        self.combine = nn.Linear(step.combine.in_features, step.combine.out_features, bias=False, dtype=dtype)
        self.out = nn.Linear(step.out.in_features, step.out.out_features, dtype=dtype)
        self.is_lstm, self.input_feeding = step.is_lstm, step.input_feeding

    def forward(self, tokens, state, memory, mask, attentional):
        x = self.embedding(tokens)  # (B, E)
        if self.input_feeding:
            x = torch.cat([x, attentional], dim=1)  # (B, E + A)
        state = self.cell(x, state)
        h = state[0] if self.is_lstm else state
        context, weights = self.attention(h, memory, mask)
        attentional = torch.tanh(self.combine(torch.cat([context, h], dim=1)))  # (B, A)
        return self.out(attentional), state, attentional, weights


class TorchSeq2SeqNet(nn.Module):
    """The twin of `rnnlab.tasks.seq2seq_net.Seq2SeqNet`: bi-RNN encoder, bridge, teacher-forced attention decoder."""

    def __init__(self, net, dtype: torch.dtype) -> None:
        super().__init__()
        self.source_embedding = nn.Embedding(*net.source_embedding.weight.shape, padding_idx=0, dtype=dtype)
        self.drop = nn.Dropout(net.drop.p)
        self.encoder = twin_recurrent(net.encoder, dtype)
        self.bridge = nn.Linear(net.bridge.in_features, net.bridge.out_features, dtype=dtype)
        self.decoder = TorchAttentionDecoderStep(net.decoder, dtype)
        self.is_lstm = net.is_lstm

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """The engine's batch dict as tensors -> logits (T, B, V)."""
        mask, target_in, sample = batch["source_mask"], batch["target_in"], batch.get("sample")
        memory, h_n = run(self.encoder, self.drop(self.source_embedding(batch["source"])), None, mask)
        h_n = h_n[0] if self.is_lstm else h_n  # (2L, B, H/2)
        h_0 = torch.tanh(self.bridge(torch.cat([h_n[-2], h_n[-1]], dim=1)))  # (B, H)
        state = (h_0, torch.zeros_like(h_0)) if self.is_lstm else h_0
        attentional = memory.new_zeros(h_0.shape[0], self.decoder.combine.out_features)
        logits = []
        for t in range(target_in.shape[0]):
            tokens = target_in[t]
            if sample is not None and t > 0:
                tokens = torch.where(sample[t], logits[-1].detach().argmax(dim=1), tokens)
            step_logits, state, attentional, _ = self.decoder(tokens, state, memory, mask, attentional)
            logits.append(step_logits)
        return torch.stack(logits)


def twin_recurrent(layer, dtype: torch.dtype) -> nn.RNNBase:
    """torch.nn's twin of an engine recurrent layer (same sizes, flags and parameter names)."""
    cell = {"LSTM": "lstm", "GRU": "gru"}.get(type(layer).__name__)
    if cell is None and type(layer).__name__ == "RNN":
        cell = "rnn_relu" if layer.nonlinearity == "relu" else "rnn"
    if cell is None:
        raise RnnlabError(f"the PyTorch engine has no twin of {type(layer).__name__}; train it with the NumPy engine")
    return recurrent(cell, layer.input_size, layer.hidden_size, layer.num_layers, layer.dropout, layer.bidirectional,
                     layer.batch_first, dtype, proj_size=getattr(layer, "proj_size", 0))


def twin_of(net, dtype: torch.dtype = torch.float32) -> nn.Module:
    """The torch.nn twin of a task's engine network (weights not copied: see `rnnlab.backends.torch_engine`)."""
    name = type(net).__name__
    if name == "SequenceModel":
        return TorchSequenceModel(net.config, dtype)
    twins = {"ClassifierNet": TorchClassifierNet, "ForecastNetwork": TorchForecastNetwork, "TaggerNet": TorchTaggerNet,
             "Seq2SeqNet": TorchSeq2SeqNet}
    if name not in twins:
        raise RnnlabError(f"the PyTorch engine has no twin of {name}; train it with the NumPy engine")
    return twins[name](net, dtype)


def to_torch_state(state: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
    return {name: torch.from_numpy(np.ascontiguousarray(value)) for name, value in state.items()}


def from_torch_state(state: dict[str, torch.Tensor]) -> dict[str, np.ndarray]:
    return {name: value.detach().cpu().numpy().copy() for name, value in state.items()}

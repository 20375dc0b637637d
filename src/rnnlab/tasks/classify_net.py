"""The classifier's network: (Embedding) -> recurrent layers -> pooling over valid steps -> Dropout -> Linear.

    text    ids (B, T) --Embedding--> (T, B, E) --\
                                                   RNN/LSTM/GRU (bi) -> (T, B, D*H) -pool-> (B, D*H) -Linear-> (B, C)
    series  (B, T, F) ---------------------------/

With `conv_filters` > 0 a series also goes through a convolutional branch, as in LSTM-FCN (Karim et
al. 2017), whose pooled features join the recurrent ones before the head:

    series  (B, F, T) -> [Conv1d k8 -> BatchNorm1d -> ReLU] -> [k5, 2x filters] -> [k3] -> mean over
            valid steps -> (B, filters) --concatenated with the recurrent (B, D*H)--> Dropout -> Linear

The pooling is an engine module (`rnnlab.nn.LastPool`, `MeanPool`, `MaxPool`) with its own backward.
`new_trainer` gives a net the optimizer, schedule and generators it trains with (a `rnnlab.train.Trainer`).
"""

from __future__ import annotations

import numpy as np

from rnnlab.data.batching import PAD, pad_sequences
from rnnlab.nn import BatchNorm1d, Conv1d, Dropout, Embedding, LastPool, Linear, MaxPool, MeanPool, Module
from rnnlab.nn.models import build_recurrent
from rnnlab.optim import Adam, CosineAnnealingLR
from rnnlab.tasks.classify_config import ClassifyConfig
from rnnlab.trainer import Trainer

KERNEL_SIZES = (8, 5, 3)  # the fully convolutional network of Wang et al. (2017), as LSTM-FCN uses it


class ConvBranch(Module):
    """Three blocks of Conv1d ("same" padding) -> BatchNorm1d -> ReLU, then the mean over each series' real steps.

    >>> branch = ConvBranch(2, 4, seed=0)
    >>> branch(np.ones((3, 2, 10), np.float32), np.arange(10) < np.array([[10], [7], [3]])).shape
    (3, 4)
    """

    def __init__(self, in_channels: int, filters: int, dtype: type = np.float32,
                 seed: int | np.random.Generator | None = None) -> None:
        super().__init__()
        sizes = (in_channels, filters, 2 * filters, filters)
        for i, kernel in enumerate(KERNEL_SIZES, start=1):  # conv1, bn1, conv2, bn2, conv3, bn3
            setattr(self, f"conv{i}", Conv1d(sizes[i - 1], sizes[i], kernel, padding="same", dtype=dtype, seed=seed))
            setattr(self, f"bn{i}", BatchNorm1d(sizes[i], dtype=dtype))

    def forward(self, x: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """x (B, F, T), mask (B, T) bool, True at real steps -> (B, filters): the mean over real steps."""
        self._relus = []
        for i in range(1, len(KERNEL_SIZES) + 1):
            x = getattr(self, f"bn{i}")(getattr(self, f"conv{i}")(x, mask), mask)  # (B, C_i, T), 0 at padding
            self._relus.append(x > 0)
            x = np.maximum(x, 0)
        self._counts = mask.sum(axis=1, keepdims=True).astype(x.dtype)  # (B, 1)
        return x.sum(axis=2) / self._counts  # (B, filters): padded steps are 0

    def backward(self, d_pooled: np.ndarray) -> np.ndarray:
        """d_pooled (B, filters) -> d_x (B, F, T); adds to every conv and batch-norm parameter's `.grad`."""
        d_x = np.repeat((d_pooled / self._counts)[:, :, None], self._relus[-1].shape[2], axis=2)  # (B, filters, T)
        for i in range(len(KERNEL_SIZES), 0, -1):
            d_x = getattr(self, f"conv{i}").backward(getattr(self, f"bn{i}").backward(d_x * self._relus[i - 1]))
        return d_x


class ClassifierNet(Module):
    """One net of the classifier; `generator` draws its initial weights, then its dropout masks.

    >>> from rnnlab.data.batching import pad_sequences
    >>> net = ClassifierNet(num_inputs=30, num_classes=5, config=ClassifyConfig(hidden_size=8), text=True, seed=0)
    >>> ids, mask = pad_sequences([[2, 3, 4], [5, 6]])
    >>> net(ids, mask).shape
    (2, 5)
    """

    def __init__(self, num_inputs: int, num_classes: int, config: ClassifyConfig, text: bool,
                 seed: int | None = None, dtype: type = np.float32) -> None:
        super().__init__()
        self.generator = rng = np.random.default_rng(seed)  # saved in checkpoints, so a resumed run is exact
        self.text, self.dtype = text, np.dtype(dtype)
        if text:
            self.embedding = Embedding(num_inputs, config.embedding_dim, padding_idx=PAD, dtype=dtype, seed=rng)
        input_size = config.embedding_dim if text else num_inputs
        self.rnn = build_recurrent(config.cell, input_size, config.hidden_size, num_layers=config.num_layers,
                                   dropout=config.dropout if config.num_layers > 1 else 0.0,
                                   bidirectional=config.bidirectional, dtype=dtype, seed=rng)
        directions = 2 if config.bidirectional else 1
        self.pool = {"last": LastPool(directions), "mean": MeanPool(), "max": MaxPool()}[config.pooling]
        self.conv_filters = 0 if text else config.conv_filters
        if self.conv_filters:
            self.fcn = ConvBranch(num_inputs, self.conv_filters, dtype=dtype, seed=rng)
        self.drop = Dropout(config.dropout, seed=rng)
        self.head = Linear(config.hidden_size * directions + self.conv_filters, num_classes, dtype=dtype, seed=rng)

    def forward(self, x: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """x: ids (B, T) or features (B, T, F); mask (B, T) bool, True at real steps. Returns logits (B, C)."""
        if self.text:
            inputs = self.embedding(np.ascontiguousarray(x.T))  # (T, B, E)
        else:
            inputs = np.ascontiguousarray(x.transpose(1, 0, 2), dtype=self.dtype)  # (T, B, F)
        step_mask = np.ascontiguousarray(mask.T)  # (T, B)
        output, _ = self.rnn(inputs, mask=step_mask)  # (T, B, D*H)
        pooled = self.pool(output, step_mask).astype(self.dtype, copy=False)  # (B, D*H)
        if self.conv_filters:
            series = np.ascontiguousarray(inputs.transpose(1, 2, 0))  # (B, F, T)
            pooled = np.concatenate([pooled, self.fcn(series, mask)], axis=1)  # (B, D*H + filters)
        return self.head(self.drop(pooled))

    def backward(self, d_logits: np.ndarray) -> None:
        """d_logits (B, C) -> parameter gradients, added into each `.grad`."""
        d_pooled = self.drop.backward(self.head.backward(d_logits.astype(self.dtype)))  # (B, D*H [+ filters])
        if self.conv_filters:
            recurrent = d_pooled.shape[1] - self.conv_filters
            self.fcn.backward(d_pooled[:, recurrent:])  # (the series are data: no gradient goes further)
            d_pooled = d_pooled[:, :recurrent]
        d_pooled = self.pool.backward(np.ascontiguousarray(d_pooled))
        d_inputs = self.rnn.backward(d_pooled, input_grad=self.text)  # (T, B, E), for the embedding
        if self.text:
            self.embedding.backward(d_inputs)


def pad_batch(encoded: list[np.ndarray], text: bool) -> tuple[np.ndarray, np.ndarray]:
    """Encoded sequences -> (ids (B, T) int64 or features (B, T, F) float32, mask (B, T) bool), post-padded."""
    return pad_sequences(encoded, dtype=np.int64 if text else np.float32)


def new_trainer(net: ClassifierNet, config: ClassifyConfig, steps_per_epoch: int, seed: int) -> Trainer:
    """The net with Adam, a cosine schedule over all the epochs, and its generators ("net": initial weights, then
    dropout masks; "batches": batch order, then the <unk> draws of char_dropout), saved for an exact resume."""
    optimizer = Adam(net.parameters(), lr=config.lr)
    # On resume the half cosine spans the new total of epochs: step s gets the rate the longer schedule has there.
    scheduler = CosineAnnealingLR(optimizer, T_max=steps_per_epoch * config.epochs,
                                  eta_min=config.lr * config.lr_min_factor)
    return Trainer(net, optimizer, {"net": net.generator, "batches": np.random.default_rng(seed)}, scheduler)


def pack_queue(queue: list[np.ndarray]) -> dict[str, np.ndarray]:
    """The batches left in an epoch as two arrays: `indices` (all of them, concatenated) and `sizes` (per batch)."""
    return {"indices": np.concatenate(queue) if queue else np.zeros(0, np.int64),
            "sizes": np.array([len(b) for b in queue], np.int64)}


def unpack_queue(packed: dict[str, np.ndarray]) -> list[np.ndarray]:
    """The inverse of `pack_queue`."""
    if not len(packed["sizes"]):
        return []
    return np.split(packed["indices"].astype(np.int64), np.cumsum(packed["sizes"])[:-1])

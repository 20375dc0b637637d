"""The classifier's network: (Embedding) -> recurrent layers -> pooling over valid steps -> Dropout -> Linear.

    text    ids (B, T) --Embedding--> (T, B, E) --\
                                                   RNN/LSTM/GRU (bi) -> (T, B, D*H) -pool-> (B, D*H) -Linear-> (B, C)
    series  (B, T, F) ---------------------------/

The pooling is an engine module (`rnnlab.nn.LastPool`, `MeanPool`, `MaxPool`) with its own backward.
`NetTrainer` trains one net and holds everything needed to resume it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from rnnlab.checkpoint import split_prefix, with_prefix
from rnnlab.data.batching import PAD, UNK, batches_by_length, pad_sequences
from rnnlab.nn import CrossEntropyLoss, Dropout, Embedding, LastPool, Linear, MaxPool, MeanPool, Module
from rnnlab.nn.models import build_recurrent
from rnnlab.optim import Adam, CosineAnnealingLR
from rnnlab.tasks.base import KeepBest
from rnnlab.tasks.classify_config import ClassifyConfig
from rnnlab.train import LoopConfig, LoopState, train_loop


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
        self.drop = Dropout(config.dropout, seed=rng)
        self.head = Linear(config.hidden_size * directions, num_classes, dtype=dtype, seed=rng)

    def forward(self, x: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """x: ids (B, T) or features (B, T, F); mask (B, T) bool, True at real steps. Returns logits (B, C)."""
        if self.text:
            inputs = self.embedding(np.ascontiguousarray(x.T))  # (T, B, E)
        else:
            inputs = np.ascontiguousarray(x.transpose(1, 0, 2), dtype=self.dtype)  # (T, B, F)
        step_mask = np.ascontiguousarray(mask.T)  # (T, B)
        output, _ = self.rnn(inputs, mask=step_mask)  # (T, B, D*H)
        pooled = self.pool(output, step_mask)  # (B, D*H)
        return self.head(self.drop(pooled.astype(self.dtype, copy=False)))

    def backward(self, d_logits: np.ndarray) -> None:
        """d_logits (B, C) -> parameter gradients, added into each `.grad`."""
        d_pooled = self.drop.backward(self.head.backward(d_logits.astype(self.dtype)))  # (B, D*H)
        d_inputs = self.rnn.backward(self.pool.backward(d_pooled))  # (T, B, E or F)
        if self.text:
            self.embedding.backward(d_inputs)


def pad_batch(encoded: list[np.ndarray], text: bool) -> tuple[np.ndarray, np.ndarray]:
    """Encoded sequences -> (ids (B, T) int64 or features (B, T, F) float32, mask (B, T) bool), post-padded."""
    return pad_sequences(encoded, dtype=np.int64 if text else np.float32)


class NetTrainer:
    """One net with its optimizer (Adam), cosine schedule, batch generator and queue, loop state and best weights.

    `train` runs `rnnlab.train.train_loop` one epoch per evaluation and leaves the best weights in
    the net. `arrays()` / `meta()` hold the complete training state and `restore` puts it back, so a
    run continues exactly where it stopped: the batch queue (empty at the end of an epoch) and the
    generators' states are part of it.
    """

    def __init__(self, net: ClassifierNet, config: ClassifyConfig, steps_per_epoch: int, seed: int) -> None:
        self.net, self.config, self.steps_per_epoch = net, config, steps_per_epoch
        self.max_steps = steps_per_epoch * config.epochs
        self.optimizer = Adam(net.parameters(), lr=config.lr)
        # On resume the half cosine spans the new total of epochs: step s gets the rate the longer schedule has there.
        self.scheduler = CosineAnnealingLR(self.optimizer, T_max=self.max_steps,
                                           eta_min=config.lr * config.lr_min_factor)
        self.batches = np.random.default_rng(seed)  # batch order, then <unk> draws of char_dropout
        self.queue: list[np.ndarray] = []  # the batches left in this epoch, taken from the end
        self.state = LoopState()
        self.best = KeepBest(net)

    def train(self, encoded: list[np.ndarray], targets: np.ndarray, loss_fn: CrossEntropyLoss,
              evaluate: Callable[[], dict[str, float]], on_eval: Callable[[LoopState, dict, bool], None] | None,
              validating: bool, progress: bool, desc: str = "classify") -> LoopState:
        """Train until the epochs, `minutes` or patience run out; the net keeps its best weights, in eval mode."""
        c, net = self.config, self.net
        lengths = np.array([len(e) for e in encoded])

        def step_fn() -> tuple[float, int]:
            if not self.queue:
                self.queue.extend(batches_by_length(lengths, c.batch_size, self.batches))
            batch = self.queue.pop()
            x, mask = pad_batch([encoded[i] for i in batch], net.text)
            if net.text and c.char_dropout > 0:
                x = np.where(mask & (self.batches.random(x.shape) < c.char_dropout), UNK, x)  # (B, T)
            loss = loss_fn(net(x, mask), targets[batch])
            net.backward(loss_fn.backward())
            return loss, int(mask.sum())

        def after_eval(state: LoopState, metrics: dict, improved: bool) -> None:
            self.best.update(improved)
            if on_eval is not None:
                on_eval(state, metrics, improved)

        patience = c.patience if validating else None
        loop = LoopConfig(max_steps=self.max_steps, minutes=c.minutes, eval_every=self.steps_per_epoch,
                          clip_norm=c.clip_norm, monitor=c.monitor, mode="min" if c.monitor == "val_loss" else "max",
                          patience=patience)
        stopped_early = patience is not None and self.state.evals_since_best >= patience
        if not stopped_early:  # a resumed run that had stopped early stays stopped
            self.state = train_loop(net, self.optimizer, step_fn, evaluate, loop, state=self.state,
                                    scheduler=self.scheduler, on_eval=after_eval, desc=desc, progress=progress)
        if validating:
            self.best.restore()
        net.eval()
        return self.state

    def arrays(self) -> dict[str, np.ndarray]:
        """Training weights (`train.*`), optimizer buffers (`optim.*`) and the batch queue (`queue.*`)."""
        queue = {"indices": np.concatenate(self.queue) if self.queue else np.zeros(0, np.int64),
                 "sizes": np.array([len(b) for b in self.queue], np.int64)}
        return (with_prefix(self.net.state_dict(), "train") | with_prefix(queue, "queue")
                | with_prefix(self.optimizer.state_dict()["buffers"], "optim"))

    def meta(self) -> dict[str, Any]:
        """Optimizer settings, loop state and generator states, JSON-ready."""
        return {"optimizer": self.optimizer.state_dict()["hyper"], "loop": self.state.to_json(),
                "generators": {"net": self.net.generator.bit_generator.state,
                               "batches": self.batches.bit_generator.state}}

    def restore(self, arrays: dict[str, np.ndarray], meta: dict[str, Any], best: dict[str, np.ndarray]) -> None:
        """Put back what `arrays()` and `meta()` saved; `best` are the best weights so far."""
        self.net.load_state_dict(best)
        self.best.update(True)
        self.net.load_state_dict(split_prefix(arrays, "train"))
        self.optimizer.load_state_dict({"hyper": meta["optimizer"], "buffers": split_prefix(arrays, "optim")})
        self.state = LoopState.from_json(meta["loop"])
        self.scheduler.last_epoch = self.state.step - 1
        self.scheduler.step()  # the rate of step `state.step` on the schedule of the new epoch budget
        self.net.generator.bit_generator.state = meta["generators"]["net"]
        self.batches.bit_generator.state = meta["generators"]["batches"]
        queue = split_prefix(arrays, "queue")
        self.queue = np.split(queue["indices"].astype(np.int64), np.cumsum(queue["sizes"])[:-1]) if len(
            queue["sizes"]) else []

"""The forecaster's network and the training of one network (a `rnnlab.train.Trainer`).

    windows (N, lookback, D) --RNN/LSTM/GRU (batch_first)--> last output (N, hidden) --Dropout, Linear-->
    (N, outputs): H steps ahead (multi-output), or 1 (recursive, and each network of the direct strategy)
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from rnnlab.backends import distributed
from rnnlab.nn import Dropout, Linear, Module, MSELoss
from rnnlab.nn.models import build_recurrent
from rnnlab.optim import Adam
from rnnlab.train import LoopConfig, LoopState
from rnnlab.trainer import Trainer


class ForecastNetwork(Module):
    """Recurrent layers over the window, the last step's output through dropout and a linear head.

    >>> net = ForecastNetwork("lstm", input_size=2, hidden_size=8, num_layers=1, dropout=0.0, num_outputs=3, seed=0)
    >>> net(np.zeros((5, 10, 2), np.float32)).shape  # (batch, lookback, features) -> (batch, outputs)
    (5, 3)
    """

    def __init__(self, cell: str, input_size: int, hidden_size: int, num_layers: int, dropout: float,
                 num_outputs: int, seed: int | np.random.Generator | None = None, dtype: type = np.float32) -> None:
        super().__init__()
        self.generator = np.random.default_rng(seed)  # weights, then dropout masks (saved for resume)
        self.rnn = build_recurrent(cell, input_size, hidden_size, num_layers=num_layers, batch_first=True,
                                   dropout=dropout if num_layers > 1 else 0.0, dtype=dtype, seed=self.generator)
        self.drop = Dropout(dropout, seed=self.generator)
        self.head = Linear(hidden_size, num_outputs, dtype=dtype, seed=self.generator)
        self._output_shape: tuple[int, ...] = ()

    def forward(self, x: np.ndarray) -> np.ndarray:
        """x (B, lookback, D) float32 -> predictions (B, num_outputs)."""
        output, _ = self.rnn(x)  # (B, lookback, hidden)
        self._output_shape = output.shape
        return self.head(self.drop(output[:, -1]))

    def backward(self, d_pred: np.ndarray) -> None:
        """d loss / d predictions (B, num_outputs) into every parameter's grad; only the last step gets one."""
        d_output = np.zeros(self._output_shape, dtype=d_pred.dtype)  # (B, lookback, hidden)
        d_output[:, -1] = self.drop.backward(self.head.backward(d_pred))
        self.rnn.backward(d_output, input_grad=False)  # the series are data


def new_trainer(config, input_size: int, num_outputs: int, seed: int,
                on_engine: Callable[[Module, int], Module] = lambda net, seed: net) -> Trainer:
    """A fresh network for a `ForecastConfig` with Adam and its generators ("network": weights, then dropout
    masks; "batches": batch draws), saved for an exact resume; `on_engine` puts the network on its engine."""
    network = on_engine(ForecastNetwork(config.cell, input_size, config.hidden_size, config.num_layers,
                                        config.dropout, num_outputs, seed), seed)
    return Trainer(network, Adam(network.parameters(), lr=config.lr),
                   {"network": network.generator, "batches": np.random.default_rng(seed)})


def train_network(trainer: Trainer, config, X: np.ndarray, Y: np.ndarray, X_val: np.ndarray | None,
                  Y_val: np.ndarray | None, *, max_steps: int,
                  on_eval: Callable[[LoopState, dict, bool], None] | None = None, desc: str = "forecast",
                  progress: bool = True, on_gradients: Callable[[dict], None] | None = None,
                  on_checkpoint: Callable[[LoopState], None] | None = None) -> LoopState:
    """Train on windows X (N, lookback, D) and targets Y (N, outputs) until max_steps, `minutes` or early
    stopping on the validation windows (when there are any); the network keeps its best weights, in eval mode."""
    c, validating, network = config, X_val is not None, trainer.module
    loss_fn = MSELoss()
    batches = trainer.generators["batches"]

    def step_fn() -> tuple[float, int]:  # (under torchrun: a global batch, of batch_size on each process)
        batch = batches.choice(len(X), size=min(c.batch_size * distributed.world()[1], len(X)), replace=False)
        batch, share = distributed.shard(batch)  # this process's part
        loss = loss_fn(network(X[batch]), Y[batch])
        network.backward(loss_fn.backward() * share if share != 1 else loss_fn.backward())
        return loss, len(batch)

    def evaluate() -> dict[str, float]:
        network.eval()
        return {"val_loss": MSELoss()(network(X_val), Y_val)} if validating else {}

    loop = LoopConfig(max_steps=max_steps, minutes=c.minutes, eval_every=c.eval_every, clip_norm=c.clip_norm,
                      monitor="val_loss" if validating else "train_loss", patience=c.patience if validating else None,
                      log_gradients=c.log_gradients, on_nan=c.on_nan)
    return trainer.train(step_fn, evaluate, loop, on_eval, keep_best=validating, desc=desc, progress=progress,
                         on_gradients=on_gradients, on_checkpoint=on_checkpoint)


def best_step(trainer: Trainer) -> int:
    """The step of the best evaluation (the last step when there was none)."""
    return trainer.state.best_step or trainer.state.step

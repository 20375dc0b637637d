"""The forecaster's network and the training of one network, with everything needed to resume it.

    windows (N, lookback, D) --RNN/LSTM/GRU (batch_first)--> last output (N, hidden) --Dropout, Linear-->
    (N, outputs): H steps ahead (multi-output), or 1 (recursive, and each network of the direct strategy)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from rnnlab.checkpoint import split_prefix, with_prefix
from rnnlab.nn import Dropout, Linear, Module, MSELoss
from rnnlab.nn.models import build_recurrent
from rnnlab.optim import Adam
from rnnlab.tasks.base import KeepBest
from rnnlab.train import LoopConfig, LoopState, train_loop


class ForecastNetwork(Module):
    """Recurrent layers over the window, the last step's output through dropout and a linear head.

    >>> net = ForecastNetwork("lstm", input_size=2, hidden_size=8, num_layers=1, dropout=0.0, num_outputs=3, seed=0)
    >>> net(np.zeros((5, 10, 2), np.float32)).shape  # (batch, lookback, features) -> (batch, outputs)
    (5, 3)
    """

    def __init__(self, cell: str, input_size: int, hidden_size: int, num_layers: int, dropout: float,
                 num_outputs: int, seed: int | np.random.Generator | None = None) -> None:
        super().__init__()
        self.generator = np.random.default_rng(seed)  # weights, then dropout masks (saved for resume)
        self.rnn = build_recurrent(cell, input_size, hidden_size, num_layers=num_layers, batch_first=True,
                                   dropout=dropout if num_layers > 1 else 0.0, seed=self.generator)
        self.drop = Dropout(dropout, seed=self.generator)
        self.head = Linear(hidden_size, num_outputs, seed=self.generator)
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
        self.rnn.backward(d_output)


class NetworkTrainer:
    """One network with its optimizer (Adam), batch generator, loop state and best weights so far.

    `train` runs `rnnlab.train.train_loop` on windows X (N, lookback, D) and targets Y (N, outputs),
    early-stopping on the validation windows when there are any, and leaves the best weights in
    the network. `arrays()` / `meta()` hold the complete training state and `restore` puts it back,
    so a run continues exactly where it stopped.
    """

    def __init__(self, config, input_size: int, num_outputs: int, seed: int) -> None:
        self.config = c = config  # a ForecastConfig
        self.network = ForecastNetwork(c.cell, input_size, c.hidden_size, c.num_layers, c.dropout, num_outputs, seed)
        self.optimizer = Adam(self.network.parameters(), lr=c.lr)
        self.batches = np.random.default_rng(seed)
        self.state = LoopState()
        self.best = KeepBest(self.network)
        self.last: dict[str, np.ndarray] | None = None  # the weights training stopped at, once it has

    def train(self, X: np.ndarray, Y: np.ndarray, X_val: np.ndarray | None, Y_val: np.ndarray | None, *,
              max_steps: int, on_eval: Callable[[LoopState, dict, bool], None] | None = None, desc: str = "forecast",
              progress: bool = True) -> LoopState:
        """Train until max_steps, config.minutes or early stopping; the network keeps its best weights, in eval mode."""
        c, validating, network = self.config, X_val is not None, self.network
        loss_fn = MSELoss()

        def step_fn() -> tuple[float, int]:
            batch = self.batches.choice(len(X), size=min(c.batch_size, len(X)), replace=False)
            loss = loss_fn(network(X[batch]), Y[batch])
            network.backward(loss_fn.backward())
            return loss, len(batch)

        def evaluate() -> dict[str, float]:
            network.eval()
            return {"val_loss": MSELoss()(network(X_val), Y_val)} if validating else {}

        def after_eval(state: LoopState, metrics: dict, improved: bool) -> None:
            self.best.update(improved)
            if on_eval is not None:
                on_eval(state, metrics, improved)

        patience = c.patience if validating else None
        loop = LoopConfig(max_steps=max_steps, minutes=c.minutes, eval_every=c.eval_every, clip_norm=c.clip_norm,
                          monitor="val_loss" if validating else "train_loss", patience=patience)
        stopped_early = patience is not None and self.state.evals_since_best >= patience
        self.last = None
        if not stopped_early:  # a resumed run that had stopped early stays stopped
            self.state = train_loop(network, self.optimizer, step_fn, evaluate, loop, state=self.state,
                                    on_eval=after_eval, desc=desc, progress=progress)
        if validating:
            self.last = network.state_dict()
            self.best.restore()
        network.eval()
        return self.state

    @property
    def best_step(self) -> int:
        """The step of the best evaluation (the last step when there was none)."""
        return self.state.best_step or self.state.step

    def arrays(self, k: int) -> dict[str, np.ndarray]:
        """Training weights (`train{k}.*`) and optimizer buffers (`optim{k}.*`); the best weights are the model's."""
        return (with_prefix(self.last or self.network.state_dict(), f"train{k}")
                | with_prefix(self.optimizer.state_dict()["buffers"], f"optim{k}"))

    def meta(self) -> dict[str, Any]:
        """Optimizer settings, loop state and generator states, JSON-ready."""
        return {"optimizer": self.optimizer.state_dict()["hyper"], "loop": self.state.to_json(),
                "generators": {"network": self.network.generator.bit_generator.state,
                               "batches": self.batches.bit_generator.state}}

    def restore(self, arrays: dict[str, np.ndarray], meta: dict[str, Any], best: dict[str, np.ndarray], k: int) -> None:
        """Put back what `arrays(k)` and `meta()` saved; `best` are the best weights so far."""
        self.network.load_state_dict(best)
        self.best.update(True)
        self.network.load_state_dict(split_prefix(arrays, f"train{k}"))
        self.optimizer.load_state_dict({"hyper": meta["optimizer"], "buffers": split_prefix(arrays, f"optim{k}")})
        self.state = LoopState.from_json(meta["loop"])
        self.network.generator.bit_generator.state = meta["generators"]["network"]
        self.batches.bit_generator.state = meta["generators"]["batches"]

"""`Trainer`: one module in training, with everything an exact resume needs.

It holds the module's optimizer, optional schedule, random generators, loop state and best weights,
trains through `rnnlab.train.train_loop`, and saves (`arrays`, `meta`) and restores all of that, so a
run continues exactly where it stopped. `KeepBest` keeps the weights of the best evaluation.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from rnnlab.checkpoint import split_prefix, with_prefix
from rnnlab.nn.module import Module
from rnnlab.train import LoopConfig, LoopState, Rollback, train_loop


class KeepBest:
    """The weights of a module at its best evaluation, put back at the end of training."""

    def __init__(self, module: Module) -> None:
        self.module, self.state = module, None

    def update(self, improved: bool) -> None:
        if improved or self.state is None:
            self.state = {k: v.copy() for k, v in self.module.state_dict().items()}

    def restore(self) -> None:
        if self.state is not None:
            self.module.load_state_dict(self.state)


class Trainer:
    """One module in training: its optimizer, optional schedule, random generators, loop state and best weights.

    `train` runs `train_loop` and leaves the best weights in the module (`last` keeps the weights
    training stopped at). `arrays(suffix)` / `meta()` hold the complete training state and `restore`
    puts it back, so a run continues exactly where it stopped. `generators` (name -> Generator: the
    batch order, dropout masks, ...) are saved and restored under their names.
    """

    def __init__(self, module: Module, optimizer, generators: dict[str, np.random.Generator],
                 scheduler=None) -> None:
        self.module, self.optimizer, self.generators, self.scheduler = module, optimizer, generators, scheduler
        self.state = LoopState()
        self.best = KeepBest(module)
        self.last: dict[str, np.ndarray] | None = None  # the weights training stopped at, once the best are back

    def train(self, step_fn: Callable[[], tuple[float, int]], evaluate: Callable[[], dict[str, float]],
              config: LoopConfig, on_eval: Callable[[LoopState, dict, bool], None] | None = None,
              keep_best: bool = True, desc: str = "train", progress: bool = True,
              on_gradients: Callable[[dict], None] | None = None,
              on_checkpoint: Callable[[LoopState], None] | None = None) -> LoopState:
        """Train through `train_loop` (which can back off to the trainer's state at the last evaluation); with
        `keep_best`, the module ends with its best weights. Eval mode after."""

        def after_eval(state: LoopState, metrics: dict, improved: bool) -> None:
            self.best.update(improved)
            if on_eval is not None:
                on_eval(state, metrics, improved)

        self.last = None
        self.state = train_loop(self.module, self.optimizer, step_fn, evaluate, config, state=self.state,
                                scheduler=self.scheduler, on_eval=after_eval, desc=desc, progress=progress,
                                on_gradients=on_gradients, on_checkpoint=on_checkpoint, rollback=self._rollback())
        if keep_best:
            self.last = self.module.state_dict()
            self.best.restore()
        self.module.eval()
        return self.state

    def _rollback(self) -> Rollback:
        """Copies of the weights (best and current), optimizer and generators, and how to put them back."""

        def save() -> tuple:
            return (self.best.state, self.module.state_dict(), self.optimizer.state_dict(),  # (copies)
                    {n: g.bit_generator.state for n, g in self.generators.items()})

        def restore(copy: tuple) -> None:
            best, weights, optimizer, generators = copy
            self.best.state = best
            self.module.load_state_dict(weights)
            self.optimizer.load_state_dict(optimizer)
            for name, generator in self.generators.items():
                generator.bit_generator.state = generators[name]

        return Rollback(save, restore)

    def arrays(self, suffix: str = "", weights: bool = True) -> dict[str, np.ndarray]:
        """Optimizer buffers (`optim{suffix}.*`) and, with `weights`, the best weights so far (`model{suffix}.*`)
        and the training ones (`train{suffix}.*`)."""
        buffers = with_prefix(self.optimizer.state_dict()["buffers"], f"optim{suffix}")
        if not weights:
            return buffers
        return (with_prefix(self.best.state, f"model{suffix}")
                | with_prefix(self.last or self.module.state_dict(), f"train{suffix}") | buffers)

    def meta(self) -> dict[str, Any]:
        """Optimizer settings, loop state and generator states, JSON-ready."""
        return {"optimizer": self.optimizer.state_dict()["hyper"], "loop": self.state.to_json(),
                "generators": {name: g.bit_generator.state for name, g in self.generators.items()}}

    def restore(self, arrays: dict[str, np.ndarray], meta: dict[str, Any], suffix: str = "",
                best: dict[str, np.ndarray] | None = None, weights: str | None = None) -> None:
        """Put back what `arrays(suffix)` and `meta()` saved.

        The best weights are `best` when given, else `model{suffix}.*`; the training weights are read
        from `train{suffix}.*`, or from `weights.*` when given. A schedule is put at the step reached,
        on its current length (a resumed run may have a larger budget).
        """
        self.module.load_state_dict(split_prefix(arrays, f"model{suffix}") if best is None else best)
        self.best.update(True)
        self.module.load_state_dict(split_prefix(arrays, weights or f"train{suffix}"))
        self.optimizer.load_state_dict({"hyper": meta["optimizer"], "buffers": split_prefix(arrays, f"optim{suffix}")})
        self.state = LoopState.from_json(meta["loop"])
        for name, generator in self.generators.items():
            generator.bit_generator.state = meta["generators"][name]
        if self.scheduler is not None:
            self.scheduler.last_epoch = self.state.step - 1
            self.scheduler.step()  # the rate of step `state.step` on the schedule of the new budget
            self.optimizer.lr *= self.state.lr_scale

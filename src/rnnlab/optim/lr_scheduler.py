r"""Learning-rate schedules, as `torch.optim.lr_scheduler`: each sets `optimizer.lr` once per epoch.

As in PyTorch, building a scheduler applies the epoch-0 learning rate at once, and `step()`,
called after `optimizer.step()`, moves to the next epoch. The learning rate is computed in closed
form from the base learning rate η_0 and the epoch t (PyTorch's `_get_closed_form_lr`) rather than
by PyTorch's recursive updates, which agree with it to rounding but let errors build up; the price
is that two schedulers cannot be chained by both scaling the same learning rate.

>>> import numpy as np
>>> from rnnlab.nn import Parameter
>>> from rnnlab.optim import SGD
>>> optimizer = SGD([Parameter(np.zeros(1))], lr=0.1)
>>> warmup = LinearLR(optimizer, start_factor=0.5, total_iters=2)
>>> decay = StepLR(optimizer, step_size=2, gamma=0.5)
>>> schedule = SequentialLR(optimizer, [warmup, decay], milestones=[2])
>>> lrs = [schedule.get_last_lr()[0]]
>>> for epoch in range(5):
...     optimizer.step()
...     schedule.step()
...     lrs.append(schedule.get_last_lr()[0])
>>> [round(lr, 6) for lr in lrs]
[0.05, 0.075, 0.1, 0.1, 0.05, 0.05]
"""

from __future__ import annotations

import math
from bisect import bisect_right

from rnnlab.checks import is_real, non_negative, positive_int, require, require_that
from rnnlab.errors import RnnlabError
from rnnlab.optim.optimizer import Optimizer


class LRScheduler:
    """Base class: `optimizer.lr = _get_closed_form_lr()` at each epoch `last_epoch`.

    The base learning rate is the optimizer's learning rate when its first scheduler was built
    (PyTorch's `initial_lr`), so the schedulers a `SequentialLR` runs share it.
    """

    def __init__(self, optimizer: Optimizer) -> None:
        if not isinstance(optimizer, Optimizer):
            raise RnnlabError(
                "Received an invalid value for argument `optimizer`, expected an rnnlab Optimizer, "
                f"got {type(optimizer).__name__}."
            )
        self.optimizer = optimizer
        if optimizer.initial_lr is None:
            optimizer.initial_lr = optimizer.lr
        self.base_lr = optimizer.initial_lr
        self.last_epoch = -1
        self.step()

    def _get_closed_form_lr(self) -> float:
        raise NotImplementedError

    def step(self) -> None:
        """Move to the next epoch and set the optimizer's learning rate for it."""
        self.last_epoch += 1
        self._last_lr = self._get_closed_form_lr()
        self.optimizer.lr = self._last_lr

    def get_last_lr(self) -> list[float]:
        """The learning rate set by the last step, in a list (one entry per parameter group) as in PyTorch."""
        return [self._last_lr]

    def state_dict(self) -> dict:
        """Every attribute but the optimizer: JSON scalars."""
        return {key: value for key, value in vars(self).items() if key != "optimizer"}

    def load_state_dict(self, state: dict) -> None:
        """Restore the attributes and put the saved learning rate back into the optimizer."""
        own = self.state_dict().keys()
        missing, unexpected = sorted(own - state.keys()), sorted(state.keys() - own)
        if missing or unexpected:
            raise RnnlabError(
                f"scheduler state does not match this {type(self).__name__}: missing {missing}, unexpected {unexpected}"
            )
        vars(self).update(state)
        self.optimizer.lr = self._last_lr


class StepLR(LRScheduler):
    """η_t = η_0 γ^⌊t / step_size⌋: the learning rate times `gamma` every `step_size` epochs."""

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1) -> None:
        self.step_size = require("step_size", step_size, positive_int)
        self.gamma = require("gamma", gamma, non_negative)
        super().__init__(optimizer)

    def _get_closed_form_lr(self) -> float:
        return self.base_lr * self.gamma ** (self.last_epoch // self.step_size)


class ExponentialLR(LRScheduler):
    """η_t = η_0 γ^t: the learning rate times `gamma` every epoch."""

    def __init__(self, optimizer: Optimizer, gamma: float) -> None:
        self.gamma = require("gamma", gamma, non_negative)
        super().__init__(optimizer)

    def _get_closed_form_lr(self) -> float:
        return self.base_lr * self.gamma**self.last_epoch


class CosineAnnealingLR(LRScheduler):
    """η_t = η_min + (η_0 - η_min) (1 + cos(π t / T_max)) / 2: half a cosine from η_0 down to η_min.

    Past `T_max` the cosine carries on (back up over the next `T_max` epochs), as in PyTorch.
    """

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0) -> None:
        self.T_max = require("T_max", T_max, positive_int)
        self.eta_min = require("eta_min", eta_min, non_negative)
        super().__init__(optimizer)

    def _get_closed_form_lr(self) -> float:
        cosine = 1 + math.cos(math.pi * self.last_epoch / self.T_max)
        return self.eta_min + (self.base_lr - self.eta_min) * cosine / 2


class LinearLR(LRScheduler):
    """η_t = η_0 (s + (e - s) min(t, total_iters) / total_iters): a linear ramp of the factor, e.g. warm-up.

    The factor goes from `start_factor` s at epoch 0 to `end_factor` e at `total_iters`, then stays.
    """

    def __init__(
        self,
        optimizer: Optimizer,
        start_factor: float = 1.0 / 3,
        end_factor: float = 1.0,
        total_iters: int = 5,
    ) -> None:
        valid = is_real(start_factor) and 0 < start_factor <= 1
        self.start_factor = require_that("start_factor", start_factor, "a number in (0, 1]", valid)
        valid = is_real(end_factor) and 0 <= end_factor <= 1
        self.end_factor = require_that("end_factor", end_factor, "a number in [0, 1]", valid)
        self.total_iters = require("total_iters", total_iters, positive_int)
        super().__init__(optimizer)

    def _get_closed_form_lr(self) -> float:
        progress = min(self.total_iters, self.last_epoch) / self.total_iters
        return self.base_lr * (self.start_factor + (self.end_factor - self.start_factor) * progress)


class SequentialLR(LRScheduler):
    """Run `schedulers[i]` from epoch `milestones[i-1]`, each restarted at its own epoch 0 there.

    The usual use is warm-up then decay: `SequentialLR(opt, [LinearLR(opt, ...), CosineAnnealingLR(opt, ...)],
    milestones=[warmup_epochs])`.
    """

    def __init__(self, optimizer: Optimizer, schedulers: list[LRScheduler], milestones: list[int]) -> None:
        schedulers, milestones = list(schedulers), list(milestones)
        valid = len(schedulers) > 0 and all(isinstance(s, LRScheduler) and s.optimizer is optimizer for s in schedulers)
        require_that("schedulers", schedulers, "one or more schedulers of this optimizer", valid)
        for milestone in milestones:
            require("milestones", milestone, positive_int)
        valid = len(milestones) == len(schedulers) - 1 and milestones == sorted(set(milestones))
        require_that("milestones", milestones, f"{len(schedulers) - 1} increasing epochs", valid)
        self.optimizer = optimizer
        self._schedulers = schedulers
        self._milestones = milestones
        # Building each scheduler applied its epoch-0 rate; start again from the first one's.
        for scheduler in schedulers:
            scheduler.last_epoch -= 1
        self.last_epoch = -1
        self.step()

    def step(self) -> None:
        self.last_epoch += 1
        index = bisect_right(self._milestones, self.last_epoch)
        scheduler = self._schedulers[index]
        if index > 0 and self._milestones[index - 1] == self.last_epoch:
            scheduler.last_epoch = -1  # its step() below starts it at epoch 0
        scheduler.step()
        self._last_lr = scheduler.get_last_lr()[0]

    def state_dict(self) -> dict:
        """Own epoch and milestones, and each scheduler's state under "schedulers"."""
        return {
            "last_epoch": self.last_epoch,
            "_last_lr": self._last_lr,
            "_milestones": list(self._milestones),
            "schedulers": [scheduler.state_dict() for scheduler in self._schedulers],
        }

    def load_state_dict(self, state: dict) -> None:
        if len(state["schedulers"]) != len(self._schedulers):
            raise RnnlabError(
                f"scheduler state has {len(state['schedulers'])} schedulers, expected {len(self._schedulers)}"
            )
        for scheduler, scheduler_state in zip(self._schedulers, state["schedulers"], strict=True):
            scheduler.load_state_dict(scheduler_state)
        self.last_epoch, self._last_lr = state["last_epoch"], state["_last_lr"]
        self._milestones = list(state["_milestones"])
        self.optimizer.lr = self._last_lr

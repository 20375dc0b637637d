"""The one training loop every task uses.

A task supplies two functions and the loop does the rest:

    step_fn() -> (loss, tokens)     forward and backward on the next batch (gradients accumulated)
    evaluate() -> {metric: value}   on held-out data, the model in eval mode

Each step: zero the gradients, `step_fn`, clip, optimizer step, scheduler step. Every
`eval_every` steps (and at the end): evaluate, log a JSON line, track the best value of
`monitor`, call `on_eval` (the task saves checkpoints there), and stop early once the
monitored value has not improved for `patience` evaluations. The loop ends at `max_steps`
or after `minutes` of training in this call, whichever comes first, and shows a progress bar with the
step, losses, tokens per second and time left. An evaluation made only because the time ran out
(off the `eval_every` grid) carries "scheduled": False and does not count towards `patience`, so
a run stopped by the clock and resumed stops early where an uninterrupted run would.

`Trainer` holds one module in training (optimizer, schedule, random generators, loop state, best
weights), trains it through `train_loop` and saves and restores all of that for an exact resume.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from rnnlab.checkpoint import split_prefix, with_prefix
from rnnlab.errors import RnnlabError, invalid_argument
from rnnlab.nn.module import Module
from rnnlab.nn.recurrent import RNNBase
from rnnlab.optim import clip_grad_norm_, clip_grad_value_


@dataclass
class LoopState:
    """What the loop knows between steps; saved in checkpoints so a run resumes exactly."""

    step: int = 0
    seconds: float = 0.0  # training time so far, across resumes
    tokens: int = 0
    best: float | None = None
    best_step: int | None = None
    evals_since_best: int = 0
    history: list[dict] = field(default_factory=list)
    train_loss: float | None = None  # the smoothed training loss, so a resumed run's figure continues

    def to_json(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}

    @classmethod
    def from_json(cls, data: dict) -> LoopState:
        return cls(**data)


@dataclass(frozen=True)
class LoopConfig:
    max_steps: int = 1000
    minutes: float | None = None  # training time for this call (a resumed run gets it anew), None: no limit
    eval_every: int = 100
    clip_norm: float | None = None  # clip the global gradient norm (clip_grad_norm_)
    clip_value: float | None = None  # clip each gradient element (clip_grad_value_)
    monitor: str = "val_loss"  # the metric that decides "best" and early stopping
    mode: str = "min"  # "min" or "max"
    patience: int | None = None  # evaluations without improvement before stopping
    log_gradients: bool = False  # build a gradient row each step for `train_loop`'s on_gradients

    def __post_init__(self) -> None:
        if self.max_steps <= 0:
            raise invalid_argument("max_steps", "a positive integer", self.max_steps)
        if self.eval_every <= 0:
            raise invalid_argument("eval_every", "a positive integer", self.eval_every)
        if self.minutes is not None and self.minutes <= 0:
            raise invalid_argument("minutes", "a positive number of minutes", self.minutes)
        if self.mode not in ("min", "max"):
            raise invalid_argument("mode", "'min' or 'max'", self.mode)


def train_loop(
    model: Module,
    optimizer,
    step_fn: Callable[[], tuple[float, int]],
    evaluate: Callable[[], dict[str, float]],
    config: LoopConfig,
    state: LoopState | None = None,
    scheduler=None,
    on_eval: Callable[[LoopState, dict, bool], None] | None = None,
    log_path: Path | None = None,
    desc: str = "train",
    progress: bool = True,
    on_gradients: Callable[[dict], None] | None = None,
) -> LoopState:
    """Train until `config.max_steps` or `config.minutes`; returns the final loop state.

    A `state` that had already stopped early (`patience` evaluations without improvement) comes
    back as it is: a resumed run that had stopped early stays stopped.

    With `config.log_gradients`, every recurrent layer records its input gradients and, after each
    `step_fn` and before clipping, `on_gradients` gets a row (see `gradient_row`).
    """
    state = state or LoopState()
    if _stopped_early(state, config):
        return state
    params = model.parameters()
    logging = config.log_gradients and on_gradients is not None
    if logging:
        for _, module in model.named_modules():
            if isinstance(module, RNNBase):
                module.record_input_grads = True
    bar = tqdm(total=config.max_steps, initial=state.step, desc=desc, disable=not progress or None,
               dynamic_ncols=True, leave=True)
    last_metrics = {}
    started, seconds_before = time.perf_counter(), state.seconds
    try:
        while state.step < config.max_steps:
            model.train()
            optimizer.zero_grad()
            loss, tokens = step_fn()
            if not math.isfinite(loss):
                bar.write(f"step {state.step + 1}: loss is {loss}; stopping (try a lower learning rate or clipping)")
                break
            if logging:
                evaluating = (state.step + 1) % config.eval_every == 0 or state.step + 1 == config.max_steps
                on_gradients(gradient_row(model, state.step + 1, config, spectral=evaluating))
            if config.clip_value is not None:
                clip_grad_value_(params, config.clip_value)
            if config.clip_norm is not None:
                clip_grad_norm_(params, config.clip_norm)
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
            state.step += 1
            state.tokens += tokens
            elapsed = time.perf_counter() - started
            state.seconds = seconds_before + elapsed
            smoothed = state.train_loss = loss if state.train_loss is None else 0.98 * state.train_loss + 0.02 * loss
            out_of_time = config.minutes is not None and elapsed >= 60 * config.minutes
            scheduled = state.step % config.eval_every == 0 or state.step == config.max_steps
            if scheduled or out_of_time:
                last_metrics = _evaluate(state, evaluate, smoothed, optimizer.lr, config, on_eval, log_path,
                                         scheduled)
            bar.set_postfix_str(_postfix(state, smoothed, last_metrics, config, seconds_before), refresh=False)
            bar.update(1)
            if state.step == config.max_steps or out_of_time or _stopped_early(state, config):
                break
    finally:
        bar.close()
    return state


def gradient_row(model: Module, step: int, config: LoopConfig, spectral: bool = False) -> dict:
    """The gradients as they stand (before clipping), JSON-ready.

    {"step", "global_norm", "norms": {parameter: norm}, "clipped": whether clipping will change them
    (the global norm exceeds `clip_norm`, or an element exceeds `clip_value`), "input_grad_norms":
    {recurrent module: ||dLoss/dx_t|| per time step}} and, with `spectral`, "spectral_radius":
    {weight_hh_* parameter: largest |eigenvalue|}. For stacked gate blocks the radius is that of the
    candidate block: rows 2H:3H of an LSTM's 4H x H (the g gate) and of a GRU's 3H x H (the n gate).
    An evaluation step made only because the time ran out gets no spectral radius.
    """
    named = list(model.named_parameters())
    norms = {name: float(np.sqrt(np.square(p.grad, dtype=np.float64).sum())) for name, p in named}
    global_norm = math.sqrt(sum(n * n for n in norms.values()))
    clipped = config.clip_norm is not None and global_norm > config.clip_norm
    if config.clip_value is not None and not clipped:
        clipped = any(p.grad.size and float(np.abs(p.grad).max()) > config.clip_value for _, p in named)
    inputs = {name or type(m).__name__: [float(v) for v in m.input_grad_norms]
              for name, m in model.named_modules()
              if isinstance(m, RNNBase) and getattr(m, "input_grad_norms", None) is not None}
    row = {"step": step, "global_norm": global_norm, "norms": norms, "clipped": bool(clipped),
           "input_grad_norms": inputs}
    if spectral:
        row["spectral_radius"] = spectral_radii(model)
    return row


def spectral_radii(model: Module) -> dict[str, float]:
    """{weight_hh_* parameter: largest |eigenvalue|}: the square W_hh, or the candidate block of stacked gates
    (rows 2H:3H: an LSTM's g gate, a GRU's n gate)."""
    radii = {}
    for name, p in model.named_parameters():
        if not name.rsplit(".", 1)[-1].startswith("weight_hh"):
            continue
        W = p.data
        H = W.shape[1]
        block = W if W.shape[0] == H else W[2 * H : 3 * H]
        radii[name] = float(np.abs(np.linalg.eigvals(block.astype(np.float64))).max())
    return radii


def _stopped_early(state: LoopState, config: LoopConfig) -> bool:
    return config.patience is not None and state.evals_since_best >= config.patience


def _evaluate(state, evaluate, smoothed, lr, config, on_eval, log_path, scheduled: bool) -> dict:
    metrics = {"step": state.step, "train_loss": smoothed, "lr": lr, **evaluate(),
               "seconds": round(state.seconds, 2), "tokens_per_s": state.tokens / max(state.seconds, 1e-9)}
    if not scheduled:  # made because the time ran out: an uninterrupted run would not have made it
        metrics["scheduled"] = False
    value = metrics.get(config.monitor)
    if value is None and config.patience is not None:
        raise RnnlabError(f"cannot stop early on {config.monitor!r}: the evaluation gives {', '.join(metrics)}")
    finite = value is not None and math.isfinite(value)  # a NaN is never the best
    improved = finite and (state.best is None or (value < state.best if config.mode == "min" else value > state.best))
    if improved:
        state.best, state.best_step, state.evals_since_best = value, state.step, 0
    elif scheduled:
        state.evals_since_best += 1
    state.history.append(metrics)
    if log_path is not None:
        with open(log_path, "a", encoding="utf-8") as log:
            log.write(json.dumps(metrics) + "\n")
    if on_eval is not None:
        on_eval(state, metrics, improved)
    return metrics


def _postfix(state: LoopState, smoothed: float, metrics: dict, config: LoopConfig, seconds_before: float) -> str:
    parts = [f"loss {smoothed:.3f}"]
    if config.monitor in metrics:
        parts.append(f"{config.monitor} {metrics[config.monitor]:.3f}")
    if "val_bpc" in metrics:
        parts.append(f"bpc {metrics['val_bpc']:.3f}")
    parts.append(f"{state.tokens / max(state.seconds, 1e-9):,.0f} tok/s")
    if config.minutes is not None:
        parts.append(f"{max(0.0, 60 * config.minutes - (state.seconds - seconds_before)):.0f}s left")
    return ", ".join(parts)


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
              on_gradients: Callable[[dict], None] | None = None) -> LoopState:
        """Train through `train_loop`; with `keep_best`, the module ends with its best weights. Eval mode after."""

        def after_eval(state: LoopState, metrics: dict, improved: bool) -> None:
            self.best.update(improved)
            if on_eval is not None:
                on_eval(state, metrics, improved)

        self.last = None
        self.state = train_loop(self.module, self.optimizer, step_fn, evaluate, config, state=self.state,
                                scheduler=self.scheduler, on_eval=after_eval, desc=desc, progress=progress,
                                on_gradients=on_gradients)
        if keep_best:
            self.last = self.module.state_dict()
            self.best.restore()
        self.module.eval()
        return self.state

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

"""The one training loop every task uses.

A task supplies two functions and the loop does the rest:

    step_fn() -> (loss, tokens)     forward and backward on the next batch (gradients accumulated)
    evaluate() -> {metric: value}   on held-out data, the model in eval mode

Each step: zero the gradients, `step_fn`, clip, optimizer step, scheduler step. Every
`eval_every` steps (and at the end): evaluate, log a JSON line, track the best value of
`monitor`, call `on_eval` (the task saves checkpoints there), and stop early once the
monitored value has not improved for `patience` evaluations. The loop ends at `max_steps`
or after `minutes` of training in this call, whichever comes first, and shows a progress bar with the
step, losses, tokens per second and time left.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from rnnlab.errors import RnnlabError, invalid_argument
from rnnlab.nn.module import Module
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
) -> LoopState:
    """Train until `config.max_steps` or `config.minutes`; returns the final loop state."""
    state = state or LoopState()
    params = model.parameters()
    bar = tqdm(total=config.max_steps, initial=state.step, desc=desc, disable=not progress or None,
               dynamic_ncols=True, leave=True)
    smoothed, last_metrics = None, {}
    started, seconds_before = time.perf_counter(), state.seconds
    try:
        while state.step < config.max_steps:
            model.train()
            optimizer.zero_grad()
            loss, tokens = step_fn()
            if not math.isfinite(loss):
                bar.write(f"step {state.step + 1}: loss is {loss}; stopping (try a lower learning rate or clipping)")
                break
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
            smoothed = loss if smoothed is None else 0.98 * smoothed + 0.02 * loss
            out_of_time = config.minutes is not None and elapsed >= 60 * config.minutes
            last = state.step == config.max_steps or out_of_time
            if state.step % config.eval_every == 0 or last:
                last_metrics = _evaluate(state, evaluate, smoothed, optimizer.lr, config, on_eval, log_path)
            bar.set_postfix_str(_postfix(state, smoothed, last_metrics, config, seconds_before), refresh=False)
            bar.update(1)
            if last or (config.patience is not None and state.evals_since_best >= config.patience):
                break
    finally:
        bar.close()
    return state


def _evaluate(state, evaluate, smoothed, lr, config, on_eval, log_path) -> dict:
    metrics = {"step": state.step, "train_loss": smoothed, "lr": lr, **evaluate(),
               "seconds": round(state.seconds, 2), "tokens_per_s": state.tokens / max(state.seconds, 1e-9)}
    value = metrics.get(config.monitor)
    if value is None and config.patience is not None:
        raise RnnlabError(f"cannot stop early on {config.monitor!r}: the evaluation gives {', '.join(metrics)}")
    finite = value is not None and math.isfinite(value)  # a NaN is never the best
    improved = finite and (state.best is None or (value < state.best if config.mode == "min" else value > state.best))
    if improved:
        state.best, state.best_step, state.evals_since_best = value, state.step, 0
    else:
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

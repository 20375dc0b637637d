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

`rnnlab.trainer.Trainer` holds one module in training (optimizer, schedule, random generators, loop
state, best weights), trains it through `train_loop` and saves and restores all of that.
"""

from __future__ import annotations

import json
import math
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from rnnlab.errors import Diverged, RnnlabError, invalid_argument
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
    lr_scale: float = 1.0  # the learning rate's factor after `on_nan="backoff"` halved it
    backoffs: int = 0  # how many times it did

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
    checkpoint_every: int = 500  # steps between `on_checkpoint` calls (besides every evaluation's `on_eval`)
    on_nan: str = "stop"  # a non-finite loss or gradient: "stop" (raise `Diverged`), or "backoff" (see `Trainer`)

    def __post_init__(self) -> None:
        if self.max_steps <= 0:
            raise invalid_argument("max_steps", "a positive integer", self.max_steps)
        if self.eval_every <= 0:
            raise invalid_argument("eval_every", "a positive integer", self.eval_every)
        if self.minutes is not None and self.minutes <= 0:
            raise invalid_argument("minutes", "a positive number of minutes", self.minutes)
        if self.mode not in ("min", "max"):
            raise invalid_argument("mode", "'min' or 'max'", self.mode)
        if self.on_nan not in ON_NAN:
            raise invalid_argument("on_nan", " or ".join(map(repr, ON_NAN)), self.on_nan)


ON_NAN = ("stop", "backoff")
MAX_BACKOFFS = 3  # `on_nan="backoff"` halves the learning rate at most this many times in a run


class TrainingInterrupted(KeyboardInterrupt):
    """SIGINT (Ctrl-C) or SIGTERM stopped training after a whole step; `saved`: the run's `latest` checkpoint
    was written at that step, so the run resumes from there. The command exits with `exit_status` (130 / 143)."""

    def __init__(self, signum: int, step: int, saved: bool) -> None:
        super().__init__(f"{signal.Signals(signum).name} at step {step}")
        self.signum, self.step, self.saved = signum, step, saved
        self.exit_status = 128 + signum


@dataclass
class Rollback:
    """How `on_nan="backoff"` takes a run back: `save()` returns a copy of what training changes (weights,
    optimizer, generators, data position), `restore(copy)` puts it back. The loop state is the loop's."""

    save: Callable[[], Any]
    restore: Callable[[Any], None]


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
    on_checkpoint: Callable[[LoopState], None] | None = None,
    rollback: Rollback | None = None,
) -> LoopState:
    """Train until `config.max_steps` or `config.minutes`; returns the final loop state.

    `on_checkpoint(state)` (the task writes its `latest` checkpoint) is called every
    `config.checkpoint_every` steps and when SIGINT or SIGTERM arrives: the loop finishes the step
    it is in, calls it, and raises `TrainingInterrupted` (a second signal stops at once).

    A loss or gradient that is NaN or infinite raises `Diverged` naming the step, before the
    optimizer uses it; with `config.on_nan == "backoff"` and a `rollback`, the loop instead goes back
    to its last evaluation (or its start), halves the learning rate and carries on, at most
    `MAX_BACKOFFS` times in a run.

    A `state` that had already stopped early (`patience` evaluations without improvement) comes
    back as it is: a resumed run that had stopped early stays stopped.

    With `config.log_gradients`, every recurrent layer records its input gradients and, after each
    `step_fn` and before clipping, `on_gradients` gets a row (see `gradient_row`).
    """
    state = state or LoopState()
    if _stopped_early(state, config):
        return state
    if config.log_gradients and on_gradients is not None:
        for _, module in model.named_modules():
            if isinstance(module, RNNBase):
                module.record_input_grads = True
    else:
        on_gradients = None
    snapshots: list[tuple[dict, Any]] = []  # (loop state, rollback.save()) at the last evaluations, newest last
    fresh = [False]  # a snapshot was taken since the last back-off

    def save() -> None:  # for a back-off: the loop state, and through `rollback` the rest
        if rollback is not None and config.on_nan == "backoff":
            snapshots.append((json.loads(json.dumps(state.to_json())), rollback.save()))
            del snapshots[: -(MAX_BACKOFFS + 1)]
            fresh[0] = True

    def after_eval(state: LoopState, metrics: dict, improved: bool) -> None:
        if on_eval is not None:
            on_eval(state, metrics, improved)
        save()

    save()
    bar = tqdm(total=config.max_steps, initial=state.step, desc=desc, disable=not progress or None,
               dynamic_ncols=True, leave=True)
    try:
        while True:
            try:
                _steps(model, optimizer, step_fn, evaluate, config, state, scheduler, after_eval, log_path, bar,
                       on_gradients, on_checkpoint)
                return state
            except Diverged as error:
                if not snapshots:
                    raise
                if state.backoffs >= MAX_BACKOFFS:
                    raise Diverged(error.step, error.what, state.backoffs) from None
                if not fresh[0] and len(snapshots) > 1:  # diverged again before an evaluation: from that state,
                    snapshots.pop()  # the same batch gives the same NaN whatever the rate, so go back further
                fresh[0] = False
                backoffs, scale = state.backoffs + 1, state.lr_scale / 2
                loop_state, snapshot = snapshots[-1]
                rollback.restore(snapshot)
                restored = LoopState.from_json(json.loads(json.dumps(loop_state)))
                state.history[:] = restored.history  # the same list: callers may hold it
                vars(state).update({k: v for k, v in vars(restored).items() if k != "history"})
                if scheduler is not None:  # the rate of the saved step, at the new scale
                    scheduler.last_epoch = state.step - 1
                    scheduler.step()
                    optimizer.lr *= scale
                else:
                    optimizer.lr *= scale / state.lr_scale
                state.backoffs, state.lr_scale = backoffs, scale
                bar.reset(total=config.max_steps)
                bar.update(state.step)
                bar.write(f"step {error.step}: {error.what}; back to step {state.step} with the learning rate "
                          f"halved (back-off {backoffs} of {MAX_BACKOFFS})", file=sys.stderr)
    finally:
        bar.close()


def _steps(model, optimizer, step_fn, evaluate, config: LoopConfig, state: LoopState, scheduler, on_eval, log_path,
           bar, on_gradients, on_checkpoint) -> None:
    """`train_loop`'s steps, from `state.step` until the budget, the clock or early stopping ends them."""
    params = model.parameters()
    last_metrics = {}
    started, seconds_before = time.perf_counter(), state.seconds
    with _signals_deferred() as signals, np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        # (overflow warnings would only repeat what `_check_finite` says in one line)
        while state.step < config.max_steps:
            model.train()
            optimizer.zero_grad()
            loss, tokens = step_fn()
            if on_gradients is not None:
                evaluating = (state.step + 1) % config.eval_every == 0 or state.step + 1 == config.max_steps
                on_gradients(gradient_row(model, state.step + 1, config, spectral=evaluating))
            _check_finite(loss, params, state.step + 1)
            if config.clip_value is not None:
                clip_grad_value_(params, config.clip_value)
            if config.clip_norm is not None:
                clip_grad_norm_(params, config.clip_norm)
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
                optimizer.lr *= state.lr_scale
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
            elif on_checkpoint is not None and state.step % config.checkpoint_every == 0:
                on_checkpoint(state)
            bar.set_postfix_str(_postfix(state, smoothed, last_metrics, config, seconds_before), refresh=False)
            bar.update(1)
            if signals:
                if on_checkpoint is not None:
                    on_checkpoint(state)
                raise TrainingInterrupted(signals[0], state.step, saved=on_checkpoint is not None)
            if state.step == config.max_steps or out_of_time or _stopped_early(state, config):
                break


@contextmanager
def _signals_deferred() -> Iterator[list[int]]:
    """Within: SIGINT and SIGTERM are noted in the yielded list instead of stopping the process, so the loop
    can end its step and checkpoint; a second signal raises KeyboardInterrupt at once. Main thread only."""
    received: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield received
        return

    def note(signum: int, frame) -> None:
        if received:
            raise KeyboardInterrupt
        received.append(signum)

    previous = {s: signal.signal(s, note) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield received
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def _check_finite(loss: float, params: list, step: int) -> None:
    """Raise `Diverged` if the loss or any gradient is NaN or infinite (one pass: their squared norm)."""
    if not math.isfinite(loss):
        raise Diverged(step, f"the loss is {loss}")
    total = sum(float(np.vdot(p.grad.ravel(), p.grad.ravel())) for p in params)
    if not math.isfinite(total):
        raise Diverged(step, "a gradient is NaN or infinite")


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

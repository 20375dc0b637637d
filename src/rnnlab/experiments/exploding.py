"""Exploding gradients: a tanh RNN past spectral radius 1, trained with no clipping, clipping by value and by norm.

The task is a delayed echo (output at step t the input of step t - `delay`, mean squared error
over every step), trained with plain SGD. The three runs start from the same weights and see
the same batches; only what happens to the gradient between `backward` and `step` differs:

    none:   g unchanged
    value:  every element clamped to [-clip_value, clip_value]      (`clip_grad_value_`)
    norm:   g scaled by min(1, max_norm / ||g||)                     (`clip_grad_norm_`)

||g|| is the global norm of all the gradients before clipping. A run has diverged when its loss
is not finite or exceeds `divergence_factor` times its first loss; it stops at a non-finite loss.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from rnnlab.experiments.result import Result, new_figure
from rnnlab.nn import RNN, Linear, MSELoss
from rnnlab.optim import SGD, clip_grad_norm_, clip_grad_value_

MODES = ("none", "value", "norm")


@dataclass(frozen=True)
class Setup:
    seq_len: int = 40
    hidden_size: int = 32
    batch_size: int = 16
    delay: int = 5
    spectral_radius: float = 1.5
    lr: float = 0.3
    steps: int = 300
    clip_value: float = 0.1
    max_norm: float = 1.0
    divergence_factor: float = 100.0


QUICK = Setup(seq_len=20, hidden_size=8, steps=40)


def echo_batch(rng: np.random.Generator, setup: Setup) -> tuple[np.ndarray, np.ndarray]:
    """x (T, B, 1) standard normal; y (T, B, 1) = x delayed by `delay` steps (zero before)."""
    x = rng.standard_normal((setup.seq_len, setup.batch_size, 1)).astype(np.float32)
    y = np.zeros_like(x)
    y[setup.delay:] = x[:-setup.delay]
    return x, y


def build(setup: Setup, seed: int):
    """RNN(1, H) with W_hh rescaled to `spectral_radius`, and a Linear(H, 1) read-out."""
    rng = np.random.default_rng(seed)
    layer, head = RNN(1, setup.hidden_size, seed=rng), Linear(setup.hidden_size, 1, seed=rng)
    W_hh = layer.weight_hh_l0.data
    W_hh *= setup.spectral_radius / np.abs(np.linalg.eigvals(W_hh.astype(np.float64))).max()
    return layer, head


def global_norm(params) -> float:
    return math.sqrt(sum(float(np.square(p.grad, dtype=np.float64).sum()) for p in params))


def train(mode: str, setup: Setup, seed: int) -> dict:
    """One run; returns its losses and gradient norms per step (before clipping)."""
    layer, head = build(setup, seed)
    params = layer.parameters() + head.parameters()
    optimizer, loss, data = SGD(params, lr=setup.lr), MSELoss(), np.random.default_rng(seed + 1)
    losses, norms = [], []
    for _ in range(setup.steps):
        x, y = echo_batch(data, setup)
        optimizer.zero_grad()
        with np.errstate(all="ignore"):  # overflow is what this run is about; it is recorded, not warned about
            output, _ = layer.forward(x)
            losses.append(loss(head.forward(output), y))
            layer.backward(head.backward(loss.backward()))
            norms.append(global_norm(params))
            if mode == "value":
                clip_grad_value_(params, setup.clip_value)
            elif mode == "norm":
                clip_grad_norm_(params, setup.max_norm)
            optimizer.step()
        if not math.isfinite(losses[-1]):
            break
    limit = setup.divergence_factor * losses[0]
    diverged_at = next((i for i, v in enumerate(losses) if not (math.isfinite(v) and v <= limit)), None)
    return {"losses": losses, "grad_norms": norms, "diverged_at_step": diverged_at}


def run(quick: bool = False, seed: int = 0) -> Result:
    setup = QUICK if quick else Setup()
    runs = {mode: train(mode, setup, seed) for mode in MODES}
    finite = {m: [v for v in r["losses"] if math.isfinite(v)] for m, r in runs.items()}
    figures = {
        "setup": {**asdict(setup), "seed": seed, "optimizer": "SGD (no momentum)"},
        "final_loss": {m: r["losses"][-1] for m, r in runs.items()},
        "best_loss": {m: min(finite[m], default=math.nan) for m in MODES},
        "max_grad_norm": {m: max((v for v in r["grad_norms"] if math.isfinite(v)), default=math.nan)
                          for m, r in runs.items()},
        "diverged": {m: r["diverged_at_step"] is not None for m, r in runs.items()},
        "diverged_at_step": {m: r["diverged_at_step"] for m, r in runs.items()},
        "steps_run": {m: len(r["losses"]) for m, r in runs.items()},
        "loss": {m: r["losses"] for m, r in runs.items()},
        "grad_norm": {m: r["grad_norms"] for m, r in runs.items()},
    }
    return Result("exploding", figures, verdict(figures), {"loss_and_gradient_norm.png": plot(figures)})


def _outcome(figures: dict, mode: str) -> str:
    if figures["diverged"][mode]:
        return (f"diverged at step {figures['diverged_at_step'][mode]} (largest finite gradient norm "
                f"{figures['max_grad_norm'][mode]:.1e})")
    return f"stayed finite (final loss {figures['final_loss'][mode]:.3g}, gradient norm up to " \
           f"{figures['max_grad_norm'][mode]:.1e} before clipping)"


def verdict(figures: dict) -> str:
    radius = figures["setup"]["spectral_radius"]
    kept = [m for m in ("value", "norm") if not figures["diverged"][m]]
    summary = ("clipping kept the run finite where the unclipped one diverged"
               if figures["diverged"]["none"] and len(kept) == 2 else
               "clipping made no difference here: no run diverged" if not any(figures["diverged"].values()) else
               f"{'only clipping by ' + kept[0] if kept else 'no clipping'} kept the run finite")
    return (f"With W_hh at spectral radius {radius:g}, plain SGD without clipping {_outcome(figures, 'none')}; "
            f"clipped by value it {_outcome(figures, 'value')}; clipped by norm it {_outcome(figures, 'norm')}: "
            f"{summary}.")


def plot(figures: dict):
    figure, axes = new_figure(1, 2, width=12, height=4)
    colours = {"none": "tab:red", "value": "tab:orange", "norm": "tab:blue"}
    labels = {"none": "no clipping", "value": f"clip by value ({figures['setup']['clip_value']:g})",
              "norm": f"clip by norm ({figures['setup']['max_norm']:g})"}
    for mode in MODES:
        losses = np.array(figures["loss"][mode], dtype=np.float64)
        axes[0, 0].semilogy(np.where(np.isfinite(losses), losses, np.nan), color=colours[mode], label=labels[mode])
        axes[0, 1].semilogy(figures["grad_norm"][mode], color=colours[mode], label=labels[mode])
        if figures["diverged"]["none"] and mode == "none":
            axes[0, 0].axvline(figures["diverged_at_step"]["none"], color="tab:red", linestyle=":", linewidth=0.8)
    axes[0, 0].set(title="training loss (MSE)", xlabel="step", ylabel="loss")
    axes[0, 1].set(title="global gradient norm before clipping", xlabel="step", ylabel="||g||")
    for ax in axes.ravel():
        ax.legend(fontsize=8)
    return figure

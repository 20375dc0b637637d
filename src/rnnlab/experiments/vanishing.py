"""How far back the gradient reaches: tanh RNN, ReLU RNN, LSTM and GRU, at initialisation and after training.

The task needs memory: a sequence of random symbols (one-hot), and the answer at the last step
is the first symbol. The loss is taken at the last step only, so the gradient that reaches the
input k steps earlier, ||dLoss/dx_{T-1-k}||, is exactly the signal that travelled k steps back
through the recurrence. For the tanh RNN the same numbers are also computed by unrolling the
product of Jacobians by hand,

    dLoss/dh_{t-1} = W_hh^T (tanh'(a_t) * dLoss/dh_t),    tanh'(a_t) = 1 - h_t^2,

and checked against the engine's backward pass. Each cell has PyTorch's initialisation
(every weight and bias U(-1/sqrt(H), 1/sqrt(H))), except that the LSTM's forget-gate bias
b_if is set to `forget_bias` (b_hf stays as drawn), as Keras's `unit_forget_bias` does.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from rnnlab.experiments.result import Result, new_figure
from rnnlab.nn import GRU, LSTM, RNN, CrossEntropyLoss, Linear
from rnnlab.optim import Adam, clip_grad_norm_

CELLS = ("rnn_tanh", "rnn_relu", "lstm", "gru")


@dataclass(frozen=True)
class Setup:
    seq_len: int = 80
    hidden_size: int = 64
    symbols: int = 8
    batch_size: int = 32
    train_steps: int = 300
    lr: float = 3e-3
    max_grad_norm: float = 1.0
    forget_bias: float = 1.0
    distance: int = 50  # the distance the verdict compares at


QUICK = Setup(seq_len=60, hidden_size=16, batch_size=8, train_steps=3)


def build(cell: str, setup: Setup, seed: int):
    """The recurrent layer and the read-out Linear(H, symbols), seeded identically for every cell."""
    rng = np.random.default_rng(seed)
    size = (setup.symbols, setup.hidden_size)
    if cell == "lstm":
        layer = set_forget_bias(LSTM(*size, seed=rng), setup.forget_bias)
    elif cell == "gru":
        layer = GRU(*size, seed=rng)
    else:
        layer = RNN(*size, nonlinearity=cell.removeprefix("rnn_"), seed=rng)
    return layer, Linear(setup.hidden_size, setup.symbols, seed=rng)


def set_forget_bias(layer, value: float):
    """The layer with its forget-gate input bias set to `value` (gates i, f, g, o: the f slice); returns it."""
    H = layer.hidden_size
    layer.bias_ih_l0.data[H:2 * H] = value
    return layer


def memory_batch(rng: np.random.Generator, setup: Setup) -> tuple[np.ndarray, np.ndarray]:
    """x (T, B, symbols) one-hot random symbols; target (B,) the first symbol of each sequence."""
    ids = rng.integers(0, setup.symbols, (setup.seq_len, setup.batch_size))  # (T, B)
    return np.eye(setup.symbols, dtype=np.float32)[ids], ids[0]


def spectral_radius(layer) -> float:
    """max |eigenvalue| of the recurrent block that feeds the new state: W_hh for the RNN, the
    candidate's W_hg for the LSTM, W_hn for the GRU."""
    H = layer.hidden_size
    block = {1: slice(0, H), 4: slice(2 * H, 3 * H), 3: slice(2 * H, 3 * H)}[layer.gate_count]
    return float(np.abs(np.linalg.eigvals(layer.weight_hh_l0.data[block].astype(np.float64))).max())


def forward_backward(layer, head, x, target, loss):
    """Loss at the last step; backward through both layers. Returns (loss, output (T, B, H),
    d_h_last (B, H), d_x (T, B, symbols))."""
    output, _ = layer.forward(x)
    value = loss(head.forward(output[-1]), target)
    d_h_last = head.backward(loss.backward())  # (B, H)
    d_output = np.zeros_like(output)
    d_output[-1] = d_h_last
    return value, output, d_h_last, layer.backward(d_output)


def norm_by_distance(d_x: np.ndarray) -> np.ndarray:
    """(T, B, I) per-step input gradients -> (T,) mean over the batch of ||dLoss/dx_{T-1-k}||, k = 0..T-1."""
    return np.linalg.norm(d_x.astype(np.float64), axis=2).mean(axis=1)[::-1]


def measure(layer, head, x, target) -> np.ndarray:
    """Gradient norm against distance, for the loss of each sequence (summed over the batch, not averaged)."""
    layer.zero_grad()
    head.zero_grad()
    *_, d_x = forward_backward(layer, head, x, target, CrossEntropyLoss(reduction="sum"))
    return norm_by_distance(d_x)


def unrolled_tanh(layer, head, x, target) -> tuple[np.ndarray, np.ndarray]:
    """The tanh RNN's backward pass by hand: the product of Jacobians tanh'(a_t) W_hh, one step at a time.
    Returns ||dLoss/dh_{T-1-k}|| and ||dLoss/dx_{T-1-k}|| (each (T,), mean over the batch)."""
    _, output, d_h, _ = forward_backward(layer, head, x, target, CrossEntropyLoss(reduction="sum"))
    W_ih, W_hh = layer.weight_ih_l0.data.astype(np.float64), layer.weight_hh_l0.data.astype(np.float64)
    d_h = d_h.astype(np.float64)  # (B, H) dLoss/dh_{T-1}
    d_h_norms, d_x_norms = [], []
    for h in output[::-1].astype(np.float64):  # h_t, t = T-1 .. 0, each (B, H)
        d_h_norms.append(np.linalg.norm(d_h, axis=1).mean())
        d_pre = (1 - h * h) * d_h  # (B, H) through tanh
        d_x_norms.append(np.linalg.norm(d_pre @ W_ih, axis=1).mean())
        d_h = d_pre @ W_hh  # (B, H) to h_{t-1}
    return np.array(d_h_norms), np.array(d_x_norms)


def train(layer, head, setup: Setup, rng: np.random.Generator) -> tuple[list[float], float]:
    """Adam on the memory task, gradients clipped to norm `max_grad_norm`. Returns the losses and
    the accuracy on a fresh batch."""
    params = layer.parameters() + head.parameters()
    optimizer, loss = Adam(params, lr=setup.lr), CrossEntropyLoss()
    losses = []
    for _ in range(setup.train_steps):
        optimizer.zero_grad()
        value, *_ = forward_backward(layer, head, *memory_batch(rng, setup), loss)
        clip_grad_norm_(params, setup.max_grad_norm)
        optimizer.step()
        losses.append(value)
    x, target = memory_batch(rng, setup)
    output, _ = layer.forward(x)
    return losses, float((head.forward(output[-1]).argmax(axis=1) == target).mean())


def run(quick: bool = False, seed: int = 0) -> Result:
    setup = QUICK if quick else Setup()
    x, target = memory_batch(np.random.default_rng(seed + 1), setup)  # the same probe batch for every cell
    at_init, after, radius, radius_after, losses, accuracy = {}, {}, {}, {}, {}, {}
    for cell in CELLS:
        layer, head = build(cell, setup, seed)
        at_init[cell], radius[cell] = measure(layer, head, x, target), spectral_radius(layer)
        if cell == "rnn_tanh":
            d_h_by_hand, d_x_by_hand = unrolled_tanh(layer, head, x, target)
            agreement = float(np.max(np.abs(d_x_by_hand - at_init[cell]) / at_init[cell]))
        losses[cell], accuracy[cell] = train(layer, head, setup, np.random.default_rng(seed + 2))
        after[cell], radius_after[cell] = measure(layer, head, x, target), spectral_radius(layer)
    k = min(setup.distance, setup.seq_len - 1)
    figures = {
        "setup": {**asdict(setup), "seed": seed, "cells": list(CELLS)},
        "distance": k,
        "grad_norm_at": {cell: at_init[cell].tolist() for cell in CELLS},
        "grad_norm_after_training": {cell: after[cell].tolist() for cell in CELLS},
        "relative_grad_norm_at_distance": {cell: float(at_init[cell][k] / at_init[cell][0]) for cell in CELLS},
        "ratio_lstm_to_tanh_at_distance": float(at_init["lstm"][k] / at_init["rnn_tanh"][k]),
        "ratio_lstm_to_tanh_at_distance_after_training": float(after["lstm"][k] / after["rnn_tanh"][k]),
        "ratio_lstm_to_tanh_by_distance": (at_init["lstm"] / at_init["rnn_tanh"]).tolist(),
        "spectral_radius": radius,
        "spectral_radius_after_training": radius_after,
        "tanh_hidden_grad_norm_unrolled": d_h_by_hand.tolist(),
        "tanh_unrolled_vs_engine_max_relative_difference": agreement,
        "final_loss": {cell: losses[cell][-1] for cell in CELLS},
        "accuracy_after_training": accuracy,
        "chance_accuracy": 1 / setup.symbols,
    }
    return Result("vanishing", figures, verdict(figures), {"gradient_norms.png": plot(figures, losses)})


def _times(ratio: float, other: str) -> str:
    """'3.4e+04x below the LSTM's' or '2.0e+00x above the LSTM's', from LSTM / tanh."""
    return f"{ratio:.1e}x below {other}" if ratio >= 1 else f"{1 / ratio:.1e}x above {other}"


def verdict(figures: dict) -> str:
    k, relative = figures["distance"], figures["relative_grad_norm_at_distance"]
    steps = figures["setup"]["train_steps"]
    return (f"At initialisation the tanh RNN's gradient {k} steps back is {relative['rnn_tanh']:.1e} of its size "
            f"at the last step, {_times(figures['ratio_lstm_to_tanh_at_distance'], 'the LSTM')}'s "
            f"(LSTM: {relative['lstm']:.1e}, GRU: {relative['gru']:.1e}, ReLU RNN: {relative['rnn_relu']:.1e}); "
            f"after {steps} training steps it is "
            f"{_times(figures['ratio_lstm_to_tanh_at_distance_after_training'], 'the LSTM')}'s.")


def plot(figures: dict, losses: dict[str, list[float]]):
    figure, axes = new_figure(1, 3, width=13, height=4)
    colours = dict(zip(CELLS, ("tab:red", "tab:orange", "tab:blue", "tab:green"), strict=True))
    for ax, key, title in ((axes[0, 0], "grad_norm_at", "at initialisation"),
                           (axes[0, 1], "grad_norm_after_training", f"after {len(losses['lstm'])} training steps")):
        for cell in CELLS:
            ax.semilogy(figures[key][cell], color=colours[cell], label=cell)
        if key == "grad_norm_at":
            ax.semilogy(np.array(figures["tanh_hidden_grad_norm_unrolled"]), color=colours["rnn_tanh"],
                        linestyle=":", label="rnn_tanh ||dL/dh|| (Jacobians by hand)")
        ax.axvline(figures["distance"], color="grey", linewidth=0.8, linestyle="--")
        ax.set(title=f"||dLoss/dx_(T-1-k)||, {title}", xlabel="distance k (steps back)", ylabel="gradient norm")
        ax.legend(fontsize=8)
    for cell in CELLS:
        axes[0, 2].plot(losses[cell], color=colours[cell], linewidth=0.8, label=cell)
    axes[0, 2].axhline(np.log(figures["setup"]["symbols"]), color="grey", linestyle="--", linewidth=0.8,
                       label="chance (log symbols)")
    axes[0, 2].set(title="training loss (recall the first symbol)", xlabel="step", ylabel="cross-entropy")
    axes[0, 2].legend(fontsize=8)
    return figure

"""Long-range dependencies: the adding problem at growing lengths for a tanh RNN, an LSTM and a GRU.

The adding problem (Hochreiter & Schmidhuber 1997; Le et al. 2015): every step has two inputs,
a number u_t ~ U(0, 1) and a marker m_t that is 1 at exactly two steps, one in the first half of
the sequence and one in the second half, and 0 elsewhere. The target, read at the last step only,
is the sum of the two marked numbers,

    y = sum_t m_t u_t,        loss = (Linear(h_{T-1}) - y)^2    (mean over the batch).

The first marker can be up to T - 1 steps before the answer, so the length T is the distance the
network has to carry a number. Predicting the mean, 1, whatever the input is the chance baseline:
its MSE is Var(u_1 + u_2) = 2/12 = 1/6 ≈ 0.167. A run has *solved* the task when its MSE on a fixed
held-out batch is below `solved_mse`; it *stayed at chance* when that MSE is above (1 - `chance_margin`)
times the chance level's MSE on the same batch (no more than 20% better than always answering 1).

The three cells have the same hidden size, PyTorch's initialisation (every weight and bias
U(-1/sqrt(H), 1/sqrt(H))) from the same seed, except that the LSTM's forget-gate bias b_if is set
to `forget_bias` (b_hf stays as drawn), and they are trained with Adam on the same batches.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from rnnlab.experiments.result import Result, new_figure
from rnnlab.nn import GRU, LSTM, RNN, Linear, MSELoss
from rnnlab.optim import Adam, clip_grad_norm_

CELLS = ("rnn_tanh", "lstm", "gru")
CHANCE_MSE = 1 / 6  # Var(u_1 + u_2) with u ~ U(0, 1): the MSE of always answering 1


@dataclass(frozen=True)
class Setup:
    lengths: tuple[int, ...] = (10, 25, 50, 100)
    hidden_size: int = 32
    batch_size: int = 32
    steps: int = 2000
    lr: float = 1e-2
    max_grad_norm: float = 1.0
    forget_bias: float = 1.0
    test_size: int = 1000
    eval_every: int = 100
    solved_mse: float = 0.05
    chance_margin: float = 0.2  # "at chance": test MSE no more than 20% below the chance level's


QUICK = Setup(lengths=(4, 8), hidden_size=8, steps=6, test_size=64, eval_every=3)


def adding_batch(rng: np.random.Generator, seq_len: int, batch_size: int) -> tuple[np.ndarray, np.ndarray]:
    """x (T, B, 2): [number, marker] per step; y (B, 1): the sum of the two marked numbers."""
    numbers = rng.random((seq_len, batch_size)).astype(np.float32)  # (T, B)
    half = seq_len // 2
    first = rng.integers(0, half, batch_size)  # (B,) a step in [0, T/2)
    second = rng.integers(half, seq_len, batch_size)  # (B,) a step in [T/2, T)
    markers = np.zeros_like(numbers)  # (T, B)
    columns = np.arange(batch_size)
    markers[first, columns] = markers[second, columns] = 1
    target = (numbers * markers).sum(axis=0)[:, None]  # (B, 1)
    return np.stack([numbers, markers], axis=2), target


def build(cell: str, setup: Setup, seed: int):
    """The recurrent layer (2 inputs) and the read-out Linear(H, 1), seeded identically for every cell."""
    rng = np.random.default_rng(seed)
    H = setup.hidden_size
    if cell == "lstm":
        layer = LSTM(2, H, seed=rng)
        layer.bias_ih_l0.data[H:2 * H] = setup.forget_bias  # gates (i, f, g, o): the f slice
    elif cell == "gru":
        layer = GRU(2, H, seed=rng)
    else:
        layer = RNN(2, H, nonlinearity="tanh", seed=rng)
    return layer, Linear(H, 1, seed=rng)


def held_out_mse(layer, head, x: np.ndarray, y: np.ndarray) -> float:
    """MSE of the read-out of the last step's output on (x (T, B, 2), y (B, 1))."""
    output, _ = layer.forward(x)  # (T, B, H)
    return float(np.mean((head.forward(output[-1]) - y) ** 2, dtype=np.float64))


def train(layer, head, setup: Setup, seq_len: int, seed: int, test: tuple[np.ndarray, np.ndarray]) -> list[float]:
    """Adam on fresh batches drawn from `seed` (the same batches for every cell), gradients clipped to
    norm `max_grad_norm`. Returns the test MSE after every `eval_every` steps (the last is the result)."""
    params = layer.parameters() + head.parameters()
    optimizer, loss, data = Adam(params, lr=setup.lr), MSELoss(), np.random.default_rng(seed)
    curve = []
    for step in range(1, setup.steps + 1):
        x, y = adding_batch(data, seq_len, setup.batch_size)
        optimizer.zero_grad()
        output, _ = layer.forward(x)  # (T, B, H)
        loss(head.forward(output[-1]), y)
        d_output = np.zeros_like(output)  # (T, B, H): the loss is on the last step only
        d_output[-1] = head.backward(loss.backward())
        layer.backward(d_output)
        clip_grad_norm_(params, setup.max_grad_norm)
        optimizer.step()
        if step % setup.eval_every == 0 or step == setup.steps:
            curve.append(held_out_mse(layer, head, *test))
    return curve


def run(quick: bool = False, seed: int = 0) -> Result:
    return measure(QUICK if quick else Setup(), seed)


def measure(setup: Setup, seed: int = 0) -> Result:
    """Train every cell at every length of `setup`; the figures, verdict and plot."""
    curves, chance = {cell: {} for cell in CELLS}, {}
    for seq_len in setup.lengths:
        x, y = adding_batch(np.random.default_rng(seed + 1), seq_len, setup.test_size)  # held out, fixed
        chance[seq_len] = float(np.mean((y - 1.0) ** 2, dtype=np.float64))
        for cell in CELLS:
            layer, head = build(cell, setup, seed)
            curves[cell][seq_len] = train(layer, head, setup, seq_len, seed + 2, (x, y))
    mse = {c: {t: curve[-1] for t, curve in curves[c].items()} for c in CELLS}
    evaluated_at = [*range(setup.eval_every, setup.steps + 1, setup.eval_every)]
    evaluated_at += [setup.steps] if setup.steps % setup.eval_every else []
    figures = {
        "setup": {**asdict(setup), "seed": seed, "cells": list(CELLS), "optimizer": "Adam",
                  "test_batch_seed": seed + 1, "train_batches_seed": seed + 2},
        "chance_mse": CHANCE_MSE,
        "chance_mse_on_test_batch": chance,
        "test_mse": mse,
        "solved": {c: {t: m < setup.solved_mse for t, m in mse[c].items()} for c in CELLS},
        "at_chance": {c: {t: m > (1 - setup.chance_margin) * chance[t] for t, m in mse[c].items()} for c in CELLS},
        "steps_to_solve": {c: {t: next((s for s, m in zip(evaluated_at, curve, strict=True) if m < setup.solved_mse),
                                       None) for t, curve in curves[c].items()} for c in CELLS},
        "evaluated_at_step": evaluated_at,
        "test_mse_during_training": curves,
    }
    return Result("long-range", figures, verdict(figures), {"test_mse_by_length.png": plot(figures)})


def _joined(lengths) -> str:
    return ", ".join(map(str, lengths))


def _solved(lengths: list[int]) -> str:
    return f"solved T = {_joined(lengths)}" if lengths else "solved no length"


def verdict(figures: dict) -> str:
    setup, solved, at_chance, mse = figures["setup"], figures["solved"], figures["at_chance"], figures["test_mse"]
    lengths = list(setup["lengths"])
    solved_by = {c: [t for t in lengths if solved[c][t]] for c in CELLS}
    first_fail = next((t for t in lengths if not solved["rnn_tanh"][t]), None)
    if first_fail is None:
        tanh = "the tanh RNN solved every length"
    else:
        after = [t for t in lengths if t >= first_fail]
        state = "stayed at chance from" if all(at_chance["rnn_tanh"][t] for t in after) else "did not solve"
        chance = figures["chance_mse_on_test_batch"][first_fail]
        tanh = (f"the tanh RNN {_solved(solved_by['rnn_tanh'])} and {state} T = {first_fail} "
                f"(test MSE {mse['rnn_tanh'][first_fail]:.3f}, chance {chance:.3f})")
    gated_only = [t for t in lengths if solved["lstm"][t] and solved["gru"][t] and at_chance["rnn_tanh"][t]]
    gates = (f"the gates fix it at T = {_joined(gated_only)}, where the tanh RNN stays at chance"
             if gated_only else "no length here shows the gates solving it where the tanh RNN stays at chance")
    longest, speed = lengths[-1], figures["steps_to_solve"]
    if set(solved_by["lstm"]) <= set(solved_by["gru"]):
        gru = "the GRU is no worse than the LSTM here"
        if solved["lstm"][longest] and solved["gru"][longest]:
            gru += (f" (to solve T = {longest} it needed {speed['gru'][longest]} steps, "
                    f"the LSTM {speed['lstm'][longest]})")
    else:
        missed = sorted(set(solved_by["lstm"]) - set(solved_by["gru"]))
        gru = f"the GRU is worse than the LSTM here (it missed T = {_joined(missed)})"
    return (f"Solved = test MSE below {setup['solved_mse']:g} after {setup['steps']} Adam steps "
            f"(H = {setup['hidden_size']}): {tanh}; the LSTM (forget-gate bias {setup['forget_bias']:g}) "
            f"{_solved(solved_by['lstm'])}, the GRU {_solved(solved_by['gru'])}: {gates}; {gru}.")


COLOURS = {"rnn_tanh": "tab:red", "lstm": "tab:blue", "gru": "tab:green"}


def plot(figures: dict):
    figure, axes = new_figure(1, 2, width=12, height=4)
    setup = figures["setup"]
    lengths = list(setup["lengths"])
    for cell in CELLS:
        axes[0, 0].semilogy(lengths, [figures["test_mse"][cell][t] for t in lengths], "o-", color=COLOURS[cell],
                            label=cell)
        for t in lengths:
            axes[0, 1].semilogy(figures["evaluated_at_step"], figures["test_mse_during_training"][cell][t],
                                color=COLOURS[cell], alpha=0.3 + 0.7 * (t == lengths[-1]),
                                linewidth=1.5 if t == lengths[-1] else 0.8,
                                label=f"{cell}, T = {t}" if t == lengths[-1] else None)
    for ax in axes.ravel():
        ax.axhline(figures["chance_mse"], color="grey", linestyle="--", linewidth=0.8, label="chance (always 1): 1/6")
        ax.axhline(setup["solved_mse"], color="black", linestyle=":", linewidth=0.8,
                   label=f"solved: below {setup['solved_mse']:g}")
    axes[0, 0].set(title=f"test MSE after {setup['steps']} steps", xlabel="sequence length T", ylabel="test MSE",
                   xticks=lengths)
    axes[0, 1].set(title=f"test MSE during training (bold: T = {lengths[-1]}, faint: shorter)", xlabel="step",
                   ylabel="test MSE")
    for ax in axes.ravel():
        ax.legend(fontsize=8)
    return figure

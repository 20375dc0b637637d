"""Layer normalisation inside the LSTM cell: gradient flow and loss, against the plain LSTM; why not batch statistics.

The task and the measurement are the `vanishing` experiment's (recall the first of T random
symbols; the loss at the last step only, so ||dLoss/dx_{T-1-k}|| is the signal that travelled k
steps back). The two layers are `LSTM` and `LayerNormLSTM` (Ba, Kiros & Hinton 2016), built from
the same generator with the same weights, both with the forget-gate bias b_if = `forget_bias`;
the LN gains start at 1 and the LN biases at 0. Each is trained on the task at every length in
`train_lengths` from the same initial weights.

The batch statistics that batch normalisation would use inside the recurrence are measured
too: the mean and standard deviation over the batch of the recurrent pre-activation W_hh h_{t-1}
of the plain LSTM, at every step t.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import numpy as np

from rnnlab.experiments import vanishing
from rnnlab.experiments.result import Result, new_figure
from rnnlab.experiments.vanishing import build, measure, memory_batch, set_forget_bias, train
from rnnlab.nn import LayerNormLSTM, Linear

LAYERS = ("lstm", "ln_lstm")
LAST = 20  # the final loss is the mean over the last LAST training steps (one batch each)


@dataclass(frozen=True)
class Setup(vanishing.Setup):
    """The vanishing-gradient experiment's setup (seq_len: the length the gradient is measured at), and the
    sequence lengths the two layers are trained at."""

    train_lengths: tuple[int, ...] = (30, 80)


QUICK = Setup(seq_len=20, train_lengths=(10, 20), hidden_size=8, batch_size=4, train_steps=3, distance=10)


def build_pair(layer: str, setup: Setup, seed: int):
    """The recurrent layer and its read-out Linear(H, symbols); `ln_lstm` draws the same weights as `lstm`."""
    if layer == "lstm":
        return build("lstm", setup, seed)
    rng = np.random.default_rng(seed)
    recurrent = set_forget_bias(LayerNormLSTM(setup.symbols, setup.hidden_size, seed=rng), setup.forget_bias)
    return recurrent, Linear(setup.hidden_size, setup.symbols, seed=rng)


def batch_statistics(layer, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """What batch normalisation of W_hh h_{t-1} would divide by and subtract at each step t.

    Returns (T,) the mean over the 4H units of the batch standard deviation, and (T,) the mean over
    the units of |batch mean|, both of W_hh h_{t-1} (B, 4H) at step t.
    """
    output, _ = layer.forward(x)  # (T, B, H)
    h_prev = np.concatenate([np.zeros_like(output[:1]), output[:-1]]).astype(np.float64)  # (T, B, H) h_{t-1}
    recurrent = h_prev @ layer.weight_hh_l0.data.T.astype(np.float64)  # (T, B, 4H)
    return recurrent.std(axis=1).mean(axis=1), np.abs(recurrent.mean(axis=1)).mean(axis=1)


def run(quick: bool = False, seed: int = 0) -> Result:
    setup = QUICK if quick else Setup()
    x, target = memory_batch(np.random.default_rng(seed + 1), setup)  # the same probe batch for both layers
    at_init, after, losses, accuracy = {}, {}, {}, {}
    for name in LAYERS:
        layer, head = build_pair(name, setup, seed)
        at_init[name] = measure(layer, head, x, target)
        for length in setup.train_lengths:
            layer, head = build_pair(name, setup, seed)
            losses[name, length], accuracy[name, length] = train(layer, head, replace(setup, seq_len=length),
                                                                 np.random.default_rng(seed + 2))
            if length == setup.seq_len:
                after[name] = measure(layer, head, x, target)
    lstm, _ = build_pair("lstm", setup, seed)
    batch_std, batch_mean = batch_statistics(lstm, x)
    ln_lstm, _ = build_pair("ln_lstm", setup, seed)
    alone = ln_lstm.forward(x[:, :1])[0][:, 0]
    in_batch = ln_lstm.forward(x)[0][:, 0]
    k = min(setup.distance, setup.seq_len - 1)
    figures = {
        "setup": {**asdict(setup), "seed": seed, "layers": list(LAYERS), "final_loss_over_last_steps": LAST},
        "distance": k,
        "grad_norm_at": {name: at_init[name].tolist() for name in LAYERS},
        "grad_norm_after_training": {name: after[name].tolist() for name in LAYERS if name in after},
        "relative_grad_norm_at_distance": {name: float(at_init[name][k] / at_init[name][0]) for name in LAYERS},
        "ratio_ln_to_lstm_at_distance": float(at_init["ln_lstm"][k] / at_init["lstm"][k]),
        "losses": {f"{name}@{length}": losses[name, length] for name, length in losses},
        "final_loss": {f"{name}@{length}": float(np.mean(losses[name, length][-LAST:])) for name, length in losses},
        "accuracy_after_training": {f"{name}@{length}": accuracy[name, length] for name, length in accuracy},
        "chance_loss": float(np.log(setup.symbols)),
        "chance_accuracy": 1 / setup.symbols,
        "batch_std_by_step": batch_std.tolist(),
        "batch_abs_mean_by_step": batch_mean.tolist(),
        "ln_alone_vs_in_batch_max_difference": float(np.abs(alone - in_batch).max()),
    }
    return Result("normalisation", figures, verdict(figures), {"normalisation.png": plot(figures)})


def _compare(ours: float, theirs: float, more: str, less: str) -> str:
    """'3.2x more' / '3.2x less' (direction from the numbers)."""
    return f"{ours / theirs:.1f}x {more}" if ours >= theirs else f"{theirs / ours:.1f}x {less}"


def verdict(figures: dict) -> str:
    k, relative, final = figures["distance"], figures["relative_grad_norm_at_distance"], figures["final_loss"]
    setup = figures["setup"]
    ratio = figures["ratio_ln_to_lstm_at_distance"]
    trained = "; ".join(
        f"at length {length} its loss is {final[f'ln_lstm@{length}']:.3f} against the LSTM's "
        f"{final[f'lstm@{length}']:.3f}" for length in setup["train_lengths"])
    std = figures["batch_std_by_step"]
    return (f"At initialisation the layer-normalised LSTM's gradient {k} steps back is {relative['ln_lstm']:.1e} "
            f"of its size at the last step against the LSTM's {relative['lstm']:.1e} "
            f"({_times(ratio)} in absolute size); after {setup['train_steps']} training steps "
            f"{trained} (chance {figures['chance_loss']:.3f}). "
            f"The batch statistics batch normalisation would need differ by step: the batch std of W_hh h_(t-1) "
            f"is {std[0]:.2g} at step 0, {std[1]:.2g} at step 1 and {std[-1]:.2g} at step {len(std) - 1}.")


def _times(ratio: float) -> str:
    return f"{ratio:.1e}x the LSTM's" if ratio >= 1 else f"1/{1 / ratio:.1e} of the LSTM's"


def plot(figures: dict):
    figure, axes = new_figure(1, 3, width=14, height=4)
    colours = {"lstm": "tab:blue", "ln_lstm": "tab:purple"}
    ax = axes[0, 0]
    for name in LAYERS:
        ax.semilogy(figures["grad_norm_at"][name], color=colours[name], label=f"{name}, at initialisation")
        if name in figures["grad_norm_after_training"]:
            ax.semilogy(figures["grad_norm_after_training"][name], color=colours[name], linestyle="--",
                        label=f"{name}, after training")
    ax.axvline(figures["distance"], color="grey", linewidth=0.8, linestyle="--")
    ax.set(title=f"||dLoss/dx_(T-1-k)||, T = {figures['setup']['seq_len']}", xlabel="distance k (steps back)",
           ylabel="gradient norm")
    ax.legend(fontsize=8)
    ax = axes[0, 1]
    for key, values in figures["losses"].items():
        name, length = key.split("@")
        ax.plot(values, color=colours[name], linewidth=0.8, alpha=1 if length == str(min(
            figures["setup"]["train_lengths"])) else 0.5, label=f"{name}, T = {length}")
    ax.axhline(figures["chance_loss"], color="grey", linestyle="--", linewidth=0.8, label="chance (log symbols)")
    ax.set(title="training loss (recall the first symbol)", xlabel="step", ylabel="cross-entropy")
    ax.legend(fontsize=8)
    ax = axes[0, 2]
    ax.plot(figures["batch_std_by_step"], color="tab:blue", label="batch std (mean over units)")
    ax.plot(figures["batch_abs_mean_by_step"], color="tab:orange", label="|batch mean| (mean over units)")
    ax.set(title="LSTM: batch statistics of W_hh h_(t-1) per step", xlabel="step t", ylabel="value")
    ax.legend(fontsize=8)
    return figure

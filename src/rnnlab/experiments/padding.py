"""Sentences shorter than the window: masked against unmasked training on padded variable-length sequences.

The task: a sequence of 5..20 real values x_t ~ U(0, 1), one per step; the answer is whether
their mean is above 1/2. Padding zeros read as data corrupt that answer (a zero is a value well
below the mean), and a padding zero cannot be told from a small real value. Each batch is padded
with zeros to the window of `window` steps (`pad_sequences`, side "post"), and the same model,
a tanh `RNN(1, H)` whose final state h_n feeds a `Linear(H, 2)`, is trained twice from the same
weights on the same batches:

    masked:    layer.forward(x, mask=mask)   padded steps carry the state over unchanged,
                                             so h_n is the state after the last real step
    unmasked:  layer.forward(x)              padded steps are run like data

Both are then asked about one fixed test set, padded to the window plus 0, 5, 10, 20 and 30
extra steps at the end ("post") and at the start ("pre"), and compared with the same
sequences run alone with no padding at all: the accuracy, and the largest change in
P(mean > 1/2) that the padding caused.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from rnnlab.data.batching import pad_sequences
from rnnlab.experiments.result import Result, new_figure
from rnnlab.nn import RNN, CrossEntropyLoss, Linear, softmax
from rnnlab.optim import Adam, clip_grad_norm_

MODES = ("masked", "unmasked")
SIDES = ("post", "pre")


@dataclass(frozen=True)
class Setup:
    min_len: int = 5
    max_len: int = 20
    window: int = 20  # every batch is padded to this many steps
    extra_padding: tuple[int, ...] = (0, 5, 10, 20, 30)  # steps added beyond the window at test time
    hidden_size: int = 32
    batch_size: int = 32
    train_steps: int = 2000
    lr: float = 3e-3
    max_grad_norm: float = 1.0
    test_size: int = 1000
    tolerance: float = 1e-6  # a change in P below this is float noise: "does not depend on padding"


QUICK = Setup(hidden_size=8, train_steps=5, test_size=64, extra_padding=(0, 10))


def make_sequences(rng: np.random.Generator, count: int, setup: Setup) -> tuple[list[np.ndarray], np.ndarray]:
    """`count` sequences (T_i, 1) of U(0, 1) values, T_i in [min_len, max_len]; labels (count,) mean > 1/2."""
    lengths = rng.integers(setup.min_len, setup.max_len + 1, count)
    seqs = [rng.random((n, 1)).astype(np.float32) for n in lengths]
    return seqs, np.array([s.mean() > 0.5 for s in seqs], dtype=np.int64)


def pad(seqs: list[np.ndarray], length: int, side: str) -> tuple[np.ndarray, np.ndarray]:
    """Zero-pad to `length` steps -> x (T, B, 1) time-major and mask (T, B), True at real steps."""
    padded, mask = pad_sequences(seqs, side=side, maxlen=length, dtype=np.float32)  # (B, T, 1), (B, T)
    return padded.transpose(1, 0, 2).copy(), mask.T.copy()


def build(setup: Setup, seed: int) -> tuple[RNN, Linear]:
    rng = np.random.default_rng(seed)
    return RNN(1, setup.hidden_size, seed=rng), Linear(setup.hidden_size, 2, seed=rng)


def probabilities(layer: RNN, head: Linear, x: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    """P(mean > 1/2) for each sequence (B,), read from the final state h_n."""
    _, h_n = layer.forward(x, mask=mask)
    return softmax(head.forward(h_n[-1]).astype(np.float64))[:, 1]


def train(masked: bool, setup: Setup, seed: int) -> tuple[RNN, Linear, list[float]]:
    """Adam on batches post-padded to the window; the mask is given to the layer only when `masked`."""
    layer, head = build(setup, seed)
    params = layer.parameters() + head.parameters()
    optimizer, loss, data = Adam(params, lr=setup.lr), CrossEntropyLoss(), np.random.default_rng(seed + 1)
    losses = []
    for _ in range(setup.train_steps):
        seqs, labels = make_sequences(data, setup.batch_size, setup)
        x, mask = pad(seqs, setup.window, "post")
        optimizer.zero_grad()
        output, h_n = layer.forward(x, mask=mask if masked else None)
        losses.append(loss(head.forward(h_n[-1]), labels))
        d_output = np.zeros_like(output)
        layer.backward(d_output, d_h_n=head.backward(loss.backward())[None])
        clip_grad_norm_(params, setup.max_grad_norm)
        optimizer.step()
    return layer, head, losses


def unpadded(layer: RNN, head: Linear, seqs: list[np.ndarray]) -> np.ndarray:
    """P for each sequence run alone at its own length (grouped by length: no padding anywhere)."""
    p = np.empty(len(seqs))
    lengths = np.array([len(s) for s in seqs])
    for n in np.unique(lengths):
        rows = np.flatnonzero(lengths == n)
        p[rows] = probabilities(layer, head, np.stack([seqs[i] for i in rows], axis=1), None)
    return p


def evaluate(layer: RNN, head: Linear, masked: bool, seqs, labels, setup: Setup) -> dict:
    """Accuracy and the largest |change in P| against the unpadded run, for each side and extra padding."""
    reference = unpadded(layer, head, seqs)
    figures = {"accuracy_unpadded": float(((reference > 0.5) == labels).mean()), "accuracy": {}, "max_change": {},
               "mean_change": {}, "flipped": {}}
    for side in SIDES:
        accuracy, change, mean_change, flipped = [], [], [], []
        for extra in setup.extra_padding:
            x, mask = pad(seqs, setup.window + extra, side)
            p = probabilities(layer, head, x, mask if masked else None)
            accuracy.append(float(((p > 0.5) == labels).mean()))
            change.append(float(np.abs(p - reference).max()))
            mean_change.append(float(np.abs(p - reference).mean()))
            flipped.append(float(((p > 0.5) != (reference > 0.5)).mean()))
        figures["accuracy"][side], figures["max_change"][side] = accuracy, change
        figures["mean_change"][side], figures["flipped"][side] = mean_change, flipped
    return figures


def run(quick: bool = False, seed: int = 0) -> Result:
    setup = QUICK if quick else Setup()
    seqs, labels = make_sequences(np.random.default_rng(seed + 2), setup.test_size, setup)
    losses, measured = {}, {}
    for mode in MODES:
        layer, head, losses[mode] = train(mode == "masked", setup, seed)
        measured[mode] = evaluate(layer, head, mode == "masked", seqs, labels, setup)
    largest = {mode: max(max(measured[mode]["max_change"][side]) for side in SIDES) for mode in MODES}
    worst = {mode: min(min(measured[mode]["accuracy"][side]) for side in SIDES) for mode in MODES}
    figures = {
        "setup": {**asdict(setup), "seed": seed, "cell": "RNN tanh", "optimizer": "Adam"},
        "test_positive_fraction": float(labels.mean()),
        "accuracy_unpadded": {m: measured[m]["accuracy_unpadded"] for m in MODES},
        "accuracy": {m: measured[m]["accuracy"] for m in MODES},
        "max_prediction_change": {m: measured[m]["max_change"] for m in MODES},
        "mean_prediction_change": {m: measured[m]["mean_change"] for m in MODES},
        "fraction_of_answers_flipped": {m: measured[m]["flipped"] for m in MODES},
        "largest_prediction_change": largest,
        "worst_accuracy": worst,
        "depends_on_padding": {m: largest[m] > setup.tolerance for m in MODES},
        "final_loss": {m: float(np.mean(losses[m][-50:])) for m in MODES},
        "loss": losses,
    }
    return Result("padding", figures, verdict(figures), {"accuracy_against_padding.png": plot(figures)})


def _answers(figures: dict, mode: str) -> str:
    change = figures["largest_prediction_change"][mode]
    if not figures["depends_on_padding"][mode]:
        return f"do not depend on padding (largest change in P {change:.1e})"
    return f"depend on padding (P changes by up to {change:.2f})"


def verdict(figures: dict) -> str:
    extra = figures["setup"]["extra_padding"]
    accuracy = {m: (figures["accuracy_unpadded"][m], figures["worst_accuracy"][m]) for m in MODES}
    return (f"Masked training's answers {_answers(figures, 'masked')}: accuracy {accuracy['masked'][0]:.1%} "
            f"unpadded and at least {accuracy['masked'][1]:.1%} with 0 to {max(extra)} extra steps on either side; "
            f"unmasked training's answers {_answers(figures, 'unmasked')}: accuracy "
            f"{figures['accuracy']['unmasked']['post'][0]:.1%} padded to the window it was trained on, "
            f"{accuracy['unmasked'][0]:.1%} unpadded, down to {accuracy['unmasked'][1]:.1%}.")


def plot(figures: dict):
    figure, axes = new_figure(1, 3, width=14, height=4)
    extra = figures["setup"]["extra_padding"]
    colours, styles = {"masked": "tab:blue", "unmasked": "tab:red"}, {"post": "-", "pre": "--"}
    for mode in MODES:
        for side in SIDES:
            label = f"{mode}, {side}-padding"
            axes[0, 0].plot(extra, figures["accuracy"][mode][side], styles[side], color=colours[mode], marker="o",
                            label=label)
            axes[0, 1].plot(extra, figures["mean_prediction_change"][mode][side], styles[side], color=colours[mode],
                            marker="o", label=label)
        axes[0, 0].axhline(figures["accuracy_unpadded"][mode], color=colours[mode], linestyle=":", linewidth=0.8,
                           label=f"{mode}, no padding")
        axes[0, 2].plot(figures["loss"][mode], color=colours[mode], linewidth=0.6, label=mode)
    window = figures["setup"]["window"]
    axes[0, 0].set(title="test accuracy (is the mean > 1/2?)\n", xlabel=f"padding steps beyond the window of {window}",
                   ylabel="accuracy")
    largest = figures["largest_prediction_change"]
    axes[0, 1].set(title=f"mean |change in P| against no padding\n(largest: masked {largest['masked']:.0e}, "
                   f"unmasked {largest['unmasked']:.2f})", xlabel=f"padding steps beyond {window}",
                   ylabel="mean |P_padded - P_alone|")
    axes[0, 2].set(title="training loss\n(batches post-padded to the window)", xlabel="step", ylabel="cross-entropy")
    for ax in axes.ravel():
        ax.legend(fontsize=7)
    return figure

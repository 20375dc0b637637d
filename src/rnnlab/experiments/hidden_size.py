"""How many hidden units: a character model's validation loss after a fixed number of steps, against hidden size.

Each run is `rnnlab.CharLM` (a 1-layer LSTM with a learnt embedding) trained on the first
`corpus_chars` characters of Tiny Shakespeare, the last `val_fraction` held out; only
`hidden_size` changes between runs (same seed, data, batches, optimizer and number of steps).
The loss is CharLM's validation loss (nats per character, the state carried through the
validation text) of the weights at the last step. Training seconds are recorded beside it, so
the plot also shows the loss against time (machine-dependent; the verdict uses steps only).
"""

from __future__ import annotations

import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from rnnlab.experiments.result import Result, new_figure
from rnnlab.tasks.charlm import CharLM, embedded_text


@dataclass(frozen=True)
class Setup:
    corpus_chars: int = 150_000
    val_fraction: float = 0.1
    hidden_sizes: tuple[int, ...] = (16, 32, 64, 128, 256)
    embedding_dim: int = 16
    seq_len: int = 32
    batch_size: int = 16
    lr: float = 3e-3
    steps: int = 500
    eval_every: int = 50
    within: float = 0.02  # "stops improving much": the smallest size within this share of the best loss


QUICK = Setup(corpus_chars=8_000, hidden_sizes=(8, 16), steps=10, eval_every=5)


def settings(setup: Setup, hidden_size: int, seed: int) -> dict:
    """CharLM's keywords for one run."""
    return {"cell": "lstm", "hidden_size": hidden_size, "num_layers": 1, "dropout": 0.0,
            "embedding_dim": setup.embedding_dim, "seq_len": setup.seq_len, "batch_size": setup.batch_size,
            "optimizer": "adam", "lr": setup.lr, "schedule": "constant", "clip_norm": 1.0,
            "max_steps": setup.steps, "eval_every": setup.eval_every, "sample_every": 0,
            "val_fraction": setup.val_fraction, "seed": seed}


def run(quick: bool = False, seed: int = 0) -> Result:
    return measure(QUICK if quick else Setup(), seed)


def measure(setup: Setup, seed: int = 0) -> Result:
    """The experiment with any set-up."""
    runs = {}
    with tempfile.TemporaryDirectory() as folder:
        text = Path(folder) / "shakespeare.txt"
        text.write_text(embedded_text()[: setup.corpus_chars], encoding="utf-8")
        for size in setup.hidden_sizes:
            lm = CharLM(**settings(setup, size, seed)).fit(text, progress=False)
            runs[size] = {"history": lm.history_, "parameters": sum(p.data.size for p in lm.model_.parameters())}
    sizes = list(setup.hidden_sizes)
    figures = {
        "setup": {**asdict(setup), "seed": seed, "cell": "lstm", "num_layers": 1, "optimizer": "adam",
                  "schedule": "constant", "clip_norm": 1.0, "dropout": 0.0, "init": "pytorch"},
        "hidden_sizes": sizes,
        "parameters": [runs[h]["parameters"] for h in sizes],
        "final_val_loss": [runs[h]["history"][-1]["val_loss"] for h in sizes],
        "best_val_loss": [min(e["val_loss"] for e in runs[h]["history"]) for h in sizes],
        "train_seconds": [runs[h]["history"][-1]["seconds"] for h in sizes],
        "curve_steps": [e["step"] for e in runs[sizes[0]]["history"]],
        "val_loss_curves": {str(h): [e["val_loss"] for e in runs[h]["history"]] for h in sizes},
        "curve_seconds": {str(h): [e["seconds"] for e in runs[h]["history"]] for h in sizes},
    }
    losses = figures["final_val_loss"]
    best = min(losses)
    figures["smallest_within"] = next(h for h, v in zip(sizes, losses, strict=True) if v <= best * (1 + setup.within))
    return Result("hidden-size", figures, verdict(figures), {"hidden_size.png": plot(figures)})


def verdict(figures: dict) -> str:
    sizes, losses, params = figures["hidden_sizes"], figures["final_val_loss"], figures["parameters"]
    setup = figures["setup"]
    best = int(np.argmin(losses))
    knee = figures["smallest_within"]
    listed = ", ".join(f"{h}: {v:.3f}" for h, v in zip(sizes, losses, strict=True))
    text = (f"After {setup['steps']} steps, validation loss by hidden size is {listed} nats/char; the lowest is "
            f"{sizes[best]} hidden units ({params[best]:,} parameters)")
    if knee == sizes[best]:
        text += (", and no smaller size comes within " f"{setup['within']:.0%} of it"
                 + (": at this budget the loss was still improving with size" if best == len(sizes) - 1 else ""))
    else:
        text += (f", and {knee} units ({params[sizes.index(knee)]:,} parameters) already come within "
                 f"{setup['within']:.0%} of it: beyond that, more units bought little at this budget")
    return text + "."


def plot(figures: dict):
    figure, axes = new_figure(1, 2, width=12, height=4)
    sizes = figures["hidden_sizes"]
    ax = axes[0, 0]
    ax.plot(sizes, figures["final_val_loss"], "o-", label=f"after {figures['setup']['steps']} steps")
    ax.axvline(figures["smallest_within"], color="grey", linestyle=":", linewidth=1,
               label=f"smallest within {figures['setup']['within']:.0%} of the best")
    for h, v, n in zip(sizes, figures["final_val_loss"], figures["parameters"], strict=True):
        ax.annotate(f"{n:,} params", (h, v), textcoords="offset points", xytext=(4, 6), fontsize=7)
    ax.set_xscale("log", base=2)
    ax.set_xticks(sizes, [str(h) for h in sizes])
    ax.set(title="validation loss against hidden units", xlabel="hidden units", ylabel="validation loss (nats/char)")
    ax = axes[0, 1]
    for h in sizes:
        ax.plot(figures["curve_seconds"][str(h)], figures["val_loss_curves"][str(h)], ".-", label=f"{h} units")
    ax.set(title="validation loss against training time (this machine)", xlabel="training seconds",
           ylabel="validation loss (nats/char)")
    for ax in axes.ravel():
        ax.legend(fontsize=8)
    return figure

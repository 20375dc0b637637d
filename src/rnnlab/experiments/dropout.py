"""Dropout between layers (never across time) against none: the overfitting curve of a 2-layer LSTM on a small text.

Two runs of CharLM's network (a 2-layer LSTM with a learnt embedding, CharLM's streams with the
state carried) on the first `corpus_chars` characters of Tiny Shakespeare, the last
`val_fraction` held out, identical but for `dropout`. CharLM's dropout is applied to the
outputs of layer 1 on their way into layer 2 and to the outputs of layer 2 on their way into
the read-out, a fresh mask at every time step; the recurrent connection h_{t-1} -> h_t of a
layer is never dropped. Every `eval_every` steps both losses are measured the same way, in eval
mode (no dropout), the state carried: over the whole training split and over the validation
split. The gap is validation minus training loss.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from rnnlab.data.streams import TextStreams
from rnnlab.experiments.result import Result, new_figure
from rnnlab.experiments.seq_length import lm_config, loss_on, shakespeare, train_lm


@dataclass(frozen=True)
class Setup:
    corpus_chars: int = 20_000
    val_fraction: float = 0.1
    hidden_size: int = 128
    num_layers: int = 2
    embedding_dim: int = 16
    seq_len: int = 32
    batch_size: int = 16
    lr: float = 3e-3
    steps: int = 800
    eval_every: int = 50
    dropouts: tuple[float, ...] = (0.0, 0.3)


QUICK = Setup(corpus_chars=6_000, hidden_size=16, steps=10, eval_every=5)


def run(quick: bool = False, seed: int = 0) -> Result:
    return measure(QUICK if quick else Setup(), seed)


def measure(setup: Setup, seed: int = 0) -> Result:
    """The experiment with any set-up."""
    vocab_size, train_ids, val_ids = shakespeare(setup.corpus_chars, setup.val_fraction)
    B, T = setup.batch_size, setup.seq_len

    def losses(model) -> dict[str, float]:
        return {"val_loss": loss_on(model, val_ids, B, T), "train_eval_loss": loss_on(model, train_ids, B, T)}

    curves = {}
    for p in setup.dropouts:
        config = lm_config(hidden_size=setup.hidden_size, num_layers=setup.num_layers, dropout=p,
                           embedding_dim=setup.embedding_dim, seq_len=T, batch_size=B, lr=setup.lr,
                           max_steps=setup.steps, seed=seed)
        _, history = train_lm(config, vocab_size, TextStreams(train_ids, B, T).next_batch, True, losses,
                              setup.eval_every)
        curves[str(p)] = history
    figures = {
        "setup": {**asdict(setup), "seed": seed, "cell": "lstm", "optimizer": "adam", "schedule": "constant",
                  "clip_norm": 1.0, "init": "pytorch", "vocab_size": vocab_size, "train_characters": len(train_ids),
                  "val_characters": len(val_ids), "epochs": setup.steps * B * T / len(train_ids)},
        "dropouts": list(setup.dropouts),
        "steps": [e["step"] for e in curves[str(setup.dropouts[0])]],
        "train_loss": {p: [e["train_eval_loss"] for e in h] for p, h in curves.items()},
        "val_loss": {p: [e["val_loss"] for e in h] for p, h in curves.items()},
        "train_loss_with_dropout_on": {p: [e["train_loss"] for e in h] for p, h in curves.items()},
    }
    figures |= {
        "best_val_loss": {p: min(v) for p, v in figures["val_loss"].items()},
        "best_val_step": {p: figures["steps"][int(np.argmin(v))] for p, v in figures["val_loss"].items()},
        "final_val_loss": {p: v[-1] for p, v in figures["val_loss"].items()},
        "final_train_loss": {p: v[-1] for p, v in figures["train_loss"].items()},
        "final_gap": {p: figures["val_loss"][p][-1] - figures["train_loss"][p][-1] for p in curves},
    }
    return Result("dropout", figures, verdict(figures), {"dropout.png": plot(figures)})


def verdict(figures: dict) -> str:
    none, drop = (str(p) for p in figures["dropouts"][:2])
    gap, best, final = figures["final_gap"], figures["best_val_loss"], figures["final_val_loss"]
    steps, setup = figures["steps"][-1], figures["setup"]

    def run_text(p: str) -> str:
        return (f"validation loss best {best[p]:.3f} (step {figures['best_val_step'][p]}), final {final[p]:.3f}, "
                f"final gap to training loss {gap[p]:+.3f}")

    narrowed, lower = gap[drop] < gap[none], final[drop] < final[none]
    outcome = ("dropout narrowed the gap" if narrowed else "dropout did not narrow the gap")
    outcome += (" and" if narrowed == lower else " but") + (" ended with the lower validation loss" if lower else
                                                          " did not end with a lower validation loss")
    return (f"After {steps} steps ({setup['epochs']:.0f} passes over {setup['train_characters']:,} "
            f"training characters), without dropout: {run_text(none)}; with dropout {float(drop):g} between layers: "
            f"{run_text(drop)}: {outcome}.")


def plot(figures: dict):
    figure, axes = new_figure(1, 2, width=12, height=4)
    colours = dict(zip((str(p) for p in figures["dropouts"]), ("tab:red", "tab:blue", "tab:green"), strict=False))
    for p, colour in colours.items():
        label = f"dropout {float(p):g}"
        axes[0, 0].plot(figures["steps"], figures["train_loss"][p], "--", color=colour, label=f"{label}: training")
        axes[0, 0].plot(figures["steps"], figures["val_loss"][p], "-", color=colour, label=f"{label}: validation")
        gap = np.subtract(figures["val_loss"][p], figures["train_loss"][p])
        axes[0, 1].plot(figures["steps"], gap, "o-", markersize=3, color=colour, label=label)
    axes[0, 0].set(title="loss (eval mode, state carried)", xlabel="step", ylabel="nats/char")
    axes[0, 1].axhline(0, color="grey", linewidth=0.8)
    axes[0, 1].set(title="gap: validation minus training loss", xlabel="step", ylabel="nats/char")
    for ax in axes.ravel():
        ax.legend(fontsize=8)
    return figure

"""How long a sequence, and why step by seq_len: character-model loss against truncation length and data stepping.

Two measurements on the first `corpus_chars` characters of Tiny Shakespeare (the last
`val_fraction` held out), a 1-layer LSTM character model built exactly as `rnnlab.CharLM`
builds it (`build_model`, Adam, no dropout, gradient norm clipped to 1):

1. Truncation length T (backpropagation through time over T characters), every run seeing the
   same number of training characters: steps = `train_chars` / (batch_size * T); and again with
   the same number of steps (`compare_steps`, so T times the characters). The batches are
   CharLM's: B contiguous streams, the data pointer stepped by T, the hidden state carried.
2. At T = `compare_len`, the same number of steps (so the same characters through the network,
   B * T per step, and the same compute) for three ways of cutting the text:

       stride T, state carried   CharLM's streams (min-char-rnn's `p += seq_length`, `hprev` kept)
       stride T, state reset     the same windows, every one started from a zero state
       stride 1, state reset     a window starting at every position (`p += 1`): overlapping windows

Every model is scored on the validation text twice: with the state carried through it (how
CharLM evaluates and samples: unbounded context) and with the state reset every T characters
(the context a reset window gives).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, replace

import numpy as np

from rnnlab.data.streams import TextStreams
from rnnlab.data.text import Corpus
from rnnlab.experiments.result import Result, new_figure
from rnnlab.nn import CrossEntropyLoss
from rnnlab.tasks.charlm import embedded_text
from rnnlab.tasks.charlm_config import CharLMConfig, build_model, build_optimizer, build_scheduler
from rnnlab.train import LoopConfig, train_loop

VARIANTS = ("stride T, state carried", "stride T, state reset", "stride 1, state reset")


@dataclass(frozen=True)
class Setup:
    corpus_chars: int = 150_000
    val_fraction: float = 0.1
    hidden_size: int = 64
    embedding_dim: int = 16
    batch_size: int = 16
    lr: float = 3e-3
    seq_lens: tuple[int, ...] = (4, 8, 16, 32, 64)
    train_chars: int = 204_800  # per run of the sweep: 400 steps at T = 32
    compare_len: int = 32
    compare_steps: int = 400


QUICK = Setup(corpus_chars=8_000, hidden_size=16, seq_lens=(4, 16), train_chars=2_048, compare_len=16,
              compare_steps=8)


def shakespeare(characters: int, val_fraction: float) -> tuple[int, np.ndarray, np.ndarray]:
    """vocabulary size, training ids and validation ids of the first `characters` of Tiny Shakespeare."""
    corpus = Corpus.from_text(embedded_text()[:characters])
    ids = corpus.encode().astype(np.int64)
    split = int(len(ids) * (1 - val_fraction))
    return len(corpus.vocab), ids[:split], ids[split:]


def lm_config(**settings) -> CharLMConfig:
    """CharLM's settings for these experiments: a constant learning rate, no sampling."""
    return CharLMConfig(**({"num_layers": 1, "dropout": 0.0, "schedule": "constant", "sample_every": 0} | settings))


def loss_on(model, ids: np.ndarray, batch_size: int, seq_len: int, carry: bool = True) -> float:
    """Mean cross-entropy (nats per character) over `ids` in eval mode, read as CharLM evaluates: B streams
    in windows of `seq_len`, the state carried from window to window (or reset before each one)."""
    batch = max(1, min(batch_size, (len(ids) - 1) // (seq_len + 2)))
    loss_fn, total, count, state = CrossEntropyLoss(reduction="sum"), 0.0, 0, None
    model.eval()
    for x, y in TextStreams(ids, batch, seq_len):
        logits, state = model(x, state if carry else None)
        total += loss_fn(logits, y)
        count += y.size
    model.train()
    return float(total / count)


def overlapping_windows(ids: np.ndarray, batch_size: int, seq_len: int) -> Callable[[], tuple]:
    """Batches that step the data pointer by 1: B streams, each window one character after the last."""
    length = len(ids) // batch_size
    streams = ids[: batch_size * length].reshape(batch_size, length)  # (B, L)
    position = [0]

    def next_batch() -> tuple[np.ndarray, np.ndarray, bool]:
        if position[0] + seq_len + 1 > length:
            position[0] = 0
        window = streams[:, position[0]: position[0] + seq_len + 1]  # (B, T+1)
        position[0] += 1
        return window[:, :-1].T, window[:, 1:].T, True

    return next_batch


def train_lm(config: CharLMConfig, vocab_size: int, next_batch: Callable[[], tuple], carry: bool,
             evaluate: Callable[[object], dict[str, float]], eval_every: int | None = None) -> tuple[object, list]:
    """Train CharLM's network for `config.max_steps` on `next_batch()` -> (x (T, B), y (T, B), restart) through
    the one training loop; with `carry` the state goes from batch to batch unless the streams restarted.
    `evaluate(model)` is called every `eval_every` steps and at the end; returns the model and the history."""
    model = build_model(config, vocab_size)
    optimizer, loss_fn, carried = build_optimizer(config, model), CrossEntropyLoss(), [None]

    def step_fn() -> tuple[float, int]:
        x, y, restart = next_batch()
        logits, state = model(x, None if restart or not carry else carried[0])
        loss = loss_fn(logits, y)
        model.backward(loss_fn.backward())
        carried[0] = state
        return loss, x.size

    loop = LoopConfig(max_steps=config.max_steps, eval_every=eval_every or config.max_steps,
                      clip_norm=config.clip_norm, monitor="val_loss")
    state = train_loop(model, optimizer, step_fn, lambda: evaluate(model), loop,
                       scheduler=build_scheduler(optimizer, config), progress=False)
    return model, state.history


def run(quick: bool = False, seed: int = 0) -> Result:
    setup = QUICK if quick else Setup()
    vocab_size, train_ids, val_ids = shakespeare(setup.corpus_chars, setup.val_fraction)
    base = lm_config(hidden_size=setup.hidden_size, embedding_dim=setup.embedding_dim,
                     batch_size=setup.batch_size, lr=setup.lr, seed=seed)
    B = setup.batch_size

    def scores(model, T: int) -> dict[str, float]:
        return {"val_loss": loss_on(model, val_ids, B, T), "val_loss_reset": loss_on(model, val_ids, B, T, False)}

    def carried_run(T: int, steps: int) -> dict:
        config = replace(base, seq_len=T, max_steps=steps)
        _, history = train_lm(config, vocab_size, TextStreams(train_ids, B, T).next_batch, True,
                              lambda m: scores(m, T))
        return {"steps": steps, **history[-1]}

    sweep = {T: carried_run(T, max(1, setup.train_chars // (B * T))) for T in setup.seq_lens}
    same_steps = {T: carried_run(T, setup.compare_steps) for T in setup.seq_lens}

    T = setup.compare_len
    config = replace(base, seq_len=T, max_steps=setup.compare_steps)
    every = max(1, setup.compare_steps // 10)
    sources = {VARIANTS[0]: (TextStreams(train_ids, B, T).next_batch, True),
               VARIANTS[1]: (TextStreams(train_ids, B, T).next_batch, False),
               VARIANTS[2]: (overlapping_windows(train_ids, B, T), False)}
    curves = {name: train_lm(config, vocab_size, batches, carry, lambda m: scores(m, T), every)[1]
              for name, (batches, carry) in sources.items()}
    distinct = {VARIANTS[0]: min(len(train_ids), B * T * config.max_steps),
                VARIANTS[1]: min(len(train_ids), B * T * config.max_steps),
                VARIANTS[2]: min(len(train_ids), B * (config.max_steps + T))}
    figures = {
        "setup": {**asdict(setup), "seed": seed, "cell": "lstm", "num_layers": 1, "optimizer": "adam",
                  "schedule": "constant", "clip_norm": base.clip_norm, "dropout": 0.0, "init": "pytorch",
                  "vocab_size": vocab_size, "train_characters": len(train_ids), "val_characters": len(val_ids)},
        "seq_lens": list(setup.seq_lens),
        "sweep_steps": [sweep[T]["steps"] for T in setup.seq_lens],
        "sweep_val_loss": [sweep[T]["val_loss"] for T in setup.seq_lens],
        "sweep_val_loss_reset": [sweep[T]["val_loss_reset"] for T in setup.seq_lens],
        "sweep_seconds": [sweep[T]["seconds"] for T in setup.seq_lens],
        "same_steps_val_loss": [same_steps[T]["val_loss"] for T in setup.seq_lens],
        "same_steps_seconds": [same_steps[T]["seconds"] for T in setup.seq_lens],
        "compare_len": T,
        "compare_steps": config.max_steps,
        "variants": list(VARIANTS),
        "variant_val_loss": {name: h[-1]["val_loss"] for name, h in curves.items()},
        "variant_val_loss_reset": {name: h[-1]["val_loss_reset"] for name, h in curves.items()},
        "variant_distinct_train_characters": distinct,
        "variant_curve_steps": [entry["step"] for entry in curves[VARIANTS[0]]],
        "variant_curves": {name: [entry["val_loss"] for entry in h] for name, h in curves.items()},
    }
    return Result("seq-length", figures, verdict(figures), {"seq_length.png": plot(figures)})


def verdict(figures: dict) -> str:
    lens, losses = figures["seq_lens"], figures["sweep_val_loss"]

    def listed(values: list[float]) -> str:
        return ", ".join(f"T={T}: {v:.3f}" for T, v in zip(lens, values, strict=True))

    best = int(np.argmin(losses))
    chars = figures["setup"]["train_chars"]
    sweep = (f"With {chars:,} training characters per run, validation loss against truncation length "
             f"{listed(losses)} nats/char; "
             f"the best is T={lens[best]}")
    if best not in (0, len(lens) - 1):
        sweep += ", with shorter and longer windows worse"
    elif best == 0:
        sweep += " (the shortest tried: the more frequent updates win here)"
    else:
        sweep += " (the longest tried)"
    same = figures["same_steps_val_loss"]
    sweep += (f". With {figures['compare_steps']} steps each instead (characters in proportion to T), the best is "
              f"T={lens[int(np.argmin(same))]} ({listed(same)})")
    final = figures["variant_val_loss"]
    carried, reset, stride1 = (final[name] for name in VARIANTS)
    order = sorted(VARIANTS, key=final.get)
    compare = (f"At T={figures['compare_len']} and {figures['compare_steps']} steps each (the same compute), stepping "
               f"by T with the state carried reached {carried:.3f}, by T with the state reset {reset:.3f}, and by 1 "
               f"with the state reset {stride1:.3f}: "
               + ("stepping by seq_len with the state carried is best" if order[0] == VARIANTS[0] else
                  f"the best here is {order[0]}") + ".")
    return f"{sweep}. {compare}"


def plot(figures: dict):
    figure, axes = new_figure(1, 2, width=12, height=4)
    lens = figures["seq_lens"]
    ax = axes[0, 0]
    ax.plot(lens, figures["sweep_val_loss"], "o-", label="same characters, state carried through validation")
    ax.plot(lens, figures["sweep_val_loss_reset"], "s--", label="same, state reset every T characters")
    ax.plot(lens, figures["same_steps_val_loss"], "^-", label=f"{figures['compare_steps']} steps each (state carried)")
    ax.set_xscale("log", base=2)
    ax.set_xticks(lens, [str(T) for T in lens])
    ax.set(title=f"{figures['setup']['train_chars']:,} training characters each (unless said)",
           xlabel="truncation length T", ylabel="validation loss (nats/char)")
    ax = axes[0, 1]
    for name in VARIANTS:
        ax.plot(figures["variant_curve_steps"], figures["variant_curves"][name], "o-", markersize=3, label=name)
    ax.set(title=f"T = {figures['compare_len']}, same steps", xlabel="step", ylabel="validation loss (nats/char)")
    for ax in axes.ravel():
        ax.legend(fontsize=8)
    return figure

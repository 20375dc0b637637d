"""The character model's settings, its presets, and what they build: the network, optimizer and schedule.

Every field of `CharLMConfig` is a constructor keyword of `rnnlab.tasks.charlm.CharLM` and a flag
of `rnnlab charlm train` (`hidden_size` -> `--hidden-size`), with this default, check and help. The
defaults are the "default" preset; `PRESETS` holds the others, used as `CharLM.from_preset(name)`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rnnlab import checks
from rnnlab.config import (
    Check,
    Config,
    amp_option,
    device_option,
    engine_option,
    log_gradients_option,
    non_negative,
    on_nan_option,
    option,
    positive,
    positive_int,
    probability,
)
from rnnlab.errors import invalid_argument
from rnnlab.nn.models import CELLS, ModelConfig, SequenceModel
from rnnlab.optim import SGD, Adagrad, Adam, AdamW, CosineAnnealingLR, LinearLR, RMSprop, SequentialLR

OPTIMIZERS = ("sgd", "adagrad", "rmsprop", "adam", "adamw")
closed_fraction = Check("a number in [0, 1]", lambda v: non_negative.accepts(v) and v <= 1)
validation_share = Check("a number in (0, 0.5)", lambda v: positive.accepts(v) and v < 0.5)


@dataclass(frozen=True)
class CharLMConfig(Config):
    """Every setting of a character language model run; printed at the start and saved in each checkpoint.

    >>> CharLMConfig(hidden_size=128).num_layers
    2
    >>> CharLMConfig(seq_len=0)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    rnnlab.errors.InvalidArgument: Received an invalid value for argument `seq_len`, expected an integer in [1, ...
    """

    cell: str = option("lstm", "recurrent cell", choices=CELLS)
    hidden_size: int = option(256, "hidden units per layer", check=checks.units)
    num_layers: int = option(2, "stacked recurrent layers", check=checks.layers)
    dropout: float = option(0.1, "dropout between layers and before the output layer", check=probability)
    embedding_dim: int | None = option(64, "character embedding size (none: one-hot input)",
                                       check=checks.units)
    seq_len: int = option(64, "characters per stream and step (backpropagation through time)",
                          check=checks.length)
    batch_size: int = option(32, "parallel streams through the text", check=checks.batch_size)
    optimizer: str = option("adam", "optimizer", choices=OPTIMIZERS)
    lr: float = option(3e-3, "learning rate (the peak of the schedule)", check=positive)
    weight_decay: float = option(0.0, "weight decay", check=non_negative)
    schedule: str = option("cosine", "cosine: linear warm-up, then a cosine decay to the final learning rate at the "
                           "last step; constant: the same learning rate throughout", choices=("cosine", "constant"))
    warmup_steps: int = option(100, "linear warm-up steps of the cosine schedule", check=checks.steps_or_zero)
    min_lr_ratio: float = option(0.05, "final learning rate of the cosine schedule, as a share of lr",
                                 check=closed_fraction)
    clip_norm: float | None = option(1.0, "clip the global gradient norm to this (none: off)", check=positive)
    clip_value: float | None = option(None, "clip every gradient element to [-v, v] (none: off)", check=positive)
    log_gradients: bool = log_gradients_option()
    on_nan: str = on_nan_option()
    engine: str = engine_option()
    device: str = device_option()
    amp: bool = amp_option()
    loss_reduction: str = option("mean", "mean or sum of the loss over a batch's characters", choices=("mean", "sum"))
    max_steps: int = option(3000, "training steps of the whole run (the schedule spans them)", check=checks.steps)
    minutes: float | None = option(None, "stop after this many minutes of training in this call", check=positive)
    eval_every: int = option(250, "evaluate and checkpoint every so many steps", check=checks.steps)
    eval_chars: int = option(1_000_000, "validation characters read per evaluation, at most", check=positive_int)
    sample_every: int = option(500, "show a sample every so many steps (0: never)", check=checks.steps_or_zero)
    sample_chars: int = option(200, "length of those samples", check=checks.sample_chars)
    val_fraction: float = option(0.05, "the end of the text held out for validation", check=validation_share)
    seed: int = option(0, "random seed", check=checks.seed)
    dtype: str = option("float32", "floating-point precision", choices=("float32", "float64"))
    init: str = option("pytorch", "initial weights: pytorch, or min-char-rnn (the seed's N(0, 0.01^2) weights, zero "
                       "biases and no recurrent bias)", choices=("pytorch", "min-char-rnn"))

    def check(self) -> None:
        if self.eval_chars < self.seq_len + 2:
            raise invalid_argument("eval_chars", f"at least the sequence length + 2 = {self.seq_len + 2}",
                                   self.eval_chars)
        # one-hot input: the vocabulary is not known yet, so count the inputs as the embedding would (at least 1)
        weights = checks.recurrent_weights(self.cell, self.embedding_dim or 1, self.hidden_size, self.num_layers)
        checks.require_weights("hidden_size", self.hidden_size, weights)


PRESETS = {
    # Good text in minutes on two cores.
    "default": CharLMConfig(),
    # The seed's min-char-rnn exactly: RNN 100, one-hot, seq 25, batch 1, Adagrad 0.1, clip 5, float64.
    "min-char-rnn": CharLMConfig(
        cell="rnn", hidden_size=100, num_layers=1, dropout=0.0, embedding_dim=None, seq_len=25, batch_size=1,
        optimizer="adagrad", lr=0.1, schedule="constant", clip_norm=None, clip_value=5.0, loss_reduction="sum",
        max_steps=20000, eval_every=1000, sample_every=100, dtype="float64", init="min-char-rnn"),
    # A longer run: 2 x 512 LSTM with dropout.
    "large": CharLMConfig(hidden_size=512, num_layers=2, dropout=0.25, embedding_dim=64, seq_len=100, batch_size=32,
                          lr=2e-3, max_steps=6000, eval_every=250, warmup_steps=200),
}


def build_model(config: CharLMConfig, vocab_size: int) -> SequenceModel:
    """The network: characters (T, B) in, logits (T, B, vocab_size) out, initialised as `config.init` says."""
    c = config
    model = SequenceModel(ModelConfig(vocab_size, vocab_size, c.cell, c.hidden_size, c.num_layers, c.dropout, False,
                                      c.embedding_dim), dtype=c.dtype, seed=c.seed)
    if c.init == "min-char-rnn":
        _seed_init(model, c.seed)
    return model


def _seed_init(model: SequenceModel, seed: int) -> None:
    """min-char-rnn's initialisation: weights ~ N(0, 0.01^2), zero biases.

    The seed's three matrices Wxh, Whh, Why are drawn first, in its order from
    `np.random.RandomState(seed)`; any other weight (an embedding, more layers) after them.
    """
    legacy = np.random.RandomState(seed)
    shapes = {name: value.shape for name, value in model.state_dict().items()}
    seeds = ["rnn.weight_ih_l0", "rnn.weight_hh_l0", "head.weight"]
    weights = seeds + [name for name in shapes if "weight" in name and name not in seeds]
    state = {name: np.zeros(shape) for name, shape in shapes.items()}
    model.load_state_dict(state | {name: legacy.randn(*shapes[name]) * 0.01 for name in weights})


def build_optimizer(config: CharLMConfig, model: SequenceModel):
    """The optimizer `config.optimizer` over the model's parameters, with its learning rate and weight decay.

    The seed's RNN has a single hidden bias, so with init="min-char-rnn" `bias_hh` is left out (stays zero).
    """
    params = model.parameters()
    if config.init == "min-char-rnn":
        params = [p for name, p in model.named_parameters() if not name.startswith("rnn.bias_hh")]
    lr, wd = config.lr, config.weight_decay
    if config.optimizer == "adagrad":  # the seed's rule: lr * g / sqrt(sum g^2 + 1e-8)
        return Adagrad(params, lr=lr, weight_decay=wd, initial_accumulator_value=1e-8, eps=0.0)
    return {"sgd": SGD, "rmsprop": RMSprop, "adam": Adam, "adamw": AdamW}[config.optimizer](
        params, lr=lr, weight_decay=wd)


def build_scheduler(optimizer, config: CharLMConfig, step: int = 0):
    """The learning-rate schedule over `config.max_steps` (None for "constant"), advanced to `step`.

    Warm-up from 1% of lr to lr over `warmup_steps`, then half a cosine down to `min_lr_ratio * lr`
    at `max_steps`. A resumed run with a larger `max_steps` gets the schedule of the new length at
    the step it reached (the closed form does not depend on the path there).
    """
    if config.schedule == "constant":
        return None
    warmup = min(config.warmup_steps, config.max_steps - 1)
    floor = config.lr * config.min_lr_ratio
    scheduler = CosineAnnealingLR(optimizer, T_max=max(1, config.max_steps - warmup), eta_min=floor)
    if warmup > 0:
        scheduler = SequentialLR(optimizer, [LinearLR(optimizer, start_factor=0.01, total_iters=warmup), scheduler],
                                 [warmup])
    for _ in range(step):
        scheduler.step()
    return scheduler

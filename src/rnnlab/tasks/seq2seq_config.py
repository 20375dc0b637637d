"""The sequence-to-sequence task's settings.

Every field is a constructor keyword of `rnnlab.tasks.seq2seq.Seq2Seq` and a flag of `rnnlab seq2seq train`
(`hidden_size` -> `--hidden-size`), with this default, check and help.
"""

from __future__ import annotations

from dataclasses import dataclass

from rnnlab import checks
from rnnlab.config import (
    Config,
    amp_option,
    boolean,
    device_option,
    engine_option,
    log_gradients_option,
    on_nan_option,
    open_fraction,
    option,
    positive,
    probability,
    unit_fraction,
)
from rnnlab.errors import invalid_argument
from rnnlab.nn.decoder import CELLS, SCORES

TOKENS = ("char", "word")
SCHEDULES = ("plateau", "cosine")


@dataclass(frozen=True)
class Seq2SeqConfig(Config):
    """Hyperparameters of a `Seq2Seq`; printed at the start of a run, saved in the checkpoint.

    >>> Seq2SeqConfig(target_tokens="word").attention
    'general'
    >>> Seq2SeqConfig(hidden_size=255)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    rnnlab.errors.InvalidArgument: Received an invalid value for argument `hidden_size`, expected an even ...
    """

    source_tokens: str = option("char", "source tokens: characters, or words split at whitespace", choices=TOKENS)
    target_tokens: str = option("char", "target tokens: characters, or words split at whitespace", choices=TOKENS)
    min_count: int = option(1, "tokens seen fewer times in the training pairs become <unk>", check=checks.units)
    cell: str = option("lstm", "recurrent cell of the encoder and the decoder", choices=CELLS)
    embedding_dim: int = option(64, "token embedding size (source and target)", check=checks.units)
    hidden_size: int = option(256, "decoder units; each encoder direction has half", check=checks.units)
    encoder_layers: int = option(1, "bi-directional encoder layers", check=checks.layers)
    attention: str = option("general", "attention score: additive (Bahdanau), general or dot (Luong)",
                            choices=SCORES)
    input_feeding: bool = option(True, "feed the previous attentional vector to the decoder cell (Luong)",
                                 check=boolean)
    dropout: float = option(0.2, "dropout on the source embeddings and between encoder layers", check=probability)
    label_smoothing: float = option(0.1, "spread this share of each target's probability over all tokens",
                                    check=probability)
    sampling_rate: float = option(0.0, "scheduled sampling: feed the decoder its own previous guess instead of "
                                  "the true token with this probability", check=probability)
    max_len: int | None = option(None, "longest output in tokens (none: twice the longest training target + 5)",
                                 check=checks.length)
    batch_size: int = option(64, "pairs per step", check=checks.batch_size)
    lr: float = option(2e-3, "Adam learning rate", check=positive)
    lr_schedule: str = option("plateau", "plateau: multiply the rate by lr_decay after each decay_patience epochs "
                              "without progress; cosine: anneal it to lr * lr_min_factor over the epochs",
                              choices=SCHEDULES)
    lr_decay: float = option(0.5, "plateau schedule: multiply the learning rate by this after each decay_patience "
                             "epochs without progress", check=unit_fraction)
    decay_patience: int = option(2, "plateau schedule: epochs without progress before the learning rate decays",
                                 check=checks.epochs)
    lr_min_factor: float = option(0.05, "cosine schedule: the learning rate at the end, as a fraction of lr",
                                  check=unit_fraction)
    clip_norm: float | None = option(5.0, "clip the global gradient norm to this (none: no clipping)",
                                     check=positive)
    log_gradients: bool = log_gradients_option()
    on_nan: str = on_nan_option()
    engine: str = engine_option()
    device: str = device_option()
    amp: bool = amp_option()
    epochs: int = option(30, "passes over the training pairs (the total, across resumes)", check=checks.epochs)
    minutes: float | None = option(10.0, "training time of this call, in minutes", check=positive)
    patience: int | None = option(5, "epochs without a better validation exact match before stopping (none: never)",
                                  check=checks.epochs)
    val_fraction: float = option(0.05, "share of the distinct training sources held out when no validation set "
                                 "is given", check=open_fraction)
    seed: int = option(0, "random seed (weights, validation split, batches, dropout, sampling)", check=checks.seed)

    def check(self) -> None:
        if self.hidden_size % 2:
            raise invalid_argument("hidden_size", "an even number (each encoder direction has half)",
                                   self.hidden_size)
        half = self.hidden_size // 2
        checks.require_weights("hidden_size", self.hidden_size,
                               checks.recurrent_weights(self.cell, self.embedding_dim, half, self.encoder_layers, 2)
                               + checks.recurrent_weights(self.cell, self.embedding_dim + self.hidden_size,
                                                          self.hidden_size, 1))

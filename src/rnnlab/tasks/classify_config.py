"""The sequence classifier's settings.

Every field is a constructor keyword of `rnnlab.tasks.classify.SequenceClassifier` and a flag of
`rnnlab classify train` (`hidden_size` -> `--hidden-size`), with this default, check and help.
"""

from __future__ import annotations

import dataclasses
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
    option,
    positive,
    probability,
    unit_fraction,
)
from rnnlab.nn.models import CELLS

# Settings whose default depends on the input (None: this default), as (text, numeric series). The numeric
# series' values were chosen by cross-validation on training splits only: benchmarks/classify_defaults.py.
BY_KIND: dict[str, tuple] = {"hidden_size": (128, 32), "batch_size": (64, 16), "epochs": (30, None),
                             "val_fraction": (0.1, 0.0)}
STEPS = 1500  # numeric series train for about this many optimizer steps by default: see `epochs_for`
POOLINGS = ("last", "mean", "max")
MONITORS = ("val_loss", "val_accuracy", "val_macro_f1")
CLASS_WEIGHTS = ("balanced", "sqrt")


@dataclass(frozen=True)
class ClassifyConfig(Config):
    """Hyperparameters of a `SequenceClassifier`; printed at the start of a run, saved in the checkpoint.

    >>> ClassifyConfig(hidden_size=64).pooling
    'max'
    >>> ClassifyConfig(pooling="median")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    rnnlab.errors.InvalidArgument: Received an invalid value for argument `pooling`, expected one of last, ...
    """

    cell: str = option("gru", "recurrent cell", choices=CELLS)
    hidden_size: int | None = option(None, "hidden units per layer and direction (none: 128 for text, 32 for "
                                     "numeric series)", check=checks.units)
    num_layers: int = option(1, "recurrent layers", check=checks.layers)
    bidirectional: bool = option(True, "read each sequence in both directions", check=boolean)
    embedding_dim: int = option(32, "character embedding size (text only; series go in as their features)",
                                check=checks.units)
    znorm: bool | None = option(None, "numeric series: z-normalise each series, feature by feature, over its own "
                                "steps (none: univariate series only, the UCR convention; the UEA archive leaves "
                                "multivariate series as recorded, their levels often carry the class)",
                                check=boolean)
    paa: int | None = option(256, "numeric series: average a longer series down to this many steps (piecewise "
                             "aggregate approximation; none: keep every step)", check=checks.length)
    conv_filters: int = option(64, "numeric series: a convolutional branch beside the recurrent one (LSTM-FCN: "
                               "kernels 8, 5, 3 with this many, twice as many and this many filters, batch norm, "
                               "mean over time; 0: none)", check=checks.units_or_zero)
    pooling: str = option("max", "how the steps become one vector: final state of each direction, or mean / max "
                          "over valid steps", choices=POOLINGS)
    dropout: float = option(0.2, "dropout before the head, and between recurrent layers", check=probability)
    char_dropout: float = option(0.0, "text only: while training, read each character as <unk> with this "
                                 "probability", check=probability)
    lr: float = option(3e-3, "Adam learning rate, cosine-annealed to lr * lr_min_factor over the epochs",
                       check=positive)
    lr_min_factor: float = option(0.05, "the learning rate at the end, as a fraction of lr", check=unit_fraction)
    batch_size: int | None = option(None, "sequences per batch (none: 64 for text, 16 for numeric series)",
                                    check=checks.batch_size)
    epochs: int | None = option(None, f"passes over the training data (none: 30 for text; for numeric series as "
                                f"many as make about {STEPS} optimizer steps, from 10 to 500)", check=checks.epochs)
    patience: int | None = option(6, "epochs without a better validation score before stopping (none: never)",
                                  check=checks.epochs)
    val_fraction: float | None = option(None, "stratified share of the training data held out for early stopping "
                                        "(0: none, all epochs run and the last weights are kept; none: 0.1 for "
                                        "text, 0 for numeric series)", check=probability)
    monitor: str = option("val_loss", "the validation figure that picks the best epoch", choices=MONITORS)
    class_weight: str | None = option(None, "weight the loss by class: balanced (N / (C * n_c)) or sqrt (its root)",
                                      choices=CLASS_WEIGHTS)
    clip_norm: float | None = option(5.0, "clip the gradient norm to this (none: no clipping)", check=positive)
    log_gradients: bool = log_gradients_option()
    on_nan: str = on_nan_option()
    engine: str = engine_option()
    device: str = device_option()
    amp: bool = amp_option()
    minutes: float | None = option(None, "training time limit for each net of the ensemble, per call",
                                   check=positive)
    ensemble: int = option(1, "nets trained with seeds seed, seed + 1, ...; their probabilities are averaged",
                           check=checks.ensemble_size)
    seed: int = option(0, "random seed (weights, validation split, batches, dropout)", check=checks.seed)

    def check(self) -> None:
        # series have as many inputs as features, unknown here; text goes in through the embedding
        hidden_size = self.hidden_size or max(BY_KIND["hidden_size"])
        weights = checks.recurrent_weights(self.cell, self.embedding_dim, hidden_size, self.num_layers,
                                           2 if self.bidirectional else 1)
        checks.require_weights("hidden_size", hidden_size, weights)

    def for_kind(self, kind: str, n_examples: int | None = None) -> ClassifyConfig:
        """These settings with each of `BY_KIND` left at none set to its default for `kind` ("text" or "numeric");
        numeric series' epochs follow from the number of training examples (`epochs_for`; none without it).

        >>> ClassifyConfig().for_kind("numeric", 50).epochs, ClassifyConfig(batch_size=8).for_kind("text").batch_size
        (375, 8)
        """
        column = 0 if kind == "text" else 1
        config = dataclasses.replace(self, **{k: v[column] for k, v in BY_KIND.items() if getattr(self, k) is None})
        if config.epochs is None and n_examples is not None:
            config = dataclasses.replace(config, epochs=epochs_for(n_examples, config.batch_size))
        return config


def epochs_for(n_examples: int, batch_size: int, steps: int = STEPS) -> int:
    """Epochs that make about `steps` optimizer steps over `n_examples` in batches of `batch_size`, within 10..500.

    Small sets then get many passes and large ones few, for a similar amount of learning (and time per example).

    >>> epochs_for(50, 16), epochs_for(200, 16), epochs_for(8000, 16)
    (375, 115, 10)
    """
    return min(500, max(10, round(steps / -(-n_examples // batch_size))))

"""The tagger's settings (`TagConfig`) and the checks on tagged sentences given to it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rnnlab import checks
from rnnlab.config import (
    Config,
    amp_option,
    boolean,
    device_option,
    engine_option,
    log_gradients_option,
    non_negative,
    on_nan_option,
    open_fraction,
    option,
    positive,
    probability,
    unit_fraction,
)
from rnnlab.errors import RnnlabError, invalid_argument


@dataclass(frozen=True)
class TagConfig(Config):
    """Hyperparameters of a `SequenceTagger`: network sizes, regularisation and the training budget."""

    word_dim: int = option(100, "word embedding size", check=checks.units)
    char_dim: int = option(32, "character embedding size", check=checks.units)
    char_hidden: int = option(50, "hidden units of each direction of the character bi-LSTM",
                             check=checks.units)
    shape_dim: int = option(8, "word-shape embedding size (capitalisation, digits, punctuation)",
                           check=checks.units)
    hidden_size: int = option(200, "hidden units of each direction of the sentence bi-LSTM",
                             check=checks.units)
    dropout: float = option(0.5, "dropout on the word inputs and the bi-LSTM outputs", check=probability)
    word_dropout: float = option(0.25, "a in a / (a + count): how often a training word becomes <unk>",
                                 check=non_negative)
    lowercase: bool = option(True, "look words up lower-cased", check=boolean)
    max_word_len: int = option(20, "longer words keep their first and last max_word_len / 2 characters",
                               check=checks.length)
    batch_size: int = option(32, "sentences per step", check=checks.batch_size)
    lr: float = option(2e-3, "Adam learning rate", check=positive)
    lr_decay: float = option(0.5, "multiply the learning rate by this after each decay_patience epochs without "
                             "progress", check=unit_fraction)
    decay_patience: int = option(3, "epochs without progress before the learning rate decays",
                                 check=checks.epochs)
    clip_norm: float | None = option(5.0, "clip the global gradient norm to this", check=positive)
    log_gradients: bool = log_gradients_option()
    on_nan: str = on_nan_option()
    engine: str = engine_option()
    device: str = device_option()
    amp: bool = amp_option()
    epochs: int = option(40, "passes over the training sentences (the total, across resumes)", check=checks.epochs)
    minutes: float | None = option(10.0, "training time of this call, in minutes", check=positive)
    patience: int | None = option(12, "epochs without a better validation accuracy before stopping (none: never)",
                                  check=checks.epochs)
    val_fraction: float = option(0.1, "share of the training sentences held out when no validation set is given",
                                 check=open_fraction)
    seed: int = option(0, "random seed (initial weights, validation split, batches, dropout)", check=checks.seed)

    def check(self) -> None:
        if self.max_word_len < 2:
            raise invalid_argument("max_word_len", "an integer >= 2 (a word keeps its first and last halves)",
                                   self.max_word_len)
        for name, inputs, hidden in (("char_hidden", self.char_dim, self.char_hidden),
                                     ("hidden_size", self.word_dim + self.shape_dim + 2 * self.char_hidden,
                                      self.hidden_size)):
            checks.require_weights(name, hidden, checks.recurrent_weights("lstm", inputs, hidden, 1, 2))


def check_sentences(sentences: Sequence[Sequence[str]], tags: Sequence[Sequence[str]] | None = None,
                    name: str = "sentences") -> None:
    """Refuse empty input, empty sentences, non-string words, and tag lists that do not match the words."""
    if len(sentences) == 0:
        raise RnnlabError(f"{name}: no sentences given")
    for index, words in enumerate(sentences):
        if isinstance(words, str) or len(words) == 0 or not all(isinstance(w, str) and w for w in words):
            raise RnnlabError(f"{name}: sentence {index} must be a non-empty list of non-empty words, got {words!r}")
    if tags is not None:
        if len(tags) != len(sentences):
            raise RnnlabError(f"{name}: {len(sentences)} sentences but {len(tags)} tag lists")
        for index, (words, sentence_tags) in enumerate(zip(sentences, tags, strict=True)):
            if len(words) != len(sentence_tags):
                raise RnnlabError(f"{name}: sentence {index} has {len(words)} words but {len(sentence_tags)} tags")

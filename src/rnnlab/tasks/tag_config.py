"""The tagger's settings (`TagConfig`) and the checks on tagged sentences given to it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rnnlab.config import (
    Config,
    boolean,
    non_negative,
    non_negative_int,
    open_fraction,
    option,
    positive,
    positive_int,
    probability,
    unit_fraction,
)
from rnnlab.errors import RnnlabError, invalid_argument


@dataclass(frozen=True)
class TagConfig(Config):
    """Hyperparameters of a `SequenceTagger`: network sizes, regularisation and the training budget."""

    word_dim: int = option(100, "word embedding size", check=positive_int)
    char_dim: int = option(32, "character embedding size", check=positive_int)
    char_hidden: int = option(50, "hidden units of each direction of the character bi-LSTM", check=positive_int)
    shape_dim: int = option(8, "word-shape embedding size (capitalisation, digits, punctuation)", check=positive_int)
    hidden_size: int = option(200, "hidden units of each direction of the sentence bi-LSTM", check=positive_int)
    dropout: float = option(0.5, "dropout on the word inputs and the bi-LSTM outputs", check=probability)
    word_dropout: float = option(0.25, "a in a / (a + count): how often a training word becomes <unk>",
                                 check=non_negative)
    lowercase: bool = option(True, "look words up lower-cased", check=boolean)
    max_word_len: int = option(20, "longer words keep their first and last max_word_len / 2 characters",
                               check=positive_int)
    batch_size: int = option(32, "sentences per step", check=positive_int)
    lr: float = option(2e-3, "Adam learning rate", check=positive)
    lr_decay: float = option(0.5, "multiply the learning rate by this after each decay_patience epochs without "
                             "progress", check=unit_fraction)
    decay_patience: int = option(3, "epochs without progress before the learning rate decays", check=positive_int)
    clip_norm: float | None = option(5.0, "clip the global gradient norm to this", check=positive)
    log_gradients: bool = option(False, "log gradient norms per parameter and per time step, clipping events and "
                                 "the spectral radius of W_hh to gradients.jsonl in the run folder", check=boolean)
    epochs: int = option(40, "passes over the training sentences (the total, across resumes)", check=positive_int)
    minutes: float | None = option(10.0, "training time of this call, in minutes", check=positive)
    patience: int | None = option(12, "epochs without a better validation accuracy before stopping (none: never)",
                                  check=positive_int)
    val_fraction: float = option(0.1, "share of the training sentences held out when no validation set is given",
                                 check=open_fraction)
    seed: int = option(0, "random seed (initial weights, validation split, batches, dropout)", check=non_negative_int)

    def check(self) -> None:
        if self.max_word_len < 2:
            raise invalid_argument("max_word_len", "an integer >= 2 (a word keeps its first and last halves)",
                                   self.max_word_len)


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

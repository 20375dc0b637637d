"""Sequence tagging (part of speech): a word + character bi-LSTM tagger and a most-frequent-tag baseline.

    tagger = SequenceTagger(minutes=5).fit(sentences, tags)    # lists of words, lists of tags
    tagger.evaluate(test_sentences, test_tags)                 # accuracy, OOV accuracy, baseline beside them
    tagger.predict([tokenize("I eat apples")])                 # [['PRON', 'VERB', 'NOUN']]

Words are looked up lower-cased (`lowercase=True`); a word not seen in training maps to <unk>,
and training replaces a word seen c times by <unk> with probability a / (a + c) (word dropout,
a = `word_dropout`, Kiperwasser & Goldberg 2016) so the model learns to tag from the characters
and the context alone. A word is out of vocabulary (OOV) when its lower-cased form never occurred
in the training split. The network is in `tag_model.py`; training runs through `rnnlab.train`.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

import numpy as np

from rnnlab.checkpoint import load_checkpoint, save_checkpoint, split_prefix, with_prefix
from rnnlab.errors import RnnlabError, invalid_argument
from rnnlab.nn import CrossEntropyLoss
from rnnlab.optim import Adam
from rnnlab.tasks.tag_model import TaggerNet, TaggerNetConfig, word_shape
from rnnlab.train import LoopConfig, train_loop

PAD, UNK = 0, 1  # reserved word and character ids
_TOKEN = re.compile(r"\w+(?=n't\b)|n't\b|'(?:s|m|re|ve|ll|d)\b|\w+(?:[-.]\w+)*|\.\.\.|[^\w\s]", re.IGNORECASE)


def tokenize(text: str) -> list[str]:
    """Split a plain sentence into words the way English treebanks do, with one small regex.

    Punctuation marks become words of their own ("..." stays whole), the clitics n't, 's, 'm,
    're, 've, 'll and 'd split off their host, and hyphens or dots between letters or digits
    stay inside a word ("e-mail", "3.5").

    >>> tokenize("I don't eat apples, it's 3.5 e-mails...")
    ['I', 'do', "n't", 'eat', 'apples', ',', 'it', "'s", '3.5', 'e-mails', '...']
    """
    return _TOKEN.findall(text)


@dataclass(frozen=True)
class TaggerConfig:
    """Hyperparameters of a `SequenceTagger`: network sizes, regularisation and the training budget."""

    word_dim: int = 100  # word embedding size
    char_dim: int = 32  # character embedding size
    char_hidden: int = 50  # hidden size of each direction of the character bi-LSTM
    shape_dim: int = 8  # word-shape embedding size (capitalisation, digits, punctuation)
    hidden_size: int = 200  # hidden size of each direction of the sentence bi-LSTM
    dropout: float = 0.5  # on the word inputs and the bi-LSTM outputs
    word_dropout: float = 0.25  # a in a / (a + count): how often training words become <unk>
    lowercase: bool = True  # look words up lower-cased
    max_word_len: int = 20  # longer words keep their first and last max_word_len / 2 characters
    batch_size: int = 32  # sentences per step
    lr: float = 2e-3  # Adam learning rate
    lr_decay: float = 0.5  # multiply the learning rate by this after each `decay_patience` epochs without progress
    decay_patience: int = 3
    clip_norm: float = 5.0
    max_epochs: int = 40
    minutes: float | None = 10.0  # training time budget
    patience: int = 12  # epochs without a better validation accuracy before stopping
    val_fraction: float = 0.1  # share of the training sentences held out when no validation set is given
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("word_dim", "char_dim", "char_hidden", "shape_dim", "hidden_size", "max_word_len", "batch_size",
                     "max_epochs", "patience", "decay_patience"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise invalid_argument(name, "a positive integer", value)
        if not 0 <= self.dropout < 1:
            raise invalid_argument("dropout", "a number in [0, 1)", self.dropout)
        if self.word_dropout < 0:
            raise invalid_argument("word_dropout", "a number >= 0", self.word_dropout)
        if not 0 < self.lr_decay <= 1:
            raise invalid_argument("lr_decay", "a number in (0, 1]", self.lr_decay)
        if not 0 < self.val_fraction < 1:
            raise invalid_argument("val_fraction", "a number in (0, 1)", self.val_fraction)
        if self.lr <= 0 or self.clip_norm <= 0:
            raise invalid_argument("lr" if self.lr <= 0 else "clip_norm", "a positive number", min(self.lr,
                                                                                                   self.clip_norm))
        if self.minutes is not None and self.minutes <= 0:
            raise invalid_argument("minutes", "a positive number or None", self.minutes)


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


class SequenceTagger:
    """Tag every word of a sentence: word + character bi-LSTM, with a most-frequent-tag baseline beside it.

    Hyperparameters are `TaggerConfig` fields, given as a config, keyword arguments, or both.
    Learned state: `words_` (word vocabulary, lower-cased if `lowercase`; ids 0 and 1 are <pad> and <unk>), `chars_`,
    `tags_`, `baseline_` (word -> its most frequent training tag), `default_tag_`, `model_`, `history_`.
    """

    def __init__(self, config: TaggerConfig | None = None, **hyperparameters) -> None:
        names = {f.name for f in fields(TaggerConfig)}
        for name in hyperparameters:
            if name not in names:
                raise RnnlabError(f"unknown hyperparameter {name!r}; TaggerConfig has {', '.join(sorted(names))}")
        self.config = replace(config or TaggerConfig(), **hyperparameters)

    # ---- vocabularies and batches -------------------------------------------------------------------------

    def _key(self, word: str) -> str:
        return word.lower() if self.config.lowercase else word

    def _char_ids(self, word: str) -> list[int]:
        half = self.config.max_word_len // 2
        if len(word) > self.config.max_word_len:
            word = word[:half] + word[-half:]
        return [self._char_index.get(ch, UNK) for ch in word]

    def _build_vocabularies(self, sentences: Sequence[Sequence[str]], tags: Sequence[Sequence[str]]) -> None:
        self.word_counts_ = Counter(self._key(w) for words in sentences for w in words)
        self.words_ = ["<pad>", "<unk>", *sorted(self.word_counts_)]
        self.chars_ = ["<pad>", "<unk>", *sorted({ch for words in sentences for w in words for ch in w})]
        self.tags_ = sorted({t for sentence_tags in tags for t in sentence_tags})
        self._index()

    def _index(self) -> None:
        self._word_index = {w: i for i, w in enumerate(self.words_)}
        self._char_index = {ch: i for i, ch in enumerate(self.chars_)}
        self._tag_index = {t: i for i, t in enumerate(self.tags_)}
        self._counts = np.array([self.word_counts_.get(w, 0) for w in self.words_], np.float64)  # (V,)

    def _batch(self, sentences: Sequence[Sequence[str]], rng: np.random.Generator | None = None) -> dict:
        """Time-major arrays for `TaggerNet`; with `rng`, training words become <unk> by word dropout."""
        T, B = max(len(words) for words in sentences), len(sentences)
        words, shapes, forms = (np.zeros((T, B), np.int64) for _ in range(3))
        mask = np.zeros((T, B), bool)
        form_rows: dict[str, int] = {}
        for b, sentence in enumerate(sentences):
            mask[: len(sentence), b] = True
            for t, word in enumerate(sentence):
                words[t, b] = self._word_index.get(self._key(word), UNK)
                shapes[t, b] = word_shape(word)
                forms[t, b] = form_rows.setdefault(word, len(form_rows))
        if rng is not None and self.config.word_dropout > 0:
            alpha = self.config.word_dropout
            drop = rng.random((T, B)) < alpha / (alpha + self._counts[words])
            words[drop & mask] = UNK
        char_lists = [self._char_ids(form) for form in form_rows]
        L = max(len(ids) for ids in char_lists)
        chars = np.zeros((len(char_lists), L), np.int64)  # (N, L)
        for row, ids in enumerate(char_lists):
            chars[row, : len(ids)] = ids
        return {"words": words, "shapes": shapes, "forms": forms, "chars": chars, "char_mask": chars != PAD,
                "mask": mask}

    def _targets(self, tags: Sequence[Sequence[str]], T: int) -> np.ndarray:
        """(T, B) tag ids; -1 for padding and for tags never seen in training (they count as errors)."""
        targets = np.full((T, len(tags)), -1, np.int64)
        for b, sentence_tags in enumerate(tags):
            targets[: len(sentence_tags), b] = [self._tag_index.get(t, -1) for t in sentence_tags]
        return targets

    @staticmethod
    def _batches(size: int, lengths: np.ndarray, rng: np.random.Generator | None) -> list[np.ndarray]:
        """Index arrays of sentences of similar length: sort within pools of 20 batches, then shuffle batches."""
        count = len(lengths)
        order = rng.permutation(count) if rng is not None else np.arange(count)
        pool = 20 * size
        order = np.concatenate([chunk[np.argsort(lengths[chunk], kind="stable")]
                                for chunk in np.array_split(order, max(1, -(-count // pool)))])
        batches = [order[i : i + size] for i in range(0, count, size)]
        if rng is not None:
            rng.shuffle(batches)
        return batches

    # ---- training -----------------------------------------------------------------------------------------

    def fit(self, sentences: Sequence[Sequence[str]], tags: Sequence[Sequence[str]],
            val_sentences: Sequence[Sequence[str]] | None = None, val_tags: Sequence[Sequence[str]] | None = None,
            log_path: str | Path | None = None, progress: bool = True) -> SequenceTagger:
        """Learn the vocabularies, the baseline and the network; returns self.

        Without a validation set, `val_fraction` of the sentences (chosen at random) are held out
        for early stopping. The weights kept are those of the epoch with the best validation accuracy.
        """
        check_sentences(sentences, tags)
        c = self.config
        rng = np.random.default_rng(c.seed)
        self._fit_baseline(sentences, tags)  # on every sentence given: it has nothing to validate
        if val_sentences is None:
            if len(sentences) < 2:
                raise RnnlabError("sentences: need at least 2 sentences to hold some out for validation")
            order = rng.permutation(len(sentences))
            n_val = max(1, round(c.val_fraction * len(sentences)))
            train_idx, val_idx = order[n_val:], order[:n_val]
            val_sentences, val_tags = [sentences[i] for i in val_idx], [tags[i] for i in val_idx]
            sentences, tags = [sentences[i] for i in train_idx], [tags[i] for i in train_idx]
        else:
            check_sentences(val_sentences, val_tags, name="validation sentences")
        self._build_vocabularies(sentences, tags)
        net_config = TaggerNetConfig(len(self.words_), len(self.chars_), len(self.tags_), c.word_dim, c.char_dim,
                                     c.char_hidden, c.shape_dim, c.hidden_size, c.dropout)
        self.model_ = TaggerNet(net_config, seed=c.seed)
        optimizer = Adam(self.model_.parameters(), lr=c.lr)
        loss_fn = CrossEntropyLoss(ignore_index=-1)
        lengths = np.array([len(words) for words in sentences])
        epoch: list[np.ndarray] = []

        def step() -> tuple[float, int]:
            if not epoch:
                epoch.extend(self._batches(c.batch_size, lengths, rng))
            index = epoch.pop()
            batch = self._batch([sentences[i] for i in index], rng)
            targets = self._targets([tags[i] for i in index], batch["mask"].shape[0])
            loss = loss_fn(self.model_(batch), targets)
            self.model_.backward(loss_fn.backward())
            return loss, int(batch["mask"].sum())

        def validate() -> dict[str, float]:
            return {"val_acc": self._accuracy(val_sentences, val_tags)}

        best: dict = {}

        def keep_best(state, metrics: dict, improved: bool) -> None:
            if improved:
                best.update(self.model_.state_dict())
            elif state.evals_since_best % c.decay_patience == 0:  # on a plateau: smaller steps
                optimizer.lr *= c.lr_decay

        steps_per_epoch = -(-len(sentences) // c.batch_size)
        loop = LoopConfig(max_steps=c.max_epochs * steps_per_epoch, minutes=c.minutes, eval_every=steps_per_epoch,
                          clip_norm=c.clip_norm, monitor="val_acc", mode="max", patience=c.patience)
        if progress:
            print(c)
        state = train_loop(self.model_, optimizer, step, validate, loop, on_eval=keep_best,
                           log_path=None if log_path is None else Path(log_path), desc="tag", progress=progress)
        if best:
            self.model_.load_state_dict(best)
        self.model_.eval()
        self.history_ = state.history
        self.train_seconds_ = state.seconds
        self.best_val_accuracy_ = state.best
        return self

    def _fit_baseline(self, sentences: Sequence[Sequence[str]], tags: Sequence[Sequence[str]]) -> None:
        """Most frequent tag of each word form (as written); unseen words get the most frequent tag overall."""
        counts: dict[str, Counter] = {}
        for words, sentence_tags in zip(sentences, tags, strict=True):
            for word, tag in zip(words, sentence_tags, strict=True):
                counts.setdefault(word, Counter())[tag] += 1
        self.baseline_ = {word: counter.most_common(1)[0][0] for word, counter in counts.items()}
        self.default_tag_ = Counter(t for sentence_tags in tags for t in sentence_tags).most_common(1)[0][0]

    # ---- inference ----------------------------------------------------------------------------------------

    def _check_fitted(self) -> None:
        if not hasattr(self, "model_"):
            raise RnnlabError("this SequenceTagger is not fitted yet: call fit() or load() first")

    def _predict_ids(self, sentences: Sequence[Sequence[str]]) -> list[np.ndarray]:
        self.model_.eval()
        lengths = np.array([len(words) for words in sentences])
        out: list[np.ndarray] = [np.empty(0)] * len(sentences)
        for index in self._batches(256, lengths, None):  # big batches: inference has no gradient noise to keep
            logits = self.model_(self._batch([sentences[i] for i in index]))  # (T, B, K)
            best = logits.argmax(axis=2)  # (T, B)
            for b, i in enumerate(index):
                out[i] = best[: lengths[i], b]
        return out

    def _accuracy(self, sentences: Sequence[Sequence[str]], tags: Sequence[Sequence[str]]) -> float:
        predicted = np.concatenate(self._predict_ids(sentences))
        gold = np.array([self._tag_index.get(t, -1) for sentence_tags in tags for t in sentence_tags])
        return float((predicted == gold).mean())

    def predict(self, sentences: Sequence[Sequence[str]]) -> list[list[str]]:
        """Tags for each word of each sentence (lists of words; see `tokenize` for plain text)."""
        self._check_fitted()
        check_sentences(sentences)
        return [[self.tags_[i] for i in ids] for ids in self._predict_ids(sentences)]

    def predict_baseline(self, sentences: Sequence[Sequence[str]]) -> list[list[str]]:
        """The most-frequent-tag baseline's tags for each word of each sentence."""
        self._check_fitted()
        check_sentences(sentences)
        return [[self.baseline_.get(w, self.default_tag_) for w in words] for words in sentences]

    def evaluate(self, sentences: Sequence[Sequence[str]], tags: Sequence[Sequence[str]]) -> dict[str, float]:
        """Per-token accuracy of the model and of the baseline, overall and on out-of-vocabulary words.

        Returns accuracy, oov_accuracy, baseline_accuracy, baseline_oov_accuracy (fractions in [0, 1];
        the OOV ones are NaN when no word is OOV), tokens and oov_tokens (counts).
        """
        self._check_fitted()
        check_sentences(sentences, tags)
        gold = np.array([t for sentence_tags in tags for t in sentence_tags])
        model = np.array([t for sentence_tags in self.predict(sentences) for t in sentence_tags])
        baseline = np.array([t for sentence_tags in self.predict_baseline(sentences) for t in sentence_tags])
        oov = np.array([self._key(w) not in self._word_index for words in sentences for w in words])

        def share(hits: np.ndarray) -> float:
            return float(hits.mean()) if hits.size else float("nan")

        return {"accuracy": share(model == gold), "oov_accuracy": share((model == gold)[oov]),
                "baseline_accuracy": share(baseline == gold), "baseline_oov_accuracy": share((baseline == gold)[oov]),
                "tokens": int(gold.size), "oov_tokens": int(oov.sum())}

    # ---- persistence --------------------------------------------------------------------------------------

    def save(self, path: str | Path, info: dict | None = None) -> Path:
        """Write the run folder `path` (best.safetensors + best.json); returns the JSON path.

        `info` (JSON-able, e.g. the data file and tag column) is stored beside and comes back as `info_`.
        """
        self._check_fitted()
        meta = {"task": "tag", "info": info or {}, "config": asdict(self.config), "words": self.words_,
                "word_counts": [self.word_counts_.get(w, 0) for w in self.words_], "chars": self.chars_,
                "tags": self.tags_, "baseline": self.baseline_, "default_tag": self.default_tag_,
                "train_seconds": getattr(self, "train_seconds_", None),
                "best_val_accuracy": getattr(self, "best_val_accuracy_", None)}
        return save_checkpoint(path, "best", with_prefix(self.model_.state_dict(), "model"), meta)

    @classmethod
    def load(cls, path: str | Path) -> SequenceTagger:
        """A fitted tagger from a run folder (or its best.json) written by `save`."""
        arrays, meta = load_checkpoint(path)
        if meta.get("task") != "tag":
            raise RnnlabError(f"{path}: not a tagger checkpoint (task {meta.get('task')!r})")
        tagger = cls(TaggerConfig(**meta["config"]))
        tagger.words_, tagger.chars_, tagger.tags_ = meta["words"], meta["chars"], meta["tags"]
        tagger.word_counts_ = Counter(dict(zip(meta["words"], meta["word_counts"], strict=True)))
        tagger.baseline_, tagger.default_tag_, tagger.info_ = meta["baseline"], meta["default_tag"], meta["info"]
        tagger.train_seconds_, tagger.best_val_accuracy_ = meta.get("train_seconds"), meta.get("best_val_accuracy")
        tagger._index()
        c = tagger.config
        net_config = TaggerNetConfig(len(tagger.words_), len(tagger.chars_), len(tagger.tags_), c.word_dim,
                                     c.char_dim, c.char_hidden, c.shape_dim, c.hidden_size, c.dropout)
        tagger.model_ = TaggerNet(net_config)
        tagger.model_.load_state_dict(split_prefix(arrays, "model"))
        tagger.model_.eval()
        return tagger

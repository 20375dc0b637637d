"""Sequence tagging (part of speech): a word + character bi-LSTM tagger and a most-frequent-tag baseline.

    tagger = SequenceTagger(minutes=5).fit(sentences, tags)    # lists of words, lists of tags
    tagger.evaluate(test_sentences, test_tags)                 # accuracy, OOV accuracy, baseline beside them
    tagger.predict([tokenize("I eat apples")])                 # [['PRON', 'VERB', 'NOUN']]

Words are looked up lower-cased (`lowercase=True`); a word not seen in training maps to <unk>,
and training replaces a word seen c times by <unk> with probability a / (a + c) (word dropout,
a = `word_dropout`, Kiperwasser & Goldberg 2016) so the model learns to tag from the characters
and the context alone. A word is out of vocabulary (OOV) when its lower-cased form never occurred
in the training split. The network is in `tag_net.py`, the settings in `tag_config.py`; training
runs through `rnnlab.train`.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Self

import numpy as np

from rnnlab.backends import distributed
from rnnlab.checkpoint import split_prefix, with_prefix
from rnnlab.data import fingerprint
from rnnlab.data.batching import PAD, UNK, batches_by_length
from rnnlab.errors import RnnlabError
from rnnlab.nn import CrossEntropyLoss
from rnnlab.optim import Adam
from rnnlab.tasks.base import Task
from rnnlab.tasks.runs import RunFolder
from rnnlab.tasks.tag_config import TagConfig, check_sentences
from rnnlab.tasks.tag_net import TaggerNet, TaggerNetConfig, word_shape
from rnnlab.train import LoopConfig, LoopState
from rnnlab.trainer import Trainer

__all__ = ["SequenceTagger", "TagConfig", "check_sentences", "tokenize"]

_TOKEN = re.compile(r"\w+(?=n't\b)|n't\b|'(?:s|m|re|ve|ll|d)\b|\w+(?:[-.]\w+)*|\.\.\.|[^\w\s]", re.IGNORECASE)
Sentences = Sequence[Sequence[str]]


def tokenize(text: str) -> list[str]:
    """Split a plain sentence into words the way English treebanks do, with one small regex.

    Punctuation marks become words of their own ("..." stays whole), the clitics n't, 's, 'm,
    're, 've, 'll and 'd split off their host, and hyphens or dots between letters or digits
    stay inside a word ("e-mail", "3.5").

    >>> tokenize("I don't eat apples, it's 3.5 e-mails...")
    ['I', 'do', "n't", 'eat', 'apples', ',', 'it', "'s", '3.5', 'e-mails', '...']
    """
    return _TOKEN.findall(text)


class SequenceTagger(Task):
    """Tag every word of a sentence: word + character bi-LSTM, with a most-frequent-tag baseline beside it.

    Hyperparameters are the fields of `TagConfig`, given as keywords. Learned state: `words_` (word
    vocabulary, lower-cased if `lowercase`; ids 0 and 1 are <pad> and <unk>), `word_counts_`, `chars_`,
    `tags_`, `baseline_` (word -> its most frequent training tag), `default_tag_`, `model_`, `history_`
    (one dict per epoch: step, train_loss, lr, val_accuracy, seconds, tokens_per_s), `train_seconds_`,
    `best_val_accuracy_`, and `info_` (where the data came from, as given to `fit`).
    """

    name = "tag"
    batches_per_epoch = True  # (an epoch is cut into global batches of --batch-size x the processes)
    Config = TagConfig

    # ---- vocabularies and batches -------------------------------------------------------------------------
    def _key(self, word: str) -> str:
        return word.lower() if self.lowercase else word

    def _char_ids(self, word: str) -> list[int]:
        half = self.max_word_len // 2
        if len(word) > self.max_word_len:
            word = word[:half] + word[-half:]
        return [self._char_index.get(ch, UNK) for ch in word]

    def _build_vocabularies(self, sentences: Sentences, tags: Sentences) -> None:
        self.word_counts_ = Counter(self._key(w) for words in sentences for w in words)
        self.words_ = ["<pad>", "<unk>", *sorted(self.word_counts_)]
        self.chars_ = ["<pad>", "<unk>", *sorted({ch for words in sentences for w in words for ch in w})]
        self.tags_ = sorted({t for sentence_tags in tags for t in sentence_tags})

    def _index(self) -> None:
        self._word_index = {w: i for i, w in enumerate(self.words_)}
        self._char_index = {ch: i for i, ch in enumerate(self.chars_)}
        self._tag_index = {t: i for i, t in enumerate(self.tags_)}
        self._counts = np.array([self.word_counts_.get(w, 0) for w in self.words_], np.float64)  # (V,)

    def _batch(self, sentences: Sentences, rng: np.random.Generator | None = None) -> dict[str, np.ndarray]:
        """Time-major arrays for `TaggerNet`; with `rng`, training words become <unk> by word dropout."""
        T, B = max(len(words) for words in sentences), len(sentences)
        words, shapes, forms = (np.zeros((T, B), np.int64) for _ in range(3))  # (T, B) each
        mask = np.zeros((T, B), bool)
        form_rows: dict[str, int] = {}
        for b, sentence in enumerate(sentences):
            mask[: len(sentence), b] = True
            for t, word in enumerate(sentence):
                words[t, b] = self._word_index.get(self._key(word), UNK)
                shapes[t, b] = word_shape(word)
                forms[t, b] = form_rows.setdefault(word, len(form_rows))
        if rng is not None and self.word_dropout > 0:
            alpha = self.word_dropout
            drop = rng.random((T, B)) < alpha / (alpha + self._counts[words])
            words[drop & mask] = UNK
        char_lists = [self._char_ids(form) for form in form_rows]
        chars = np.full((len(char_lists), max(len(ids) for ids in char_lists)), PAD, np.int64)  # (N, L)
        for row, ids in enumerate(char_lists):
            chars[row, : len(ids)] = ids
        return {"words": words, "shapes": shapes, "forms": forms, "chars": chars, "char_mask": chars != PAD,
                "mask": mask}

    def _targets(self, tags: Sentences, T: int) -> np.ndarray:
        """(T, B) tag ids; -1 for padding and for tags never seen in training (they count as errors)."""
        targets = np.full((T, len(tags)), -1, np.int64)
        for b, sentence_tags in enumerate(tags):
            targets[: len(sentence_tags), b] = [self._tag_index.get(t, -1) for t in sentence_tags]
        return targets

    def _new_model(self, seed: int | None) -> TaggerNet:
        c = self.config
        sizes = TaggerNetConfig(len(self.words_), len(self.chars_), len(self.tags_), c.word_dim, c.char_dim,
                                c.char_hidden, c.shape_dim, c.hidden_size, c.dropout)
        return self._on_engine(TaggerNet(sizes, seed=seed))

    # ---- training -----------------------------------------------------------------------------------------
    def fit(self, sentences: Sentences, tags: Sentences, val_sentences: Sentences | None = None,
            val_tags: Sentences | None = None, *, run_dir: str | Path | RunFolder | None = None,
            progress: bool = True, info: dict[str, Any] | None = None) -> Self:
        """Learn the vocabularies, the baseline and the network; returns self.

        Without a validation set, `val_fraction` of the sentences (chosen at random) are held out
        for early stopping. After fit the model holds the weights of the epoch with the best
        validation accuracy. With `run_dir`, everything is checked before the folder is created;
        then every epoch writes a line of log.jsonl and the `latest` checkpoint (the whole training
        state), and `best` when validation accuracy improved. `info` (JSON-ready, e.g. the data
        files and tag column) is kept as `info_` and saved in the checkpoints. After `resume`, give
        the same data: training continues where the run stopped.
        """
        resumed, c = self._resumed_from, self.config
        check_sentences(sentences, tags)
        if (val_sentences is None) != (val_tags is None):
            raise RnnlabError("give both val_sentences and val_tags, or neither")
        if val_sentences is not None:
            check_sentences(val_sentences, val_tags, name="validation sentences")
        elif len(sentences) < 2:
            raise RnnlabError("sentences: need at least 2 sentences to hold some out for validation")
        digest = fingerprint(sentences, tags, val_sentences, val_tags)
        if resumed is not None:
            self._refuse_other_data(digest, resumed.meta["data_sha256"], resumed.meta["info"].get("data") or "lists")
        run, own = self._run_folder(run_dir)
        rng = np.random.default_rng(c.seed)
        if val_sentences is None:
            order = rng.permutation(len(sentences))
            n_val = max(1, round(c.val_fraction * len(sentences)))
            val_sentences, val_tags = [sentences[i] for i in order[:n_val]], [tags[i] for i in order[:n_val]]
            train_sentences, train_tags = [sentences[i] for i in order[n_val:]], [tags[i] for i in order[n_val:]]
        else:
            train_sentences, train_tags = list(sentences), list(tags)
        if resumed is None:
            self._fit_baseline(sentences, tags)  # on every sentence given: it has nothing to validate
            self._build_vocabularies(train_sentences, train_tags)
            self.info_, self.data_sha256_ = dict(info or {}), digest
            self._index()
            self.model_ = self._new_model(c.seed)
        with self._writing(run, own):
            self._train(train_sentences, train_tags, val_sentences, val_tags, rng, run, progress)
        return self

    def _train(self, sentences: list, tags: list, val_sentences: Sentences, val_tags: Sentences,
               rng: np.random.Generator, run: RunFolder | None, progress: bool) -> None:
        c = self.config
        optimizer = Adam(self.model_.parameters(), lr=c.lr)
        loss_fn = CrossEntropyLoss(ignore_index=-1)
        lengths = np.array([len(words) for words in sentences])
        queue: list[np.ndarray] = []  # the rest of this epoch's batches, taken from the end
        self._queue = queue
        self._trainer = trainer = Trainer(self.model_, optimizer, {"rng": rng,
                                                                   "dropout_rng": self.model_.dropout_generator})
        if self._resumed_from is None:  # (a checkpoint before the first evaluation holds these)
            self.history_, self.train_seconds_, self.best_val_accuracy_ = [], 0.0, None
        else:
            self._resume_batches(trainer, queue)

        def step() -> tuple[float, int]:
            if not queue:  # (under torchrun: the global batches, of batch_size on each process)
                queue.extend(batches_by_length(lengths, c.batch_size * distributed.world()[1], rng, pool_batches=20))
            index = queue.pop()
            batch = self._batch([sentences[i] for i in index], rng)
            targets = self._targets([tags[i] for i in index], batch["mask"].shape[0])
            columns, share = distributed.shard(np.arange(len(index)), (targets >= 0).sum(0))  # this process's part
            steps = int(batch["mask"][:, columns].sum(0).max())
            batch = batch | {key: batch[key][:steps, columns] for key in ("words", "shapes", "forms", "mask")}
            loss = loss_fn(self.model_(batch), targets[:steps, columns])
            self.model_.backward(loss_fn.backward() * share if share != 1 else loss_fn.backward())
            return loss, int(batch["mask"].sum())

        def validate() -> dict[str, float]:
            return {"val_accuracy": self._accuracy(val_sentences, val_tags)}

        def on_eval(state: LoopState, metrics: dict, improved: bool) -> None:
            plateau = not improved and metrics.get("scheduled", True)  # not an evaluation made as time ran out
            if plateau and state.evals_since_best % c.decay_patience == 0:  # on a plateau: smaller steps
                optimizer.lr *= c.lr_decay
            self.history_, self.train_seconds_, self.best_val_accuracy_ = state.history, state.seconds, state.best
            if run is not None:
                run.append_log(metrics)
                self._checkpoints(run, best=improved)  # (improved: the model holds its best weights now)

        steps_per_epoch = -(-len(sentences) // (c.batch_size * distributed.world()[1]))  # (global batches)
        loop = LoopConfig(max_steps=c.epochs * steps_per_epoch, minutes=c.minutes, eval_every=steps_per_epoch,
                          clip_norm=c.clip_norm, monitor="val_accuracy", mode="max", patience=c.patience,
                          log_gradients=c.log_gradients, on_nan=c.on_nan)
        state = trainer.train(step, validate, loop, on_eval, desc="tag", progress=progress,
                              on_gradients=None if run is None else self._gradients_to(run),
                              on_checkpoint=None if run is None else self._latest_to(run))
        self.history_, self.train_seconds_, self.best_val_accuracy_ = state.history, state.seconds, state.best

    def _training_state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        return self._batches_training_state()

    def _restore_training(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        self._require_training_state(meta)

    def _fit_baseline(self, sentences: Sentences, tags: Sentences) -> None:
        """Most frequent tag of each word form (as written); unseen words get the most frequent tag overall."""
        counts: dict[str, Counter] = {}
        for words, sentence_tags in zip(sentences, tags, strict=True):
            for word, tag in zip(words, sentence_tags, strict=True):
                counts.setdefault(word, Counter())[tag] += 1
        self.baseline_ = {word: counter.most_common(1)[0][0] for word, counter in counts.items()}
        self.default_tag_ = Counter(t for sentence_tags in tags for t in sentence_tags).most_common(1)[0][0]

    # ---- inference ----------------------------------------------------------------------------------------
    def _predict_ids(self, sentences: Sentences) -> list[np.ndarray]:
        self.model_.eval()
        lengths = np.array([len(words) for words in sentences])
        out: list[np.ndarray] = [np.empty(0)] * len(sentences)
        for index in batches_by_length(lengths, 256, None):  # big batches: inference has no gradient noise to keep
            logits = self.model_(self._batch([sentences[i] for i in index]))  # (T, B, K)
            best = logits.argmax(axis=2)  # (T, B)
            for b, i in enumerate(index):
                out[i] = best[: lengths[i], b]
        return out

    def _accuracy(self, sentences: Sentences, tags: Sentences) -> float:
        predicted = np.concatenate(self._predict_ids(sentences))
        gold = np.array([self._tag_index.get(t, -1) for sentence_tags in tags for t in sentence_tags])
        return float((predicted == gold).mean())

    def predict(self, sentences: Sentences) -> list[list[str]]:
        """Tags for each word of each sentence (lists of words; see `tokenize` for plain text)."""
        self._check_fitted()
        check_sentences(sentences)
        return [[self.tags_[i] for i in ids] for ids in self._predict_ids(sentences)]

    def predict_baseline(self, sentences: Sentences) -> list[list[str]]:
        """The most-frequent-tag baseline's tags for each word of each sentence."""
        self._check_fitted()
        check_sentences(sentences)
        return [[self.baseline_.get(w, self.default_tag_) for w in words] for words in sentences]

    def evaluate(self, sentences: Sentences, tags: Sentences) -> dict[str, Any]:
        """Per-token accuracy of the model and of the baseline, overall and on out-of-vocabulary words.

        Returns {"tokens", "oov_tokens" (counts), "accuracy", "oov_accuracy" (fractions in [0, 1]; the
        OOV one is NaN when no word is OOV), "baselines": {"most_frequent_tag": {"accuracy", "oov_accuracy"}}}.
        """
        self._check_fitted()
        check_sentences(sentences, tags)
        gold = np.array([t for sentence_tags in tags for t in sentence_tags])
        model = np.array([t for sentence_tags in self.predict(sentences) for t in sentence_tags])
        baseline = np.array([t for sentence_tags in self.predict_baseline(sentences) for t in sentence_tags])
        oov = np.array([self._key(w) not in self._word_index for words in sentences for w in words])

        def shares(predicted: np.ndarray) -> dict[str, float]:
            hits = predicted == gold
            return {"accuracy": float(hits.mean()),
                    "oov_accuracy": float(hits[oov].mean()) if oov.any() else float("nan")}

        return {"tokens": int(gold.size), "oov_tokens": int(oov.sum()), **shares(model),
                "baselines": {"most_frequent_tag": shares(baseline)}}

    def score(self, sentences: Sentences, tags: Sentences) -> float:
        """Per-token accuracy (the main figure; higher is better)."""
        return self.evaluate(sentences, tags)["accuracy"]

    # ---- persistence --------------------------------------------------------------------------------------
    def _state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        meta = {"info": self.info_, "data_sha256": self.data_sha256_, "words": self.words_,
                "word_counts": [self.word_counts_.get(w, 0) for w in self.words_], "chars": self.chars_,
                "tags": self.tags_, "baseline": self.baseline_, "default_tag": self.default_tag_,
                "history": self.history_, "train_seconds": self.train_seconds_,
                "best_val_accuracy": self.best_val_accuracy_}
        return with_prefix(self.model_.state_dict(), "model"), meta

    def _restore(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        self.words_, self.chars_, self.tags_ = meta["words"], meta["chars"], meta["tags"]
        self.word_counts_ = Counter(dict(zip(meta["words"], meta["word_counts"], strict=True)))
        self.baseline_, self.default_tag_ = meta["baseline"], meta["default_tag"]
        self.info_, self.data_sha256_ = meta["info"], meta["data_sha256"]
        self.history_, self.train_seconds_ = meta["history"], meta["train_seconds"]
        self.best_val_accuracy_ = meta["best_val_accuracy"]
        self._index()
        self.model_ = self._new_model(None)
        self.model_.load_state_dict(split_prefix(arrays, "model"))
        self.model_.eval()


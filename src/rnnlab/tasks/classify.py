"""Sequence classification: one label for a whole sequence of characters or of numeric vectors.

    text    "Dostoevsky" -> ids (T,) --Embedding--> (T, E) --\
                                                              RNN (bi) -> (T, D*H) -pool-> (D*H,) -Linear-> (C,)
    series  (T, F) --z-normalise, PAA, standardise (training statistics)--/

Batches are padded to their longest member and carry a (B, T) mask; the recurrent layer carries
its state across padded steps and pooling reads valid steps only, so a sequence's prediction does
not depend on how much padding its batch has or on which side it sits. The network and the
training of one network are in `rnnlab.tasks.classify_net`, the settings in `classify_config`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Self

import numpy as np

from rnnlab.backends import distributed
from rnnlab.checkpoint import split_prefix, with_prefix
from rnnlab.data import fingerprint
from rnnlab.data.batching import UNK, batches_by_length
from rnnlab.data.datasets import as_series, stratified_split
from rnnlab.data.scalers import StandardScaler
from rnnlab.data.series import paa, znormalize
from rnnlab.data.text import CharVocab
from rnnlab.errors import RnnlabError, invalid_argument
from rnnlab.metrics.classification import accuracy, confusion_matrix, macro_f1, precision_recall_f1
from rnnlab.nn import CrossEntropyLoss, softmax
from rnnlab.tasks.base import Task
from rnnlab.tasks.classify_config import ClassifyConfig
from rnnlab.tasks.classify_net import ClassifierNet, new_trainer, pack_queue, pad_batch, unpack_queue
from rnnlab.tasks.runs import RunFolder
from rnnlab.train import LoopConfig
from rnnlab.trainer import Trainer

FIRST_CHAR_ID = UNK + 1  # character ids start after the reserved PAD and UNK


class SequenceClassifier(Task):
    """Classify whole sequences: strings (characters through an embedding) or numeric series (T, F).

    For scikit-learn, X is a list of N strings, or numeric series: an array (N, T) / (N, T, F) or a
    list of (T_i, F) arrays; y holds N labels; `score` is the accuracy.

    >>> clf = SequenceClassifier(hidden_size=8, epochs=2, val_fraction=0)
    >>> clf = clf.fit(["ab", "ba", "abab", "bbb", "aaa", "aab"], ["x", "y", "x", "y", "x", "x"], progress=False)
    >>> clf.predict_proba(["ab", "b"]).shape, clf.classes_.tolist()
    ((2, 2), ['x', 'y'])

    Learned state: `kind_` ("text" or "numeric"), `settings_` (the settings with the defaults for the kind of
    input filled in), `classes_`, `vocab_` (text) or `n_features_` and
    `scaler_` (series), `nets_`, `history_` (one dict per evaluation; with "member" in an ensemble),
    `best_step_` (one per net), `train_seconds_`.
    """

    name = "classify"
    batches_per_epoch = True  # (an epoch is cut into global batches of --batch-size x the processes)
    Config = ClassifyConfig
    _estimator_type = "classifier"

    # ---- inputs -------------------------------------------------------------------------------------------
    def _learn_inputs(self, X) -> int:
        """Vocabulary (text) or scaler (series) from the training split; returns the net's input size."""
        if self.kind_ == "text":
            self.vocab_ = CharVocab(set("".join(X)) or {" "})
            return self._index_vocab()
        series = self._prepare(as_series(X))
        self.n_features_ = series[0].shape[1]
        self.scaler_ = StandardScaler().fit(np.concatenate(series))  # training split only
        return self.n_features_

    def _prepare(self, series: list[np.ndarray]) -> list[np.ndarray]:
        """Each series on its own: z-normalised (`znorm`; none: if univariate), then averaged down to `paa` steps."""
        c = self.config
        if c.znorm or (c.znorm is None and series[0].shape[1] == 1):
            series = [znormalize(s) for s in series]
        return series if c.paa is None else [paa(s, c.paa) for s in series]

    def _index_vocab(self) -> int:
        self._char_index = {c: i + FIRST_CHAR_ID for i, c in enumerate(self.vocab_.chars)}
        return len(self.vocab_) + FIRST_CHAR_ID

    def _encode(self, X) -> list[np.ndarray]:
        """Raw inputs -> model inputs: id arrays (T,) for text, prepared and standardised float32 (T', F) for series."""
        if self.kind_ == "text":
            if isinstance(X, str) or not all(isinstance(x, str) for x in X):
                raise RnnlabError("this classifier was trained on text: expected a list of strings")
            index = self._char_index
            return [np.array([index.get(c, UNK) for c in x] or [UNK], dtype=np.int64) for x in X]
        series = as_series(X)
        if series[0].shape[1] != self.n_features_:
            raise RnnlabError(f"expected series with {self.n_features_} features per step, got {series[0].shape[1]}")
        return [self.scaler_.transform(s).astype(np.float32) for s in self._prepare(series)]

    def _targets(self, y) -> np.ndarray:
        """Labels (N,) -> class ids (N,) int64, refusing labels not seen in training."""
        y = np.asarray(y)
        ids = np.searchsorted(self.classes_, y)
        known = (ids < len(self.classes_)) & (self.classes_[np.minimum(ids, len(self.classes_) - 1)] == y)
        if not known.all():
            raise RnnlabError(f"label {y[~known][0]!r} is not one of the classes seen in training")
        return ids

    def unknown_characters(self, texts: list[str]) -> list[str]:
        """Characters of `texts` not seen in training (they are read as <unk>), in order of first appearance."""
        self._check_fitted()
        if self.kind_ != "text":
            return []
        return list(dict.fromkeys(c for text in texts for c in text if c not in self._char_index))

    # ---- training -----------------------------------------------------------------------------------------
    def fit(self, X, y, X_val=None, y_val=None, *, run_dir: str | Path | RunFolder | None = None,
            progress: bool = True, source: dict | None = None) -> Self:
        """Learn from N sequences `X` (strings, or series (T_i, F) / an array (N, T[, F])) and labels `y` (N,).

        Without `X_val`, a stratified `val_fraction` of `X` is held out for early stopping. With
        `run_dir`, everything is checked before the folder is created; then log.jsonl gets a line per
        epoch and the `best` / `latest` checkpoints are written (every epoch for one net, at the end
        for an ensemble). `source` (JSON-ready: how the data was read) is kept in the checkpoints so
        the command line can read the same data again on resume.
        """
        resumed = self._resumed_from
        y = np.asarray(y)
        if y.ndim != 1 or len(y) != len(X) or len(y) == 0:
            raise RnnlabError(f"expected one label per sequence, got {len(y)} labels for {len(X)} sequences")
        digest = fingerprint(X, y, X_val, y_val)
        if resumed is not None:
            saved = resumed.meta["data"]
            self._refuse_other_data(digest, saved["sha256"], (saved.get("source") or {}).get("data") or "arrays")
        self.kind_ = "text" if all(isinstance(x, str) for x in X) else "numeric"
        c = self.config.for_kind(self.kind_)
        if X_val is None and c.val_fraction > 0:
            kept, held = stratified_split(y, c.val_fraction, c.seed)
            X_val, y_val = [X[i] for i in held], y[held]
            X, y = [X[i] for i in kept], y[kept]
        self.settings_ = c = self.config.for_kind(self.kind_, len(y))  # what this fit runs with
        self.classes_ = np.unique(y)
        num_inputs = self._learn_inputs(X)
        encoded, targets = self._encode(X), self._targets(y)
        validation = (self._encode(X_val), self._targets(y_val)) if X_val is not None and len(X_val) else None
        self.data_ = {"sha256": digest, "source": source if resumed is None else resumed.meta["data"]["source"]}
        self.nets_ = [self._on_engine(ClassifierNet(num_inputs, len(self.classes_), c, self.kind_ == "text",
                                                    seed=c.seed + k), seed=c.seed + k)
                      for k in range(c.ensemble)]
        run, own = self._run_folder(run_dir)
        with self._writing(run, own):
            self._train(encoded, targets, validation, run, progress)
        return self

    def _train(self, encoded: list[np.ndarray], targets: np.ndarray, validation, run: RunFolder | None,
               progress: bool) -> None:
        """Train each net of the ensemble in turn (seeds seed, seed + 1, ...); checkpoints into `run`."""
        c, each_epoch = self.settings_, run is not None and resumable(self.config)
        steps_per_epoch = -(-len(encoded) // (c.batch_size * distributed.world()[1]))  # (global batches)
        loss_fn = CrossEntropyLoss(weight=self._class_weights(targets))
        lengths = np.array([len(e) for e in encoded])
        self.history_, self.best_step_, self.train_seconds_ = [], [], 0.0
        trainers: list[Trainer] = []
        for k, net in enumerate(self.nets_):
            trainer = self._trainer = new_trainer(net, c, steps_per_epoch, c.seed + k)
            self._queue: list[np.ndarray] = []  # the batches left in this epoch, taken from the end
            before = list(self.history_)  # the loop state of a resumed net holds its own history
            if self._resumed_from is not None:
                arrays, meta = self._resumed_from.arrays, self._resumed_from.meta
                trainer.restore(arrays, meta["training"])
                self._queue = unpack_queue(split_prefix(arrays, "queue"))

            def step_fn(net: ClassifierNet = net, batches: np.random.Generator = trainer.generators["batches"]):
                if not self._queue:  # (under torchrun: the global batches, of batch_size on each process)
                    self._queue.extend(batches_by_length(lengths, c.batch_size * distributed.world()[1], batches))
                batch = self._queue.pop()
                x, mask = pad_batch([encoded[i] for i in batch], net.text)
                if net.text and c.char_dropout > 0:
                    x = np.where(mask & (batches.random(x.shape) < c.char_dropout), UNK, x)  # (B, T)
                weights = None if loss_fn.weight is None else loss_fn.weight[targets[batch]]
                rows, share = distributed.shard(np.arange(len(batch)), weights)  # this process's part
                steps = int(mask[rows].sum(1).max())
                x, mask = x[rows, :steps], mask[rows, :steps]
                loss = loss_fn(net(x, mask), targets[batch[rows]])
                net.backward(loss_fn.backward() * share if share != 1 else loss_fn.backward())
                return loss, int(mask.sum())

            def label(metrics: dict, k: int = k) -> dict:
                return metrics if c.ensemble == 1 else {"member": k, **metrics}

            def on_eval(state, metrics, improved, trainer=trainer, before=before, label=label) -> None:
                self.history_ = before + [label(m) for m in state.history]
                self.best_step_ = [t.state.best_step for t in trainers] + [state.best_step]
                self.train_seconds_ = sum(t.state.seconds for t in trainers) + state.seconds
                if run is not None:
                    run.append_log(label(metrics))
                if each_epoch:
                    self._checkpoints(run, best=improved)  # (improved: the net holds its best weights now)

            def evaluate(net: ClassifierNet = net) -> dict[str, float]:
                return {} if validation is None else self._validation_scores(net, *validation)

            patience = c.patience if validation is not None else None
            loop = LoopConfig(max_steps=steps_per_epoch * c.epochs, minutes=c.minutes, eval_every=steps_per_epoch,
                              clip_norm=c.clip_norm, monitor=c.monitor,
                              mode="min" if c.monitor == "val_loss" else "max", patience=patience,
                              log_gradients=c.log_gradients, on_nan=c.on_nan)

            def on_gradients(row: dict, label=label) -> None:
                run.append_jsonl("gradients.jsonl", label(row))

            trainer.train(step_fn, evaluate, loop, on_eval, keep_best=validation is not None, progress=progress,
                          on_gradients=None if run is None else on_gradients,
                          on_checkpoint=self._latest_to(run) if each_epoch else None,
                          desc="classify" if c.ensemble == 1 else f"classify {k + 1}/{c.ensemble}")
            self.history_ = before + [label(m) for m in trainer.state.history]
            trainers.append(trainer)
        self.best_step_ = [t.state.best_step for t in trainers]
        self.train_seconds_ = sum(t.state.seconds for t in trainers)
        if run is not None:  # (one net: its `latest`, with the training state, was written at its last epoch)
            self.save(run.path, "best")
            if not each_epoch:
                self.save(run.path, "latest")
            run.committed()

    def _class_weights(self, targets: np.ndarray) -> np.ndarray | None:
        """(C,) float32 loss weights: N / (C * n_c) for "balanced", their square roots for "sqrt"."""
        if self.config.class_weight is None:
            return None
        counts = np.bincount(targets, minlength=len(self.classes_))
        weight = len(targets) / (len(counts) * np.maximum(counts, 1))  # (C,)
        return (np.sqrt(weight) if self.config.class_weight == "sqrt" else weight).astype(np.float32)

    def _validation_scores(self, net: ClassifierNet, encoded: list[np.ndarray], true: np.ndarray) -> dict[str, float]:
        probabilities = self._probabilities(encoded, [net])  # (N, C)
        predicted = probabilities.argmax(axis=1)
        loss = float(-np.mean(np.log(np.maximum(probabilities[np.arange(len(true)), true], 1e-12))))
        scores = classification_scores(true, predicted, len(self.classes_))
        return {"val_loss": loss, "val_accuracy": scores["accuracy"], "val_macro_f1": scores["macro_f1"]}

    # ---- prediction ---------------------------------------------------------------------------------------
    def _probabilities(self, encoded: list[np.ndarray], nets: list[ClassifierNet] | None = None,
                       batch_size: int = 256) -> np.ndarray:
        """Class probabilities (N, C) float64, the mean over `nets` (default all); results in input order."""
        nets = self.nets_ if nets is None else nets
        order = np.argsort([len(e) for e in encoded], kind="stable")  # batches of similar lengths
        out = np.zeros((len(encoded), len(self.classes_)))
        for net in nets:
            net.eval()
            for start in range(0, len(order), batch_size):
                chunk = order[start:start + batch_size]
                x, mask = pad_batch([encoded[i] for i in chunk], self.kind_ == "text")
                out[chunk] += softmax(net(x, mask).astype(np.float64))
        return out / len(nets)

    def predict_proba(self, X) -> np.ndarray:
        """Probabilities (N, C) over `classes_` for N sequences."""
        self._check_fitted()
        return self._probabilities(self._encode(X))

    def predict(self, X) -> np.ndarray:
        """The most probable class of each of N sequences: (N,) drawn from `classes_`."""
        probabilities = self.predict_proba(X)  # (N, C)
        return self.classes_[probabilities.argmax(axis=1)]

    def top_k(self, X, k: int = 3) -> list[list[tuple[str, float]]]:
        """For each sequence, the k most probable (class, probability) pairs, best first."""
        if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
            raise invalid_argument("k", "a positive integer", k)
        probabilities = self.predict_proba(X)
        best = np.argsort(-probabilities, axis=1, kind="stable")[:, :k]
        return [[(str(self.classes_[c]), float(p[c])) for c in row] for p, row in zip(probabilities, best, strict=True)]

    def evaluate(self, X, y) -> dict[str, Any]:
        """n, accuracy, macro_f1, classes, per-class precision / recall / f1 / support, confusion (rows true).

        macro_f1 follows scikit-learn's `f1_score(average="macro")`: the mean F1 over the classes that
        occur in the labels or the predictions, so classes absent from an evaluation set do not count.
        """
        self._check_fitted()
        true = self._targets(y)
        predicted = self.predict_proba(X).argmax(axis=1)
        scores = classification_scores(true, predicted, len(self.classes_))
        return {"n": len(true), "accuracy": scores.pop("accuracy"), "macro_f1": scores.pop("macro_f1"),
                "classes": [str(c) for c in self.classes_], **scores}

    def score(self, X, y) -> float:
        """The accuracy on (X, y): scikit-learn's score for classifiers."""
        return self.evaluate(X, y)["accuracy"]

    # ---- checkpoints --------------------------------------------------------------------------------------
    def _restore_training(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        """Only a single net can be resumed (its trainer takes the state back in `fit`).

        The cosine schedule then spans the new number of epochs: step s of the continued run gets
        lr_min + (lr - lr_min) (1 + cos(pi s / S)) / 2 with S the new total of steps, as if the run
        had been started with that budget.
        """
        if not resumable(self.config) or "training" not in meta:
            raise RnnlabError(f"{self._resumed_from.folder}: a classify run of an ensemble ({self.ensemble} nets) "
                              f"cannot be resumed; train it again with the budget you want")

    @property
    def data_source_(self) -> dict | None:
        """How the training data was read (the `source` given to `fit`), None if not given."""
        return self.data_.get("source")

    def _training_state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """The net's trainer's state (best weights as `model.*`) and the batches left in the epoch (`queue.*`)."""
        return (self._trainer.arrays() | with_prefix(pack_queue(self._queue), "queue"),
                {"training": self._trainer.meta()})

    def _state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        arrays = {}
        for k, net in enumerate(self.nets_):  # "model.*" for the first net, "model1.*", ... for the others
            arrays |= with_prefix(net.state_dict(), f"model{k or ''}")
        meta = {"kind": self.kind_, "classes": self.classes_.tolist(), "best_step": self.best_step_,
                "train_seconds": round(self.train_seconds_, 2), "history": self.history_, "data": self.data_}
        if self.kind_ == "text":
            meta["vocab"] = self.vocab_.to_json()
        else:
            meta |= {"n_features": self.n_features_, "scaler": self.scaler_.to_json()}
        return arrays, meta

    def _restore(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        self.kind_, self.classes_ = meta["kind"], np.array(meta["classes"])
        self.settings_ = c = self.config.for_kind(self.kind_)
        self.best_step_, self.train_seconds_ = meta.get("best_step"), meta.get("train_seconds", 0.0)
        self.history_, self.data_ = meta.get("history", []), meta.get("data", {})
        if self.kind_ == "text":
            self.vocab_ = CharVocab.from_json(meta["vocab"])
            num_inputs = self._index_vocab()
        else:
            self.n_features_ = num_inputs = meta["n_features"]
            self.scaler_ = StandardScaler.from_json(meta["scaler"])
        self.nets_ = []
        for k in range(c.ensemble):
            net = self._on_engine(ClassifierNet(num_inputs, len(self.classes_), c, self.kind_ == "text"))
            net.load_state_dict(split_prefix(arrays, f"model{k or ''}"))
            self.nets_.append(net.eval())


def resumable(config: ClassifyConfig) -> bool:
    """Whether a run of these settings can be resumed: one net (an ensemble trains its nets one after another)."""
    return config.ensemble == 1


def classification_scores(true: np.ndarray, predicted: np.ndarray, n_classes: int) -> dict[str, Any]:
    """accuracy, macro_f1 (scikit-learn's: over the classes present in `true` or `predicted`), per-class lists.

    `true`, `predicted`: (N,) class ids in [0, n_classes).

    >>> scores = classification_scores(np.array([0, 0, 1]), np.array([0, 1, 1]), n_classes=3)
    >>> round(scores["macro_f1"], 4), scores["f1"][2]  # class 2 occurs nowhere: left out of the mean
    (0.6667, 0.0)
    """
    precision, recall, f1, support = precision_recall_f1(true, predicted, n_classes)
    return {"accuracy": accuracy(true, predicted), "macro_f1": macro_f1(true, predicted, n_classes),
            "precision": precision.tolist(), "recall": recall.tolist(), "f1": f1.tolist(),
            "support": support.tolist(), "confusion": confusion_matrix(true, predicted, n_classes).tolist()}


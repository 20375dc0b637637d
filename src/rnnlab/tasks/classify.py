"""Sequence classification: one label for a whole sequence of characters or of numeric vectors.

    text    "Dostoevsky" -> ids (T,) --Embedding--> (T, E) --\
                                                              RNN (bi) -> (T, D*H) -pool-> (D*H,) -Linear-> (C,)
    series  (T, F) --standardise (training statistics)----/

Batches are padded to their longest member and carry a (B, T) mask; the recurrent layer carries
its state across padded steps and pooling reads valid steps only ('last': the final state of each
direction, 'mean' / 'max' over valid steps), so a sequence's prediction does not depend on how much
padding its batch has or on which side it sits.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Self

import numpy as np

from rnnlab.checkpoint import load_checkpoint, save_checkpoint, split_prefix, with_prefix
from rnnlab.clf_metrics import accuracy, confusion_matrix, macro_f1, precision_recall_f1
from rnnlab.data.batching import pad_sequences
from rnnlab.data.scalers import StandardScaler
from rnnlab.data.text import CharVocab
from rnnlab.errors import RnnlabError, invalid_argument
from rnnlab.nn import CrossEntropyLoss, Dropout, Embedding, Linear, Module, softmax
from rnnlab.nn.models import CELLS, build_recurrent
from rnnlab.optim import Adam, CosineAnnealingLR
from rnnlab.tasks.classify_data import as_series, stratified_split
from rnnlab.train import LoopConfig, train_loop

POOLINGS = ("last", "mean", "max")
PAD, UNK = 0, 1  # reserved character ids; real characters start at 2


@dataclass(frozen=True)
class ClassifierConfig:
    """Hyperparameters of a `SequenceClassifier`; printed at the start of a run, saved in the checkpoint."""

    cell: str = "gru"
    hidden_size: int = 128
    num_layers: int = 1
    bidirectional: bool = True
    embedding_dim: int = 32  # text only: numeric series go in as their standardised features
    pooling: str = "max"
    dropout: float = 0.2  # before the head, and between recurrent layers
    char_dropout: float = 0.0  # text only: while training, each character is read as <unk> with this probability
    lr: float = 3e-3  # Adam, cosine-annealed to lr * lr_min_factor over the epochs
    lr_min_factor: float = 0.05
    batch_size: int = 64
    epochs: int = 30
    patience: int | None = 6  # epochs without a better validation score before stopping
    validation_fraction: float = 0.1  # stratified; 0 trains all epochs and keeps the last weights
    monitor: str = "val_loss"  # or "val_accuracy", "val_macro_f1"
    class_weight: str | None = None  # None, "balanced" (weights N / (C * n_c) in the loss) or "sqrt" (their root)
    clip_norm: float | None = 5.0
    minutes: float | None = None  # training time limit for each member of the ensemble
    ensemble: int = 1  # nets trained with seeds seed, seed + 1, ...; their probabilities are averaged
    seed: int = 0

    def __post_init__(self) -> None:
        if self.cell not in CELLS:
            raise invalid_argument("cell", f"one of {', '.join(CELLS)}", self.cell)
        if self.pooling not in POOLINGS:
            raise invalid_argument("pooling", f"one of {', '.join(POOLINGS)}", self.pooling)
        for name in ("hidden_size", "num_layers", "embedding_dim", "batch_size", "epochs", "ensemble"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise invalid_argument(name, "a positive integer", value)
        for name in ("dropout", "char_dropout"):
            if not 0 <= getattr(self, name) < 1:
                raise invalid_argument(name, "a number in [0, 1)", getattr(self, name))
        if not self.lr > 0 or not 0 < self.lr_min_factor <= 1:
            raise invalid_argument("lr", "a positive number (and lr_min_factor in (0, 1])", self.lr)
        if not 0 <= self.validation_fraction < 1:
            raise invalid_argument("validation_fraction", "a number in [0, 1)", self.validation_fraction)
        if self.monitor not in ("val_loss", "val_accuracy", "val_macro_f1"):
            raise invalid_argument("monitor", "'val_loss', 'val_accuracy' or 'val_macro_f1'", self.monitor)
        if self.class_weight not in (None, "balanced", "sqrt"):
            raise invalid_argument("class_weight", "None, 'balanced' or 'sqrt'", self.class_weight)
        if self.patience is not None and self.patience < 1:
            raise invalid_argument("patience", "a positive integer or None", self.patience)


class ClassifierNet(Module):
    """(Embedding) -> RNN/LSTM/GRU (optionally bidirectional) -> pooling over valid steps -> Dropout -> Linear.

    >>> net = ClassifierNet(num_inputs=30, num_classes=5, config=ClassifierConfig(hidden_size=8), text=True, seed=0)
    >>> ids, mask = pad_sequences([[2, 3, 4], [5, 6]])
    >>> net(ids, mask).shape
    (2, 5)
    """

    def __init__(self, num_inputs: int, num_classes: int, config: ClassifierConfig, text: bool,
                 seed: int | None = None, dtype: type = np.float32) -> None:
        super().__init__()
        rng = np.random.default_rng(seed)
        self.text, self.pooling, self.dtype = text, config.pooling, np.dtype(dtype)
        if text:
            self.embedding = Embedding(num_inputs, config.embedding_dim, padding_idx=PAD, dtype=dtype, seed=rng)
        input_size = config.embedding_dim if text else num_inputs
        self.rnn = build_recurrent(config.cell, input_size, config.hidden_size, num_layers=config.num_layers,
                                   dropout=config.dropout if config.num_layers > 1 else 0.0,
                                   bidirectional=config.bidirectional, dtype=dtype, seed=rng)
        self.num_directions = 2 if config.bidirectional else 1
        self.drop = Dropout(config.dropout, seed=rng)
        self.head = Linear(config.hidden_size * self.num_directions, num_classes, dtype=dtype, seed=rng)

    def forward(self, x: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """x: ids (B, T) or features (B, T, F); mask (B, T) bool, True at real steps. Returns logits (B, C)."""
        if self.text:
            inputs = self.embedding(np.ascontiguousarray(x.T))  # (T, B, E)
        else:
            inputs = np.ascontiguousarray(x.transpose(1, 0, 2), dtype=self.dtype)  # (T, B, F)
        step_mask = np.ascontiguousarray(mask.T)  # (T, B)
        output, h_n = self.rnn(inputs, mask=step_mask)  # (T, B, D*H)
        if isinstance(h_n, tuple):  # LSTM: (h_n, c_n)
            h_n = h_n[0]
        valid = step_mask[:, :, None]  # (T, B, 1)
        if self.pooling == "last":
            pooled = np.concatenate(list(h_n[-self.num_directions:]), axis=1)  # (B, D*H)
        elif self.pooling == "mean":
            pooled = (output * valid).sum(axis=0) / valid.sum(axis=0)  # (B, D*H)
        else:
            scores = np.where(valid, output, -np.inf)  # (T, B, D*H)
            self._argmax = scores.argmax(axis=0)  # (B, D*H) step of each maximum
            pooled = np.take_along_axis(output, self._argmax[None], axis=0)[0]
        self._shapes = (output.shape, h_n.shape, valid)
        return self.head(self.drop(pooled.astype(self.dtype)))

    def backward(self, d_logits: np.ndarray) -> None:
        """d_logits (B, C) -> parameter gradients, added into each `.grad`."""
        d_pooled = self.drop.backward(self.head.backward(d_logits.astype(self.dtype)))  # (B, D*H)
        output_shape, h_n_shape, valid = self._shapes
        d_output = np.zeros(output_shape, self.dtype)  # (T, B, D*H)
        d_h_n = None
        if self.pooling == "last":
            d_h_n = np.zeros(h_n_shape, self.dtype)  # (L*D, B, H)
            hidden = h_n_shape[2]
            for direction in range(self.num_directions):
                top_layer_index = len(d_h_n) - self.num_directions + direction
                d_h_n[top_layer_index] = d_pooled[:, direction * hidden:(direction + 1) * hidden]
        elif self.pooling == "mean":
            d_output[...] = valid * (d_pooled / valid.sum(axis=0))[None]
        else:
            np.put_along_axis(d_output, self._argmax[None], d_pooled[None], axis=0)
        d_inputs = self.rnn.backward(d_output, d_h_n)
        if self.text:
            self.embedding.backward(d_inputs)


def _length_batches(lengths: np.ndarray, batch_size: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Shuffled batches of indices, each drawn from a pool of similar lengths so little is padding."""
    order = rng.permutation(len(lengths))
    pool = batch_size * 50
    batches = []
    for start in range(0, len(order), pool):
        chunk = order[start:start + pool]
        chunk = chunk[np.argsort(lengths[chunk], kind="stable")]
        batches.extend(chunk[i:i + batch_size] for i in range(0, len(chunk), batch_size))
    return [batches[i] for i in rng.permutation(len(batches))]


class SequenceClassifier:
    """Classify whole sequences: strings (characters through an embedding) or numeric series (T, F).

    >>> clf = SequenceClassifier(hidden_size=8, epochs=2, validation_fraction=0, progress=False)
    >>> clf = clf.fit(["ab", "ba", "abab", "bbb", "aaa", "aab"], ["x", "y", "x", "y", "x", "x"])
    >>> clf.predict_proba(["ab", "b"]).shape, clf.classes_.tolist()
    ((2, 2), ['x', 'y'])
    """

    def __init__(self, cell: str = "gru", hidden_size: int = 128, num_layers: int = 1, bidirectional: bool = True,
                 embedding_dim: int = 32, pooling: str = "max", dropout: float = 0.2, char_dropout: float = 0.0,
                 lr: float = 3e-3,
                 lr_min_factor: float = 0.05, batch_size: int = 64, epochs: int = 30, patience: int | None = 6,
                 validation_fraction: float = 0.1, monitor: str = "val_loss", class_weight: str | None = None,
                 clip_norm: float | None = 5.0, minutes: float | None = None, ensemble: int = 1, seed: int = 0,
                 progress: bool = True) -> None:
        self.cell, self.hidden_size, self.num_layers, self.bidirectional = cell, hidden_size, num_layers, bidirectional
        self.embedding_dim, self.pooling, self.dropout, self.lr = embedding_dim, pooling, dropout, lr
        self.char_dropout = char_dropout
        self.lr_min_factor, self.batch_size, self.epochs, self.patience = lr_min_factor, batch_size, epochs, patience
        self.validation_fraction, self.monitor, self.class_weight = validation_fraction, monitor, class_weight
        self.clip_norm, self.minutes, self.ensemble, self.seed = clip_norm, minutes, ensemble, seed
        self.progress = progress
        self.config = self._config()  # checks every hyperparameter now, where it enters

    def _config(self) -> ClassifierConfig:
        return ClassifierConfig(**{f.name: getattr(self, f.name) for f in fields(ClassifierConfig)})

    # ---- inputs -------------------------------------------------------------------------------------------
    def _encode(self, X) -> list[np.ndarray]:
        """Raw inputs -> model inputs: id arrays (T,) for text, standardised float32 (T, F) for series."""
        if self.kind_ == "text":
            if isinstance(X, str) or not all(isinstance(x, str) for x in X):
                raise RnnlabError("this classifier was trained on text: expected a list of strings")
            index = self._char_index
            return [np.array([index.get(c, UNK) for c in x] or [UNK], dtype=np.int64) for x in X]
        series = as_series(X)
        if series[0].shape[1] != self.n_features_:
            raise RnnlabError(f"expected series with {self.n_features_} features per step, got {series[0].shape[1]}")
        return [self.scaler_.transform(s).astype(np.float32) for s in series]

    def unknown_characters(self, texts: list[str]) -> list[str]:
        """Characters of `texts` not seen in training (they are read as <unk>), in order of first appearance."""
        if self.kind_ != "text":
            return []
        return list(dict.fromkeys(c for text in texts for c in text if c not in self._char_index))

    def _batch(self, encoded: list[np.ndarray], side: str = "post") -> tuple[np.ndarray, np.ndarray]:
        return pad_sequences(encoded, side=side, dtype=np.int64 if self.kind_ == "text" else np.float32)

    # ---- training -----------------------------------------------------------------------------------------
    def fit(self, X, y, X_val=None, y_val=None) -> Self:
        """Learn from N sequences `X` (strings, or series (T_i, F) / an array (N, T[, F])) and labels `y` (N,).

        Without `X_val`, a stratified `validation_fraction` of `X` is held out for early stopping.
        """
        config = self.config = self._config()
        y = np.asarray(y)
        if y.ndim != 1 or len(y) != len(X) or len(y) == 0:
            raise RnnlabError(f"expected one label per sequence, got {len(y)} labels for {len(X)} sequences")
        self.kind_ = "text" if all(isinstance(x, str) for x in X) else "numeric"
        if X_val is None and config.validation_fraction > 0:
            kept, held = stratified_split(y, config.validation_fraction, config.seed)
            X_val, y_val = [X[i] for i in held], y[held]
            X, y = [X[i] for i in kept], y[kept]
        self.classes_ = np.unique(y)
        if self.kind_ == "text":
            self.vocab_ = CharVocab(set("".join(X)) or {" "})
            self._char_index = {c: i + 2 for i, c in enumerate(self.vocab_.chars)}
            num_inputs = len(self.vocab_) + 2
        else:
            series = as_series(X)
            self.n_features_ = num_inputs = series[0].shape[1]
            self.scaler_ = StandardScaler().fit(np.concatenate(series))  # training split only
        self.nets_ = [ClassifierNet(num_inputs, len(self.classes_), config, self.kind_ == "text", seed=config.seed + k)
                      for k in range(config.ensemble)]
        validation = None
        if X_val is not None and len(X_val) > 0:
            validation = (self._encode(X_val), self._targets(y_val))
        encoded, targets = self._encode(X), self._targets(y)
        self.history_, self.best_step_, self.train_seconds_ = [], [], 0.0
        for member, net in enumerate(self.nets_):
            state = self._train(net, config.seed + member, encoded, targets, validation)
            self.history_.extend({"member": member, **metrics} for metrics in state.history)
            self.best_step_.append(state.best_step)
            self.train_seconds_ += state.seconds
        return self

    def _targets(self, y) -> np.ndarray:
        y = np.asarray(y)
        ids = np.searchsorted(self.classes_, y)
        known = (ids < len(self.classes_)) & (self.classes_[np.minimum(ids, len(self.classes_) - 1)] == y)
        if not known.all():
            raise RnnlabError(f"label {y[~known][0]!r} is not one of the classes seen in training")
        return ids

    def _train(self, net: ClassifierNet, seed: int, encoded: list[np.ndarray], targets: np.ndarray, validation):
        """Train one member of the ensemble; keeps the weights of its best evaluation. Returns the loop state."""
        config = self.config
        rng = np.random.default_rng(seed)
        lengths = np.array([len(e) for e in encoded])
        steps_per_epoch = -(-len(encoded) // config.batch_size)
        max_steps = steps_per_epoch * config.epochs
        weight = None
        if config.class_weight is not None:
            counts = np.bincount(targets, minlength=len(self.classes_))
            weight = len(targets) / (len(counts) * np.maximum(counts, 1))  # (C,) "balanced"
            weight = (np.sqrt(weight) if config.class_weight == "sqrt" else weight).astype(np.float32)
        loss_fn = CrossEntropyLoss(weight=weight)
        optimizer = Adam(net.parameters(), lr=config.lr)
        scheduler = CosineAnnealingLR(optimizer, T_max=max_steps, eta_min=config.lr * config.lr_min_factor)
        queue: list[np.ndarray] = []

        def step_fn() -> tuple[float, int]:
            if not queue:
                queue.extend(_length_batches(lengths, config.batch_size, rng))
            batch = queue.pop()
            x, mask = self._batch([encoded[i] for i in batch])
            if self.kind_ == "text" and config.char_dropout > 0:
                x = np.where(mask & (rng.random(x.shape) < config.char_dropout), UNK, x)  # (B, T)
            loss = loss_fn(net(x, mask), targets[batch])
            net.backward(loss_fn.backward())
            return loss, int(mask.sum())

        def evaluate() -> dict[str, float]:
            if validation is None:
                return {}
            probabilities = self._probabilities(validation[0], [net])
            predicted = probabilities.argmax(axis=1)
            true = validation[1]
            loss = float(-np.mean(np.log(np.maximum(probabilities[np.arange(len(true)), true], 1e-12))))
            return {"val_loss": loss, "val_accuracy": accuracy(true, predicted),
                    "val_macro_f1": macro_f1(true, predicted, len(self.classes_))}

        best: dict[str, np.ndarray] = {}

        def on_eval(state, metrics, improved) -> None:
            if improved:
                best.update(net.state_dict())

        mode = "min" if config.monitor == "val_loss" else "max"
        loop = LoopConfig(max_steps=max_steps, minutes=config.minutes, eval_every=steps_per_epoch,
                          clip_norm=config.clip_norm, monitor=config.monitor, mode=mode,
                          patience=config.patience if validation is not None else None)
        state = train_loop(net, optimizer, step_fn, evaluate, loop, scheduler=scheduler, on_eval=on_eval,
                           desc="classify", progress=self.progress)
        if best:
            net.load_state_dict(best)
        net.eval()
        return state

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
                x, mask = self._batch([encoded[i] for i in chunk])
                out[chunk] += softmax(net(x, mask).astype(np.float64))
        return out / len(nets)

    def _check_fitted(self) -> None:
        if not hasattr(self, "nets_"):
            raise RnnlabError("this SequenceClassifier is not fitted yet; call fit(X, y) or load(path) first")

    def predict_proba(self, X) -> np.ndarray:
        """Probabilities (N, C) over `classes_` for N sequences."""
        self._check_fitted()
        return self._probabilities(self._encode(X))

    def predict(self, X) -> np.ndarray:
        """The most probable class of each of N sequences: (N,) drawn from `classes_`."""
        probabilities = self.predict_proba(X)
        return self.classes_[probabilities.argmax(axis=1)]

    def top_k(self, X, k: int = 3) -> list[list[tuple[str, float]]]:
        """For each sequence, the k most probable (class, probability) pairs, best first."""
        probabilities = self.predict_proba(X)
        best = np.argsort(-probabilities, axis=1, kind="stable")[:, :k]
        return [[(str(self.classes_[c]), float(p[c])) for c in row] for p, row in zip(probabilities, best, strict=True)]

    def evaluate(self, X, y) -> dict:
        """Accuracy, macro-F1, per-class precision / recall / F1 / support and the (C, C) confusion matrix."""
        self._check_fitted()
        true = self._targets(y)
        predicted = self.predict_proba(X).argmax(axis=1)
        C = len(self.classes_)
        precision, recall, f1, support = precision_recall_f1(true, predicted, C)
        return {"n": len(true), "accuracy": accuracy(true, predicted), "macro_f1": macro_f1(true, predicted, C),
                "classes": [str(c) for c in self.classes_], "precision": precision.tolist(),
                "recall": recall.tolist(), "f1": f1.tolist(), "support": support.tolist(),
                "confusion": confusion_matrix(true, predicted, C).tolist(), "predicted": predicted.tolist(),
                "true": true.tolist()}

    # ---- persistence --------------------------------------------------------------------------------------
    def save(self, path: str | Path, name: str = "best", extra: dict | None = None) -> Path:
        """Write `path/name.safetensors` + `path/name.json` (weights, config, classes, vocabulary or scaler)."""
        self._check_fitted()
        meta = {"task": "classify", "config": asdict(self.config), "kind": self.kind_,
                "classes": self.classes_.tolist(), "best_step": self.best_step_,
                "train_seconds": round(self.train_seconds_, 2), **(extra or {})}
        if self.kind_ == "text":
            meta["vocab"] = self.vocab_.to_json()
        else:
            meta |= {"n_features": self.n_features_, "scaler": self.scaler_.to_json()}
        arrays = {}
        for member, net in enumerate(self.nets_):  # "model.*" for the first net, "model1.*", ... for the others
            arrays |= with_prefix(net.state_dict(), f"model{member or ''}")
        return save_checkpoint(path, name, arrays, meta)

    @classmethod
    def load(cls, path: str | Path, name: str = "best") -> SequenceClassifier:
        """The classifier saved by `save` in the run folder (or checkpoint file) `path`."""
        arrays, meta = load_checkpoint(path, name)
        if meta.get("task") != "classify":
            raise RnnlabError(f"{path}: not a classifier checkpoint (task {meta.get('task')!r})")
        clf = cls(**meta["config"], progress=False)
        clf.kind_, clf.classes_ = meta["kind"], np.array(meta["classes"])
        clf.best_step_, clf.train_seconds_ = meta.get("best_step"), meta.get("train_seconds", 0.0)
        if clf.kind_ == "text":
            clf.vocab_ = CharVocab.from_json(meta["vocab"])
            clf._char_index = {c: i + 2 for i, c in enumerate(clf.vocab_.chars)}
            num_inputs = len(clf.vocab_) + 2
        else:
            clf.n_features_ = num_inputs = meta["n_features"]
            clf.scaler_ = StandardScaler.from_json(meta["scaler"])
        clf.nets_ = []
        for member in range(clf.config.ensemble):
            net = ClassifierNet(num_inputs, len(clf.classes_), clf.config, clf.kind_ == "text")
            net.load_state_dict(split_prefix(arrays, f"model{member or ''}"))
            clf.nets_.append(net.eval())
        return clf


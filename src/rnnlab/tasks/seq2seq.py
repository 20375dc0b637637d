"""Sequence to sequence: an encoder-decoder with attention, greedy decoding and beam search.

    model = Seq2Seq(target_tokens="word", minutes=20).fit(words, pronunciations)   # lists of strings
    model.predict(["rnnlab"], beam=5)                                              # ['R N L AE B']
    model.evaluate(test_words, test_pronunciations, beam=5)                        # exact match, error rates

Sources and targets are strings, cut into characters (`"char"`) or whitespace-separated words (`"word"`),
as `source_tokens` and `target_tokens` say. Pairs that share a source are its acceptable answers: a
prediction is right when it equals any of them, and the token error rate takes the closest. A source token
seen fewer than `min_count` times in training reads as <unk>; a word-level output <unk> is replaced by the
word-level source token it attends to most (Luong et al. 2015). The network is in `seq2seq_net.py`, the
searches in `seq2seq_search.py`, the settings in `seq2seq_config.py`; training runs through `rnnlab.train`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

import numpy as np

from rnnlab import checks
from rnnlab.checkpoint import split_prefix, with_prefix
from rnnlab.data import fingerprint
from rnnlab.data.batching import PAD, UNK, batches_by_length
from rnnlab.errors import RnnlabError
from rnnlab.metrics.seq2seq import sequence_scores
from rnnlab.nn import CrossEntropyLoss
from rnnlab.optim import Adam, CosineAnnealingLR
from rnnlab.tasks.base import Task
from rnnlab.tasks.runs import RunFolder
from rnnlab.tasks.seq2seq_config import Seq2SeqConfig
from rnnlab.tasks.seq2seq_net import Seq2SeqNet, Seq2SeqNetConfig
from rnnlab.tasks.seq2seq_search import BOS, EOS, beam_search
from rnnlab.train import LoopConfig, LoopState
from rnnlab.trainer import Trainer

__all__ = ["Decoded", "Seq2Seq", "Seq2SeqConfig"]

DECODE_ROWS = 512  # source rows x beam decoded together


@dataclass
class Decoded:
    """One decoded source: its tokens, the output tokens and `text` (joined as the targets are: "" between
    characters, " " between words), the attention weights (len(output) + 1, len(source)) (the last row: the
    step that ended the output), the output's log-probability (</s> included) and the search's score (see
    `seq2seq_search.Hypothesis`)."""

    source: list[str]
    output: list[str]
    text: str
    weights: np.ndarray
    log_prob: float
    score: float


def _check_texts(texts: Sequence[str], name: str) -> None:
    if isinstance(texts, str) or len(texts) == 0:
        raise RnnlabError(f"{name}: give a non-empty list of strings")
    for index, text in enumerate(texts):
        if not isinstance(text, str) or not text.strip():
            raise RnnlabError(f"{name}: item {index} must be a non-empty string, got {text!r}")


class Seq2Seq(Task):
    """Map a sequence to another: bi-RNN encoder, attention decoder, greedy or beam search.

    Hyperparameters are the fields of `Seq2SeqConfig`, given as keywords. Learned state: `source_vocab_`
    (ids 0 and 1 are <pad> and <unk>), `target_vocab_` (0-3: <pad>, <unk>, <s>, </s>), `max_target_len_`,
    `model_`, `history_` (one dict per epoch: step, train_loss, lr, val_exact_match, val_token_error_rate,
    seconds, tokens_per_s), `train_seconds_`, `best_val_exact_match_`, `info_` (as given to `fit`), and after `fit`
    `val_sources_` (the distinct sources it validated on; not saved).
    """

    name = "seq2seq"
    Config = Seq2SeqConfig

    # ---- tokens -------------------------------------------------------------------------------------------
    def _tokens(self, text: str, side: str) -> list[str]:
        return list(text.strip()) if getattr(self, f"{side}_tokens") == "char" else text.split()

    def _join(self, tokens: list[str]) -> str:
        return ("" if self.target_tokens == "char" else " ").join(tokens)

    def _build_vocabularies(self, sources: list[list[str]], targets: list[list[str]]) -> None:
        counts = Counter(token for tokens in sources for token in tokens)
        self.source_vocab_ = ["<pad>", "<unk>", *sorted(t for t, n in counts.items() if n >= self.min_count)]
        self.target_vocab_ = ["<pad>", "<unk>", "<s>", "</s>", *sorted({t for tokens in targets for t in tokens})]
        self.max_target_len_ = max(len(tokens) for tokens in targets)

    def _index(self) -> None:
        self._source_index = {t: i for i, t in enumerate(self.source_vocab_)}
        self._target_index = {t: i for i, t in enumerate(self.target_vocab_)}

    def _sources(self, sources: list[list[str]]) -> tuple[np.ndarray, np.ndarray]:
        """(S, B) ids and mask of tokenised sources."""
        S, B = max(len(tokens) for tokens in sources), len(sources)
        ids = np.full((S, B), PAD, np.int64)
        for b, tokens in enumerate(sources):
            ids[: len(tokens), b] = [self._source_index.get(t, UNK) for t in tokens]
        return ids, ids != PAD

    def _batch(self, sources: list[list[str]], targets: list[list[str]],
               rng: np.random.Generator | None) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """(network batch, target ids (T, B) with -1 at padding): target_in is <s> y_1 .. y_n, the targets
        y_1 .. y_n </s>; with `rng` and a sampling rate, which steps feed the model's own guess."""
        source, mask = self._sources(sources)
        T, B = max(len(tokens) for tokens in targets) + 1, len(targets)
        target_in, target_out = np.full((T, B), PAD, np.int64), np.full((T, B), -1, np.int64)
        for b, tokens in enumerate(targets):
            ids = [self._target_index.get(t, UNK) for t in tokens]
            target_in[: len(ids) + 1, b] = [BOS, *ids]
            target_out[: len(ids) + 1, b] = [*ids, EOS]
        batch = {"source": source, "source_mask": mask, "target_in": target_in}
        if rng is not None and self.sampling_rate > 0:
            batch["sample"] = rng.random((T, B)) < self.sampling_rate
        return batch, target_out

    def _new_model(self, seed: int | None) -> Seq2SeqNet:
        c = self.config
        sizes = Seq2SeqNetConfig(len(self.source_vocab_), len(self.target_vocab_), c.embedding_dim, c.hidden_size,
                                 c.cell, c.encoder_layers, c.attention, c.input_feeding, c.dropout)
        return self._on_engine(Seq2SeqNet(sizes, seed=seed))

    # ---- training -----------------------------------------------------------------------------------------
    def fit(self, sources: Sequence[str], targets: Sequence[str], val_sources: Sequence[str] | None = None,
            val_targets: Sequence[str] | None = None, *, run_dir: str | Path | RunFolder | None = None,
            progress: bool = True, info: dict[str, Any] | None = None) -> Self:
        """Learn the vocabularies and the network from (source, target) string pairs; returns self.

        Without a validation set, `val_fraction` of the distinct sources (with all their targets) are held out
        for early stopping, which keeps the epoch of best greedy exact match on them. With `run_dir`,
        everything is checked before the folder is created; then every epoch writes a line of log.jsonl and
        the `latest` checkpoint, and `best` when validation improved. After `resume`, give the same data.
        """
        resumed, c = self._resumed_from, self.config
        self._check_pairs(sources, targets, "sources")
        if (val_sources is None) != (val_targets is None):
            raise RnnlabError("give both val_sources and val_targets, or neither")
        if val_sources is not None:
            self._check_pairs(val_sources, val_targets, "validation sources")
        elif len(set(sources)) < 2:
            raise RnnlabError("sources: need at least 2 distinct sources to hold some out for validation")
        digest = fingerprint(list(sources), list(targets), val_sources, val_targets)
        if resumed is not None:
            self._refuse_other_data(digest, resumed.meta["data_sha256"], resumed.meta["info"].get("data") or "lists")
        run, own = self._run_folder(run_dir)
        rng = np.random.default_rng(c.seed)
        if val_sources is None:  # hold out whole sources: a word's other pronunciations must not leak
            distinct = sorted(set(sources))
            n_val = max(1, round(c.val_fraction * len(distinct)))
            held = {distinct[i] for i in rng.permutation(len(distinct))[:n_val]}
            val_sources = [s for s in sources if s in held]
            val_targets = [t for s, t in zip(sources, targets, strict=True) if s in held]
            sources, targets = zip(*[(s, t) for s, t in zip(sources, targets, strict=True) if s not in held],
                                   strict=True)
        self.val_sources_ = list(dict.fromkeys(val_sources))  # (not saved: what this fit validated on)
        train_sources = [self._tokens(s, "source") for s in sources]
        train_targets = [self._tokens(t, "target") for t in targets]
        if resumed is None:
            self._build_vocabularies(train_sources, train_targets)
            self.info_, self.data_sha256_ = dict(info or {}), digest
            self._index()
            self.model_ = self._new_model(c.seed)
        with self._writing(run, own):
            self._train(train_sources, train_targets, list(val_sources), list(val_targets), rng, run, progress)
        return self

    def _check_pairs(self, sources: Sequence[str], targets: Sequence[str], name: str) -> None:
        _check_texts(sources, name)
        _check_texts(targets, name.replace("sources", "targets"))
        if len(sources) != len(targets):
            raise RnnlabError(f"{name}: {len(sources)} sources but {len(targets)} targets")

    def _train(self, sources: list, targets: list, val_sources: list[str], val_targets: list[str],
               rng: np.random.Generator, run: RunFolder | None, progress: bool) -> None:
        c = self.config
        optimizer = Adam(self.model_.parameters(), lr=c.lr)
        loss_fn = CrossEntropyLoss(ignore_index=-1, label_smoothing=c.label_smoothing)
        lengths = np.array([len(tokens) for tokens in sources])
        queue: list[np.ndarray] = []  # the rest of this epoch's batches, taken from the end
        self._queue = queue
        steps_per_epoch = -(-len(sources) // c.batch_size)
        # (on resume a cosine spans the new total of epochs: step s gets the rate the longer schedule has there)
        scheduler = None if c.lr_schedule == "plateau" else CosineAnnealingLR(
            optimizer, T_max=c.epochs * steps_per_epoch, eta_min=c.lr * c.lr_min_factor)
        self._trainer = trainer = Trainer(self.model_, optimizer, {"rng": rng,
                                                                   "dropout_rng": self.model_.dropout_generator},
                                          scheduler)
        if self._resumed_from is None:  # (a checkpoint before the first evaluation holds these)
            self.history_, self.train_seconds_, self.best_val_exact_match_ = [], 0.0, None
        else:
            self._resume_batches(trainer, queue)

        def step() -> tuple[float, int]:
            if not queue:
                queue.extend(batches_by_length(lengths, c.batch_size, rng, pool_batches=20))
            index = queue.pop()
            batch, target_out = self._batch([sources[i] for i in index], [targets[i] for i in index], rng)
            loss = loss_fn(self.model_(batch), target_out)
            self.model_.backward(loss_fn.backward())
            return loss, int((target_out >= 0).sum())

        def validate() -> dict[str, float]:
            scores = self.evaluate(val_sources, val_targets)
            return {"val_exact_match": scores["exact_match"], "val_token_error_rate": scores["token_error_rate"]}

        def on_eval(state: LoopState, metrics: dict, improved: bool) -> None:
            plateau = not improved and metrics.get("scheduled", True)  # not an evaluation made as time ran out
            if c.lr_schedule == "plateau" and plateau and state.evals_since_best % c.decay_patience == 0:
                optimizer.lr *= c.lr_decay
            self.history_, self.train_seconds_, self.best_val_exact_match_ = state.history, state.seconds, state.best
            if run is not None:
                run.append_log(metrics)
                self._checkpoints(run, best=improved)

        loop = LoopConfig(max_steps=c.epochs * steps_per_epoch, minutes=c.minutes, eval_every=steps_per_epoch,
                          clip_norm=c.clip_norm, monitor="val_exact_match", mode="max", patience=c.patience,
                          log_gradients=c.log_gradients, on_nan=c.on_nan)
        state = trainer.train(step, validate, loop, on_eval, desc="seq2seq", progress=progress,
                              on_gradients=None if run is None else self._gradients_to(run),
                              on_checkpoint=None if run is None else self._latest_to(run))
        self.history_, self.train_seconds_, self.best_val_exact_match_ = state.history, state.seconds, state.best

    def _training_state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        return self._batches_training_state()

    def _restore_training(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        self._require_training_state(meta)

    # ---- inference ----------------------------------------------------------------------------------------
    def decode(self, sources: Sequence[str], beam: int = 1, length_penalty: float = 1.0,
               max_len: int | None = None) -> list[Decoded]:
        """Decode each source (greedy with beam=1, else beam search; see `seq2seq_search`), in batches of
        similar length; returns a `Decoded` (tokens, attention weights, score) per source, in order."""
        self._check_fitted()
        _check_texts(sources, "sources")
        checks.require("beam", beam, checks.beam)
        checks.require("length_penalty", length_penalty, checks.length_penalty)
        max_len = max_len or self.max_len or 2 * self.max_target_len_ + 5
        tokens = [self._tokens(s, "source") for s in sources]
        net = getattr(self.model_, "net", self.model_)  # decoding is the NumPy network's, on either engine
        net.eval()
        out: list[Decoded | None] = [None] * len(tokens)
        for index in batches_by_length(np.array([len(t) for t in tokens]), max(1, DECODE_ROWS // beam), None):
            source, mask = self._sources([tokens[i] for i in index])
            for i, found in zip(index, beam_search(net, source, mask, max_len, beam, length_penalty), strict=True):
                output = [self.target_vocab_[t] for t in found.tokens]
                output = self._replace_unknown(output, tokens[i], found.weights)
                out[i] = Decoded(tokens[i], output, self._join(output), found.weights, found.log_prob, found.score)
        return out

    def _replace_unknown(self, output: list[str], source: list[str], weights: np.ndarray) -> list[str]:
        if self.source_tokens != "word" or self.target_tokens != "word":
            return output
        return [source[int(weights[t].argmax())] if token == "<unk>" else token for t, token in enumerate(output)]

    def predict(self, sources: Sequence[str], beam: int = 1, length_penalty: float = 1.0) -> list[str]:
        """The output string of each source (tokens joined by "" for characters, " " for words)."""
        return [d.text for d in self.decode(sources, beam, length_penalty)]

    def evaluate(self, sources: Sequence[str], targets: Sequence[str], beam: int = 1,
                 length_penalty: float = 1.0) -> dict[str, Any]:
        """Scores over the distinct sources, each against all its targets (see `metrics.seq2seq.sequence_scores`):
        sequences, exact_match, sequence_error_rate, token_error_rate, by_length (by source tokens), and for word
        targets char_error_rate, bleu and chrf; plus the beam width and length penalty used."""
        self._check_fitted()
        self._check_pairs(sources, targets, "sources")
        references: dict[str, list[list[str]]] = {}
        for source, target in zip(sources, targets, strict=True):
            references.setdefault(source, []).append(self._tokens(target, "target"))
        distinct = list(references)
        decoded = self.decode(distinct, beam, length_penalty)
        scores = sequence_scores([d.output for d in decoded], [references[s] for s in distinct],
                                 lengths=[len(d.source) for d in decoded], word_level=self.target_tokens == "word")
        return scores | {"beam": beam, "length_penalty": length_penalty}

    def score(self, sources: Sequence[str], targets: Sequence[str]) -> float:
        """Greedy exact match over the distinct sources (the main figure; higher is better)."""
        return self.evaluate(sources, targets)["exact_match"]

    # ---- persistence --------------------------------------------------------------------------------------
    def _state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        meta = {"info": self.info_, "data_sha256": self.data_sha256_, "source_vocab": self.source_vocab_,
                "target_vocab": self.target_vocab_, "max_target_len": self.max_target_len_,
                "history": self.history_, "train_seconds": self.train_seconds_,
                "best_val_exact_match": self.best_val_exact_match_}
        return with_prefix(self.model_.state_dict(), "model"), meta

    def _restore(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        self.source_vocab_, self.target_vocab_ = list(meta["source_vocab"]), list(meta["target_vocab"])
        self.max_target_len_ = int(meta["max_target_len"])
        self.info_, self.data_sha256_ = meta["info"], meta["data_sha256"]
        self.history_, self.train_seconds_ = meta["history"], meta["train_seconds"]
        self.best_val_exact_match_ = meta["best_val_exact_match"]
        self._index()
        self.model_ = self._new_model(None)
        self.model_.load_state_dict(split_prefix(arrays, "model"))
        self.model_.eval()

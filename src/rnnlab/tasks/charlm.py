"""The character language model: train on any UTF-8 text, sample, evaluate, resume.

    text -> ids (memory-mapped) -> B streams -> SequenceModel -> cross-entropy per character

Training follows char-rnn: B parallel streams through the text, truncated backpropagation
through time with the hidden state carried from one batch to the next, a contiguous
validation split at the end of the text. A run folder (`fit(run_dir=...)`) holds everything:

    ids.bin                     the corpus as token ids (uint8/16/32 by vocabulary size)
    tinyshakespeare.txt         the embedded corpus, when the run was given no text
    latest.{json,safetensors}   the newest checkpoint: weights, optimizer, schedule, RNG, position, state
    best.{json,safetensors}     the checkpoint with the lowest validation loss
    log.jsonl                   one line per evaluation
"""

from __future__ import annotations

import lzma
import math
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any, Self

import numpy as np

from rnnlab.backends import distributed
from rnnlab.checkpoint import atomic_write_bytes, load_checkpoint, resolve, split_prefix, with_prefix
from rnnlab.checks import MAX_SAMPLE_CHARS, positive, positive_int, require, sample_length, unit_fraction
from rnnlab.checks import seed as seed_check
from rnnlab.data.streams import TextStreams
from rnnlab.data.text import CharVocab, Corpus, iter_text_chunks, open_ids, write_ids
from rnnlab.errors import RnnlabError, invalid_argument
from rnnlab.nn import CrossEntropyLoss
from rnnlab.tasks.base import Task
from rnnlab.tasks.charlm_config import PRESETS, CharLMConfig, build_model, build_optimizer, build_scheduler
from rnnlab.tasks.runs import RunFolder
from rnnlab.tasks.sampling import choose
from rnnlab.train import LoopConfig, LoopState, Rollback, train_loop
from rnnlab.trainer import KeepBest

EMBEDDED_CORPUS = "tinyshakespeare.txt"


class CharLM(Task):
    """A character language model with fit / evaluate / score / sample / save / load / resume.

    The keywords are the fields of `CharLMConfig` (defaults: the "default" preset);
    `CharLM.from_preset(name, **overrides)` starts from another preset. Learned state: `vocab_`,
    `model_`, `optimizer_`, `scheduler_`, `loop_` (step, seconds, best), `history_` (one dict per
    evaluation), `corpus_` (where the text came from) and `ids_` (the text as ids).

    >>> lm = CharLM.from_preset("large", hidden_size=32, num_layers=1)
    >>> lm.hidden_size, lm.seq_len, lm.cell
    (32, 100, 'lstm')
    """

    name = "charlm"
    Config = CharLMConfig

    @classmethod
    def from_preset(cls, preset: str = "default", **overrides) -> Self:
        """A model with the settings of `preset` ("default", "large" or "min-char-rnn"), `overrides` on top."""
        if preset not in PRESETS:
            raise invalid_argument("preset", f"one of {', '.join(PRESETS)}", preset)
        return cls(**(vars(PRESETS[preset]) | overrides))

    # ---- training -------------------------------------------------------------------------------
    def fit(self, data: str | Path | None = None, *, run_dir: str | Path | RunFolder | None = None,
            progress: bool = True, on_sample: Callable[[int, str], None] | None = None) -> Self:
        """Train on a UTF-8 file or folder of files (None: the embedded Tiny Shakespeare); returns self.

        The text is checked (readable, UTF-8, not binary, long enough for one batch of `seq_len`
        characters in each of `batch_size` streams plus a validation split) before anything is
        written. With `run_dir` (a path, or a `RunFolder`) the run writes ids.bin there and, at every
        evaluation, a line of log.jsonl and the `latest` checkpoint (and `best` when the validation
        loss improved); a new run needs a missing or empty folder, and a run folder given as a path
        is removed again if training fails before its first checkpoint. Without `run_dir` nothing is
        written. Afterwards the model holds the weights of its best evaluation.

        On a model from `CharLM.resume(run)`, fit continues that run from its saved step, in its
        folder (or in memory, with run_dir=None); the text is read from the run's ids.bin, so `data`
        may be omitted. `on_sample(step, text)` receives a sample every `sample_every` steps.
        """
        resumed = None if self._resumed_from is None else self._resumed_from.folder
        run, own_run = self._run_folder(run_dir)
        if resumed is None:
            corpus = Corpus.scan(data) if data is not None else Corpus.from_text(embedded_text())
            self._check_length(corpus.characters, EMBEDDED_CORPUS if data is None else str(data))
        elif data is not None and Path(data).resolve() != Path(self.corpus_["source"]):
            raise RnnlabError(f"{data}: a resumed run reads its text from {resumed / 'ids.bin'} "
                              f"(it was {self.corpus_['source']}); give no data")
        with self._writing(run, own_run):
            if resumed is None:
                self._start(corpus, None if run is None else run.path)
            self._train(run, resumed, progress, on_sample)
        return self

    def _run_folder(self, run_dir: str | Path | RunFolder | None) -> tuple[RunFolder | None, bool]:
        """As `Task._run_folder`; a resumed run continues in its own folder."""
        resumed = self._resumed_from
        if run_dir is not None and resumed is not None:
            final = run_dir.final if isinstance(run_dir, RunFolder) else Path(run_dir)
            if final.resolve() != resumed.folder.resolve():
                raise RnnlabError(f"{final}: a resumed run continues in its own folder, {resumed.folder}")
        return super()._run_folder(run_dir)

    def _check_length(self, characters: int, name: str) -> None:
        """Refuse a text too short for one training batch and one validation sequence."""
        c = self.config
        split = int(characters * (1 - c.val_fraction))
        needed = c.batch_size * distributed.world()[1] * (c.seq_len + 2)  # (the global batch under torchrun)
        if split < needed or characters - split < c.seq_len + 2:
            raise RnnlabError(
                f"{name}: text too short: {characters} characters; training needs {needed} ({c.batch_size} streams "
                f"of {c.seq_len + 2}) and the validation split (the last {c.val_fraction:g} of the text) at least "
                f"{c.seq_len + 2} (use a longer text, fewer streams or a shorter sequence length)")

    def _start(self, corpus: Corpus, folder: Path | None) -> None:
        """A fresh model for `corpus`, its ids in memory or in `folder`/ids.bin (the embedded text beside them)."""
        self._build(corpus.vocab)
        if folder is not None and corpus.path is None:
            atomic_write_bytes(folder / EMBEDDED_CORPUS, corpus.text.encode("utf-8"))  # shows what the run read
        self.ids_ = corpus.encode(None if folder is None else folder / "ids.bin")
        source = f"embedded {EMBEDDED_CORPUS}" if corpus.path is None else str(corpus.path.resolve())
        self.corpus_ = {"source": source, "characters": corpus.characters, "dtype": corpus.vocab.dtype.name}

    def _build(self, vocab: CharVocab) -> None:
        """A fresh network, optimizer and schedule for `vocab`, at step 0."""
        c = self.config
        self.vocab_ = vocab
        self.model_ = self._on_engine(build_model(c, len(vocab)))
        self.loss_fn_ = CrossEntropyLoss(reduction=c.loss_reduction)
        self.optimizer_ = build_optimizer(c, self.model_)
        self.scheduler_ = build_scheduler(self.optimizer_, c)
        self.loop_ = LoopState()
        self.history_ = self.loop_.history
        self.ids_, self.corpus_ = None, None
        self._sample_rng = np.random.default_rng(c.seed + 1)
        self._carry, self._position = None, 0  # the hidden state carried between batches; the streams' position

    def _splits(self) -> tuple[np.ndarray, np.ndarray]:
        split = int(len(self.ids_) * (1 - self.val_fraction))
        return self.ids_[:split], self.ids_[split:]

    def _train(self, run: RunFolder | None, resumed: Path | None, progress: bool, on_sample) -> None:
        c = self.config
        train_ids, val_ids = self._splits()
        # Under torchrun, the streams of the global batch; this process trains on its own columns of them.
        streams = TextStreams(train_ids, c.batch_size * distributed.world()[1], c.seq_len, position=self._position)
        mine = distributed.columns(c.batch_size)
        model, loss_fn = self.model_, self.loss_fn_
        keep = KeepBest(model)
        if resumed is not None and (resumed / "best.json").is_file():
            keep.state = split_prefix(load_checkpoint(resumed, "best")[0], "model")

        def step_fn() -> tuple[float, int]:
            step = self.loop_.step
            if on_sample is not None and c.sample_every and step % c.sample_every == 0:
                on_sample(step, self.sample(c.sample_chars, seed=step))
            x, y, reset = streams.next_batch()
            x, y = x[:, mine], y[:, mine]  # (T, B)
            logits, state = model(x, None if reset else self._carry)
            loss = loss_fn(logits, y)
            if not math.isfinite(loss):  # the loop raises Diverged (or backs off): nothing to learn from
                return loss, x.size
            # a sum over this process's streams: DDP averages, so times the processes for the sum over all of them
            model.backward(loss_fn.backward() * (distributed.world()[1] if c.loss_reduction == "sum" else 1))
            self._carry, self._position = state, streams.position
            return loss, x.size

        def evaluate() -> dict[str, float]:
            figures = self._figures(val_ids)
            return {f"val_{k}": v for k, v in figures.items() if k != "characters"}

        def on_eval(state: LoopState, metrics: dict, improved: bool) -> None:
            keep.update(improved)
            if run is not None:
                run.append_log(metrics)
                self._checkpoints(run, best=improved)

        def save() -> tuple:
            return self._state(), keep.state

        def restore(copy: tuple) -> None:
            (arrays, meta), keep.state = copy
            self._put_back(arrays, meta)
            streams.position = self._position

        loop = LoopConfig(max_steps=c.max_steps, minutes=c.minutes, eval_every=c.eval_every,
                          clip_norm=c.clip_norm, clip_value=c.clip_value, log_gradients=c.log_gradients,
                          on_nan=c.on_nan)
        self.loop_ = train_loop(model, self.optimizer_, step_fn, evaluate, loop, state=self.loop_,
                                scheduler=self.scheduler_, on_eval=on_eval, log_path=None, desc="charlm",
                                progress=progress, on_gradients=None if run is None else self._gradients_to(run),
                                on_checkpoint=None if run is None else self._latest_to(run),
                                rollback=Rollback(save, restore))
        keep.restore()

    def _figures(self, ids: np.ndarray) -> dict[str, float]:
        """characters scored, loss (nats per character), bpc and perplexity over (at most eval_chars of) `ids`."""
        c = self.config
        ids = ids[: c.eval_chars]
        batch = max(1, min(c.batch_size, (len(ids) - 1) // (c.seq_len + 2)))
        model, loss_fn = self.model_, CrossEntropyLoss(reduction="sum")
        model.eval()
        total, count, state = 0.0, 0, None
        for x, y in TextStreams(ids, batch, c.seq_len):
            logits, state = model(x, state)
            total += loss_fn(logits, y)
            count += y.size
        model.train()
        nats = float(total / count)
        return {"characters": int(count), "loss": nats, "bpc": nats / math.log(2),
                "perplexity": math.exp(nats) if nats < 700 else math.inf}

    # ---- using a trained model ------------------------------------------------------------------
    def evaluate(self, data: str | Path | None = None) -> dict[str, float]:
        """{characters, loss, bpc, perplexity} on a UTF-8 text (None: the validation split).

        `loss` is the mean cross-entropy in nats per character and `bpc` the same in bits, over
        `characters` predicted characters: those of the first `eval_chars` of the text.
        """
        self._check_fitted()
        c = self.config
        if data is None:
            if self.ids_ is None:
                raise RnnlabError("this model has no validation text (no ids.bin beside its checkpoint); pass data")
            return self._figures(self._splits()[1])
        chunks, read = [], 0
        for chunk in iter_text_chunks(data):
            chunks.append(chunk)
            read += len(chunk)
            if read > c.eval_chars:
                break
        ids = self._encode("".join(chunks)[: c.eval_chars], str(data))
        if len(ids) < c.seq_len + 2:
            raise RnnlabError(f"{data}: text too short to evaluate: {len(ids)} characters, at least "
                              f"{c.seq_len + 2} needed")
        return self._figures(ids)

    def score(self, data: str | Path | None = None) -> float:
        """Minus the loss in nats per character (higher is better), on `data` or the validation split."""
        return -self.evaluate(data)["loss"]

    def sample(self, length: int = 200, temperature: float = 1.0, top_k: int | None = None,
               top_p: float | None = None, argmax: bool = False, prime: str | None = None,
               seed: int | None = None, stream: Callable[[str], None] | None = None,
               num_samples: int | None = None) -> str | list[str]:
        """The `length` characters generated after `prime`; the prime itself is not part of the result.

        `prime` defaults to a newline (or the first character, if the vocabulary has none).
        temperature divides the logits; top_k keeps the k likeliest characters; top_p keeps the
        smallest set whose probability reaches p; argmax always takes the likeliest. `seed` makes
        the sample repeatable (default: the model's own generator, which moves on). `stream` is
        called with each character as it is generated. `num_samples` n: a list of n texts instead,
        generated together (one batch of n rows a step; a large batch is shared out among the engine's
        threads), each from the same prime with draws of its own; like NumPy's `size`, None gives one text, not a list.
        Bad values raise RnnlabError before any character is generated.
        """
        self._check_fitted()
        require("length", length, sample_length)
        require("temperature", temperature, positive)
        if top_k is not None:
            require("top_k", top_k, positive_int)
        if top_p is not None:
            require("top_p", top_p, unit_fraction)
        if seed is not None:
            require("seed", seed, seed_check)
        rows = 1 if num_samples is None else require("num_samples", num_samples, positive_int)
        if length * rows > MAX_SAMPLE_CHARS:
            raise invalid_argument("num_samples", f"a count with length x num_samples at most {MAX_SAMPLE_CHARS:,} "
                                   f"({length:,} x {rows:,} = {length * rows:,})", num_samples)
        if stream is not None and num_samples is not None:
            raise RnnlabError("stream is for one text: pass num_samples=None to stream")
        if prime is None:
            prime = "\n" if "\n" in self.vocab_.chars else self.vocab_.chars[0]
        if len(prime) == 0:
            raise invalid_argument("prime", "a non-empty text", prime)
        unknown = sorted(set(prime) - set(self.vocab_.chars))
        if unknown:
            raise invalid_argument("prime", f"text in the model's {len(self.vocab_.chars)} characters (characters "
                                   f"not in the vocabulary: {', '.join(map(repr, unknown[:20]))})", prime)
        ids = self._encode(prime, "prime text")
        rng = np.random.default_rng(seed) if seed is not None else self._sample_rng
        model = self.model_.eval()
        logits, state = model(np.repeat(ids[:, None], rows, axis=1))  # (T, rows, V): the prime, once per row
        tokens = np.empty((length, rows), np.int64)  # (length, rows) the ids drawn, a step a row
        for step in range(length):
            tokens[step] = choose(logits[-1], rng, temperature, top_k, top_p, argmax)
            if stream is not None:
                stream(self.vocab_.decode(tokens[step]))
            if step + 1 < length:
                logits, state = model(tokens[step][None, :], state)
        model.train()
        texts = [self.vocab_.decode(tokens[:, row]) for row in range(rows)]
        return texts[0] if num_samples is None else texts

    def _encode(self, text: str, what: str) -> np.ndarray:
        try:
            return self.vocab_.encode(text).astype(np.int64)
        except RnnlabError as error:
            raise RnnlabError(f"{what}: {error}") from None

    # ---- checkpoints ----------------------------------------------------------------------------
    def save(self, run_dir: str | Path, name: str = "best", training: bool = False) -> Path:
        """Write the checkpoint `name` into `run_dir`, and the text's ids.bin when the folder has none.

        The ids let `evaluate()` on the loaded model use the same validation split. Every checkpoint
        of a character model holds its training state, so `training` adds nothing.
        """
        path = super().save(run_dir, name, training)
        if self.ids_ is not None and not (path.parent / "ids.bin").exists():
            write_ids(path.parent / "ids.bin", self.ids_)
        return path

    @classmethod
    def load(cls, run_dir: str | Path, name: str = "best", **engine: Any) -> Self:
        """The model saved as `name` in a run folder (or a checkpoint .json file), with the folder's ids.bin;
        `engine`: engine, device, amp as in `Task.load`."""
        task = super().load(run_dir, name, **engine)
        task._open_ids(resolve(run_dir, name).parent)
        return task

    def _open_ids(self, folder: Path) -> None:
        """The text as ids from `folder`/ids.bin, when there is one (memory-mapped)."""
        ids_path = folder / "ids.bin"
        if ids_path.is_file():
            self.ids_ = open_ids(ids_path, self.corpus_["dtype"])
            if len(self.ids_) != self.corpus_["characters"]:
                raise RnnlabError(f"{ids_path}: {len(self.ids_)} ids, but the checkpoint was trained on "
                                  f"{self.corpus_['characters']} characters")

    def _restore_training(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        """The run's text from its ids.bin; a larger `max_steps` stretches the learning-rate schedule to the new
        length from the step reached (`minutes` is for the next fit)."""
        folder = self._resumed_from.folder
        self._open_ids(folder)
        if self.ids_ is None:
            raise RnnlabError(f"{folder}: no ids.bin there; the run cannot continue without its text")
        if self.max_steps < self.loop_.step:
            raise invalid_argument("max_steps", f"at least {self.loop_.step} (the step the run reached)",
                                   self.max_steps)
        if self.max_steps != meta["config"]["max_steps"]:
            self.scheduler_ = build_scheduler(self.optimizer_, self.config, step=self.loop_.step)

    def _training_state(self) -> tuple[dict[str, np.ndarray], dict]:
        return {}, {}  # `_state` holds it already

    def _state(self) -> tuple[dict[str, np.ndarray], dict]:
        arrays = with_prefix(self.model_.state_dict(), "model")
        arrays |= with_prefix(self.optimizer_.state_dict()["buffers"], "optim")
        carry = self._carry if isinstance(self._carry, tuple) else (self._carry,)
        # (under torchrun, every process's streams: the carried state of the whole global batch)
        arrays |= {f"carry.{k}": distributed.gather_columns(v) for k, v in enumerate(carry) if v is not None}
        meta = {"vocab": self.vocab_.to_json(), "corpus": self.corpus_,
                "optimizer": self.optimizer_.state_dict()["hyper"],
                "scheduler": None if self.scheduler_ is None else self.scheduler_.state_dict(),
                "generators": _generator_states(self.model_) | {"sample": self._sample_rng.bit_generator.state},
                "position": self._position, "streams": self.batch_size * distributed.world()[1],
                "loop": self.loop_.to_json()}
        return arrays, meta

    def _restore(self, arrays: dict[str, np.ndarray], meta: dict) -> None:
        self._build(CharVocab.from_json(meta["vocab"]))
        self._put_back(arrays, meta)
        self.corpus_ = meta["corpus"]
        self.loop_ = LoopState.from_json(meta["loop"])
        self.history_ = self.loop_.history

    def _put_back(self, arrays: dict[str, np.ndarray], meta: dict) -> None:
        """Weights, optimizer, schedule, generators, carried state and position from what `_state` saved."""
        self.model_.load_state_dict(split_prefix(arrays, "model"))
        self.optimizer_.load_state_dict({"hyper": meta["optimizer"], "buffers": split_prefix(arrays, "optim")})
        if self.scheduler_ is not None and meta["scheduler"] is not None:
            self.scheduler_.load_state_dict(meta["scheduler"])
        _set_generator_states(self.model_, meta["generators"])
        self._sample_rng.bit_generator.state = meta["generators"]["sample"]
        carry = [arrays[k] for k in sorted(k for k in arrays if k.startswith("carry."))]
        self._carry = None if not carry else (tuple(carry) if len(carry) == 2 else carry[0])
        self._position = meta["position"]
        streams = self.batch_size * distributed.world()[1]
        if meta.get("streams", streams) != streams:  # another number of processes: the text is cut into other
            self._carry, self._position = None, 0  # streams, so they start again from their beginnings
        elif self._carry is not None:  # this process's streams of the saved global batch
            mine = distributed.columns(self.batch_size)
            self._carry = tuple(s[:, mine] for s in self._carry) if isinstance(self._carry, tuple) \
                else self._carry[:, mine]


# ---- helpers ----------------------------------------------------------------------------------------
def embedded_text() -> str:
    """Tiny Shakespeare, shipped xz-compressed inside the package."""
    with resources.files("rnnlab.resources").joinpath(EMBEDDED_CORPUS + ".xz").open("rb") as packed:
        return lzma.decompress(packed.read()).decode("utf-8")


def _generator_states(model) -> dict:
    """The state of every random generator in the model (dropout masks), for exact resume."""
    return {name: m.generator.bit_generator.state for name, m in model.named_modules("model")
            if hasattr(m, "generator")}


def _set_generator_states(model, states: dict) -> None:
    for name, m in model.named_modules("model"):
        if hasattr(m, "generator") and name in states:
            m.generator.bit_generator.state = states[name]

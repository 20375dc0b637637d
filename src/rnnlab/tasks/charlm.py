"""The character language model: train on any UTF-8 text, sample, evaluate, resume.

    text -> ids (memory-mapped) -> B streams -> SequenceModel -> cross-entropy per character

Training follows char-rnn: B parallel streams through the text, truncated backpropagation
through time with the hidden state carried from one batch to the next, a contiguous
validation split at the end of the text. A run folder holds everything:

    ids.bin                 the corpus as token ids (uint8/16/32 by vocabulary size)
    latest.{json,safetensors}   the newest checkpoint: weights, optimizer, RNG, position, state
    best.{json,safetensors}     the checkpoint with the lowest validation loss
    log.jsonl               one line per evaluation
"""

from __future__ import annotations

import lzma
import math
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields, replace
from importlib import resources
from pathlib import Path

import numpy as np

from rnnlab.checkpoint import load_checkpoint, save_checkpoint, split_prefix, with_prefix
from rnnlab.data.streams import TextStreams
from rnnlab.data.text import CharVocab, encode_corpus, iter_text_chunks, open_ids
from rnnlab.errors import RnnlabError, invalid_argument
from rnnlab.nn import CrossEntropyLoss, softmax
from rnnlab.nn.models import ModelConfig, SequenceModel
from rnnlab.optim import SGD, Adagrad, Adam, AdamW, CosineAnnealingLR, LinearLR, RMSprop, SequentialLR
from rnnlab.train import LoopConfig, LoopState, train_loop

EMBEDDED_CORPUS = "tinyshakespeare.txt"


@dataclass(frozen=True)
class CharLMConfig:
    """Every setting of a character language model run; printed at the start and saved."""

    cell: str = "lstm"  # rnn, rnn_relu, lstm, gru
    hidden_size: int = 256
    num_layers: int = 2
    dropout: float = 0.1
    embedding_dim: int | None = 64  # None: one-hot input
    seq_len: int = 64  # steps of backpropagation through time
    batch_size: int = 32  # parallel streams
    optimizer: str = "adam"  # sgd, adagrad, rmsprop, adam, adamw
    lr: float = 3e-3
    weight_decay: float = 0.0
    schedule: str = "cosine"  # cosine (linear warm-up, then cosine decay to min_lr_ratio * lr) or constant
    warmup_steps: int = 100
    min_lr_ratio: float = 0.05
    clip_norm: float | None = 1.0
    clip_value: float | None = None
    loss_reduction: str = "mean"  # mean or sum over the characters of a batch
    max_steps: int = 3000
    minutes: float | None = None  # a wall-clock budget as well, if given
    eval_every: int = 250
    eval_chars: int = 1_000_000  # at most this many validation characters per evaluation
    sample_every: int = 500  # print a sample every so many steps (0: never)
    sample_chars: int = 200
    val_fraction: float = 0.05
    seed: int = 0
    dtype: str = "float32"
    init: str = "pytorch"  # pytorch, or min-char-rnn (the seed's N(0, 0.01^2) weights, zero biases)

    def __post_init__(self) -> None:
        for name in ("hidden_size", "num_layers", "seq_len", "batch_size", "max_steps", "eval_every"):
            value = getattr(self, name)
            if not isinstance(value, int) or value <= 0:
                raise invalid_argument(name, "a positive integer", value)
        choices = {"optimizer": OPTIMIZERS, "schedule": ("cosine", "constant"), "dtype": ("float32", "float64"),
                   "init": ("pytorch", "min-char-rnn"), "loss_reduction": ("mean", "sum")}
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise invalid_argument(name, f"one of {', '.join(allowed)}", getattr(self, name))
        if not 0 < self.val_fraction < 0.5:
            raise invalid_argument("val_fraction", "a fraction in (0, 0.5)", self.val_fraction)
        if self.lr <= 0:
            raise invalid_argument("lr", "a positive number", self.lr)


OPTIMIZERS = ("sgd", "adagrad", "rmsprop", "adam", "adamw")

PRESETS = {
    # Good text in minutes on two cores.
    "default": CharLMConfig(),
    # The seed's min-char-rnn exactly: RNN 100, one-hot, seq 25, batch 1, Adagrad 0.1, clip 5, float64.
    "min-char-rnn": CharLMConfig(
        cell="rnn", hidden_size=100, num_layers=1, dropout=0.0, embedding_dim=None, seq_len=25, batch_size=1,
        optimizer="adagrad", lr=0.1, schedule="constant", clip_norm=None, clip_value=5.0, loss_reduction="sum",
        max_steps=20000, eval_every=1000, sample_every=100, dtype="float64", init="min-char-rnn"),
    # A longer run: 2 x 512 LSTM with dropout.
    "large": CharLMConfig(hidden_size=512, num_layers=2, dropout=0.25, embedding_dim=64, seq_len=100, batch_size=32,
                          lr=2e-3, max_steps=6000, eval_every=250, warmup_steps=200),
}


class CharLM:
    """A character language model with fit / evaluate / sample / save / load.

    >>> lm = CharLM("default", hidden_size=32, num_layers=1, max_steps=2)
    >>> lm.config.hidden_size, lm.config.cell
    (32, 'lstm')
    """

    def __init__(self, preset: str = "default", **overrides) -> None:
        if preset not in PRESETS:
            raise invalid_argument("preset", f"one of {', '.join(PRESETS)}", preset)
        unknown = set(overrides) - {f.name for f in fields(CharLMConfig)}
        if unknown:
            raise RnnlabError(f"unknown CharLM settings: {', '.join(sorted(unknown))}")
        self.preset = preset
        self.config = replace(PRESETS[preset], **overrides)
        self.vocab_: CharVocab | None = None
        self.model_: SequenceModel | None = None

    # ---- building -------------------------------------------------------------------------------
    def _build(self, vocab: CharVocab) -> None:
        c = self.config
        self.vocab_ = vocab
        self.model_ = SequenceModel(ModelConfig(len(vocab), len(vocab), c.cell, c.hidden_size, c.num_layers,
                                                c.dropout, False, c.embedding_dim), dtype=c.dtype, seed=c.seed)
        if c.init == "min-char-rnn":
            _seed_init(self.model_, c.seed)
        self.loss_fn_ = CrossEntropyLoss(reduction=c.loss_reduction)
        self.optimizer_ = _optimizer(c, _trained_parameters(self.model_, c))
        self.scheduler_ = _scheduler(self.optimizer_, c)
        self.sample_rng_ = np.random.default_rng(c.seed + 1)
        self.carry_ = None  # the hidden state carried between training batches
        self.loop_, self.loop_position_ = LoopState(), 0

    # ---- training -------------------------------------------------------------------------------
    def fit(self, data: str | Path | None = None, out_dir: str | Path = "runs/charlm", steps: int | None = None,
            progress: bool = True, on_sample: Callable[[int, str], None] | None = None) -> CharLM:
        """Train on a UTF-8 file or folder (None: the embedded Tiny Shakespeare) into `out_dir`.

        A fresh run needs an empty or missing `out_dir`; to continue a run use `CharLM.resume`.
        `steps` stops this call early (the learning-rate schedule still spans `max_steps`), so a
        run can be trained in pieces. `on_sample(step, text)` receives a sample every `sample_every` steps.
        """
        out_dir = Path(out_dir)
        if self.model_ is None:
            if out_dir.exists() and any(out_dir.iterdir()):
                raise RnnlabError(f"{out_dir}: run folder exists and is not empty (resume it, or choose --out)")
            self._prepare_corpus(data, out_dir)
        stop = self.config.max_steps if steps is None else min(self.config.max_steps, self.loop_.step + steps)
        self._fit_loop(out_dir, stop, progress, on_sample)
        return self

    def _prepare_corpus(self, data, out_dir: Path) -> None:
        out_dir.mkdir(parents=True, exist_ok=True)
        source = Path(data) if data is not None else _embedded_corpus(out_dir)
        vocab = CharVocab.from_chunks(iter_text_chunks(source))
        ids = encode_corpus(source, vocab, out_dir / "ids.bin")
        self.corpus_ = {"source": str(source), "characters": len(ids), "dtype": vocab.dtype.name}
        self._build(vocab)

    def _splits(self, out_dir: Path) -> tuple[np.ndarray, np.ndarray]:
        ids = open_ids(out_dir / "ids.bin", self.corpus_["dtype"])
        split = int(len(ids) * (1 - self.config.val_fraction))
        return ids[:split], ids[split:]

    def _fit_loop(self, out_dir: Path, stop: int, progress: bool, on_sample) -> None:
        c = self.config
        train_ids, val_ids = self._splits(out_dir)
        self.run_dir_, self._val_ids = out_dir, val_ids
        streams = TextStreams(train_ids, c.batch_size, c.seq_len, position=self.loop_position_)
        model, loss_fn = self.model_, self.loss_fn_

        def step_fn() -> tuple[float, int]:
            if on_sample is not None and c.sample_every and self.loop_.step % c.sample_every == 0:
                on_sample(self.loop_.step, self.sample(c.sample_chars, seed=self.loop_.step))
            x, y, reset = streams.next_batch()
            if reset:
                self.carry_ = None
            logits, state = model(x, self.carry_)
            self.carry_ = state
            loss = loss_fn(logits, y)
            model.backward(loss_fn.backward())
            self.loop_position_ = streams.position
            return loss, x.size

        def evaluate() -> dict[str, float]:
            nats = self._nats_per_char(val_ids)
            return {"val_loss": nats, "val_bpc": nats / math.log(2), "val_perplexity": math.exp(nats)}

        def on_eval(state: LoopState, metrics: dict, improved: bool) -> None:
            self.loop_ = state
            if improved:
                self._save_run(out_dir, "best")
            self._save_run(out_dir, "latest")

        loop = LoopConfig(max_steps=stop, minutes=c.minutes, eval_every=c.eval_every,
                          clip_norm=c.clip_norm, clip_value=c.clip_value)
        self.loop_ = train_loop(model, self.optimizer_, step_fn, evaluate, loop, state=self.loop_,
                                scheduler=self.scheduler_, on_eval=on_eval, log_path=out_dir / "log.jsonl",
                                desc="charlm", progress=progress)
        self._save_run(out_dir, "latest")

    def _nats_per_char(self, ids: np.ndarray) -> float:
        """Mean cross-entropy in nats per character over (at most eval_chars of) `ids`."""
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
        return total / count

    # ---- using a trained model ------------------------------------------------------------------
    def evaluate(self, data: str | Path | None = None) -> dict[str, float]:
        """Loss in nats per character, bits per character and perplexity on a text (None: validation split)."""
        self._check_fitted()
        if data is None:
            ids = self._val_ids
        else:
            text = "".join(iter_text_chunks(data))
            ids = self._encode(text, str(data))
        nats = self._nats_per_char(ids)
        return {"loss": nats, "bpc": nats / math.log(2), "perplexity": math.exp(nats), "characters": len(ids)}

    def sample(self, length: int = 200, temperature: float = 1.0, top_k: int | None = None,
               top_p: float | None = None, argmax: bool = False, prime: str | None = None,
               seed: int | None = None, stream: Callable[[str], None] | None = None) -> str:
        """Generate `length` characters after `prime` (default: a newline, or the first character).

        temperature divides the logits; top_k keeps the k likeliest characters; top_p keeps the
        smallest set whose probability reaches p; argmax always takes the likeliest. `stream` is
        called with each character as it is generated.
        """
        self._check_fitted()
        if temperature <= 0:
            raise invalid_argument("temperature", "a positive number", temperature)
        if top_k is not None and top_k <= 0:
            raise invalid_argument("top_k", "a positive integer", top_k)
        if top_p is not None and not 0 < top_p <= 1:
            raise invalid_argument("top_p", "a number in (0, 1]", top_p)
        rng = np.random.default_rng(seed) if seed is not None else self.sample_rng_
        if prime is None:
            prime = "\n" if "\n" in self.vocab_.chars else self.vocab_.chars[0]
        ids = self._encode(prime, "prime text")
        model = self.model_.eval()
        logits, state = model(ids[:, None])
        out = []
        for _ in range(length):
            token = _choose(logits[-1, 0], rng, temperature, top_k, top_p, argmax)
            char = self.vocab_.decode([token])
            out.append(char)
            if stream is not None:
                stream(char)
            logits, state = model(np.array([[token]]), state)
        model.train()
        return "".join(out)

    def _encode(self, text: str, what: str) -> np.ndarray:
        try:
            return self.vocab_.encode(text).astype(np.int64)
        except RnnlabError as error:
            raise RnnlabError(f"{what}: {error}") from None

    def _check_fitted(self) -> None:
        if self.model_ is None:
            raise RnnlabError("this CharLM is not trained yet: call fit() or CharLM.load()")

    # ---- checkpoints ----------------------------------------------------------------------------
    def _save_run(self, out_dir: Path, name: str) -> None:
        arrays = with_prefix(self.model_.state_dict(), "model")
        arrays |= with_prefix(self.optimizer_.state_dict()["buffers"], "optim")
        carry = self.carry_ if isinstance(self.carry_, tuple) else (self.carry_,)
        arrays |= {f"carry.{k}": v for k, v in enumerate(carry) if v is not None}
        meta = {"task": "charlm", "preset": self.preset, "config": asdict(self.config), "vocab": self.vocab_.to_json(),
                "corpus": self.corpus_, "optimizer": self.optimizer_.state_dict()["hyper"],
                "scheduler": None if self.scheduler_ is None else self.scheduler_.state_dict(),
                "generators": _generator_states(self.model_) | {"sample": self.sample_rng_.bit_generator.state},
                "position": self.loop_position_, "loop": self.loop_.to_json()}
        save_checkpoint(out_dir, name, arrays, meta)

    def save(self, path: str | Path) -> None:
        """Copy this model's latest checkpoint into a folder `path` (as its best and latest)."""
        self._check_fitted()
        path = Path(path)
        self._save_run(path, "best")
        self._save_run(path, "latest")
        if getattr(self, "run_dir_", None) is not None and (self.run_dir_ / "ids.bin").is_file():
            if not (path / "ids.bin").exists():
                shutil.copyfile(self.run_dir_ / "ids.bin", path / "ids.bin")

    @classmethod
    def load(cls, path: str | Path, name: str = "best") -> CharLM:
        """A trained model from a run folder (its `best` checkpoint by default) or a checkpoint file."""
        arrays, meta = load_checkpoint(path, name)
        if meta.get("task") != "charlm":
            raise RnnlabError(f"{path}: not a character language model checkpoint (task {meta.get('task')!r})")
        lm = cls(meta["preset"], **meta["config"])
        lm._build(CharVocab.from_json(meta["vocab"]))
        lm.model_.load_state_dict(split_prefix(arrays, "model"))
        lm.optimizer_.load_state_dict({"hyper": meta["optimizer"], "buffers": split_prefix(arrays, "optim")})
        if lm.scheduler_ is not None and meta["scheduler"] is not None:
            lm.scheduler_.load_state_dict(meta["scheduler"])
        _set_generator_states(lm.model_, meta["generators"])
        lm.sample_rng_.bit_generator.state = meta["generators"]["sample"]
        carry = [arrays[k] for k in sorted(k for k in arrays if k.startswith("carry."))]
        lm.carry_ = None if not carry else (tuple(carry) if len(carry) == 2 else carry[0])
        lm.corpus_, lm.loop_position_ = meta["corpus"], meta["position"]
        lm.loop_ = LoopState.from_json(meta["loop"])
        run_dir = Path(path) if Path(path).is_dir() else Path(path).parent
        lm.run_dir_ = run_dir
        ids_path = run_dir / "ids.bin"
        lm._val_ids = lm._splits(run_dir)[1] if ids_path.is_file() else np.zeros(0, np.int64)
        return lm

    @classmethod
    def resume(cls, run_dir: str | Path) -> CharLM:
        """The run in `run_dir` exactly where it stopped (its `latest` checkpoint); call `fit(out_dir=run_dir)`."""
        return cls.load(run_dir, "latest")


# ---- helpers ----------------------------------------------------------------------------------------
def _embedded_corpus(out_dir: Path) -> Path:
    """Decompress the bundled Tiny Shakespeare into the run folder (so the run shows what it read)."""
    target = out_dir / EMBEDDED_CORPUS
    with resources.files("rnnlab.resources").joinpath(EMBEDDED_CORPUS + ".xz").open("rb") as packed:
        target.write_bytes(lzma.decompress(packed.read()))
    return target


def _trained_parameters(model: SequenceModel, config: CharLMConfig) -> list:
    """All parameters, except that the seed's RNN has one hidden bias: bias_hh stays zero."""
    if config.init != "min-char-rnn":
        return model.parameters()
    return [p for name, p in model.named_parameters() if not name.startswith("rnn.bias_hh")]


def _seed_init(model: SequenceModel, seed: int) -> None:
    """min-char-rnn's initialisation: Wxh, Whh, Why ~ N(0, 0.01^2) drawn in that order, zero biases."""
    legacy = np.random.RandomState(seed)
    H, V = model.config.hidden_size, model.config.vocab_size
    w_xh, w_hh, w_hy = legacy.randn(H, V) * 0.01, legacy.randn(H, H) * 0.01, legacy.randn(V, H) * 0.01
    state = {name: np.zeros_like(value) for name, value in model.state_dict().items()}
    model.load_state_dict(state | {"rnn.weight_ih_l0": w_xh, "rnn.weight_hh_l0": w_hh, "head.weight": w_hy})


def _optimizer(config: CharLMConfig, params):
    lr, wd = config.lr, config.weight_decay
    if config.optimizer == "adagrad":  # the seed's rule: lr * g / sqrt(sum g^2 + 1e-8)
        return Adagrad(params, lr=lr, weight_decay=wd, initial_accumulator_value=1e-8, eps=0.0)
    return {"sgd": SGD, "rmsprop": RMSprop, "adam": Adam, "adamw": AdamW}[config.optimizer](
        params, lr=lr, weight_decay=wd)


def _scheduler(optimizer, config: CharLMConfig):
    if config.schedule == "constant":
        return None
    warmup = min(config.warmup_steps, config.max_steps - 1)
    floor = config.lr * config.min_lr_ratio
    decay = CosineAnnealingLR(optimizer, T_max=max(1, config.max_steps - warmup), eta_min=floor)
    if warmup <= 0:
        return decay
    return SequentialLR(optimizer, [LinearLR(optimizer, start_factor=0.01, total_iters=warmup), decay], [warmup])


def _choose(logits: np.ndarray, rng: np.random.Generator, temperature: float, top_k, top_p, argmax: bool) -> int:
    if argmax:
        return int(np.argmax(logits))
    p = softmax(logits.astype(np.float64) / temperature)
    if top_k is not None and top_k < len(p):
        p[np.argsort(p)[: len(p) - top_k]] = 0
    if top_p is not None:
        order = np.argsort(p)[::-1]
        keep = np.cumsum(p[order]) - p[order] < top_p  # the smallest prefix reaching top_p
        p[order[~keep]] = 0
    return int(rng.choice(len(p), p=p / p.sum()))


def _generator_states(model) -> dict:
    """The state of every random generator in the model (dropout masks), for exact resume."""
    return {name: m.generator.bit_generator.state for name, m in model.named_modules("model")
            if hasattr(m, "generator")}


def _set_generator_states(model, states: dict) -> None:
    for name, m in model.named_modules("model"):
        if hasattr(m, "generator") and name in states:
            m.generator.bit_generator.state = states[name]


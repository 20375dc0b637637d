"""`rnnlab tag train|eval|predict`: part-of-speech tagging with a word + character bi-LSTM.

    rnnlab tag train --data TRAIN.conllu [--val VAL.conllu] [--column upos|xpos] --out RUN
    rnnlab tag eval --ckpt RUN --data TEST.conllu
    rnnlab tag predict --ckpt RUN "I eat apples" ["Another sentence." ...]

`predict` takes plain sentences and splits them into words with `rnnlab.tasks.tag.tokenize`,
a small regex: punctuation marks become words of their own and the clitics n't, 's, 'm, 're,
've, 'll, 'd split off their host ("don't" -> "do n't"), as in English treebanks.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from rnnlab.errors import RnnlabError, invalid_argument


def register(sub) -> None:
    p = sub.add_parser("tag", help="part-of-speech tagging: train, evaluate, predict")
    tag_sub = p.add_subparsers(dest="tag_command", required=True)

    t = tag_sub.add_parser("train", help="train a tagger on a CoNLL-U file")
    t.add_argument("--data", required=True, help="training CoNLL-U file")
    t.add_argument("--val", help="validation CoNLL-U file (default: hold out --val-fraction of --data)")
    t.add_argument("--column", default="upos", help="tag column: upos or xpos (default upos)")
    t.add_argument("--out", required=True, help="run folder to create (best.safetensors, best.json, log.jsonl)")
    t.add_argument("--force", action="store_true", help="overwrite the run folder's checkpoint if it exists")
    t.add_argument("--minutes", type=float, default=10.0, help="training time budget (default 10)")
    t.add_argument("--epochs", type=int, default=40, help="most epochs (default 40)")
    t.add_argument("--patience", type=int, default=12, help="epochs without improvement before stopping (default 12)")
    t.add_argument("--hidden-size", type=int, default=200, help="sentence bi-LSTM size per direction (default 200)")
    t.add_argument("--batch-size", type=int, default=32, help="sentences per step (default 32)")
    t.add_argument("--lr", type=float, default=2e-3, help="Adam learning rate (default 0.002)")
    t.add_argument("--val-fraction", type=float, default=0.1, help="share held out without --val (default 0.1)")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--threads", type=int, default=1, help="BLAS threads (default 1)")
    t.add_argument("--quiet", action="store_true", help="no config line or progress bar")
    t.set_defaults(run=train)

    e = tag_sub.add_parser("eval", help="accuracy of a trained tagger and of the baseline on a CoNLL-U file")
    e.add_argument("--ckpt", required=True, help="run folder written by `rnnlab tag train`")
    e.add_argument("--data", required=True, help="CoNLL-U file to evaluate on")
    e.add_argument("--column", help="tag column (default: the one the tagger was trained on)")
    e.add_argument("--threads", type=int, default=1, help="BLAS threads (default 1)")
    e.set_defaults(run=evaluate)

    r = tag_sub.add_parser("predict", help="tag plain sentences, printing word/TAG pairs")
    r.add_argument("--ckpt", required=True, help="run folder written by `rnnlab tag train`")
    r.add_argument("sentences", nargs="+", help="sentences in plain text, one argument each")
    r.add_argument("--threads", type=int, default=1, help="BLAS threads (default 1)")
    r.set_defaults(run=predict)


def _read(path: str, column: str) -> tuple[list[list[str]], list[list[str]]]:
    from rnnlab.data.conllu import read_conllu

    if column not in ("upos", "xpos"):
        raise invalid_argument("--column", "'upos' or 'xpos'", column)
    if not Path(path).is_file():
        raise RnnlabError(f"{path}: no such file")
    sentences = read_conllu(path, column=column)
    return [words for words, _ in sentences], [tags for _, tags in sentences]


def _limits(threads: int):
    from threadpoolctl import threadpool_limits

    if threads < 1:
        raise invalid_argument("--threads", "a positive integer", threads)
    return threadpool_limits(threads)


def train(args: argparse.Namespace) -> int:
    from rnnlab.tasks.tag import SequenceTagger

    out = Path(args.out)
    if (out / "best.json").exists() and not args.force:
        raise RnnlabError(f"{out}: a checkpoint is already there; pass --force to overwrite it or pick a new --out")
    words, tags = _read(args.data, args.column)
    val_words, val_tags = _read(args.val, args.column) if args.val else (None, None)
    tagger = SequenceTagger(minutes=args.minutes, max_epochs=args.epochs, patience=args.patience,
                            hidden_size=args.hidden_size, batch_size=args.batch_size, lr=args.lr,
                            val_fraction=args.val_fraction, seed=args.seed)
    out.mkdir(parents=True, exist_ok=True)
    log = out / "log.jsonl"
    log.unlink(missing_ok=True)
    with _limits(args.threads):
        tagger.fit(words, tags, val_words, val_tags, log_path=log, progress=not args.quiet)
    path = tagger.save(out, info={"data": str(args.data), "val": args.val, "column": args.column})
    print(f"trained {len(tagger.history_)} epochs in {tagger.train_seconds_:.1f} s; best validation accuracy "
          f"{tagger.best_val_accuracy_:.4f}; {len(tagger.words_) - 2} words, {len(tagger.tags_)} tags; saved {path}")
    return 0


def _percent(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{100 * value:.2f}%"


def evaluate(args: argparse.Namespace) -> int:
    from rnnlab.tasks.tag import SequenceTagger

    tagger = SequenceTagger.load(args.ckpt)
    words, tags = _read(args.data, args.column or tagger.info_.get("column", "upos"))
    with _limits(args.threads):
        scores = tagger.evaluate(words, tags)
    print(f"{'':24s} {'all words':>10s} {'OOV words':>10s}")
    print(f"{'tokens':24s} {scores['tokens']:>10d} {scores['oov_tokens']:>10d}")
    print(f"{'bi-LSTM tagger':24s} {_percent(scores['accuracy']):>10s} {_percent(scores['oov_accuracy']):>10s}")
    print(f"{'most-frequent-tag':24s} {_percent(scores['baseline_accuracy']):>10s} "
          f"{_percent(scores['baseline_oov_accuracy']):>10s}")
    return 0


def predict(args: argparse.Namespace) -> int:
    from rnnlab.tasks.tag import SequenceTagger, tokenize

    tagger = SequenceTagger.load(args.ckpt)
    sentences = [tokenize(text) for text in args.sentences]
    for index, words in enumerate(sentences):
        if not words:
            raise RnnlabError(f"sentence {index + 1} ({args.sentences[index]!r}) has no words to tag")
    with _limits(args.threads):
        predicted = tagger.predict(sentences)
    for words, tags in zip(sentences, predicted, strict=True):
        print(" ".join(f"{word}/{tag}" for word, tag in zip(words, tags, strict=True)))
    return 0

"""`rnnlab tag train|eval|predict`: part-of-speech tagging with a word + character bi-LSTM.

    rnnlab tag train --data TRAIN.conllu --out RUN [--val VAL.conllu] [--column upos|xpos] [settings...]
    rnnlab tag train --resume RUN [--epochs N] [--minutes M]
    rnnlab tag eval --ckpt RUN --data TEST.conllu [--json [FILE]]
    rnnlab tag predict --ckpt RUN "I eat apples" ["Another sentence." ...] [--json [FILE]]

`predict` takes plain sentences (or `--data`, a text file with one sentence a line) and splits
them into words with `rnnlab.tasks.tag.tokenize`, a small regex: punctuation marks become words
of their own and the clitics n't, 's, 'm, 're, 've, 'll, 'd split off their host ("don't" ->
"do n't"), as in English treebanks.
"""

from __future__ import annotations

import argparse
import functools
import math
from pathlib import Path

from rnnlab.cli.common import (
    Output,
    add_ckpt,
    add_encoding,
    add_json,
    add_settings,
    add_threads,
    add_train_flags,
    add_tune,
    build,
    check_train_args,
    given_settings,
    load_run,
    saved_encoding,
    search,
)
from rnnlab.errors import RnnlabError
from rnnlab.tasks.tag_config import TagConfig

COLUMNS = ("upos", "xpos")
BUDGETS = ("epochs", "minutes")


def register(sub) -> None:
    p = sub.add_parser("tag", help="part-of-speech tagging: train, evaluate, predict")
    tag_sub = p.add_subparsers(dest="verb", metavar="VERB", required=True)

    t = tag_sub.add_parser("train", help="train a tagger on a CoNLL-U file")
    add_train_flags(t, "training CoNLL-U file", BUDGETS)
    t.add_argument("--val", help="validation CoNLL-U file (default: hold out --val-fraction of --data)")
    t.add_argument("--column", choices=COLUMNS, help="tag column: upos or xpos (default upos)")
    add_settings(t, TagConfig)
    add_tune(t)
    t.set_defaults(run=train)

    e = tag_sub.add_parser("eval", help="accuracy of a trained tagger and of the baseline on a CoNLL-U file")
    add_ckpt(e)
    e.add_argument("--data", required=True, help="CoNLL-U file to evaluate on")
    add_encoding(e)
    e.add_argument("--column", choices=COLUMNS, help="tag column (default: the one the tagger was trained on)")
    add_json(e)
    add_threads(e)
    e.set_defaults(run=evaluate)

    r = tag_sub.add_parser("predict", help="tag plain sentences, printing word/TAG pairs")
    add_ckpt(r)
    r.add_argument("sentences", nargs="*", help="sentences in plain text, one argument each")
    r.add_argument("--data", help="a UTF-8 text file of sentences to tag instead, one a line")
    add_encoding(r)
    add_json(r)
    add_threads(r)
    r.set_defaults(run=predict)


def _read(path: str, column: str) -> tuple[list[list[str]], list[list[str]]]:
    from rnnlab.data.conllu import read_conllu

    sentences = read_conllu(path, column=column)  # a missing path or a folder: said by the reader
    return [words for words, _ in sentences], [tags for _, tags in sentences]


def train(args: argparse.Namespace) -> int:
    from rnnlab.tasks.runs import RunFolder
    from rnnlab.tasks.tag import SequenceTagger

    settings = given_settings(args, TagConfig)
    check_train_args(args, settings, BUDGETS, data_flags=("val", "column", "tune"))
    if args.resume:
        run = RunFolder(args.resume, resume=True)
        tagger = build(functools.partial(SequenceTagger.resume, args.resume), settings)
        info = tagger.info_
        if not info.get("data"):
            raise RnnlabError(f"{args.resume}: the run was trained from Python, not on a file; resume it with "
                              f"SequenceTagger.resume")
    else:
        tagger = build(SequenceTagger, settings)
        run = RunFolder(args.out, force=args.force)
        info = {"data": str(Path(args.data).resolve()), "val": args.val and str(Path(args.val).resolve()),
                "column": args.column or "upos", "encoding": args.encoding}
    with saved_encoding(args, info):
        words, tags = _read(info["data"], info["column"])
        val_words, val_tags = _read(info["val"], info["column"]) if info["val"] else (None, None)
    output = Output(None, args.quiet)
    tuning = search(tagger, words, tags, "tag", settings, output) if args.tune else None
    output.note(str(tagger.config))
    try:
        tagger.fit(words, tags, val_words, val_tags, run_dir=run, progress=not args.quiet, info=info)
        if tuning is not None:
            run.write_json("tuning.json", tuning.to_json())
    except BaseException:
        run.discard()
        raise
    output.say(f"trained to step {tagger.history_[-1]['step']} ({len(tagger.history_)} evaluations, one an epoch) "
               f"in {tagger.train_seconds_:.1f} s; best validation accuracy "
               f"{tagger.best_val_accuracy_:.4f}; {len(tagger.words_) - 2} words, {len(tagger.tags_)} tags; "
               f"saved {run.final / 'best.json'}")
    return 0


def _percent(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{100 * value:.2f}%"


def evaluate(args: argparse.Namespace) -> int:
    from rnnlab.tasks.tag import SequenceTagger

    tagger = load_run(SequenceTagger, args)
    words, tags = _read(args.data, args.column or tagger.info_.get("column", "upos"))
    scores = tagger.evaluate(words, tags)
    output, baseline = Output(args.json), scores["baselines"]["most_frequent_tag"]
    output.say(f"{'':24s} {'all words':>10s} {'OOV words':>10s}")
    output.say(f"{'tokens':24s} {scores['tokens']:>10d} {scores['oov_tokens']:>10d}")
    output.say(f"{'bi-LSTM tagger':24s} {_percent(scores['accuracy']):>10s} {_percent(scores['oov_accuracy']):>10s}")
    output.say(f"{'most-frequent-tag':24s} {_percent(baseline['accuracy']):>10s} "
               f"{_percent(baseline['oov_accuracy']):>10s}")
    output.result({"task": "tag", "command": "eval", "ckpt": str(args.ckpt), "data": str(args.data), **scores})
    return 0


def _sentences(args: argparse.Namespace) -> list[str]:
    from rnnlab.data.files import check_file
    from rnnlab.data.text import read_text

    if args.data and args.sentences:
        raise RnnlabError("give sentences as arguments or --data FILE, not both")
    if args.data:
        check_file(Path(args.data))
        lines = [line for line in read_text(args.data).splitlines() if line.strip()]
        if not lines:
            raise RnnlabError(f"{args.data}: no sentences in the file")
        return lines
    if not args.sentences:
        raise RnnlabError("no sentences to tag: give them as arguments or --data FILE")
    return args.sentences


def predict(args: argparse.Namespace) -> int:
    from rnnlab.tasks.tag import SequenceTagger, tokenize

    texts = _sentences(args)
    tagger = load_run(SequenceTagger, args)
    sentences = [tokenize(text) for text in texts]
    for index, words in enumerate(sentences):
        if not words:
            raise RnnlabError(f"sentence {index + 1} ({texts[index]!r}) has no words to tag")
    predicted = tagger.predict(sentences)
    output = Output(args.json)
    for words, tags in zip(sentences, predicted, strict=True):
        output.say(" ".join(f"{word}/{tag}" for word, tag in zip(words, tags, strict=True)))
    document = {"task": "tag", "command": "predict", "ckpt": str(args.ckpt)} | ({"data": args.data} if args.data
                                                                                 else {})
    output.result(document | {"predictions": [{"words": w, "tags": t}
                                              for w, t in zip(sentences, predicted, strict=True)]})
    return 0

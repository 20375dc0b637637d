"""`rnnlab seq2seq train|eval|predict`: sequence to sequence with attention, greedy or beam search.

    rnnlab seq2seq train --data TRAIN.tsv --out RUN [--val DEV.tsv] [settings...]
    rnnlab seq2seq train --resume RUN [--epochs N] [--minutes M]
    rnnlab seq2seq eval --ckpt RUN --data TEST.tsv [--beam N] [--length-penalty A] [--json [FILE]]
    rnnlab seq2seq predict --ckpt RUN SOURCE [SOURCE ...] [--data FILE] [--beam N] [--plot FILE.png] [--json [FILE]]

Data files hold one (source, target) pair a line, separated by a tab (`.tsv`, or any other name) or as a
two-column CSV (`.csv`, optional header `source,target`). A source on several lines has several acceptable
targets (the words of a pronouncing dictionary): a prediction is right when it equals any of them.
"""

from __future__ import annotations

import argparse
import functools
from pathlib import Path

from rnnlab import checks
from rnnlab.argparsing import checked, output_file
from rnnlab.cli.common import (
    Output,
    add_ckpt,
    add_encoding,
    add_json,
    add_settings,
    add_threads,
    add_train_flags,
    build,
    check_train_args,
    given_settings,
    load_run,
    saved_encoding,
)
from rnnlab.errors import RnnlabError
from rnnlab.tasks.seq2seq_config import Seq2SeqConfig

BUDGETS = ("epochs", "minutes")
ATTENTION_PANELS = 6  # validation sources drawn in a run's attention.png


def register(sub) -> None:
    p = sub.add_parser("seq2seq", help="sequence to sequence with attention: train, evaluate, predict")
    verbs = p.add_subparsers(dest="verb", metavar="VERB", required=True)

    t = verbs.add_parser("train", help="train an encoder-decoder on (source, target) pairs")
    add_train_flags(t, "training pairs: TSV (source<TAB>target) or two-column CSV", BUDGETS)
    t.add_argument("--val", help="validation pairs (default: hold out --val-fraction of the sources of --data)")
    add_settings(t, Seq2SeqConfig)
    t.set_defaults(run=train)

    e = verbs.add_parser("eval", help="exact match and error rates of a trained model on a file of pairs")
    add_ckpt(e)
    e.add_argument("--data", required=True, help="pairs to evaluate on (TSV or CSV)")
    add_encoding(e)
    _add_search(e)
    add_json(e)
    add_threads(e)
    e.set_defaults(run=evaluate)

    r = verbs.add_parser("predict", help="decode sources given as arguments or in a file")
    add_ckpt(r)
    r.add_argument("sources", nargs="*", help="source sequences, one argument each")
    r.add_argument("--data", help="a text file of sources to decode instead, one a line")
    add_encoding(r)
    _add_search(r)
    r.add_argument("--plot", type=output_file, metavar="FILE.png",
                   help="write the attention alignments of the (first 12) predictions as a PNG image here")
    add_json(r)
    add_threads(r)
    r.set_defaults(run=predict)


def _add_search(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--beam", type=checked(int, checks.beam), default=1,
                        help=f"beam width, 1 to {checks.MAX_BEAM} (default 1: greedy decoding)")
    parser.add_argument("--length-penalty", type=checked(float, checks.length_penalty), default=1.0,
                        help="beam search ranks finished outputs by log-probability / length ** A, A in [0, 10] "
                        "(default 1.0; 0: no normalisation)")


def _read(path: str, min_pairs: int = 1) -> tuple[list[str], list[str]]:
    from rnnlab.data.pairs import read_pairs

    pairs = read_pairs(path, min_pairs=min_pairs)  # a missing path, a folder, a bad line: said by the reader
    return [s for s, _ in pairs], [t for _, t in pairs]


def train(args: argparse.Namespace) -> int:
    from rnnlab.diagnostics.attention import plot_alignments
    from rnnlab.tasks.runs import RunFolder
    from rnnlab.tasks.seq2seq import Seq2Seq

    settings = given_settings(args, Seq2SeqConfig)
    check_train_args(args, settings, BUDGETS, data_flags=("val",))
    if args.resume:
        run = RunFolder(args.resume, resume=True)
        model = build(functools.partial(Seq2Seq.resume, args.resume), settings)
        info = model.info_
        if not info.get("data"):
            raise RnnlabError(f"{args.resume}: the run was trained from Python, not on a file; resume it with "
                              f"Seq2Seq.resume")
    else:
        model = build(Seq2Seq, settings)
        run = RunFolder(args.out, force=args.force)
        info = {"data": str(Path(args.data).resolve()), "val": args.val and str(Path(args.val).resolve()),
                "encoding": args.encoding}
    with saved_encoding(args, info):
        sources, targets = _read(info["data"], min_pairs=1 if info["val"] else 2)
        val_sources, val_targets = _read(info["val"]) if info["val"] else (None, None)
    if not info["val"] and len(set(sources)) < 2:  # (said here in the user's terms, not as fit's `sources`)
        raise RnnlabError(f"{info['data']}: every pair has the same source, but training holds some sources out "
                          f"for validation: give at least 2 distinct sources, or --val FILE")
    output = Output(None, args.quiet)
    output.note(str(model.config))
    try:
        model.fit(sources, targets, val_sources, val_targets, run_dir=run, progress=not args.quiet, info=info)
        shown = model.val_sources_[:ATTENTION_PANELS]
        plot_alignments(run.path / "attention.png", model.decode(shown), "attention of the best model on "
                        "validation sources (greedy)")
    except BaseException:
        run.discard()
        raise
    evaluations = _count(len(model.history_), "evaluation")
    output.say(f"trained to step {model.history_[-1]['step']} ({evaluations}, one an epoch) "
               f"in {model.train_seconds_:.1f} s; best validation exact match {model.best_val_exact_match_:.4f}; "
               f"{len(model.source_vocab_) - 2} source and {len(model.target_vocab_) - 4} target tokens; "
               f"saved {run.final / 'best.json'} and attention.png")
    return 0


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def _percent(value: float) -> str:
    return f"{100 * value:6.2f}%"


def evaluate(args: argparse.Namespace) -> int:
    from rnnlab.tasks.seq2seq import Seq2Seq

    model = load_run(Seq2Seq, args)
    sources, targets = _read(args.data)
    scores = model.evaluate(sources, targets, beam=args.beam, length_penalty=args.length_penalty)
    output = Output(args.json)
    search = "greedy" if args.beam == 1 else f"beam {args.beam}, length penalty {args.length_penalty:g}"
    output.say(f"{scores['sequences']} distinct sources ({len(sources)} pairs), {search}")
    output.say(f"exact match       {_percent(scores['exact_match'])}")
    output.say(f"sequence errors   {_percent(scores['sequence_error_rate'])}")
    output.say(f"token error rate  {_percent(scores['token_error_rate'])}")
    if "bleu" in scores:
        output.say(f"char error rate   {_percent(scores['char_error_rate'])}")
        output.say(f"BLEU {scores['bleu']:.2f}   chrF {scores['chrf']:.2f}")
    output.say(f"{'source length':>13s} {'sources':>8s} {'exact':>8s} {'token err':>10s}")
    for row in scores["by_length"]:
        output.say(f"{row['length']:>13s} {row['sequences']:>8d} {_percent(row['exact_match']):>8s} "
                   f"{_percent(row['token_error_rate']):>10s}")
    output.result({"task": "seq2seq", "command": "eval", "ckpt": str(args.ckpt), "data": str(args.data), **scores})
    return 0


def _sources(args: argparse.Namespace) -> list[str]:
    from rnnlab.data.files import read_text_file

    if args.data and args.sources:
        raise RnnlabError("give sources as arguments or --data FILE, not both")
    if args.data:  # (an empty file: "FILE: empty file", not a corpus)
        lines = [line.strip() for line in read_text_file(args.data).splitlines() if line.strip()]
        if not lines:
            raise RnnlabError(f"{args.data}: no sources in the file")
        return lines
    if not args.sources:
        raise RnnlabError("no sources to decode: give them as arguments or --data FILE")
    for index, source in enumerate(args.sources):
        if not source.strip():
            raise RnnlabError(f"source {index + 1} is empty")
    return args.sources


def predict(args: argparse.Namespace) -> int:
    from rnnlab.diagnostics.attention import MAX_PANELS, plot_alignments
    from rnnlab.tasks.seq2seq import Seq2Seq

    sources = _sources(args)
    model = load_run(Seq2Seq, args)
    decoded = model.decode(sources, beam=args.beam, length_penalty=args.length_penalty)
    output = Output(args.json)
    for source, d in zip(sources, decoded, strict=True):
        output.say(f"{source}\t{d.text}")
    if args.plot:
        plot_alignments(args.plot, decoded, "attention" + ("" if args.beam == 1 else f" (beam {args.beam})"))
        more = f" (the first {MAX_PANELS} of {len(sources)})" if len(sources) > MAX_PANELS else ""
        output.say(f"saved {args.plot}{more}")
    document = {"task": "seq2seq", "command": "predict", "ckpt": str(args.ckpt), "beam": args.beam}
    output.result(document | {"predictions": [{"source": s, "output": d.text,
                                               "log_prob": d.log_prob, "score": d.score}
                                              for s, d in zip(sources, decoded, strict=True)]})
    return 0

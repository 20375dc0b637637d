"""`rnnlab classify train|eval|predict`: sequence classification from the command line.

    rnnlab classify train --data PATH --out RUN [--test PATH | --test-fraction F] [data flags] [settings...]
    rnnlab classify train --resume RUN [--epochs N] [--minutes M]
    rnnlab classify eval --ckpt RUN --data PATH [--json [FILE]] [--plot FILE.png]
    rnnlab classify predict --ckpt RUN [TEXTS...] [--data PATH] [--top-k K] [--json [FILE]]

The settings flags of `train` come from `ClassifyConfig` (`add_settings`); this module adds the data
flags. `train` prints the test figures beside the baselines and writes metrics.json and confusion.png
into the run folder.
"""

from __future__ import annotations

import argparse
import functools
from pathlib import Path
from typing import Any

import numpy as np

from rnnlab import checks
from rnnlab.cli.common import (
    Output,
    add_ckpt,
    add_encoding,
    add_json,
    add_plot,
    add_settings,
    add_threads,
    add_train_flags,
    add_tune,
    build,
    check_train_args,
    checked,
    given_settings,
    load_run,
    saved_encoding,
    search,
)
from rnnlab.errors import InvalidArgument, RnnlabError
from rnnlab.tasks.classify_config import ClassifyConfig

BUDGETS = ("epochs", "minutes")
DEFAULT_TEST_FRACTION = 0.1


def register(sub) -> None:
    p = sub.add_parser("classify", help="classify whole sequences: names, CSV text, UCR/UEA series, images by row")
    verbs = p.add_subparsers(dest="verb", metavar="VERB", required=True)

    t = verbs.add_parser("train", help="train, evaluate on held-out data beside baselines, save a run folder")
    add_train_flags(t, "training data (class folder, .csv, .ts, IDX images, .npz)", BUDGETS)
    t.add_argument("--test", help="test data in the same format (default: a stratified --test-fraction of --data)")
    t.add_argument("--test-fraction", type=float, help=f"share of --data held out for testing when no --test "
                   f"(default {DEFAULT_TEST_FRACTION})")
    _columns(t)
    t.add_argument("--keep-duplicates", action="store_true",
                   help="keep repeated (text, label) pairs (default: drop them before splitting)")
    t.add_argument("--no-nn", action="store_true", help="skip the 1-NN Euclidean / DTW baselines on series")
    add_tune(t)
    add_settings(t, ClassifyConfig)
    t.set_defaults(run=_train)

    e = verbs.add_parser("eval", help="evaluate a run on labelled data")
    add_ckpt(e)
    e.add_argument("--data", required=True, help="labelled data in any supported format")
    add_encoding(e)
    _columns(e)
    add_json(e)
    add_plot(e, "the confusion matrix")
    add_threads(e)
    e.set_defaults(run=_eval)

    r = verbs.add_parser("predict", help="top-k classes with probabilities for texts or series")
    add_ckpt(r)
    r.add_argument("texts", nargs="*", help="texts to classify (text models)")
    r.add_argument("--data", help="a file of sequences to classify instead (any supported format)")
    add_encoding(r)
    r.add_argument("--top-k", type=checked(int, checks.positive_int), default=3,
                   help="classes to show per input (default 3)")
    _columns(r)
    add_json(r)
    add_threads(r)
    r.set_defaults(run=_predict)


def _columns(p: argparse.ArgumentParser) -> None:
    p.add_argument("--text-column", help="CSV text column (default: text; eval and predict: the run's)")
    p.add_argument("--label-column", help="CSV label column (default: label; eval and predict: the run's)")


def _read(path: str, source: dict[str, Any]):
    from rnnlab.data.datasets import load_dataset

    return load_dataset(path, source.get("text_column") or "text", source.get("label_column") or "label")


def _split(source: dict[str, Any], seed: int, out: Output) -> dict[str, Any]:
    """Read and split the data as `source` says: deduplicate, then --test or a stratified --test-fraction."""
    from rnnlab.data.datasets import deduplicate, stratified_split

    data = _read(source["data"], source)
    inputs, labels = data.inputs, data.labels
    if data.kind == "text" and not source["keep_duplicates"]:
        inputs, labels = deduplicate(inputs, labels)
        out.say(f"data: {source['data']}: {len(data)} examples, {len(labels)} after removing repeated "
                f"(text, label) pairs")
    if source["test"]:
        test = _read(source["test"], source)
        if test.kind != data.kind:
            raise RnnlabError(f"{source['test']}: holds {test.kind} data, but {source['data']} holds {data.kind}")
        unseen = sorted(set(test.labels.tolist()) - set(labels.tolist()))
        if unseen:
            raise RnnlabError(f"{source['test']}: label {unseen[0]!r} does not occur in the training data "
                              f"{source['data']}")
        split = (inputs, labels, test.inputs, test.labels)
    else:
        kept, held = stratified_split(labels, source["test_fraction"], seed)
        if len(held) == 0:  # (a class with a single example keeps it for training)
            raise RnnlabError(f"{source['data']}: {len(labels)} example(s), no class with two or more, so "
                              f"--test-fraction holds none out for testing; give more data or --test PATH")
        split = ([inputs[i] for i in kept], labels[kept], [inputs[i] for i in held], labels[held])
    return {"kind": data.kind, "train_X": split[0], "train_y": split[1], "test_X": split[2], "test_y": split[3]}


def _train(args: argparse.Namespace) -> int:
    from rnnlab.baselines.classification import baseline_scores
    from rnnlab.tasks.classify import SequenceClassifier
    from rnnlab.tasks.runs import RunFolder

    settings = given_settings(args, ClassifyConfig)
    check_train_args(args, settings, BUDGETS, data_flags=("test", "test_fraction", "text_column", "label_column",
                                                          "keep_duplicates", "tune"))
    out = Output(None, args.quiet)
    if args.resume:
        clf = build(functools.partial(SequenceClassifier.resume, args.resume), settings)
        if clf.data_source_ is None:
            raise RnnlabError(f"{args.resume}: the run was trained from Python, not on a file; resume it with "
                              f"SequenceClassifier.resume")
        run, source = RunFolder(args.resume, resume=True), clf.data_source_
    else:
        clf = build(SequenceClassifier, settings)
        fraction = DEFAULT_TEST_FRACTION if args.test_fraction is None else args.test_fraction
        if not args.test and not 0 < fraction < 1:
            raise InvalidArgument("--test-fraction", "a number in (0, 1)", fraction)
        run = RunFolder(args.out, force=args.force)
        # absolute paths, so that --resume reads the same files from any working folder
        source = {"data": str(Path(args.data).absolute()), "test": args.test and str(Path(args.test).absolute()),
                  "test_fraction": None if args.test else fraction,
                  "text_column": args.text_column, "label_column": args.label_column,
                  "keep_duplicates": args.keep_duplicates, "encoding": args.encoding}
    with saved_encoding(args, source):
        data = _split(source, clf.seed, out)
    out.say(f"train {len(data['train_y'])}, test {len(data['test_y'])} ({data['kind']}, "
            f"{len(np.unique(data['train_y']))} classes)")
    tuning = (search(clf, data["train_X"], data["train_y"], data["kind"], settings, out, nearest=not args.no_nn)
              if args.tune else None)
    out.note(str(clf.config.for_kind(data["kind"], len(data["train_y"]))))
    try:
        clf.fit(data["train_X"], data["train_y"], run_dir=run, progress=not args.quiet, source=source)
        if tuning is not None:
            run.write_json("tuning.json", tuning.to_json())
        result = clf.evaluate(data["test_X"], data["test_y"])
        result["baselines"] = baseline_scores(data["kind"], data["train_X"], data["train_y"], data["test_X"],
                                              data["test_y"], nearest=not args.no_nn)
        search_seconds = 0.0 if tuning is None else tuning.seconds
        _report(result, out, clf.train_seconds_ + search_seconds)
        document = {"task": "classify", "command": "train", "data": source["data"], "test": source["test"],
                    **result, "train_seconds": round(clf.train_seconds_ + search_seconds, 1)}
        if tuning is not None:
            document |= {"search_seconds": round(search_seconds, 1), "chosen": tuning.best_params}
        run.write_json("metrics.json", document)
        _plot(run.path / "confusion.png", result, f"{Path(source['data']).name}: test accuracy "
                                                   f"{result['accuracy']:.3f}")
    except BaseException:
        run.discard()
        raise
    out.say(f"saved {run.path}/best.safetensors, best.json, latest.*, log.jsonl, metrics.json, confusion.png")
    return 0


def _load(args: argparse.Namespace):
    """The run's best model, and the reading options for --data: those typed, else the run's."""
    from rnnlab.tasks.classify import SequenceClassifier

    clf = load_run(SequenceClassifier, args)
    saved = clf.data_source_ or {}
    columns = {k: getattr(args, k) or saved.get(k) for k in ("text_column", "label_column")}
    return clf, columns


def _eval(args: argparse.Namespace) -> int:
    out = Output(args.json, quiet=False)
    clf, columns = _load(args)
    data = _read(args.data, columns)
    _warn_unknown(clf, data.inputs, out)
    result = clf.evaluate(data.inputs, data.labels)
    _report(result, out)
    if args.plot:
        _plot(Path(args.plot), result, Path(args.data).name)
        out.say(f"saved {args.plot}")
    out.result({"task": "classify", "command": "eval", "ckpt": args.ckpt, "data": args.data, **result})
    return 0


def _predict(args: argparse.Namespace) -> int:
    out = Output(args.json, quiet=False)
    clf, columns = _load(args)
    if args.data:
        data = _read(args.data, columns)
        inputs = data.inputs
        names: list = list(inputs) if data.kind == "text" else list(range(len(inputs)))
    elif args.texts:
        if clf.kind_ != "text":
            raise RnnlabError(f"{args.ckpt}: this model classifies numeric series; pass them with --data FILE")
        inputs = names = args.texts
    else:
        raise RnnlabError("nothing to classify: give texts or --data FILE")
    _warn_unknown(clf, inputs, out)
    best = clf.top_k(inputs, args.top_k)
    predictions = []
    for name, pairs in zip(names, best, strict=True):
        out.say(f"{name if isinstance(name, str) else f'#{name}'}: " +
                ", ".join(f"{label} {p:.3f}" for label, p in pairs))
        predictions.append({"input": name, "labels": [label for label, _ in pairs],
                            "probabilities": [p for _, p in pairs]})
    out.result({"task": "classify", "command": "predict", "ckpt": args.ckpt,
                **({"data": args.data} if args.data else {}), "predictions": predictions})
    return 0


def _warn_unknown(clf, inputs, out: Output) -> None:
    unknown = clf.unknown_characters(inputs) if clf.kind_ == "text" else []
    if unknown:
        out.say(f"note: characters not seen in training read as <unk>: {' '.join(map(repr, unknown[:10]))}")


def _report(result: dict, out: Output, seconds: float | None = None) -> None:
    """The per-class table, the confusion matrix, then the model's figures (and the baselines') on one line each.

    The table covers the classes present in the labels or the predictions, as `macro_f1` does.
    """
    from rnnlab.baselines.classification import BASELINE_NAMES
    from rnnlab.metrics.classification import classification_report

    matrix, classes = np.array(result["confusion"]), result["classes"]
    present = np.flatnonzero(matrix.sum(axis=0) + matrix.sum(axis=1))  # classes in the labels or predictions
    counts = matrix[np.ix_(present, present)]  # (P, P): nothing is lost, the others' rows and columns are 0
    true, predicted = np.divmod(np.repeat(np.arange(counts.size), counts.ravel()), len(present))  # one per example
    out.say(classification_report(true, predicted, [classes[i] for i in present]))
    out.say("confusion matrix (rows true, columns predicted):")
    out.say(format_confusion(matrix, classes))
    timing = f"  (trained in {seconds:.1f} s)" if seconds is not None else ""
    out.say(f"{'model':28s} accuracy {result['accuracy']:.4f}  macro-F1 {result['macro_f1']:.4f}{timing}")
    for key, score in result.get("baselines", {}).items():
        name = BASELINE_NAMES[key]
        out.say(f"{name:28s} accuracy {score['accuracy']:.4f}  macro-F1 {score['macro_f1']:.4f}")


def format_confusion(matrix: np.ndarray, classes: list[str]) -> str:
    """The (C, C) matrix as aligned text, rows labelled with class names, columns with their indices."""
    width = max(3, len(str(int(matrix.max()))) + 1)
    name_width = min(12, max(len(c) for c in classes))
    lines = [" " * (name_width + 5) + "".join(f"{j:>{width}d}" for j in range(len(classes)))]
    for i, name in enumerate(classes):
        lines.append(f"{name[:name_width]:>{name_width}s} {i:>3d} " + "".join(f"{v:>{width}d}" for v in matrix[i]))
    return "\n".join(lines)


def _plot(path: Path, result: dict, title: str) -> None:
    from rnnlab.diagnostics.confusion import plot_confusion_matrix

    plot_confusion_matrix(path, np.array(result["confusion"]), result["classes"], title=title)

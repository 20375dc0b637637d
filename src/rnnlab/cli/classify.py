"""`rnnlab classify train|eval|predict`: sequence classification from the command line."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from rnnlab.errors import RnnlabError


def register(sub) -> None:
    p = sub.add_parser("classify", help="classify whole sequences: names, CSV text, UCR/UEA series, images by row")
    actions = p.add_subparsers(dest="action", required=True)

    t = actions.add_parser("train", help="train, evaluate on held-out data beside baselines, save a run folder")
    t.add_argument("--data", required=True, help="training data (class folder, .csv, .ts, IDX images, .npz)")
    t.add_argument("--test", help="test data in the same format (default: a stratified --test-fraction of --data)")
    t.add_argument("--test-fraction", type=float, default=0.1, help="held out for testing when no --test (0.1)")
    t.add_argument("--out", required=True, help="run folder to create")
    t.add_argument("--force", action="store_true", help="overwrite an existing run folder")
    t.add_argument("--keep-duplicates", action="store_true",
                   help="keep repeated (text, label) pairs (default: drop them before splitting)")
    t.add_argument("--no-nn", action="store_true", help="skip the 1-NN Euclidean / DTW baselines on series")
    _data_columns(t)
    _hyperparameters(t)
    t.set_defaults(run=train)

    e = actions.add_parser("eval", help="evaluate a run on labelled data")
    e.add_argument("--ckpt", required=True, help="run folder")
    e.add_argument("--data", required=True, help="labelled data in any supported format")
    e.add_argument("--png", help="write the confusion matrix here (default: no image)")
    _data_columns(e)
    e.set_defaults(run=evaluate)

    q = actions.add_parser("predict", help="top-k classes with probabilities for texts or series")
    q.add_argument("--ckpt", required=True, help="run folder")
    q.add_argument("texts", nargs="*", help="texts to classify (text models)")
    q.add_argument("--data", help="a file of sequences to classify instead (any supported format)")
    q.add_argument("--top-k", type=int, default=3, help="classes to show per input (3)")
    _data_columns(q)
    q.set_defaults(run=predict)


def _data_columns(p: argparse.ArgumentParser) -> None:
    p.add_argument("--text-column", default="text", help="CSV text column (text)")
    p.add_argument("--label-column", default="label", help="CSV label column (label)")


def _hyperparameters(p: argparse.ArgumentParser) -> None:
    from rnnlab.tasks.classify import ClassifierConfig

    defaults = ClassifierConfig()
    p.add_argument("--cell", default=defaults.cell, choices=["rnn", "rnn_relu", "lstm", "gru"])
    p.add_argument("--hidden-size", type=int, default=defaults.hidden_size)
    p.add_argument("--layers", type=int, default=defaults.num_layers)
    p.add_argument("--bidirectional", action=argparse.BooleanOptionalAction, default=defaults.bidirectional)
    p.add_argument("--embedding-dim", type=int, default=defaults.embedding_dim)
    p.add_argument("--pooling", default=defaults.pooling, choices=["last", "mean", "max"])
    p.add_argument("--dropout", type=float, default=defaults.dropout)
    p.add_argument("--char-dropout", type=float, default=defaults.char_dropout,
                   help="text: probability of reading a training character as <unk>")
    p.add_argument("--lr", type=float, default=defaults.lr)
    p.add_argument("--batch-size", type=int, default=defaults.batch_size)
    p.add_argument("--epochs", type=int, default=defaults.epochs)
    p.add_argument("--patience", type=int, default=defaults.patience)
    p.add_argument("--val-fraction", type=float, default=defaults.validation_fraction)
    p.add_argument("--monitor", default=defaults.monitor, choices=["val_loss", "val_accuracy", "val_macro_f1"])
    p.add_argument("--class-weight", choices=["balanced", "sqrt"], default=defaults.class_weight)
    p.add_argument("--minutes", type=float, default=defaults.minutes, help="training time limit per net")
    p.add_argument("--ensemble", type=int, default=defaults.ensemble, help="nets to train and average (1)")
    p.add_argument("--seed", type=int, default=defaults.seed)


def _load(path: str, args: argparse.Namespace):
    from rnnlab.tasks.classify_data import load_dataset

    return load_dataset(path, args.text_column, args.label_column)


def train(args: argparse.Namespace) -> int:
    from threadpoolctl import threadpool_limits

    from rnnlab.tasks.classify import SequenceClassifier
    from rnnlab.tasks.classify_data import baselines, deduplicate, stratified_split

    if not args.test and not 0 < args.test_fraction < 1:
        raise RnnlabError(f"Received an invalid value for argument `--test-fraction`, expected a number in (0, 1), "
                          f"got {args.test_fraction}.")
    out = Path(args.out)
    if out.exists() and any(out.iterdir()) and not args.force:
        raise RnnlabError(f"{out}: run folder exists and is not empty; pass --force or choose another --out")
    data = _load(args.data, args)
    inputs, labels = data.inputs, data.labels
    if data.kind == "text" and not args.keep_duplicates:
        before = len(labels)
        inputs, labels = deduplicate(inputs, labels)
        print(f"data: {args.data}: {before} examples, {len(labels)} after removing repeated (text, label) pairs")
    if args.test:
        test = _load(args.test, args)
        train_X, train_y, test_X, test_y = inputs, labels, test.inputs, test.labels
    else:
        kept, held = stratified_split(labels, args.test_fraction, args.seed)
        train_X, train_y = [inputs[i] for i in kept], labels[kept]
        test_X, test_y = [inputs[i] for i in held], labels[held]
    clf = SequenceClassifier(
        cell=args.cell, hidden_size=args.hidden_size, num_layers=args.layers, bidirectional=args.bidirectional,
        embedding_dim=args.embedding_dim, pooling=args.pooling, dropout=args.dropout, char_dropout=args.char_dropout,
        lr=args.lr, batch_size=args.batch_size, epochs=args.epochs, patience=args.patience,
        validation_fraction=args.val_fraction, monitor=args.monitor, class_weight=args.class_weight,
        minutes=args.minutes, ensemble=args.ensemble, seed=args.seed)
    print(f"train {len(train_y)}, test {len(test_y)} ({data.kind}, {len(np.unique(train_y))} classes)")
    print(clf.config)
    with threadpool_limits(1):
        started = time.perf_counter()
        clf.fit(train_X, train_y)
        seconds = time.perf_counter() - started
        result = clf.evaluate(test_X, test_y)
        scores = baselines(data.kind, train_X, train_y, test_X, test_y, nearest=not args.no_nn)
    result["baselines"], result["train_seconds"] = scores, round(seconds, 1)
    _report(result, seconds)
    out.mkdir(parents=True, exist_ok=True)
    clf.save(out, extra={"data": str(args.data), "test_accuracy": result["accuracy"],
                         "test_macro_f1": result["macro_f1"]})
    _write_outputs(out, result, f"{Path(args.data).name}: test accuracy {result['accuracy']:.3f}")
    print(f"saved {out}/best.safetensors, best.json, metrics.json, confusion.png")
    return 0


def evaluate(args: argparse.Namespace) -> int:
    from rnnlab.tasks.classify import SequenceClassifier

    clf = SequenceClassifier.load(args.ckpt)
    data = _load(args.data, args)
    _warn_unknown(clf, data.inputs)
    result = clf.evaluate(data.inputs, data.labels)
    _report(result, None)
    if args.png:
        from rnnlab.diagnostics.confusion import plot_confusion_matrix

        plot_confusion_matrix(args.png, np.array(result["confusion"]), result["classes"], title=Path(args.data).name)
        print(f"saved {args.png}")
    return 0


def predict(args: argparse.Namespace) -> int:
    from rnnlab.tasks.classify import SequenceClassifier

    if args.top_k < 1:
        raise RnnlabError(f"Received an invalid value for argument `--top-k`, expected a positive integer, "
                          f"got {args.top_k}.")
    clf = SequenceClassifier.load(args.ckpt)
    if args.data:
        inputs = _load(args.data, args).inputs
        names = [f"#{i}" for i in range(len(inputs))]
    elif args.texts:
        if clf.kind_ != "text":
            raise RnnlabError(f"{args.ckpt}: this model classifies numeric series; pass them with --data FILE")
        inputs, names = args.texts, args.texts
    else:
        raise RnnlabError("nothing to classify: give texts or --data FILE")
    _warn_unknown(clf, inputs)
    for name, best in zip(names, clf.top_k(inputs, args.top_k), strict=True):
        print(f"{name}: " + ", ".join(f"{label} {p:.3f}" for label, p in best))
    return 0


def _warn_unknown(clf, inputs) -> None:
    if clf.kind_ == "text":
        unknown = clf.unknown_characters(inputs)
        if unknown:
            print(f"note: characters not seen in training read as <unk>: {' '.join(map(repr, unknown[:10]))}")


def _report(result: dict, seconds: float | None) -> None:
    from rnnlab.clf_metrics import classification_report

    print(classification_report(result["true"], result["predicted"], result["classes"]))
    print("confusion matrix (rows true, columns predicted):")
    print(format_confusion(np.array(result["confusion"]), result["classes"]))
    timing = f"  (trained in {seconds:.1f} s)" if seconds is not None else ""
    print(f"{'model':28s} accuracy {result['accuracy']:.4f}  macro-F1 {result['macro_f1']:.4f}{timing}")
    for name, score in result.get("baselines", {}).items():
        print(f"{name:28s} accuracy {score['accuracy']:.4f}  macro-F1 {score['macro_f1']:.4f}")


def format_confusion(matrix: np.ndarray, classes: list[str]) -> str:
    """The (C, C) matrix as aligned text, rows labelled with class names, columns with their indices."""
    width = max(3, len(str(int(matrix.max()))) + 1)
    name_width = min(12, max(len(c) for c in classes))
    lines = [" " * (name_width + 5) + "".join(f"{j:>{width}d}" for j in range(len(classes)))]
    for i, name in enumerate(classes):
        lines.append(f"{name[:name_width]:>{name_width}s} {i:>3d} " + "".join(f"{v:>{width}d}" for v in matrix[i]))
    return "\n".join(lines)


def _write_outputs(out: Path, result: dict, title: str) -> None:
    from rnnlab.checkpoint import atomic_write_bytes
    from rnnlab.diagnostics.confusion import plot_confusion_matrix

    metrics = {k: v for k, v in result.items() if k not in ("predicted", "true")}
    atomic_write_bytes(out / "metrics.json", (json.dumps(metrics, indent=1) + "\n").encode("utf-8"))
    plot_confusion_matrix(out / "confusion.png", np.array(result["confusion"]), result["classes"], title=title)

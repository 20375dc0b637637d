"""Sequence classification: every figure of issue 6, side by side with its baselines, in one run.

    python benchmarks/classify.py                      # all: surnames, UCR/UEA, MNIST by rows, digits
    python benchmarks/classify.py surnames ucr         # some of them
    python benchmarks/classify.py --json results.json  # also write the table as JSON

Data from $RNNLAB_DATA (default ../shared/data beside the repository); 1 BLAS thread; the
training time printed beside each figure is wall-clock seconds of `fit` alone.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from threadpoolctl import threadpool_limits

from rnnlab.baselines.classification import baseline_scores
from rnnlab.data.datasets import deduplicate, load_dataset, stratified_split
from rnnlab.tasks.classify import SequenceClassifier

DATA = Path(os.environ.get("RNNLAB_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data"))

# Settings found by hand; see docs/classify.md for how (and how much the test splits were looked at).
SURNAMES = dict(cell="gru", hidden_size=192, embedding_dim=64, bidirectional=True, pooling="last", dropout=0.5,
                char_dropout=0.1, lr=2e-3, batch_size=64, epochs=10, patience=8, monitor="val_macro_f1")
UCR_CONFIG = dict(cell="gru", hidden_size=64, bidirectional=True, pooling="max", dropout=0.2, lr=3e-3,
                  batch_size=8, epochs=100, val_fraction=0.0)  # tiny training sets: no early stopping
UCR = {name: UCR_CONFIG for name in ("GunPoint", "ItalyPowerDemand", "JapaneseVowels", "BasicMotions")}
MNIST = dict(cell="lstm", hidden_size=128, bidirectional=False, pooling="last", dropout=0.1, lr=2e-3,
             batch_size=64, epochs=40, patience=8)
DIGITS = dict(cell="gru", hidden_size=128, bidirectional=True, pooling="mean", dropout=0.2, lr=3e-3,
              batch_size=32, epochs=100, patience=20)
NAMES_TO_TRY = ["Dostoevsky", "Nguyen", "Tanaka", "Schmidt", "O'Neill", "Rossi", "Kowalski", "Papadopoulos"]


def fit_and_score(name: str, config: dict, train_X, train_y, test_X, test_y, kind: str, nearest: bool) -> dict:
    clf = SequenceClassifier(**config)
    started = time.perf_counter()
    clf.fit(train_X, train_y, progress=False)
    seconds = time.perf_counter() - started
    result = clf.evaluate(test_X, test_y)
    scores = baseline_scores(kind, train_X, train_y, test_X, test_y, nearest=nearest)
    row = {"task": name, "n_train": len(train_y), "n_test": len(test_y), "accuracy": result["accuracy"],
           "macro_f1": result["macro_f1"], "train_seconds": round(seconds, 1), "epochs": len(clf.history_),
           "baselines": {k: v["accuracy"] for k, v in scores.items()},
           "baseline_macro_f1": {k: v["macro_f1"] for k, v in scores.items()}}
    print(f"{name}: accuracy {row['accuracy']:.4f}, macro-F1 {row['macro_f1']:.4f}, "
          f"{', '.join(f'{k} {v:.4f}' for k, v in row['baselines'].items())}; "
          f"trained {seconds:.1f} s ({row['epochs']} epochs)", flush=True)
    row["model"] = clf
    return row


def surnames() -> list[dict]:
    data = load_dataset(DATA / "names")
    texts, labels = deduplicate(data.inputs, data.labels)
    print(f"surnames: {len(data)} lines, {len(texts)} distinct (name, language) pairs", flush=True)
    kept, held = stratified_split(labels, 0.1, seed=0)
    row = fit_and_score("surnames (18 languages)", SURNAMES, [texts[i] for i in kept], labels[kept],
                        [texts[i] for i in held], labels[held], "text", nearest=False)
    row["target"] = "acc >= 0.82, macro-F1 >= 0.55, < 600 s"
    row["passed"] = row["accuracy"] >= 0.82 and row["macro_f1"] >= 0.55 and row["train_seconds"] < 600
    for name, best in zip(NAMES_TO_TRY, row["model"].top_k(NAMES_TO_TRY, 3), strict=True):
        print(f"  {name:13s} " + ", ".join(f"{label} {p:.2f}" for label, p in best))
    return [row]


def ucr() -> list[dict]:
    rows = []
    for name, config in UCR.items():
        train = load_dataset(DATA / "ucr" / name / f"{name}_TRAIN.ts")
        test = load_dataset(DATA / "ucr" / name / f"{name}_TEST.ts")
        row = fit_and_score(name, config, train.inputs, train.labels, test.inputs, test.labels, "numeric", True)
        row["target"] = "beat 1-NN DTW"
        row["passed"] = row["accuracy"] > row["baselines"]["nn_dtw"]
        rows.append(row)
    wins = sum(row["passed"] for row in rows)
    print(f"UCR/UEA: the RNN beats 1-NN DTW on {wins} of {len(rows)} (target: at least 3)", flush=True)
    return rows


def mnist() -> list[dict]:
    data = load_dataset(DATA / "mnist" / "t10k-images-idx3-ubyte.gz")
    kept, held = stratified_split(data.labels, 0.2, seed=0)
    row = fit_and_score("MNIST by rows (28 x 28)", MNIST, [data.inputs[i] for i in kept], data.labels[kept],
                        [data.inputs[i] for i in held], data.labels[held], "numeric", nearest=False)
    row["target"], row["passed"] = "acc >= 0.97", row["accuracy"] >= 0.97
    return [row]


def digits() -> list[dict]:
    data = load_dataset(DATA / "digits" / "digits.csv.gz")
    kept, held = stratified_split(data.labels, 0.2, seed=0)
    row = fit_and_score("digits by rows (8 x 8)", DIGITS, [data.inputs[i] for i in kept], data.labels[kept],
                        [data.inputs[i] for i in held], data.labels[held], "numeric", nearest=True)
    row["target"], row["passed"] = "acc >= 0.95", row["accuracy"] >= 0.95
    return [row]


TASKS = {"surnames": surnames, "ucr": ucr, "mnist": mnist, "digits": digits}


def table(rows: list[dict]) -> str:
    lines = ["| task | train / test | RNN acc | RNN macro-F1 | majority | 1-NN Eucl. | 1-NN DTW | train s | target "
             "| met |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---|---|"]
    for row in rows:
        base = row["baselines"]
        cells = [f"{base[k]:.3f}" if k in base else "-" for k in ("majority_class", "nn_euclidean", "nn_dtw")]
        lines.append(f"| {row['task']} | {row['n_train']} / {row['n_test']} | {row['accuracy']:.3f} | "
                     f"{row['macro_f1']:.3f} | {' | '.join(cells)} | {row['train_seconds']:.1f} | {row['target']} | "
                     f"{'yes' if row['passed'] else 'NO'} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tasks", nargs="*", metavar="TASK", help=f"any of {', '.join(TASKS)} (default all)")
    parser.add_argument("--json", help="also write the rows as JSON here")
    args = parser.parse_args(argv)
    unknown = [task for task in args.tasks if task not in TASKS]
    if unknown:
        parser.error(f"unknown task {unknown[0]!r}; choose from {', '.join(TASKS)}")
    if not DATA.is_dir():
        print(f"data not found at {DATA}; set RNNLAB_DATA", file=sys.stderr)
        return 2
    rows = []
    with threadpool_limits(1):
        for task in args.tasks or TASKS:
            rows.extend(TASKS[task]())
    print()
    print(table(rows))
    if args.json:
        Path(args.json).write_text(json.dumps([{k: v for k, v in r.items() if k != "model"} for r in rows], indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

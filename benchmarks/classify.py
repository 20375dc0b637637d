"""Sequence classification under the selection protocol: every setting chosen on training data only.

    python benchmarks/classify.py                   # all: UCR/UEA, surnames, digits, MNIST by rows
    python benchmarks/classify.py ucr digits        # some of them
    python benchmarks/classify.py --json out.json   # also write the rows as JSON

The protocol, per data set:
1. Defaults. For the six UCR/UEA sets, the defaults are those chosen by leave-one-data-set-out
   cross-validation on the other five sets' training splits (benchmarks/classify_defaults.py, whose
   --json output is read from benchmarks/results/classify_defaults.json); elsewhere the package's.
2. Search. `rnnlab.tasks.tuning.tune` scores the documented grid (`SPACES`) by 3-fold cross-validation
   on the training split, as `classify train --tune` does; the best is then fitted on the whole training
   split. The test split is read once, for the figures printed.
3. Figures: test accuracy and macro-F1 of the defaults and of the tuned model, 1-NN Euclidean and DTW
   (full window; dependent DTW for multivariate series) beside them, and the time of search + fit.

Fits run one BLAS thread each; the search runs its fits in parallel processes (one per core).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

from rnnlab.baselines.classification import baseline_scores
from rnnlab.data.datasets import deduplicate, load_dataset, stratified_split
from rnnlab.nn import parallel
from rnnlab.tasks.classify import SequenceClassifier
from rnnlab.tasks.tuning import SPACES, tune

DATA = Path(os.environ.get("RNNLAB_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data"))
DEFAULTS = Path(__file__).resolve().parent / "results" / "classify_defaults.json"
UCR = ("GunPoint", "ItalyPowerDemand", "JapaneseVowels", "BasicMotions", "OSULeaf", "ACSF1")
SEEDS = (0, 1, 2)
NAMES_TO_TRY = ["Dostoevsky", "Nguyen", "Tanaka", "Schmidt", "O'Neill", "Rossi", "Kowalski", "Papadopoulos"]


def timed_fit(settings: dict, X, y) -> tuple[SequenceClassifier, float]:
    with parallel.threads(1):  # the engine's threads (BLAS: one each)
        started = time.perf_counter()
        clf = SequenceClassifier(**settings).fit(X, y, progress=False)
        return clf, time.perf_counter() - started


def protocol(name: str, defaults: dict, train_X, train_y, test_X, test_y, kind: str, nearest: bool,
             seeds: tuple[int, ...] = (0,)) -> dict:
    """Fit the defaults; search the grid on the training split; fit the choice (once per seed); score on test."""
    default_clf, default_seconds = timed_fit(defaults, train_X, train_y)
    default_scores = default_clf.evaluate(test_X, test_y)
    search = tune(SequenceClassifier(**defaults), train_X, train_y, SPACES[kind], nearest=nearest)
    fits = [timed_fit(defaults | search.best_params | {"seed": seed}, train_X, train_y) for seed in seeds]
    scores = [clf.evaluate(test_X, test_y) for clf, _ in fits]
    baselines = baseline_scores(kind, train_X, train_y, test_X, test_y, nearest=nearest)
    accuracy = [s["accuracy"] for s in scores]
    macro = [s["macro_f1"] for s in scores]
    row = {"task": name, "n_train": len(train_y), "n_test": len(test_y),
           "defaults": {k: v for k, v in defaults.items() if k != "seed"},
           "default_accuracy": default_scores["accuracy"], "default_macro_f1": default_scores["macro_f1"],
           "default_seconds": round(default_seconds, 1),
           "chosen": search.best_params, "cv_accuracy": search.best_score(),
           "cv_baselines": {k: v["mean"] for k, v in search.baselines.items()},
           "accuracy": float(np.mean(accuracy)), "accuracy_spread": float(np.std(accuracy)),
           "macro_f1": float(np.mean(macro)), "macro_f1_spread": float(np.std(macro)), "seeds": list(seeds),
           "per_seed": [{"seed": seed, "accuracy": a, "macro_f1": m} for seed, a, m in zip(seeds, accuracy, macro,
                                                                                           strict=True)],
           "search_seconds": round(search.seconds, 1), "train_seconds": round(search.seconds + fits[0][1], 1),
           "baselines": {k: v["accuracy"] for k, v in baselines.items()}}
    spread = f" +- {row['accuracy_spread']:.4f} over seeds {list(seeds)}" if len(seeds) > 1 else ""
    print(f"{name}: defaults {row['default_accuracy']:.4f} ({default_seconds:.0f} s); chosen "
          f"{search.best_params} (cv {row['cv_accuracy']:.4f}): accuracy {row['accuracy']:.4f}{spread}, "
          f"macro-F1 {row['macro_f1']:.4f}; " + ", ".join(f"{k} {v:.4f}" for k, v in row["baselines"].items()) +
          f"; search + fit {row['train_seconds']:.0f} s", flush=True)
    row["model"] = fits[0][0]
    return row


def ucr() -> list[dict]:
    if not DEFAULTS.is_file():
        raise SystemExit(f"{DEFAULTS} not found: run python benchmarks/classify_defaults.py --json {DEFAULTS}")
    chosen = json.loads(DEFAULTS.read_text())
    rows = []
    for name in UCR:
        candidate = chosen["leave_one_out"][name]  # chosen on the other five sets' training splits
        defaults = chosen["common"] | chosen["candidates"][candidate]
        train = load_dataset(DATA / "ucr" / name / f"{name}_TRAIN.ts")
        test = load_dataset(DATA / "ucr" / name / f"{name}_TEST.ts")
        row = protocol(name, defaults, train.inputs, train.labels, test.inputs, test.labels, "numeric", True)
        row["target"] = "beat 1-NN DTW, < 600 s"
        row["passed"] = row["accuracy"] > row["baselines"]["nn_dtw"] and row["train_seconds"] < 600
        rows.append(row)
    wins = sum(row["accuracy"] > row["baselines"]["nn_dtw"] for row in rows)
    print(f"UCR/UEA: the tuned classifier beats 1-NN DTW on {wins} of {len(rows)} (target: at least 5)", flush=True)
    return rows


def surnames() -> list[dict]:
    data = load_dataset(DATA / "names")
    texts, labels = deduplicate(data.inputs, data.labels)
    print(f"surnames: {len(data)} lines, {len(texts)} distinct (name, language) pairs", flush=True)
    kept, held = stratified_split(labels, 0.1, seed=0)
    row = protocol("surnames (18 languages)", {}, [texts[i] for i in kept], labels[kept],
                   [texts[i] for i in held], labels[held], "text", nearest=False, seeds=SEEDS)
    row["target"], row["passed"] = "acc >= 0.82, < 600 s", row["accuracy"] >= 0.82 and row["train_seconds"] < 600
    for name, best in zip(NAMES_TO_TRY, row["model"].top_k(NAMES_TO_TRY, 3), strict=True):
        print(f"  {name:13s} " + ", ".join(f"{label} {p:.2f}" for label, p in best))
    return [row]


def held_out(path: Path, name: str, nearest: bool, target: float) -> list[dict]:
    data = load_dataset(path)
    kept, held = stratified_split(data.labels, 0.2, seed=0)
    row = protocol(name, {}, [data.inputs[i] for i in kept], data.labels[kept], [data.inputs[i] for i in held],
                   data.labels[held], "numeric", nearest=nearest)
    row["target"], row["passed"] = f"acc >= {target}", row["accuracy"] >= target
    return [row]


TASKS = {
    "ucr": ucr,
    "surnames": surnames,
    "digits": lambda: held_out(DATA / "digits" / "digits.csv.gz", "digits by rows (8 x 8)", True, 0.95),
    "mnist": lambda: held_out(DATA / "mnist" / "t10k-images-idx3-ubyte.gz", "MNIST by rows (28 x 28)", False, 0.97),
}


def table(rows: list[dict]) -> str:
    lines = ["| data | train / test | defaults acc | chosen on training data | tuned acc | macro-F1 | 1-NN Eucl. "
             "| 1-NN DTW | search + fit s | target | met |",
             "|---|---:|---:|---|---:|---:|---:|---:|---:|---|---|"]
    for row in rows:
        base = row["baselines"]
        cells = [f"{base[k]:.3f}" if k in base else "-" for k in ("nn_euclidean", "nn_dtw")]
        spread = f" +- {row['accuracy_spread']:.3f}" if len(row["seeds"]) > 1 else ""
        chosen = ", ".join(f"{k}={v}" for k, v in row["chosen"].items())
        lines.append(f"| {row['task']} | {row['n_train']} / {row['n_test']} | {row['default_accuracy']:.3f} | "
                     f"{chosen} | {row['accuracy']:.3f}{spread} | {row['macro_f1']:.3f} | {' | '.join(cells)} | "
                     f"{row['train_seconds']:.0f} | {row['target']} | {'yes' if row['passed'] else 'NO'} |")
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
    for task in args.tasks or TASKS:
        rows.extend(TASKS[task]())
    print()
    print(table(rows))
    if args.json:
        Path(args.json).write_text(json.dumps([{k: v for k, v in r.items() if k != "model"} for r in rows], indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

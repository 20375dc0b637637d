"""Part-of-speech tagging on UD English EWT: the word + character bi-LSTM beside the most-frequent-tag baseline.

    python benchmarks/tag.py                     # UPOS, train on dev, evaluate on test, 10-minute budget
    python benchmarks/tag.py --column xpos       # PTB tags instead

Trains `rnnlab.tasks.tag.SequenceTagger` on en_ewt-ud-dev.conllu (10% held out for early
stopping), evaluates on en_ewt-ud-test.conllu, and prints per-token accuracy overall and on
out-of-vocabulary words (lower-cased form unseen in the training split) for the model and the
baseline, the training time, and the tags of "I eat apples". Data: $RNNLAB_DATA or ../shared/data.
One BLAS thread. Target (issue 6): UPOS accuracy >= 0.91.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from rnnlab.data.conllu import read_conllu
from rnnlab.nn import parallel
from rnnlab.tasks.tag import SequenceTagger, tokenize

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--column", default="upos", choices=["upos", "xpos"])
    parser.add_argument("--minutes", type=float, default=10.0, help="training budget (default 10)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", help="also write the run (checkpoints, log.jsonl) to this new folder")
    parser.add_argument("--progress", action="store_true", help="show the training progress bar")
    args = parser.parse_args()

    data = Path(os.environ.get("RNNLAB_DATA", REPO.parent / "shared" / "data")) / "pos"
    train = read_conllu(data / "en_ewt-ud-dev.conllu", column=args.column)
    test = read_conllu(data / "en_ewt-ud-test.conllu", column=args.column)
    with parallel.threads(1):  # the engine's threads (BLAS: one each)
        tagger = SequenceTagger(minutes=args.minutes, seed=args.seed)
        print(tagger.config)
        started = time.perf_counter()
        info = {"data": str(data / "en_ewt-ud-dev.conllu"), "val": None, "column": args.column}
        tagger.fit([w for w, _ in train], [t for _, t in train], run_dir=args.out, progress=args.progress, info=info)
        fit_seconds = time.perf_counter() - started
        started = time.perf_counter()
        scores = tagger.evaluate([w for w, _ in test], [t for _, t in test])
        eval_seconds = time.perf_counter() - started
        example = tokenize("I eat apples")
        example_tags = tagger.predict([example])[0]
    epochs, best = len(tagger.history_), max(tagger.history_, key=lambda m: m["val_accuracy"])
    print(f"\nUD English EWT {args.column.upper()}: train on dev ({sum(len(w) for w, _ in train):,} tokens, 90% fit /"
          f" 10% early stopping), evaluate on test ({scores['tokens']:,} tokens, {scores['oov_tokens']:,} OOV)")
    print(f"{'tagger':34s} {'accuracy':>9s} {'OOV acc.':>9s} {'train time':>11s}")
    print(f"{'word + char bi-LSTM (rnnlab, NumPy)':34s} {scores['accuracy']:9.4f} {scores['oov_accuracy']:9.4f} "
          f"{tagger.train_seconds_:10.1f}s")
    baseline = scores["baselines"]["most_frequent_tag"]
    print(f"{'most frequent tag per word':34s} {baseline['accuracy']:9.4f} {baseline['oov_accuracy']:9.4f} {'-':>11s}")
    print(f"training: {epochs} epochs, best validation accuracy {best['val_accuracy']:.4f} "
          f"after {best['seconds']:.1f}s (epoch {tagger.history_.index(best) + 1}); "
          f"fit() wall time {fit_seconds:.1f}s; evaluation {eval_seconds:.1f}s")
    print("I eat apples ->", " ".join(f"{w}/{t}" for w, t in zip(example, example_tags, strict=True)))


if __name__ == "__main__":
    main()

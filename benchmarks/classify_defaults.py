"""How the classifier's defaults for numeric series were chosen: cross-validation on training splits only.

    python benchmarks/classify_defaults.py                  # score every candidate, print the choice
    python benchmarks/classify_defaults.py --json out.json  # also write the scores (benchmarks/classify.py reads them)

With --json naming a file written before, candidates whose settings are unchanged keep their scores (the fits
are deterministic) and only new or changed candidates are fitted.

Each candidate below is a whole set of settings. For each of the six UCR/UEA sets, each candidate is
scored by 3-fold stratified cross-validation on the set's TRAINING split (the test split is never
read). Then, leave one data set out: the defaults reported for a set are the candidate with the best
mean score over the OTHER five sets, so no set's figures come from settings chosen with it; the
package's defaults follow the candidate with the best mean over all six (docs/classify.md says how a
near-tie was settled). Fits run in parallel processes,
one BLAS thread each. Data from $RNNLAB_DATA (default ../shared/data beside the repository).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
from joblib import Parallel, delayed
from sklearn.model_selection import StratifiedKFold

DATA = Path(os.environ.get("RNNLAB_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data"))
SETS = ("GunPoint", "ItalyPowerDemand", "JapaneseVowels", "BasicMotions", "OSULeaf", "ACSF1")
FOLDS = 3
# Every candidate averages series longer than 256 steps down to 256 (PAA) and holds out no validation split
# (the training sets are small); "~1500 steps" is `epochs=None`: as many epochs as make about 1,500 steps.
COMMON = dict(paa=256, val_fraction=0.0)
CANDIDATES = {  # (ties go to the earlier candidate)
    "bi-GRU 64, 100 epochs": dict(conv_filters=0, hidden_size=64, batch_size=8, epochs=100, znorm=True),
    "bi-GRU 32 + FCN 64, 100 epochs": dict(conv_filters=64, hidden_size=32, batch_size=16, epochs=100, znorm=True),
    "bi-GRU 32 + FCN 64, ~1500 steps": dict(conv_filters=64, hidden_size=32, batch_size=16, epochs=None, znorm=True),
    "bi-GRU 32 + FCN 64, ~1500 steps, z-norm univariate only": dict(conv_filters=64, hidden_size=32, batch_size=16,
                                                                    epochs=None, znorm=None),
    "bi-GRU 32 + FCN 64, ~1500 steps, no z-norm": dict(conv_filters=64, hidden_size=32, batch_size=16, epochs=None,
                                                       znorm=False),
    "bi-GRU 64, ~1500 steps": dict(conv_filters=0, hidden_size=64, batch_size=16, epochs=None, znorm=True),
}


def fold_score(name: str, settings: dict, fold: int) -> tuple[float, float]:
    """(accuracy on held-out fold `fold` of the training split, seconds of fit)."""
    from rnnlab.data.datasets import load_dataset
    from rnnlab.nn import parallel
    from rnnlab.tasks.classify import SequenceClassifier

    train = load_dataset(DATA / "ucr" / name / f"{name}_TRAIN.ts")
    X, y = train.inputs, train.labels
    kept, held = list(StratifiedKFold(FOLDS, shuffle=True, random_state=0).split(np.zeros(len(y)), y))[fold]
    with parallel.threads(1):  # the engine's threads (BLAS: one each)
        started = time.perf_counter()
        clf = SequenceClassifier(**COMMON, **settings).fit([X[i] for i in kept], y[kept], progress=False)
        seconds = time.perf_counter() - started
        return clf.score([X[i] for i in held], y[held]), seconds


def leave_one_out(scores: dict[str, dict[str, float]]) -> dict[str, str]:
    """For each set, the candidate with the best mean cross-validated score over the other sets."""
    return {held: max(CANDIDATES, key=lambda c: np.mean([scores[c][s] for s in SETS if s != held])) for held in SETS}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", help="also write the scores and choices here")
    parser.add_argument("--jobs", type=int, default=len(os.sched_getaffinity(0)), help="fits at once")
    args = parser.parse_args(argv)
    if not DATA.is_dir():
        print(f"data not found at {DATA}; set RNNLAB_DATA", file=sys.stderr)
        return 2
    before = json.loads(Path(args.json).read_text()) if args.json and Path(args.json).is_file() else {}
    kept = [c for c in CANDIDATES if before.get("candidates", {}).get(c) == CANDIDATES[c]]
    scores = {c: before["scores"][c] for c in kept}
    seconds = {c: before["fit_seconds"][c] for c in kept}
    jobs = [(c, s, f) for c in CANDIDATES if c not in kept for s in SETS for f in range(FOLDS)]
    results = Parallel(n_jobs=args.jobs)(delayed(fold_score)(s, CANDIDATES[c], f) for c, s, f in jobs)
    for c in dict.fromkeys(c for c, _, _ in jobs):
        scores[c] = {s: float(np.mean([r[0] for (c2, s2, _), r in zip(jobs, results, strict=True)
                                       if (c2, s2) == (c, s)])) for s in SETS}
        seconds[c] = round(sum(r[1] for (c2, _, _), r in zip(jobs, results, strict=True) if c2 == c), 1)
    scores, seconds = {c: scores[c] for c in CANDIDATES}, {c: seconds[c] for c in CANDIDATES}
    if kept:
        print(f"(kept from {args.json}: {', '.join(kept)})")
    print(f"{FOLDS}-fold cross-validated accuracy on each training split (settings common to all: {COMMON})\n")
    print("| candidate | " + " | ".join(SETS) + " | mean | fit s |")
    print("|---|" + "---:|" * (len(SETS) + 2))
    for c in CANDIDATES:
        print(f"| {c} | " + " | ".join(f"{scores[c][s]:.3f}" for s in SETS) +
              f" | {np.mean(list(scores[c].values())):.4f} | {seconds[c]:.0f} |")
    chosen = leave_one_out(scores)
    overall = max(CANDIDATES, key=lambda c: np.mean(list(scores[c].values())))
    print("\nleft out -> defaults chosen on the other five sets")
    for held, c in chosen.items():
        print(f"  {held:18s} {c}")
    means = sorted(((np.mean(list(scores[c].values())), c) for c in CANDIDATES), reverse=True)
    print(f"best mean over all six: {overall}" + (f" (by {means[0][0] - means[1][0]:.5f} over {means[1][1]})"
                                                  if means[0][0] - means[1][0] < 1e-3 else ""))
    if args.json:
        Path(args.json).write_text(json.dumps({"folds": FOLDS, "common": COMMON, "candidates": CANDIDATES,
                                               "scores": scores, "fit_seconds": seconds, "leave_one_out": chosen,
                                               "overall": overall}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

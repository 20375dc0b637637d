"""Model selection that never sees the test data: a small grid, scored by cross-validation on the training data.

    training data --k folds--> for each candidate: fit on k-1 folds, score the k-th
                  --> the candidate with the best mean score --> (the caller fits it on all the training data)

scikit-learn's `GridSearchCV` does the search: the tasks are scikit-learn estimators (`clone`,
`get_params`, `set_params`, `score`), so each candidate is a fresh copy of the estimator with some
settings changed. Settings the user gave are kept fixed: the search covers only the others. A
classifier's folds are stratified, and the same folds score its baselines (1-NN Euclidean and DTW for
numeric series, the majority class always), so one sees whether the network earned its keep before
the test data is ever read; a tagger's folds are sets of whole sentences, scored by token accuracy.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rnnlab.baselines.classification import BASELINE_NAMES, majority_class, nearest_neighbour
from rnnlab.errors import RnnlabError

# The searched space, by kind of input: the settings that moved cross-validated accuracy most on the shared
# training splits (docs/classify.md): for series, the convolutional branch and per-series z-normalisation
# (which helps univariate shapes and hurts multivariate series whose levels carry the class).
SPACES: dict[str, dict[str, list]] = {
    "numeric": {"conv_filters": [64, 0], "znorm": [True, False]},
    "text": {"pooling": ["max", "last"], "dropout": [0.2, 0.5]},
    "tag": {"dropout": [0.5, 0.33], "hidden_size": [200, 100]},  # (a starting point, not measured here)
}
FOLDS = 3


@dataclass
class TuneResult:
    """What the search chose and why: every candidate's mean and spread of fold scores, and the baselines'."""

    best_params: dict[str, Any]
    candidates: list[dict[str, Any]] = field(default_factory=list)  # {"params", "mean", "std", "folds"}
    baselines: dict[str, dict[str, float]] = field(default_factory=dict)  # name -> {"mean", "std"}
    folds: int = FOLDS
    seconds: float = 0.0

    def best_score(self) -> float:
        return max(c["mean"] for c in self.candidates)

    def winning_baseline(self) -> str | None:
        """The printed name of the best baseline when it beats every candidate in cross-validation, else None."""
        if not self.baselines:
            return None
        name, best = max(self.baselines.items(), key=lambda item: item[1]["mean"])
        return BASELINE_NAMES[name] if best["mean"] > self.best_score() else None

    def to_json(self) -> dict[str, Any]:
        return {"best_params": self.best_params, "candidates": self.candidates, "baselines": self.baselines,
                "folds": self.folds, "seconds": round(self.seconds, 1)}

    def lines(self) -> list[str]:
        """The search as text: one line per candidate (best first), then the baselines on the same folds."""
        out = [f"cross-validated accuracy on the training data ({self.folds} folds; no test data is read):"]
        for c in sorted(self.candidates, key=lambda c: -c["mean"]):
            mark = "*" if c["params"] == self.best_params else " "
            settings = ", ".join(f"{k}={v}" for k, v in c["params"].items()) or "the defaults"
            out.append(f" {mark} {c['mean']:.4f} +- {c['std']:.4f}  {settings}")
        for name, score in self.baselines.items():
            out.append(f"   {score['mean']:.4f} +- {score['std']:.4f}  {BASELINE_NAMES[name]}")
        baseline = self.winning_baseline()
        if baseline:
            out.append(f"note: {baseline} scores higher than every candidate on the training data; "
                       f"it may be the better model for this data")
        out.append(f"chosen: {', '.join(f'{k}={v}' for k, v in self.best_params.items()) or 'the defaults'} "
                   f"(search took {self.seconds:.1f} s)")
        return out


def search_space(kind: str, fixed: set[str] = frozenset()) -> dict[str, list]:
    """The grid for `kind` ("numeric", "text" or "tag") without the settings in `fixed` (those the user gave)."""
    return {k: v for k, v in SPACES[kind].items() if k not in fixed}


def tune(estimator, X, y, space: dict[str, list], folds: int = FOLDS, n_jobs: int | None = None,
         nearest: bool = True) -> TuneResult:
    """Score every combination of `space` (setting -> values) by k-fold cross-validation of `estimator` on
    (X, y), the training data only; ties go to the earlier candidate.

    For a classifier X holds N sequences (strings or (T_i, F) series) and y (N,) labels, split in
    stratified folds; for a tagger X and y hold N sentences of words and of tags, split in random folds
    of whole sentences. `n_jobs` fits run at once, each in its
    own process with one BLAS thread (None: one per core this process may use). The scores do not depend
    on `n_jobs`. Returns the `TuneResult`; the estimator is left unfitted.
    """
    from sklearn.model_selection import GridSearchCV, KFold, StratifiedKFold

    classifier = getattr(estimator, "_estimator_type", None) == "classifier"
    if classifier:
        y = np.asarray(y)
        classes, counts = np.unique(y, return_counts=True)
        if counts.min() < folds:
            raise RnnlabError(f"--tune needs at least {folds} training examples of every class for {folds}-fold "
                              f"cross-validation; class {classes[counts.argmin()]!r} has {counts.min()}")
        splitter = StratifiedKFold(folds, shuffle=True, random_state=estimator.seed)
    else:
        if len(X) < 2 * folds:
            raise RnnlabError(f"--tune needs at least {2 * folds} training sentences for {folds}-fold "
                              f"cross-validation, got {len(X)}")
        splitter = KFold(folds, shuffle=True, random_state=estimator.seed)
    started = time.perf_counter()
    grid = {k: list(v) for k, v in space.items()} or {"seed": [estimator.seed]}  # (an empty grid: the defaults)
    n_jobs = len(os.sched_getaffinity(0)) if n_jobs is None else n_jobs
    search = GridSearchCV(estimator, grid, cv=splitter, n_jobs=n_jobs, refit=False, error_score="raise")
    search.fit(X, y, progress=False)
    results = search.cv_results_
    candidates = []
    for i, params in enumerate(results["params"]):
        scores = [float(results[f"split{k}_test_score"][i]) for k in range(folds)]
        candidates.append({"params": params if space else {}, "mean": float(np.mean(scores)),
                           "std": float(np.std(scores)), "folds": scores})
    best = max(range(len(candidates)), key=lambda i: (candidates[i]["mean"], -i))
    baselines = baseline_folds(X, y, splitter, nearest=nearest and not isinstance(X[0], str)) if classifier else {}
    return TuneResult(candidates[best]["params"], candidates, baselines, folds, time.perf_counter() - started)


def baseline_folds(X, y: np.ndarray, splitter, nearest: bool) -> dict[str, dict[str, float]]:
    """Mean and spread over the folds of `splitter` of the majority class (and, with `nearest`, 1-NN Euclidean
    and DTW with no window)."""
    scores: dict[str, list[float]] = {"majority_class": []}
    if nearest:
        scores |= {"nn_euclidean": [], "nn_dtw": []}
    for kept, held in splitter.split(np.zeros(len(y)), y):
        train, test = [X[i] for i in kept], [X[i] for i in held]
        scores["majority_class"].append(float(np.mean(majority_class(y[kept], len(held)) == y[held])))
        if nearest:
            for metric in ("euclidean", "dtw"):
                predicted = nearest_neighbour(train, y[kept], test, metric=metric)
                scores[f"nn_{metric}"].append(float(np.mean(predicted == y[held])))
    return {name: {"mean": float(np.mean(s)), "std": float(np.std(s))} for name, s in scores.items()}

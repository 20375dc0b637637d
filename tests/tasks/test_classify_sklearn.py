"""SequenceClassifier as a scikit-learn estimator: clone, cross_val_score, GridSearchCV, set_params."""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, cross_val_score

from rnnlab import SequenceClassifier

rng = np.random.default_rng(0)
WORDS = ["".join(rng.choice(list("ab"), size=rng.integers(1, 6))) for _ in range(36)]
LABELS = np.array([w[0] for w in WORDS])  # the first letter
TINY = dict(hidden_size=4, embedding_dim=4, epochs=2, batch_size=8, val_fraction=0.0)


def test_clone_gives_an_unfitted_copy_with_the_same_settings():
    clf = SequenceClassifier(**TINY).fit(WORDS, LABELS, progress=False)
    copy = clone(clf)
    assert copy.get_params() == clf.get_params() and not copy.is_fitted()


def test_cross_val_score_runs_three_folds():
    scores = cross_val_score(SequenceClassifier(**TINY), WORDS, LABELS, cv=3, params={"progress": False})
    assert scores.shape == (3,) and ((0 <= scores) & (scores <= 1)).all()


def test_grid_search_tries_both_candidates_and_refits_the_best():
    search = GridSearchCV(SequenceClassifier(**TINY), {"hidden_size": [2, 4]}, cv=2)
    search.fit(WORDS, LABELS, progress=False)
    assert len(search.cv_results_["params"]) == 2
    assert search.best_estimator_.hidden_size in (2, 4) and search.best_estimator_.is_fitted()


def test_set_params_hidden_size_changes_the_network_fit_builds():
    clf = SequenceClassifier(**TINY).set_params(hidden_size=6)
    clf.fit(WORDS, LABELS, progress=False)
    weights = clf.nets_[0].state_dict()
    assert weights["rnn.weight_hh_l0"].shape == (3 * 6, 6)  # GRU: 3 gates of 6 units
    assert weights["head.weight"].shape == (2, 2 * 6)  # two directions side by side


def test_score_is_the_accuracy():
    clf = SequenceClassifier(**TINY).fit(WORDS, LABELS, progress=False)
    assert clf.score(WORDS, LABELS) == pytest.approx(float(np.mean(clf.predict(WORDS) == LABELS)))

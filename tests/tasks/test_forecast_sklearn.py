"""scikit-learn drives a Forecaster: X is the series, y is None, and the splits are ordered in time."""

import numpy as np
import pytest

from rnnlab import Forecaster

sklearn = pytest.importorskip("sklearn")
from sklearn.base import clone  # noqa: E402
from sklearn.model_selection import GridSearchCV, TimeSeriesSplit, cross_val_score  # noqa: E402

FAST = dict(lookback=8, horizon=3, hidden_size=4, max_steps=20, eval_every=10, seasonal_difference="off")


def series(n: int = 200) -> np.ndarray:
    t = np.arange(n)
    return 3 + np.sin(2 * np.pi * t / 10) + np.random.default_rng(0).normal(0, 0.1, n)


def test_clone_gives_an_unfitted_forecaster_with_the_same_settings():
    model = Forecaster(**FAST, strategy="recursive").fit(series(), progress=False)
    copy = clone(model)
    assert copy.get_params() == model.get_params() and not copy.is_fitted()


def test_cross_val_score_with_time_series_splits_scores_each_later_fold():
    scores = cross_val_score(Forecaster(**FAST), series(), cv=TimeSeriesSplit(n_splits=3), params={"progress": False})
    assert scores.shape == (3,) and np.all(scores < 0) and np.all(np.isfinite(scores))  # minus an MAE


def test_grid_search_tries_both_candidates_and_refits_the_best():
    search = GridSearchCV(Forecaster(**FAST), {"hidden_size": [2, 6]}, cv=TimeSeriesSplit(n_splits=2))
    search.fit(series(), progress=False)
    assert [p["hidden_size"] for p in search.cv_results_["params"]] == [2, 6]
    best = search.best_estimator_
    assert best.networks_[0].rnn.weight_hh_l0.data.shape == (4 * best.hidden_size, best.hidden_size)


def test_set_params_changes_the_network_that_fit_builds():
    model = Forecaster(**FAST).fit(series(), progress=False)
    assert model.networks_[0].rnn.weight_hh_l0.data.shape == (4 * 4, 4)  # LSTM: 4 gates of 4 units
    model.set_params(hidden_size=7, cell="gru").fit(series(), progress=False)
    assert model.networks_[0].rnn.weight_hh_l0.data.shape == (3 * 7, 7)  # GRU: 3 gates of 7 units

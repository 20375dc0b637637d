import json

import numpy as np
import pytest

from rnnlab.data.scalers import (
    IdentityScaler,
    MinMaxScaler,
    StandardScaler,
    fit_transform_split,
    make_windows,
    rolling_origins,
    scaler_from_json,
)
from rnnlab.errors import RnnlabError

SCALERS = [StandardScaler, MinMaxScaler, IdentityScaler]


def test_standard_scaler_learns_mean_and_population_std_per_column():
    x = np.array([[1.0, 10.0], [3.0, 10.0], [5.0, 40.0]])
    scaler = StandardScaler().fit(x)
    np.testing.assert_allclose(scaler.mean_, [3.0, 20.0])
    np.testing.assert_allclose(scaler.std_, [np.sqrt(8 / 3), np.sqrt(200)])
    np.testing.assert_allclose(scaler.transform(x).mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(scaler.transform(x).std(axis=0), 1.0)


def test_minmax_maps_the_training_range_onto_feature_range():
    x = np.array([[0.0, -5.0], [4.0, 5.0], [2.0, 0.0]])
    z = MinMaxScaler(feature_range=(-1, 1)).fit(x).transform(x)
    np.testing.assert_allclose(z, [[-1, -1], [1, 1], [0, 0]])


def test_minmax_refuses_an_empty_feature_range():
    with pytest.raises(RnnlabError, match=r"argument `feature_range`.*got \(1, 1\)"):
        MinMaxScaler(feature_range=(1, 1))


@pytest.mark.parametrize("scaler_class", SCALERS)
def test_a_constant_column_scales_to_finite_values(scaler_class):
    x = np.full((4, 1), 7.0)
    z = scaler_class().fit(x).transform(x)
    assert np.all(np.isfinite(z))


@pytest.mark.parametrize("scaler_class", SCALERS)
def test_inverse_transform_undoes_transform(scaler_class):
    x = np.random.default_rng(0).normal(5, 3, size=(20, 3))
    scaler = scaler_class().fit(x)
    np.testing.assert_allclose(scaler.inverse_transform(scaler.transform(x)), x)


@pytest.mark.parametrize("scaler_class", SCALERS)
def test_json_round_trip_keeps_the_fitted_statistics(scaler_class):
    x = np.random.default_rng(1).normal(size=(10, 2))
    scaler = scaler_class().fit(x)
    restored = scaler_from_json(json.loads(json.dumps(scaler.to_json())))
    assert type(restored) is scaler_class
    np.testing.assert_array_equal(restored.transform(x), scaler.transform(x))


def test_minmax_json_keeps_the_feature_range():
    restored = MinMaxScaler.from_json(MinMaxScaler(feature_range=(-1, 1)).fit(np.arange(3.0)).to_json())
    assert restored.feature_range == (-1.0, 1.0)


@pytest.mark.parametrize("scaler_class", SCALERS)
def test_values_after_the_training_cutoff_change_no_fitted_statistic(scaler_class):
    values = np.random.default_rng(2).normal(size=(50, 2))
    changed = values.copy()
    changed[40:] = 1e6  # wildly different future
    _, _, fitted = fit_transform_split(values, 40, scaler_class())
    _, _, fitted_on_changed = fit_transform_split(changed, 40, scaler_class())
    assert fitted.to_json() == fitted_on_changed.to_json()


def test_fit_transform_split_returns_scaled_train_and_rest_with_train_statistics():
    values = np.array([[0.0], [2.0], [4.0], [100.0]])
    train, rest, scaler = fit_transform_split(values, 3, StandardScaler())
    assert train.shape == (3, 1) and rest.shape == (1, 1)
    np.testing.assert_allclose(scaler.mean_, [2.0])
    np.testing.assert_allclose(rest, (100.0 - 2.0) / np.sqrt(8 / 3))


def test_fit_transform_split_refuses_a_cutoff_outside_the_series():
    with pytest.raises(RnnlabError, match="argument `train_end`"):
        fit_transform_split(np.ones((5, 1)), 0, StandardScaler())


def test_column_argument_maps_a_target_forecast_back_with_that_columns_statistics():
    scaler = StandardScaler().fit(np.array([[0.0, 10.0], [2.0, 30.0]]))
    forecast = np.array([[1.0, -1.0, 0.0]])  # (N, H) of column 1, in scaled units
    np.testing.assert_allclose(scaler.inverse_transform(forecast, column=1), [[30.0, 10.0, 20.0]])


def test_windows_of_a_fitted_series_scale_along_their_last_axis():
    scaler = StandardScaler().fit(np.array([[0.0, 10.0], [2.0, 30.0]]))
    windows = np.zeros((4, 3, 2))  # (N, lookback, D)
    np.testing.assert_allclose(scaler.transform(windows)[..., 1], -2.0)


def test_transform_refuses_an_array_with_another_number_of_columns():
    scaler = StandardScaler().fit(np.ones((3, 2)))
    with pytest.raises(RnnlabError, match="fitted on 2 columns"):
        scaler.transform(np.ones((3, 3)))


def test_an_unfitted_scaler_says_to_fit_first():
    with pytest.raises(RnnlabError, match="not fitted"):
        StandardScaler().transform(np.ones((2, 1)))


def test_fit_refuses_nan():
    with pytest.raises(RnnlabError, match="finite"):
        StandardScaler().fit(np.array([1.0, np.nan]))


def test_scaler_from_json_refuses_an_unknown_type():
    with pytest.raises(RnnlabError, match="unknown scaler type"):
        scaler_from_json({"type": "RobustScaler"})


def test_windows_put_the_targets_right_after_the_inputs():
    values = np.column_stack([np.arange(10.0), 100 + np.arange(10.0)])  # (T=10, D=2)
    X, Y = make_windows(values, lookback=4, horizon=3)
    assert X.shape == (4, 4, 2) and Y.shape == (4, 3)  # N = (10 - 4 - 3) // 1 + 1
    np.testing.assert_array_equal(X[0, :, 0], [0, 1, 2, 3])
    np.testing.assert_array_equal(Y[0], [4, 5, 6])
    np.testing.assert_array_equal(Y[-1], [7, 8, 9])  # the last window ends at T


def test_windows_target_index_and_stride():
    values = np.column_stack([np.arange(10.0), 100 + np.arange(10.0)])
    X, Y = make_windows(values, lookback=2, horizon=1, target_index=1, stride=3)
    assert X.shape == (3, 2, 2)
    np.testing.assert_array_equal(Y[:, 0], [102, 105, 108])


def test_windows_refuse_a_series_shorter_than_lookback_plus_horizon():
    with pytest.raises(RnnlabError, match="shorter than lookback"):
        make_windows(np.arange(5.0), lookback=4, horizon=2)
    with pytest.raises(RnnlabError, match="argument `lookback`"):
        make_windows(np.arange(5.0), lookback=0, horizon=2)


def test_rolling_origins_end_the_last_window_at_t():
    assert rolling_origins(100, horizon=12, n_origins=3) == [64, 76, 88]
    assert rolling_origins(100, horizon=12, n_origins=3, step=1) == [86, 87, 88]


def test_rolling_origins_refuse_more_origins_than_the_series_holds():
    with pytest.raises(RnnlabError, match="need at least 13 steps"):
        rolling_origins(12, horizon=6, n_origins=2)

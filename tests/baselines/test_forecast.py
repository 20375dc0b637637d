import numpy as np
import pytest

from rnnlab.baselines.forecast import drift_forecast, infer_season, naive_forecast, seasonal_naive_forecast
from rnnlab.data.timeseries import read_series_csv
from rnnlab.errors import RnnlabError
from rnnlab.metrics.forecast import mae


def test_naive_repeats_the_last_observation():
    np.testing.assert_array_equal(naive_forecast(np.array([3.0, 1.0, 4.0]), 3), [4.0, 4.0, 4.0])


def test_seasonal_naive_repeats_the_last_season_beyond_one_cycle():
    history = np.array([9.0, 1.0, 2.0, 3.0, 4.0])  # season 4: last season is 1, 2, 3, 4
    np.testing.assert_array_equal(seasonal_naive_forecast(history, 6, season=4), [1, 2, 3, 4, 1, 2])


def test_drift_extends_the_line_through_the_first_and_last_observations():
    # slope (10 - 2) / (5 - 1) = 2
    np.testing.assert_allclose(drift_forecast(np.array([2.0, 7.0, 1.0, 3.0, 10.0]), 3), [12, 14, 16])


def test_seasonal_naive_needs_a_full_season_of_history():
    with pytest.raises(RnnlabError, match="at least 12 values"):
        seasonal_naive_forecast(np.ones(11), 3, season=12)


def test_baselines_refuse_a_non_positive_horizon():
    with pytest.raises(RnnlabError, match="argument `horizon`"):
        naive_forecast(np.ones(3), 0)


def test_seasonal_naive_beats_naive_on_the_last_24_airline_months(data_dir):
    passengers = read_series_csv(data_dir / "timeseries" / "airline.csv").values[:, 0]
    train, test = passengers[:-24], passengers[-24:]
    seasonal_error = mae(test, seasonal_naive_forecast(train, 24, season=12))
    naive_error = mae(test, naive_forecast(train, 24))
    assert seasonal_error == pytest.approx(71.25)
    assert naive_error == pytest.approx(115.25)
    assert seasonal_error < naive_error


def test_infer_season_finds_12_on_airline_and_52_on_weekly_co2(data_dir):
    airline = read_series_csv(data_dir / "timeseries" / "airline.csv").values[:, 0]
    co2 = read_series_csv(data_dir / "timeseries" / "co2.csv", missing="interpolate").values[:, 0]
    assert infer_season(airline, max_lag=36) == 12
    assert infer_season(co2, max_lag=110) == 52


def test_infer_season_finds_the_period_of_a_noisy_cycle():
    rng = np.random.default_rng(0)
    steps = np.arange(200)
    values = 0.05 * steps + np.sin(2 * np.pi * steps / 7) + 0.3 * rng.normal(size=200)
    assert infer_season(values, max_lag=20) == 7


def test_infer_season_returns_none_for_white_noise_and_straight_lines():
    assert infer_season(np.random.default_rng(1).normal(size=300), max_lag=5) is None
    assert infer_season(3.0 + 2.0 * np.arange(40.0), max_lag=10) is None


def test_infer_season_needs_the_season_to_repeat():
    with pytest.raises(RnnlabError, match="at least 2 \\* max_lag \\+ 2"):
        infer_season(np.ones(20), max_lag=12)

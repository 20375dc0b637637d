import numpy as np
import pytest

from rnnlab.data.scalers import rolling_origins
from rnnlab.data.timeseries import Series, from_array, read_series_csv
from rnnlab.errors import RnnlabError
from rnnlab.tasks.forecast import Forecaster
from rnnlab.tasks.forecast_report import build_report

FAST = dict(lookback=12, horizon=6, hidden_size=8, max_steps=40, eval_every=10, patience=2)


def monthly_series(n: int = 120, level: float = 100.0, seed: int = 0) -> Series:
    """Trend + yearly season + noise, positive, monthly from 1950-01."""
    t = np.arange(n)
    rng = np.random.default_rng(seed)
    values = level + 0.5 * t + 10 * np.sin(2 * np.pi * t / 12) + rng.normal(0, 1, n)
    return from_array(values, start="1950-01", freq="MS")


def with_values(series: Series, values: np.ndarray) -> Series:
    return Series(series.times, values, series.columns, series.freq)


def weights(model: Forecaster) -> dict[str, np.ndarray]:
    return {f"{k}.{name}": array for k, net in enumerate(model.networks_) for name, array in net.state_dict().items()}


def test_changing_values_after_the_cutoff_changes_no_training_statistic():
    series, cut = monthly_series(), 90
    changed = series.values.copy()
    changed[cut:] = changed[cut:] * 50 + 1000
    config = dict(FAST, log=True, difference=1)
    first = Forecaster(**config).fit(series, train_end=cut, progress=False)
    second = Forecaster(**config).fit(with_values(series, changed), train_end=cut, progress=False)
    assert first.scaler_.to_json() == second.scaler_.to_json()
    assert (first.season_, first.seasonal_lag_) == (second.season_, second.seasonal_lag_)
    np.testing.assert_array_equal(first.interval_, second.interval_)
    np.testing.assert_array_equal(first.tail_, second.tail_)
    for name, array in weights(first).items():
        np.testing.assert_array_equal(array, weights(second)[name], err_msg=name)
    # the same change one row before the cut-off does move the statistics, so the test can fail
    before = series.values.copy()
    before[cut - 1] *= 3
    third = Forecaster(**config).fit(with_values(series, before), train_end=cut, progress=False)
    assert third.scaler_.to_json() != first.scaler_.to_json()


def test_backtest_forecast_at_an_origin_ignores_values_after_it():
    series = monthly_series(110)
    origins = rolling_origins(len(series), FAST["horizon"], n_origins=2)
    changed = series.values.copy()
    changed[origins[0]:] += 500
    first = Forecaster(**FAST).backtest(series, n_origins=2, progress=False)
    second = Forecaster(**FAST).backtest(with_values(series, changed), n_origins=2, progress=False)
    np.testing.assert_array_equal(first.forecasts["rnn"][0], second.forecasts["rnn"][0])
    np.testing.assert_array_equal(first.forecasts["seasonal_naive"][0], second.forecasts["seasonal_naive"][0])
    assert not np.array_equal(first.actual[0], second.actual[0])
    assert list(first.origins) == origins


def test_evaluate_refuses_origins_inside_the_training_data():
    series = monthly_series()
    model = Forecaster(**FAST).fit(series, train_end=100, progress=False)
    with pytest.raises(RnnlabError, match="inside the training data"):
        model.report(series, test_start=90)
    report = model.report(series)
    assert report.origins[0] == 100 and report.origins[-1] == len(series) - FAST["horizon"]


# Each change of the data below is undone exactly by the model's transforms and scaler, so the network trains on
# the same numbers and the forecast must change the same way: this pins that forecasts go back through the scaler,
# the differencing and the log correctly (a wrong sign, a lost level or a missing exp breaks the equality).
T_FIT, H = 100, FAST["horizon"]


def growth(t: np.ndarray) -> np.ndarray:
    """A factor whose log is a constant plus a trend."""
    return 3 * np.exp(0.05 * t)


TRANSFORMS = [
    (dict(log=True), lambda v, t: growth(t) * v),
    (dict(difference=1), lambda v, t: 2 * v + 5 + 3 * t),
    (dict(log=True, difference=1), lambda v, t: growth(t) * v),
    (dict(seasonal_difference="off", scaler="minmax"), lambda v, t: 2 * v + 5),
]


@pytest.mark.parametrize("options, change", TRANSFORMS, ids=["log", "difference", "log+difference", "minmax"])
def test_forecasts_follow_a_change_of_the_data_that_the_transforms_absorb(options, change):
    series = monthly_series()
    t = np.arange(len(series), dtype=np.float64)
    model = Forecaster(**FAST, **options).fit(series, train_end=T_FIT, progress=False)
    assert model.seasonal_lag_ == (0 if options.get("seasonal_difference") == "off" else 12)
    changed = with_values(series, change(series.values[:, 0], t)[:, None])
    changed_model = Forecaster(**FAST, **options).fit(changed, train_end=T_FIT, progress=False)
    future = np.arange(T_FIT, T_FIT + H, dtype=np.float64)
    np.testing.assert_allclose(changed_model.predict(), change(model.predict(), future), rtol=1e-3)


def test_forecasts_come_back_in_data_units():
    series = monthly_series(level=5000.0)
    forecast = Forecaster(**FAST).fit(series, progress=False).predict()
    assert forecast.shape == (6,)
    assert np.all(np.abs(forecast - series.values[-12:, 0].mean()) < 200)


def test_calendar_season_turns_on_seasonal_differencing_by_default():
    assert Forecaster(**FAST).fit(monthly_series(), progress=False).seasonal_lag_ == 12
    assert Forecaster(**FAST).fit(monthly_series().values, progress=False).seasonal_lag_ == 0  # no calendar


@pytest.mark.parametrize("strategy", ["multi-output", "direct", "recursive"])
def test_every_strategy_forecasts_the_horizon_and_survives_save_and_load(strategy, tmp_path):
    options = dict(FAST, horizon=3, max_steps=20) if strategy == "direct" else FAST
    model = Forecaster(**options, strategy=strategy).fit(monthly_series(), progress=False)
    model.save(tmp_path / "run")
    loaded = Forecaster.load(tmp_path / "run")
    np.testing.assert_allclose(loaded.predict(), model.predict(), rtol=1e-6)
    assert model.predict().shape == (options["horizon"],)
    assert len(model.networks_) == (3 if strategy == "direct" else 1)


def test_covariates_feed_the_network_and_recursive_refuses_them():
    t = np.arange(150.0)
    driver = np.sin(t / 5)
    data = np.column_stack([np.roll(driver, 2) * 3 + 10, driver])  # target follows the covariate
    model = Forecaster(**FAST, covariates=("y1",)).fit(data, train_end=130, progress=False)
    assert model.networks_[0].rnn.input_size == 2
    report = model.report(data)
    assert report.actual.shape[1] == 6
    with pytest.raises(RnnlabError, match="recursive"):
        Forecaster(strategy="recursive", covariates=("y1",))


def test_report_puts_baselines_on_the_same_windows():
    values = np.arange(1.0, 61.0) + 5 * (np.arange(60) % 4)
    origins = np.array([40, 44])
    rnn = np.zeros((2, 4))
    report = build_report("toy", "test", values, np.arange(60), origins, rnn, season=4, train_seconds=0.0)
    np.testing.assert_array_equal(report.actual[1], values[44:48])
    np.testing.assert_array_equal(report.forecasts["seasonal_naive"][0], values[36:40])
    np.testing.assert_array_equal(report.forecasts["naive"][1], np.full(4, values[43]))
    table = report.metrics()
    assert set(table) == {"rnn", "naive", "seasonal_naive", "drift"}
    assert set(table["rnn"]) == {"MAE", "RMSE", "MAPE%", "sMAPE%", "MASE"}
    assert "does NOT beat seasonal naive" in report.verdict()


def test_lookback_longer_than_the_series_is_a_one_line_error():
    with pytest.raises(RnnlabError, match="lookback 200") as error:
        Forecaster(**dict(FAST, lookback=200)).fit(monthly_series(), progress=False)
    assert "\n" not in str(error.value)


def test_unknown_target_column_names_the_columns():
    with pytest.raises(RnnlabError, match="no column 'sales'"):
        Forecaster(**FAST, target="sales").fit(monthly_series(), progress=False)


def test_bad_hyperparameters_are_refused_at_once():
    with pytest.raises(RnnlabError, match="`horizon`"):
        Forecaster(horizon=0)
    with pytest.raises(RnnlabError, match="`strategy`"):
        Forecaster(strategy="seq2seq")
    with pytest.raises(RnnlabError, match="`horizon`"):
        Forecaster().set_params(horizon=-1)


def test_airline_report_prints_every_metric_beside_every_baseline(data_dir):
    series = read_series_csv(data_dir / "timeseries" / "airline.csv")
    model = Forecaster(**dict(FAST, horizon=12, max_steps=20)).fit(series, train_end=120, progress=False)
    text = model.report(series).format()
    for word in ("MAPE%", "sMAPE%", "MASE", "naive", "seasonal_naive", "drift", "1959-01 .. 1960-01"):
        assert word in text

"""Behaviour of `rnnlab.Forecaster` seen through its public API only: accuracy against a hand-computed
naive forecast, interval coverage, every strategy on exactly predictable series, and early stopping
keeping (and saving) the weights of the best validation evaluation.
"""

import numpy as np
import pytest

from rnnlab import Forecaster


def seasonal_with_trend(n: int = 300, seed: int = 0) -> np.ndarray:
    """Period-12 sine plus a linear trend plus small Gaussian noise."""
    t = np.arange(n)
    rng = np.random.default_rng(seed)
    return 10 + 0.05 * t + 3 * np.sin(2 * np.pi * t / 12) + rng.normal(0, 0.3, n)


def noisy_sine(n: int, seed: int = 0) -> np.ndarray:
    """A stationary series: period-12 sine plus i.i.d. Gaussian noise (sd 0.5)."""
    t = np.arange(n)
    rng = np.random.default_rng(seed)
    return 5 + 2 * np.sin(2 * np.pi * t / 12) + rng.normal(0, 0.5, n)


def test_forecast_beats_naive_on_a_seasonal_series():
    y, cut, horizon = seasonal_with_trend(), 252, 6
    model = Forecaster(lookback=24, horizon=horizon, hidden_size=16, max_steps=200, difference=1,
                       seasonal_difference="off").fit(y, train_end=cut, progress=False)
    origins = range(cut, len(y) - horizon + 1)  # every origin in the held-out tail
    actual = np.stack([y[o: o + horizon] for o in origins])  # (N, H)
    rnn = np.stack([model.predict(y[:o]) for o in origins])  # (N, H)
    naive = np.stack([np.full(horizon, y[o - 1]) for o in origins])  # last value repeated, from the arrays
    assert rnn.shape == actual.shape == (len(y) - horizon + 1 - cut, horizon)
    rnn_mae, naive_mae = np.mean(np.abs(rnn - actual)), np.mean(np.abs(naive - actual))
    # the season swings +-3 while the noise is 0.3: a model that learned it is far better than naive
    assert rnn_mae < 0.5 * naive_mae, (rnn_mae, naive_mae)


def test_evaluate_reports_the_same_forecasts_as_predict_from_each_prefix():
    y, cut, horizon = seasonal_with_trend(), 252, 6
    model = Forecaster(lookback=24, horizon=horizon, hidden_size=8, max_steps=50, difference=1,
                       seasonal_difference="off").fit(y, train_end=cut, progress=False)
    report = model.report(y, test_start=cut, step=5)
    assert list(report.origins) == list(range(cut, len(y) - horizon + 1, 5))
    for row, origin in enumerate(report.origins):
        np.testing.assert_array_equal(report.actual[row], y[origin: origin + horizon])
        np.testing.assert_allclose(report.forecasts["rnn"][row], model.predict(y[:origin]), rtol=1e-6)
        np.testing.assert_array_equal(report.forecasts["naive"][row], np.full(horizon, y[origin - 1]))


def test_prediction_interval_covers_about_the_nominal_fraction_of_held_out_values():
    y, cut, horizon = noisy_sine(1400), 1000, 4
    model = Forecaster(lookback=24, horizon=horizon, hidden_size=16, max_steps=300, interval=0.8, val_fraction=0.25,
                       seasonal_difference="off").fit(y, train_end=cut, progress=False)
    origins = range(cut, len(y) - horizon + 1)  # 397 held-out origins, 1588 (origin, step) pairs
    inside = []
    for o in origins:
        lower, upper = model.predict_interval(y[:o])
        assert lower.shape == upper.shape == (horizon,)
        assert np.all(lower < upper)
        inside.append((lower <= y[o: o + horizon]) & (y[o: o + horizon] <= upper))
    coverage = np.mean(inside)
    # The band comes from residual quantiles on ~250 validation windows, so its true coverage has a binomial
    # standard error of about sqrt(0.8 * 0.2 / 250) = 0.025; the ~400 test origins add about 0.02 more (the
    # noise is i.i.d., so one-step errors are nearly independent). 0.15 is over 4 combined standard errors:
    # loose enough for any sound refactor, tight enough to catch a band that is far too wide or too narrow
    # (coverage near 1 or near 0.5). Across 20 data seeds this set-up gave 0.71 .. 0.85, mean 0.79.
    assert abs(coverage - 0.8) < 0.15, coverage


PERIOD_4 = np.tile([1.0, 4.0, 2.0, 3.0], 40)  # (160,) exactly repeating
RAMP = 5.0 + 2.0 * np.arange(160)  # (160,) a straight line: constant first differences


@pytest.mark.parametrize("strategy", ["recursive", "direct", "multi-output"])
@pytest.mark.parametrize("series, options", [(PERIOD_4, {}), (RAMP, {"difference": 1})], ids=["period-4", "ramp"])
def test_every_strategy_continues_a_perfectly_predictable_series(strategy, series, options):
    cut, horizon = 140, 6  # horizon longer than the period: recursive must feed its own forecasts back
    model = Forecaster(lookback=8, horizon=horizon, hidden_size=16, max_steps=200, lr=1e-2, strategy=strategy,
                       seasonal_difference="off", **options).fit(series, train_end=cut, progress=False)
    forecast = model.predict()
    assert forecast.shape == (horizon,)
    np.testing.assert_allclose(forecast, series[cut: cut + horizon], atol=0.05)
    for origin in range(cut + 1, cut + 5):  # the other three phases of the pattern, from held-out prefixes
        np.testing.assert_allclose(model.predict(series[:origin]), series[origin: origin + horizon], atol=0.05)
    # "direct" trains one network per step ahead, the other strategies a single one
    assert len(model.best_step_) == len({line["network"] for line in model.history_}) == (
        horizon if strategy == "direct" else 1)


def test_early_stopping_keeps_and_saves_the_weights_of_the_best_validation_evaluation(tmp_path):
    y, cut = noisy_sine(200), 180
    config = dict(lookback=12, horizon=4, hidden_size=16, lr=1e-2, eval_every=10, patience=3,
                  seasonal_difference="off")
    model = Forecaster(**config, max_steps=400).fit(y, train_end=cut, progress=False)
    steps = [line["step"] for line in model.history_]  # one network: one line per evaluation
    val_losses = [line["val_loss"] for line in model.history_]
    (best,), last = model.best_step_, steps[-1]
    assert best == steps[int(np.argmin(val_losses))]
    assert best < last < 400  # stopped early, after evaluations that were worse than the best
    assert val_losses[-1] > min(val_losses)

    # The same training run cut off at the best step (one evaluation, there) must give the same model: its
    # only validation loss is the minimum above and its forecasts are those of the early-stopped model.
    at_best = Forecaster(**dict(config, eval_every=best), max_steps=best).fit(y, train_end=cut, progress=False)
    assert at_best.history_[-1]["step"] == best
    assert at_best.history_[-1]["val_loss"] == pytest.approx(min(val_losses), rel=1e-6)
    np.testing.assert_allclose(model.predict(), at_best.predict(), rtol=1e-6)
    # ... while the weights of the last step, reached on the same trajectory, forecast differently
    at_last = Forecaster(**dict(config, eval_every=last), max_steps=last).fit(y, train_end=cut, progress=False)
    assert at_last.history_[-1]["val_loss"] == pytest.approx(val_losses[-1], rel=1e-6)
    assert np.max(np.abs(model.predict() - at_last.predict())) > 1e-4

    model.save(tmp_path / "run")
    loaded = Forecaster.load(tmp_path / "run")
    np.testing.assert_allclose(loaded.predict(), model.predict(), rtol=1e-6)
    np.testing.assert_allclose(loaded.predict(y[:190]), model.predict(y[:190]), rtol=1e-6)
    for band_loaded, band in zip(loaded.predict_interval(), model.predict_interval(), strict=True):
        np.testing.assert_allclose(band_loaded, band, rtol=1e-6)
    assert loaded.best_step_ == [best]

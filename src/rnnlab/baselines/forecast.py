"""Baselines every learned model is compared with: a model is only worth its cost if it beats these.

The forecasting methods follow Hyndman & Athanasopoulos, Forecasting: Principles and Practice
(3rd ed.), section 5.2 "Some simple forecasting methods". Each takes the history y_1 .. y_T as a
(T,) array and returns the forecasts for T+1 .. T+horizon as a (horizon,) array.
"""

from __future__ import annotations

import numpy as np

from rnnlab.checks import positive_int, require
from rnnlab.errors import RnnlabError

# ---------------------------------------------------------------------------------------------------
# Forecasting baselines
# ---------------------------------------------------------------------------------------------------


def naive_forecast(history: np.ndarray, horizon: int) -> np.ndarray:
    """yhat_{T+h} = y_T: every step repeats the last observation.

    >>> naive_forecast(np.array([1.0, 2.0, 5.0]), horizon=2)
    array([5., 5.])
    """
    history = _history(history, horizon, "naive_forecast", minimum=1)
    return np.full(horizon, history[-1])


def seasonal_naive_forecast(history: np.ndarray, horizon: int, season: int) -> np.ndarray:
    """yhat_{T+h} = y_{T+h-m(k+1)} with m = season and k = floor((h-1)/m): the last season repeated.

    >>> seasonal_naive_forecast(np.array([1.0, 2.0, 3.0, 10.0, 20.0, 30.0]), horizon=4, season=3)
    array([10., 20., 30., 10.])
    """
    require("season", season, positive_int)
    history = _history(history, horizon, "seasonal_naive_forecast", minimum=season)
    last_season = history[-season:]  # (m,) y_{T-m+1} .. y_T
    return last_season[np.arange(horizon) % season]


def drift_forecast(history: np.ndarray, horizon: int) -> np.ndarray:
    """yhat_{T+h} = y_T + h (y_T - y_1) / (T - 1): the line through the first and last observation.

    >>> drift_forecast(np.array([1.0, 2.0, 5.0]), horizon=2)  # slope (5 - 1) / 2 = 2
    array([7., 9.])
    """
    history = _history(history, horizon, "drift_forecast", minimum=2)
    slope = (history[-1] - history[0]) / (len(history) - 1)
    return history[-1] + slope * np.arange(1, horizon + 1)


def infer_season(series_values: np.ndarray, max_lag: int) -> int | None:
    """The season length suggested by the autocorrelation function, or None if there is no clear one.

    A fallback for when the frequency implies no season: yearly data, arrays without a `freq`,
    unusual multiples ("2W"), or sub-hourly steps. A monthly, quarterly, weekly, daily or hourly
    series gets its season from `Series.season` instead, because the calendar is more reliable
    than an estimate. Steps: remove the least-squares line (a trend would otherwise dominate every
    lag), compute the sample autocorrelation r_k for k = 0 .. max_lag + 1, and return the lag in
    2 .. max_lag of the highest local maximum of r_k that exceeds the white-noise bound 1.96 / sqrt(T).
    On real data: airline gives 12, weekly co2 gives 52, yearly sunspots give 10 (the ~11-year cycle).

    >>> infer_season(np.sin(2 * np.pi * np.arange(96) / 12), max_lag=24)
    12
    >>> infer_season(np.arange(50.0), max_lag=10) is None
    True
    """
    values = np.asarray(series_values, dtype=np.float64).ravel()
    require("max_lag", max_lag, positive_int)
    if len(values) < 2 * max_lag + 2:
        raise RnnlabError(
            f"infer_season needs at least 2 * max_lag + 2 = {2 * max_lag + 2} values to see a season repeat, "
            f"got {len(values)}"
        )
    if not np.all(np.isfinite(values)):
        raise RnnlabError("infer_season: the series holds NaN or infinite values")
    steps = np.arange(len(values))
    residual = values - np.polyval(np.polyfit(steps, values, deg=1), steps)  # (T,) detrended
    energy = residual @ residual
    if energy <= 1e-12 * max(1.0, values @ values):
        return None
    lags = np.arange(max_lag + 2)
    acf = np.array([residual[lag:] @ residual[: len(residual) - lag] for lag in lags]) / energy  # (max_lag+2,)
    candidates = lags[2 : max_lag + 1]
    peaks = candidates[
        (acf[candidates] > acf[candidates - 1])
        & (acf[candidates] >= acf[candidates + 1])
        & (acf[candidates] > 1.96 / np.sqrt(len(values)))
    ]
    return int(peaks[np.argmax(acf[peaks])]) if len(peaks) else None


def _history(history: np.ndarray, horizon: int, name: str, minimum: int) -> np.ndarray:
    """The history as a finite (T,) float array with T >= minimum; horizon checked positive."""
    require("horizon", horizon, positive_int)
    history = np.asarray(history, dtype=np.float64)
    if history.ndim != 1 or len(history) < minimum:
        raise RnnlabError(f"{name} needs a 1-D history of at least {minimum} values, got shape {history.shape}")
    if not np.all(np.isfinite(history)):
        raise RnnlabError(f"{name}: the history holds NaN or infinite values")
    return history

"""Evaluation metrics, one plain function each, returning Python floats.

Regression / forecasting metrics take y_true and y_pred of the same shape, usually (N, H): N
forecast windows of H steps. They average over every entry; `per_horizon` gives one value per step.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from rnnlab.errors import RnnlabError

# ---------------------------------------------------------------------------------------------------
# Regression and forecasting metrics
# ---------------------------------------------------------------------------------------------------


def rmse(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Root mean squared error, in the units of y.

    >>> rmse(np.array([[1.0, 2.0]]), np.array([[1.0, 4.0]]))  # sqrt((0 + 4) / 2)
    1.4142135623730951
    """
    y_true, y_pred = _pair(y_true, y_pred, "rmse")
    return float(np.sqrt(np.mean((y_true - y_pred) ** 2)))


def mae(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Mean absolute error, in the units of y.

    >>> mae(np.array([1.0, 2.0, 3.0]), np.array([2.0, 2.0, 1.0]))  # (1 + 0 + 2) / 3
    1.0
    """
    y_true, y_pred = _pair(y_true, y_pred, "mae")
    return float(np.mean(np.abs(y_true - y_pred)))


def mape(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Mean absolute percentage error, in percent: 100 * mean(|y - yhat| / |y|).

    Note: entries whose actual value is 0 have no percentage error; they are left out of the mean
    and a warning says how many. If every actual value is 0 the metric is undefined (an error).

    >>> mape(np.array([100.0, 200.0]), np.array([110.0, 150.0]))  # (10% + 25%) / 2
    17.5
    """
    y_true, y_pred = _pair(y_true, y_pred, "mape")
    nonzero = y_true != 0
    if not nonzero.any():
        raise RnnlabError("mape is undefined: every actual value is 0; use mae or smape")
    if not nonzero.all():
        warnings.warn(
            f"mape: ignored {int(np.sum(~nonzero))} of {y_true.size} entries whose actual value is 0",
            stacklevel=2,
        )
    return float(100.0 * np.mean(np.abs(y_true - y_pred)[nonzero] / np.abs(y_true[nonzero])))


def smape(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Symmetric MAPE in percent, between 0 and 200: 100 * mean(2 |y - yhat| / (|y| + |yhat|)).

    An entry where both y and yhat are 0 is a perfect forecast and counts as 0.

    >>> smape(np.array([100.0, 0.0]), np.array([50.0, 0.0]))  # (2 * 50 / 150 * 100 + 0) / 2
    33.33333333333333
    """
    y_true, y_pred = _pair(y_true, y_pred, "smape")
    denominator = np.abs(y_true) + np.abs(y_pred)
    ratio = np.divide(2.0 * np.abs(y_true - y_pred), denominator, out=np.zeros_like(denominator), where=denominator > 0)
    return float(100.0 * np.mean(ratio))


def mase(y_true: np.ndarray, y_pred: np.ndarray, y_train: np.ndarray, season: int = 1) -> float:
    """Mean absolute scaled error: MAE / (in-sample MAE of the seasonal naive forecast on y_train).

    scale = mean_t |y_train[t] - y_train[t - season]| over t = season .. T-1 (Hyndman & Koehler 2006).
    Below 1 the forecast beats the one-step seasonal naive forecast on the training data; unitless.

    >>> mase(np.array([5.0]), np.array([3.0]), y_train=np.array([1.0, 2.0, 4.0]))  # 2 / ((1 + 2) / 2)
    1.3333333333333333
    """
    y_true, y_pred = _pair(y_true, y_pred, "mase")
    y_train = np.asarray(y_train, dtype=np.float64).ravel()
    if not isinstance(season, (int, np.integer)) or season < 1:
        raise RnnlabError(
            f"Received an invalid value for argument `season`, expected a positive integer, got {season!r}."
        )
    if len(y_train) <= season:
        raise RnnlabError(f"mase needs a training series longer than season={season}, got {len(y_train)} values")
    scale = np.mean(np.abs(y_train[season:] - y_train[:-season]))
    if scale == 0:
        raise RnnlabError(
            f"mase is undefined: the training series repeats exactly every {season} steps "
            f"(seasonal naive in-sample error 0)"
        )
    return float(np.mean(np.abs(y_true - y_pred)) / scale)


def per_horizon(
    metric: Callable[..., float], y_true: np.ndarray, y_pred: np.ndarray, *args: Any, **kwargs: Any
) -> np.ndarray:
    """The metric at each forecast step: (H,) from y_true and y_pred of shape (N, H).

    Extra arguments go to the metric (for mase: y_train, season).

    >>> per_horizon(mae, np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([[1.0, 3.0], [3.0, 6.0]]))
    array([0. , 1.5])
    """
    y_true, y_pred = _pair(y_true, y_pred, "per_horizon")
    if y_true.ndim != 2:
        raise RnnlabError(f"per_horizon expects arrays of shape (N, H), got {y_true.shape}")
    return np.array([metric(y_true[:, h], y_pred[:, h], *args, **kwargs) for h in range(y_true.shape[1])])


def _pair(y_true: np.ndarray, y_pred: np.ndarray, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Both as float64 arrays of one shape, finite and non-empty."""
    y_true, y_pred = np.asarray(y_true, dtype=np.float64), np.asarray(y_pred, dtype=np.float64)
    if y_true.shape != y_pred.shape or y_true.size == 0:
        raise RnnlabError(
            f"{name}: y_true and y_pred must have the same non-empty shape, got {y_true.shape} and {y_pred.shape}"
        )
    if not (np.all(np.isfinite(y_true)) and np.all(np.isfinite(y_pred))):
        raise RnnlabError(f"{name}: y_true and y_pred must be finite (no NaN or inf)")
    return y_true, y_pred

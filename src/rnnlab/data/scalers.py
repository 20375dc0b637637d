"""Scalers, windows and rolling origins for forecasting, the scalers fitted on the training part only.

Every scaler learns per-column statistics over axis 0 of a (T, D) array in `fit`, and applies them
to any array whose last axis has D columns, so the same scaler maps a series (T, D) and its windows
(N, lookback, D). `transform(x, column=j)` / `inverse_transform(y, column=j)` apply column j's
statistics to every entry, which is how a forecast (N, H) of the target column goes back to data
units. `to_json()` gives a JSON-ready dict; `scaler_from_json` rebuilds any of them. The target's
log and differencing transforms are in `rnnlab.data.transforms`.

Leakage rule: statistics come from the training slice alone. `fit_transform_split` is the one place
that cuts, fits and applies, so that no caller can fit on values after the cut-off by accident.
"""

from __future__ import annotations

from typing import Any, Self

import numpy as np

from rnnlab.checks import positive_int, require
from rnnlab.errors import RnnlabError


class _Scaler:
    """Shared fit/transform plumbing: subclasses set `_fit_statistics` and the names of their state."""

    _state = ("shift_", "scale_")

    def fit(self, x: np.ndarray) -> Self:
        """Learn per-column statistics from x (T, D) or (T,); returns self."""
        x = np.asarray(x, dtype=np.float64)
        if x.ndim not in (1, 2) or len(x) == 0 or not np.all(np.isfinite(x)):
            raise RnnlabError(
                f"{type(self).__name__}.fit expects finite values of shape (T,) or (T, D) with T >= 1, "
                f"got shape {x.shape}"
            )
        self._fit_statistics(x.reshape(len(x), -1))
        self.n_features_ = x.reshape(len(x), -1).shape[1]
        return self

    def transform(self, x: np.ndarray, column: int | None = None) -> np.ndarray:
        """Scaled copy of x (..., D), or of x (...) with column `column`'s statistics."""
        shift, scale = self._affine(x, column)
        return (np.asarray(x, dtype=np.float64) - shift) / scale

    def inverse_transform(self, x: np.ndarray, column: int | None = None) -> np.ndarray:
        """Undo `transform`: data units again, same shape as x."""
        shift, scale = self._affine(x, column)
        return np.asarray(x, dtype=np.float64) * scale + shift

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict: the class name, constructor arguments and fitted statistics."""
        state = {name: getattr(self, name).tolist() for name in self._state if hasattr(self, name)}
        return {"type": type(self).__name__, **self._arguments(), **state}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Self:
        """Rebuild a scaler from `to_json()` output."""
        if data.get("type") != cls.__name__:
            raise RnnlabError(f"{cls.__name__}.from_json got a {data.get('type')!r} record")
        scaler = cls(**{key: data[key] for key in cls._arguments_names() if key in data})
        for name in cls._state:
            if name in data:
                setattr(scaler, name, np.asarray(data[name], dtype=np.float64))
        if "shift_" in data:
            scaler.n_features_ = len(scaler.shift_)
        return scaler

    def _arguments(self) -> dict[str, Any]:
        return {}

    @classmethod
    def _arguments_names(cls) -> tuple[str, ...]:
        return ()

    def _fit_statistics(self, x: np.ndarray) -> None:
        raise NotImplementedError

    def _affine(self, x: np.ndarray, column: int | None) -> tuple[np.ndarray, np.ndarray]:
        """(shift, scale) so that transform(x) = (x - shift) / scale, checked against x's shape."""
        if not hasattr(self, "shift_"):
            raise RnnlabError(f"{type(self).__name__} is not fitted; call fit(train_values) first")
        if column is not None:
            if not 0 <= column < len(self.shift_):
                raise RnnlabError(f"column {column} is out of range for {len(self.shift_)} fitted columns")
            return self.shift_[column], self.scale_[column]
        width = np.shape(x)[-1] if np.ndim(x) > 1 else 1
        if width != len(self.shift_):
            raise RnnlabError(
                f"{type(self).__name__} was fitted on {len(self.shift_)} columns, got an array of shape "
                f"{np.shape(x)}; pass column= to use one column's statistics"
            )
        return (self.shift_, self.scale_) if np.ndim(x) > 1 else (self.shift_[0], self.scale_[0])


class StandardScaler(_Scaler):
    """z = (x - mean) / std per column; a constant column gets std 1 (it maps to 0, not NaN).

    >>> scaler = StandardScaler().fit(np.array([[1.0], [3.0]]))
    >>> scaler.mean_, scaler.std_, scaler.transform(np.array([[5.0]]))
    (array([2.]), array([1.]), array([[3.]]))
    """

    @property
    def mean_(self) -> np.ndarray:
        return self.shift_

    @property
    def std_(self) -> np.ndarray:
        return self.scale_

    def _fit_statistics(self, x: np.ndarray) -> None:
        std = x.std(axis=0)  # (D,) population std, ddof=0
        self.shift_, self.scale_ = x.mean(axis=0), np.where(std > 0, std, 1.0)


class MinMaxScaler(_Scaler):
    """Maps each column's training [min, max] linearly onto `feature_range`; later values may fall outside.

    >>> MinMaxScaler(feature_range=(-1, 1)).fit(np.array([0.0, 10.0])).transform(np.array([5.0, 20.0]))
    array([0., 3.])
    """

    def __init__(self, feature_range: tuple[float, float] = (0.0, 1.0)):
        low, high = feature_range
        if not low < high:
            raise RnnlabError(
                f"Received an invalid value for argument `feature_range`, expected (low, high) with "
                f"low < high, got {feature_range!r}."
            )
        self.feature_range = (float(low), float(high))

    def _arguments(self) -> dict[str, Any]:
        return {"feature_range": list(self.feature_range)}

    @classmethod
    def _arguments_names(cls) -> tuple[str, ...]:
        return ("feature_range",)

    def _fit_statistics(self, x: np.ndarray) -> None:
        low, high = self.feature_range
        data_min, data_max = x.min(axis=0), x.max(axis=0)  # (D,)
        data_range = np.where(data_max > data_min, data_max - data_min, 1.0)
        # z = low + (x - min) * (high - low) / range, written as (x - shift) / scale
        self.scale_ = data_range / (high - low)
        self.shift_ = data_min - low * self.scale_


class IdentityScaler(_Scaler):
    """Leaves values unchanged; keeps the scaler interface for "no scaling".

    >>> IdentityScaler().fit(np.ones((3, 2))).transform(np.array([[1.0, 2.0]]))
    array([[1., 2.]])
    """

    def _fit_statistics(self, x: np.ndarray) -> None:
        self.shift_, self.scale_ = np.zeros(x.shape[1]), np.ones(x.shape[1])


_REGISTRY = {cls.__name__: cls for cls in (StandardScaler, MinMaxScaler, IdentityScaler)}


def scaler_from_json(data: dict[str, Any]) -> _Scaler:
    """Rebuild whichever scaler `to_json()` described.

    >>> scaler_from_json(StandardScaler().fit(np.array([1.0, 3.0])).to_json()).mean_
    array([2.])
    """
    if data.get("type") not in _REGISTRY:
        raise RnnlabError(f"unknown scaler type {data.get('type')!r}; expected one of {sorted(_REGISTRY)}")
    return _REGISTRY[data["type"]].from_json(data)


def fit_transform_split(values: np.ndarray, train_end: int, scaler: _Scaler) -> tuple[np.ndarray, np.ndarray, _Scaler]:
    """Fit `scaler` on values[:train_end] only, then scale both parts.

    Contract: the fitted statistics depend on values[:train_end] alone; nothing at or after index
    `train_end` can change them. Returns (train (train_end, D), rest (T - train_end, D), scaler),
    the scaler being the one passed in, now fitted.

    >>> train, rest, scaler = fit_transform_split(np.array([[0.0], [2.0], [100.0]]), 2, StandardScaler())
    >>> train.ravel(), rest.ravel()
    (array([-1.,  1.]), array([99.]))
    """
    values = np.asarray(values, dtype=np.float64)
    if not isinstance(train_end, (int, np.integer)) or not 1 <= train_end <= len(values):
        raise RnnlabError(
            f"Received an invalid value for argument `train_end`, expected an integer in [1, {len(values)}], "
            f"got {train_end!r}."
        )
    scaler.fit(values[:train_end])
    return scaler.transform(values[:train_end]), scaler.transform(values[train_end:]), scaler


def make_windows(
    values: np.ndarray, lookback: int, horizon: int, target_index: int = 0, stride: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """Supervised pairs from a series: X (N, lookback, D) inputs and Y (N, horizon) targets.

    Window i starts at s = i * stride: X[i] = values[s : s + lookback] (all columns) and
    Y[i] = values[s + lookback : s + lookback + horizon, target_index], the `horizon` steps right
    after the inputs, so the last input time and the first target time are consecutive.
    N = (T - lookback - horizon) // stride + 1; a 1-D values array counts as D = 1.

    >>> X, Y = make_windows(np.arange(6.0), lookback=3, horizon=2)
    >>> X.shape, Y.shape, X[0].ravel(), Y[0]
    ((2, 3, 1), (2, 2), array([0., 1., 2.]), array([3., 4.]))
    """
    values = np.asarray(values, dtype=np.float64)
    values = values[:, None] if values.ndim == 1 else values
    for name, value in (("lookback", lookback), ("horizon", horizon), ("stride", stride)):
        require(name, value, positive_int)
    if values.ndim != 2 or not 0 <= target_index < values.shape[1]:
        raise RnnlabError(f"make_windows: values of shape {values.shape} have no column {target_index}")
    if len(values) < lookback + horizon:
        raise RnnlabError(
            f"make_windows: a series of {len(values)} steps is shorter than lookback + horizon = {lookback + horizon}"
        )
    span = np.lib.stride_tricks.sliding_window_view(values, lookback + horizon, axis=0)  # (T-L-H+1, D, L+H)
    span = span[::stride]
    X = np.ascontiguousarray(span[:, :, :lookback].transpose(0, 2, 1))  # (N, lookback, D)
    Y = np.ascontiguousarray(span[:, target_index, lookback:])  # (N, horizon)
    return X, Y


def rolling_origins(T: int, horizon: int, n_origins: int, step: int | None = None) -> list[int]:
    """Cut-off indices for a rolling-origin backtest, ascending, the last window ending at T.

    Origin c trains on [0, c) and tests on [c, c + horizon). Origins are `step` apart (default
    `horizon`, so test windows do not overlap) and the last one is T - horizon.

    >>> rolling_origins(T=20, horizon=3, n_origins=3)
    [11, 14, 17]
    """
    step = horizon if step is None else step
    for name, value in (("horizon", horizon), ("n_origins", n_origins), ("step", step)):
        require(name, value, positive_int)
    first = T - horizon - step * (n_origins - 1)
    if first < 1:
        raise RnnlabError(
            f"rolling_origins: {n_origins} origins {step} steps apart with horizon {horizon} need at least "
            f"{T - first + 1} steps (one to train on), got T={T}"
        )
    return [first + step * k for k in range(n_origins)]

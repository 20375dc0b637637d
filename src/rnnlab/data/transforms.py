"""Invertible transforms of a forecasting target, and `TargetTransform`: the chain of them a model uses.

    raw y (T,) --log?--> u --seasonal difference (lag m)?--> v --difference (order d)?--> z (T,)

A model learns z and forecasts z; `TargetTransform.inverse` integrates those forecasts back to the
units of y, given the observed history before the forecast origin. The chain is fitted on the
training rows, saved as JSON in a checkpoint (`to_json`) and read back on load (`from_json`).

Each step maps (T, ...) -> (T - lost, ...) along time (axis 0) and back:
`inverse_transform(steps, history)` continues `history` (the step's input up to the origin) with
the values whose transforms are `steps`.
"""

from __future__ import annotations

from typing import Any, Self

import numpy as np

from rnnlab.config import positive_int
from rnnlab.errors import RnnlabError, invalid_argument


def _check_lag(name: str, value: Any) -> int:
    if not positive_int.accepts(value):
        raise invalid_argument(name, positive_int.expected, value)
    return value


class LogTransform:
    """y = log(1 + x), inverse x = exp(y) - 1 (log1p / expm1); refuses negative values.

    >>> LogTransform().inverse_transform(LogTransform().transform(np.array([0.0, 9.0])))
    array([0., 9.])
    """

    lost = 0

    def fit(self, x: np.ndarray) -> Self:
        """Nothing to learn; checks x and returns self."""
        self.transform(x)
        return self

    def transform(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        if np.any(x < 0):
            raise RnnlabError(
                f"LogTransform needs non-negative values, got {int(np.sum(x < 0))} negative "
                f"(smallest {np.nanmin(x):g}); use a different transform or shift the data"
            )
        return np.log1p(x)

    def inverse_transform(self, y: np.ndarray, history: np.ndarray | None = None) -> np.ndarray:
        """x from y, same shape (the history is not needed)."""
        return np.expm1(np.asarray(y, dtype=np.float64))

    def to_json(self) -> dict[str, Any]:
        return {"type": "LogTransform"}


class Differencing:
    """d-th order differences along time (axis 0): (T, ...) -> (T - order, ...).

    The inverse integrates forecasts of differences back to levels, starting from the last `order`
    observed values of the original series (the history up to the forecast origin).

    >>> diff = Differencing(order=1)
    >>> diff.transform(np.array([1.0, 3.0, 6.0]))
    array([2., 3.])
    >>> diff.inverse_transform(np.array([4.0, 5.0]), history=np.array([1.0, 3.0, 6.0]))
    array([10., 15.])
    """

    def __init__(self, order: int = 1) -> None:
        self.order = _check_lag("order", order)

    @property
    def lost(self) -> int:
        return self.order

    def fit(self, x: np.ndarray) -> Self:
        """Nothing to learn; returns self."""
        return self

    def transform(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        if len(x) <= self.order:
            raise RnnlabError(f"Differencing(order={self.order}) needs more than {self.order} values, got {len(x)}")
        return np.diff(x, n=self.order, axis=0)

    def inverse_transform(self, diffs: np.ndarray, history: np.ndarray) -> np.ndarray:
        """Levels (H, ...) following `history` (T, ...) whose d-th differences are `diffs` (H, ...)."""
        history = np.asarray(history, dtype=np.float64)
        if len(history) < self.order:
            raise RnnlabError(
                f"Differencing(order={self.order}).inverse_transform needs the last {self.order} observed "
                f"values, got {len(history)}"
            )
        tail = history[len(history) - self.order:]  # (order, ...)
        # last value of each difference level 0..order-1 at the origin
        anchors = [np.diff(tail, n=level, axis=0)[-1] for level in range(self.order)]
        levels = np.asarray(diffs, dtype=np.float64)
        for anchor in reversed(anchors):
            levels = anchor + np.cumsum(levels, axis=0)
        return levels

    def to_json(self) -> dict[str, Any]:
        return {"type": "Differencing", "order": self.order}


class SeasonalDifferencing:
    """v_t = u_t - u_{t-m} along time: (T, ...) -> (T - m, ...); the inverse adds the value a season back.

    >>> seasonal = SeasonalDifferencing(lag=2)
    >>> seasonal.transform(np.array([1.0, 5.0, 2.0, 7.0]))
    array([1., 2.])
    >>> seasonal.inverse_transform(np.array([1.0, 2.0, 3.0]), history=np.array([1.0, 5.0, 2.0, 7.0]))
    array([3., 9., 6.])
    """

    def __init__(self, lag: int) -> None:
        self.lag = _check_lag("lag", lag)

    @property
    def lost(self) -> int:
        return self.lag

    def fit(self, x: np.ndarray) -> Self:
        """Nothing to learn; returns self."""
        return self

    def transform(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        if len(x) <= self.lag:
            raise RnnlabError(f"SeasonalDifferencing(lag={self.lag}) needs more than {self.lag} values, got {len(x)}")
        return x[self.lag:] - x[:-self.lag]

    def inverse_transform(self, diffs: np.ndarray, history: np.ndarray) -> np.ndarray:
        """Values (H, ...) following `history` (T >= lag, ...) whose seasonal differences are `diffs` (H, ...)."""
        history = np.asarray(history, dtype=np.float64)
        if len(history) < self.lag:
            raise RnnlabError(f"SeasonalDifferencing(lag={self.lag}).inverse_transform needs the last {self.lag} "
                              f"observed values, got {len(history)}")
        diffs = np.asarray(diffs, dtype=np.float64)
        extended = np.concatenate([history, np.zeros_like(diffs)])
        for h in range(len(diffs)):  # u_{T+h} = v_{T+h} + u_{T+h-m}, using earlier forecasts once h >= m
            extended[len(history) + h] = diffs[h] + extended[len(history) + h - self.lag]
        return extended[len(history):]

    def to_json(self) -> dict[str, Any]:
        return {"type": "SeasonalDifferencing", "lag": self.lag}


_STEPS = {"LogTransform": LogTransform, "Differencing": Differencing, "SeasonalDifferencing": SeasonalDifferencing}


def step_from_json(data: dict[str, Any]) -> LogTransform | Differencing | SeasonalDifferencing:
    """Rebuild one step from its `to_json()`."""
    kind = data.get("type") if isinstance(data, dict) else None
    if kind not in _STEPS:
        raise RnnlabError(f"unknown transform type {kind!r}; expected one of {sorted(_STEPS)}")
    arguments = {key: int(value) for key, value in data.items() if key != "type"}
    return _STEPS[kind](**arguments)


class TargetTransform:
    """The target's transforms in order: log, seasonal differencing, differencing (each optional).

    `transform(y)` keeps the length T and puts NaN in the first `lost` rows, where a difference is
    undefined; `inverse(z, history)` turns forecasts z (H,) of the transformed target into values
    of y (H,) that follow the raw `history` (T,).

    >>> chain = TargetTransform.build(log=False, seasonal_lag=0, difference=1).fit(np.array([1.0, 3.0, 6.0]))
    >>> chain.transform(np.array([1.0, 3.0, 6.0]))
    array([nan,  2.,  3.])
    >>> chain.inverse(np.array([4.0, 5.0]), history=np.array([1.0, 3.0, 6.0]))
    array([10., 15.])
    >>> TargetTransform.from_json(chain.to_json()).to_json()
    {'type': 'TargetTransform', 'steps': [{'type': 'Differencing', 'order': 1}]}
    """

    def __init__(self, steps: list[LogTransform | Differencing | SeasonalDifferencing] | None = None) -> None:
        self.steps = list(steps or [])

    @classmethod
    def build(cls, log: bool, seasonal_lag: int, difference: int) -> TargetTransform:
        """The chain a forecaster's settings ask for: log?, seasonal difference at `seasonal_lag` (0: none), ..."""
        steps: list = [LogTransform()] if log else []
        steps += [SeasonalDifferencing(seasonal_lag)] if seasonal_lag else []
        steps += [Differencing(difference)] if difference else []
        return cls(steps)

    @property
    def lost(self) -> int:
        """Rows at the start with no transformed value (the lags of the differences)."""
        return sum(step.lost for step in self.steps)

    @property
    def seasonal_lag(self) -> int:
        """The lag of the seasonal difference, 0 when there is none."""
        return next((step.lag for step in self.steps if isinstance(step, SeasonalDifferencing)), 0)

    def fit(self, y: np.ndarray) -> Self:
        """Check the training target y (T,) against every step (log needs y >= 0; differences need rows)."""
        self._levels(np.asarray(y, dtype=np.float64), fit=True)
        return self

    def transform(self, y: np.ndarray) -> np.ndarray:
        """y (T,) -> z (T,), NaN in the first `lost` rows."""
        return self._levels(np.asarray(y, dtype=np.float64))[-1]

    def inverse(self, z: np.ndarray, history: np.ndarray) -> np.ndarray:
        """Forecasts z (H,) of the transformed target -> values (H,) of y following the raw `history` (T,)."""
        levels = self._levels(np.asarray(history, dtype=np.float64))  # the history at each step's input
        values = np.asarray(z, dtype=np.float64)
        for step, level in zip(reversed(self.steps), reversed(levels[:-1]), strict=True):
            values = step.inverse_transform(values, history=level)
        return values

    def _levels(self, y: np.ndarray, fit: bool = False) -> list[np.ndarray]:
        """[y, after step 1, after step 2, ...], each (T,) with NaN where undefined."""
        levels = [y]
        for step in self.steps:
            if fit:
                step.fit(levels[-1][~np.isnan(levels[-1])])
            defined = step.transform(levels[-1])
            levels.append(np.concatenate([np.full(len(y) - len(defined), np.nan), defined]))
        return levels

    def to_json(self) -> dict[str, Any]:
        return {"type": "TargetTransform", "steps": [step.to_json() for step in self.steps]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TargetTransform:
        """Rebuild the chain saved by `to_json`."""
        if not isinstance(data, dict) or data.get("type") != "TargetTransform" or not isinstance(
                data.get("steps"), list):
            raise RnnlabError(f"not a saved TargetTransform: {data!r}")
        return cls([step_from_json(step) for step in data["steps"]])

    def __repr__(self) -> str:
        return f"TargetTransform({[step.to_json() for step in self.steps]})"

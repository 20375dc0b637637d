"""What a numeric series goes through before the classifier reads it: z-normalisation and downsampling.

Both act on one series at a time, so they need no statistics from a training set and cannot leak
one series into another (the scaler fitted afterwards, on the training split only, is the one
learned transform):

    (T, F) --znormalize--> (T, F) each feature mean 0, std 1 over its own T steps (the UCR convention)
           --paa(steps)--> (min(T, steps), F) the mean of each of `steps` equal stretches of time
"""

from __future__ import annotations

import numpy as np

from rnnlab.checks import length, require


def znormalize(series: np.ndarray) -> np.ndarray:
    """(T, F) -> (T, F): each feature minus its mean over time, divided by its standard deviation.

    A feature that does not vary (std below 1e-8) becomes zeros rather than noise.

    >>> znormalize(np.array([[1.0, 5.0], [3.0, 5.0]])).tolist()
    [[-1.0, 0.0], [1.0, 0.0]]
    """
    x = np.asarray(series, dtype=np.float64)
    std = x.std(axis=0)
    return (x - x.mean(axis=0)) / np.where(std < 1e-8, np.inf, std)


def paa(series: np.ndarray, steps: int) -> np.ndarray:
    """Piecewise aggregate approximation: (T, F) -> (steps, F) when T > steps, else the series unchanged.

    Output step j is the mean of the series over the stretch [j T / steps, (j + 1) T / steps) of time,
    each input step counting as a unit interval, so a step that straddles two stretches is shared between
    them in proportion (Keogh et al. 2001, for any T and steps). The mean over time is kept exactly.

    >>> paa(np.arange(6.0)[:, None], 3).ravel().tolist()
    [0.5, 2.5, 4.5]
    >>> paa(np.arange(4.0)[:, None], 3).ravel().round(4).tolist()  # stretches of 4/3 steps
    [0.25, 1.5, 2.75]
    """
    require("steps", steps, length)
    x = np.asarray(series, dtype=np.float64)
    T = len(x)
    if T <= steps:
        return x
    area = np.concatenate([np.zeros((1, x.shape[1])), np.cumsum(x, axis=0)])  # (T + 1, F): integral up to step t
    edges = np.arange(steps + 1) * (T / steps)  # (steps + 1,) stretch boundaries, in steps
    whole = np.minimum(np.floor(edges).astype(np.int64), T - 1)
    integral = area[whole] + (edges - whole)[:, None] * x[whole]  # (steps + 1, F): linear within a step
    return np.diff(integral, axis=0) * (steps / T)

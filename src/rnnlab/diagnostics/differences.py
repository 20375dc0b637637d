"""What every gradient check compares: central differences of a loss, and the relative error of two gradients.

Relative error of a tensor: ||analytic - numeric|| / (||analytic|| + ||numeric||), with Euclidean norms
over the whole tensor (0 when both are zero).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def relative_error(analytic: np.ndarray, numeric: np.ndarray) -> float:
    scale = np.linalg.norm(analytic) + np.linalg.norm(numeric)
    return float(np.linalg.norm(analytic - numeric) / scale) if scale > 0 else 0.0


def numerical_gradient(loss: Callable[[], float], array: np.ndarray, eps: float = 1e-6,
                       indices: np.ndarray | None = None) -> np.ndarray:
    """Central differences of `loss()` with respect to the elements of `array` (perturbed in place).

    All of them, shaped like `array`; or, given flat `indices`, only those, as a 1-D array in their order.
    """
    flat = array.reshape(-1)  # a view: perturbing it perturbs the array
    picked = np.arange(flat.size) if indices is None else np.asarray(indices)
    grad = np.zeros(len(picked), dtype=np.float64)
    for i, k in enumerate(picked):
        saved = flat[k]
        flat[k] = saved + eps
        plus = loss()
        flat[k] = saved - eps
        minus = loss()
        flat[k] = saved
        grad[i] = (plus - minus) / (2 * eps)
    return grad.reshape(array.shape).astype(array.dtype) if indices is None else grad

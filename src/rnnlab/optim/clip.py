"""Gradient clipping, as `torch.nn.utils.clip_grad_norm_` and `clip_grad_value_`: in place on `.grad`.

Recurrent nets are where gradients explode (a long product of Jacobians), so a training loop
calls one of these between `backward` and `optimizer.step()`.

>>> import numpy as np
>>> from rnnlab.nn import Parameter
>>> w = Parameter(np.zeros(2))
>>> w.grad[:] = [3.0, 4.0]
>>> clip_grad_norm_([w], max_norm=1.0)
5.0
>>> w.grad.round(6)
array([0.6, 0.8])
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from rnnlab.checks import is_real, non_negative, require, require_that
from rnnlab.errors import RnnlabError
from rnnlab.nn.functional import fused
from rnnlab.nn.module import Parameter


def _grads(params: Parameter | Iterable[Parameter]) -> list[np.ndarray]:
    if isinstance(params, Parameter):
        params = [params]
    elif not isinstance(params, list) and isinstance(params, Iterable):  # (a list as it is: the ABC check is slow)
        params = list(params)
    if not isinstance(params, list) or not all(isinstance(p, Parameter) for p in params):
        raise RnnlabError(
            "Received an invalid value for argument `params`, expected a Parameter or an iterable of "
            "Parameter (such as `model.parameters()`)."
        )
    return [p.grad for p in params]


def _end_to_end(grads: list[np.ndarray]) -> list[np.ndarray]:
    """The gradients for elementwise work, those that together fill one flat array joined into it: an optimizer
    keeps its parameters' gradients as the parts of one flat array (`optimizer.flatten_parameters`), and one call
    on that array then does the work of one call per parameter (a few microseconds each).

    The parts never overlap (the optimizer's step relies on it too), so distinct views of one flat array whose
    sizes add up to its size are all of it.
    """
    bases, rest = {}, []  # id of a flat base -> [base, elements, views of it]; other gradients
    for g in grads:
        base = g.base
        if isinstance(base, np.ndarray) and base.ndim == 1 and base.dtype == g.dtype and g.flags.c_contiguous:
            entry = bases.setdefault(id(base), [base, 0, []])
            entry[1] += g.size
            entry[2].append(g)
        else:
            rest.append(g)
    for base, size, views in bases.values():
        whole = size == base.size and len({id(v) for v in views}) == len(views)
        rest.extend([base] if whole else views)
    return rest


def clip_grad_norm_(params: Parameter | Iterable[Parameter], max_norm: float, norm_type: float = 2.0) -> float:
    """Scale all gradients by min(1, max_norm / (‖g‖ + 1e-6)); return ‖g‖, the norm before clipping.

    ‖g‖ is the `norm_type`-norm of all gradients as one vector (`inf`: the largest |g|), computed
    as PyTorch does: the norm of the per-parameter norms.
    """
    require("max_norm", max_norm, non_negative)
    require_that("norm_type", norm_type, "a positive number or inf", is_real(norm_type) and norm_type > 0)
    grads = _grads(params)
    if not grads:
        return 0.0
    norm_type = float(norm_type)
    norms = [np.linalg.norm(g.ravel(), ord=norm_type) for g in grads]
    total_norm = float(np.linalg.norm(np.array(norms, dtype=np.float64), ord=norm_type))
    clip_coef = max_norm / (total_norm + 1e-6)
    # PyTorch multiplies by min(coef, 1) always; skipping the multiply by 1 changes nothing, and a
    # nan norm still spreads into the gradients as it does there.
    if clip_coef < 1.0 or math.isnan(clip_coef):
        for g in _end_to_end(grads):
            g *= g.dtype.type(clip_coef)
    return total_norm


def clip_grad_value_(params: Parameter | Iterable[Parameter], clip_value: float) -> None:
    """Clamp every gradient element into [-clip_value, clip_value]."""
    require("clip_value", clip_value, non_negative)
    for g in _end_to_end(_grads(params)):
        low, high = g.dtype.type(-clip_value), g.dtype.type(clip_value)
        (fused(clip_values, g.dtype) if g.ndim == 1 and g.flags.c_contiguous else clip_values)(g, low, high)


def clip_values(g: np.ndarray, low: np.floating, high: np.floating) -> None:
    """g clamped into [low, high] in place (NaN stays NaN). g: (n,); low, high: scalars of g's dtype.

    In float32 its compiled twin in `rnnlab.nn.kernels` runs instead: NumPy's clip takes no vector
    instructions (an optimizer's 23,000 gradients: 9 us, compiled 3 us)."""
    g.clip(low, high, out=g)  # (the method: np.clip adds a few microseconds of dispatch a call)

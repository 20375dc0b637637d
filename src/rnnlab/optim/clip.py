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
from rnnlab.nn.module import Parameter


def _grads(params: Parameter | Iterable[Parameter]) -> list[np.ndarray]:
    if isinstance(params, Parameter):
        params = [params]
    elif isinstance(params, Iterable):
        params = list(params)
    if not isinstance(params, list) or not all(isinstance(p, Parameter) for p in params):
        raise RnnlabError(
            "Received an invalid value for argument `params`, expected a Parameter or an iterable of "
            "Parameter (such as `model.parameters()`)."
        )
    return [p.grad for p in params]


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
        for g in grads:
            g *= g.dtype.type(clip_coef)
    return total_norm


def clip_grad_value_(params: Parameter | Iterable[Parameter], clip_value: float) -> None:
    """Clamp every gradient element into [-clip_value, clip_value]."""
    require("clip_value", clip_value, non_negative)
    for g in _grads(params):
        g.clip(-clip_value, clip_value, out=g)  # (the method: np.clip adds a few microseconds of dispatch a call)

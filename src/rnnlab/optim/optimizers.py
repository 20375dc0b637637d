"""The update rules: SGD, Adagrad, RMSprop, Adam and AdamW, each PyTorch's, on the flat arrays of `Optimizer`.

Notation, as in PyTorch's docs: γ learning rate, λ weight decay, θ parameters, g gradient.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from rnnlab.checks import is_real, non_negative, require, require_that
from rnnlab.nn.functional import fused
from rnnlab.nn.module import Parameter
from rnnlab.optim.optimizer import Optimizer, _add_weight_decay


class SGD(Optimizer):
    r"""Stochastic gradient descent with optional (Nesterov) momentum, as `torch.optim.SGD`.

    With momentum μ and dampening τ, each step does
        g_t = ∇θ + λ θ_{t-1}
        b_t = g_t  (t = 1),   b_t = μ b_{t-1} + (1 - τ) g_t  (t > 1)        if μ ≠ 0
        g_t = g_t + μ b_t  if nesterov,  else  g_t = b_t                    if μ ≠ 0
        θ_t = θ_{t-1} - γ g_t
    """

    hyper_names = ("lr", "momentum", "dampening", "weight_decay", "nesterov")

    def __init__(
        self,
        params: Iterable[Parameter],
        lr: float,
        momentum: float = 0,
        dampening: float = 0,
        weight_decay: float = 0,
        nesterov: bool = False,
    ) -> None:
        super().__init__(params, lr)
        self.momentum = require("momentum", momentum, non_negative)
        self.dampening = require_that("dampening", dampening, "a number", is_real(dampening))
        self.weight_decay = require("weight_decay", weight_decay, non_negative)
        self.nesterov = require_that(
            "nesterov",
            nesterov,
            "False unless momentum > 0 and dampening == 0",
            not nesterov or (momentum > 0 and dampening == 0),
        )
        if momentum != 0:
            self._add_buffer("momentum_buffer")

    def _update(self, data, grad, state, decayed, tmp):
        cast = data.dtype.type
        grad = _add_weight_decay(data, grad, self.weight_decay, decayed)
        if self.momentum != 0:
            buf = state["momentum_buffer"]
            if self.step_count == 1:
                np.copyto(buf, grad)
            else:
                buf *= cast(self.momentum)
                if self.dampening == 0:
                    buf += grad
                else:
                    np.multiply(grad, cast(1 - self.dampening), out=tmp)
                    buf += tmp
            if self.nesterov:
                np.multiply(buf, cast(self.momentum), out=tmp)
                grad = np.add(grad, tmp, out=tmp)
            else:
                grad = buf
        np.multiply(grad, cast(self.lr), out=tmp)
        data -= tmp


class Adagrad(Optimizer):
    r"""Adagrad, as `torch.optim.Adagrad`: per-element steps shrink with the summed squared gradients.

    With learning-rate decay η and accumulator s_0 = initial_accumulator_value, each step does
        g_t = ∇θ + λ θ_{t-1}
        γ̃ = γ / (1 + (t - 1) η)
        s_t = s_{t-1} + g_t²
        θ_t = θ_{t-1} - γ̃ g_t / (√s_t + ε)
    """

    hyper_names = ("lr", "lr_decay", "weight_decay", "initial_accumulator_value", "eps")

    def __init__(
        self,
        params: Iterable[Parameter],
        lr: float = 1e-2,
        lr_decay: float = 0,
        weight_decay: float = 0,
        initial_accumulator_value: float = 0,
        eps: float = 1e-10,
    ) -> None:
        super().__init__(params, lr)
        self.lr_decay = require("lr_decay", lr_decay, non_negative)
        self.weight_decay = require("weight_decay", weight_decay, non_negative)
        self.initial_accumulator_value = require("initial_accumulator_value", initial_accumulator_value, non_negative)
        self.eps = require("eps", eps, non_negative)
        self._add_buffer("sum", initial_accumulator_value)

    def _update(self, data, grad, state, decayed, tmp):
        cast = data.dtype.type
        grad = _add_weight_decay(data, grad, self.weight_decay, decayed)
        clr = self.lr / (1 + (self.step_count - 1) * self.lr_decay)
        fused(adagrad_update, data.dtype)(data, grad, state["sum"], cast(clr), cast(self.eps), tmp)


def adagrad_update(data, grad, state_sum, clr, eps, tmp):
    """Adagrad's step on a block: s += g²; θ -= γ̃ g / (√s + ε). data, grad, state_sum, tmp: (n,) (tmp: scratch).

    In float32 its compiled twin in `rnnlab.nn.kernels` runs instead: one pass, not seven (min-char-rnn's
    step spends a tenth of its time here)."""
    np.multiply(grad, grad, out=tmp)
    state_sum += tmp
    std = np.sqrt(state_sum, out=tmp)
    std += eps
    np.divide(grad, std, out=tmp)
    tmp *= clr
    data -= tmp


class RMSprop(Optimizer):
    r"""RMSprop, as `torch.optim.RMSprop`: steps scaled by a running RMS of the gradients.

    With smoothing α and momentum μ, each step does
        g_t = ∇θ + λ θ_{t-1}
        v_t = α v_{t-1} + (1 - α) g_t²
        ṽ_t = v_t - ḡ_t²  with  ḡ_t = α ḡ_{t-1} + (1 - α) g_t   if centered,  else  ṽ_t = v_t
        b_t = μ b_{t-1} + g_t / (√ṽ_t + ε),   θ_t = θ_{t-1} - γ b_t       if μ > 0
        θ_t = θ_{t-1} - γ g_t / (√ṽ_t + ε)                                 otherwise
    """

    hyper_names = ("lr", "alpha", "eps", "weight_decay", "momentum", "centered")

    def __init__(
        self,
        params: Iterable[Parameter],
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0,
        momentum: float = 0,
        centered: bool = False,
    ) -> None:
        super().__init__(params, lr)
        self.alpha = require("alpha", alpha, non_negative)
        self.eps = require("eps", eps, non_negative)
        self.weight_decay = require("weight_decay", weight_decay, non_negative)
        self.momentum = require("momentum", momentum, non_negative)
        self.centered = centered
        self._add_buffer("square_avg")
        if momentum > 0:
            self._add_buffer("momentum_buffer")
        if centered:
            self._add_buffer("grad_avg")

    def _update(self, data, grad, state, decayed, tmp):
        cast = data.dtype.type
        grad = _add_weight_decay(data, grad, self.weight_decay, decayed)
        square_avg = state["square_avg"]
        square_avg *= cast(self.alpha)
        np.multiply(grad, grad, out=tmp)
        tmp *= cast(1 - self.alpha)
        square_avg += tmp
        if self.centered:
            grad_avg = state["grad_avg"]
            np.subtract(grad, grad_avg, out=tmp)  # PyTorch's lerp: ḡ + (1 - α)(g - ḡ)
            tmp *= cast(1 - self.alpha)
            grad_avg += tmp
            np.multiply(grad_avg, grad_avg, out=tmp)
            np.subtract(square_avg, tmp, out=tmp)
            avg = np.sqrt(tmp, out=tmp)
        else:
            avg = np.sqrt(square_avg, out=tmp)
        avg += cast(self.eps)
        np.divide(grad, avg, out=tmp)
        if self.momentum > 0:
            buf = state["momentum_buffer"]
            buf *= cast(self.momentum)
            buf += tmp
            np.multiply(buf, cast(self.lr), out=tmp)
        else:
            tmp *= cast(self.lr)
        data -= tmp


class Adam(Optimizer):
    r"""Adam, as `torch.optim.Adam` (L2 weight decay folded into the gradient).

    With betas (β1, β2), each step does
        g_t = ∇θ + λ θ_{t-1}                     (AdamW instead: θ_{t-1} ← θ_{t-1} (1 - γλ))
        m_t = β1 m_{t-1} + (1 - β1) g_t
        v_t = β2 v_{t-1} + (1 - β2) g_t²
        v_t^max = max(v_{t-1}^max, v_t)  and  v̂_t = v_t^max / (1 - β2^t)   if amsgrad
        v̂_t = v_t / (1 - β2^t)                                             otherwise
        θ_t = θ_{t-1} - γ / (1 - β1^t) · m_t / (√v̂_t + ε)
    """

    hyper_names = ("lr", "betas", "eps", "weight_decay", "amsgrad")
    decoupled_weight_decay = False

    def __init__(
        self,
        params: Iterable[Parameter],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        amsgrad: bool = False,
    ) -> None:
        super().__init__(params, lr)
        valid = isinstance(betas, tuple | list) and len(betas) == 2
        valid = valid and all(is_real(beta) and 0 <= beta < 1 for beta in betas)
        require_that("betas", betas, "two numbers in [0, 1)", valid)
        self.betas = tuple(betas)
        self.eps = require("eps", eps, non_negative)
        self.weight_decay = require("weight_decay", weight_decay, non_negative)
        self.amsgrad = amsgrad
        self._add_buffer("exp_avg")
        self._add_buffer("exp_avg_sq")
        if amsgrad:
            self._add_buffer("max_exp_avg_sq")

    def _update(self, data, grad, state, decayed, tmp):
        cast = data.dtype.type
        beta1, beta2 = self.betas
        if not self.decoupled_weight_decay:
            grad = _add_weight_decay(data, grad, self.weight_decay, decayed)
        elif self.weight_decay != 0:
            data *= cast(1 - self.lr * self.weight_decay)
        exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
        np.subtract(grad, exp_avg, out=tmp)  # PyTorch's lerp: m + (1 - β1)(g - m)
        tmp *= cast(1 - beta1)
        exp_avg += tmp
        exp_avg_sq *= cast(beta2)
        np.multiply(grad, grad, out=tmp)
        tmp *= cast(1 - beta2)
        exp_avg_sq += tmp
        second_moment = exp_avg_sq
        if self.amsgrad:
            second_moment = np.maximum(state["max_exp_avg_sq"], exp_avg_sq, out=state["max_exp_avg_sq"])
        step_size = self.lr / (1 - beta1**self.step_count)
        bias_correction2_sqrt = (1 - beta2**self.step_count) ** 0.5
        denom = np.sqrt(second_moment, out=tmp)
        denom /= cast(bias_correction2_sqrt)
        denom += cast(self.eps)
        np.divide(exp_avg, denom, out=tmp)
        tmp *= cast(step_size)
        data -= tmp


class AdamW(Adam):
    r"""AdamW, as `torch.optim.AdamW`: Adam with decoupled weight decay, θ_{t-1} ← θ_{t-1} (1 - γλ).

    The decay shrinks the parameters directly instead of entering the gradient, so it is not
    rescaled by the adaptive denominator; see `Adam` for the rest of the step.
    """

    decoupled_weight_decay = True

    def __init__(
        self,
        params: Iterable[Parameter],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
    ) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad)

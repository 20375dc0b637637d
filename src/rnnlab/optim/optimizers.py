r"""Optimizers: PyTorch's update rules (its single-tensor loops) on NumPy parameters, in place.

Each optimizer holds a list of `Parameter`, one learning rate `lr` (the attribute schedulers
change) and, per parameter, the state buffers PyTorch keeps (`momentum_buffer`, `exp_avg`, ...).
Every update rule is elementwise, so the optimizer moves its parameters' values and gradients
into one flat array each (per dtype), leaving every `Parameter.data` and `.grad` a view of its
part, and updates all parameters with one pass of each operation (PyTorch's "foreach" idea):
a model of many small parameters costs a few NumPy calls per step, not a few per parameter.
A step writes through `out=` into the state buffers (flat too) and two scratch arrays, so it
allocates no arrays; it goes block by block so the work stays in cache; and every scalar is cast
to the parameters' dtype first, so float32 parameters are updated in float32.

Notation, as in PyTorch's docs: γ learning rate, λ weight decay, θ parameters, g gradient.

>>> import numpy as np
>>> from rnnlab.nn import Parameter
>>> w = Parameter(np.array([1.0, -2.0]))
>>> optimizer = SGD([w], lr=0.1, momentum=0.9)
>>> w.grad[:] = [0.5, 0.5]
>>> optimizer.step()
>>> w.data
array([ 0.95, -2.05])
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable

import numpy as np

from rnnlab.errors import RnnlabError
from rnnlab.nn.module import Parameter


def _checked(name: str, value, expected: str, valid: bool):
    if not valid:
        raise RnnlabError(f"Received an invalid value for argument `{name}`, expected {expected}, got {value!r}.")
    return value


def _is_number(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _non_negative(name: str, value):
    return _checked(name, value, "a non-negative number", _is_number(value) and value >= 0)


def _check_params(params) -> list[Parameter]:
    listed = list(params) if isinstance(params, Iterable) and not isinstance(params, Parameter) else None
    if not listed or not all(isinstance(p, Parameter) for p in listed):
        got = type(params).__name__ if listed is None else sorted({type(p).__name__ for p in listed})
        raise RnnlabError(
            "Received an invalid value for argument `params`, expected a non-empty iterable of Parameter "
            f"(such as `model.parameters()`), got {got}."
        )
    if len({id(p) for p in listed}) < len(listed):
        raise RnnlabError("Received an invalid value for argument `params`, expected each Parameter once.")
    return listed


# A step runs over blocks of this many bytes of each array, so that the arrays it touches (θ, g, the
# state, two temporaries) stay in the L2 cache through NumPy's dozen passes over a block; done on
# whole arrays, each pass goes out to main memory and a step on an LSTM's weights is ~1.5x slower.
BLOCK_BYTES = 256 * 1024


def _blocks(arrays: list[np.ndarray], block_bytes: int):
    """Successive blocks of equally long flat arrays (θ, g, state buffers), as lists of views."""
    size = max(1, block_bytes // arrays[0].itemsize)
    for start in range(0, arrays[0].size, size):
        yield [a[start : start + size] for a in arrays]


def _parts(flat: np.ndarray, params: list[Parameter]) -> list[np.ndarray]:
    """Views of the consecutive parts of a flat array, each shaped like its parameter."""
    views, start = [], 0
    for p in params:
        views.append(flat[start : start + p.data.size].reshape(p.data.shape))
        start += p.data.size
    return views


def _laid_out_flat(params: list[Parameter]) -> tuple[np.ndarray, np.ndarray] | None:
    """The flat (data, grad) arrays if the parameters are already exactly their consecutive parts."""
    data, grad = params[0].data.base, params[0].grad.base
    if data is None or grad is None or data.ndim != 1 or data.size != sum(p.data.size for p in params):
        return None
    for p, data_part, grad_part in zip(params, _parts(data, params), _parts(grad, params), strict=True):
        if not (p.data.base is data and p.grad.base is grad and p.data.ctypes.data == data_part.ctypes.data
                and p.grad.ctypes.data == grad_part.ctypes.data):
            return None
    return data, grad


def _flatten(params: list[Parameter]) -> list[tuple[np.ndarray, np.ndarray, list[int]]]:
    """Move the parameters' values and gradients into one flat array each per dtype.

    Every Parameter's `.data` and `.grad` become views of its part (same values, same shape).
    Returns (data, grad, indices of the parameters in it) for each dtype.
    """
    groups: dict[np.dtype, list[int]] = {}
    for i, p in enumerate(params):
        groups.setdefault(p.data.dtype, []).append(i)
    flat = []
    for indices in groups.values():
        members = [params[i] for i in indices]
        laid_out = _laid_out_flat(members)
        if laid_out is not None:  # flattened by an earlier optimizer of the same parameters: share it
            flat.append((*laid_out, indices))
            continue
        data = np.concatenate([p.data.ravel() for p in members])
        grad = np.concatenate([p.grad.ravel() for p in members])
        for p, data_part, grad_part in zip(members, _parts(data, members), _parts(grad, members), strict=True):
            p.data, p.grad = data_part, grad_part
        flat.append((data, grad, indices))
    return flat


def _json_scalar(value):
    """Python scalars for JSON: NumPy scalars unwrapped, a tuple (Adam's `betas`) as a list."""
    if isinstance(value, tuple):
        return [_json_scalar(v) for v in value]
    return value.item() if isinstance(value, np.generic) else value


def _add_weight_decay(data: np.ndarray, grad: np.ndarray, weight_decay: float, out: np.ndarray) -> np.ndarray:
    """g + λθ, written to `out` so that the gradient itself is left untouched (as in PyTorch)."""
    if weight_decay == 0:
        return grad
    np.multiply(data, data.dtype.type(weight_decay), out=out)
    out += grad
    return out


class Optimizer:
    """Base class: parameters, the learning rate `lr`, a step counter and per-parameter state.

    A subclass lists its hyperparameters in `hyper_names`, allocates its buffers in `__init__`
    with `_add_buffer`, and implements `_update(data, grad, state, decayed, tmp)`: the step for
    one block of the flat parameters, given θ, g and each state buffer as views of the block,
    and two scratch arrays of the same shape.
    """

    hyper_names: tuple[str, ...] = ("lr",)

    def __init__(self, params: Iterable[Parameter], lr: float) -> None:
        self.params = _check_params(params)
        self.lr = _non_negative("lr", lr)
        self.step_count = 0
        # PyTorch's param_group["initial_lr"]: set by the first scheduler attached, shared by the rest.
        self.initial_lr: float | None = None
        self.state: list[dict[str, np.ndarray]] = [{} for _ in self.params]  # per parameter: views of ...
        self._flat = _flatten(self.params)
        self._flat_state: list[dict[str, np.ndarray]] = [{} for _ in self._flat]  # ... these flat buffers
        self._pools: dict[np.dtype, np.ndarray] = {}

    def _add_buffer(self, name: str, fill: float = 0.0) -> None:
        for (data, _, indices), flat_state in zip(self._flat, self._flat_state, strict=True):
            buffer = flat_state[name] = np.full_like(data, fill)
            for i, part in zip(indices, _parts(buffer, [self.params[i] for i in indices]), strict=True):
                self.state[i][name] = part

    def zero_grad(self) -> None:
        for _, grad, _ in self._flat:
            grad.fill(0)

    def step(self) -> None:
        """Update every parameter in place from its `grad`."""
        for data, grad, indices in self._flat:
            if any(self.params[i].data.base is not data or self.params[i].grad.base is not grad for i in indices):
                raise RnnlabError(
                    "a parameter's .data or .grad was replaced after the optimizer was made (or another "
                    "optimizer took the parameter): make the optimizer again"
                )
        self.step_count += 1
        for (data, grad, _), flat_state in zip(self._flat, self._flat_state, strict=True):
            for data_block, grad_block, *buffers in _blocks([data, grad, *flat_state.values()], BLOCK_BYTES):
                decayed, tmp = self._scratch(data_block)
                self._update(data_block, grad_block, dict(zip(flat_state, buffers, strict=True)), decayed, tmp)

    def _scratch(self, like: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Two temporaries shaped like `like`: views of one pool per dtype, allocated on the first step."""
        pool = self._pools.get(like.dtype)
        if pool is None or pool.shape[1] < like.size:
            pool = self._pools[like.dtype] = np.empty((2, like.size), like.dtype)
        return pool[0, : like.size].reshape(like.shape), pool[1, : like.size].reshape(like.shape)

    def _update(
        self, data: np.ndarray, grad: np.ndarray, state: dict[str, np.ndarray], decayed: np.ndarray, tmp: np.ndarray
    ) -> None:
        raise NotImplementedError

    def state_dict(self) -> dict[str, dict]:
        """`{"hyper": JSON scalars, "buffers": {"<param index>.<buffer name>": array copy}}`."""
        hyper = {name: _json_scalar(getattr(self, name)) for name in self.hyper_names}
        hyper["step"] = self.step_count
        return {"hyper": hyper, "buffers": {key: buf.copy() for key, buf in self._named_buffers().items()}}

    def _named_buffers(self) -> dict[str, np.ndarray]:
        return {f"{i}.{name}": buf for i, state in enumerate(self.state) for name, buf in state.items()}

    def load_state_dict(self, state: dict[str, dict]) -> None:
        """Restore hyperparameters, step count and buffers (in place), so training resumes exactly."""
        hyper, buffers = state["hyper"], state["buffers"]
        own_buffers = self._named_buffers()
        expected_keys = {"hyper": {*self.hyper_names, "step"}, "buffers": own_buffers.keys()}
        for kind, given in (("hyper", hyper), ("buffers", buffers)):
            expected = expected_keys[kind]
            missing, unexpected = sorted(expected - given.keys()), sorted(given.keys() - expected)
            if missing or unexpected:
                raise RnnlabError(
                    f"optimizer state does not match this {type(self).__name__}: "
                    f"{kind} missing {missing}, unexpected {unexpected}"
                )
        for key, buf in own_buffers.items():
            shape = np.shape(buffers[key])
            if shape != buf.shape:
                raise RnnlabError(f"optimizer state entry {key!r} has shape {shape}, expected {buf.shape}")
        for key, buf in own_buffers.items():
            buf[...] = buffers[key]
        for name in self.hyper_names:
            value = hyper[name]
            setattr(self, name, tuple(value) if isinstance(value, list) else value)
        self.step_count = int(hyper["step"])

    def __repr__(self) -> str:
        hyper = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.hyper_names)
        return f"{type(self).__name__}({hyper})"


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
        self.momentum = _non_negative("momentum", momentum)
        self.dampening = _checked("dampening", dampening, "a number", _is_number(dampening))
        self.weight_decay = _non_negative("weight_decay", weight_decay)
        self.nesterov = _checked(
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
        self.lr_decay = _non_negative("lr_decay", lr_decay)
        self.weight_decay = _non_negative("weight_decay", weight_decay)
        self.initial_accumulator_value = _non_negative("initial_accumulator_value", initial_accumulator_value)
        self.eps = _non_negative("eps", eps)
        self._add_buffer("sum", initial_accumulator_value)

    def _update(self, data, grad, state, decayed, tmp):
        cast = data.dtype.type
        grad = _add_weight_decay(data, grad, self.weight_decay, decayed)
        clr = self.lr / (1 + (self.step_count - 1) * self.lr_decay)
        np.multiply(grad, grad, out=tmp)
        state["sum"] += tmp
        std = np.sqrt(state["sum"], out=tmp)
        std += cast(self.eps)
        np.divide(grad, std, out=tmp)
        tmp *= cast(clr)
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
        self.alpha = _non_negative("alpha", alpha)
        self.eps = _non_negative("eps", eps)
        self.weight_decay = _non_negative("weight_decay", weight_decay)
        self.momentum = _non_negative("momentum", momentum)
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
        valid = valid and all(_is_number(beta) and 0 <= beta < 1 for beta in betas)
        _checked("betas", betas, "two numbers in [0, 1)", valid)
        self.betas = tuple(betas)
        self.eps = _non_negative("eps", eps)
        self.weight_decay = _non_negative("weight_decay", weight_decay)
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

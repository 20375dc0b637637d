r"""The optimizer base: parameters in flat arrays, updated by PyTorch's rules (`optimizers.py`), in place.

Each optimizer holds a list of `Parameter`, one learning rate `lr` (the attribute schedulers
change) and, per parameter, the state buffers PyTorch keeps (`momentum_buffer`, `exp_avg`, ...).
Every update rule is elementwise, so the optimizer moves its parameters' values and gradients
into one flat array each (per dtype), leaving every `Parameter.data` and `.grad` a view of its
part, and updates all parameters with one pass of each operation (PyTorch's "foreach" idea):
a model of many small parameters costs a few NumPy calls per step, not a few per parameter.
A step writes through `out=` into the state buffers (flat too) and two scratch arrays, so it
allocates no arrays; it goes block by block so the work stays in cache (a large model's blocks shared
out among the engine's threads, `rnnlab.nn.parallel`: the same numbers, as every block is updated alone);
and every scalar is cast to the parameters' dtype first, so float32 parameters are updated in float32.

Notation, as in PyTorch's docs: γ learning rate, λ weight decay, θ parameters, g gradient.

>>> import numpy as np
>>> from rnnlab.nn import Parameter
>>> w = Parameter(np.array([1.0, -2.0]))
>>> from rnnlab.optim import SGD
>>> optimizer = SGD([w], lr=0.1, momentum=0.9)
>>> w.grad[:] = [0.5, 0.5]
>>> optimizer.step()
>>> w.data
array([ 0.95, -2.05])
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from rnnlab.checks import non_negative, require
from rnnlab.errors import RnnlabError
from rnnlab.nn import parallel
from rnnlab.nn.module import Parameter


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
PARALLEL_BLOCKS = 4  # a step over this many blocks or more shares them out among the engine's threads


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


def flatten_parameters(params: list[Parameter]) -> list[tuple[np.ndarray, np.ndarray, list[int]]]:
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
        self.lr = require("lr", lr, non_negative)
        self.step_count = 0
        # PyTorch's param_group["initial_lr"]: set by the first scheduler attached, shared by the rest.
        self.initial_lr: float | None = None
        self.state: list[dict[str, np.ndarray]] = [{} for _ in self.params]  # per parameter: views of ...
        self._flat = flatten_parameters(self.params)
        self._flat_state: list[dict[str, np.ndarray]] = [{} for _ in self._flat]  # ... these flat buffers
        self._pools: dict[tuple[np.dtype, int], np.ndarray] = {}
        self._views: dict[int, list] = {}  # `_block_views`, made on the first step, once every buffer is added

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
            for p in map(self.params.__getitem__, indices):
                if p.data.base is not data or p.grad.base is not grad:
                    raise RnnlabError(
                        "a parameter's .data or .grad was replaced after the optimizer was made (or another "
                        "optimizer took the parameter): make the optimizer again"
                    )
        self.step_count += 1
        blocks = self._block_views(0)
        # the blocks in parts, one per thread (the update is elementwise: the same numbers on any number)
        count = min(parallel.get_num_threads(), len(blocks)) if len(blocks) >= PARALLEL_BLOCKS else 1
        if count == 1:
            self._update_blocks(0, slice(None))
            return
        parallel.each(lambda k_part: self._update_blocks(*k_part), list(enumerate(parallel.cut(len(blocks), count))))

    def _update_blocks(self, k: int, part: slice) -> None:
        """Update blocks `part`, with the temporaries of the k-th part."""
        for data_block, grad_block, buffers, decayed, tmp in self._block_views(k)[part]:
            self._update(data_block, grad_block, buffers, decayed, tmp)

    def _block_views(self, k: int) -> list[tuple]:
        """Per block of the flat arrays: θ, g, the state buffers by name and two temporaries (the k-th pair: a part
        of the blocks updated in its own thread has its own), views made on the first step and kept (the flat
        arrays never move: `load_state_dict` writes into them)."""
        if k not in self._views:
            self._views[k] = [
                (data_block, grad_block, dict(zip(flat_state, buffers, strict=True)), *self._scratch(data_block, k))
                for (data, grad, _), flat_state in zip(self._flat, self._flat_state, strict=True)
                for data_block, grad_block, *buffers in _blocks([data, grad, *flat_state.values()], BLOCK_BYTES)
            ]
        return self._views[k]

    def _scratch(self, like: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Two temporaries shaped like `like`: views of the k-th pool of its dtype (every block is at most the
        first's size)."""
        pool = self._pools.get((like.dtype, k))
        if pool is None or pool.shape[1] < like.size:
            pool = self._pools[like.dtype, k] = np.empty((2, like.size), like.dtype)
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

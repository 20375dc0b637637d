"""Parameters and modules: the bookkeeping every layer shares.

A `Parameter` is an array with a gradient beside it. A `Module` owns parameters, buffers (arrays
that are saved but not learned, such as running statistics) and sub-modules under names, and gives
them back as PyTorch does: `named_parameters()`, `named_buffers()`, `state_dict()`,
`load_state_dict()`, `zero_grad()`, `train()` / `eval()`.
Layers implement `forward` (keeping what `backward` needs) and `backward`.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np

from rnnlab.errors import RnnlabError

_budgets: list[list] = []  # [elements left, what set it] while `parameter_budget` is in force


@contextmanager
def parameter_budget(elements: int, source: str) -> Iterator[None]:
    """Within: parameters that would take more than `elements` in total are refused before they are allocated.

    Loading a checkpoint builds its model from the settings it declares; the budget is the size of
    the weights it actually holds, so settings that promise a larger model never allocate it.
    """
    _budgets.append([elements, source])
    try:
        yield
    finally:
        _budgets.pop()


def reserve(shape: tuple[int, ...]) -> tuple[int, ...]:
    """`shape`, counted against the `parameter_budget` in force: layers call it before allocating a parameter."""
    if _budgets:
        size, budget = math.prod(shape), _budgets[-1]
        if size > budget[0]:
            raise RnnlabError(f"{budget[1]}: its settings declare a model larger than the weights it holds "
                              f"(a parameter of shape {tuple(shape)})")
        budget[0] -= size
    return shape


class Parameter:
    """A learnable array `data` and its accumulated gradient `grad` (same shape and dtype)."""

    def __init__(self, data: np.ndarray):
        self.data = data
        self.grad = np.zeros_like(data)

    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    def __repr__(self) -> str:
        return f"Parameter(shape={self.data.shape}, dtype={self.data.dtype})"


class Module:
    """Base class: registers `Parameter` and `Module` attributes (and `register_buffer` arrays) by name, in order."""

    training: bool

    def __init__(self) -> None:
        object.__setattr__(self, "_parameters", {})
        object.__setattr__(self, "_modules", {})
        object.__setattr__(self, "_buffers", {})
        object.__setattr__(self, "training", True)

    def __setattr__(self, name: str, value: object) -> None:
        if isinstance(value, Parameter):
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._modules[name] = value
        elif name in self.__dict__.get("_buffers", ()):  # (some subclasses set attributes before Module.__init__)
            self._buffers[name] = value
        object.__setattr__(self, name, value)

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    def forward(self, *args, **kwargs):
        raise NotImplementedError

    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, Parameter]]:
        for name, p in self._parameters.items():
            yield prefix + name, p
        for name, m in self._modules.items():
            yield from m.named_parameters(prefix + name + ".")

    def parameters(self) -> list[Parameter]:
        return [p for _, p in self.named_parameters()]

    def register_buffer(self, name: str, array: np.ndarray) -> None:
        """Keep `array` as the attribute `name`: state that is saved and loaded but not learned.

        `state_dict()` and `load_state_dict()` include it, as PyTorch's do; `named_parameters()` does not,
        so no optimizer updates it. Assigning the attribute later replaces the array kept.
        """
        self._buffers[name] = array
        object.__setattr__(self, name, array)

    def named_buffers(self, prefix: str = "") -> Iterator[tuple[str, np.ndarray]]:
        for name, array in self._buffers.items():
            yield prefix + name, array
        for name, m in self._modules.items():
            yield from m.named_buffers(prefix + name + ".")

    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        """This module and every sub-module, with dotted names ("" for this one), as in PyTorch."""
        yield prefix, self
        for name, m in self._modules.items():
            yield from m.named_modules(f"{prefix}.{name}" if prefix else name)

    def modules(self) -> Iterator[Module]:
        return (m for _, m in self.named_modules())

    def zero_grad(self) -> None:
        for p in self.parameters():
            p.grad.fill(0)

    def train(self, mode: bool = True) -> Module:
        for m in self.modules():
            object.__setattr__(m, "training", mode)
        return self

    def eval(self) -> Module:
        return self.train(False)

    def _arrays(self, prefix: str = "") -> dict[str, np.ndarray]:
        """The arrays themselves of every parameter and buffer, under PyTorch's names and in its order:
        each module's parameters, then its buffers, then its sub-modules'."""
        arrays = {prefix + name: p.data for name, p in self._parameters.items()}
        arrays |= {prefix + name: array for name, array in self._buffers.items()}
        for name, m in self._modules.items():
            arrays |= m._arrays(prefix + name + ".")
        return arrays

    def state_dict(self) -> dict[str, np.ndarray]:
        """Copies of every parameter array and buffer under its PyTorch name."""
        return {name: array.copy() for name, array in self._arrays().items()}

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        """Copy arrays into the parameters and buffers, in place; names and shapes must match exactly.

        Values are cast to each array's dtype, so a float64 state loads into a float32 model.
        """
        own = self._arrays()
        missing, unexpected = sorted(own.keys() - state.keys()), sorted(state.keys() - own.keys())
        if missing or unexpected:
            raise RnnlabError(f"state dict does not match the model: missing {missing}, unexpected {unexpected}")
        for name, array in own.items():
            value = np.asarray(state[name])
            if value.shape != array.shape:
                raise RnnlabError(f"state dict entry {name!r} has shape {value.shape}, expected {array.shape}")
            array[...] = value

    def num_parameters(self) -> int:
        return sum(p.data.size for p in self.parameters())


class StepModule(Module):
    """A module called once per time step in a loop you write (cells, attention): each training-mode forward keeps
    what its backward needs on a stack, and each backward takes the latest off, so backward runs the loop in reverse.
    """

    def __init__(self) -> None:
        super().__init__()
        self._steps: list[tuple] = []  # one cache per forward not yet backpropagated, latest last

    @property
    def pending(self) -> int:
        """How many forward steps are kept, waiting for their `backward`."""
        return len(self._steps)

    def clear(self) -> None:
        """Drop every kept step (after a truncated backward, or a forward that needs none)."""
        self._steps.clear()

    def _keep(self, step: tuple) -> None:
        """Keep a forward step's cache for its backward (in training mode only: generating keeps nothing)."""
        if self.training:
            self._steps.append(step)

    def _latest(self) -> tuple:
        """The latest kept step (taken off by `_drop` once its gradients are checked)."""
        if not self._steps:
            raise RnnlabError(f"{type(self).__name__}.backward() called more times than forward() "
                              "(forward keeps a step only in training mode)")
        return self._steps[-1]

    def _drop(self) -> None:
        self._steps.pop()

"""Gradient check of a saved model: its network(s) against central differences, in float64.

The built-in grid (`rnnlab.diagnostics.gradcheck`) checks single layers on random weights; this
checks whole trained networks, as a run saved them. The caller (the command line, which knows the
tasks) hands over each network with a way to rebuild it in another dtype and a way to draw a small
random input; here each network is copied to float64 (the saved weights cast up), put in eval mode
(no dropout), and for the scalar loss

    L = sum(output * R)        R fixed, drawn from the seed

one forward and backward pass give the analytic gradient of every parameter. At most `samples`
entries of each parameter tensor (drawn from the seed) are compared with central differences
(eps 1e-6); each tensor's relative error is that of `rnnlab.diagnostics.gradcheck.relative_error`
over the sampled entries. A network that cannot be rebuilt in float64 is checked in float32, with
eps 1e-3 and a looser threshold (`FLOAT32_THRESHOLD`), and its rows say so.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from rnnlab.diagnostics.gradcheck import numerical_gradient, relative_error
from rnnlab.nn.module import Module

FLOAT32_THRESHOLD = 1e-2  # float32 central differences agree to about 1e-3 at best
EPS = {np.dtype(np.float64): 1e-6, np.dtype(np.float32): 1e-3}


@dataclass
class Target:
    """One network of a saved model, as the caller hands it over.

    `rebuild(dtype)` gives a fresh network of the same shape in `dtype` (None: it has no dtype
    argument); `inputs(rng)` gives the arguments of one forward call; `output(result)` the array
    of the forward's result the loss projects (the default: the result itself). A network whose
    backward needs training mode (its step modules keep their steps only then) says `training`,
    and its `rebuild` leaves out dropout.
    """

    name: str
    network: Module
    inputs: Callable[[np.random.Generator], tuple]
    rebuild: Callable[[type], Module] | None = None
    output: Callable[[object], np.ndarray] = field(default=lambda result: result)
    training: bool = False


def float64_copy(target: Target) -> tuple[Module, bool]:
    """(network, True): a float64 copy of the target's network (in eval mode unless the target needs training
    mode); or (the network itself, False)."""
    if target.rebuild is None:
        return target.network.train(target.training), False
    copy = target.rebuild(np.float64)
    copy.load_state_dict({k: v.astype(np.float64) for k, v in target.network.state_dict().items()})
    return copy.train(target.training), True


def check_network(network: Module, inputs: tuple, output: Callable[[object], np.ndarray], rng: np.random.Generator,
                  samples: int = 20, eps: float = 1e-6) -> dict[str, float]:
    """{parameter name: relative error} of `network` (in the mode it is in: eval, unless its backward needs
    training mode) at `inputs`, over sampled entries."""
    first = np.asarray(output(network(*inputs)))
    R = rng.normal(size=first.shape)

    def loss() -> float:
        return float((np.asarray(output(network(*inputs)), np.float64) * R).sum())

    network.zero_grad()
    network(*inputs)
    network.backward(R.astype(first.dtype))
    errors = {}
    for name, p in network.named_parameters():
        analytic = p.grad.reshape(-1).copy()
        picked = np.sort(rng.choice(p.data.size, size=min(samples, p.data.size), replace=False))
        numeric = numerical_gradient(loss, p.data, eps, indices=picked)
        errors[name] = relative_error(analytic[picked].astype(np.float64), numeric)
    return errors


def gradcheck_run(targets: list[Target], threshold: float = 1e-6, samples: int = 20,
                  seed: int = 0) -> list[dict]:
    """One row per parameter tensor: {name, dtype, worst_relative_error, threshold, passed}."""
    rng = np.random.default_rng(seed)
    rows = []
    for target in targets:
        network, in_float64 = float64_copy(target)
        dtype = np.dtype(np.float64 if in_float64 else network.parameters()[0].data.dtype)
        limit = threshold if in_float64 else max(threshold, FLOAT32_THRESHOLD)
        errors = check_network(network, target.inputs(rng), target.output, rng, samples, EPS.get(dtype, 1e-3))
        prefix = f"{target.name}." if len(targets) > 1 else ""
        rows += [{"name": prefix + name, "dtype": dtype.name, "worst_relative_error": error, "threshold": limit,
                  "passed": error <= limit} for name, error in errors.items()]
    return rows

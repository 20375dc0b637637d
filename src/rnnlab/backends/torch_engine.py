"""`engine="torch"`: a task's network computed by PyTorch, everything else as with the NumPy engine.

`TorchEngine(net)` stands in for an engine network: the same parameter names and `Parameter`
objects, the same `forward(...)` arguments (NumPy arrays in, NumPy arrays out) and `backward(d_out)`
(the gradient of the loss with respect to the output; parameter gradients are added into each
`.grad`). Inside, the network's torch.nn twin (`rnnlab.backends.torch_backend.twin_of`) computes the
forward pass (cuDNN on a GPU, autocast with `amp`) and autograd the backward pass.

So a task trains with the same data pipeline, losses, optimizer, schedule, clipping, early
stopping and checkpoints on both engines, because it is the same code: only the network's
arithmetic moves. On the CPU the twin's tensors share memory with the parameters' arrays (one flat
buffer that the NumPy optimizer updates in place) and with the buffers' (running statistics, which
torch updates in place); on a GPU the arrays are the master copy, sent to the device before each
forward pass, the gradients come back after backward, and the buffers after a training-mode forward.

    ids (T, B) --numpy -> torch--> twin(ids) --autograd--> d params --+=--> Parameter.grad --> optimizer
"""

from __future__ import annotations

import base64
import os
from typing import Any

import numpy as np

from rnnlab.backends import distributed
from rnnlab.backends.torch_backend import torch, twin_of
from rnnlab.errors import InvalidArgument, RnnlabError
from rnnlab.nn.module import Module
from rnnlab.optim.optimizer import flatten_parameters

DEVICES = ("cpu", "cuda", "auto")


def torch_device(name: str) -> torch.device:
    """cpu, cuda or auto (cuda when there is one), refused in one line when CUDA is asked for and missing."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise InvalidArgument("device", "cpu or auto: PyTorch sees no CUDA device here", "cuda")
    if name == "cuda" and "LOCAL_RANK" in os.environ:  # torchrun: one GPU per process on each machine
        return torch.device("cuda", int(os.environ["LOCAL_RANK"]))
    return torch.device(name)


def rng_state() -> dict[str, str]:
    """PyTorch's random states (its dropout masks: the CPU's and, when one is in use, the current GPU's), as text
    for a checkpoint's JSON."""
    states = {"cpu": torch.random.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        states["cuda"] = torch.cuda.get_rng_state()
    return {k: base64.b64encode(v.numpy().tobytes()).decode("ascii") for k, v in states.items()}


def set_rng_state(states: dict[str, str]) -> None:
    """Put back what `rng_state` saved (refused in one line if it is not that; a GPU state without a GPU is
    left out: a run moved to the CPU draws its masks there)."""
    try:
        arrays = {k: np.frombuffer(base64.b64decode(v, validate=True), np.uint8) for k, v in states.items()}
    except (ValueError, TypeError, AttributeError):
        raise RnnlabError("checkpoint field torch_rng is not a PyTorch random state") from None
    if "cpu" not in arrays or arrays["cpu"].size != torch.random.get_rng_state().numel():
        raise RnnlabError("checkpoint field torch_rng is not a PyTorch random state")
    torch.random.set_rng_state(torch.from_numpy(arrays["cpu"].copy()))
    if "cuda" in arrays and torch.cuda.is_available():
        torch.cuda.set_rng_state(torch.from_numpy(arrays["cuda"].copy()))


class TorchEngine(Module):
    """`net`, computed by its torch.nn twin on `device` (see the module docstring)."""

    def __init__(self, net: Module, device: str = "cpu", amp: bool = False, seed: int | None = None) -> None:
        super().__init__()
        if seed is not None:  # PyTorch's random numbers (dropout masks) start from the run's seed
            torch.manual_seed(seed)
        dtype = {np.dtype(np.float32): torch.float32, np.dtype(np.float64): torch.float64}[
            next(iter(net.parameters())).data.dtype]
        with torch.random.fork_rng(devices=[]):  # the twin's own initialisation draws nothing from the run's
            twin = twin_of(net, dtype)  # random numbers (its weights are the engine network's, copied below)
        params, tensors = dict(net.named_parameters()), dict(twin.named_parameters())
        buffers = dict(net.named_buffers())  # running statistics: saved, not learned
        for kind, ours, theirs in (("parameters", params, tensors), ("buffers", buffers, dict(twin.named_buffers()))):
            if ours.keys() != theirs.keys():
                raise RnnlabError(f"{type(net).__name__} and its PyTorch twin name their {kind} differently: "
                                  f"{sorted(ours.keys() ^ theirs.keys())}")
        flatten_parameters(list(params.values()))  # one flat buffer, which the optimizer then shares
        self.device = torch_device(device)
        for name, p in params.items():
            tensors[name].data = torch.from_numpy(p.data)  # the same memory
        for name, array in buffers.items():  # the same memory too: torch's running updates land in the arrays
            owner, _, leaf = name.rpartition(".")
            setattr(twin.get_submodule(owner), leaf, torch.from_numpy(array))
        twin.to(self.device)  # on the CPU, a no-op: the tensors keep sharing the arrays' memory
        twin_buffers = dict(twin.named_buffers())  # (on a GPU, `to` put new tensors in their place)
        if distributed.world()[1] > 1:  # under torchrun: DistributedDataParallel averages the gradients
            distributed.start(self.device.type)
            twin = torch.nn.parallel.DistributedDataParallel(twin)
        object.__setattr__(self, "_parameters", net._parameters)  # the same names and Parameter objects
        object.__setattr__(self, "_modules", net._modules)
        object.__setattr__(self, "_buffers", net._buffers)
        object.__setattr__(self, "net", net)  # not a sub-module: its modules are this one's already
        self.twin, self.amp, self._output = twin, amp, None
        self._pairs = [(p, tensors[name]) for name, p in params.items()]
        self._buffer_pairs = [(array, twin_buffers[name]) for name, array in buffers.items()]
        self._shared = self.device.type == "cpu"

    def __getattr__(self, name: str) -> Any:  # everything else (config, text, generator, ...) is the network's
        if name == "net":
            raise AttributeError(name)
        return getattr(self.net, name)

    def train(self, mode: bool = True) -> TorchEngine:
        super().train(mode)
        self.twin.train(mode)
        return self

    def forward(self, *args, **kwargs):
        """The network's forward pass on NumPy arrays (ints, bools, floats; nested in tuples, lists, dicts)."""
        if not self._shared:
            with torch.no_grad():
                for p, tensor in self._pairs:
                    tensor.copy_(torch.from_numpy(p.data), non_blocking=True)
                for array, tensor in self._buffer_pairs:
                    tensor.copy_(torch.from_numpy(array), non_blocking=True)
        args, kwargs = self._to_torch(args), self._to_torch(kwargs)
        with torch.set_grad_enabled(self.training), torch.autocast(self.device.type, torch.bfloat16,
                                                                   enabled=self.amp):
            output = self.twin(*args, **kwargs)
        if self.training and not self._shared:  # the running statistics torch moved, back in the master arrays
            for array, tensor in self._buffer_pairs:
                array[...] = tensor.cpu().numpy()
        self._output = output if self.training else None
        return self._to_numpy(output)

    def backward(self, d_output: np.ndarray) -> None:
        """d loss / d output (the first output when there are several) -> added into every parameter's `.grad`."""
        if self._output is None:
            raise RnnlabError("backward needs a forward pass in training mode first")
        output = self._output[0] if isinstance(self._output, tuple) else self._output
        output.backward(torch.from_numpy(np.ascontiguousarray(d_output)).to(self.device, output.dtype))
        self._output = None
        for p, tensor in self._pairs:
            if tensor.grad is not None:
                p.grad += tensor.grad.cpu().numpy()
                tensor.grad = None

    def _to_torch(self, value):
        if isinstance(value, np.ndarray | np.generic):
            return torch.from_numpy(np.ascontiguousarray(value)).to(self.device)
        if isinstance(value, tuple | list):
            return type(value)(self._to_torch(v) for v in value)
        if isinstance(value, dict):
            return {k: self._to_torch(v) for k, v in value.items()}
        return value

    def _to_numpy(self, value):
        if isinstance(value, torch.Tensor):
            tensor = value.detach()
            if tensor.dtype == torch.bfloat16:
                tensor = tensor.float()
            return tensor.cpu().numpy()
        if isinstance(value, tuple | list):
            return type(value)(self._to_numpy(v) for v in value)
        return value

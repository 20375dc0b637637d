"""Engine weights as plain PyTorch state dicts, and the networks and recurrent layers of a run.

The engine's layers already use PyTorch's names and layouts (`weight_ih_l0`, gates i, f, g, o for
LSTM and r, z, n for GRU), so a recurrent layer's state dict loads unchanged into `torch.nn.LSTM`
/ `GRU` / `RNN`, and a character model's whole state dict into its torch twin
(`rnnlab.backends.torch_backend.TorchSequenceModel`). Writing one needs no PyTorch: the file is
safetensors, read back with `safetensors.torch.load_file(path)`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from safetensors.numpy import save as safetensors_bytes

from rnnlab.checkpoint import atomic_write_bytes, load_checkpoint
from rnnlab.errors import RnnlabError
from rnnlab.nn.module import Module
from rnnlab.nn.recurrent import RNNBase

TASKS = {"charlm": "CharLM", "classify": "SequenceClassifier", "tag": "SequenceTagger", "forecast": "Forecaster",
         "seq2seq": "Seq2Seq"}


def load_task(run: str | Path):
    """The trained task saved in a run folder (or checkpoint .json), whichever task it is."""
    _, meta = load_checkpoint(run)
    name = TASKS.get(meta.get("task"))
    if name is None:
        raise RnnlabError(f"{run}: checkpoint of an unknown task {meta.get('task')!r}")
    import rnnlab

    return getattr(rnnlab, name).load(run)


def networks(source) -> dict[str, Module]:
    """The engine networks of a trained task (`model`, or `net0`, `net1`, ... for an ensemble), or {"": module}."""
    if isinstance(source, Module):
        return {"": _engine_net(source)}
    for attribute in ("model_", "nets_", "networks_"):
        found = getattr(source, attribute, None)
        if isinstance(found, Module):
            return {"": _engine_net(found)}
        if isinstance(found, list) and found:
            if len(found) == 1:
                return {"": _engine_net(found[0])}
            return {f"net{k}": _engine_net(net) for k, net in enumerate(found)}
    raise RnnlabError(f"{type(source).__name__}: not a trained task or an engine network")


def _engine_net(net: Module) -> Module:
    """A network trained with engine='torch' is a TorchEngine around the engine network: that network."""
    return net.__dict__.get("net", net)


def recurrent_layers(source) -> dict[str, RNNBase]:
    """Every recurrent layer of a task, network or layer, by its name (`rnn`, `net1.rnn`, `char_lstm`, ...)."""
    if isinstance(source, RNNBase):
        return {"": source}
    found = {}
    for prefix, net in networks(source).items():
        for name, module in net.named_modules():
            if isinstance(module, RNNBase):
                found[".".join(part for part in (prefix, name) if part)] = module
    return found


def pick_layer(source, name: str | None = None, what: str = "layer") -> tuple[str, RNNBase]:
    """(name, layer): the recurrent layer `name`, or the only one when name is None."""
    layers = recurrent_layers(source)
    if name is None:
        if len(layers) == 1:
            return next(iter(layers.items()))
        raise RnnlabError(f"{what}: there are {len(layers)} recurrent layers ({', '.join(layers)}); pick one")
    if name not in layers:
        raise RnnlabError(f"{what}: no recurrent layer {name!r}; choose from: {', '.join(layers)}")
    return name, layers[name]


def to_torch_state_dict(source, layer: str | None = None, whole: bool = False) -> dict[str, np.ndarray]:
    """A plain PyTorch state dict (NumPy arrays) from a trained task, an engine network or an engine layer.

    By default the recurrent layer (`layer` names it when there are several): it loads into
    `torch.nn.LSTM` / `GRU` / `RNN` built with the same sizes. With `whole`, every parameter of the
    network under its module path (`embedding.weight`, `rnn.weight_ih_l0`, `head.weight`, ...;
    `net0.` ... for an ensemble), which a character model's `TorchSequenceModel` loads directly.

    >>> from rnnlab.nn import LSTM
    >>> sorted(to_torch_state_dict(LSTM(3, 4, seed=0)))
    ['bias_hh_l0', 'bias_ih_l0', 'weight_hh_l0', 'weight_ih_l0']
    """
    if whole:
        return {".".join(part for part in (prefix, name) if part): value
                for prefix, net in networks(source).items() for name, value in net.state_dict().items()}
    return pick_layer(source, layer)[1].state_dict()


def torch_state_bytes(state: dict[str, np.ndarray]) -> bytes:
    """A state dict as the bytes of a safetensors file (contiguous arrays, dtypes kept)."""
    return safetensors_bytes({name: np.ascontiguousarray(value) for name, value in state.items()})


def save_torch_state(source, path: str | Path, layer: str | None = None, whole: bool = False) -> Path:
    """Write `to_torch_state_dict(source, layer, whole)` to a safetensors file, atomically; returns the path.

    Load it with `torch.nn.LSTM(...).load_state_dict(safetensors.torch.load_file(path))`.
    """
    path = Path(path)
    atomic_write_bytes(path, torch_state_bytes(to_torch_state_dict(source, layer, whole)))
    return path


def torch_layer(layer: RNNBase):
    """The `torch.nn.LSTM` / `GRU` / `RNN` twin of an engine layer, with its weights (needs PyTorch)."""
    from rnnlab.interop.keras import cell_name

    torch = _torch()
    cell = cell_name(layer)
    dtype = torch.float64 if layer.dtype == np.float64 else torch.float32
    kwargs = dict(num_layers=layer.num_layers, bias=layer.bias, batch_first=layer.batch_first,
                  bidirectional=layer.bidirectional, dtype=dtype)
    if cell.startswith("rnn"):
        nonlinearity = "relu" if cell == "rnn_relu" else "tanh"
        module = torch.nn.RNN(layer.input_size, layer.hidden_size, nonlinearity=nonlinearity, **kwargs)
    else:
        module = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell](layer.input_size, layer.hidden_size, **kwargs)
    module.load_state_dict({name: torch.from_numpy(value) for name, value in layer.state_dict().items()})
    return module.eval()


def _torch():
    try:
        import torch
    except ImportError:
        raise RnnlabError("this needs PyTorch: pip install 'rnnlab[torch]'") from None
    return torch

"""ONNX export through `torch.onnx`: the engine's weights in their torch.nn twin, traced once.

    recurrent layer   x (T, B, I) float    ->  output (T, B, D*H), h_n (D*L, B, H)[, c_n]
    character model   ids (T, B) int64     ->  logits (T, B, V)

T and B are free (dynamic axes). `onnx_difference` runs the file with onnxruntime on a random
batch and gives the largest absolute difference from the engine's own forward pass.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np

from rnnlab.checkpoint import atomic_write_bytes
from rnnlab.errors import RnnlabError
from rnnlab.interop.torch_export import _torch, networks, pick_layer, torch_layer
from rnnlab.nn.models import SequenceModel
from rnnlab.nn.recurrent import LSTM


def _target(source, layer: str | None, whole: bool):
    """What to export: ("model", SequenceModel) with `whole`, else ("layer", the recurrent layer)."""
    if not whole:
        return "layer", pick_layer(source, layer)[1]
    nets = networks(source)
    net = next(iter(nets.values()))
    if len(nets) != 1 or not isinstance(net, SequenceModel):
        raise RnnlabError("ONNX export of a whole network is for character models (SequenceModel); "
                          "export a recurrent layer instead")
    return "model", net


def onnx_bytes(source, layer: str | None = None, whole: bool = False) -> bytes:
    """The ONNX file (bytes) of a recurrent layer of `source` (task, network or layer) or, with `whole`,
    of a character model's whole network. Needs PyTorch and onnx: pip install 'rnnlab[onnx]'."""
    torch = _torch()
    try:
        import onnx  # noqa: F401  (torch.onnx writes the file with it)
    except ImportError:
        raise RnnlabError("ONNX export needs onnx: pip install 'rnnlab[onnx]'") from None
    kind, target = _target(source, layer, whole)
    if kind == "model":
        from rnnlab.backends.torch_backend import TorchSequenceModel

        dtype = torch.float64 if target.dtype == np.float64 else torch.float32
        twin = TorchSequenceModel(target.config, dtype=dtype)
        twin.load_state_dict({name: torch.from_numpy(value) for name, value in target.state_dict().items()})
        module, example = _wrappers()[0](twin.eval()), torch.zeros((3, 2), dtype=torch.int64)
        names, outputs = ["ids"], ["logits"]
        axes = {"ids": {0: "T", 1: "B"}, "logits": {0: "T", 1: "B"}}
    else:
        module = _wrappers()[1](torch_layer(target))
        T, B = (1, 0) if target.batch_first else (0, 1)
        example = torch.zeros((3, 2, target.input_size), dtype=next(module.parameters()).dtype)
        names = ["x"]
        outputs = ["output", "h_n", "c_n"] if isinstance(target, LSTM) else ["output", "h_n"]
        axes = {"x": {T: "T", B: "B"}, "output": {T: "T", B: "B"}} | {name: {1: "B"} for name in outputs[1:]}
    buffer = io.BytesIO()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notes
        torch.onnx.export(module, (example,), buffer, input_names=names, output_names=outputs,
                          dynamic_axes=axes, dynamo=False)
    return buffer.getvalue()


def save_onnx(source, path: str | Path, layer: str | None = None, whole: bool = False) -> Path:
    """Write `onnx_bytes(source, layer, whole)` to `path` atomically; returns the path."""
    path = Path(path)
    atomic_write_bytes(path, onnx_bytes(source, layer, whole))
    return path


def onnx_difference(data: bytes, source, layer: str | None = None, whole: bool = False, seed: int = 0) -> float:
    """max |onnxruntime - engine| over every output, on a random batch (T=7, B=3). Needs onnxruntime."""
    try:
        import onnxruntime
    except ImportError:
        raise RnnlabError("checking an ONNX file needs onnxruntime: pip install 'rnnlab[onnx]'") from None
    kind, target = _target(source, layer, whole)
    rng, T, B = np.random.default_rng(seed), 7, 3
    session = onnxruntime.InferenceSession(data, providers=["CPUExecutionProvider"])
    if kind == "model":
        ids = rng.integers(0, target.config.vocab_size, (T, B))
        expected = [target.eval()(ids)[0]]
        got = session.run(None, {"ids": ids.astype(np.int64)})
    else:
        shape = (B, T, target.input_size) if target.batch_first else (T, B, target.input_size)
        x = rng.normal(size=shape).astype(target.dtype)
        output, state = target.eval()(x)
        expected = [output, *(state if isinstance(state, tuple) else (state,))]
        got = session.run(None, {"x": x})
    return max(float(np.max(np.abs(np.asarray(g) - e))) for g, e in zip(got, expected, strict=True))


def _wrappers() -> tuple[type, type]:
    """torch.nn.Module wrappers with flat outputs (defined on demand: importing this module needs no torch)."""
    nn = _torch().nn

    class Logits(nn.Module):  # a character model's twin -> logits (T, B, V)
        def __init__(self, model) -> None:
            super().__init__()
            self.model = model

        def forward(self, ids):
            return self.model(ids)[0]

    class Layer(nn.Module):  # a torch.nn recurrent layer -> output, h_n[, c_n]
        def __init__(self, rnn) -> None:
            super().__init__()
            self.rnn = rnn

        def forward(self, x):
            output, state = self.rnn(x)
            return (output, *state) if isinstance(state, tuple) else (output, state)

    return Logits, Layer

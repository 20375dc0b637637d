"""Keras 3 recurrent layouts, both ways: arrays, Keras layer objects and `.weights.h5` files.

One Keras direction holds `kernel` (I, G*H), `recurrent_kernel` (H, G*H) and `bias`; the
engine (and PyTorch) holds `weight_ih` (G*H, I), `weight_hh` (G*H, H), `bias_ih`, `bias_hh`:

    LSTM       gates i, f, c, o in both       W_ih = kernel.T, W_hh = recurrent_kernel.T,
               bias (4H,)                     b_ih = bias, b_hh = 0 (export: bias = b_ih + b_hh)
    GRU        Keras z, r, h; engine r, z, n  the same, with the first two gate blocks swapped;
               bias (2, 3H) (reset_after)     b_ih = bias[0], b_hh = bias[1]
    SimpleRNN  bias (H,)                      as the LSTM, one gate

A GRU with `reset_after=False` applies its reset gate before the recurrent product,
r * (W_hh h) versus W_hh (r * h): PyTorch has no such cell, so it is refused.
A layer is described as a dict `{"kernel", "recurrent_kernel", "bias"}` (bias optional), a
bidirectional one as `{"forward": {...}, "backward": {...}}`, a stack as a list of those.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import numpy as np

from rnnlab.checkpoint import atomic_write_bytes
from rnnlab.errors import RnnlabError, invalid_argument
from rnnlab.nn.models import build_recurrent
from rnnlab.nn.recurrent import GRU, LSTM, RNN, RNNBase

GATES = {"lstm": 4, "gru": 3, "rnn": 1, "rnn_relu": 1}
KERAS_CELLS = {"lstm": "lstm_cell", "gru": "gru_cell", "rnn": "simple_rnn_cell", "rnn_relu": "simple_rnn_cell"}
KERAS_LAYERS = {"LSTM": "lstm", "GRU": "gru", "SimpleRNN": "rnn"}
NO_TWIN = "a Keras GRU with reset_after=False has no PyTorch twin (it resets before the recurrent product); " \
          "rebuild it with reset_after=True"


def _swap_first_gates(matrix: np.ndarray, hidden: int) -> np.ndarray:
    """Keras GRU gates (z, r, h) <-> engine gates (r, z, n) along the last axis (3H); its own inverse."""
    order = np.r_[hidden : 2 * hidden, 0:hidden, 2 * hidden : 3 * hidden]
    return matrix[..., order]


def _keras_direction(cell: str, weights: dict, name: str, reset_after: bool | None) -> dict[str, np.ndarray]:
    """One Keras direction -> engine arrays weight_ih (G*H, I), weight_hh (G*H, H)[, bias_ih, bias_hh (G*H,)]."""
    try:
        kernel, recurrent = np.asarray(weights["kernel"]), np.asarray(weights["recurrent_kernel"])
    except (KeyError, TypeError):
        raise RnnlabError(f"{name}: expected a dict with 'kernel' and 'recurrent_kernel' "
                          f"(and 'bias'), got {type(weights).__name__}") from None
    bias = weights.get("bias")
    bias = None if bias is None else np.asarray(bias)
    hidden = recurrent.shape[0] if recurrent.ndim == 2 else 0
    rows = GATES[cell] * hidden
    if kernel.ndim != 2 or recurrent.shape != (hidden, rows) or kernel.shape[1] != rows or not hidden:
        raise RnnlabError(f"{name}: a Keras {cell} layer has kernel (I, {GATES[cell]}H) and recurrent_kernel "
                          f"(H, {GATES[cell]}H); got {kernel.shape} and {recurrent.shape}")
    if cell == "gru":
        if reset_after is False or (bias is not None and bias.shape == (rows,)):
            raise RnnlabError(f"{name}: {NO_TWIN}")
        if bias is not None and bias.shape != (2, rows):
            raise RnnlabError(f"{name}: a Keras GRU bias (reset_after=True) has shape (2, {rows}), got {bias.shape}")
        state = {"weight_ih": _swap_first_gates(kernel, hidden).T, "weight_hh": _swap_first_gates(recurrent, hidden).T}
        if bias is not None:
            state |= {"bias_ih": _swap_first_gates(bias[0], hidden), "bias_hh": _swap_first_gates(bias[1], hidden)}
        return state
    if bias is not None and bias.shape != (rows,):
        raise RnnlabError(f"{name}: a Keras {cell} bias has shape ({rows},), got {bias.shape}")
    state = {"weight_ih": kernel.T, "weight_hh": recurrent.T}
    if bias is not None:
        state |= {"bias_ih": bias, "bias_hh": np.zeros_like(bias)}
    return state


def _from_layer_object(layer, backward: bool = False) -> tuple[str, list[dict], bool | None]:
    """A Keras LSTM / GRU / SimpleRNN / Bidirectional layer object -> (cell, directions, reset_after)."""
    kind = type(layer).__name__
    if kind == "Bidirectional":
        if layer.merge_mode != "concat":
            raise RnnlabError(f"{layer.name}: only Bidirectional(merge_mode='concat') has an engine twin, "
                              f"got merge_mode={layer.merge_mode!r}")
        cell, forward, reset_after = _from_layer_object(layer.forward_layer)
        return cell, forward + _from_layer_object(layer.backward_layer, backward=True)[1], reset_after
    if kind not in KERAS_LAYERS:
        raise RnnlabError(f"{getattr(layer, 'name', kind)}: not a Keras recurrent layer "
                          f"({', '.join(KERAS_LAYERS)} or Bidirectional), got {kind}")
    if getattr(layer, "go_backwards", False) != backward:
        raise RnnlabError(f"{layer.name}: go_backwards=True outside Bidirectional has no engine twin")
    cell = KERAS_LAYERS[kind]
    activation = getattr(getattr(layer, "activation", None), "__name__", "tanh")
    if cell == "rnn" and activation == "relu":
        cell = "rnn_relu"
    elif activation != "tanh" or getattr(getattr(layer, "recurrent_activation", None), "__name__",
                                         "sigmoid") != "sigmoid":
        raise RnnlabError(f"{layer.name}: only the default activations (tanh, sigmoid) have an engine twin")
    names = ["kernel", "recurrent_kernel", "bias"]
    weights = dict(zip(names, (np.asarray(w) for w in layer.get_weights()), strict=False))
    return cell, [weights], getattr(layer, "reset_after", None)


def from_keras(layers, cell: str | None = None, reset_after: bool | None = None, dtype: type | None = None,
               batch_first: bool = False) -> RNNBase:
    """An engine `LSTM` / `GRU` / `RNN` from Keras layers: arrays (as described above) or Keras layer objects.

    layers: one layer or a list of layers (a stack, bottom first; all of one cell, one hidden size, and all
    bidirectional or none). cell: "lstm", "gru", "rnn" (tanh) or "rnn_relu"; needed for arrays only.
    reset_after: for a GRU given as arrays without a bias (with one, its shape tells). dtype: the arrays'
    (float64 stays float64), else float32.

    >>> rng = np.random.default_rng(0)
    >>> keras_lstm = {"kernel": rng.normal(size=(3, 8)), "recurrent_kernel": rng.normal(size=(2, 8)),
    ...               "bias": np.zeros(8)}
    >>> lstm = from_keras(keras_lstm, cell="lstm")
    >>> lstm.weight_ih_l0.shape, lstm.weight_hh_l0.shape, lstm.dtype.name
    ((8, 3), (8, 2), 'float64')
    """
    stack = list(layers) if isinstance(layers, list | tuple) else [layers]
    if not stack:
        raise RnnlabError("from_keras: no layers given")
    cells, described = [], []
    for k, layer in enumerate(stack):
        name = getattr(layer, "name", f"layer {k}")
        if hasattr(layer, "get_weights"):
            layer_cell, directions, layer_reset_after = _from_layer_object(layer)
        elif isinstance(layer, dict) and set(layer) == {"forward", "backward"}:
            layer_cell, directions, layer_reset_after = cell, [layer["forward"], layer["backward"]], reset_after
        else:
            layer_cell, directions, layer_reset_after = cell, [layer], reset_after
        if layer_cell not in GATES:
            raise invalid_argument("cell", f"one of {', '.join(GATES)} for Keras arrays", layer_cell)
        cells.append(layer_cell)
        described.append([_keras_direction(layer_cell, d, name, layer_reset_after) for d in directions])
    return _engine_layer(cells, described, dtype, batch_first)


def _engine_layer(cells: list[str], described: list[list[dict]], dtype, batch_first: bool) -> RNNBase:
    """Per layer, per direction engine arrays -> one engine layer, checking that they stack."""
    cell, first = cells[0], described[0][0]
    hidden, input_size = first["weight_hh"].shape[1], first["weight_ih"].shape[1]
    directions, bias = len(described[0]), "bias_ih" in first
    for k, (layer_cell, layer) in enumerate(zip(cells, described, strict=True)):
        expected_input = input_size if k == 0 else directions * hidden
        shapes = [(d["weight_ih"].shape[1], d["weight_hh"].shape[1], "bias_ih" in d) for d in layer]
        if layer_cell != cell or len(layer) != directions or set(shapes) != {(expected_input, hidden, bias)}:
            raise RnnlabError(f"layer {k} does not stack on the ones below: expected a {cell} layer "
                              f"({'bi' if directions == 2 else 'uni'}directional, input {expected_input}, "
                              f"hidden {hidden}, {'with' if bias else 'no'} bias), got {layer_cell} {shapes}")
    if dtype is None:
        dtype = np.float64 if first["weight_ih"].dtype == np.float64 else np.float32
    layer = build_recurrent(cell, input_size, hidden, num_layers=len(cells), bias=bias,
                            bidirectional=directions == 2, batch_first=batch_first, dtype=dtype)
    state = {}
    for k, per_direction in enumerate(described):
        for d, arrays in enumerate(per_direction):
            state |= {f"{name}_l{k}{'_reverse' if d else ''}": value for name, value in arrays.items()}
    layer.load_state_dict(state)
    return layer


def cell_name(layer: RNNBase) -> str:
    """The engine cell name of a layer: lstm, gru, rnn (tanh) or rnn_relu."""
    if isinstance(layer, LSTM):
        return "lstm"
    if isinstance(layer, GRU):
        return "gru"
    if isinstance(layer, RNN):
        return "rnn_relu" if layer.nonlinearity == "relu" else "rnn"
    raise RnnlabError(f"not an engine recurrent layer: {type(layer).__name__}")


def to_keras(layer: RNNBase) -> list[dict]:
    """An engine layer -> one Keras weight dict per layer (bottom first), `{"forward", "backward"}` when bidirectional.

    For a Keras layer object: `keras_layer.set_weights([w["kernel"], w["recurrent_kernel"], w["bias"]])`
    (a Bidirectional takes the forward three, then the backward three).
    """
    cell, state, hidden = cell_name(layer), layer.state_dict(), layer.hidden_size
    layers = []
    for k in range(layer.num_layers):
        directions = []
        for suffix in ["", "_reverse"][: layer.num_directions]:
            W_ih, W_hh = state[f"weight_ih_l{k}{suffix}"], state[f"weight_hh_l{k}{suffix}"]  # (G*H, I), (G*H, H)
            b_ih, b_hh = state.get(f"bias_ih_l{k}{suffix}"), state.get(f"bias_hh_l{k}{suffix}")
            if cell == "gru":
                weights = {"kernel": _swap_first_gates(W_ih.T, hidden), "recurrent_kernel": _swap_first_gates(W_hh.T,
                                                                                                             hidden)}
                if b_ih is not None:
                    weights["bias"] = np.stack([_swap_first_gates(b_ih, hidden), _swap_first_gates(b_hh, hidden)])
            else:
                weights = {"kernel": W_ih.T.copy(), "recurrent_kernel": W_hh.T.copy()}
                if b_ih is not None:
                    weights["bias"] = b_ih + b_hh  # Keras keeps one bias where PyTorch keeps two
            directions.append(weights)
        layers.append(directions[0] if len(directions) == 1 else {"forward": directions[0], "backward": directions[1]})
    return layers


# ---- .weights.h5 files, laid out as Keras 3 saves them ------------------------------------------------------------
#   layers/<key>/cell/vars/{0,1,2}                  kernel, recurrent_kernel, bias (attrs name: lstm_cell, ...)
#   layers/<key>/{forward,backward}_layer/cell/vars  the two directions of a Bidirectional
#   layers/<key>/vars (attrs name: the layer's own name), vars (attrs name: the model's)
# The key is the layer's class in snake case, numbered per class in model order (lstm, lstm_1, ...,
# bidirectional, gru, ...), whatever the layers are called: `load_weights` matches by position, not by name.

def _h5py():
    try:
        import h5py
    except ImportError:
        raise RnnlabError("Keras .weights.h5 files need h5py: pip install 'rnnlab[keras]'") from None
    return h5py


def _natural(name: str) -> list:
    """lstm, lstm_1, lstm_2, ..., lstm_10: the order of Keras's keys (the model's order within a class)."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def read_keras_weights(path: str | Path) -> dict[str, list[dict]]:
    """The recurrent layers of a Keras 3 `.weights.h5` file: {key: [direction weights, ...]}.

    Keys are the file's (`lstm`, `lstm_1`, `bidirectional`, `sequential/gru` inside a nested model),
    in Keras's numbering order, which is the model's order among layers of one class. A cell's kind
    follows from the shapes (recurrent_kernel (H, G*H)). `layer_names(path)` maps the layers' own names.
    """
    return _read(path)[0]


def layer_names(path: str | Path) -> dict[str, str]:
    """{layer's own name (as given in Keras): its key in the file} for the recurrent layers of a `.weights.h5`."""
    return _read(path)[1]


def _read(path: str | Path) -> tuple[dict[str, list[dict]], dict[str, str]]:
    h5py, path = _h5py(), Path(path)
    found: dict[str, list[dict]] = {}
    own_names: dict[str, str] = {}

    def direction(group) -> dict | None:
        variables = group.get("cell/vars")
        if variables is None:
            return None
        arrays = [np.asarray(variables[key]) for key in sorted(variables, key=int)]
        return dict(zip(["kernel", "recurrent_kernel", "bias"], arrays, strict=False))

    def walk(group, prefix: str) -> None:
        for name in group.get("layers", {}):
            layer, full = group["layers"][name], f"{prefix}{name}"
            if "forward_layer" in layer and "backward_layer" in layer:
                parts = [direction(layer["forward_layer"]), direction(layer["backward_layer"])]
                if None not in parts:
                    found[full] = parts
            elif (weights := direction(layer)) is not None:
                found[full] = [weights]
            if full in found and "vars" in layer:
                own_names[str(layer["vars"].attrs.get("name", full))] = full
            walk(layer, f"{full}/")

    try:
        with h5py.File(path, "r") as file:
            walk(file, "")
    except FileNotFoundError:
        raise RnnlabError(f"{path}: no such file") from None
    except (OSError, ValueError, KeyError, TypeError) as error:  # not HDF5, or not laid out as Keras lays it out
        raise RnnlabError(f"{path}: not a Keras .weights.h5 file ({error})") from None
    return {key: found[key] for key in sorted(found, key=_natural)}, own_names


def _cell_from_shapes(weights: dict, name: str, nonlinearity: str) -> str:
    recurrent = weights.get("recurrent_kernel")
    if recurrent is None or recurrent.ndim != 2 or recurrent.shape[1] % recurrent.shape[0]:
        raise RnnlabError(f"{name}: not a recurrent layer (no recurrent_kernel (H, G*H))")
    gates = recurrent.shape[1] // recurrent.shape[0]
    cells = {4: "lstm", 3: "gru", 1: "rnn_relu" if nonlinearity == "relu" else "rnn"}
    if gates not in cells:
        raise RnnlabError(f"{name}: recurrent_kernel {recurrent.shape} is no LSTM, GRU or SimpleRNN")
    return cells[gates]


def from_keras_h5(path: str | Path, layers: list[str] | None = None, nonlinearity: str = "tanh",
                  dtype: type | None = None, batch_first: bool = False) -> RNNBase:
    """The recurrent layers of a Keras 3 `.weights.h5` file as one engine layer (a stack, bottom first).

    layers: the layers to stack, in order, by their names in Keras or their keys in the file (default:
    every recurrent layer in the file, in Keras's numbering order).
    nonlinearity: of SimpleRNN layers ("tanh" or "relu"), which the file does not record.
    A GRU without a bias is taken as reset_after=True (Keras's default).
    """
    found, own_names = _read(path)
    if not found:
        raise RnnlabError(f"{path}: no LSTM, GRU or SimpleRNN layer in this file")
    names = list(found) if layers is None else [own_names.get(name, name) for name in layers]
    unknown = [name for name in names if name not in found]
    if unknown:
        raise RnnlabError(f"{path}: no recurrent layer {unknown[0]!r}; the file has: "
                          f"{', '.join(f'{own} ({key})' for own, key in own_names.items())}")
    cells, described = [], []
    for name in names:
        cell = _cell_from_shapes(found[name][0], f"{path}: {name}", nonlinearity)
        cells.append(cell)
        described.append([_keras_direction(cell, d, f"{path}: {name}", None) for d in found[name]])
    try:
        return _engine_layer(cells, described, dtype, batch_first)
    except RnnlabError as error:
        raise RnnlabError(f"{path}: layers {', '.join(names)}: {error}; choose some with layers=[...]") from None


def keras_layer_names(layer: RNNBase) -> list[str]:
    """The keys of `to_keras(layer)`'s layers in a `.weights.h5`: lstm, lstm_1, ..., gru, simple_rnn, bidirectional."""
    base = "bidirectional" if layer.bidirectional else {"lstm": "lstm", "gru": "gru"}.get(cell_name(layer),
                                                                                              "simple_rnn")
    return [base if k == 0 else f"{base}_{k}" for k in range(layer.num_layers)]


def keras_h5_bytes(layer: RNNBase) -> bytes:
    """`to_keras(layer)` as the bytes of a `.weights.h5` file that `model.load_weights` reads into a Keras model
    made of exactly these recurrent layers (one Keras layer per engine layer, Bidirectional when bidirectional;
    any names; no other layers with weights)."""
    h5py, cell = _h5py(), cell_name(layer)
    names = keras_layer_names(layer)
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as file:
        file.create_group("layers")
        file.create_group("vars").attrs["name"] = "sequential"
        inner = {"lstm": "lstm", "gru": "gru"}.get(cell, "simple_rnn")
        for name, weights in zip(names, to_keras(layer), strict=True):
            group = file["layers"].create_group(name)
            group.create_group("vars").attrs["name"] = name
            sides = ("forward", "backward")
            parts = [(group, weights, name)] if not layer.bidirectional else [
                (group.create_group(f"{side}_layer"), weights[side], f"{side}_{inner}") for side in sides]
            for where, arrays, own_name in parts:
                if where is not group:
                    where.create_group("vars").attrs["name"] = own_name
                variables = where.create_group("cell").create_group("vars")
                variables.attrs["name"] = KERAS_CELLS[cell]
                for k, key in enumerate(key for key in ("kernel", "recurrent_kernel", "bias") if key in arrays):
                    variables.create_dataset(str(k), data=arrays[key])
    return buffer.getvalue()


def to_keras_h5(layer: RNNBase, path: str | Path) -> Path:
    """Write `keras_h5_bytes(layer)` to `path` atomically; returns the path."""
    path = Path(path)
    atomic_write_bytes(path, keras_h5_bytes(layer))
    return path

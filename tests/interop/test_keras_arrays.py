"""Keras-layout arrays -> engine layers -> the same outputs as a Keras-style forward written out here (float64)."""

import numpy as np
import pytest

from rnnlab.errors import RnnlabError
from rnnlab.interop import from_keras, to_keras
from rnnlab.nn import GRU, LSTM, RNN

sigmoid = lambda a: 1 / (1 + np.exp(-a))  # noqa: E731


def keras_direction(cell: str, weights: dict, x: np.ndarray, backwards: bool = False) -> np.ndarray:
    """Keras's own equations for one direction: x (T, B, I) -> outputs (T, B, H) in input order."""
    K, R, b = weights["kernel"], weights["recurrent_kernel"], weights["bias"]
    H = R.shape[0]
    h, c, outputs = np.zeros((x.shape[1], H)), np.zeros((x.shape[1], H)), [None] * len(x)
    for t in (reversed(range(len(x))) if backwards else range(len(x))):
        if cell == "lstm":  # gates i, f, c, o
            i, f, g, o = np.split(x[t] @ K + h @ R + b, 4, axis=1)
            c = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
            h = sigmoid(o) * np.tanh(c)
        elif cell == "gru":  # gates z, r, h; reset_after: the reset gate scales the recurrent product
            x_z, x_r, x_h = np.split(x[t] @ K + b[0], 3, axis=1)
            h_z, h_r, h_h = np.split(h @ R + b[1], 3, axis=1)
            z, r = sigmoid(x_z + h_z), sigmoid(x_r + h_r)
            h = z * h + (1 - z) * np.tanh(x_h + r * h_h)
        else:
            h = np.tanh(x[t] @ K + h @ R + b)
        outputs[t] = h
    return np.stack(outputs)


def keras_forward(cell: str, layers: list, x: np.ndarray) -> np.ndarray:
    for layer in layers:
        if "forward" in layer:
            x = np.concatenate([keras_direction(cell, layer["forward"], x),
                                keras_direction(cell, layer["backward"], x, backwards=True)], axis=2)
        else:
            x = keras_direction(cell, layer, x)
    return x


def random_layer(rng, cell: str, I: int, H: int) -> dict:
    G = {"lstm": 4, "gru": 3, "rnn": 1}[cell]
    bias = rng.normal(size=(2, G * H) if cell == "gru" else (G * H,))
    return {"kernel": rng.normal(size=(I, G * H)), "recurrent_kernel": rng.normal(size=(H, G * H)) / 2, "bias": bias}


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
@pytest.mark.parametrize("layout", ["one", "two_layers", "bidirectional_two_layers"])
def test_keras_arrays_give_the_same_outputs_as_keras_equations(cell, layout):
    rng = np.random.default_rng(0)
    I, H, bi = 3, 4, layout.startswith("bi")
    layers = []
    for k in range(1 if layout == "one" else 2):
        size = I if k == 0 else H * (2 if bi else 1)
        layers.append({"forward": random_layer(rng, cell, size, H), "backward": random_layer(rng, cell, size, H)}
                      if bi else random_layer(rng, cell, size, H))
    x = rng.normal(size=(6, 2, I))
    engine = from_keras(layers, cell=cell)
    assert engine.dtype == np.float64 and engine.bidirectional == bi
    output = engine(x)[0]
    assert np.max(np.abs(output - keras_forward(cell, layers, x))) < 1e-6
    back = from_keras(to_keras(engine), cell=cell)  # and back again
    assert np.max(np.abs(back(x)[0] - output)) < 1e-12


@pytest.mark.parametrize("make", [lambda: LSTM(3, 4, num_layers=2, dtype=np.float64, seed=1),
                                  lambda: GRU(3, 4, bidirectional=True, dtype=np.float64, seed=1),
                                  lambda: RNN(3, 4, dtype=np.float64, seed=1)])
def test_engine_layers_exported_to_keras_layout_follow_keras_equations(make):
    engine = make()
    cell = {"LSTM": "lstm", "GRU": "gru", "RNN": "rnn"}[type(engine).__name__]
    x = np.random.default_rng(2).normal(size=(5, 2, 3))
    assert np.max(np.abs(keras_forward(cell, to_keras(engine), x) - engine(x)[0])) < 1e-6


def test_gru_reset_after_false_is_refused_in_one_line():
    rng = np.random.default_rng(0)
    layer = random_layer(rng, "gru", 3, 4) | {"bias": np.zeros(12)}  # reset_after=False: bias (3H,)
    with pytest.raises(RnnlabError, match="reset_after=False has no PyTorch twin") as error:
        from_keras(layer, cell="gru")
    assert "\n" not in str(error.value)
    with pytest.raises(RnnlabError, match="reset_after=False"):
        from_keras({k: v for k, v in layer.items() if k != "bias"}, cell="gru", reset_after=False)


def test_layers_that_do_not_stack_are_refused():
    rng = np.random.default_rng(0)
    with pytest.raises(RnnlabError, match="layer 1 does not stack"):
        from_keras([random_layer(rng, "lstm", 3, 4), random_layer(rng, "lstm", 5, 4)], cell="lstm")
    with pytest.raises(RnnlabError, match="recurrent_kernel"):
        from_keras(random_layer(rng, "gru", 3, 4), cell="lstm")

"""Real Keras 3 (torch backend): its .weights.h5 files and layer objects give engine layers with Keras's outputs."""

import os

import numpy as np
import pytest

from rnnlab.errors import RnnlabError
from rnnlab.interop import from_keras, from_keras_h5, layer_names, read_keras_weights, to_keras_h5
from rnnlab.nn import GRU, LSTM

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras")
pytest.importorskip("h5py")
if keras.backend.backend() != "torch":
    pytest.skip("these tests run Keras on its torch backend (KERAS_BACKEND=torch)", allow_module_level=True)

T, B, I, H = 6, 3, 5, 4
X = np.random.default_rng(0).normal(size=(B, T, I)).astype(np.float32)  # Keras is batch-first


def keras_model(*layers) -> "keras.Model":
    keras.utils.set_random_seed(0)
    return keras.Sequential([keras.Input((T, I)), *layers])


def engine_output(layer, x=X) -> np.ndarray:
    return layer.eval()(x.transpose(1, 0, 2))[0].transpose(1, 0, 2)  # engine time-major (T, B, D*H)


def seq(cls, **kwargs):
    return cls(H, return_sequences=True, bias_initializer="random_normal", **kwargs)


CASES = {
    "lstm": lambda: [seq(keras.layers.LSTM)],
    "gru": lambda: [seq(keras.layers.GRU)],
    "simple_rnn": lambda: [seq(keras.layers.SimpleRNN)],
    "lstm_2_layers": lambda: [seq(keras.layers.LSTM), seq(keras.layers.LSTM)],
    "gru_2_layers": lambda: [seq(keras.layers.GRU), seq(keras.layers.GRU)],
    "bidirectional_lstm": lambda: [keras.layers.Bidirectional(seq(keras.layers.LSTM))],
    "bidirectional_gru_2_layers": lambda: [keras.layers.Bidirectional(seq(keras.layers.GRU)),
                                           keras.layers.Bidirectional(seq(keras.layers.GRU))],
}


@pytest.mark.parametrize("case", CASES)
def test_weights_h5_imports_with_keras_predict_outputs(case, tmp_path):
    model = keras_model(*CASES[case]())
    path = tmp_path / "model.weights.h5"
    model.save_weights(path)
    expected = model.predict(X, verbose=0)
    engine = from_keras_h5(path, layers=[layer.name for layer in model.layers])
    assert engine.num_layers == len(model.layers)
    assert np.max(np.abs(engine_output(engine) - expected)) < 1e-5
    from_objects = from_keras(model.layers)  # the layer objects themselves
    assert np.max(np.abs(engine_output(from_objects) - expected)) < 1e-5


def test_recurrent_layers_are_found_among_others_in_model_order(tmp_path):
    names = ["top", "middle", "bottom"] + [f"extra{k}" for k in range(9)]  # keys lstm, lstm_1, ..., lstm_11
    model = keras_model(*(seq(keras.layers.LSTM, name=name) for name in names), keras.layers.Dense(2))
    path = tmp_path / "m.weights.h5"
    model.save_weights(path)
    assert list(read_keras_weights(path)) == ["lstm"] + [f"lstm_{k}" for k in range(1, 12)]
    assert layer_names(path)["middle"] == "lstm_1"
    recurrent = keras.Model(model.inputs, model.layers[-2].output)
    assert np.max(np.abs(engine_output(from_keras_h5(path)) - recurrent.predict(X, verbose=0))) < 1e-5
    two = from_keras_h5(path, layers=["top", "lstm_1"])  # by own name or by key
    expected = keras.Model(model.inputs, model.layers[1].output).predict(X, verbose=0)
    assert np.max(np.abs(engine_output(two) - expected)) < 1e-5
    with pytest.raises(RnnlabError, match="no recurrent layer 'nothing'; the file has: top .lstm."):
        from_keras_h5(path, layers=["nothing"])


def test_gru_reset_after_false_file_is_refused(tmp_path):
    model = keras_model(seq(keras.layers.GRU, reset_after=False))
    model.save_weights(tmp_path / "m.weights.h5")
    with pytest.raises(RnnlabError, match="reset_after=False has no PyTorch twin"):
        from_keras_h5(tmp_path / "m.weights.h5")
    with pytest.raises(RnnlabError, match="reset_after=False"):
        from_keras(model.layers)


@pytest.mark.parametrize("make", [lambda: LSTM(I, H, num_layers=2, seed=3), lambda: GRU(I, H, seed=3),
                                  lambda: GRU(I, H, num_layers=2, bidirectional=True, seed=3)])
def test_engine_layers_export_to_weights_h5_that_keras_loads(make, tmp_path):
    engine = make()
    path = to_keras_h5(engine, tmp_path / "engine.weights.h5")
    cls = keras.layers.LSTM if isinstance(engine, LSTM) else keras.layers.GRU
    layers = [keras.layers.Bidirectional(cls(H, return_sequences=True), name=f"rec{k}") if engine.bidirectional
              else cls(H, return_sequences=True, name=f"rec{k}") for k in range(engine.num_layers)]
    model = keras_model(*layers)
    model.load_weights(path)
    assert np.max(np.abs(model.predict(X, verbose=0) - engine_output(engine))) < 1e-5


def test_bad_weights_files_are_refused_in_one_line(tmp_path):
    (tmp_path / "bad.weights.h5").write_bytes(b"not hdf5")
    for path, message in [(tmp_path / "bad.weights.h5", "not a Keras .weights.h5 file"),
                          (tmp_path / "missing.weights.h5", "no such file")]:
        with pytest.raises(RnnlabError, match=message) as error:
            from_keras_h5(path)
        assert "\n" not in str(error.value)
    model = keras_model(keras.layers.Dense(2))
    model.save_weights(tmp_path / "dense.weights.h5")
    with pytest.raises(RnnlabError, match="no LSTM, GRU or SimpleRNN layer"):
        from_keras_h5(tmp_path / "dense.weights.h5")

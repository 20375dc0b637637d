"""ONNX export through torch.onnx, run with onnxruntime against the engine's outputs."""

import numpy as np
import pytest

from rnnlab.errors import RnnlabError
from rnnlab.interop import load_task, onnx_bytes, onnx_difference
from rnnlab.nn import GRU, LSTM

pytest.importorskip("torch")
pytest.importorskip("onnx")
onnxruntime = pytest.importorskip("onnxruntime")


def test_character_model_exports_with_the_same_logits(charlm_run):
    task = load_task(charlm_run)
    data = onnx_bytes(task, whole=True)
    assert onnx_difference(data, task, whole=True) < 1e-5
    session = onnxruntime.InferenceSession(data, providers=["CPUExecutionProvider"])
    ids = np.random.default_rng(5).integers(0, task.model_.config.vocab_size, (11, 4))  # any T and B
    logits = session.run(None, {"ids": ids})[0]
    assert np.max(np.abs(logits - task.model_.eval()(ids)[0])) < 1e-5


@pytest.mark.parametrize("make", [lambda: LSTM(3, 4, num_layers=2, bidirectional=True, seed=0),
                                  lambda: GRU(3, 4, batch_first=True, seed=0)])
def test_recurrent_layer_exports_with_the_same_outputs_and_states(make):
    layer = make()
    assert onnx_difference(onnx_bytes(layer), layer) < 1e-5


def test_whole_network_other_than_a_character_model_is_refused(classify_run):
    with pytest.raises(RnnlabError, match="whole network is for character models"):
        onnx_bytes(load_task(classify_run), whole=True)

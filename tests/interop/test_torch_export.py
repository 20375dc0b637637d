"""Engine weights -> plain PyTorch state dicts (safetensors) that torch.nn modules load directly."""

import numpy as np
import pytest

from rnnlab.errors import RnnlabError
from rnnlab.interop import load_task, recurrent_layers, save_torch_state, to_torch_state_dict
from rnnlab.nn import GRU, LSTM, RNN
from rnnlab.nn.module import Module

torch = pytest.importorskip("torch")
safetensors_torch = pytest.importorskip("safetensors.torch")


@pytest.mark.parametrize("make, module", [
    (lambda: LSTM(3, 5, num_layers=2, bidirectional=True, seed=0), lambda: torch.nn.LSTM(3, 5, 2, bidirectional=True)),
    (lambda: GRU(3, 5, num_layers=2, seed=0), lambda: torch.nn.GRU(3, 5, 2)),
    (lambda: RNN(3, 5, nonlinearity="relu", bias=False, seed=0), lambda: torch.nn.RNN(3, 5, nonlinearity="relu",
                                                                                        bias=False)),
])
def test_layer_state_dict_loads_into_torch_nn_with_identical_outputs(make, module, tmp_path):
    engine = make()
    path = save_torch_state(engine, tmp_path / "layer.safetensors")
    twin = module()
    twin.load_state_dict(safetensors_torch.load_file(path))  # strict: same names, same shapes
    x = np.random.default_rng(1).normal(size=(7, 2, 3)).astype(np.float32)
    output, state = engine(x)
    with torch.no_grad():
        twin_output, twin_state = twin(torch.from_numpy(x))
    assert np.max(np.abs(twin_output.numpy() - output)) < 1e-6
    h_n = state[0] if isinstance(state, tuple) else state
    assert np.max(np.abs((twin_state[0] if isinstance(twin_state, tuple) else twin_state).numpy() - h_n)) < 1e-6


def test_charlm_run_exports_its_layer_and_whole_network(charlm_run, tmp_path):
    from rnnlab.backends.torch_backend import TorchSequenceModel

    task = load_task(charlm_run)
    model = task.model_
    layer = save_torch_state(task, tmp_path / "rnn.safetensors")
    rnn = torch.nn.LSTM(6, 12, num_layers=2)
    rnn.load_state_dict(safetensors_torch.load_file(layer))
    whole = save_torch_state(task, tmp_path / "model.safetensors", whole=True)
    twin = TorchSequenceModel(model.config).eval()
    twin.load_state_dict(safetensors_torch.load_file(whole))
    ids = np.random.default_rng(0).integers(0, model.config.vocab_size, (9, 2))
    with torch.no_grad():
        logits = twin(torch.from_numpy(ids))[0].numpy()
    assert np.max(np.abs(logits - model.eval()(ids)[0])) < 1e-5


def test_runs_with_several_layers_name_them(classify_run, tmp_path):
    task = load_task(classify_run)
    assert list(recurrent_layers(task)) == ["rnn"]
    assert set(to_torch_state_dict(task)) == {f"{w}_l0{s}" for w in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
                                              for s in ("", "_reverse")}
    assert "embedding.weight" in to_torch_state_dict(task, whole=True)

    net = Module()  # a tagger-like network: two recurrent layers
    net.char_lstm, net.lstm = LSTM(2, 3, seed=0), LSTM(4, 3, seed=0)
    with pytest.raises(RnnlabError, match=r"2 recurrent layers \(char_lstm, lstm\); pick one"):
        to_torch_state_dict(net)
    assert to_torch_state_dict(net, layer="lstm")["weight_ih_l0"].shape == (12, 4)
    with pytest.raises(RnnlabError, match="no recurrent layer 'gru'; choose from: char_lstm, lstm"):
        to_torch_state_dict(net, layer="gru")

import numpy as np
import pytest

from rnnlab.diagnostics.gradcheck import GradcheckConfig, build_layer, grid
from rnnlab.errors import RnnlabError
from rnnlab.nn import GRU, LSTM, RNN

from .torch_reference import compare

torch = pytest.importorskip("torch", reason="PyTorch not installed: parity tests need the 'test' extra")

CONFIGS = [c for c in grid() if c.dropout == 0]  # dropout masks cannot match torch's generator


@pytest.mark.parametrize("config", CONFIGS, ids=GradcheckConfig.label)
def test_float64_outputs_states_and_gradients_equal_torch(config):
    differences = compare(config, np.float64)
    assert max(differences.values()) < 1e-10, differences


@pytest.mark.parametrize("config", CONFIGS, ids=GradcheckConfig.label)
def test_float32_outputs_states_and_gradients_equal_torch(config):
    differences = compare(config, np.float32)
    assert max(differences.values()) < 1e-5, differences


@pytest.mark.parametrize("cell", ["rnn_tanh", "lstm", "gru"])
def test_state_dict_moves_both_ways_unchanged(cell):
    config = GradcheckConfig(cell, num_layers=2, bidirectional=True)
    ours = build_layer(config, 3, 4, seed=1)
    theirs = getattr(torch.nn, {"rnn_tanh": "RNN", "lstm": "LSTM", "gru": "GRU"}[cell])(
        3, 4, num_layers=2, bidirectional=True, dtype=torch.float64)
    theirs_state = {k: v.detach().numpy().copy() for k, v in theirs.state_dict().items()}
    assert list(theirs_state) == list(ours.state_dict())  # same names, same order
    ours.load_state_dict(theirs_state)
    for name, value in ours.state_dict().items():
        np.testing.assert_array_equal(value, theirs_state[name])
    back = build_layer(config, 3, 4, seed=2)
    back.load_state_dict(ours.state_dict())
    theirs.load_state_dict({k: torch.from_numpy(v) for k, v in back.state_dict().items()})
    for name, value in theirs.state_dict().items():
        np.testing.assert_array_equal(value.numpy(), theirs_state[name])


@pytest.mark.parametrize("cls", [RNN, LSTM, GRU])
def test_masked_batch_equals_torch_packed_sequences(cls):
    from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

    lengths = np.array([6, 3, 1, 5])
    B, T, I, H = len(lengths), 6, 3, 4
    ours = cls(I, H, num_layers=2, bidirectional=True, batch_first=True, dtype=np.float64, seed=2)
    theirs = getattr(torch.nn, cls.__name__)(I, H, num_layers=2, bidirectional=True, batch_first=True,
                                             dtype=torch.float64)
    theirs.load_state_dict({k: torch.from_numpy(v) for k, v in ours.state_dict().items()})
    rng = np.random.default_rng(0)
    mask = np.arange(T)[None, :] < lengths[:, None]  # (B, T) post-padding
    x = np.where(mask[:, :, None], rng.normal(size=(B, T, I)), 0.0)
    out, finals = ours(x, mask=mask)
    t_x = torch.tensor(x, requires_grad=True)
    packed = pack_padded_sequence(t_x, torch.from_numpy(lengths), batch_first=True, enforce_sorted=False)
    t_out, t_finals = theirs(packed)
    t_out = pad_packed_sequence(t_out, batch_first=True, total_length=T)[0]
    h_n, t_h_n = (finals[0], t_finals[0]) if cls is LSTM else (finals, t_finals)
    R, R_h = rng.normal(size=out.shape), rng.normal(size=h_n.shape)
    d_x = ours.backward(R, R_h)
    ((t_out * torch.from_numpy(R)).sum() + (t_h_n * torch.from_numpy(R_h)).sum()).backward()
    np.testing.assert_allclose(out, t_out.detach().numpy(), atol=1e-12)
    np.testing.assert_allclose(h_n, t_h_n.detach().numpy(), atol=1e-12)
    np.testing.assert_allclose(d_x, t_x.grad.numpy(), atol=1e-12)
    t_params = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad, t_params[name].grad.numpy(), atol=1e-12, err_msg=name)


def test_seed004_four_layer_rnn_shapes_and_values_match_torch():
    # The note: nn.RNN(100, 20, 4) on input (10, 1, 100) gives output (10, 1, 20) and h_n (4, 1, 20).
    ours = RNN(100, 20, 4, dtype=np.float64, seed=0)
    theirs = torch.nn.RNN(100, 20, 4, dtype=torch.float64)
    theirs.load_state_dict({k: torch.from_numpy(v) for k, v in ours.state_dict().items()})
    x = np.random.default_rng(0).random((10, 1, 100))
    out, h_n = ours(x)
    t_out, t_h_n = theirs(torch.from_numpy(x))
    assert out.shape == (10, 1, 20) and h_n.shape == (4, 1, 20)
    np.testing.assert_allclose(out, t_out.detach().numpy(), atol=1e-12)
    np.testing.assert_allclose(h_n, t_h_n.detach().numpy(), atol=1e-12)


def test_seed004_stacked_bidirectional_rnn_built_layer_by_layer_matches_torch():
    # The note stacks single layers by hand; here four one-layer bidirectional engine RNNs,
    # each fed the previous one's output, must equal one 4-layer torch.nn.RNN.
    theirs = torch.nn.RNN(100, 20, 4, bidirectional=True, dtype=torch.float64)
    state = {k: v.detach().numpy() for k, v in theirs.state_dict().items()}
    x = np.random.default_rng(1).random((10, 1, 100))
    layer_input, finals = x, []
    for k in range(4):
        layer = RNN(100 if k == 0 else 40, 20, bidirectional=True, dtype=np.float64)
        layer.load_state_dict({name.replace(f"_l{k}", "_l0"): v for name, v in state.items() if f"_l{k}" in name})
        layer_input, h_n = layer(layer_input)
        finals.append(h_n)
    t_out, t_h_n = theirs(torch.from_numpy(x))
    assert layer_input.shape == (10, 1, 40) and t_h_n.shape == (8, 1, 20)
    np.testing.assert_allclose(layer_input, t_out.detach().numpy(), atol=1e-12)
    np.testing.assert_allclose(np.concatenate(finals), t_h_n.detach().numpy(), atol=1e-12)


def test_dropout_with_one_layer_warns_like_torch():
    with pytest.warns(UserWarning, match="num_layers greater than 1"):
        LSTM(3, 4, dropout=0.5)


def test_dropout_is_applied_between_layers_only_in_training():
    layer = GRU(3, 4, num_layers=2, dropout=0.5, seed=0)
    x = np.random.default_rng(0).normal(size=(5, 2, 3)).astype(np.float32)
    train_a, train_b = layer(x)[0], layer(x)[0]
    assert not np.array_equal(train_a, train_b)  # a fresh mask each call
    layer.eval()
    np.testing.assert_array_equal(layer(x)[0], layer(x)[0])


def test_float32_layer_keeps_float32_throughout():
    layer = LSTM(3, 4, num_layers=2, bidirectional=True, seed=0)
    out, (h_n, c_n) = layer(np.ones((5, 2, 3)))  # float64 input is cast once
    d_x = layer.backward(np.ones_like(out))
    assert {out.dtype, h_n.dtype, c_n.dtype, d_x.dtype} == {np.dtype(np.float32)}
    assert all(p.grad.dtype == np.float32 for p in layer.parameters())


@pytest.mark.parametrize("kwargs, message", [
    (dict(input_size=0, hidden_size=4), "input_size"),
    (dict(input_size=3, hidden_size=-1), "hidden_size"),
    (dict(input_size=3, hidden_size=4, dropout=1.5), "dropout"),
    (dict(input_size=3, hidden_size=4, nonlinearity="sigmoid"), "nonlinearity"),
])
def test_bad_constructor_arguments_are_named(kwargs, message):
    with pytest.raises(RnnlabError, match=message):
        RNN(**kwargs)


def test_wrong_input_shape_is_reported():
    with pytest.raises(RnnlabError, match=r"expects input of shape \(T, B, 3\)"):
        RNN(3, 4)(np.zeros((5, 2, 7)))


@pytest.mark.parametrize("cell", ["rnn_tanh", "lstm", "gru"])
def test_few_rows_per_step_take_the_view_path_and_still_equal_torch(cell):
    # T*B < H: the recurrent weight is used as a transposed view (no copy), as when sampling.
    config = GradcheckConfig(cell, num_layers=2, bidirectional=True, with_hx=True)
    differences = compare(config, np.float64, input_size=3, hidden_size=32, seq_len=2, batch=1)
    assert max(differences.values()) < 1e-10, differences

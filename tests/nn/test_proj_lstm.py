"""LSTM(proj_size=P), the projected LSTM: PyTorch's shapes, names and numbers, and its gradients."""

import itertools

import numpy as np
import pytest

from rnnlab.diagnostics.gradcheck import GradcheckConfig, build_layer, gradcheck, proj_grid
from rnnlab.errors import RnnlabError
from rnnlab.nn import GRU, LSTM, RNN

from .torch_reference import compare

torch = pytest.importorskip("torch", reason="PyTorch not installed: parity tests need the 'test' extra")
pytestmark = pytest.mark.filterwarnings("ignore:LSTM with projections is not supported with oneDNN")

CONFIGS = [GradcheckConfig("lstm", n, bi, bf, hx, proj_size=2)
           for n, bi, bf, hx in itertools.product((1, 2), (False, True), (False, True), (False, True))]


@pytest.mark.parametrize("config", CONFIGS, ids=GradcheckConfig.label)
def test_float64_outputs_states_and_gradients_equal_torch(config):
    differences = compare(config, np.float64, hidden_size=6)  # P = 2 < H = 6
    assert {"d weight_hr_l0", "d input"} <= set(differences)
    assert max(differences.values()) < 1e-10, differences


@pytest.mark.parametrize("config", CONFIGS[::3], ids=GradcheckConfig.label)
def test_float32_compiled_steps_equal_torch(config):
    differences = compare(config, np.float32, hidden_size=6)
    assert max(differences.values()) < 1e-5, differences


@pytest.mark.parametrize("config", list(proj_grid()), ids=GradcheckConfig.label)
def test_gradcheck(config):
    errors = gradcheck(config)
    assert max(errors.values()) < 1e-6, errors


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("batch_first", [False, True])
def test_masked_batch_equals_torch_packed_sequences(batch_first, dtype):
    from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

    lengths = np.array([4, 6, 1, 3])  # unsorted
    B, T, I, H, P = len(lengths), 6, 3, 5, 2
    torch_dtype = torch.float64 if dtype == np.float64 else torch.float32
    ours = LSTM(I, H, num_layers=2, bidirectional=True, batch_first=batch_first, proj_size=P, dtype=dtype, seed=3)
    theirs = torch.nn.LSTM(I, H, num_layers=2, bidirectional=True, batch_first=batch_first, proj_size=P,
                           dtype=torch_dtype)
    theirs.load_state_dict({k: torch.from_numpy(v) for k, v in ours.state_dict().items()})
    rng = np.random.default_rng(0)
    mask = np.arange(T)[None, :] < lengths[:, None]  # (B, T) post-padding
    mask = mask if batch_first else mask.T
    x_shape = (B, T, I) if batch_first else (T, B, I)
    x = np.where(mask[:, :, None], rng.normal(size=x_shape), 0.0).astype(dtype)
    h0, c0 = rng.normal(size=(4, B, P)).astype(dtype), rng.normal(size=(4, B, H)).astype(dtype)
    out, (h_n, c_n) = ours(x, (h0, c0), mask=mask)
    t_x, t_h0, t_c0 = (torch.tensor(a, requires_grad=True) for a in (x, h0, c0))
    packed = pack_padded_sequence(t_x, torch.from_numpy(lengths), batch_first=batch_first, enforce_sorted=False)
    t_out, (t_h_n, t_c_n) = theirs(packed, (t_h0, t_c0))
    t_out = pad_packed_sequence(t_out, batch_first=batch_first, total_length=T)[0]
    R, R_h, R_c = (rng.normal(size=a.shape).astype(dtype) for a in (out, h_n, c_n))
    d_x, (d_h0, d_c0) = ours.backward(R, R_h, R_c)
    loss = sum((t * torch.from_numpy(r)).sum() for t, r in ((t_out, R), (t_h_n, R_h), (t_c_n, R_c)))
    loss.backward()
    tol = 1e-12 if dtype == np.float64 else 1e-5
    pairs = [("output", out, t_out), ("h_n", h_n, t_h_n), ("c_n", c_n, t_c_n), ("d input", d_x, t_x.grad),
             ("d h0", d_h0, t_h0.grad), ("d c0", d_c0, t_c0.grad)]
    t_params = dict(theirs.named_parameters())
    pairs += [(f"d {name}", p.grad, t_params[name].grad) for name, p in ours.named_parameters()]
    assert any(name.startswith("d weight_hr") for name, *_ in pairs)
    for name, a, b in pairs:
        np.testing.assert_allclose(a, b.detach().numpy(), atol=tol, err_msg=name)


def test_shapes_and_parameter_names_are_pytorchs():
    ours = LSTM(10, 20, num_layers=2, bidirectional=True, proj_size=5, seed=0)
    theirs = torch.nn.LSTM(10, 20, num_layers=2, bidirectional=True, proj_size=5)
    assert [(k, v.shape) for k, v in ours.state_dict().items()] == \
           [(k, tuple(v.shape)) for k, v in theirs.state_dict().items()]
    output, (h_n, c_n) = ours(np.zeros((7, 3, 10), np.float32))
    assert (output.shape, h_n.shape, c_n.shape) == ((7, 3, 10), (4, 3, 5), (4, 3, 20))
    output, (h_n, c_n) = ours(np.zeros((7, 10), np.float32))  # unbatched
    assert (output.shape, h_n.shape, c_n.shape) == ((7, 10), (4, 5), (4, 20))
    assert "proj_size=5" in repr(ours)
    assert not any("weight_hr" in name for name in LSTM(10, 20).state_dict())  # proj_size=0: the plain LSTM


def test_forward_ids_equals_forward_on_looked_up_rows():
    layer = LSTM(4, 6, proj_size=3, bidirectional=True, dtype=np.float64, seed=1)
    rng = np.random.default_rng(1)
    ids, table = rng.integers(0, 5, size=(7, 2)), rng.normal(size=(5, 4))
    out, (h_n, c_n) = layer.forward_ids(ids, table)
    R = rng.normal(size=out.shape)
    d_table = layer.backward(R)
    grads = {name: p.grad.copy() for name, p in layer.named_parameters()}
    layer.zero_grad()
    out2, (h_n2, c_n2) = layer(table[ids])
    d_x = layer.backward(R)
    np.testing.assert_allclose(out, out2, atol=1e-13)
    np.testing.assert_allclose(h_n, h_n2, atol=1e-13)
    expected = np.zeros_like(table)
    np.add.at(expected, ids.ravel(), d_x.reshape(-1, 4))
    np.testing.assert_allclose(d_table, expected, atol=1e-12)
    for name, p in layer.named_parameters():
        np.testing.assert_allclose(grads[name], p.grad, atol=1e-12, err_msg=name)


@pytest.mark.parametrize("proj_size", [-1, 6, 7])
def test_proj_size_out_of_range_is_refused_by_name_as_pytorch_refuses_it(proj_size):
    with pytest.raises(RnnlabError, match="proj_size"):
        LSTM(3, 6, proj_size=proj_size)
    with pytest.raises(ValueError, match="proj_size"):
        torch.nn.LSTM(3, 6, proj_size=proj_size)


@pytest.mark.parametrize("proj_size", [2.0, "2", True])
def test_proj_size_that_is_not_an_integer_is_refused_by_name(proj_size):
    with pytest.raises(RnnlabError, match="proj_size"):
        LSTM(3, 6, proj_size=proj_size)


@pytest.mark.parametrize("cls", [RNN, GRU])
def test_proj_size_is_lstm_only(cls):
    with pytest.raises(RnnlabError, match="proj_size argument is only supported for LSTM"):
        cls(3, 6, proj_size=2)
    with pytest.raises(ValueError, match="proj_size argument is only supported for LSTM"):  # as PyTorch
        getattr(torch.nn, cls.__name__)(3, 6, proj_size=2)


def test_initial_state_of_hidden_size_is_refused():
    layer = LSTM(3, 6, proj_size=2)
    x = np.zeros((4, 2, 3), np.float32)
    with pytest.raises(RnnlabError):
        layer(x, (np.zeros((1, 2, 6), np.float32), np.zeros((1, 2, 6), np.float32)))  # h0 must be (1, 2, 2)
    with pytest.raises(RnnlabError):
        layer(x, (np.zeros((1, 2, 2), np.float32), np.zeros((1, 2, 2), np.float32)))  # c0 must be (1, 2, 6)


def test_build_layer_passes_proj_size():
    assert build_layer(GradcheckConfig("lstm", proj_size=2), 3, 4).weight_hr_l0.shape == (2, 4)

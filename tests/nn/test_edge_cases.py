"""PyTorch's edge cases for RNN/LSTM/GRU: empty batch, zero-length sequence, bool-only flags, dropout range
and run-time changes, input and state checks worded as torch/nn/modules/rnn.py words them."""

import warnings

import numpy as np
import pytest

from rnnlab.errors import RnnlabError
from rnnlab.nn import GRU, LSTM, RNN

torch = pytest.importorskip("torch", reason="PyTorch not installed: parity tests need the 'test' extra")

CLASSES = [RNN, LSTM, GRU]


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("cls", CLASSES)
def test_empty_batch_gives_empty_outputs_like_torch(cls, batch_first):
    ours = cls(3, 4, num_layers=2, bidirectional=True, batch_first=batch_first)
    theirs = getattr(torch.nn, cls.__name__)(3, 4, num_layers=2, bidirectional=True, batch_first=batch_first)
    shape = (0, 5, 3) if batch_first else (5, 0, 3)
    out, finals = ours(np.zeros(shape, np.float32))
    t_out, t_finals = theirs(torch.zeros(shape))
    assert out.shape == tuple(t_out.shape)
    finals, t_finals = (finals, t_finals) if cls is LSTM else ((finals,), (t_finals,))
    assert [f.shape for f in finals] == [tuple(f.shape) for f in t_finals]
    assert ours.backward(out).shape == shape


def test_empty_batch_with_hx_gives_empty_state_gradients():
    ours = LSTM(3, 4)
    hx = (np.zeros((1, 0, 4)), np.zeros((1, 0, 4)))
    out, _ = ours(np.zeros((5, 0, 3)), hx)
    d_x, (d_h0, d_c0) = ours.backward(out)
    assert d_x.shape == (5, 0, 3) and d_h0.shape == d_c0.shape == (1, 0, 4)


@pytest.mark.parametrize("shape", [(0, 2, 3), (0, 3)])
@pytest.mark.parametrize("cls", CLASSES)
def test_zero_length_sequence_is_a_clear_error(cls, shape):
    with pytest.raises(RuntimeError, match="Expected sequence length to be larger than 0 in RNN"):
        getattr(torch.nn, cls.__name__)(3, 4)(torch.zeros(shape))
    with pytest.raises(RnnlabError, match="Expected sequence length to be larger than 0 in RNN"):
        cls(3, 4)(np.zeros(shape))


def test_zero_length_batch_first_sequence_is_a_clear_error():
    with pytest.raises(RuntimeError, match="larger than 0"):
        GRU(3, 4, batch_first=True)(np.zeros((2, 0, 3)))


@pytest.mark.parametrize("kwargs, message", [
    (dict(bias=0), "bias should be of type bool, got: int"),
    (dict(batch_first="False"), "batch_first should be of type bool, got: str"),
    (dict(bias=None), "bias should be of type bool, got: NoneType"),
    (dict(bidirectional=1), "bidirectional should be of type bool, got: int"),  # PyTorch 2.13 accepts this one
    (dict(input_size=3.0), "input_size should be of type int, got: float"),
])
@pytest.mark.parametrize("cls", CLASSES)
def test_non_bool_flags_and_non_int_sizes_raise_type_error(cls, kwargs, message):
    args = dict(input_size=3, hidden_size=4) | kwargs
    with pytest.raises(TypeError, match=message) as caught:
        cls(**args)
    assert isinstance(caught.value, RnnlabError)
    if "bidirectional" not in kwargs:  # the same words as PyTorch
        with pytest.raises(TypeError, match=message):
            getattr(torch.nn, cls.__name__)(**args)


@pytest.mark.parametrize("kwargs, message", [
    (dict(dropout=1.5), "dropout should be a number in range \\[0, 1\\]"),
    (dict(dropout=-0.1), "dropout should be a number in range \\[0, 1\\]"),
    (dict(dropout=True), "dropout should be a number in range \\[0, 1\\]"),
    (dict(hidden_size=0), "hidden_size must be greater than zero"),
    (dict(num_layers=0), "num_layers must be greater than zero"),
])
def test_out_of_range_values_raise_value_error_like_torch(kwargs, message):
    args = dict(input_size=3, hidden_size=4) | kwargs
    with pytest.raises(ValueError, match=message):
        torch.nn.LSTM(**args)
    with pytest.raises(ValueError, match=message) as caught:
        LSTM(**args)
    assert isinstance(caught.value, RnnlabError)


def test_dropout_one_is_accepted_with_torchs_warning_for_one_layer():
    with warnings.catch_warnings(record=True) as ours:
        warnings.simplefilter("always")
        GRU(3, 4, dropout=1)
    with warnings.catch_warnings(record=True) as theirs:
        warnings.simplefilter("always")
        torch.nn.GRU(3, 4, dropout=1)
    assert [str(w.message) for w in ours] == [str(w.message) for w in theirs]
    assert ours[0].filename == __file__  # points at the caller


@pytest.mark.parametrize("cls", CLASSES)
def test_dropout_set_to_one_on_a_built_model_equals_torch(cls):
    ours = cls(3, 4, num_layers=3, dtype=np.float64, seed=0)
    theirs = getattr(torch.nn, cls.__name__)(3, 4, num_layers=3, dtype=torch.float64)
    theirs.load_state_dict({k: torch.from_numpy(v) for k, v in ours.state_dict().items()})
    ours.dropout = theirs.dropout = 1.0  # every input of layers 2 and 3 dropped: deterministic, and finite
    x = np.random.default_rng(0).normal(size=(5, 2, 3))
    out, _ = ours(x)
    t_x = torch.tensor(x, requires_grad=True)
    t_out, _ = theirs(t_x)
    assert np.isfinite(out).all()
    np.testing.assert_allclose(out, t_out.detach().numpy(), atol=1e-12)
    d_x = ours.backward(np.ones_like(out))
    t_out.sum().backward()
    np.testing.assert_allclose(d_x, t_x.grad.numpy(), atol=1e-12)  # zero: nothing reaches layer 1's input
    t_params = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad, t_params[name].grad.numpy(), atol=1e-12, err_msg=name)


def test_dropout_changed_at_run_time_takes_effect_and_is_checked():
    layer = LSTM(3, 4, num_layers=2, seed=0)
    x = np.ones((4, 2, 3), np.float32)
    plain = layer(x)[0]
    layer.dropout = 0.5
    assert not np.array_equal(layer(x)[0], plain)
    layer.dropout = 0.0
    np.testing.assert_array_equal(layer(x)[0], plain)
    layer.dropout = 1.5
    with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1, but got 1.5"):
        layer(x)


@pytest.mark.parametrize("cls", CLASSES)
@pytest.mark.parametrize("shape, message", [
    ((5, 2, 3, 1), "Expected input to be 2D or 3D, got 4D"),
    ((5,), "Expected input to be 2D or 3D, got 1D"),
    ((5, 2, 7), "input.size\\(-1\\) must be equal to input_size. Expected 3, got 7"),
])
def test_wrong_input_shapes_are_reported_as_torch_does(cls, shape, message):
    with pytest.raises((ValueError, RuntimeError), match=message):
        getattr(torch.nn, cls.__name__)(3, 4)(torch.zeros(shape))
    with pytest.raises(RnnlabError, match=message):
        cls(3, 4)(np.zeros(shape))


def test_input_that_is_not_real_numbers_is_refused_naming_the_dtypes():
    with pytest.raises(ValueError, match="RNN input dtype \\(complex128\\) does not match weight dtype \\(float32\\)"):
        RNN(3, 4)(np.zeros((5, 2, 3), complex))


@pytest.mark.parametrize("hx_shapes, batched, message", [
    (((1, 2, 4), (1, 3, 4)), True, "Expected hidden\\[0\\] size \\(1, 3, 4\\), got \\[1, 2, 4\\]"),
    (((1, 3, 4), (1, 2, 4)), True, "Expected hidden\\[1\\] size \\(1, 3, 4\\), got \\[1, 2, 4\\]"),
    (((3, 4), (1, 3, 4)), True, "For batched 3-D input, hx and cx should also be 3-D but got \\(2-D, 3-D\\)"),
    (((1, 1, 4), (1, 4)), False, "For unbatched 2-D input, hx and cx should also be 2-D but got \\(3-D, 2-D\\)"),
    (((1, 5), (1, 4)), False, "Expected hidden\\[0\\] size \\(1, 1, 4\\), got \\[1, 1, 5\\]"),
])
def test_lstm_state_shapes_are_checked_as_torch_does(hx_shapes, batched, message):
    x_shape = (5, 3, 3) if batched else (5, 3)
    with pytest.raises(RuntimeError, match=message):
        torch.nn.LSTM(3, 4)(torch.zeros(x_shape), tuple(torch.zeros(s) for s in hx_shapes))
    with pytest.raises(RnnlabError, match=message):
        LSTM(3, 4)(np.zeros(x_shape), tuple(np.zeros(s) for s in hx_shapes))


@pytest.mark.parametrize("cls", [RNN, GRU])
@pytest.mark.parametrize("hx_shape, batched, message", [
    ((2, 2, 4), True, "Expected hidden size \\(2, 3, 4\\), got \\[2, 2, 4\\]"),
    ((3, 4), True, "For batched 3-D input, hx should also be 3-D but got 2-D tensor"),
    ((2, 1, 4), False, "For unbatched 2-D input, hx should also be 2-D but got 3-D tensor"),
])
def test_rnn_and_gru_state_shapes_are_checked_as_torch_does(cls, hx_shape, batched, message):
    x_shape = (5, 3, 3) if batched else (5, 3)
    with pytest.raises(RuntimeError, match=message):
        getattr(torch.nn, cls.__name__)(3, 4, 2)(torch.zeros(x_shape), torch.zeros(hx_shape))
    with pytest.raises(RnnlabError, match=message):
        cls(3, 4, 2)(np.zeros(x_shape), np.zeros(hx_shape))


def test_lstm_hx_must_be_a_pair():
    with pytest.raises(RnnlabError, match="LSTM expects hx as a pair \\(h_0, c_0\\)"):
        LSTM(3, 4)(np.zeros((5, 3, 3)), np.zeros((1, 3, 4)))

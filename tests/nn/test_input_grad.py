"""`backward(..., input_grad=False)`: d_x is left out (None in its place), every other result is unchanged."""

import numpy as np
import pytest

from rnnlab.nn import GRU, LSTM, RNN
from rnnlab.nn.utils.rnn import pack_padded_sequence


def run(layer, call, d_output_of, input_grad):
    """One forward (`call`) and backward; returns backward's result and every parameter's gradient."""
    layer.zero_grad()
    outputs = call(layer)
    result = layer.backward(d_output_of(outputs), input_grad=input_grad)
    return result, {name: p.grad.copy() for name, p in layer.named_parameters()}


def same_except_input(layer, call, d_output_of=lambda outputs: np.ones_like(outputs[0])):
    with_x, grads = run(layer, call, d_output_of, True)
    without_x, grads_without = run(layer, call, d_output_of, False)
    for name, grad in grads.items():
        np.testing.assert_array_equal(grads_without[name], grad, err_msg=name)
    return with_x, without_x


@pytest.mark.parametrize("cls", [RNN, LSTM, GRU])
@pytest.mark.parametrize(("num_layers", "bidirectional", "T"), [(1, False, 6), (2, True, 6), (3, False, 60)])
def test_parameter_gradients_are_the_same_without_the_input_gradient(cls, num_layers, bidirectional, T):
    """T = 60 over three one-way layers: the layers run at the same time, in runs of steps (`stack.runs`)."""
    rng = np.random.default_rng(0)
    layer = cls(3, 5, num_layers=num_layers, bidirectional=bidirectional, dtype=np.float64, seed=0)
    x, h0 = rng.standard_normal((T, 4, 3)), rng.standard_normal((num_layers * (1 + bidirectional), 4, 5))
    hx = (h0, h0) if cls is LSTM else h0
    with_x, without_x = same_except_input(layer, lambda m: m(x, hx))
    assert with_x[0].shape == x.shape and without_x[0] is None
    for given, left in zip(np.atleast_1d(with_x[1]), np.atleast_1d(without_x[1]), strict=True):
        np.testing.assert_array_equal(left, given)  # d h_0 (and d c_0) unchanged


@pytest.mark.parametrize("batch_first", [False, True])
def test_forward_ids_packed_unbatched_and_empty_inputs_give_none(batch_first):
    rng = np.random.default_rng(1)
    layer = LSTM(3, 4, batch_first=batch_first, dtype=np.float64, seed=1)
    ids, table = rng.integers(0, 7, (5, 2)), rng.standard_normal((7, 3))
    with_x, without_x = same_except_input(layer, lambda m: m.forward_ids(ids, table))
    assert with_x.shape == table.shape and without_x is None
    x = rng.standard_normal((2, 5, 3) if batch_first else (5, 2, 3))
    packed = pack_padded_sequence(x, [5, 3], batch_first=batch_first)
    with_x, without_x = same_except_input(layer, lambda m: m(packed), lambda outputs: np.ones_like(outputs[0].data))
    assert with_x.data.shape == packed.data.shape and without_x is None
    with_x, without_x = same_except_input(layer, lambda m: m(x[0]))  # unbatched (T, I)
    assert with_x.shape == x[0].shape and without_x is None
    empty = np.zeros((0, 5, 3) if batch_first else (5, 0, 3))  # a batch of size 0
    assert layer.backward(np.ones_like(layer(empty)[0]), input_grad=False) is None


def test_recorded_input_gradient_norms_do_not_need_the_input_gradient_returned():
    rng = np.random.default_rng(2)
    layer = RNN(3, 4, dtype=np.float64, seed=2)
    layer.record_input_grads = True
    x = rng.standard_normal((6, 2, 3))
    d_x = layer.backward(np.ones_like(layer(x)[0]))
    norms = layer.input_grad_norms.copy()
    assert layer.backward(np.ones_like(layer(x)[0]), input_grad=False) is None
    np.testing.assert_array_equal(layer.input_grad_norms, norms)
    np.testing.assert_allclose(norms, np.sqrt((d_x**2).sum(axis=(1, 2))))

"""The compiled cell steps (`rnnlab.nn.kernels`) against the NumPy steps they stand in for."""

import numpy as np
import pytest

from rnnlab.nn import GRU, LSTM, functional
from rnnlab.nn.gru import gru_cell_backward, gru_cell_forward
from rnnlab.nn.lstm import lstm_cell_backward, lstm_cell_forward

pytest.importorskip("numba", reason="numba not installed: only the NumPy steps run")
from rnnlab.nn import kernels  # noqa: E402

B, H = 5, 11  # H not a multiple of the vector width: the loops' remainders run too


def random(rng, *shape, low=-3.0, high=3.0):
    return rng.uniform(low, high, size=shape).astype(np.float32)


def run_both(step, make_args):
    """Call the NumPy step and its compiled twin on identical copies; returns both sets of arguments after."""
    numpy_args, compiled_args = make_args(), make_args()
    step(*numpy_args)
    getattr(kernels, step.__name__)(*compiled_args)
    return numpy_args, compiled_args


def assert_same(numpy_args, compiled_args, tolerance=2e-6):
    for ours, theirs in zip(numpy_args, compiled_args, strict=True):
        if isinstance(ours, np.ndarray) and ours.dtype == np.float32:
            np.testing.assert_allclose(theirs, ours, rtol=0, atol=tolerance)


def test_tanh_approximation_is_within_four_float32_ulps():
    x = np.concatenate([np.linspace(-20, 20, 400_001), [0.0, 1e-30, -1e-30, np.inf, -np.inf]]).astype(np.float32)
    approx = np.array([kernels.tanh(v) for v in x[::97]] + [kernels.tanh(v) for v in x[-5:]], np.float32)
    exact = np.tanh(np.concatenate([x[::97], x[-5:]]).astype(np.float64))
    assert np.abs(approx - exact).max() < 4e-7
    assert kernels.tanh(np.float32(0)) == 0 and np.sign(approx[-4:]).tolist() == [1, -1, 1, -1]
    assert np.isnan(kernels.tanh(np.float32(np.nan)))  # a diverging run shows up, it is not squashed to +-1


@pytest.mark.parametrize("padded", [False, True])
def test_lstm_steps_match_numpy(padded):
    keep = np.array([True, False, True, True, False]) if padded else None
    numpy_args, compiled_args = run_both(lstm_cell_forward, lambda: (
        random(rng := np.random.default_rng(1), B, 4 * H), random(rng, B, 4 * H), random(rng, B, H),
        random(rng, B, H), np.zeros((B, H), np.float32), np.zeros((B, H), np.float32),
        np.zeros((B, H), np.float32), keep))
    if padded:  # the compiled step leaves padded rows' gates alone: only states matter there
        for args in (numpy_args, compiled_args):
            args[0][~keep], args[6][~keep] = 0, 0
    assert_same(numpy_args, compiled_args)
    acts, tanh_c = numpy_args[0], numpy_args[6]
    numpy_args, compiled_args = run_both(lstm_cell_backward, lambda: (
        random(rng := np.random.default_rng(2), B, H), random(rng, B, H), random(rng, B, H), acts.copy(),
        tanh_c.copy(), random(rng, B, H), np.full((B, 4 * H), np.nan, np.float32), keep))
    assert_same(numpy_args, compiled_args)


@pytest.mark.parametrize("padded", [False, True])
@pytest.mark.parametrize("bias", [False, True])
def test_gru_steps_match_numpy(padded, bias):
    keep = np.array([False, True, True, False, True]) if padded else None
    numpy_args, compiled_args = run_both(gru_cell_forward, lambda: (
        random(rng := np.random.default_rng(1), B, 3 * H), random(rng, B, 3 * H), random(rng, H) if bias else None,
        random(rng, B, H), np.zeros((B, H), np.float32), np.zeros((B, H), np.float32), keep))
    if padded:
        for args in (numpy_args, compiled_args):
            args[0][~keep], args[5][~keep] = 0, 0
    assert_same(numpy_args, compiled_args)
    acts, hn = numpy_args[0], numpy_args[5]
    numpy_args, compiled_args = run_both(gru_cell_backward, lambda: (
        random(rng := np.random.default_rng(2), B, H), random(rng, B, H), acts.copy(), hn.copy(), random(rng, B, H),
        np.full((B, 3 * H), np.nan, np.float32), np.full((B, 3 * H), np.nan, np.float32), keep))
    assert_same(numpy_args, compiled_args)


@pytest.mark.parametrize("cls", [LSTM, GRU])
def test_layers_give_the_same_results_with_and_without_compiled_steps(cls, monkeypatch):
    T, I = 9, 3
    rng = np.random.default_rng(0)
    x = rng.normal(size=(T, B, I)).astype(np.float32)
    mask = np.arange(T)[:, None] < np.array([9, 4, 1, 7, 9])[None, :]
    d_out = rng.normal(size=(T, B, 2 * H)).astype(np.float32)
    results = []
    for compiled in (False, True):
        monkeypatch.setattr(functional, "FUSED", compiled)
        layer = cls(I, H, num_layers=2, bidirectional=True, seed=3)
        output, _ = layer(x, mask=mask)
        d_x = layer.backward(d_out)
        results.append([output, d_x] + [p.grad for p in layer.parameters()])
    for numpy_result, compiled_result in zip(*results, strict=True):
        np.testing.assert_allclose(compiled_result, numpy_result, rtol=1e-4, atol=1e-5)


def test_float64_never_uses_the_compiled_steps():
    assert functional.fused(lstm_cell_forward, np.dtype(np.float64)) is lstm_cell_forward
    assert functional.fused(lstm_cell_forward, np.dtype(np.float32)) is (
        kernels.lstm_cell_forward if functional.FUSED else lstm_cell_forward)


def test_add_rows_matches_numpy_with_repeated_ids():
    rng = np.random.default_rng(0)
    ids = rng.integers(0, 7, size=300)  # every id many times
    values = random(rng, 300, 13)
    expected, target = np.ones((7, 13), np.float32), np.ones((7, 13), np.float32)
    functional.add_rows(expected, ids, values)
    kernels.add_rows(target, ids, values)
    np.testing.assert_allclose(target, expected, rtol=1e-5, atol=1e-5)


def test_adagrad_update_matches_numpy():
    from rnnlab.optim.optimizers import adagrad_update

    rng = np.random.default_rng(1)
    data, grad = random(rng, 1000), random(rng, 1000)
    state = np.abs(random(rng, 1000))
    expected = [data.copy(), state.copy()]
    adagrad_update(*expected[:1], grad, expected[1], np.float32(0.1), np.float32(1e-10), np.empty_like(data))
    kernels.adagrad_update(data, grad, state, np.float32(0.1), np.float32(1e-10), np.empty_like(data))
    np.testing.assert_allclose(data, expected[0], rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(state, expected[1], rtol=1e-6)


@pytest.mark.parametrize("step", ["rnn", "lstm", "gru"])
def test_every_cell_passes_dh_plus_d_out_through_a_padded_step(step, monkeypatch):
    """The layer zeroes d_out at padded steps; a direct caller need not, and all three cells agree."""
    from rnnlab.nn import gru, lstm, rnn

    monkeypatch.setattr(functional, "FUSED", False)
    rng = np.random.default_rng(0)
    keep = np.array([True, False, True, False, True])
    d_out, dh = random(rng, B, H), random(rng, B, H)
    expected = (dh + d_out)[~keep]
    if step == "rnn":
        rnn.rnn_cell_backward(d_out, dh, random(rng, B, H), np.empty((B, H), np.float32), keep)
    elif step == "lstm":
        lstm.lstm_cell_backward(d_out, dh, random(rng, B, H), random(rng, B, 4 * H, low=0, high=1),
                                random(rng, B, H, low=-1, high=1), random(rng, B, H), np.empty((B, 4 * H), np.float32),
                                keep)
    else:
        gru.gru_cell_backward(d_out, dh, random(rng, B, 3 * H, low=0, high=1), random(rng, B, H), random(rng, B, H),
                              np.empty((B, 3 * H), np.float32), np.empty((B, 3 * H), np.float32), keep)
    np.testing.assert_allclose(dh[~keep], expected, rtol=1e-6)


@pytest.mark.parametrize("relu", [False, True])
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("padded", [False, True])
def test_rnn_whole_sequence_loops_match_numpy(relu, reverse, padded):
    from rnnlab.nn import rnn

    T, rng = 6, np.random.default_rng(4)
    keep = rng.random((T, B)) > 0.3 if padded else None
    W_hh = random(rng, H, H, low=-0.5, high=0.5)

    def forward_args():
        states = np.zeros((T + 2, B, H), np.float32)
        states[T + 1 if reverse else 0] = random(np.random.default_rng(5), B, H, low=-1, high=1)
        return (random(np.random.default_rng(6), T, B, H), states, np.ascontiguousarray(W_hh.T),
                np.zeros((B, H), np.float32), relu, keep, reverse)

    numpy_args, compiled_args = run_both(rnn.rnn_sequence_forward, forward_args)
    assert_same(numpy_args[1:2], compiled_args[1:2])
    outputs = numpy_args[1][1:-1]
    slope = (outputs > 0).astype(np.float32) if relu else 1 - outputs * outputs
    numpy_args, compiled_args = run_both(rnn.rnn_sequence_backward, lambda: (
        random(np.random.default_rng(7), T, B, H), random(np.random.default_rng(8), B, H), slope.copy(),
        np.full((T, B, H), np.nan, np.float32), W_hh, np.zeros((B, H), np.float32), keep, reverse))
    assert_same(numpy_args[1:4], compiled_args[1:4], tolerance=1e-5)


def test_the_rnn_layer_takes_the_compiled_loops_for_small_states_only():
    from rnnlab.nn import rnn

    assert rnn.loops(100, np.float32)[0] is kernels.rnn_sequence_forward  # min-char-rnn
    assert rnn.loops(100, np.float64)[0] is rnn.rnn_sequence_forward  # float64: the NumPy reference
    assert rnn.loops(512, np.float32)[1] is rnn.rnn_sequence_backward  # big: BLAS products


def test_a_small_rnn_gives_a_sequence_the_same_numbers_alone_and_in_a_batch():
    from rnnlab.nn import RNN

    layer = RNN(3, 16, seed=0)
    batch = np.random.default_rng(9).standard_normal((7, 40, 3)).astype(np.float32)
    together, _ = layer(batch)
    alone, _ = layer(batch[:, 5:6])
    np.testing.assert_array_equal(together[:, 5:6], alone)


def test_clip_values_matches_numpy_with_nan_and_infinities():
    from rnnlab.optim.clip import clip_values

    rng = np.random.default_rng(2)
    g = random(rng, 1001) * 10
    g[[0, 5, 9, 700]] = [np.nan, np.inf, -np.inf, 2.5]  # 2.5: exactly the bound
    expected = g.copy()
    clip_values(expected, np.float32(-2.5), np.float32(2.5))
    kernels.clip_values(g, np.float32(-2.5), np.float32(2.5))
    np.testing.assert_array_equal(g, expected)  # a comparison per element: the same numbers, NaN where NaN
